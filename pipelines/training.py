"""The training loop every task shares: Keras `fit` with checkpoints every epoch, `--resume`,
early stopping on the dev metric, seeds, a history plot, and model folders that appear only when
complete.

A run writing the model folder `OUT` works in `OUT.partial/`: after every epoch it saves the whole
model with its optimizer state (`checkpoint.keras`), the best weights so far by the dev metric, and
`state.json` (epoch, history, best). `--resume` reloads them and continues with the next epoch.
When training ends, the final folder is written under a temporary name, with the best weights, and
renamed to `OUT`; only then is `OUT.partial/` removed. A crash at any moment leaves either the
previous `OUT` or the new one, never half of one.

Example (what a task's `train` does):

    run = TrainingRun(out, resume=resume, seed=seed)
    model = run.load_checkpoint() if run.resumed else build_and_compile()
    result = run.fit(model, train_dataset, epochs=20, evaluate=dev_metrics, monitor="f1")
    run.finish(model, write_assets=save_vocabularies, card=card)
"""

import json
import math
import os
import shutil
import sys
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from pipelines.errors import DataError
from pipelines.io import write_atomically, write_json

CHECKPOINT = "checkpoint.keras"
BEST = "best.weights.h5"
STATE = "state.json"
WINDOW = "average.npz"  # the last epochs' weights, for --average


def set_seed(seed, deterministic=False):
    """Seeds Python, NumPy and TensorFlow; `deterministic` also turns on TF's op determinism."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


@keras.saving.register_keras_serializable(package="pipelines")
class LayerwiseAdam(keras.optimizers.Adam):
    """Adam whose variables fall into groups ("levels" of a model, from the input up), each
    with its own learning-rate factor held in the `group_rates` variable: discriminative
    fine-tuning and gradual unfreezing (Howard & Ruder 2018; a factor of 0 freezes a group).
    `groups` maps variable paths (`variable.path`) to group indices; a variable not named
    steps at the base rate. `FineTuning` sets the factors at the start of every epoch."""

    def __init__(self, learning_rate=0.001, groups=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.groups = dict(groups or {})
        self.group_count = max(self.groups.values(), default=-1) + 1

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.group_rates = self.add_variable(
            (max(self.group_count, 1),), initializer="ones", name="group_rates"
        )
        # update_step sees backend variables (no path): look groups up by position
        self._group_of = [self.groups.get(v.path) for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        group = self._group_of[self._get_variable_index(variable)]
        if group is not None:
            learning_rate = learning_rate * self.group_rates[group]
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


class FineTuning(keras.callbacks.Callback):
    """Sets a `LayerwiseAdam`'s group factors as each epoch begins: the top group learns at the
    base rate, each group below `decay` times slower (discriminative learning rates); with
    `gradual`, epoch k trains only the top k groups (gradual unfreezing), then all of them."""

    def __init__(self, decay=2.6, gradual=True, log=None):
        super().__init__()
        self.decay, self.gradual, self.log = decay, gradual, log

    def rates(self, epoch, count):
        open_groups = min(epoch + 1, count) if self.gradual else count
        return [
            self.decay ** -(count - 1 - g) if g >= count - open_groups else 0.0
            for g in range(count)
        ]

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        optimizer.build(self.model.trainable_variables)
        rates = self.rates(epoch, optimizer.group_count)
        optimizer.group_rates.assign(rates)
        frozen = sum(rate == 0 for rate in rates)
        if frozen and self.log:
            self.log(f"epoch {epoch + 1}: the lowest {frozen} of {len(rates)} levels frozen")


class FrozenFirst(FineTuning):
    """The lowest group (a tagger's encoder) frozen for the first `epochs` epochs: only the
    groups above it (the tag head) train, then everything at the base rate."""

    def __init__(self, epochs, log=None):
        super().__init__(log=log)
        self.epochs = epochs

    def rates(self, epoch, count):
        return [0.0 if g == 0 and epoch < self.epochs else 1.0 for g in range(count)]


class SlantedTriangular(keras.callbacks.Callback):
    """ULMFiT's slanted triangular learning rate (Howard & Ruder 2018), set before every batch:
    a short linear rise to `peak` over the first `cut_frac` of the `total` steps, then a long
    linear fall, from `peak / ratio` to `peak` and back:

        cut = floor(T * cut_frac)
        p   = t / cut                              if t < cut
              1 - (t - cut) / (cut * (1 / cut_frac - 1))   otherwise
        lr  = peak * (1 + p * (ratio - 1)) / ratio

    Args:
        peak: the highest rate (the run's `learning_rate`).
        steps_per_epoch: batches per epoch (t counts from the run's first batch, so that a
            resumed run continues the same curve).
        epochs: the run's epochs; T = epochs * steps_per_epoch.
    """

    def __init__(self, peak, steps_per_epoch, epochs, cut_frac=0.1, ratio=32):
        super().__init__()
        self.peak, self.steps, self.total = peak, steps_per_epoch, steps_per_epoch * epochs
        self.cut_frac, self.ratio = cut_frac, ratio
        self.epoch = 0

    def rate(self, step):
        cut = max(1, int(self.total * self.cut_frac))
        if step < cut:
            p = step / cut
        else:
            p = max(0.0, 1 - (step - cut) / (cut * (1 / self.cut_frac - 1)))
        return self.peak * (1 + p * (self.ratio - 1)) / self.ratio

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.epoch * self.steps + batch))


def layerwise_adam(groups, learning_rate, **kwargs):
    """A `LayerwiseAdam` for lists of variables ordered from the input to the output."""
    paths = {variable.path: index for index, group in enumerate(groups) for variable in group}
    return LayerwiseAdam(learning_rate, groups=paths, **kwargs)


def save_model(model, path, float16=False):
    """Saves `model` as a `.keras` file without optimizer state (the shipped form), atomically;
    with `float16`, its float32 weights stored as float16 (`store_float16`)."""
    fresh = model.__class__.from_config(model.get_config())
    fresh.build()
    fresh.set_weights(model.get_weights())
    tmp = f"{os.fspath(path)[: -len('.keras')]}.tmp{os.getpid()}.keras"
    fresh.save(tmp)
    if float16:
        store_float16(tmp)
    os.replace(tmp, path)


WEIGHTS_FILE = "model.weights.h5"  # inside a .keras archive


def store_float16(path):
    """Rewrites the weights of the `.keras` file `path` as float16 (half the size; about three
    significant digits). Keras reads them back into the model's float32 variables, so the file
    loads as any other (`keras.saving.load_model`), and the model computes in float32."""
    import io
    import zipfile

    import h5py
    import numpy as np

    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    halved = io.BytesIO()
    with h5py.File(io.BytesIO(parts[WEIGHTS_FILE]), "r") as source:
        with h5py.File(halved, "w") as target:

            def copy(group, into):
                into.attrs.update(group.attrs)
                for key, item in group.items():
                    if isinstance(item, h5py.Group):
                        copy(item, into.create_group(key))
                        continue
                    value = item[()]
                    if getattr(value, "dtype", None) == np.float32:
                        value = value.astype(np.float16)
                    into.create_dataset(key, data=value).attrs.update(item.attrs)

            copy(source, target)
    parts[WEIGHTS_FILE] = halved.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def log_to_stderr(message):
    print(message, file=sys.stderr, flush=True)


class TrainingRun:
    """One `train` command's run, writing the model folder `out`.

    Args:
        out: the model folder to write.
        resume: continue from `out.partial/` if a checkpoint is there (else start afresh;
            `DataError` where `out` is already a finished model folder, which a fresh run
            would replace).
        seed: seeds everything before the model is built.
        log: where progress lines go (default: standard error).
        strategy: `"default"`, `"mirrored"` or `"multi_worker"` (`pipelines.distribute`);
            build and compile the model inside `run.scope()`.
        cpu_replicas: with `"mirrored"` on a machine without GPUs, this many CPU devices.
        precision: `"float32"`, `"mixed_bfloat16"` or `"mixed_float16"` (Keras policies) for
            the layers built after the run starts.
    """

    def __init__(
        self,
        out,
        resume=False,
        seed=0,
        log=None,
        strategy="default",
        cpu_replicas=None,
        precision="float32",
    ):
        from pipelines import distribute

        distribute.set_precision(precision)
        self.strategy = distribute.make_strategy(strategy, cpu_replicas)
        self.chief = strategy != "multi_worker" or distribute.is_chief()
        self.log = log or log_to_stderr
        if not self.chief:  # another worker: the same work, written where no user looks
            import tempfile

            out = os.path.join(tempfile.mkdtemp(prefix="zoo-worker-"), "model")
        self.out = os.path.abspath(os.fspath(out))
        self.work = self.out + ".partial"
        self.state = None
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise DataError(out, "exists and is not a folder")
        checkpoint = os.path.join(self.work, CHECKPOINT)
        if resume and os.path.exists(checkpoint) and os.path.exists(os.path.join(self.work, STATE)):
            with open(os.path.join(self.work, STATE), encoding="utf-8") as handle:
                self.state = json.load(handle)
        else:
            finished = os.path.join(self.out, "model.keras")
            if resume and os.path.exists(finished):  # retraining would replace it
                raise DataError(
                    self.out,
                    "a finished run: --resume continues only an interrupted one"
                    " (OUT.partial/); to train this model further, --init it into a new --out",
                )
            if resume:
                self.log(f"--resume: no checkpoint in {self.work}, starting from epoch 1")
            shutil.rmtree(self.work, ignore_errors=True)
            os.makedirs(self.assets, exist_ok=True)
        # bit-identical reruns on one device: seeded, and TensorFlow's ops deterministic
        set_seed(seed + (self.state["epoch"] if self.state else 0), deterministic=True)

    @property
    def resumed(self):
        return self.state is not None

    @property
    def replicas(self):
        """How many replicas train in sync (devices, over all workers)."""
        return self.strategy.num_replicas_in_sync

    def scope(self):
        """The strategy's scope: build, load and compile models inside it."""
        return self.strategy.scope()

    @property
    def assets(self):
        """Where the task keeps the files its model needs (vocabularies) during the run."""
        return os.path.join(self.work, "assets")

    def load_checkpoint(self):
        """The model and optimizer as they were after the last completed epoch."""
        import zoo.layers  # noqa: F401  (registers the zoo's classes for deserialisation)
        import zoo.models  # noqa: F401

        self.log(f"Resuming from epoch {self.state['epoch']} (checkpoint in {self.work})")
        with self.scope():
            return keras.saving.load_model(os.path.join(self.work, CHECKPOINT))

    def fit(
        self,
        model,
        train_data,
        epochs,
        evaluate=None,
        monitor=None,
        mode="max",
        patience=None,
        lr_decay=None,
        verbose=None,
        steps_per_epoch=None,
        callbacks=(),
        average=None,
    ):
        """Trains `model` (compiled) on `train_data` for up to `epochs` epochs.

        Args:
            evaluate: `model -> dict` of dev metrics, run after every epoch.
            monitor: the metric of `evaluate` to select the best epoch and stop early on
                (default: the training loss, minimised).
            mode: `"max"` or `"min"` for `monitor`.
            patience: stop after this many epochs without a better `monitor`.
            lr_decay: multiply the optimizer's learning rate by this after every epoch whose
                `monitor` is not the best so far (the rate is in the checkpoint: `--resume`
                keeps it).
            callbacks: more Keras callbacks (they run before the checkpointing one).
            average: with `evaluate`, also try the mean of the trainable weights of the last
                `average` epochs (checkpoint averaging) after every epoch from the second on:
                its dev metrics go into the history as `dev_avg_*`, and it is kept as the best
                model when it beats every epoch and average before it (an improvement for
                `patience` and `lr_decay` too). Without `evaluate` there is nothing to compare:
                the model is the mean of the last `average` epochs (of all, when fewer ran).
                Training goes on from the epoch's own weights.
        Returns:
            dict: `epochs` run, `best_epoch`, `best` (the dev metrics of the best epoch),
            `best_averaged` (`[first, last]` epoch when the best is an average, else None),
            `history` (per epoch: loss, dev metrics, seconds, and the learning rate the
            next epoch starts with: after any `lr_decay`).
        """
        state = self.state or {"epoch": 0, "history": [], "best": None, "best_epoch": 0}
        callback = _EpochEnd(self, state, evaluate, monitor, mode, patience, lr_decay, average)
        if verbose is None:  # progress bars on a terminal, one line per epoch in a log file
            verbose = "auto" if sys.stdout.isatty() else 2
        if state["epoch"] < epochs and not state.get("stopped"):
            warnings.filterwarnings("ignore", message=".*(ran out of data|shuffle=True).*")
            if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
                # Keras 3's fit cannot take PerReplica batches from this strategy
                # (keras-team/keras#20585): a training step of our own under it instead
                self._fit_under_strategy(
                    model, train_data, epochs, state["epoch"], [*callbacks, callback]
                )
            else:
                model.fit(
                    train_data,
                    epochs=epochs,
                    initial_epoch=state["epoch"],
                    callbacks=[*callbacks, callback],
                    verbose=verbose,
                    steps_per_epoch=steps_per_epoch,
                )
        best = os.path.join(self.work, BEST)
        if os.path.exists(best):
            with warnings.catch_warnings():  # the model's weights; the optimizer may differ
                warnings.filterwarnings("ignore", message="Skipping variable loading")
                model.load_weights(best)
        self.state = state
        return {
            "epochs": state["epoch"],
            "best_epoch": state["best_epoch"],
            "best": state["best"],
            "best_averaged": state.get("best_averaged"),
            "history": state["history"],
        }

    def _fit_under_strategy(self, model, train_data, epochs, initial_epoch, callbacks):
        """`model.fit` for strategies it does not support: each replica computes the model's
        own loss (`compute_loss`, divided by the replicas in sync) on its share of every global
        batch, and the optimizer sums the gradients over replicas; callbacks see the epochs as
        under `fit` (`on_epoch_begin`, `on_train_batch_begin`, `on_epoch_end` with the mean
        `loss`)."""
        strategy = self.strategy
        batches = strategy.experimental_distribute_dataset(train_data)
        optimizer = model.optimizer
        with strategy.scope():
            optimizer.build(model.trainable_variables)

        def replica_step(x, y):
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
                scaled = optimizer.scale_loss(loss)
            variables = model.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
            return loss

        @tf.function(reduce_retracing=True)
        def train_step(x, y):
            losses = strategy.run(replica_step, args=(x, y))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

        callback_list = keras.callbacks.CallbackList(list(callbacks), model=model)
        model.stop_training = False
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self.log(f"Epoch {epoch + 1}/{epochs}")
            callback_list.on_epoch_begin(epoch)
            total, steps = 0.0, 0
            for x, y in batches:
                callback_list.on_train_batch_begin(steps)
                total += float(train_step(x, y))
                steps += 1
            callback_list.on_epoch_end(epoch, {"loss": total / max(steps, 1)})
            if model.stop_training:
                break
        callback_list.on_train_end()

    def finish(self, model, card=None):
        """Writes the final model folder (model.keras, the assets, card.json, history) and
        renames it into place; removes the work folder."""

        def write(tmp):
            shutil.copytree(self.assets, tmp)
            save_model(model, os.path.join(tmp, "model.keras"))
            history = (self.state or {}).get("history", [])
            write_json(os.path.join(tmp, "history.json"), history)
            plot_history(history, os.path.join(tmp, "history.png"))
            if card is not None:
                write_json(os.path.join(tmp, "card.json"), card)

        write_atomically(self.out, write)
        shutil.rmtree(self.work, ignore_errors=True)
        if not self.chief:
            shutil.rmtree(os.path.dirname(self.out), ignore_errors=True)


def summary(out, result, replicas=1):
    """The JSON line a `train` command ends with: where the model went, how many replicas
    trained it, epochs, the best dev metrics."""
    return {
        "out": str(out),
        "replicas": replicas,
        "epochs": result["epochs"],
        "best_epoch": result["best_epoch"],
        "best_averaged": result.get("best_averaged"),
        "dev": {k: v for k, v in (result["best"] or {}).items() if k != "value"},
    }


class _EpochEnd(keras.callbacks.Callback):
    """Dev metrics, best weights, checkpoint and early stopping after every epoch."""

    def __init__(self, run, state, evaluate, monitor, mode, patience, lr_decay=None, average=None):
        super().__init__()
        self.run, self.state = run, state
        self.evaluate, self.monitor, self.mode, self.patience = evaluate, monitor, mode, patience
        self.lr_decay = lr_decay
        self.average = average if average and average > 1 else None
        self.window = self._load_window()
        self.started = None

    def _load_window(self):
        """The last epochs' trainable weights (for `average`), as `--resume` left them."""
        path = os.path.join(self.run.work, WINDOW)
        if not self.average or not os.path.exists(path):
            return []
        with np.load(path) as saved:
            epochs, count = int(saved["epochs"]), int(saved["count"])
            return [[saved[f"{e}_{i}"] for i in range(count)] for e in range(epochs)]

    def _save_window(self):
        arrays = {f"{e}_{i}": w for e, ws in enumerate(self.window) for i, w in enumerate(ws)}
        tmp = os.path.join(self.run.work, f"tmp{os.getpid()}.npz")
        np.savez(tmp, epochs=len(self.window), count=len(self.window[0]), **arrays)
        os.replace(tmp, os.path.join(self.run.work, WINDOW))

    def _try_average(self, epoch, record, better):
        """Evaluates the mean of the window's weights; True when it is the new best."""
        variables = self.model.trainable_variables
        current = [v.numpy() for v in variables]
        self.window = (self.window + [current])[-self.average :]
        self._save_window()
        if len(self.window) < 2:
            return False
        for variable, *values in zip(variables, *self.window):
            variable.assign(np.mean(values, axis=0))
        if not self.evaluate:  # no dev data to compare with: the mean is the model
            self.state["best_epoch"] = epoch + 1
            self.state["best_averaged"] = [epoch + 2 - len(self.window), epoch + 1]
            self.model.save_weights(os.path.join(self.run.work, BEST))
            for variable, value in zip(variables, current):
                variable.assign(value)
            return False
        dev = self.evaluate(self.model)
        record.update({f"dev_avg_{k}": v for k, v in dev.items() if isinstance(v, (int, float))})
        value = dev[self.monitor] if self.monitor else None
        improved = value is not None and better(value)
        if improved:
            first = epoch + 2 - len(self.window)
            self.state["best"] = {"value": value, **dev}
            self.state["best_epoch"] = epoch + 1
            self.state["best_averaged"] = [first, epoch + 1]
            self.model.save_weights(os.path.join(self.run.work, BEST))
        for variable, value in zip(variables, current):
            variable.assign(value)
        return improved

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self.started
        record = {"epoch": epoch + 1, "loss": float((logs or {}).get("loss", math.nan))}
        dev = self.evaluate(self.model) if self.evaluate else {}
        record.update({f"dev_{k}": v for k, v in dev.items() if isinstance(v, (int, float))})
        record["seconds"] = round(seconds, 1)
        if self.monitor:
            value, sign = dev[self.monitor], (1 if self.mode == "max" else -1)
        else:
            value, sign = record["loss"], -1

        def better(candidate):
            best = self.state["best"]
            return best is None or sign * candidate > sign * best["value"]

        improved = better(value)
        if improved:
            self.state["best"] = {"value": value, **dev}
            self.state["best_epoch"] = epoch + 1
            self.state["best_averaged"] = None
            self.model.save_weights(os.path.join(self.run.work, BEST))
        averaged = self.average is not None and self._try_average(epoch, record, better)
        improved = improved or averaged
        decayed = ""
        if self.lr_decay and not improved:
            rate = learning_rate(self.model.optimizer) * self.lr_decay
            self.model.optimizer.learning_rate = rate
            decayed = f"  learning rate {rate:.3g}"
        record["learning_rate"] = learning_rate(self.model.optimizer)  # for what follows
        self.state["epoch"] = epoch + 1
        self.state["history"].append(record)
        waited = epoch + 1 - self.state["best_epoch"]
        if self.patience is not None and waited >= self.patience:
            self.state["stopped"] = True
            self.model.stop_training = True
        tmp = os.path.join(self.run.work, f"tmp{os.getpid()}.keras")
        self.model.save(tmp)
        os.replace(tmp, os.path.join(self.run.work, CHECKPOINT))
        write_json(os.path.join(self.run.work, STATE), self.state)
        name = self.monitor or "loss"
        shown = " ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in dev.items()
            if isinstance(v, (int, float))
        )
        if f"dev_avg_{name}" in record:
            window = self.state["best_averaged"] if averaged else None
            shown += f" (average of the last {len(self.window)}: {name} "
            shown += f"{record[f'dev_avg_{name}']:.4f})"
            name = f"{name}, averaged over epochs {window[0]}-{window[1]}" if window else name
        if not self.evaluate and self.average and len(self.window) > 1:
            first, last = self.state["best_averaged"]
            shown = f"model: the mean of epochs {first}-{last}"
        self.run.log(
            f"epoch {epoch + 1}: loss {record['loss']:.4f}{' dev ' + shown if dev else ''}"
            f"{'  ' + shown if shown and not dev else ''}"
            f" ({seconds:.0f} s){'  best ' + name if improved else ''}"
            f"{decayed}{'  early stop' if self.state.get('stopped') else ''}"
        )


def learning_rate(optimizer):
    """The optimizer's learning rate as a float; under a `tf.distribute` strategy it is a
    distributed variable, which `float()` cannot read."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def plot_history(history, path):
    """Training loss and dev metrics per epoch as a PNG (matplotlib, no display needed)."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    dev_keys = [k for k in history[-1] if k.startswith("dev_")]
    fig, axes = plt.subplots(1, 2 if dev_keys else 1, figsize=(10 if dev_keys else 5, 3.5))
    axes = axes if dev_keys else [axes]
    axes[0].plot(epochs, [h["loss"] for h in history], marker="o")
    axes[0].set(title="training loss", xlabel="epoch")
    for key in dev_keys:
        axes[1].plot(epochs, [h.get(key, math.nan) for h in history], marker="o", label=key[4:])
    if dev_keys:
        axes[1].set(title="dev", xlabel="epoch")
        axes[1].legend()
    fig.tight_layout()
    tmp = f"{path}.tmp{os.getpid()}.png"
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
