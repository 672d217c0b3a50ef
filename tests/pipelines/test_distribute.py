"""tf.distribute under the zoo: the mirrored strategy on two logical CPU devices trains exactly as
one device on the same global batch (Keras's fit and our own step for strategies fit cannot
serve); a two-process multi-worker run on 127.0.0.1 (slow)."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from pipelines import distribute

SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    from pipelines import distribute
    from pipelines.training import TrainingRun
    from zoo.models import LanguageModel, SentimentClassifier

    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, (16, 6)).astype("int32")
    tasks = {
        "lm": (lambda: LanguageModel(20, embedding_dim=4, units=8, depth=1, dropout=0.0),
               np.roll(x, -1, axis=1), None),
        "sentiment": (lambda: SentimentClassifier(20, 2, embedding_dim=4, units=8, dropout=0.0),
                      (x[:, 0] > 10).astype("int32"),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
    }

    def train(name, strategy, own_step, tmp):
        make, y, loss = tasks[name]
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = make()
            model.build()
            model.compile(keras.optimizers.SGD(0.5), loss=loss)
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        if own_step:
            run = TrainingRun(tmp)
            run.strategy = strategy
            losses = []
            class Record(keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    losses.append(logs["loss"])
            run._fit_under_strategy(model, data, 2, 0, [Record()])
        else:
            losses = model.fit(data, epochs=2, verbose=0).history["loss"]
        return losses, [w.numpy() for w in model.weights]

    out = {}
    one, two = distribute.make_strategy("default"), distribute.make_strategy("mirrored")
    out["replicas"] = two.num_replicas_in_sync
    for name in tasks:
        for own_step in (False, True):
            a, wa = train(name, one, False, "/tmp/zoo-distribute-test-a")
            b, wb = train(name, two, own_step, "/tmp/zoo-distribute-test-b")
            out[f"{name}-{own_step}"] = {
                "losses": [a, b],
                "weights": max(float(np.abs(p - q).max()) for p, q in zip(wa, wb)),
            }
    print(json.dumps(out))
    """
)


def test_mirrored_on_two_cpus_equals_one_device():
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=dict(os.environ)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out.pop("replicas") == 2
    for name, result in out.items():
        one, two = result["losses"]
        assert two == pytest.approx(one, rel=1e-4), name
        assert result["weights"] < 1e-4, name


def test_a_task_trains_under_mirrored_with_a_dev_set(tmp_path):
    """The path that once crashed at the end of the first epoch: a task's own `train`, through
    the Python API, under the mirrored strategy on two CPU replicas with a dev set (dev
    metrics, the learning-rate record and decay read a distributed variable) and a last batch
    of one example (one replica gets no rows: the layers run their loops for it)."""
    from tests.pipelines.test_sentiment_cli import write_csv

    train = write_csv(tmp_path / "train.csv", 41, 0)
    dev = write_csv(tmp_path / "dev.csv", 20, 1)
    script = textwrap.dedent(
        f"""
        import json
        from pipelines import sentiment
        classifier = sentiment.train(
            {train!r}, dev={dev!r}, out={str(tmp_path / "out")!r}, epochs=2, units=8,
            min_count=1, batch_size=8, lr_decay=0.5, strategy="mirrored", cpu_replicas=2)
        print(json.dumps(classifier.summary))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["replicas"] == 2 and summary["epochs"] == 2
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert [type(h["learning_rate"]) for h in history] == [float, float]
    assert (tmp_path / "out" / "model.keras").exists()


def test_chief_is_the_first_worker_unless_a_chief_is_named(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    for index, chief in ((0, True), (1, False)):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
        assert distribute.is_chief() is chief
    config = {"cluster": {**cluster, "chief": ["127.0.0.1:3"]}, "task": {"type": "worker"}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert not distribute.is_chief()
    monkeypatch.delenv("TF_CONFIG")
    assert distribute.is_chief()


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost(tmp_path):
    from tests.pipelines.test_sentiment_cli import write_csv

    train = write_csv(tmp_path / "train.csv", 200, 0)
    dev = write_csv(tmp_path / "dev.csv", 60, 1)
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        command = [sys.executable, "-m", "pipelines.sentiment", "train", "--train", train]
        command += ["--dev", dev, "--epochs", "2", "--units", "8", "--min-count", "1"]
        command += ["--strategy", "multi_worker", "--out", str(tmp_path / f"out{index}")]
        env = dict(os.environ, TF_CONFIG=json.dumps(config))
        processes.append(
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        )
    results = [p.communicate(timeout=900) for p in processes]
    for process, (stdout, stderr) in zip(processes, results):
        assert process.returncode == 0, stderr.decode()[-3000:]
        assert json.loads(stdout.decode().strip().splitlines()[-1])["replicas"] == 2
    assert (tmp_path / "out0" / "model.keras").exists()
    assert not (tmp_path / "out1").exists()  # only the chief writes the model
