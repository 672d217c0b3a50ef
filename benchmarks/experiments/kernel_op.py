"""Issue 7 experiment: the ZooRnn op alone (bidirectional LSTM, 200 units, input 100, 40 steps).

    python benchmarks/experiments/kernel_op.py [--torch-first] [--batch N] [--inference]
        [--precision float32|bfloat16]

Times forward + backward (training, batch 32 by default) or the inference forward (batch 256
with --inference) in one `tf.function`, 2 intra-op threads, and reports the minor page faults
and system time per call. `--torch-first` runs one torch LSTM forward call in the process
before (torch's OpenMP runtime then exists beside oneDNN's threads). The README's OpenMP
figures come from this script run against an earlier build of the op linked to the
`onednn-cpu-gomp` wheel; the TBB ones from the current build.
"""

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
parser = argparse.ArgumentParser()
parser.add_argument("--torch-first", action="store_true")
parser.add_argument("--inference", action="store_true")
parser.add_argument("--batch", type=int, default=None)
parser.add_argument("--calls", type=int, default=30)
parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
args = parser.parse_args()
if args.torch_first:
    import torch

    torch.set_num_threads(2)
    lstm = torch.nn.LSTM(100, 200, bidirectional=True, batch_first=True)
    lstm(torch.zeros(32, 40, 100))

import tensorflow as tf

from zoo import kernels

tf.config.threading.set_intra_op_parallelism_threads(2)
N = args.batch or (256 if args.inference else 32)
T, C, UNITS, D = 40, 100, 200, 2
x = tf.random.normal((N, T, C))
h0 = tf.zeros((D, N, UNITS))
c0 = tf.zeros((D, N, UNITS))
w_layer = tf.Variable(tf.random.normal((D, C, 4 * UNITS)) * 0.05)
w_iter = tf.Variable(tf.random.normal((D, UNITS, 4 * UNITS)) * 0.05)
bias = tf.Variable(tf.zeros((D, 4 * UNITS)))


@tf.function
def step():
    if args.inference:
        return kernels.rnn(
            "lstm", x, h0, c0, w_layer, w_iter, bias, training=False, precision=args.precision
        )[0][:, :1]
    with tf.GradientTape() as tape:
        y, _, _ = kernels.rnn("lstm", x, h0, c0, w_layer, w_iter, bias, training=True)
        loss = tf.reduce_sum(y)
    return tape.gradient(loss, [w_layer, w_iter, bias])[2]


for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
for _ in range(args.calls):
    tf.nest.map_structure(lambda t: t.numpy(), step())
seconds = (time.perf_counter() - start) / args.calls
after = resource.getrusage(resource.RUSAGE_SELF)
print(
    f"{'inference' if args.inference else 'fwd+bwd'} {args.precision} batch {N}: "
    f"{seconds * 1000:.2f} ms per call, "
    f"{N * T / seconds:,.0f} tokens/s; per call: "
    f"{(after.ru_minflt - before.ru_minflt) / args.calls:.0f} minor faults, "
    f"{(after.ru_stime - before.ru_stime) / args.calls * 1000:.1f} ms system time"
)
if args.inference and args.precision != "float32":
    outputs = {
        precision: kernels.rnn(
            "lstm", x, h0, c0, w_layer, w_iter, bias, training=False, precision=precision
        )[0].numpy()
        for precision in ("float32", args.precision)
    }
    difference = abs(outputs[args.precision] - outputs["float32"])
    print(
        f"outputs against float32's: mean |difference| {difference.mean():.2g}, "
        f"max {difference.max():.2g}"
    )
