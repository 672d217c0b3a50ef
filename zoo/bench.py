"""`python -m zoo.bench`: training and inference throughput of zoo layers beside Keras (and torch).

The model is the tagger of `RESULTS.md`: a bidirectional recurrent layer (200 units each way) over
(batch, 40, 100) inputs, then a dense layer to 9 tags. Training is Adam on batches of 32
(`train_on_batch`, the compiled step `fit` runs); inference is `predict_on_batch` on batches of
256. Every implementation is measured in the same process, in alternating rounds; the median and
the best round are reported (tokens/s = sequences * length / seconds).

    python -m zoo.bench                 # a table
    python -m zoo.bench --json          # one JSON object on the last line
    python -m zoo.bench --layer-only    # the layer alone, in each of the zoo's loop settings
    python -m zoo.bench --api fit       # through model.fit / model.predict on NumPy arrays
    python -m zoo.bench --api dataset   # the same on cached tf.data.Datasets of the batches
    python -m zoo.bench --torch-native  # also torch without its oneDNN RNN kernels
    python -m zoo.bench --bfloat16      # also the LSTM with matmul_precision="bfloat16"

`--layer-only` times the bidirectional layer by itself (forward and backward in one
`tf.function` for training, forward for inference), for `keras.layers` and for the zoo with the
plain loop (TensorFlow's autodiff), the fused loop (hand-written backward pass), the fused
loop compiled by XLA, and the oneDNN kernel (`zoo.kernels`, the default where it is built): what
each of the zoo's design steps gains.
"""

import argparse
import json
import os
import platform
import statistics
import time

TAGS = 9


def _parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m zoo.bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cells", default="lstm,gru", help="comma-separated: lstm, gru, rnn (the simple RNN)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--infer-batch-size", type=int, default=256)
    parser.add_argument("--length", type=int, default=40)
    parser.add_argument("--input-dim", type=int, default=100)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--train-batches", type=int, default=30)
    parser.add_argument("--infer-batches", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (0: all)")
    parser.add_argument("--no-torch", action="store_true", help="skip torch even if installed")
    parser.add_argument(
        "--api",
        choices=["on-batch", "fit", "dataset"],
        default="on-batch",
        help="Keras models through train_on_batch/predict_on_batch on ready tensors (the "
        "layers' own speed), through fit/predict on NumPy arrays (Keras's array input path "
        "included), or through fit/predict on tf.data.Datasets of the batches, cached in memory",
    )
    parser.add_argument(
        "--torch-native",
        action="store_true",
        help="also time torch with its oneDNN RNN kernels off (torch.backends.mkldnn)",
    )
    parser.add_argument(
        "--layer-only", action="store_true", help="time the layer alone, per zoo loop setting"
    )
    parser.add_argument(
        "--bfloat16",
        action="store_true",
        help="also the zoo's LSTM with matmul_precision='bfloat16' (its inference products)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    for name in ("batch_size", "infer_batch_size", "length", "input_dim", "units", "rounds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    args.cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = set(args.cells) - {"lstm", "gru", "rnn"}
    if unknown:
        parser.error(f"unknown cells: {', '.join(sorted(unknown))} (choose lstm, gru, rnn)")
    return args


def _bidirectional(cell, library, args, **zoo_options):
    import keras

    from zoo import layers as zoo_layers

    if library == "zoo":
        recurrent = {"lstm": zoo_layers.LSTM, "gru": zoo_layers.GRU, "rnn": zoo_layers.SimpleRNN}[
            cell
        ]
        if cell == "gru":
            zoo_options["reset_after"] = True  # the function keras.layers.GRU computes
        return zoo_layers.Bidirectional(recurrent(args.units, return_sequences=True, **zoo_options))
    recurrent = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[
        cell
    ]
    return keras.layers.Bidirectional(recurrent(args.units, return_sequences=True))


def _keras_model(cell, library, args, **zoo_options):
    import keras

    bi = _bidirectional(cell, library, args, **zoo_options)
    inputs = keras.Input((args.length, args.input_dim), name="features")
    model = keras.Model(inputs, keras.layers.Dense(TAGS)(bi(inputs)))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _ready(array):
    """`array` as a tensor made once, on the GPU where TensorFlow has one (as torch's are on its
    device): the timed calls then copy nothing to the device."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    with tf.device(gpus[0].name if gpus else "/CPU:0"):
        return tf.identity(tf.constant(array))


class _KerasRunner:
    """`train_on_batch` / `predict_on_batch` over tensors made once.

    Not `fit`/`predict` on arrays: on this 2-core machine their tf.data iterator puts a floor of
    about 43 ms under every batch in some rounds (every implementation then measures the same),
    which hides the layers' own speed.
    """

    def __init__(self, model, data, args):
        import tensorflow as tf

        self.model, self.data, self.args = model, data, args
        x, y, x_infer = data
        b, bi = args.batch_size, args.infer_batch_size
        if args.api == "fit":  # the arrays go to Keras as they are
            self.train, self.infer = self.fit, self.predict
        elif args.api == "dataset":
            self.train_data = tf.data.Dataset.from_tensor_slices((x, y)).batch(b).cache()
            self.infer_data = tf.data.Dataset.from_tensor_slices(x_infer).batch(bi).cache()
            for dataset in (self.train_data, self.infer_data):
                for _ in dataset:  # fill the cache
                    pass
            self.train, self.infer = self.fit_dataset, self.predict_dataset
        else:
            self.train_batches = [
                (_ready(x[i : i + b]), _ready(y[i : i + b])) for i in range(0, len(x), b)
            ]
            self.infer_batches = [_ready(x_infer[i : i + bi]) for i in range(0, len(x_infer), bi)]
        self.train()  # trace and warm up
        self.infer()

    def train(self):
        for x, y in self.train_batches:
            self.model.train_on_batch(x, y)

    def infer(self):
        for x in self.infer_batches:
            self.model.predict_on_batch(x)

    def fit(self):
        x, y, _ = self.data
        self.model.fit(x, y, batch_size=self.args.batch_size, epochs=1, shuffle=False, verbose=0)

    def predict(self):
        self.model.predict(self.data[2], batch_size=self.args.infer_batch_size, verbose=0)

    def fit_dataset(self):
        self.model.fit(self.train_data, epochs=1, shuffle=False, verbose=0)

    def predict_dataset(self):
        self.model.predict(self.infer_data, verbose=0)


class _LayerRunner:
    """The layer alone: gradient of a loss on its outputs (train), a forward pass (infer)."""

    def __init__(self, layer, data, args):
        import tensorflow as tf

        x, _, x_infer = data
        self.train_batches = [
            _ready(x[i : i + args.batch_size]) for i in range(0, len(x), args.batch_size)
        ]
        self.infer_batches = [
            _ready(x_infer[i : i + args.infer_batch_size])
            for i in range(0, len(x_infer), args.infer_batch_size)
        ]
        layer(self.train_batches[0])

        @tf.function
        def train_step(v):
            with tf.GradientTape() as tape:
                out = layer(v, training=True)
                loss = tf.reduce_sum(out * out)
            return tape.gradient(loss, layer.trainable_weights)

        self.train_step = train_step
        self.infer_step = tf.function(lambda v: layer(v, training=False))
        self.train()
        self.infer()

    def train(self):
        for batch in self.train_batches:
            self.train_step(batch)

    def infer(self):
        for batch in self.infer_batches:
            self.infer_step(batch)


class _TorchRunner:
    """torch's own loop; `native=True` turns its oneDNN RNN kernels off (torch.backends.mkldnn),
    which on x86 CPUs run the whole recurrence as one fused primitive."""

    def __init__(self, cell, data, args, native=False):
        import contextlib

        import torch

        self.torch, self.args = torch, args
        self.flags = (
            (lambda: torch.backends.mkldnn.flags(enabled=False))
            if native
            else contextlib.nullcontext
        )
        torch.manual_seed(0)
        recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        device = torch.device(torch_device())  # cuDNN's kernels when there is a GPU
        self.rnn = recurrent(args.input_dim, args.units, batch_first=True, bidirectional=True)
        self.dense = torch.nn.Linear(2 * args.units, TAGS)
        self.rnn.to(device)
        self.dense.to(device)
        params = list(self.rnn.parameters()) + list(self.dense.parameters())
        self.optimizer = torch.optim.Adam(params)
        x, y, x_infer = data
        self.x, self.y = torch.from_numpy(x).to(device), torch.from_numpy(y).long().to(device)
        self.x_infer = torch.from_numpy(x_infer).to(device)
        # CUDA calls return before the work is done: wait for it before the clock stops.
        self.wait = torch.cuda.synchronize if device.type == "cuda" else lambda: None
        self.train()
        self.infer()

    def train(self):
        with self.flags():
            self._train()
        self.wait()

    def infer(self):
        with self.flags():
            self._infer()
        self.wait()

    def _train(self):
        torch, b = self.torch, self.args.batch_size
        for start in range(0, len(self.x), b):
            logits = self.dense(self.rnn(self.x[start : start + b])[0])
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, TAGS), self.y[start : start + b].reshape(-1)
            )
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def _infer(self):
        b = self.args.infer_batch_size
        with self.torch.inference_mode():
            for start in range(0, len(self.x_infer), b):
                self.dense(self.rnn(self.x_infer[start : start + b])[0])


def torch_device():
    """ "cuda" when torch sees a GPU, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run(args):
    """Measures every runner; returns the result dictionary that `--json` prints."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    if args.threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        except RuntimeError:  # TensorFlow already started in this process: keep its setting
            args.threads = tf.config.threading.get_intra_op_parallelism_threads()
    rng = np.random.default_rng(0)
    n_train = args.batch_size * args.train_batches
    n_infer = args.infer_batch_size * args.infer_batches
    data = (
        rng.normal(size=(n_train, args.length, args.input_dim)).astype("float32"),
        rng.integers(0, TAGS, size=(n_train, args.length)).astype("int32"),
        rng.normal(size=(n_infer, args.length, args.input_dim)).astype("float32"),
    )
    use_torch = not args.no_torch and _torch_available()
    if use_torch:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
    runners = {}
    for cell in args.cells:
        name = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}[cell]
        torch_name = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[cell]
        if args.layer_only:
            runners[f"keras.layers.{name}"] = _LayerRunner(
                _bidirectional(cell, "keras", args), data, args
            )
            for label, options in (
                ("plain", {"loop": "plain", "kernel": False}),
                ("fused", {"jit": False, "kernel": False}),
                ("fused+xla", {"kernel": False}),
                ("kernel", {}),
            ):
                runners[f"zoo.layers.{name} {label}"] = _LayerRunner(
                    _bidirectional(cell, "zoo", args, **options), data, args
                )
            continue
        runners[f"zoo.layers.{name}"] = _KerasRunner(_keras_model(cell, "zoo", args), data, args)
        if args.bfloat16 and cell == "lstm":
            runners[f"zoo.layers.{name} bfloat16"] = _KerasRunner(
                _keras_model(cell, "zoo", args, matmul_precision="bfloat16"), data, args
            )
        runners[f"keras.layers.{name}"] = _KerasRunner(
            _keras_model(cell, "keras", args), data, args
        )
        if use_torch:
            runners[f"torch.nn.{torch_name}"] = _TorchRunner(cell, data, args)
            if args.torch_native:
                runners[f"torch.nn.{torch_name} native"] = _TorchRunner(
                    cell, data, args, native=True
                )

    timings = {name: {"train": [], "infer": []} for name in runners}
    order = list(runners.items())
    for round_index in range(args.rounds):
        # Alternate runners, and reverse their order every other round, so that drift in the
        # machine's speed hits every runner alike.
        for name, runner in order if round_index % 2 == 0 else order[::-1]:
            for phase, count in (("train", n_train), ("infer", n_infer)):
                start = time.perf_counter()
                getattr(runner, phase)()
                timings[name][phase].append(count * args.length / (time.perf_counter() - start))

    results = {
        name: {
            "train_tokens_per_s": round(statistics.median(t["train"])),
            "infer_tokens_per_s": round(statistics.median(t["infer"])),
            "train_tokens_per_s_best": round(max(t["train"])),
            "infer_tokens_per_s_best": round(max(t["infer"])),
            # every round, so that the spread (this machine's noise) is on record too
            "train_rounds": [round(v) for v in t["train"]],
            "infer_rounds": [round(v) for v in t["infer"]],
        }
        for name, t in timings.items()
    }
    head = "the layer alone" if args.layer_only else f"dense to {TAGS}"
    if not args.layer_only:
        head += ", Keras through " + {
            "fit": "fit/predict on arrays",
            "dataset": "fit/predict on cached datasets",
        }.get(args.api, "train_on_batch/predict_on_batch")
    return {
        "model": (
            f"Bidirectional({args.units}) over (batch, {args.length}, {args.input_dim}), "
            f"{head}; train batch {args.batch_size}, infer batch {args.infer_batch_size}"
        ),
        "rounds": args.rounds,
        "threads": args.threads,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        # On a GPU the Keras models run there (the zoo's and Keras's layers on cuDNN).
        "devices": {
            "tensorflow": [d.name for d in tf.config.list_logical_devices("GPU")] or ["CPU"],
            **({"torch": torch_device()} if use_torch else {}),
        },
        "versions": {
            "tensorflow": tf.__version__,
            "keras": __import__("keras").__version__,
            **({"torch": __import__("torch").__version__} if use_torch else {}),
        },
        "results": results,
    }


def _table(report):
    lines = [
        report["model"],
        f"tokens/s: median (best) of {report['rounds']} rounds, {report['threads']} threads",
        "devices: " + ", ".join(f"{k} {v}" for k, v in report["devices"].items()),
        "",
        f"{'implementation':<28}{'train':>22}{'infer':>24}",
    ]
    for name, r in report["results"].items():
        train = f"{r['train_tokens_per_s']:,} ({r['train_tokens_per_s_best']:,})"
        infer = f"{r['infer_tokens_per_s']:,} ({r['infer_tokens_per_s_best']:,})"
        lines.append(f"{name:<28}{train:>22}{infer:>24}")
    return "\n".join(lines)


def main(argv=None):
    args = _parse(argv)
    report = run(args)
    print(json.dumps(report) if args.json else _table(report))


if __name__ == "__main__":
    main()
