"""Issue 7 experiment: bidirectional zoo LSTM inference (batch 256, layer alone) through the
plain loop (the default for inference) and through the XLA-compiled fused forward loop (what
training runs; reached here by calling the layer with training=True), beside torch.nn.LSTM.

    python benchmarks/experiments/xla_inference.py
"""

import os
import statistics
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
import torch

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
torch.set_num_threads(2)
from zoo.layers import LSTM, Bidirectional

B, T, F, U = 256, 40, 100, 200
x = tf.random.normal((B, T, F))
bi = Bidirectional(LSTM(U, return_sequences=True, kernel=False))  # the loops, not zoo.kernels
bi.build((None, T, F))
f_plain = tf.function(lambda v: bi(v, training=False))
f_xla = tf.function(lambda v: bi(v, training=True))
lstm = torch.nn.LSTM(F, U, bidirectional=True, batch_first=True)
xt = torch.from_numpy(x.numpy())


def tinf():
    with torch.inference_mode():
        return lstm(xt)[0]


cases = {
    "zoo plain": lambda: f_plain(x).numpy(),
    "zoo fused xla fwd": lambda: f_xla(x).numpy(),
    "torch": tinf,
}
for c in cases.values():
    c()
res = {k: [] for k in cases}
for r in range(9):
    for k, c in cases.items() if r % 2 else reversed(cases.items()):
        t = time.perf_counter()
        c()
        c()
        res[k].append(2 * B * T / (time.perf_counter() - t))
for k, v in res.items():
    print(f"{k:20s} {statistics.median(v):>10,.0f} tok/s")
