"""Issue 7 experiment: what Keras's fit/predict add per batch, beside train/predict_on_batch.

    python benchmarks/experiments/fit_overhead.py zoo,keras,dense [ROUNDS]

The benchmark's tagger over (batch, 40, 100) inputs with a zoo or a Keras BiLSTM-200, or a
single `Dense(400)` in its place (`dense`: Keras's own cost with almost no model), each timed
through `train_on_batch` (30 batches of 32 made once as tensors), `fit` on the same NumPy
arrays, `fit` on a `tf.data.Dataset` of those batches cached in memory (`fit_dataset`),
`predict_on_batch` (16 batches of 256), `predict` on the arrays, and `predict` on a cached
dataset (`predict_dataset`); 2 threads, ms per batch, median and every round.
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tagger import model_of  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
rng = np.random.default_rng(0)
x = rng.normal(size=(960, 40, 100)).astype("float32")
y = rng.integers(0, 9, size=(960, 40)).astype("int32")
x_infer = rng.normal(size=(4096, 40, 100)).astype("float32")


train_batches = [
    (tf.constant(x[i : i + 32]), tf.constant(y[i : i + 32])) for i in range(0, 960, 32)
]
infer_batches = [tf.constant(x_infer[i : i + 256]) for i in range(0, 4096, 256)]
train_dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).cache()
infer_dataset = tf.data.Dataset.from_tensor_slices(x_infer).batch(256).cache()
for dataset in (train_dataset, infer_dataset):
    for _ in dataset:  # fill the cache
        pass
ways = {
    "on_batch_train": lambda m: [m.train_on_batch(a, b) for a, b in train_batches],
    "fit": lambda m: m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0),
    "fit_dataset": lambda m: m.fit(train_dataset, epochs=1, shuffle=False, verbose=0),
    "on_batch_infer": lambda m: [m.predict_on_batch(a) for a in infer_batches],
    "predict": lambda m: m.predict(x_infer, batch_size=256, verbose=0),
    "predict_dataset": lambda m: m.predict(infer_dataset, verbose=0),
}
models = {kind: model_of(kind) for kind in sys.argv[1].split(",")}
for model in models.values():
    for way in ways.values():
        way(model)  # trace and warm up
times = {(kind, name): [] for kind in models for name in ways}
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 3):
    for kind, model in models.items():
        for name, way in ways.items():
            start = time.perf_counter()
            way(model)
            times[(kind, name)].append(time.perf_counter() - start)
for (kind, name), seconds in times.items():
    training = name in ("on_batch_train", "fit", "fit_dataset")
    count = len(train_batches) if training else len(infer_batches)
    per = [1000 * s / count for s in seconds]
    rounds = [round(p, 1) for p in per]
    print(f"{kind:6} {name:15} {statistics.median(per):7.2f} ms/batch  rounds {rounds}")
