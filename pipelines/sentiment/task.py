"""The sentiment task: `Classifier` (a loaded text classifier: predict, evaluate, export), its
settings, and the parts `pipelines.task.train_task` trains it with."""

import dataclasses
import os

import numpy as np

from pipelines.data import records
from pipelines.sentiment.data import (
    label_ids,
    make_dataset,
    parse_label_names,
    read_labelled,
    stream_dataset,
)
from pipelines.sentiment.inference import classification_metrics, probabilities
from pipelines.sentiment.preprocess import SentimentPreprocessor
from pipelines.task import Task, TrainingData, TrainSettings, train_task

DEFAULT_MODEL = "sentiment-sst2"
ARCHITECTURE = (
    "embedding_dim",
    "rnn",
    "units",
    "depth",
    "bidirectional",
    "pooling",
    "dropout",
    "weight_dropout",
    "embedding_dropout",
)


@dataclasses.dataclass
class SentimentSettings(TrainSettings):
    patience: int | None = 3
    text_column: str | None = None  # the text column's name (CSV/TSV)
    label_column: str | None = None  # the label column's name (CSV/TSV)
    vectors: str | None = None  # word vectors to start from
    max_vocab: int = 30_000
    min_count: int = 2
    max_tokens: int = 400  # longer texts are truncated to this many tokens
    truncate: str = "head+tail"
    dev_fraction: float = 0.1  # without dev: this share of the training data held out
    units: int = 128
    depth: int = 1
    embedding_dim: int = 100
    pooling: str = "max_mean"
    rnn: str = "lstm"
    unidirectional: bool = False
    dropout: float = 0.3
    # AWD-LSTM's DropConnect on the recurrent kernels and word-type dropout (ULMFiT fine-tunes
    # with both): default 0, with init from a language model the model's own
    weight_dropout: float | None = None
    embedding_dropout: float | None = None
    label_names: str | None = None  # "0=negative,1=positive"
    discriminative: float = 2.6  # with init: each level down learns this many times slower
    unfreeze: str = "gradual"  # with init: "gradual" (one more level each epoch) or "all"


class Classifier(Task):
    """A text classifier (`zoo.models.SentimentClassifier`) with its vocabulary and labels."""

    name = "sentiment"
    default_model = DEFAULT_MODEL
    Settings = SentimentSettings
    Preprocessor = SentimentPreprocessor
    monitor = "accuracy"
    members = ()  # the other classifiers of an ensemble (`pipelines.sentiment.ensemble`)

    @classmethod
    def load(cls, name_or_path=None):
        """A shipped classifier by name (`sentiment-sst2` without one) or a folder; with the
        classifiers its `ensemble.json` names, when it has one."""
        from pipelines.sentiment.ensemble import ENSEMBLE, check_labels, member_names

        classifier = super().load(name_or_path)
        where = os.path.join(classifier.folder, ENSEMBLE)
        members = [super(Classifier, cls).load(name) for name in member_names(classifier.folder)]
        for member in members:  # their own ensemble.json is not read: no nesting
            check_labels(member, classifier.preprocessor.labels, where)
        classifier.members = members
        return classifier

    def probabilities(self, texts):
        """(len(texts), labels) class probabilities (an ensemble's: the mean of its
        members')."""
        texts = list(texts)
        parts = [probabilities(c.model, c.preprocessor, texts) for c in [self, *self.members]]
        return np.mean(parts, axis=0)

    def predict(self, texts):
        """`{"text", "label", "probabilities": {label: p}}` per text."""
        texts = list(texts)
        names = self.preprocessor.labels.tokens
        return [
            {
                "text": text,
                "label": names[int(p.argmax())],
                "probabilities": {name: float(v) for name, v in zip(names, p)},
            }
            for text, p in zip(texts, self.probabilities(texts))
        ]

    def evaluate(self, source, text_column=None, label_column=None, max_examples=None):
        """Accuracy (and macro F1 for more than two labels)."""
        rows = read_labelled(source, max_examples, text_column, label_column)
        return self.metrics(rows, source)

    def metrics(self, rows, source):
        gold = label_ids(self.preprocessor, rows, source)
        predicted = self.probabilities([text for text, _, _ in rows]).argmax(axis=1)
        return classification_metrics(gold, predicted, len(self.preprocessor.labels))

    def export(self, out):
        from pipelines.sentiment.export import export_classifier

        members = [(c.model, c.preprocessor) for c in self.members]
        export_classifier(self.model, self.preprocessor, out, members)

    # === training ===

    @classmethod
    def read_data(cls, sources, dev, settings):
        read = lambda s: read_labelled(  # noqa: E731
            s, settings.max_examples, settings.text_column, settings.label_column
        )
        streamed = records.streamed_sources(sources, "sentiment")
        rows = records.Stream(streamed, settings.max_examples) if streamed else []
        for source in [] if streamed else sources:
            rows += read(source)
        fraction = 0.0 if streamed else settings.dev_fraction  # a stream: --dev or none
        dev_name = dev or f"{fraction:.0%} of the training data (seed {settings.seed})"
        if dev:
            dev_rows = read(dev)
        elif fraction:
            order = np.random.default_rng(settings.seed).permutation(len(rows))
            cut = int(len(rows) * fraction)
            dev_rows, rows = [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]
        else:
            dev_rows = []
        return TrainingData(rows, dev_rows, dev_name, dev or sources[0])

    @staticmethod
    def _pairs(data):
        """(text, label) of the training examples, streamed from records where they are."""
        if data.streamed:
            return ((e["text"], e["label"]) for e in data.train)
        return ((text, label) for text, label, _ in data.train)

    @classmethod
    def _labels(cls, data, settings, inherited=None):
        """The label vocabulary of the training data and the aliases that name its codes:
        `inherited` (a classifier's own, when fine-tuning it) overridden by `--label-names`."""
        from pipelines.text import Vocabulary

        aliases = {**(inherited or {}), **parse_label_names(settings.label_names)}
        names = sorted({aliases.get(label, label) for _, label in cls._pairs(data)})
        return Vocabulary(names, specials=()), aliases

    @classmethod
    def build(cls, data, settings, log):
        from pipelines.text import Vocabulary, split_text
        from zoo.models import SentimentClassifier

        labels, aliases = cls._labels(data, settings)
        words = Vocabulary.build(
            (split_text(text, "word", lower=True) for text, _ in cls._pairs(data)),
            min_count=settings.min_count,
            max_size=settings.max_vocab,
        )
        preprocessor = SentimentPreprocessor(
            words, labels, settings.max_tokens, settings.truncate, aliases=aliases
        )
        model = SentimentClassifier(
            len(words),
            len(labels),
            embedding_dim=settings.embedding_dim,
            rnn=settings.rnn,
            units=settings.units,
            depth=settings.depth,
            bidirectional=not settings.unidirectional,
            pooling=settings.pooling,
            dropout=settings.dropout,
            weight_dropout=settings.weight_dropout or 0.0,
            embedding_dropout=settings.embedding_dropout or 0.0,
        )
        model.build()
        cls._fill_vectors(model, preprocessor, settings, log)
        return model, preprocessor

    @classmethod
    def start_from(cls, data, settings, log):
        from pipelines.sentiment.model import init_aliases, start_from

        labels, aliases = cls._labels(data, settings, init_aliases(settings.init))
        model, preprocessor, _ = start_from(
            settings.init,
            labels,
            aliases,
            settings.max_tokens,
            settings.truncate,
            settings.pooling,
            settings.dropout,
            log,
            regularisation={
                k: getattr(settings, k)
                for k in ("weight_dropout", "embedding_dropout")
                if getattr(settings, k) is not None
            },
        )
        cls._fill_vectors(model, preprocessor, settings, log)
        return model, preprocessor

    @staticmethod
    def _fill_vectors(model, preprocessor, settings, log):
        if settings.vectors:
            from pipelines.vectors import fill_embeddings, load_vectors

            vectors = load_vectors(settings.vectors)
            found = fill_embeddings(model.embedding, preprocessor.words.tokens, vectors)
            log(f"word vectors for {found:,} of {len(preprocessor.words):,} words")

    @classmethod
    def compile(cls, model, settings):
        import keras

        from pipelines.training import layerwise_adam

        clip = {"clipnorm": settings.clip_norm} if settings.clip_norm else {}
        if settings.init:
            optimizer = layerwise_adam(model.layer_groups(), settings.learning_rate, **clip)
        else:
            optimizer = keras.optimizers.Adam(settings.learning_rate, **clip)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer, loss=loss)

    @classmethod
    def schedule(cls, model, settings, log):
        from pipelines.training import FineTuning, LayerwiseAdam

        if isinstance(model.optimizer, LayerwiseAdam):
            gradual = settings.unfreeze == "gradual"
            return [FineTuning(settings.discriminative, gradual=gradual, log=log)]
        return []

    @classmethod
    def check(cls, preprocessor, data):
        if data.dev:
            label_ids(preprocessor, data.dev, data.dev_source)

    @classmethod
    def dataset(cls, preprocessor, data, settings, epochs_done):
        if data.streamed:
            return stream_dataset(
                preprocessor,
                data.train.folders,
                settings.batch_size,
                settings.seed,
                settings.max_examples,
            )
        labels = label_ids(preprocessor, data.train, "the training data")
        return make_dataset(
            preprocessor, data.train, labels, settings.batch_size, True, settings.seed
        )

    def dev_metrics(self, dev):
        return self.metrics(dev, None)

    @classmethod
    def describe(cls, model, preprocessor, settings, data):
        from pipelines.io import model_folder

        kind = None
        if settings.init:
            lm = os.path.exists(os.path.join(model_folder(settings.init), "lm.json"))
            kind = "lm" if lm else "classifier"
        config = model.get_config()
        return {
            "architecture": {
                "class": "zoo.models.SentimentClassifier",
                **{k: config[k] for k in ARCHITECTURE},
                "max_tokens": preprocessor.max_tokens,
                "truncate": preprocessor.truncate,
                "lower": preprocessor.lower,
                "reverse": preprocessor.reverse,
            },
            "sizes": {"words": len(preprocessor.words), "labels": preprocessor.labels.tokens},
            "extra": {
                "vectors": settings.vectors,
                "init": settings.init and {"model": settings.init, "kind": kind},
                "fine_tuning": settings.init
                and {
                    "discriminative": settings.discriminative,
                    "unfreeze": settings.unfreeze,
                    "learning_rate": settings.learning_rate,
                },
            },
        }


def load(name_or_path=None):
    """A classifier: a shipped model's name (default `sentiment-sst2`) or a model folder."""
    return Classifier.load(name_or_path)


def make_ensemble(model, members, out):
    """Writes the folder `out`: the classifier `model` (a name or folder) with `ensemble.json`
    naming `members` (names or folders of classifiers with the same labels), and returns it
    loaded (a `Classifier` whose `members` are set). Its card is `model`'s with an `ensemble`
    entry. See `pipelines.sentiment.ensemble`."""
    import shutil

    from pipelines.errors import BadSetting, DataError
    from pipelines.io import model_folder, read_json, stored_name, write_atomically, write_json
    from pipelines.sentiment.ensemble import ENSEMBLE, check_labels

    if not members:
        raise BadSetting("--with", "name at least one other classifier")
    source = model_folder(model)
    own = Classifier.load(source)
    if own.members:
        raise BadSetting("--model", f"{source} is an ensemble already; give its members")
    names = [stored_name(name) for name in members]
    for name in names:
        member = Classifier.load(name)
        if member.members:
            raise BadSetting("--with", f"{name} is an ensemble; give its members")
        if os.path.abspath(member.folder) == os.path.abspath(source):
            raise BadSetting("--with", f"{name} is the --model classifier itself")
        try:
            check_labels(member, own.preprocessor.labels, "--with")
        except DataError as error:
            raise BadSetting("--with", error.message) from None

    def write(tmp):
        shutil.copytree(source, tmp)
        write_json(os.path.join(tmp, ENSEMBLE), {"members": names})
        card_path = os.path.join(tmp, "card.json")
        card = read_json(card_path) if os.path.exists(card_path) else {}
        card["ensemble"] = {"model": stored_name(model), "members": names}
        write_json(card_path, card)

    write_atomically(out, write)
    return Classifier.load(out)


def train(train, dev=None, out=None, log=None, command=None, **settings):
    """Trains a classifier (or fine-tunes one, or starts one from a word language model:
    `init=`) on `train` (a source or a list: CSV/TSV files, aclImdb-style folders, records
    folders, `tfds:` names), writes the folder `out` and returns the trained `Classifier`.
    Settings: `SentimentSettings`' fields (the command line's options)."""
    return train_task(Classifier, train, dev, out, SentimentSettings.of(settings), log, command)
