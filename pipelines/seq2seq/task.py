"""The seq2seq task: `Transducer` (a loaded encoder-decoder: predict, evaluate, export), its
settings, and the parts `pipelines.task.train_task` trains it with."""

import dataclasses

from pipelines.data import records
from pipelines.errors import BadSetting, DataError
from pipelines.io import model_folder
from pipelines.seq2seq.data import (
    StreamedPairs,
    data_format_of,
    make_dataset,
    read_examples,
    stream_dataset,
)
from pipelines.seq2seq.decoding import decode, evaluate_model
from pipelines.seq2seq.preprocess import Seq2SeqPreprocessor
from pipelines.seq2seq.rerank import Reranker, load_network
from pipelines.task import Task, TrainingData, TrainSettings, train_task

DEFAULT_MODEL = "g2p-cmudict"


@dataclasses.dataclass
class Seq2SeqSettings(TrainSettings):
    epochs: int = 30
    batch_size: int = 64
    patience: int | None = 4
    source_level: str | None = None  # char (default), word or space
    target_level: str | None = None  # default: space for cmudict, else char
    max_vocab: int | None = None  # per side
    units: int = 256
    embedding_dim: int = 64
    encoder_depth: int = 1
    decoder_depth: int = 1
    attention: str = "multiplicative"
    rnn: str = "lstm"
    unidirectional: bool = False
    input_feeding: bool = False
    beam: int = 1  # the model's decoding default, kept in seq2seq.json
    dropout: float = 0.2
    label_smoothing: float | None = None  # default 0; with init the model's own
    reverse_targets: bool = False  # write each target right to left


class Transducer(Task):
    """An encoder-decoder with attention (`zoo.models.Seq2Seq`) with its two vocabularies, and
    the lexicon and reranker of a folder made by `rerank`."""

    name = "seq2seq"
    default_model = DEFAULT_MODEL
    Settings = Seq2SeqSettings
    Preprocessor = Seq2SeqPreprocessor
    monitor = "wer"
    mode = "min"

    @classmethod
    def load(cls, name_or_path=None):
        folder = model_folder(name_or_path or cls.default_model)
        model, preprocessor = load_network(folder)
        if preprocessor.rerank_settings is not None:
            preprocessor.reranker = Reranker.load(folder, preprocessor.rerank_settings)
        return cls(model, preprocessor, folder)

    def outputs(self, texts, beam=None, network_only=False):
        """(output, mean log-probability per token) per text; `beam` default: the model's."""
        beam = beam or self.preprocessor.beam
        return decode(self.model, self.preprocessor, list(texts), beam, network_only=network_only)

    def predict(self, texts, beam=None, network_only=False, alternates=False):
        """`{"input", "output", "score"}` per text (an empty input, an empty output). A model
        with a lexicon answers the inputs it lists with their first listed target (score 0.0)
        and says where each output came from: `"source"` is `"lexicon"`, `"inflection"` (made
        from a listed word it inflects, `inflections.Inflections`) or `"network"` (not with
        `network_only`, where every output is the network's);
        `alternates` adds `"alternates"`: every target the lexicon lists for the input, or makes
        of the listed word it is an inflection of (the output alone for the others). A date
        model (one trained on ISO dates) adds `"valid"`: whether the output is a real date of
        the calendar ("2020-02-31" is not)."""
        from pipelines.seq2seq.dates import is_iso_date

        texts = list(texts)
        records = [
            {"input": text, "output": output, "score": score}
            for text, (output, score) in zip(texts, self.outputs(texts, beam, network_only))
        ]
        reranker = None if network_only else self.preprocessor.reranker
        looked_up = reranker is not None and reranker.lexicon is not None
        for record in records:
            listed = None
            if looked_up:
                listed, record["source"] = reranker.lookup(self.preprocessor, record["input"])
            if alternates:
                record["alternates"] = list(listed or [record["output"]])
            if self.preprocessor.outputs == "iso-date":
                record["valid"] = is_iso_date(record["output"])
        return records

    def evaluate(self, source, data_format=None, beam=None, network_only=False, max_examples=None):
        """WER, PER, exact match (and BLEU for word targets) on a labelled source."""
        examples = read_examples(source, data_format, max_examples)
        beam = beam or self.preprocessor.beam
        return evaluate_model(self.model, self.preprocessor, examples, beam, network_only)

    def export(self, out):
        from pipelines.seq2seq.export import export_seq2seq

        export_seq2seq(self.model, self.preprocessor, out)

    # === training ===

    @classmethod
    def read_data(cls, sources, dev, settings):
        fmt = data_format_of(sources[0], settings.data_format)
        streamed = records.streamed_sources(sources, "seq2seq")
        if streamed:  # read again on every pass, never held in memory
            examples = StreamedPairs(streamed, settings.max_examples)
        else:
            examples = [
                e
                for s in sources
                for e in read_examples(s, settings.data_format, settings.max_examples)
            ]
        dev_examples = (
            read_examples(dev, settings.data_format, settings.max_examples) if dev else None
        )
        return TrainingData(examples, dev_examples, dev, dev, tuple(sources), {"format": fmt})

    @classmethod
    def build(cls, data, settings, log):
        from zoo.models import Seq2Seq

        cmudict = data.info["format"] == "cmudict"
        preprocessor = Seq2SeqPreprocessor.build(
            data.train,
            settings.source_level or "char",
            settings.target_level or ("space" if cmudict else "char"),
            settings.max_vocab,
            lowercase=cmudict,
            reverse_targets=settings.reverse_targets,
        )
        model = Seq2Seq(
            len(preprocessor.source_vocab),
            len(preprocessor.target_vocab),
            embedding_dim=settings.embedding_dim,
            units=settings.units,
            encoder_depth=settings.encoder_depth,
            decoder_depth=settings.decoder_depth,
            bidirectional=not settings.unidirectional,
            rnn=settings.rnn,
            attention=settings.attention,
            dropout=settings.dropout,
            input_feeding=settings.input_feeding,
        )
        model.build()
        return cls._decoding(model, preprocessor, settings)

    @classmethod
    def start_from(cls, data, settings, log):
        model, preprocessor = load_network(model_folder(settings.init))
        if hasattr(model, "members"):
            raise BadSetting("--init", "an ensemble is not trained further: start from a member")
        return cls._decoding(model, preprocessor, settings)

    @staticmethod
    def _decoding(model, preprocessor, settings):
        if settings.label_smoothing is not None:
            model.label_smoothing = settings.label_smoothing
        preprocessor.beam = settings.beam
        return model, preprocessor

    @classmethod
    def dataset(cls, preprocessor, data, settings, epochs_done):
        make = stream_dataset if data.streamed else make_dataset
        return make(preprocessor, data.train, settings.batch_size, True, settings.seed)

    def dev_metrics(self, dev):
        return evaluate_model(self.model, self.preprocessor, dev)

    @classmethod
    def describe(cls, model, preprocessor, settings, data):
        return {
            "architecture": describe_architecture(model, preprocessor),
            "sizes": describe_sizes(preprocessor),
            "extra": {
                "init": settings.init,
                "format": data.info["format"],
                "beam": preprocessor.beam,
            },
        }


def describe_architecture(model, preprocessor):
    """The card's `architecture`: the class, `zoo.models.seq2seq.SETTINGS` (an ensemble's:
    its first member's, and how many members) and the two sides' levels."""
    from zoo.models.seq2seq import SETTINGS

    members = getattr(model, "members", None)
    config = (members or [model])[0].get_config()
    head = {"class": "zoo.models.Seq2Seq"}
    if members:
        head = {"class": "zoo.models.Seq2SeqEnsemble", "members": len(members)}
    return {
        **head,
        **{k: config[k] for k in SETTINGS},
        "source_level": preprocessor.source_level,
        "target_level": preprocessor.target_level,
    }


def describe_sizes(preprocessor):
    return {
        "source_vocab": len(preprocessor.source_vocab),
        "target_vocab": len(preprocessor.target_vocab),
    }


SAME = ("source_level", "target_level", "lowercase", "reverse_targets", "outputs")


def make_ensemble(model, members, out, float16=False, command=None):
    """Writes the model folder `out`: one network (`zoo.models.Seq2SeqEnsemble`) made of the
    networks of `model` and `members` (names or folders with the same vocabularies; a folder
    made by `rerank` gives its network), which decodes with the mean of their next-token
    distributions; with `float16`, its weights stored as float16. It has no lexicon or
    reranking of its own (`rerank --model OUT` adds them). Returns the new `Transducer`."""
    from pipelines.task import write_ensemble
    from zoo.models import Seq2SeqEnsemble

    if not members:
        raise BadSetting("--with", "name at least one other model")
    names = [model, *members]
    loaded = [Transducer(*load_network(name), model_folder(name)) for name in names]
    first = loaded[0].preprocessor
    for other in loaded[1:]:
        sides = other.preprocessor
        different = [k for k in SAME if getattr(sides, k) != getattr(first, k)]
        for vocab in ("source_vocab", "target_vocab"):
            if getattr(sides, vocab).tokens != getattr(first, vocab).tokens:
                different.append(vocab)
        if different:
            raise DataError(other.folder, f"its {', '.join(different)} differ from {model}'s")
    networks = [m for t in loaded for m in getattr(t.model, "members", [t.model])]
    ensemble = Seq2SeqEnsemble(networks)
    ensemble.build()
    command = command or (
        f"pipelines.seq2seq.make_ensemble({model!r}, {list(members)!r}, {str(out)!r}, "
        f"float16={float16!r})"
    )
    architecture = describe_architecture(ensemble, first)
    return write_ensemble(
        Transducer,
        ensemble,
        first,
        list(zip(names, loaded)),
        out,
        float16,
        command,
        architecture,
        describe_sizes(first),
    )


def load(name_or_path=None):
    """An encoder-decoder: a shipped model's name (default `g2p-cmudict`) or a model folder."""
    return Transducer.load(name_or_path)


def train(train, dev=None, out=None, log=None, command=None, **settings):
    """Trains an encoder-decoder (or continues one: `init=`) on `train` (a source or a list:
    pair files, CMUdict files, records folders), writes the folder `out` and returns the
    trained `Transducer`. Settings: `Seq2SeqSettings`' fields (the command line's options)."""
    return train_task(Transducer, train, dev, out, Seq2SeqSettings.of(settings), log, command)
