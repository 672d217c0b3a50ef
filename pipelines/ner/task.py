"""The NER task: `Tagger` (a loaded tagger: predict, evaluate, export), its settings, and the
parts `pipelines.task.train_task` trains it with."""

import dataclasses
import math

from pipelines.data import records
from pipelines.errors import BadSetting, DataError
from pipelines.ner.contextual import ContextualEncoder
from pipelines.ner.data import (
    StreamedSentences,
    documents_of,
    make_dataset,
    read_documents,
    read_tagged,
    stream_dataset,
)
from pipelines.ner.inference import (
    ENTITY_BIASES,
    annotate,
    evaluate_model,
    fit_entity_bias,
    lower_o_score,
    tag_batch,
)
from pipelines.ner.model import (
    ARCHITECTURE,
    architecture_of,
    build_tagger,
    grow_model,
    members_of,
    tag_correspondence,
)
from pipelines.ner.preprocess import MAX_WORD_CHARS, NERPreprocessor
from pipelines.task import Task, TrainingData, TrainSettings, train_task

DEFAULT_MODEL = "ner-conll2003"
HEAD = ("tag_scores", "crf")  # the layers a new tag set replaces
CHAR_LM_CONTEXT = 0  # characters of document context the character LMs read each side


@dataclasses.dataclass
class NERSettings(TrainSettings):
    epochs: int = 30
    patience: int | None = 5
    vectors: str | None = None  # word2vec/GloVe text vectors to start the embeddings from
    max_vectors: int = 40_000  # the first N words of the vectors file
    min_count: int = 2  # training words seen at least this often (words with vectors: all)
    units: int = ARCHITECTURE["units"]  # RNN units each way
    rnn: str = ARCHITECTURE["rnn"]
    head: str = ARCHITECTURE["head"]
    char_encoder: str = ARCHITECTURE["char_encoder"]
    word_dropout: float = 0.0  # words seen once become <UNK> with this probability
    scheme: str = "auto"  # the data files' tag scheme (converted to IOB2)
    freeze_encoder_epochs: int = 0  # with init: train only the tag head this many epochs first
    char_lm: str | None = None  # "FORWARD[,BACKWARD]": contextual string embeddings
    char_lm_context: int | None = None  # their document context (None: CHAR_LM_CONTEXT)
    entity_bias: str | float = "auto"  # lower the O score by this; "auto": fitted on dev

    def __post_init__(self):
        entity_bias_of(self)


def entity_bias_of(settings):
    """`settings.entity_bias` as a number, or None for "auto" (`BadSetting` otherwise)."""
    if settings.entity_bias == "auto":
        return None
    try:
        bias = float(settings.entity_bias)
    except (TypeError, ValueError):
        bias = float("nan")
    if not math.isfinite(bias):
        raise BadSetting(
            "--entity-bias", f"{settings.entity_bias!r} is neither 'auto' nor a finite number"
        )
    return bias


class Tagger(Task):
    """A named-entity tagger (`zoo.models.NERTagger`) with its vocabularies."""

    name = "ner"
    default_model = DEFAULT_MODEL
    Settings = NERSettings
    Preprocessor = NERPreprocessor
    monitor = "f1"

    def predict(self, texts, consistency=True):
        """`{"text", "tokens", "tags", "entities": [{"text", "type", "start", "end",
        "score"}]}` per text (`text[start:end] == entity["text"]`; `score` the mean CRF
        marginal probability of the entity's tags). Each text is one document for
        document-level label consistency (`pipelines.ner.consistency`; `consistency=False`:
        none, every sentence tagged on its own)."""
        return annotate(list(texts), self.model, self.preprocessor, consistency)

    def evaluate(
        self, source, data_format=None, max_examples=None, scheme="auto", consistency=True
    ):
        """Entity-level precision, recall and F1 (conlleval's counting), overall and per type,
        with label consistency within each `-DOCSTART-` document of the file (a file without
        them: within each sentence) unless `consistency` is false."""
        sentences, documents = read_tagged(source, max_examples, data_format, scheme, True)
        return evaluate_model(self.model, self.preprocessor, sentences, documents, consistency)

    def export(self, out, consistency=True):
        """A SavedModel that tags raw strings with TensorFlow alone (`export_tagger`), each
        string one document for label consistency unless `consistency` is false."""
        from pipelines.ner.export import export_tagger

        export_tagger(self.model, self.preprocessor, out, MAX_WORD_CHARS, consistency=consistency)

    # === training ===

    @classmethod
    def read_data(cls, sources, dev, settings):
        streamed = records.streamed_sources(sources, "ner")
        if streamed:  # read again on every pass, never held in memory
            train = StreamedSentences(streamed, settings.max_examples)
        else:  # in their documents: the context of contextual embeddings
            train = read_documents(
                sources, settings.max_examples, settings.data_format, settings.scheme
            )
        dev_sentences = (
            read_documents([dev], settings.max_examples, settings.data_format, settings.scheme)
            if dev
            else None
        )
        return TrainingData(train, dev_sentences, dev)

    @classmethod
    def build(cls, data, settings, log):
        from pipelines.vectors import load_vectors

        architecture = {
            **ARCHITECTURE,
            **{k: getattr(settings, k) for k in ("units", "rnn", "head", "char_encoder")},
        }
        vectors = load_vectors(settings.vectors) if settings.vectors else None
        if vectors:
            vectors = (vectors[0][: settings.max_vectors], vectors[1][: settings.max_vectors])
        preprocessor = NERPreprocessor.build(
            data.train, settings.min_count, vectors[0] if vectors else ()
        )
        if settings.char_lm_context and not settings.char_lm:
            raise BadSetting("--char-lm-context", "needs --char-lm (the language models)")
        preprocessor.contextual = ContextualEncoder.from_option(
            settings.char_lm,
            CHAR_LM_CONTEXT if settings.char_lm_context is None else settings.char_lm_context,
        )
        if preprocessor.contextual is not None:
            if data.streamed:
                raise BadSetting("--char-lm", "reads sentences from files, not records")
            architecture["contextual_dim"] = preprocessor.contextual.dim
            dim = preprocessor.contextual.dim
            log(f"contextual string embeddings of {dim} from {settings.char_lm}")
        return build_tagger(preprocessor, architecture, vectors, log), preprocessor

    @classmethod
    def start_from(cls, data, settings, log):
        """The model `settings.init` names, grown to the new data's words and characters
        (known ones keep their embeddings), with a new tag head if the tags differ."""
        from pipelines.text import Vocabulary

        if settings.char_lm:
            raise BadSetting("--char-lm", "an --init model keeps its own language models")
        if settings.char_lm_context is not None:
            raise BadSetting("--char-lm-context", "an --init model keeps its own context")
        old = cls.load(settings.init)
        fresh = NERPreprocessor.build(data.train, settings.min_count)
        old_vocabs = old.preprocessor
        words = old_vocabs.words.tokens[4:] + fresh.words.tokens[4:]
        chars = old_vocabs.chars.tokens[4:] + fresh.chars.tokens[4:]
        known = set(fresh.tags.tokens[1:]) <= set(old_vocabs.tags.tokens)
        preprocessor = NERPreprocessor(
            Vocabulary(list(dict.fromkeys(words))),
            Vocabulary(list(dict.fromkeys(chars))),
            old_vocabs.tags if known else fresh.tags,
            old_vocabs.contextual,
        )
        correspondence = None if known else old_tags_of(old, data.train, preprocessor.tags)
        model = grow_model(old.model, old_vocabs, preprocessor, log, correspondence)
        return model, preprocessor

    @classmethod
    def compile(cls, model, settings):
        import keras

        from pipelines.training import layerwise_adam

        clip = {"clipnorm": settings.clip_norm} if settings.clip_norm else {}
        if settings.init and settings.freeze_encoder_epochs:
            head = [v for layer in head_layers(model) for v in layer.weights]
            encoder = [v for v in model.trainable_weights if all(v is not h for h in head)]
            optimizer = layerwise_adam([encoder, head], settings.learning_rate, **clip)
        else:
            optimizer = keras.optimizers.Adam(settings.learning_rate, **clip)
        model.compile(optimizer, jit_compile=False)

    @classmethod
    def schedule(cls, model, settings, log):
        from pipelines.training import FrozenFirst, LayerwiseAdam

        if isinstance(model.optimizer, LayerwiseAdam):  # the encoder frozen at first
            return [FrozenFirst(settings.freeze_encoder_epochs, log=log)]
        return []

    @classmethod
    def check(cls, preprocessor, data):
        unknown = {t for _, tags in data.dev or [] for t in tags} - set(preprocessor.tags.tokens)
        if unknown:
            raise DataError(
                data.dev_name, f"tags not in the training data: {', '.join(sorted(unknown))}"
            )

    @classmethod
    def dataset(cls, preprocessor, data, settings, epochs_done):
        if preprocessor.contextual is not None and data.dev:  # dev is tagged every epoch
            token_lists = [tokens for tokens, _ in data.dev]
            contexts = preprocessor.contextual.contexts(token_lists, documents_of(data.dev))
            preprocessor.contextual.remember(token_lists, contexts)
        return (stream_dataset if data.streamed else make_dataset)(
            preprocessor,
            data.train,
            settings.batch_size,
            shuffle=True,
            seed=settings.seed + epochs_done,
            word_dropout=settings.word_dropout,
        )

    def dev_metrics(self, dev):
        metrics = evaluate_model(
            self.model, self.preprocessor, dev, documents_of(dev), consistency=False
        )
        return {k: metrics[k] for k in ("precision", "recall", "f1")}

    @classmethod
    def calibrate(cls, model, preprocessor, data, settings, log):
        """The entity bias (`fit_entity_bias`): with `entity_bias="auto"` the one of the
        best dev F1 (none without dev data), else the number given."""
        bias = entity_bias_of(settings)
        if bias == 0.0 or (bias is None and not data.dev) or "O" not in preprocessor.tags:
            return None
        record = {"entity_bias": bias, "fitted_on_dev": bias is None}
        if data.dev:
            biases = ENTITY_BIASES if bias is None else (0.0, bias)
            fitted, table = fit_entity_bias(
                model, preprocessor, data.dev, biases, documents=documents_of(data.dev)
            )
            bias = fitted if bias is None else bias
            before, after = (
                {k: table[b][k] for k in ("precision", "recall", "f1")} for b in (0.0, bias)
            )
            record.update(entity_bias=bias, dev_before=before, dev=after)
            how = "fitted on dev" if record["fitted_on_dev"] else "given"
            log(
                f"entity bias {bias:g} ({how}): dev F1 {before['f1']:.4f} -> {after['f1']:.4f} "
                f"(precision {before['precision']:.4f} -> {after['precision']:.4f}, recall "
                f"{before['recall']:.4f} -> {after['recall']:.4f})"
            )
        lower_o_score(model, preprocessor, bias)
        return record

    @classmethod
    def describe(cls, model, preprocessor, settings, data):
        from pipelines.card import describe_source

        return {
            "architecture": describe_architecture(model),
            "sizes": describe_sizes(preprocessor),
            "extra": {
                "init": settings.init,
                "vectors": describe_source(settings.vectors) if settings.vectors else None,
                "char_lms": preprocessor.contextual.describe() if preprocessor.contextual else None,
                "char_lm_context": preprocessor.contextual.context
                if preprocessor.contextual
                else None,
            },
        }


def old_tags_of(old, sentences, tags, sample=2000):
    """`tag_correspondence` between the new data's tags and what the old tagger predicts for
    the same tokens, over the first `sample` training sentences."""
    import itertools

    sample = list(itertools.islice(iter(sentences), sample))
    predicted = tag_batch(old.model, old.preprocessor, [tokens for tokens, _ in sample])
    old_ids = old.preprocessor.tags.id
    pairs = [
        (tags.id(gold), old_ids(guess))
        for (_, gold_tags), (guessed, _) in zip(sample, predicted)
        for gold, guess in zip(gold_tags, guessed)
    ]
    return tag_correspondence(pairs, len(tags), len(old.preprocessor.tags))


def describe_architecture(model):
    """The card's `architecture`: the tagger's class and `ARCHITECTURE` settings (an
    ensemble's: its first member's, and how many members)."""
    members = members_of(model)
    if members == [model]:
        return {"class": "zoo.models.NERTagger", **architecture_of(model)}
    return {
        "class": "zoo.models.NERTaggerEnsemble",
        "members": len(members),
        **architecture_of(model),
    }


def describe_sizes(vocabs):
    return {"words": len(vocabs.words), "chars": len(vocabs.chars), "tags": vocabs.tags.tokens[1:]}


def head_layers(model):
    """The layers a new tag set replaces (`HEAD`): each member's, and an ensemble's CRF."""
    found = [layer for member in members_of(model) for layer in member.layers if layer.name in HEAD]
    if members_of(model) != [model] and model.crf is not None:
        found.append(model.crf)
    return found


def load(name_or_path=None):
    """A tagger: a shipped model's name (default `ner-conll2003`) or a model folder."""
    return Tagger.load(name_or_path)


def make_ensemble(model, members, out, float16=False, command=None):
    """Writes the model folder `out`: one tagger made of the tagger `model` and the taggers
    `members` (names or folders; `pipelines.ner.model.ensemble_of`), which tags with the mean
    of their scores (`zoo.models.NERTaggerEnsemble`); with `float16`, its weights stored as
    float16 (half the size). Its card holds the members' cards. Returns the new `Tagger`."""
    from pipelines.ner.model import ensemble_of
    from pipelines.task import write_ensemble

    if not members:
        raise BadSetting("--with", "name at least one other tagger")
    names = [model, *members]
    taggers = [Tagger.load(name) for name in names]
    ensemble, vocabs = ensemble_of(taggers)
    command = command or (
        f"pipelines.ner.make_ensemble({model!r}, {list(members)!r}, {str(out)!r}, "
        f"float16={float16!r})"
    )
    architecture, sizes = describe_architecture(ensemble), describe_sizes(vocabs)
    pairs = list(zip(names, taggers))
    return write_ensemble(
        Tagger, ensemble, vocabs, pairs, out, float16, command, architecture, sizes
    )


def train(train, dev=None, out=None, log=None, command=None, **settings):
    """Trains a tagger (or fine-tunes one: `init=`) on `train` (a source or a list of them:
    CoNLL files, globs, records folders, `tfds:` names), writes the folder `out` and returns
    the trained `Tagger`. Settings: `NERSettings`' fields (the command line's options)."""
    return train_task(Tagger, train, dev, out, NERSettings.of(settings), log, command)
