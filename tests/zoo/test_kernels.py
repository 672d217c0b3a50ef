"""zoo.kernels: the whole layer as one oneDNN op computes what the zoo's loops compute.

Outputs, final states and gradients of every kernel-capable layer are compared with the same
layer run by its loops (`kernel=False`), with and without masks, in training and inference;
saved graphs must not contain the op.
"""

import json
import os
import platform
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.zoo.layers.helpers import randomize
from zoo import kernels
from zoo import layers as zl

SUPPORTED = platform.system() == "Linux" and platform.machine() == "x86_64"
# Where TensorFlow sees a GPU the layers run cuDNN's kernel, not this op (test_cudnn.py).
CPU_ONLY = not tf.config.list_logical_devices("GPU")
X = np.random.default_rng(5).normal(size=(4, 6, 3)).astype("float32")
RIGHT_PADDED = np.arange(6)[None, :] < np.array([6, 3, 0, 1])[:, None]
WITH_HOLES = np.array(
    [[1, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool
)

LAYERS = {
    "lstm_states": lambda **kw: zl.LSTM(5, return_sequences=True, return_state=True, **kw),
    "lstm_backwards_last": lambda **kw: zl.LSTM(5, go_backwards=True, **kw),
    "lstm_peephole": lambda **kw: zl.LSTM(5, peephole=True, return_sequences=True, **kw),
    "lstm_zero_output": lambda **kw: zl.LSTM(
        5, return_sequences=True, zero_output_for_mask=True, **kw
    ),
    "lstm_backwards_sequences": lambda **kw: zl.LSTM(
        5, return_sequences=True, go_backwards=True, **kw
    ),
    "gru": lambda **kw: zl.GRU(
        5, return_sequences=True, return_state=True, reset_after=False, **kw
    ),
    "gru_reset_after": lambda **kw: zl.GRU(5, return_sequences=True, reset_after=True, **kw),
    "simple_rnn": lambda **kw: zl.SimpleRNN(5, return_sequences=True, **kw),
    "simple_rnn_relu": lambda **kw: zl.SimpleRNN(5, activation="relu", **kw),
    "bi_lstm": lambda **kw: zl.Bidirectional(zl.LSTM(5, return_sequences=True, **kw)),
    "bi_lstm_peephole_ave": lambda **kw: zl.Bidirectional(
        zl.LSTM(5, peephole=True, **kw), merge_mode="ave"
    ),
    "bi_lstm_states": lambda **kw: zl.Bidirectional(
        zl.LSTM(5, return_sequences=True, return_state=True, **kw)
    ),
    "bi_gru_pair": lambda **kw: zl.Bidirectional(
        zl.GRU(5, return_sequences=True, reset_after=True, **kw), merge_mode=None
    ),
    "simple_rnn_states": lambda **kw: zl.SimpleRNN(
        5, return_sequences=True, return_state=True, **kw
    ),
    "gru_backwards_states": lambda **kw: zl.GRU(
        5, go_backwards=True, return_state=True, reset_after=False, **kw
    ),
    "lstm_backwards_states": lambda **kw: zl.LSTM(5, go_backwards=True, return_state=True, **kw),
    "bi_simple_rnn_dropout": lambda **kw: zl.Bidirectional(
        zl.SimpleRNN(5, return_sequences=True, dropout=0.5, seed=1, **kw)
    ),
}


def pair(name):
    """The layer with the kernel and the same layer (same weights) without it."""
    made = [LAYERS[name](kernel=flag) for flag in (True, False)]
    for layer in made:
        layer.build(X.shape)
    randomize(made[0], seed=2)
    made[1].set_weights(made[0].get_weights())
    return made


def run(layer, mask, training):
    with tf.GradientTape() as tape:
        out = layer(X, mask=mask, training=training)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        weights = tf.cast(tf.range(1, 1 + tf.size(outs[0])), "float32") / 100.0
        loss = tf.reduce_sum(tf.reshape(outs[0], (-1,)) * weights)
        loss += sum(tf.reduce_sum(o * o) for o in outs[1:])
    return outs, tape.gradient(loss, layer.trainable_weights)


def assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=2e-5, rtol=1e-5)


@pytest.mark.skipif(not SUPPORTED, reason="the kernel is built for Linux x86-64")
def test_kernel_builds_and_loads():
    assert kernels.load() is not None, kernels.unavailable_reason()


@pytest.mark.parametrize("mask", [None, "right_padded", "with_holes"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_kernel_matches_loops(name, training, mask):
    mask = {None: None, "right_padded": RIGHT_PADDED, "with_holes": WITH_HOLES}[mask]
    with_kernel, without = pair(name)  # dropout: same seed, so both draw the same masks
    outs_k, grads_k = run(with_kernel, mask, training)
    outs_l, grads_l = run(without, mask, training)
    assert_same(outs_k, outs_l)
    assert_same(grads_k, grads_l)


@pytest.mark.parametrize("mask", ["right_padded", "with_holes"])
@pytest.mark.parametrize("name", ["lstm_backwards_sequences", "bi_lstm", "gru_reset_after"])
def test_kernel_matches_loops_in_a_graph(name, mask):
    """In a tf.function the mask's shape is checked when the graph runs (tf.cond)."""
    mask = tf.constant(RIGHT_PADDED if mask == "right_padded" else WITH_HOLES)
    with_kernel, without = pair(name)
    outs_k, grads_k = tf.function(lambda m: run(with_kernel, m, True))(mask)
    outs_l, grads_l = tf.function(lambda m: run(without, m, True))(mask)
    assert_same(outs_k, outs_l)
    assert_same(grads_k, grads_l)


@pytest.mark.parametrize("name", ["lstm_states", "gru", "simple_rnn_states"])
def test_final_states_from_given_initial_states_over_padding(name):
    """With a mask, final states are those after each sequence's last valid step: the given
    initial state for the sequence with no valid step."""
    with_kernel, without = pair(name)
    rng = np.random.default_rng(9)
    count = 2 if name.startswith("lstm") else 1
    initial = [tf.constant(rng.normal(size=(4, 5)).astype("float32")) for _ in range(count)]
    results = []
    for layer in (with_kernel, without):
        with tf.GradientTape() as tape:
            tape.watch(initial)
            outs = layer(X, initial_state=initial, mask=RIGHT_PADDED, training=True)
            loss = sum(tf.reduce_sum(o * o) for o in outs)
        results.append((outs, tape.gradient(loss, [*initial, *layer.trainable_weights])))
    assert_same(results[0][0], results[1][0])
    assert_same(results[0][1], results[1][1])
    np.testing.assert_allclose(results[0][0][1][2], initial[0][2])  # no valid step


def _op_types(function, *args):
    graph = tf.function(function).get_concrete_function(*args).graph
    types = {op.type for op in graph.get_operations()}
    for inner in graph._functions.values():  # tf.cond branches
        types |= {node.op for node in inner.cached_definition.node_def}
    return types


@pytest.mark.skipif(not SUPPORTED, reason="the kernel is built for Linux x86-64")
@pytest.mark.skipif(not CPU_ONLY, reason="on a GPU the layers run cuDNN's kernel")
def test_kernel_runs_where_allowed_and_not_elsewhere():
    x = tf.constant(X)
    bi = zl.Bidirectional(zl.LSTM(5, return_sequences=True))
    assert "ZooRnn" in _op_types(lambda v: bi(v, training=True), x)
    assert "ZooRnnGrad" not in _op_types(lambda v: bi(v, training=False), x)
    with kernels.portable():
        assert "ZooRnn" not in _op_types(lambda v: bi(v, training=True), x)
    minimal = zl.GRU(5, variant="minimal")
    assert "ZooRnn" not in _op_types(lambda v: minimal(v), x)
    recurrent_dropout = zl.LSTM(5, recurrent_dropout=0.2)
    assert "ZooRnn" not in _op_types(lambda v: recurrent_dropout(v, training=True), x)
    assert "ZooRnn" in _op_types(lambda v: recurrent_dropout(v, training=False), x)


def _zoo_rnn_ops(function, *args):
    """(directions, inputs x) of every ZooRnn op in the graph of `function`."""
    graph = tf.function(function).get_concrete_function(*args).graph
    found = [
        (op.get_attr("D"), op.get_attr("X")) for op in graph.get_operations() if op.type == "ZooRnn"
    ]
    for inner in graph._functions.values():  # tf.cond branches
        for node in inner.cached_definition.node_def:
            if node.op == "ZooRnn":
                found.append((node.attr["D"].i, node.attr["X"].i))
    return found


@pytest.mark.skipif(not SUPPORTED, reason="the kernel is built for Linux x86-64")
@pytest.mark.skipif(not CPU_ONLY, reason="on a GPU the layers run cuDNN's kernel")
def test_bidirectional_runs_both_directions_in_one_op():
    """Unmasked: one op reading one x both ways. Masked (right-padded) or with input dropout in
    training: one op all the same, each direction given the x it reads (two x)."""
    x, mask = tf.constant(X), tf.constant(RIGHT_PADDED)
    bi = zl.Bidirectional(zl.LSTM(5, return_sequences=True, return_state=True))
    assert _zoo_rnn_ops(lambda v: bi(v), x) == [(2, 1)]
    # In a graph the mask's shape is checked when it runs: the other branch runs each direction
    # (its own tf.cond: kernel or loop), so the ops are the joint one and one per direction.
    assert _zoo_rnn_ops(lambda v, m: bi(v, mask=m), x, mask) == [(2, 2), (1, 1), (1, 1)]
    dropout = zl.Bidirectional(zl.GRU(5, reset_after=True, dropout=0.3))
    assert _zoo_rnn_ops(lambda v: dropout(v, training=True), x) == [(2, 2)]
    assert _zoo_rnn_ops(lambda v: dropout(v, training=False), x) == [(2, 1)]


def test_gradient_of_an_inference_call():
    """training=False keeps no workspace; asking for a gradient anyway reruns the step."""
    with_kernel, without = pair("lstm_states")
    assert_same(run(with_kernel, None, False)[1], run(without, None, False)[1])


def serve_in_new_process(model_dir, x, **env):
    """Loads the export at `model_dir` in a new Python process, TensorFlow alone, and serves `x`
    there; `env` adds to its environment. Returns {"zoo": whether the zoo got imported, "ops":
    the graphs' Zoo ops, "gpu": whether it saw a GPU, "out": the output}."""
    x_path = os.path.join(os.path.dirname(model_dir), "served.npy")
    np.save(x_path, x)
    script = f"""
import json, sys
import numpy as np, tensorflow as tf
tf.config.experimental.enable_tensor_float_32_execution(False)  # as the tests, on a GPU
loaded = tf.saved_model.load({model_dir!r})
graph_ops = set()
for function in loaded.signatures.values():
    graph_ops |= {{op.type for op in function.graph.get_operations()}}
out = loaded.serve(tf.constant(np.load({x_path!r})))
print(json.dumps({{"zoo": "zoo" in sys.modules, "ops": sorted(o for o in graph_ops if "Zoo" in o),
                  "gpu": bool(tf.config.list_logical_devices("GPU")),
                  "out": np.asarray(out).tolist()}}))
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_exported_model_has_no_kernel_op_and_loads_with_tensorflow_alone(tmp_path):
    inputs = keras.Input((6, 3), name="features")
    outputs = keras.layers.Dense(2)(zl.Bidirectional(zl.LSTM(4, return_sequences=True))(inputs))
    model = keras.Model(inputs, outputs)
    expected = model.predict_on_batch(X)  # traced with the kernel first
    model.export(str(tmp_path / "model"), verbose=False)
    report = serve_in_new_process(str(tmp_path / "model"), X)
    assert not report["zoo"] and report["ops"] == []
    np.testing.assert_allclose(report["out"], expected, atol=1e-5)


def test_turned_off_by_environment():
    script = (
        "from zoo import kernels; import sys; "
        "sys.exit(0 if kernels.load() is None and 'ZOO_KERNELS' in kernels.unavailable_reason()"
        " else 1)"
    )
    env = dict(os.environ, ZOO_KERNELS="0", TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)


def test_op_checks_its_shapes():
    if kernels.load() is None:
        pytest.skip(kernels.unavailable_reason())
    x = tf.zeros((2, 3, 4))
    states = tf.zeros((1, 2, 5))
    with pytest.raises(tf.errors.InvalidArgumentError, match="w_layer"):
        kernels.rnn(
            "lstm", x, states, states, tf.zeros((1, 3, 20)), tf.zeros((1, 5, 20)), tf.zeros((1, 20))
        )


@pytest.mark.parametrize("mask", [None, "right_padded"])
@pytest.mark.parametrize(
    "name",
    [
        "lstm_states",
        "lstm_backwards_sequences",
        "bi_lstm",
        "bi_lstm_states",
        "bi_gru_pair",
        "bi_simple_rnn_dropout",
        "simple_rnn",
    ],
)
def test_input_gradient(name, mask):
    """dx, which the LSTM's own loop computes only when the tape watches the input."""
    mask = {None: None, "right_padded": RIGHT_PADDED}[mask]
    grads = []
    for layer in pair(name):
        x = tf.constant(X)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, mask=mask, training=True)
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            loss = sum(tf.reduce_sum(o * tf.sin(o)) for o in outs)
        grads.append(tape.gradient(loss, x))
    assert_same(grads[:1], grads[1:])


ENGINE_SCRIPT = """
import sys
import numpy as np, tensorflow as tf
from tests.zoo.layers.helpers import randomize
from zoo import layers as zl
x = tf.constant(np.random.default_rng(3).normal(size=(3, 7, 4)).astype("float32"))
layer = zl.Bidirectional(zl.LSTM(6, return_sequences=True, return_state=True))
layer.build(x.shape)
randomize(layer, seed=4)
with tf.GradientTape() as tape:
    tape.watch(x)
    outs = layer(x, training=True)
    loss = sum(tf.reduce_sum(o * tf.cos(o)) for o in outs)
grads = tape.gradient(loss, [x, *layer.trainable_weights])
np.savez(sys.argv[1], *[np.asarray(t) for t in [*outs, *grads]])
"""


@pytest.mark.skipif(not SUPPORTED, reason="the kernel is built for Linux x86-64")
def test_lstm_loop_matches_onednn_primitive(tmp_path):
    """The LSTM's own loop and oneDNN's RNN primitive (ZOO_KERNELS_ENGINE=onednn) agree."""
    results = []
    for engine in ("zoo", "onednn"):
        env = dict(
            os.environ, ZOO_KERNELS_ENGINE=engine, TF_CPP_MIN_LOG_LEVEL="3", ONEDNN_VERBOSE="1"
        )
        path = tmp_path / f"{engine}.npz"
        done = subprocess.run(
            [sys.executable, "-c", ENGINE_SCRIPT, str(path)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        )
        # oneDNN logs each primitive it runs: the RNN primitive only where asked for (the own
        # loop runs the directions on lanes of one thread each: machines of 2 or 3 cores)
        if len(os.sched_getaffinity(0)) <= 3:
            assert ("exec,cpu,rnn," in done.stdout) == (engine == "onednn")
        with np.load(path) as saved:
            results.append([saved[key] for key in sorted(saved.files, key=lambda k: int(k[4:]))])
    assert len(results[0]) == 5 + 1 + 6  # y, 4 final states; dx, 6 weights
    assert_same(results[0], results[1])


def _bfloat16(a):
    """float32 -> bfloat16 -> float32, rounded to nearest even."""
    bits = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def _lstm_reference(x, h, c, w_layer, w_iter, bias, round_operands):
    """One direction, left to right, in float64 after the optional bfloat16 rounding."""
    cast = _bfloat16 if round_operands else (lambda a: a)
    units, ys = h.shape[1], []
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    wl, wi = cast(w_layer).astype(np.float64), cast(w_iter).astype(np.float64)
    for t in range(x.shape[1]):
        z = cast(x[:, t]).astype(np.float64) @ wl + cast(h).astype(np.float64) @ wi + bias
        i, f = sigmoid(z[:, :units]), sigmoid(z[:, units : 2 * units])
        g, o = np.tanh(z[:, 2 * units : 3 * units]), sigmoid(z[:, 3 * units :])
        c = f * c + i * g
        h = (o * np.tanh(c)).astype(np.float32)
        ys.append(h)
    return np.stack(ys, 1)


def _cpu_has_bfloat16_products():
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


@pytest.mark.skipif(not SUPPORTED, reason="the kernel is built for Linux x86-64")
def test_bfloat16_inference_rounds_the_products_operands_only():
    """precision="bfloat16": in inference the LSTM's own loop multiplies bfloat16 operands
    (x, h and the weights rounded to nearest even) and keeps sums, gates and cells in float32:
    it matches a float64 reference with the operands so rounded, and not the float32 one.
    Training calls, and machines where the loop or the products are not there, stay float32."""
    rng = np.random.default_rng(11)
    n, t, features, units = 4, 6, 3, 5
    x = rng.normal(size=(n, t, features)).astype("float32")
    h0, c0 = (rng.normal(size=(2, n, units)).astype("float32") * 0.5 for _ in range(2))
    w_layer = rng.normal(size=(2, features, 4 * units)).astype("float32")
    w_iter = rng.normal(size=(2, units, 4 * units)).astype("float32") * 0.5
    bias = rng.normal(size=(2, 4 * units)).astype("float32") * 0.1

    def call(precision, training=False):
        args = [tf.constant(a) for a in (x, h0, c0, w_layer, w_iter, bias)]
        return kernels.rnn("lstm", *args, training=training, precision=precision)[0].numpy()

    def reference(round_operands):
        forward = _lstm_reference(x, h0[0], c0[0], w_layer[0], w_iter[0], bias[0], round_operands)
        backward = _lstm_reference(
            x[:, ::-1], h0[1], c0[1], w_layer[1], w_iter[1], bias[1], round_operands
        )[:, ::-1]
        return np.concatenate([forward, backward], -1)

    full = call("float32")
    np.testing.assert_allclose(full, reference(False), atol=2e-5)
    rounded = call("bfloat16")
    own_loop = len(os.sched_getaffinity(0)) <= 3  # one thread per direction (see above)
    if own_loop and _cpu_has_bfloat16_products():
        np.testing.assert_allclose(rounded, reference(True), atol=2e-5)
        assert np.abs(rounded - full).max() > 1e-3
    else:
        np.testing.assert_array_equal(rounded, full)
    np.testing.assert_array_equal(call("bfloat16", training=True), call("float32", training=True))
    with pytest.raises(ValueError, match="precision"):
        call("float16")


def test_matmul_precision_is_a_layer_argument():
    layer = zl.Bidirectional(zl.LSTM(5, return_sequences=True, matmul_precision="bfloat16"))
    again = zl.Bidirectional.from_config(layer.get_config())
    assert again.forward_layer.matmul_precision == "bfloat16"
    assert again.backward_layer.matmul_precision == "bfloat16"
    assert zl.GRU(3).get_config()["matmul_precision"] == "float32"
    with pytest.raises(ValueError, match="matmul_precision"):
        zl.LSTM(3, matmul_precision="float16")
