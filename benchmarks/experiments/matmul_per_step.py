"""Issue 7 experiment: the per-step recurrent matmul alone (h @ W, 40 steps) in TensorFlow,
XLA and torch, at batch 32 and 256, with 2 threads (edit the thread counts to try 1).

    python benchmarks/experiments/matmul_per_step.py
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
for B in (32, 256):
    W = tf.random.normal((200, 800)) * 0.05
    h0 = tf.random.normal((B, 200))

    def body(t, h):
        z = tf.matmul(h, W)
        return t + 1, z[:, :200] * 0.5

    f = lambda h: tf.while_loop(lambda t, h: t < 40, body, (0, h))[1]
    fx = tf.function(f, jit_compile=True)
    fn = tf.function(f)
    Wt = torch.from_numpy(W.numpy())
    ht = torch.from_numpy(h0.numpy())

    def tt():
        h = ht
        for _ in range(40):
            h = (h @ Wt)[:, :200] * 0.5
        return h

    cases = {"xla": lambda: fx(h0).numpy(), "tf": lambda: fn(h0).numpy(), "torch": tt}
    for c in cases.values():
        c()
    res = {k: [] for k in cases}
    for r in range(9):
        for k, c in cases.items():
            t = time.perf_counter()
            c()
            res[k].append((time.perf_counter() - t) / 40 * 1e6)
    for k, v in res.items():
        us = statistics.median(v)
        print(B, k, f"{us:.0f} us/step ({2 * B * 200 * 800 / us / 1e3:.0f} GFLOPS)", flush=True)
