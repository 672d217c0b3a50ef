"""Issue 7 experiment: profile 10 training steps (batch 32) or predict steps (batch 256) of the
zoo BiLSTM-200 tagger with the TensorFlow profiler, then list the ops by time per step.

    python benchmarks/experiments/profile_step.py train|infer [kernel|loops] [LOGDIR]

`kernel` (the default) profiles the layers as they run by default (`zoo.kernels`' op), `loops`
the zoo's XLA loops (`kernel=False`).
"""

import collections
import glob
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
import numpy as np
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from zoo import layers as zl

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
mode = sys.argv[1] if len(sys.argv) > 1 else "train"
path = sys.argv[2] if len(sys.argv) > 2 else "kernel"
logdir = sys.argv[3] if len(sys.argv) > 3 else f"/tmp/zoo-profile-{mode}-{path}"
rng = np.random.default_rng(0)
B, STEPS = (32 if mode == "train" else 256), 10
x = tf.constant(rng.normal(size=(B, 40, 100)).astype("float32"))
y = tf.constant(rng.integers(0, 9, (B, 40)))
inputs = keras.Input((40, 100))
bi = zl.Bidirectional(zl.LSTM(200, return_sequences=True, kernel=path == "kernel"))
model = keras.Model(inputs, keras.layers.Dense(9)(bi(inputs)))
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
step = (
    (lambda: model.train_on_batch(x, y)) if mode == "train" else (lambda: model.predict_on_batch(x))
)
for _ in range(5):
    step()
tf.profiler.experimental.start(logdir)
for _ in range(STEPS):
    step()
tf.profiler.experimental.stop()

space = xplane_pb2.XSpace()
newest = max(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True), key=os.path.getmtime)
with open(newest, "rb") as handle:
    space.ParseFromString(handle.read())
for plane in space.planes:
    total, count = collections.Counter(), collections.Counter()
    for line in plane.lines:
        for event in line.events:
            key = (line.name[:25], plane.event_metadata[event.metadata_id].name[:110])
            total[key] += event.duration_ps / 1e9
            count[key] += 1
    for (line, name), ms in total.most_common(40):
        print(f"{ms / STEPS:9.2f} ms/step {count[(line, name)] / STEPS:7.1f}x  [{line}] {name}")
