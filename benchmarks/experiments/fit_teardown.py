"""Issue 7 experiment: where Keras's fit/predict on NumPy arrays spend the time beside the batches.

    python benchmarks/experiments/fit_teardown.py zoo|keras|dense [--rounds 10] [--examples 960]

The benchmark's tagger over (batch, 40, 100) inputs (a zoo or a Keras BiLSTM-200, or one
`Dense(400)` in its place), each round one `fit` on 960 examples (30 batches of 32; `--examples`
sets how many) and one `predict` on 4,096 (16 batches of 256), first through Keras's own array
adapter as it is (`adapter`), then with tf.data's autotuning turned off in the dataset that
adapter builds (`no-autotune`). A callback stamps each batch, so every call splits into setup
(the call's start to its first batch), the batches, and teardown (`on_train_end` /
`on_predict_end` to the call's return). Teardown is where a call waits, when it waits, on the
input pipeline's iterator being torn down; the waits end near 10 * (2**k - 1) ms after the
pipeline started, as the autotuner's optimisation period (10 ms, doubling) would make them.
2 threads; ms per call.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras.src.trainers.data_adapters import array_data_adapter  # noqa: E402
from tagger import KINDS, model_of  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
parser = argparse.ArgumentParser()
parser.add_argument("kind", choices=KINDS)
parser.add_argument("--rounds", type=int, default=10)
parser.add_argument("--examples", type=int, default=960)
args = parser.parse_args()
kind = args.kind
rng = np.random.default_rng(0)
x = rng.normal(size=(args.examples, 40, 100)).astype("float32")
y = rng.integers(0, 9, size=(args.examples, 40)).astype("int32")
x_infer = rng.normal(size=(4096, 40, 100)).astype("float32")

model = model_of(kind)

keras_dataset = array_data_adapter.ArrayDataAdapter.get_tf_dataset


def without_autotune(adapter):
    options = tf.data.Options()
    options.autotune.enabled = False
    return keras_dataset(adapter).with_options(options)


class Stamps(keras.callbacks.Callback):
    """Times of each batch's start and end and of the call's end."""

    def reset(self):
        self.starts, self.ends, self.last = [], [], None

    def on_train_batch_begin(self, batch, logs=None):
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())

    def on_train_end(self, logs=None):
        self.last = time.perf_counter()

    on_predict_batch_begin = on_train_batch_begin
    on_predict_batch_end = on_train_batch_end
    on_predict_end = on_train_end


stamps = Stamps()
calls = {
    "fit": lambda: model.fit(x, y, batch_size=32, shuffle=False, verbose=0, callbacks=[stamps]),
    "predict": lambda: model.predict(x_infer, batch_size=256, verbose=0, callbacks=[stamps]),
}
for call in calls.values():  # trace and warm up
    stamps.reset()
    call()
results = {}
for _ in range(args.rounds):
    for pipeline in ("adapter", "no-autotune"):
        array_data_adapter.ArrayDataAdapter.get_tf_dataset = (
            keras_dataset if pipeline == "adapter" else without_autotune
        )
        for name, call in calls.items():
            stamps.reset()
            start = time.perf_counter()
            call()
            end = time.perf_counter()
            batches = sum(b - a for a, b in zip(stamps.starts, stamps.ends))
            split = (end - start, stamps.starts[0] - start, batches, end - stamps.last)
            results.setdefault((name, pipeline), []).append([1000 * s for s in split])
array_data_adapter.ArrayDataAdapter.get_tf_dataset = keras_dataset
for (name, pipeline), rows in results.items():
    total, setup, batches, teardown = zip(*rows)
    waits = [(round(w), round(t)) for w, t in zip(teardown, total) if w > 20]
    print(
        f"{kind} {name:7} {pipeline:11} total {statistics.median(total):6.0f} "
        f"(min {min(total):.0f}, max {max(total):.0f}); setup {statistics.median(setup):3.0f}; "
        f"batches {statistics.median(batches):5.0f}; waits over 20 ms in {len(waits)}/{len(rows)} "
        f"calls (wait, call's total): {sorted(waits)}"
    )
