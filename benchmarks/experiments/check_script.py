"""Issue 7 experiment: the tagger timed the way an independent script would, three ways.

    python benchmarks/experiments/check_script.py [EXAMPLES] [fit|onbatch]

`zoo.layers.Bidirectional(zoo.layers.LSTM(200, return_sequences=True))`, the same from
`keras.layers`, and `torch.nn.LSTM(100, 200, bidirectional=True)`, each followed by a dense layer
to 9 tags, on (EXAMPLES, 40, 100) random inputs (default 2,048): per round one epoch of training
with Adam on batches of 32 and one inference pass on batches of 256, Keras through `fit` /
`predict` on the NumPy arrays (`fit`, the default) or through `train_on_batch` /
`predict_on_batch` (`onbatch`), torch through its own loop; two threads, a warm-up round, then
three alternating rounds; tokens/s, medians, and zoo / torch.
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

import zoo.layers  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
torch.set_num_threads(2)

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
api = sys.argv[2] if len(sys.argv) > 2 else "fit"
rng = np.random.default_rng(0)
x = rng.standard_normal((N, 40, 100)).astype("float32")
y = rng.integers(0, 9, (N, 40))


def keras_model(module):
    inputs = keras.Input((40, 100), name="x")
    h = module.Bidirectional(module.LSTM(200, return_sequences=True))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(9)(h))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-3), loss)
    return model


class TorchTagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(100, 200, bidirectional=True, batch_first=True)
        self.dense = torch.nn.Linear(400, 9)

    def forward(self, x):
        return self.dense(self.lstm(x)[0])


models = {"zoo": keras_model(zoo.layers), "keras": keras_model(keras.layers)}
tagger = TorchTagger()
optimizer = torch.optim.Adam(tagger.parameters(), 1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
xt, yt = torch.from_numpy(x), torch.from_numpy(y)


def run_keras(model):
    start = time.perf_counter()
    if api == "fit":
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    else:
        for i in range(0, N, 32):
            model.train_on_batch(x[i : i + 32], y[i : i + 32])
    train = time.perf_counter() - start
    start = time.perf_counter()
    if api == "fit":
        model.predict(x, batch_size=256, verbose=0)
    else:
        for i in range(0, N, 256):
            model.predict_on_batch(x[i : i + 256])
    return N * 40 / train, N * 40 / (time.perf_counter() - start)


def run_torch():
    start = time.perf_counter()
    tagger.train()
    for i in range(0, N, 32):
        optimizer.zero_grad()
        out = tagger(xt[i : i + 32])
        loss_fn(out.reshape(-1, 9), yt[i : i + 32].reshape(-1)).backward()
        optimizer.step()
    train = time.perf_counter() - start
    start = time.perf_counter()
    tagger.eval()
    with torch.no_grad():
        for i in range(0, N, 256):
            tagger(xt[i : i + 256])
    return N * 40 / train, N * 40 / (time.perf_counter() - start)


run_keras(models["zoo"]), run_keras(models["keras"]), run_torch()  # warm-up
rates = {name: [] for name in ("zoo", "keras", "torch")}
for r in range(3):
    rates["zoo"].append(run_keras(models["zoo"]))
    rates["keras"].append(run_keras(models["keras"]))
    rates["torch"].append(run_torch())
    print(r, {k: [round(a) for a in v[-1]] for k, v in rates.items()}, flush=True)
median = {k: [statistics.median(a[i] for a in v) for i in (0, 1)] for k, v in rates.items()}
print(api, N, {k: [round(a) for a in v] for k, v in median.items()})
train_ratio = median["zoo"][0] / median["torch"][0]
infer_ratio = median["zoo"][1] / median["torch"][1]
print(f"zoo/torch train {train_ratio:.2f} infer {infer_ratio:.2f}")
