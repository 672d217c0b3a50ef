"""zoo.kernels.cudnn: on a GPU the layers run cuDNN's kernel where Keras would, same function.

No GPU is needed: `CudnnRNNV3` is stood in for by `fake_cudnn_rnn_v3`, which computes what
cuDNN documents (its equations, its parameter layout, sequence lengths) with standard ops. The
stand-in is first checked against Keras's own cuDNN code path (`keras.layers.LSTM`/`GRU` on a
GPU) on Keras's CPU results, so the zoo's parameter layout is checked against the layout Keras
feeds the real op; then every layer through the cuDNN path is compared with its loops. On a
machine with a CUDA GPU the same tests run a second time with the real op (`gpu` fixture's
"cuda"), and the export test also loads the model in a process that sees no GPU.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.zoo.layers.helpers import randomize
from tests.zoo.test_kernels import (
    LAYERS,
    WITH_HOLES,
    X,
    _op_types,
    assert_same,
    pair,
    run,
    serve_in_new_process,
)
from zoo import kernels
from zoo import layers as zl
from zoo.kernels import cudnn

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
NONEMPTY = np.arange(6)[None, :] < np.array([6, 3, 2, 1])[:, None]
EMPTY_ROW = np.arange(6)[None, :] < np.array([6, 3, 0, 1])[:, None]
UNSUPPORTED = {"lstm_peephole", "gru", "gru_backwards_states", "bi_lstm_peephole_ave"}


def fake_cudnn_rnn_v3(
    input,  # noqa: A002 - the raw op's argument names
    input_h,
    input_c,
    params,
    sequence_lengths,
    rnn_mode="lstm",
    input_mode="linear_input",
    direction="unidirectional",
    is_training=True,
    time_major=True,
    calls=None,
    **_,
):
    """cuDNN's unidirectional RNN as documented (cudnnRNNMode_t), in standard ops.

    `params`: per gate W (units, features) then per gate R (units, units), row-major, then the
    input biases and the recurrent biases per gate. Gates: LSTM i, f, c~, o; GRU r, z, h~ with
    h~ = tanh(W x + bW + r * (R h + bR)) and h = (1 - z) h~ + z h. Steps past a sequence's
    length output zeros and keep the state.
    """
    assert input_mode == "linear_input" and direction == "unidirectional"
    if calls is not None:
        calls.append(rnn_mode)
    x = input if time_major else tf.transpose(input, (1, 0, 2))  # (time, batch, features)
    h0 = input_h[0] if time_major else input_h[:, 0]
    c0 = (input_c[0] if time_major else input_c[:, 0]) if rnn_mode == "lstm" else h0 * 0
    gates, features, units = GATES[rnn_mode], x.shape[-1], h0.shape[-1]
    parts = tf.split(
        params, [units * features] * gates + [units * units] * gates + [units] * (2 * gates)
    )
    w = [tf.reshape(p, (units, features)) for p in parts[:gates]]
    r = [tf.reshape(p, (units, units)) for p in parts[gates : 2 * gates]]
    b_w, b_r = parts[2 * gates : 3 * gates], parts[3 * gates :]
    valid = tf.transpose(tf.sequence_mask(sequence_lengths, tf.shape(x)[0], x.dtype))[:, :, None]

    def step(carry, inputs):
        h, c, _ = carry
        x_t, m = inputs
        wx = [tf.matmul(x_t, wi, transpose_b=True) + bi for wi, bi in zip(w, b_w)]
        rh = [tf.matmul(h, ri, transpose_b=True) + bi for ri, bi in zip(r, b_r)]
        c_new = c
        if rnn_mode == "lstm":
            i, f, o = (tf.sigmoid(wx[k] + rh[k]) for k in (0, 1, 3))
            c_new = f * c + i * tf.tanh(wx[2] + rh[2])
            h_new = o * tf.tanh(c_new)
        elif rnn_mode == "gru":
            reset, z = tf.sigmoid(wx[0] + rh[0]), tf.sigmoid(wx[1] + rh[1])
            h_new = (1 - z) * tf.tanh(wx[2] + reset * rh[2]) + z * h
        else:
            h_new = (tf.tanh if rnn_mode == "rnn_tanh" else tf.nn.relu)(wx[0] + rh[0])
        return m * h_new + (1 - m) * h, m * c_new + (1 - m) * c, m * h_new

    h, c, y = tf.scan(step, (x, valid), initializer=(h0, c0, tf.zeros_like(h0)))
    if not time_major:
        y = tf.transpose(y, (1, 0, 2))
    axis = 0 if time_major else 1
    h_n, c_n = tf.expand_dims(h[-1], axis), tf.expand_dims(c[-1], axis)
    return y, h_n, c_n, tf.zeros((0,), x.dtype), tf.zeros((0,), "int8")


@pytest.fixture
def calls():
    return []


CUDA = bool(tf.config.list_logical_devices("GPU")) and tf.test.is_built_with_cuda()


@pytest.fixture(params=["stand-in", "cuda"])
def gpu(request, monkeypatch, calls):
    """As on a CUDA GPU machine: the oneDNN op off, cuDNN's op on: the stand-in everywhere, the
    real `CudnnRNNV3` where there is a CUDA GPU. Returns the rnn modes run, in order."""
    monkeypatch.setitem(kernels._state, "gpu", True)
    monkeypatch.setitem(cudnn._state, "cuda", True)
    if request.param == "stand-in":
        monkeypatch.setattr(cudnn, "_op", lambda **kw: fake_cudnn_rnn_v3(calls=calls, **kw))
        return calls
    if not CUDA:
        pytest.skip("no CUDA GPU")

    def real(**kwargs):
        calls.append(kwargs["rnn_mode"])
        return tf.raw_ops.CudnnRNNV3(**kwargs)

    monkeypatch.setattr(cudnn, "_op", real)
    return calls


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_stand_in_computes_what_keras_feeds_cudnn(monkeypatch, cell):
    """Keras's GPU path (its weights packed for CudnnRNNV3) through the stand-in gives Keras's
    CPU results: the stand-in reads parameters the way the real op does."""
    keras_rnn = pytest.importorskip("keras.src.backend.tensorflow.rnn")
    packer = getattr(keras_rnn, f"_cudnn_{cell}", None)
    if packer is None:
        pytest.skip(f"keras moved _cudnn_{cell}")
    info = dict(tf.sysconfig.get_build_info(), is_cuda_build=True, is_rocm_build=False)
    monkeypatch.setattr(tf.sysconfig, "get_build_info", lambda: info)
    monkeypatch.setattr(tf.raw_ops, "CudnnRNNV3", fake_cudnn_rnn_v3)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    layer = layer(5, return_sequences=True, use_cudnn=False)
    layer.build(X.shape)
    randomize(layer, seed=3)
    h0 = tf.random.stateless_normal((4, 5), (1, 2))
    states = (h0, h0 * 0.5) if cell == "lstm" else (h0,)
    expected = layer(X, initial_state=list(states), mask=NONEMPTY)
    weights = [w.value for w in layer.cell.weights]
    _, outputs, finals = packer(
        tf.constant(X), *states, *weights, tf.constant(NONEMPTY), False, False, True
    )
    lengths = NONEMPTY.sum(axis=1)
    valid = NONEMPTY[:, :, None]
    np.testing.assert_allclose(np.where(valid, outputs, 0), np.where(valid, expected, 0), atol=1e-5)
    last = np.asarray(expected)[np.arange(4), lengths - 1]
    np.testing.assert_allclose(finals[0], last, atol=1e-5)


def test_parameter_buffer_size_is_cudnns():
    """W and R per gate plus two biases per gate, as `CudnnRNNParamsSize` counts."""
    for name, gates in (("lstm_states", 4), ("gru_reset_after", 3), ("simple_rnn", 1)):
        layer = pair(name)[0]
        size = int(cudnn.params(layer.cell.kernel_spec()).shape[0])
        assert size == gates * (5 * 3 + 5 * 5 + 2 * 5)


@pytest.mark.parametrize("mask", [None, "nonempty"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_cudnn_path_matches_loops(gpu, name, training, mask):
    mask = None if mask is None else NONEMPTY
    with_kernel, without = pair(name)
    outs_k, grads_k = run(with_kernel, mask, training)
    used = list(gpu)
    outs_l, grads_l = run(without, mask, training)
    assert_same(outs_k, outs_l)
    assert_same(grads_k, grads_l)
    assert bool(used) == (name not in UNSUPPORTED), used
    assert len(gpu) == len(used)  # kernel=False never runs it


@pytest.mark.parametrize("name", ["lstm_states", "bi_gru_pair", "simple_rnn_states"])
def test_cudnn_falls_back_for_masks_it_cannot_run(gpu, name):
    """Holes in a mask, or a sequence with no valid step: the loops run, same results."""
    for mask in (WITH_HOLES, EMPTY_ROW):
        with_kernel, without = pair(name)
        outs_k, grads_k = run(with_kernel, mask, True)
        assert gpu == []
        outs_l, grads_l = run(without, mask, True)
        assert_same(outs_k, outs_l)
        assert_same(grads_k, grads_l)
    # In a graph the same is decided when it runs.
    with_kernel, without = pair(name)
    graph_k = tf.function(lambda m: run(with_kernel, m, True))
    for mask in (NONEMPTY, WITH_HOLES, EMPTY_ROW):
        outs_k, grads_k = graph_k(tf.constant(mask))
        outs_l, grads_l = run(without, mask, True)
        assert_same(outs_k, outs_l)
        assert_same(grads_k, grads_l)


def test_cudnn_where_allowed_and_not_elsewhere(gpu):
    x = tf.constant(X)
    lstm = zl.LSTM(5, return_sequences=True)
    lstm(x)
    assert gpu and "ZooRnn" not in _op_types(lambda v: lstm(v, training=True), x)
    for layer, training in (
        (zl.LSTM(5, recurrent_dropout=0.2), True),
        (zl.GRU(5, reset_after=False), False),  # not cuDNN's GRU
        (zl.LSTM(5, use_cudnn=False), False),
        (zl.GRU(5, variant="minimal"), False),
        (zl.SimpleRNN(5, activation="sigmoid"), False),
        (zl.LSTM(5, kernel=False), False),
    ):
        del gpu[:]
        layer(x, training=training)
        assert gpu == [], layer.name
    del gpu[:]
    with kernels.portable():
        lstm(x)
    assert gpu == []
    zl.LSTM(5, recurrent_dropout=0.2)(x, training=False)
    assert gpu == ["lstm"]


def test_cudnn_in_float16(gpu):
    """mixed_float16 keeps its compute dtype: cuDNN runs float16."""
    layer = zl.LSTM(5, return_sequences=True, dtype="mixed_float16")
    out = layer(X)
    assert gpu == ["lstm"] and out.dtype == tf.float16
    reference = zl.LSTM(5, return_sequences=True, kernel=False)
    reference.build(X.shape)
    reference.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(out, "float32"), reference(X), atol=3e-3)


def test_export_on_a_gpu_machine_holds_no_cudnn_op(gpu, tmp_path):
    """A model exported where cuDNN runs is traced with the loops: it loads on any CPU."""
    inputs = keras.Input((6, 3), name="features")
    outputs = keras.layers.Dense(2)(zl.Bidirectional(zl.LSTM(4, return_sequences=True))(inputs))
    model = keras.Model(inputs, outputs)
    expected = model.predict_on_batch(X)
    assert gpu  # predicting ran cuDNN's op (the stand-in)
    del gpu[:]
    model.export(str(tmp_path / "model"), verbose=False)
    assert gpu == []
    loaded = tf.saved_model.load(str(tmp_path / "model"))
    graph_ops = {op.type for op in loaded.signatures["serving_default"].graph.get_operations()}
    for function in loaded.signatures["serving_default"].graph._functions.values():
        graph_ops |= {node.op for node in function.cached_definition.node_def}
    assert not any(op.startswith("Cudnn") for op in graph_ops), json.dumps(sorted(graph_ops))
    np.testing.assert_allclose(loaded.serve(tf.constant(X)), expected, atol=1e-5)
    if not CUDA:
        return
    # Exported where a GPU ran cuDNN: a process that sees no GPU loads it and gets the same.
    report = serve_in_new_process(str(tmp_path / "model"), X, CUDA_VISIBLE_DEVICES="")
    assert not report["gpu"]
    np.testing.assert_allclose(report["out"], expected, atol=1e-5)


def _cudnn_configurations():
    may = [
        zl.LSTM(4),
        zl.GRU(4, reset_after=True),
        zl.SimpleRNN(4, activation="relu"),
        zl.LSTM(4, dtype="mixed_float16"),
    ]
    never = [
        zl.LSTM(4, peephole=True),
        zl.LSTM(4, kernel=False),
        zl.GRU(4, reset_after=False),  # not cuDNN's GRU
        zl.LSTM(4, use_cudnn=False),
        zl.GRU(4, variant="minimal"),
        zl.SimpleRNN(4, activation="sigmoid"),
        zl.LSTM(4, dtype="bfloat16"),
        zl.LSTM(4, return_gates=True),
    ]
    return may, never


def _model_supports_jit(monkeypatch, layer):
    """Keras's own answer (what jit_compile="auto" asks), op determinism aside: another test
    may have turned that on for the process, and Keras then declines XLA for any model."""
    trainer = pytest.importorskip("keras.src.trainers.trainer")
    from tensorflow.python.framework import config

    monkeypatch.setattr(config, "is_op_determinism_enabled", lambda: False)
    inputs = keras.Input((6, 3), name="features")
    return trainer.model_supports_jit(keras.Model(inputs, zl.Bidirectional(layer)(inputs)))


def test_layers_that_may_run_cudnn_keep_keras_from_xla(gpu, monkeypatch):
    """As keras.layers.LSTM: Keras's jit_compile="auto" compiles a model with XLA on a GPU, where
    cuDNN's op cannot run, unless a layer says it does not support XLA."""
    may, never = _cudnn_configurations()
    assert [layer.supports_jit for layer in may] == [False] * len(may)
    assert [layer.supports_jit for layer in never] == [True] * len(never)
    assert _model_supports_jit(monkeypatch, zl.LSTM(4, return_sequences=True)) is False
    assert _model_supports_jit(monkeypatch, zl.LSTM(4, return_sequences=True, peephole=True))


@pytest.mark.skipif(CUDA, reason="a CUDA GPU is present")
def test_without_a_gpu_every_layer_supports_xla(monkeypatch):
    """No cuDNN here: jit_compile=True compiles the zoo's loops, as it always did."""
    may, never = _cudnn_configurations()
    assert all(layer.supports_jit for layer in may + never)
    assert _model_supports_jit(monkeypatch, zl.LSTM(4, return_sequences=True))
