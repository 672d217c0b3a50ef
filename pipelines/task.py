"""The task shape every pipeline fills, and the one training skeleton they all run.

A task (`pipelines.ner`, `.sentiment`, `.lm`, `.seq2seq`) is a `Task` subclass holding a
trained Keras model and its preprocessor (the vocabularies and settings that turn text into
ids and back). `Task.load(name_or_path)` reads a model folder; `predict`, `evaluate` and
`export` are the verbs of the command line as Python methods. For training a task fills in
its parts (read the data, build the preprocessor and the model, start from another model,
datasets, dev metrics, schedules, what is fitted after training, the card) and `train_task`
runs them in the order every task shares: seeds, strategy and precision, `--resume`,
`--init`, fit with early stopping and averaging, calibration, card, atomic finish.

    from pipelines import ner
    tagger = ner.load()                                  # the shipped default
    tagger.predict(["Teddy Roosevelt was a great president."])
    ner.train("train.conll", dev="dev.conll", out="my-tagger", epochs=5)
"""

import dataclasses
import os
import time

from pipelines.errors import BadSetting
from pipelines.io import model_folder, read_json


@dataclasses.dataclass
class TrainSettings:
    """What every task's `train` takes besides its data and output folder: the command line's
    options, with underscores for dashes. Each task subclasses it with its own defaults and
    options; `--help` shows these defaults and the card records the settings."""

    init: str | None = None  # start from this model (a shipped name or a folder)
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 0.002
    clip_norm: float = 5.0  # gradient clipping by global norm (0: off)
    patience: int | None = None  # early stopping: epochs without a better dev metric
    lr_decay: float | None = None  # learning rate times this after an epoch not the best
    average: int | None = None  # also try the mean of the last N epochs' weights
    max_examples: int | None = None  # the first N examples of each source
    seed: int = 0
    resume: bool = False  # continue an interrupted run from its last epoch
    data_format: str | None = None  # the data format, if not from the extension
    strategy: str = "default"  # tf.distribute: "default", "mirrored" or "multi_worker"
    cpu_replicas: int | None = None  # with "mirrored" and no GPU: this many CPU devices
    precision: str = "float32"  # or "mixed_bfloat16", "mixed_float16"

    @classmethod
    def of(cls, options):
        """The settings from keyword arguments; an unknown keyword is a `ValueError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ValueError(
                f"unknown setting {unknown[0]!r} (settings: {', '.join(sorted(names))})"
            )
        return cls(**options)

    def changed(self):
        """The settings that differ from their defaults, in field order."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }


@dataclasses.dataclass
class TrainingData:
    """What a task's `read_data` returns: the training examples (a list, or a records
    `Stream`), the dev examples (or None), how the card names the dev data and the file an
    error in the dev examples points at (the dev source, or the training data they came
    from)."""

    train: object
    dev: object = None
    dev_name: str | None = None
    dev_source: str | None = None
    sources: tuple = ()  # the training sources
    info: dict = dataclasses.field(default_factory=dict)  # what else the task read (its card)

    @property
    def streamed(self):
        """The training examples are records folders, read afresh on every pass."""
        from pipelines.data.records import Stream

        return isinstance(self.train, Stream)


class Task:
    """A trained model of a task with everything it needs to read and write text.

    Attributes:
        model: the Keras model (`zoo.models`).
        preprocessor: the task's `Preprocessor` (vocabularies, text settings).
        folder: the model folder it came from (None for a model built in memory).
        summary: after `train`, what the run reports (epochs, best dev metrics, replicas).
    """

    name = None  # the task's name: "ner", "sentiment", "lm", "seq2seq"
    default_model = None  # the shipped model `load()` reads without a name
    Settings = TrainSettings
    Preprocessor = None  # the class that builds, saves and loads the preprocessor
    monitor = None  # the dev metric that picks the best epoch
    mode = "max"

    def __init__(self, model, preprocessor, folder=None):
        self.model, self.preprocessor = model, preprocessor
        self.folder = os.fspath(folder) if folder else None
        self.summary = None

    @classmethod
    def load(cls, name_or_path=None):
        """A shipped model by name (the task's default without one) or a model folder."""
        from zoo import registry

        folder = model_folder(name_or_path or cls.default_model)
        return cls(registry.load(folder), cls.Preprocessor.load(folder), folder)

    @property
    def card(self):
        """The model folder's `card.json` ({} without one)."""
        path = os.path.join(self.folder, "card.json") if self.folder else None
        return read_json(path) if path and os.path.exists(path) else {}

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__name__} {self.folder or 'in memory'}>"

    # === inference (each task) ===

    def predict(self, texts):
        """One plain dict per text, the records `predict --json` prints."""
        raise NotImplementedError

    def evaluate(self, source, **options):
        """The metrics `evaluate --json` prints, on a data source."""
        raise NotImplementedError

    def export(self, out):
        """Writes a SavedModel that runs on raw strings with TensorFlow alone."""
        raise NotImplementedError

    # === training parts (each task) ===

    @classmethod
    def read_data(cls, sources, dev, settings):
        """A `TrainingData` from the training sources (files or records folders) and `dev`."""
        raise NotImplementedError

    @classmethod
    def build(cls, data, settings, log):
        """(model, preprocessor) of a new model for the data."""
        raise NotImplementedError

    @classmethod
    def start_from(cls, data, settings, log):
        """(model, preprocessor) from the model `settings.init` names."""
        raise NotImplementedError

    @classmethod
    def compile(cls, model, settings):
        import keras

        clip = settings.clip_norm or None
        model.compile(keras.optimizers.Adam(settings.learning_rate, clipnorm=clip))

    @classmethod
    def check(cls, preprocessor, data):
        """Raises `DataError` where the data cannot be read with the preprocessor."""

    @classmethod
    def dataset(cls, preprocessor, data, settings, epochs_done):
        """The training batches (`epochs_done`: epochs a resumed run has behind it)."""
        raise NotImplementedError

    @classmethod
    def schedule(cls, model, settings, log):
        """Keras callbacks the task's training needs (layer freezing, state resets)."""
        return []

    def dev_metrics(self, dev):
        """The dev metrics of this (training) model, `monitor` among them."""
        raise NotImplementedError

    @classmethod
    def calibrate(cls, model, preprocessor, data, settings, log):
        """Fits (in `model`) what the task fits after training, such as a decision threshold
        on the dev data; returns what it fitted, for the card and the summary, or None."""
        return None

    @classmethod
    def describe(cls, model, preprocessor, settings, data):
        """`architecture`, `sizes` and `extra` entries of the card."""
        raise NotImplementedError

    @classmethod
    def finished(cls, model):
        """The model the folder keeps (a language model drops its training state)."""
        return model


def train_task(task, sources, dev=None, out=None, settings=None, log=None, command=None):
    """Trains `task` (a `Task` subclass) on `sources` and writes the model folder `out`;
    returns the trained task object (its `summary` says how the run went).

    Args:
        sources: a source or a list of them: files, glob patterns, records folders,
            `tfds:` names.
        dev: a development source, for early stopping.
        settings: the task's `Settings`.
        log: where progress lines go (default: standard error).
        command: what reproduces the run, for the card (default: this Python call).
    """
    from pipelines import distribute
    from pipelines.data.records import expand
    from pipelines.training import TrainingRun, log_to_stderr, summary

    if out is None:
        raise ValueError("train needs out=, the model folder to write")
    started = time.time()
    log = log or log_to_stderr
    if settings.cpu_replicas:
        try:
            distribute.configure_cpu_replicas(settings.cpu_replicas)
        except RuntimeError as error:
            raise BadSetting("--cpu-replicas", str(error)) from None
    sources = expand([sources] if isinstance(sources, (str, os.PathLike)) else sources)
    data = task.read_data(sources, dev, settings)
    run = TrainingRun(
        out,
        resume=settings.resume,
        seed=settings.seed,
        log=log,
        strategy=settings.strategy,
        cpu_replicas=settings.cpu_replicas,
        precision=settings.precision,
    )
    with run.scope():
        if run.resumed:
            preprocessor = task.Preprocessor.load(run.assets)
            model = run.load_checkpoint()
        else:
            make = task.start_from if settings.init else task.build
            model, preprocessor = make(data, settings, log)
            preprocessor.save(run.assets)
            task.compile(model, settings)
    task.check(preprocessor, data)
    dataset = task.dataset(preprocessor, data, settings, (run.state or {}).get("epoch", 0))
    evaluate = (lambda m: task(m, preprocessor).dev_metrics(data.dev)) if data.dev else None
    result = run.fit(
        model,
        dataset,
        settings.epochs,
        evaluate,
        task.monitor if data.dev else None,
        mode=task.mode,
        patience=settings.patience,
        lr_decay=settings.lr_decay,
        average=settings.average,
        callbacks=task.schedule(model, settings, log),
        steps_per_epoch=getattr(settings, "steps_per_epoch", None),
    )
    calibration = task.calibrate(model, preprocessor, data, settings, log)
    if calibration and calibration.get("dev"):  # the dev metrics of the model as written
        result = {**result, "best": {**(result["best"] or {}), **calibration["dev"]}}
    command = command or python_call(task.name, sources, dev, out, settings)
    card = run_card(task, model, preprocessor, data, sources, settings, result, command)
    if calibration:
        card["calibration"] = calibration
    final = task.finished(model)
    run.finish(final, card=card)
    trained = task(final, preprocessor, run.out)
    trained.summary = {
        **summary(out, result, run.replicas),
        "seconds": round(time.time() - started, 1),
    }
    if calibration:
        trained.summary["calibration"] = calibration
    return trained


def run_card(task, model, preprocessor, data, sources, settings, result, command):
    """The card of a training run: `pipelines.card.describe_run` with the task's parts and
    the settings."""
    from pipelines.card import describe_run

    card = describe_run(
        task=task.name,
        model=model,
        train_sources=sources,
        dev_source=data.dev_name,
        result=result,
        command=command,
        **task.describe(model, preprocessor, settings, data),
    )
    card["settings"] = {k: v for k, v in dataclasses.asdict(settings).items() if k != "resume"}
    return card


def write_ensemble(
    task, ensemble, preprocessor, members, out, float16, command, architecture, sizes
):
    """Writes the model folder `out` of `ensemble`, a model made of the `members` (`(name,
    loaded task object)` pairs): the preprocessor, `model.keras` (float16 weights with
    `float16`), and a card holding the members' cards. Returns `task` loaded from `out`."""
    from pipelines.card import machine, versions
    from pipelines.io import write_atomically, write_json
    from pipelines.training import save_model

    card = {
        "task": task.name,
        "architecture": architecture,
        "sizes": sizes,
        "parameters": int(ensemble.count_params()),
        "command": command,
        "float16": float16,
        "members": [{"model": str(name), "card": loaded.card} for name, loaded in members],
        "machine": machine(),
        "versions": versions(),
    }

    def write(tmp):
        os.makedirs(tmp)
        preprocessor.save(tmp)
        save_model(ensemble, os.path.join(tmp, "model.keras"), float16=float16)
        write_json(os.path.join(tmp, "card.json"), card)

    write_atomically(out, write)
    return task.load(out)


def python_call(name, sources, dev, out, settings):
    """The Python call that trains a model, as its card records it."""
    arguments = [repr(list(sources))]
    arguments += [f"dev={dev!r}"] if dev else []
    arguments += [f"out={str(out)!r}"]
    arguments += [f"{k}={v!r}" for k, v in settings.changed().items() if k != "resume"]
    return f"pipelines.{name}.train({', '.join(arguments)})"
