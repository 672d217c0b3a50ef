"""Issue 7 experiment: both directions of a bidirectional LSTM in one fused XLA loop (a
batched matmul over a direction axis) against the two separate loops zoo.layers.Bidirectional
runs; checks the two agree, then times a training step of the layer alone (batch 32).

    python benchmarks/experiments/paired_directions.py
"""

import os
import statistics
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
import zoo.layers.cell as cellmod
from zoo.layers import LSTM, Bidirectional, scan

orig = cellmod._outer_sum


def outer(rows, dz):
    if rows.shape.rank == 4:
        n, m = rows.shape[-1], dz.shape[-1]
        d = tf.shape(rows)[1]
        r = tf.reshape(tf.transpose(rows, (1, 0, 2, 3)), (d, -1, n))
        z = tf.reshape(tf.transpose(dz, (1, 0, 2, 3)), (d, -1, m))
        return tf.matmul(r, z, transpose_a=True)
    return orig(rows, dz)


cellmod._outer_sum = outer
B, T, F, U = 32, 40, 100, 200
x = tf.random.normal((B, T, F))
bi = Bidirectional(LSTM(U, return_sequences=True, kernel=False))  # the loops, not zoo.kernels
bi.build((None, T, F))
fl, bl = bi.forward_layer, bi.backward_layer


def paired(v):
    xt = tf.transpose(v, (1, 0, 2))
    proj = tf.stack(
        [fl.cell.input_projection(xt), bl.cell.input_projection(xt[::-1])], 1
    )  # (T,2,B,4U)
    params = (tf.stack([fl.cell.recurrent_params()[0], bl.cell.recurrent_params()[0]]),)
    init = (tf.zeros((2, B, U)), tf.zeros((2, B, U)))
    a, _, _ = scan.fused_loop(fl.cell, proj, init, params, jit=True)
    out = tf.concat([a[:, 0], a[::-1, 1]], -1)
    return tf.transpose(out, (1, 0, 2))


@tf.function
def train_sep(v):
    with tf.GradientTape() as tape:
        out = bi(v, training=True)
        loss = tf.reduce_sum(out * out)
    return tape.gradient(loss, bi.trainable_weights)


@tf.function
def train_pair(v):
    with tf.GradientTape() as tape:
        out = paired(v)
        loss = tf.reduce_sum(out * out)
    return tape.gradient(loss, bi.trainable_weights)


a = tf.function(lambda v: bi(v, training=True))(x)
b = tf.function(paired)(x)
print("max diff", float(tf.reduce_max(tf.abs(a - b))))
ga, gb = train_sep(x), train_pair(x)
print("grad diff", max(float(tf.reduce_max(tf.abs(p - q))) for p, q in zip(ga, gb)))
cases = {"separate": lambda: train_sep(x), "paired": lambda: train_pair(x)}
res = {k: [] for k in cases}
for r in range(9):
    for k, c in cases.items() if r % 2 else reversed(cases.items()):
        t = time.perf_counter()
        for _ in range(10):
            out = c()
        out[0].numpy()
        res[k].append((time.perf_counter() - t) / 10 * 1e3)
for k, v in res.items():
    print(f"{k:10s} {statistics.median(v):.2f} ms  {[round(a, 1) for a in v]}")
