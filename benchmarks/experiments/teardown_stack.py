"""Issue 7 experiment: where a tf.data iterator's teardown waits, with no model at all.

    python benchmarks/experiments/teardown_stack.py [--rounds 10] [--gdb]

Each round builds the dataset Keras's array adapter builds for `predict` (2,048 examples of
(40, 100) in batches of 256), iterates it with a little work and a sleep per batch (about 0.8 s
in all), then times `del` of the iterator. With `--gdb` a child process prints the native
stacks of every thread while the `del` runs (`gdb -batch -p PID -ex "thread apply all bt"`;
gdb stops the process while it reads them, so a waiting `del` then reads as seconds long).
"""

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras.src.trainers.data_adapters import array_data_adapter  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--rounds", type=int, default=10)
parser.add_argument("--gdb", action="store_true")
args = parser.parse_args()
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
x = np.random.default_rng(0).normal(size=(2048, 40, 100)).astype("float32")
w = tf.constant(np.random.default_rng(1).normal(size=(100, 400)).astype("float32"))


@tf.function
def work(batch):
    h = batch
    for _ in range(6):
        h = tf.tanh(tf.matmul(tf.reshape(h, (-1, 100)), w)[:, :100])
    return tf.reduce_sum(h)


for r in range(args.rounds):
    adapter = array_data_adapter.ArrayDataAdapter(x, batch_size=256, shuffle=False)
    start = time.perf_counter()
    iterator = iter(adapter.get_tf_dataset())
    for batch in iterator:
        work(batch)
        time.sleep(0.075)
    iterated = time.perf_counter()
    if args.gdb:
        command = ["gdb", "-batch", "-p", str(os.getpid()), "-ex", "thread apply all bt 12"]
        with open(f"teardown_stack_{r}.txt", "w") as out:
            subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
    del iterator
    deleted = time.perf_counter()
    iterate_ms, del_ms = 1000 * (iterated - start), 1000 * (deleted - iterated)
    print(f"round {r}: iterate {iterate_ms:.0f} ms, del {del_ms:.0f} ms")
    sys.stdout.flush()
