"""Issue 7 experiment: the LSTM inference step (batch 256, 40 steps) with tf.split of the
(batch, 4 units) pre-activations against gate-major layouts (a batched matmul giving
(4, batch, units)) and a transpose. Timings only (the variants order the gates differently).

    python benchmarks/experiments/gate_major.py
"""

import os
import statistics
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
B, U, F = 256, 200, 100
W = tf.random.normal((U, 4 * U)) * 0.05
Wx = tf.random.normal((F, 4 * U)) * 0.05
b = tf.zeros(4 * U)
W4 = tf.stack(tf.split(W, 4, 1))
Wx4 = tf.stack(tf.split(Wx, 4, 1))
b4 = tf.reshape(b, (4, 1, U))
WW4 = tf.concat([Wx4, W4], 1)  # (4, F+U, U)
x = tf.random.normal((40, B, F))
h0 = tf.zeros((B, U))


def loop(step):
    def body(t, h, c):
        h, c = step(x[t], h, c)
        return t + 1, h, c

    return tf.while_loop(lambda t, h, c: t < 40, body, (0, h0, h0), parallel_iterations=32)[1]


def split_step(xt, h, c):
    z = tf.nn.bias_add(tf.matmul(xt, Wx), b) + tf.matmul(h, W)
    u, f, g, o = tf.split(z, 4, axis=-1)
    c = tf.sigmoid(u) * tf.tanh(g) + tf.sigmoid(f) * c
    return tf.sigmoid(o) * tf.tanh(c), c


def gate_major(xt, h, c):
    z = tf.matmul(tf.concat([xt, h], -1)[None], WW4) + b4  # (4,B,U)
    s = tf.sigmoid(z[:3])
    u, f, o = tf.unstack(s)
    c = u * tf.tanh(z[3]) + f * c
    return o * tf.tanh(c), c


def gate_major2(xt, h, c):
    z = tf.matmul(xt[None], Wx4) + tf.matmul(h[None], W4) + b4
    u, f, o, g = tf.unstack(z)
    c = tf.sigmoid(u) * tf.tanh(g) + tf.sigmoid(f) * c
    return tf.sigmoid(o) * tf.tanh(c), c


def full_sig(xt, h, c):
    z = tf.nn.bias_add(tf.matmul(xt, Wx), b) + tf.matmul(h, W)
    z = tf.reshape(z, (B, 4, U))
    z = tf.transpose(z, (1, 0, 2))
    u, f, g, o = tf.unstack(z)
    c = tf.sigmoid(u) * tf.tanh(g) + tf.sigmoid(f) * c
    return tf.sigmoid(o) * tf.tanh(c), c


cases = {
    k: tf.function(lambda s=s: loop(s))
    for k, s in [
        ("split", split_step),
        ("gate_major", gate_major),
        ("gate_major2", gate_major2),
        ("transpose", full_sig),
    ]
}
ref = cases["split"]().numpy()
for k, c in cases.items():
    print(k, float(abs(c().numpy() - ref).max()))
res = {k: [] for k in cases}
for r in range(9):
    for k, c in cases.items():
        t = time.perf_counter()
        c().numpy()
        c().numpy()
        res[k].append((time.perf_counter() - t) / 2 * 1e3)
for k, v in res.items():
    print(f"{k:12s} {statistics.median(v):.2f} ms")
