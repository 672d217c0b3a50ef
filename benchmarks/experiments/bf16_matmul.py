"""Issue 7 experiment: one large and one per-step-sized matmul in float32 and bfloat16 (2 threads).

python benchmarks/experiments/bf16_matmul.py
"""

import os
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(2)
matmul = tf.function(lambda a, b: tf.matmul(a, b))
for dtype in ("float32", "bfloat16"):
    for (m, k, n), reps in (((1280, 512, 1024), 50), ((128, 256, 1024), 500)):
        a = tf.cast(tf.random.normal((m, k)), dtype)
        b = tf.cast(tf.random.normal((k, n)), dtype)
        matmul(a, b)
        start = time.perf_counter()
        for _ in range(reps):
            matmul(a, b).numpy()
        seconds = (time.perf_counter() - start) / reps
        print(
            dtype,
            (m, k, n),
            f"{seconds * 1e3:.3f} ms",
            f"{2 * m * k * n / seconds / 1e9:.0f} GFLOPS",
        )
