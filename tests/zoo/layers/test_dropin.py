"""zoo.layers as a drop-in for keras.layers: the same behaviour checks run on each Keras class
and on its zoo counterpart, one row each, so that a divergence shows as one failing row.

Each row builds layers through `make(library, **kwargs)` with Keras's own argument names;
the checks never ask which library they test, except to convert weights to the other one
(`from_keras` / `to_keras`) for numeric equality.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.zoo.layers.helpers import padded_batch, randomize
from zoo import layers as zoo_layers

LIBRARIES = {"keras": keras.layers, "zoo": zoo_layers}
KINDS = {
    # kind -> (class name, layer arguments both libraries take, states per direction)
    "simple_rnn": ("SimpleRNN", {}, 1),
    "gru": ("GRU", {"reset_after": True}, 1),
    "gru_reset_before": ("GRU", {"reset_after": False}, 1),
    "lstm": ("LSTM", {}, 2),
    "bidirectional_lstm": ("LSTM", {}, 2),
    "bidirectional_gru": ("GRU", {"reset_after": True}, 1),
}
ROWS = [(library, kind) for kind in KINDS for library in LIBRARIES]
UNITS, FEATURES = 4, 3


def make(library, kind, **kwargs):
    """A layer of `kind` from `library`; bidirectional kinds wrap it in that library's
    Bidirectional (`merge_mode` and `backward_layer` go to the wrapper)."""
    name, fixed, _ = KINDS[kind]
    wrapper = {k: kwargs.pop(k) for k in ("merge_mode",) if k in kwargs}
    module = LIBRARIES[library]
    layer = getattr(module, name)(UNITS, **fixed, **kwargs)
    if kind.startswith("bidirectional"):
        return module.Bidirectional(layer, **wrapper)
    return layer


def states_of(kind):
    return KINDS[kind][2] * (2 if kind.startswith("bidirectional") else 1)


def width(kind):
    return UNITS * (2 if kind.startswith("bidirectional") else 1)


def ready(layer, seed=0):
    """The layer built on (None, None, FEATURES) with random weights."""
    layer.build((None, None, FEATURES))
    randomize(layer, seed)
    return layer


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


rows = pytest.mark.parametrize("library,kind", ROWS)


@rows
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
def test_shapes(library, kind, return_sequences, return_state):
    layer = make(library, kind, return_sequences=return_sequences, return_state=return_state)
    out = as_list(layer(np.zeros((2, 5, FEATURES), "float32")))
    expected = [(2, 5, width(kind)) if return_sequences else (2, width(kind))]
    expected += [(2, UNITS)] * (states_of(kind) if return_state else 0)
    assert [tuple(o.shape) for o in out] == expected
    symbolic = as_list(layer(keras.Input((None, FEATURES))))
    assert [(len(o.shape), o.shape[-1]) for o in symbolic] == [(len(e), e[-1]) for e in expected]


@rows
def test_masking_alone_equals_padded(library, kind):
    layer = ready(make(library, kind, return_sequences=True))
    x, mask = padded_batch([5, 3, 1], features=FEATURES)
    batch = np.asarray(layer(x, mask=mask))
    for row, length in enumerate([5, 3, 1]):
        alone = np.asarray(layer(x[row : row + 1, :length]))[0]
        np.testing.assert_allclose(batch[row, :length], alone, atol=1e-5)
        assert np.all(
            batch[row, length:] == (0 if kind.startswith("bi") else batch[row, :length][-1])
        )


@rows
def test_mask_propagates(library, kind):
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, FEATURES, mask_zero=True)(inputs)
    out = make(library, kind, return_sequences=True)(embedded)
    assert out._keras_mask is not None or getattr(out, "_keras_mask", None) is not None


@rows
def test_statefulness(library, kind):
    x = np.random.default_rng(0).normal(size=(2, 6, FEATURES)).astype("float32")
    whole = ready(make(library, kind, return_sequences=True))
    stateful = make(library, kind, return_sequences=True, stateful=True)
    stateful.build((2, None, FEATURES))
    stateful.set_weights(whole.get_weights())
    if kind.startswith("bidirectional"):  # the backward half cannot be split in time
        first = np.asarray(stateful(x))
        stateful.reset_state()
        np.testing.assert_allclose(np.asarray(stateful(x)), first, atol=1e-6)
        return
    halves = np.concatenate([np.asarray(stateful(x[:, :3])), np.asarray(stateful(x[:, 3:]))], 1)
    np.testing.assert_allclose(halves, np.asarray(whole(x)), atol=1e-5)
    assert len(stateful.states) == states_of(kind)
    stateful.reset_state()
    assert all(not np.any(np.asarray(s)) for s in stateful.states)
    np.testing.assert_allclose(np.asarray(stateful(x[:, :3])), halves[:, :3], atol=1e-5)
    stateful.reset_states()  # Keras 2's name
    assert all(not np.any(np.asarray(s)) for s in stateful.states)


@rows
def test_return_state_is_last_output(library, kind):
    if kind.startswith("bidirectional"):
        pytest.skip("a Bidirectional's output at the last step is not its backward state")
    layer = ready(make(library, kind, return_sequences=True, return_state=True))
    x, mask = padded_batch([4, 2], features=FEATURES)
    out, state, *_ = layer(x, mask=mask)
    np.testing.assert_allclose(np.asarray(out)[[0, 1], [3, 1]], state, atol=1e-6)


@rows
def test_initial_states(library, kind):
    layer = ready(make(library, kind))
    x = np.random.default_rng(1).normal(size=(2, 5, FEATURES)).astype("float32")
    zeros = [np.zeros((2, UNITS), "float32")] * states_of(kind)
    ones = [np.ones((2, UNITS), "float32")] * states_of(kind)
    np.testing.assert_allclose(layer(x, initial_state=zeros), layer(x), atol=1e-6)
    assert not np.allclose(layer(x, initial_state=ones), layer(x), atol=1e-3)


@rows
def test_get_initial_state(library, kind):
    if kind.startswith("bidirectional"):
        pytest.skip("keras.layers.Bidirectional has no get_initial_state")
    states = make(library, kind).get_initial_state(3)
    assert [tuple(s.shape) for s in states] == [(3, UNITS)] * states_of(kind)
    assert not any(np.any(np.asarray(s)) for s in states)


@rows
@pytest.mark.parametrize("rates", [{"dropout": 0.5}, {"recurrent_dropout": 0.5}])
def test_dropout_only_in_training(library, kind, rates):
    layer = ready(make(library, kind, seed=1, **rates))
    x = np.random.default_rng(2).normal(size=(4, 6, FEATURES)).astype("float32")
    inference = np.asarray(layer(x, training=False))
    np.testing.assert_array_equal(inference, np.asarray(layer(x)))
    assert not np.allclose(np.asarray(layer(x, training=True)), inference, atol=1e-4)


@rows
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_dtype_policies(library, kind, policy):
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        layer = make(library, kind, return_sequences=True, return_state=True)
        x, mask = padded_batch([5, 3], features=FEATURES)
        for call_mask in (None, mask):
            for training in (False, True):
                out = as_list(layer(x, mask=call_mask, training=training))
                assert {str(o.dtype.name) for o in out} == {layer.compute_dtype}
        assert {v.dtype for v in layer.weights} == {"float32"}
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


@rows
def test_keras_file_round_trip(library, kind, tmp_path):
    inputs = keras.Input((None, FEATURES), name="sequences")
    model = keras.Model(inputs, make(library, kind, return_sequences=True)(inputs))
    randomize(model)
    x, _ = padded_batch([5, 5], features=FEATURES)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@rows
@pytest.mark.parametrize("go_backwards", [False, True])
def test_same_function_as_the_other_library(library, kind, go_backwards):
    """The layer and its counterpart in the other library (weights converted with from_keras
    or to_keras) agree on outputs, states and input gradients, masked batch included."""
    layer = ready(
        make(library, kind, return_sequences=True, return_state=True, go_backwards=go_backwards)
        if not kind.startswith("bi")
        else make(library, kind, return_sequences=True, return_state=True)
    )
    other = (zoo_layers.from_keras if library == "keras" else zoo_layers.to_keras)(layer)
    x, mask = padded_batch([6, 4, 1], features=FEATURES)
    results = []
    for each in (layer, other):
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = as_list(each(xt, mask=tf.constant(mask)))
            loss = tf.reduce_sum(out[0] * tf.sin(tf.range(out[0].shape[-1], dtype="float32")))
        results.append((out, tape.gradient(loss, xt)))
    (mine, my_grad), (theirs, their_grad) = results
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(my_grad, their_grad, atol=1e-4)


@rows
def test_cell_and_properties(library, kind):
    if kind.startswith("bidirectional"):
        pytest.skip("Bidirectional has no cell")
    layer = make(library, kind, dropout=0.25, kernel_initializer="ones")
    assert layer.units == UNITS and layer.cell.units == UNITS
    assert layer.dropout == 0.25 and layer.cell.dropout == 0.25
    assert layer.recurrent_dropout == 0.0 and layer.use_bias
    assert isinstance(layer.kernel_initializer, keras.initializers.Ones)
    assert keras.activations.serialize(layer.activation) == "tanh"
    if kind != "simple_rnn":
        assert keras.activations.serialize(layer.recurrent_activation) == "sigmoid"
    if kind.startswith("gru"):
        assert layer.reset_after == KINDS[kind][1]["reset_after"]
    if kind == "lstm":
        assert layer.unit_forget_bias


@rows
def test_every_keras_argument_is_accepted(library, kind):
    """Keras 3.15's constructor arguments, non-defaults where they are safe to change."""
    name = KINDS[kind][0]
    arguments = {
        "activation": "tanh",
        "use_bias": True,
        "kernel_initializer": "glorot_uniform",
        "recurrent_initializer": "orthogonal",
        "bias_initializer": "zeros",
        "kernel_regularizer": "l2",
        "recurrent_regularizer": "l2",
        "bias_regularizer": "l1",
        "activity_regularizer": "l1",
        "kernel_constraint": "non_neg",
        "recurrent_constraint": "max_norm",
        "bias_constraint": "non_neg",
        "dropout": 0.1,
        "recurrent_dropout": 0.1,
        "seed": 3,
        "return_sequences": True,
        "return_state": False,
        "go_backwards": False,
        "stateful": False,
        "unroll": True,
    }
    if name != "SimpleRNN":
        arguments.update(recurrent_activation="sigmoid", use_cudnn=False, implementation=1)
    if name == "LSTM":
        arguments["unit_forget_bias"] = False
    layer = make(library, kind, **arguments)
    out = layer(np.ones((2, 3, FEATURES), "float32"), training=True)
    assert tuple(out.shape) == (2, 3, width(kind))
    inner = layer.forward_layer if kind.startswith("bidirectional") else layer
    config = inner.get_config()
    assert config["unroll"] is True and config["dropout"] == 0.1
    assert type(inner).from_config(config).get_config() == config


@pytest.mark.parametrize("library", LIBRARIES)
def test_use_cudnn_true_raises_where_cudnn_cannot_run(library):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("cuDNN can run here")
    layer = LIBRARIES[library].LSTM(UNITS, use_cudnn=True)
    with pytest.raises(ValueError, match="use_cudnn=True"):
        layer(np.ones((2, 3, FEATURES), "float32"))
    with pytest.raises(ValueError, match="use_cudnn"):
        LIBRARIES[library].GRU(UNITS, use_cudnn="sometimes")


@pytest.mark.parametrize("library", LIBRARIES)
def test_simple_rnn_has_no_use_cudnn(library):
    assert not hasattr(LIBRARIES[library].SimpleRNN(UNITS), "use_cudnn")
    with pytest.raises(ValueError, match="use_cudnn"):
        LIBRARIES[library].SimpleRNN(UNITS, use_cudnn=False)


def test_reset_state_to_given_states():
    layer = zoo_layers.LSTM(UNITS, stateful=True)
    layer.build((2, None, FEATURES))
    given = [np.full((2, UNITS), 0.5, "float32"), np.full((2, UNITS), -1.0, "float32")]
    layer.reset_state(given)
    for state, value in zip(layer.states, given):
        np.testing.assert_array_equal(np.asarray(state), value)
    with pytest.raises(ValueError, match="keeps 2 states"):
        layer.reset_state(given[:1])
    bi = zoo_layers.Bidirectional(zoo_layers.GRU(UNITS, stateful=True))
    bi.build((2, None, FEATURES))
    bi.reset_state([np.ones((2, UNITS), "float32"), -np.ones((2, UNITS), "float32")])
    assert [float(np.asarray(s)[0, 0]) for s in bi.states] == [1.0, -1.0]
    with pytest.raises(AttributeError, match="stateful"):
        zoo_layers.Bidirectional(zoo_layers.GRU(UNITS)).reset_state()


@pytest.mark.parametrize("inner", ["GRU", "LSTM", "SimpleRNN", "RNN"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_zoo_bidirectional_wraps_keras_layers_as_keras_does(inner, merge_mode):
    """`zoo.layers.Bidirectional(keras.layers.X(...))` equals `keras.layers.Bidirectional`."""

    def layer(**kwargs):
        if inner == "RNN":
            return keras.layers.RNN(keras.layers.LSTMCell(UNITS), **kwargs)
        return getattr(keras.layers, inner)(UNITS, **kwargs)

    backward = layer(go_backwards=True, return_sequences=True, return_state=True)
    forward = layer(return_sequences=True, return_state=True)
    ours = zoo_layers.Bidirectional(forward, merge_mode=merge_mode, backward_layer=backward)
    theirs = keras.layers.Bidirectional(forward, merge_mode=merge_mode, backward_layer=backward)
    ready(ours)
    theirs.build((None, None, FEATURES))
    theirs.set_weights(ours.get_weights())
    x, mask = padded_batch([5, 2], features=FEATURES)
    for a, b in zip(as_list(ours(x, mask=mask)), as_list(theirs(x, mask=mask)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert type(ours.forward_layer) is type(forward)


def test_weights_argument_sets_initial_weights():
    source = ready(zoo_layers.Bidirectional(zoo_layers.LSTM(UNITS)))
    copy = zoo_layers.Bidirectional(zoo_layers.LSTM(UNITS), weights=source.get_weights())
    copy.build((None, None, FEATURES))
    for a, b in zip(copy.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_stacked_rnn_dtype_policies(policy):
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        stack = zoo_layers.StackedRNN(
            [
                zoo_layers.Bidirectional(zoo_layers.LSTM(UNITS, return_sequences=True)),
                zoo_layers.GRU(UNITS, return_sequences=True, return_state=True),
            ]
        )
        x, mask = padded_batch([5, 3], features=FEATURES)
        for training in (False, True):
            out = stack(x, mask=mask, training=training)
            assert {o.dtype.name for o in out} == {stack.compute_dtype}
        assert {v.dtype for v in stack.weights} == {"float32"}
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
