"""The language-model task: `LM` (a loaded language model: predict, score, sample, evaluate,
export), its settings, and the parts `pipelines.task.train_task` trains it with."""

import copy
import dataclasses

import numpy as np

from pipelines.data import records
from pipelines.errors import BadSetting, DataError
from pipelines.lm.data import (
    FORMATS,
    StreamedText,
    lines_dataset,
    read_corpus,
    records_windows,
    stream_dataset,
)
from pipelines.lm.inference import corpus_metrics, sample, score_texts
from pipelines.lm.preprocess import LMPreprocessor
from pipelines.task import Task, TrainingData, TrainSettings, train_task

DEFAULT_MODEL = "lm-shakespeare"
ARCHITECTURE = (
    "embedding_dim",
    "rnn",
    "units",
    "depth",
    "dropout",
    "tie_embeddings",
    "locked_dropout",
    "weight_dropout",
    "embedding_dropout",
)
# a new model's regularisation where the settings say None; a model trained with `init`
# keeps its own unless the settings name another (continue an LM with AWD-LSTM's dropouts)
REGULARISATION = {
    "dropout": 0.2,
    "locked_dropout": False,
    "weight_dropout": 0.0,
    "embedding_dropout": 0.0,
}


@dataclasses.dataclass
class LMSettings(TrainSettings):
    epochs: int = 20
    batch_size: int = 64
    level: str = "char"  # or "word"
    max_vocab: int = 10_000  # the most frequent words (characters), specials included
    bptt: int = 100  # text format: tokens per window of truncated BPTT
    units: int = 512
    depth: int = 2
    embedding_dim: int = 64
    dropout: float | None = None  # default 0.2; with init the model's own
    rnn: str = "lstm"
    tie_embeddings: bool = False  # score next tokens against the embeddings
    # AWD-LSTM (each: default off; with init the model's own): dropout masks drawn once per
    # sequence, DropConnect on the recurrent kernels, whole word types dropped per batch
    locked_dropout: bool | None = None
    weight_dropout: float | None = None
    embedding_dropout: float | None = None
    lower: bool = False  # word level: lower-case words and fold digits
    vectors: str | None = None  # word level: word2vec vectors to start the embeddings from
    reverse: bool = False  # a backward model: read every text from its end
    steps_per_epoch: int | None = None  # text format: an epoch is this many batches
    lr_schedule: str = "constant"  # or "slanted": ULMFiT's slanted triangular rates


class LM(Task):
    """A character or word language model (`zoo.models.LanguageModel`) with its vocabulary."""

    name = "lm"
    default_model = DEFAULT_MODEL
    Settings = LMSettings
    Preprocessor = LMPreprocessor
    monitor = "nats_per_token"
    mode = "min"

    def predict(self, texts, length=100, temperature=1.0, seed=0):
        """`{"text", "continuation"}` per text: a sample continuing it (before it, for a
        backward model), each text drawn as if alone with `seed`."""
        texts = list(texts)
        rngs = [np.random.default_rng(seed) for _ in texts]
        continuations = (
            sample(self.model, self.preprocessor, texts, length, temperature, rngs=rngs)
            if texts
            else []
        )
        return [{"text": t, "continuation": c} for t, c in zip(texts, continuations)]

    def score(self, texts):
        """`{"text", "log_prob", "tokens", "log_prob_per_token", "token_log_probs"}` per text
        (natural logs; read from `<BOS>`, and to `<EOS>` for a `lines` model)."""
        return score_texts(self.model, self.preprocessor, list(texts))

    def sample(self, num=1, seed=0, temperature=1.0, prompt="", length=200, top_k=None):
        """`num` novel texts, each with its prompt (the same for the same seed)."""
        drawn = sample(
            self.model, self.preprocessor, [prompt] * num, length, temperature, top_k, seed
        )
        return [self.preprocessor.attach(prompt, text) for text in drawn]

    def evaluate(self, source, max_examples=None):
        """`nats_per_token`, `bits_per_token`, `perplexity` and `tokens` over a text."""
        text = read_corpus(source, self.preprocessor.format, max_examples)
        return corpus_metrics(self.model, self.preprocessor, text)

    def export(self, out):
        from pipelines.lm.export import export_language_model

        export_language_model(self.model, self.preprocessor, out)

    # === training ===

    @classmethod
    def read_data(cls, sources, dev, settings):
        data_format = settings.data_format or "text"
        if data_format not in FORMATS:
            raise BadSetting("--format", f"--format must be one of {FORMATS}")
        streamed = records.streamed_sources(sources, "lm")
        if streamed and data_format != "text":
            raise BadSetting("--format", "records stream --format text only")
        if settings.lr_schedule == "slanted" and not settings.steps_per_epoch:
            raise BadSetting("--lr-schedule", "--lr-schedule slanted needs --steps-per-epoch")
        if settings.lr_schedule == "slanted" and settings.lr_decay:
            raise BadSetting(
                "--lr-schedule", "--lr-schedule slanted sets every rate: no --lr-decay"
            )
        if settings.steps_per_epoch and (streamed or data_format != "text"):
            raise BadSetting("--steps-per-epoch", "--steps-per-epoch needs --format text and files")
        if streamed:  # blocks of lines read again on every pass, never held in memory
            text = StreamedText(streamed, settings.max_examples)
        else:
            text = "".join(read_corpus(s, data_format, settings.max_examples) for s in sources)
        dev_text = read_corpus(dev, data_format, settings.max_examples) if dev else None
        return TrainingData(text, dev_text, dev, dev, tuple(sources))

    @classmethod
    def _model(cls, config, settings):
        from zoo.models import LanguageModel

        model = LanguageModel(
            **{k: config[k] for k in ("vocab_size", *ARCHITECTURE) if k in config},
            stateful_batch=settings.batch_size
            if (settings.data_format or "text") == "text"
            else None,
        )
        model.build()
        return model

    @classmethod
    def build(cls, data, settings, log):
        preprocessor = LMPreprocessor.build(
            data.train,
            settings.level,
            settings.data_format or "text",
            settings.max_vocab,
            lower=settings.lower,
            reverse=settings.reverse,
        )
        config = {"vocab_size": len(preprocessor.vocab)}
        config.update({k: getattr(settings, k) for k in ARCHITECTURE})
        config.update({k: default for k, default in REGULARISATION.items() if config[k] is None})
        model = cls._model(config, settings)
        if settings.vectors:
            from pipelines.vectors import fill_embeddings, load_vectors

            vocab = preprocessor.vocab.tokens
            found = fill_embeddings(model.embedding, vocab, load_vectors(settings.vectors))
            log(f"word vectors for {found:,} of {len(vocab):,} words")
        return model, preprocessor

    @classmethod
    def start_from(cls, data, settings, log):
        old = cls.load(settings.init)
        config = old.model.get_config()
        changed = {
            k: getattr(settings, k)
            for k in REGULARISATION
            if getattr(settings, k) not in (None, config.get(k, REGULARISATION[k]))
        }
        if changed:
            log(
                "regularisation changed from the initial model's: "
                + ", ".join(
                    f"{k} {config.get(k, REGULARISATION[k])} -> {v}" for k, v in changed.items()
                )
            )
        model = cls._model({**config, **changed}, settings)
        for target, source in zip(model.trainable_weights, old.model.trainable_weights):
            target.assign(source)
        preprocessor = old.preprocessor
        if settings.reverse and not preprocessor.reverse:  # its vocabulary, read backwards
            preprocessor = copy.copy(preprocessor)
            preprocessor.reverse = True
            log(f"a backward model started from the forward model {settings.init}")
        return model, preprocessor

    @classmethod
    def dataset(cls, preprocessor, data, settings, epochs_done):
        batch, bptt, seed = settings.batch_size, settings.bptt, settings.seed
        if data.streamed:
            return records_windows(preprocessor, data.train, batch, bptt, seed + epochs_done)
        if preprocessor.format == "lines":
            return lines_dataset(preprocessor.sequences(data.train), batch, True, seed)
        ids = preprocessor.stream(data.train)
        if len(ids) < batch * (bptt + 1):
            raise DataError(data.sources[0], f"too short for {batch} streams of {bptt} tokens")
        if settings.steps_per_epoch:  # one endless stream, from where the last epoch left it
            start = epochs_done * settings.steps_per_epoch
            return stream_dataset(ids, batch, bptt, seed, start=start, endless=True)
        return stream_dataset(ids, batch, bptt, seed + epochs_done)

    @classmethod
    def schedule(cls, model, settings, log):
        import keras

        from pipelines.training import SlantedTriangular

        callbacks = []
        if settings.lr_schedule == "slanted":
            peak, steps = settings.learning_rate, settings.steps_per_epoch
            callbacks.append(SlantedTriangular(peak, steps, settings.epochs))
            total = steps * settings.epochs
            log(f"slanted triangular learning rates: up to {peak} over {total:,} steps")
        if model.stateful_batch:
            # truncated BPTT starts every epoch from zero states
            callbacks.append(
                keras.callbacks.LambdaCallback(on_epoch_begin=lambda *_: model.reset_states())
            )
        return callbacks

    def dev_metrics(self, dev):
        plain = self.finished(self.model)
        return {"nats_per_token": corpus_metrics(plain, self.preprocessor, dev)["nats_per_token"]}

    @classmethod
    def describe(cls, model, preprocessor, settings, data):
        config = model.get_config()
        return {
            "architecture": {
                "class": "zoo.models.LanguageModel",
                **{k: config[k] for k in ARCHITECTURE},
                "level": preprocessor.level,
                "lower": preprocessor.lower,
                "reverse": preprocessor.reverse,
                "format": preprocessor.format,
                "bptt": settings.bptt,
                "batch_size": settings.batch_size,
                "steps_per_epoch": settings.steps_per_epoch,
            },
            "sizes": {"vocab": len(preprocessor.vocab)},
            "extra": {"init": settings.init, "vectors": settings.vectors},
        }

    @classmethod
    def finished(cls, model):
        return model.without_state() if model.stateful_batch else model


def load(name_or_path=None):
    """A language model: a shipped model's name (default `lm-shakespeare`) or a model folder."""
    return LM.load(name_or_path)


def train(train, dev=None, out=None, log=None, command=None, **settings):
    """Trains a language model (or continues one: `init=`) on `train` (a source or a list:
    text files, CSV/TSV tables, records folders, `tfds:` names), writes the folder `out` and
    returns the trained `LM`. Settings: `LMSettings`' fields (the command line's options)."""
    return train_task(LM, train, dev, out, LMSettings.of(settings), log, command)
