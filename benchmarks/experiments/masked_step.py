"""Issue 7 experiment: a masked BiLSTM-200 training step, the path the task models take.

    python benchmarks/experiments/masked_step.py [DROPOUT]

`Embedding(1000, 100, mask_zero=True)` -> `zoo.layers.Bidirectional(LSTM(200,
return_sequences=True, dropout=DROPOUT))` -> `Dense(9)`, trained with `train_on_batch` on 30
batches of 32 right-padded sequences of 10-40 tokens, 2 threads; prints the median (and every
round) of 5 rounds in ms per step. The README's figures for the masked two-direction op: this
script at commit 3625e65 (two one-direction ops) and at 5a9b06a (one op), alternated 3 times
each with DROPOUT 0.3 (`git worktree add` for the old commit, `PYTHONPATH` set to each tree).
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from zoo import layers as zl  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
dropout = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
print(zl.__file__)
rng = np.random.default_rng(0)
B, T = 32, 40
batches = []
for lengths in rng.integers(10, T + 1, size=(30, B)):
    ids = rng.integers(1, 1000, size=(B, T))
    ids[np.arange(T)[None] >= lengths[:, None]] = 0
    batches.append((tf.constant(ids), tf.constant(rng.integers(0, 9, size=(B, T)))))
inputs = keras.Input((None,), dtype="int32")
h = keras.layers.Embedding(1000, 100, mask_zero=True)(inputs)
h = zl.Bidirectional(zl.LSTM(200, return_sequences=True, dropout=dropout))(h)
model = keras.Model(inputs, keras.layers.Dense(9)(h))
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
for x, y in batches[:3]:
    model.train_on_batch(x, y)
rounds = []
for _ in range(5):
    start = time.perf_counter()
    for x, y in batches:
        model.train_on_batch(x, y)
    rounds.append((time.perf_counter() - start) / len(batches) * 1000)
print("ms/step", round(statistics.median(rounds), 2), [round(t, 1) for t in rounds])
