"""Each cell computes exactly its course equation: NumPy, step by step, agrees to 1e-5."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.zoo.layers import reference
from tests.zoo.layers.helpers import VARIANTS, built
from zoo import layers

X = np.random.default_rng(3).normal(size=(3, 7, 4)).astype("float32")


def numpy_outputs(layer, x):
    cell = layer.cell
    if isinstance(cell, layers.LSTMCell):
        return reference.lstm(cell, x)[0]
    if isinstance(cell, layers.GRUCell):
        return reference.gru(cell, x)
    g = np.tanh if cell.activation is keras.activations.tanh else (lambda v: np.maximum(v, 0))
    return reference.simple_rnn(cell, x, g)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("loop", ["kernel", "fused", "plain"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_sequence_layer_matches_numpy(variant, loop, training):
    """Every path: the oneDNN kernel (where the variant has one), fused (XLA) and plain loops
    in training, per-step projection in inference."""
    if loop == "kernel":
        layer = built(VARIANTS[variant](return_sequences=True))
    else:
        layer = built(VARIANTS[variant](return_sequences=True, loop=loop, kernel=False))
    expected = numpy_outputs(layer, X.astype("float64"))
    np.testing.assert_allclose(layer(X, training=training), expected, atol=1e-5)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cell_inside_keras_rnn_matches_numpy(variant):
    zoo_layer = built(VARIANTS[variant]())
    rnn = keras.layers.RNN(zoo_layer.cell, return_sequences=True)
    np.testing.assert_allclose(rnn(X), numpy_outputs(zoo_layer, X.astype("float64")), atol=1e-5)


def test_lstm_final_cell_state_matches_numpy():
    layer = built(layers.LSTM(5, peephole=True, return_state=True))
    _, a, c = layer(X)
    expected_a, expected_c = reference.lstm(layer.cell, X.astype("float64"))
    np.testing.assert_allclose(a, expected_a[:, -1], atol=1e-5)
    np.testing.assert_allclose(c, expected_c, atol=1e-5)


def test_forget_bias_starts_at_one():
    cell = layers.LSTMCell(3)
    cell.build((None, 2))
    np.testing.assert_array_equal(np.asarray(cell.bias), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


def test_return_gates_are_gate_activations():
    layer = built(layers.LSTM(5, return_sequences=True, return_gates=True))
    outputs, gates = layer(X)
    assert gates.shape == (3, 7, 3, 5)
    assert np.all((np.asarray(gates) >= 0) & (np.asarray(gates) <= 1))
    # a<t> = Γo * tanh(c<t>) with |tanh| < 1, so |a<t>| <= Γo
    assert np.all(np.abs(outputs) <= np.asarray(gates)[:, :, 2] + 1e-6)
    gru_gates = built(layers.GRU(5, variant="minimal", return_gates=True))(X)[1]
    assert gru_gates.shape == (3, 7, 1, 5)


def test_simple_rnn_has_no_gates():
    with pytest.raises(ValueError, match="no gates"):
        layers.SimpleRNN(4, return_gates=True)


@pytest.mark.parametrize("graph", [False, True])
def test_dropout_mask_is_one_per_sequence(graph):
    """Constant input, dropout on x only, no recurrent weights: if every step of a sequence sees
    the same mask, every step's output is the same, in keras.layers.RNN and in our own layer."""
    layer = layers.SimpleRNN(5, dropout=0.5, return_sequences=True)
    built(layer)
    weights = layer.get_weights()
    weights[1] = np.zeros_like(weights[1])  # recurrent kernel
    layer.set_weights(weights)
    x = np.ones((64, 6, 4), "float32")
    for run in (keras.layers.RNN(layer.cell, return_sequences=True), layer):
        call = tf.function(run) if graph else run
        first = np.asarray(call(x, training=True))
        np.testing.assert_allclose(first, np.repeat(first[:, :1], 6, axis=1), atol=1e-6)
        second = np.asarray(call(x, training=True))
        assert not np.allclose(first, second), "a new batch must draw a new mask"
        np.testing.assert_allclose(call(x, training=False), call(x, training=False))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_layer_applies_one_input_mask_to_every_step(variant, monkeypatch):
    """Training with a (batch, features) input mask equals inference on x * mask at every step."""
    layer = built(VARIANTS[variant](return_sequences=True, dropout=0.5))
    x = np.random.default_rng(0).normal(size=(8, 6, 4)).astype("float32")
    mask = (np.random.default_rng(1).random((8, 4)) > 0.5).astype("float32") * 2
    monkeypatch.setattr(
        layer.cell,
        "sequence_dropout_masks",
        lambda first_input, first_state, training: (mask, None) if training else (None, None),
    )
    np.testing.assert_allclose(
        layer(x, training=True), layer(x * mask[:, None], training=False), atol=1e-5
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="variant"):
        layers.GRU(4, variant="tiny")
    with pytest.raises(ValueError, match="minimal"):
        layers.GRU(4, variant="minimal", reset_after=True)
    with pytest.raises(ValueError, match="loop"):
        layers.LSTM(4, loop="fast")
    with pytest.raises(ValueError, match="dropout"):
        layers.LSTM(4, dropout=1.5)
