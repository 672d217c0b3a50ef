"""The shared training loop: checkpoints, resume, early stopping, atomic model folders."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.errors import DataError
from pipelines.training import (
    FineTuning,
    LayerwiseAdam,
    TrainingRun,
    layerwise_adam,
    plot_history,
    write_json,
)


@keras.saving.register_keras_serializable(package="tests")
class Tiny(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1)

    def build(self, input_shape=None):
        self.dense.build((None, 2))
        self.built = True

    def call(self, x):
        return self.dense(x)


def arrays():
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0]], "float32")


def data():
    return tf.data.Dataset.from_tensor_slices(arrays()).batch(16)


def new_model():
    model = Tiny()
    model.build()
    model.compile(keras.optimizers.Adam(0.1), loss="mse")
    return model


def test_fit_and_finish_write_the_folder_atomically(tmp_path):
    out = tmp_path / "model"
    run = TrainingRun(out, log=lambda m: None)
    assert os.path.isdir(run.assets) and not out.exists()
    (tmp_path / "model.partial" / "assets" / "vocab.txt").write_text("a\n")
    model = new_model()
    result = run.fit(model, data(), epochs=3, verbose=0)
    assert result["epochs"] == 3 and len(result["history"]) == 3
    assert not out.exists()  # nothing at the final name until finish
    run.finish(model, card={"task": "test"})
    assert sorted(os.listdir(out)) == [
        "card.json",
        "history.json",
        "history.png",
        "model.keras",
        "vocab.txt",
    ]
    assert not (tmp_path / "model.partial").exists()
    loaded = keras.saving.load_model(out / "model.keras")
    assert getattr(loaded, "optimizer", None) is None  # shipped without optimizer state
    np.testing.assert_allclose(loaded(arrays()[0]), model(arrays()[0]), rtol=1e-6)


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    scores = iter([0.5, 0.9, 0.7, 0.6, 0.8])
    run = TrainingRun(tmp_path / "m", log=lambda m: None)
    model = new_model()
    weights = {}

    def evaluate(m):
        score = next(scores)
        weights[score] = [w.copy() for w in m.get_weights()]
        return {"f1": score}

    result = run.fit(
        model, data(), epochs=5, evaluate=evaluate, monitor="f1", patience=2, verbose=0
    )
    assert result["epochs"] == 4 and result["best_epoch"] == 2 and result["best"]["f1"] == 0.9
    for got, want in zip(model.get_weights(), weights[0.9]):
        np.testing.assert_array_equal(got, want)


def test_lr_decay_on_plateau_survives_resume(tmp_path):
    scores = iter([0.5, 0.9, 0.7, 0.95, 0.6])

    def rates(run, model, epochs):
        result = run.fit(
            model,
            data(),
            epochs=epochs,
            evaluate=lambda m: {"f1": next(scores)},
            monitor="f1",
            lr_decay=0.5,
            verbose=0,
        )
        return [h["learning_rate"] for h in result["history"]]

    run = TrainingRun(tmp_path / "m", log=lambda m: None)
    # epoch 3 was worse: the rate the next epoch starts with is halved
    np.testing.assert_allclose(rates(run, new_model(), 3), [0.1, 0.1, 0.05], rtol=1e-6)
    resumed = TrainingRun(tmp_path / "m", resume=True, log=lambda m: None)
    np.testing.assert_allclose(
        rates(resumed, resumed.load_checkpoint(), 5), [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-6
    )


def test_resume_starts_after_the_last_completed_epoch(tmp_path):
    out = tmp_path / "m"
    messages = []
    run = TrainingRun(out, log=messages.append)
    model = new_model()
    with pytest.raises(KeyboardInterrupt):
        run.fit(
            model,
            data(),
            epochs=4,
            evaluate=_interrupt_after(2),
            monitor="loss",
            mode="min",
            verbose=0,
        )
    state = json.loads((tmp_path / "m.partial" / "state.json").read_text())
    assert state["epoch"] == 2
    resumed = TrainingRun(out, resume=True, log=messages.append)
    assert resumed.resumed
    model = resumed.load_checkpoint()
    assert int(model.optimizer.iterations.numpy()) > 0  # optimizer state came back too
    result = resumed.fit(model, data(), epochs=4, verbose=0)
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3, 4]
    assert any("Resuming from epoch 2" in m for m in messages)


def _interrupt_after(epochs):
    calls = []

    def evaluate(model):
        calls.append(1)
        if len(calls) > epochs:
            raise KeyboardInterrupt
        return {"loss": 1.0 / len(calls)}

    return evaluate


def test_resume_without_a_checkpoint_starts_afresh(tmp_path):
    messages = []
    run = TrainingRun(tmp_path / "m", resume=True, log=messages.append)
    assert not run.resumed and "starting from epoch 1" in messages[0]


def test_resume_of_a_finished_run_refuses_rather_than_retrain_it(tmp_path):
    run = TrainingRun(tmp_path / "m", log=lambda m: None)
    model = new_model()
    run.fit(model, data(), epochs=1, verbose=0)
    run.finish(model)
    before = (tmp_path / "m" / "model.keras").read_bytes()
    with pytest.raises(DataError, match="a finished run.*--init"):
        TrainingRun(tmp_path / "m", resume=True, log=lambda m: None)
    assert (tmp_path / "m" / "model.keras").read_bytes() == before
    assert not (tmp_path / "m.partial").exists()
    assert not TrainingRun(tmp_path / "m", log=lambda m: None).resumed  # without --resume: anew


def test_write_json_and_plot(tmp_path):
    write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    plot_history(
        [{"epoch": 1, "loss": 2.0, "dev_f1": 0.5}, {"epoch": 2, "loss": 1.0, "dev_f1": 0.6}],
        tmp_path / "h.png",
    )
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_layerwise_adam_scales_and_freezes_groups(tmp_path):
    inputs = keras.Input((3,), name="x")
    low = keras.layers.Dense(4, name="low")
    mid = keras.layers.Dense(4, name="mid")
    top = keras.layers.Dense(1, name="top")
    model = keras.Model(inputs, top(mid(low(inputs))))
    groups = [low.trainable_weights, mid.trainable_weights, top.trainable_weights]
    model.compile(layerwise_adam(groups, 0.01), loss="mse")
    tuning = FineTuning(decay=2.0, gradual=True)
    assert tuning.rates(0, 3) == [0.0, 0.0, 1.0]  # epoch 1: the head only
    assert tuning.rates(1, 3) == [0.0, 0.5, 1.0]
    assert tuning.rates(5, 3) == [0.25, 0.5, 1.0]
    assert FineTuning(2.0, gradual=False).rates(0, 3) == [0.25, 0.5, 1.0]
    model.optimizer.build(model.trainable_variables)
    model.optimizer.group_rates.assign([0.0, 0.5, 1.0])
    before = [v.numpy().copy() for v in model.trainable_weights]
    x, y = np.ones((8, 3), "float32"), np.full((8, 1), 5.0, "float32")
    model.train_on_batch(x, y)
    steps = [np.abs(v.numpy() - b).max() for v, b in zip(model.trainable_weights, before)]
    # Adam's first step moves each weight by about the learning rate times its factor
    assert steps[0] == 0 and steps[1] == 0  # frozen
    assert steps[2] == pytest.approx(0.005, rel=0.01) and steps[4] == pytest.approx(0.01, rel=0.01)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, LayerwiseAdam)
    assert loaded.optimizer.groups == model.optimizer.groups
    np.testing.assert_allclose(loaded.optimizer.group_rates.numpy(), [0.0, 0.5, 1.0])


def test_checkpoint_averaging_is_kept_when_best_and_survives_resume(tmp_path):
    """--average 2: after each epoch from the second, the mean of the last two epochs' weights
    is evaluated too, and kept as the model when it is the best."""
    scores = iter([0.5, 0.6, 0.7, 0.65, 0.8])  # e1; e2, mean(1, 2); e3, mean(2, 3)
    seen = []

    def evaluate(m):
        seen.append([v.numpy().copy() for v in m.trainable_variables])
        return {"f1": next(scores)}

    def fit(run, model, epochs):
        return run.fit(model, data(), epochs, evaluate=evaluate, monitor="f1", average=2, verbose=0)

    run = TrainingRun(tmp_path / "m", log=lambda m: None)
    result = fit(run, new_model(), 2)
    assert result["best_averaged"] == [1, 2] and result["best"]["f1"] == 0.7
    for got, first, second in zip(best_weights(tmp_path), seen[0], seen[1]):
        np.testing.assert_allclose(got, (first + second) / 2, rtol=1e-6)
    resumed = TrainingRun(tmp_path / "m", resume=True, log=lambda m: None)
    model = resumed.load_checkpoint()
    result = fit(resumed, model, 3)  # the window (epoch 2's weights) came back from disk
    assert result["best_averaged"] == [2, 3] and result["best_epoch"] == 3
    assert [h.get("dev_avg_f1") for h in result["history"]] == [None, 0.7, 0.8]
    for got, second, third in zip(model.trainable_variables, seen[1], seen[3]):
        np.testing.assert_allclose(got.numpy(), (second + third) / 2, rtol=1e-6)
    # training went on from epoch 2's own weights, not from the average
    assert not np.allclose(seen[3][0], (seen[0][0] + seen[1][0]) / 2)


def test_without_dev_data_the_model_is_the_mean_of_the_last_epochs(tmp_path):
    """--average 2 and nothing to evaluate on: the model written is the mean of the last two
    epochs' weights, across a resume too."""
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([v.numpy().copy() for v in self.model.trainable_variables])

    messages = []
    run = TrainingRun(tmp_path / "m", log=messages.append)
    result = run.fit(new_model(), data(), 2, average=2, callbacks=[Record()], verbose=0)
    assert result["best_averaged"] == [1, 2] and result["best_epoch"] == 2
    assert "model: the mean of epochs 1-2" in messages[-1]
    for got, first, second in zip(best_weights(tmp_path), seen[0], seen[1]):
        np.testing.assert_allclose(got, (first + second) / 2, rtol=1e-6)
    resumed = TrainingRun(tmp_path / "m", resume=True, log=lambda m: None)
    model = resumed.load_checkpoint()
    result = resumed.fit(model, data(), 3, average=2, callbacks=[Record()], verbose=0)
    assert result["best_averaged"] == [2, 3]
    for got, second, third in zip(model.trainable_variables, seen[1], seen[2]):
        np.testing.assert_allclose(got.numpy(), (second + third) / 2, rtol=1e-6)


def best_weights(tmp_path):
    model = new_model()
    model.load_weights(tmp_path / "m.partial" / "best.weights.h5")
    return [v.numpy() for v in model.trainable_variables]
