"""`from_keras` / `to_keras`: the same function with the same weights, outputs and gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.zoo.layers.helpers import padded_batch, randomize
from zoo import layers

KERAS_LAYERS = {
    "simple_rnn": lambda **kw: keras.layers.SimpleRNN(6, **kw),
    "gru_reset_after": lambda **kw: keras.layers.GRU(6, reset_after=True, **kw),
    "gru_reset_before": lambda **kw: keras.layers.GRU(6, reset_after=False, **kw),
    "lstm": lambda **kw: keras.layers.LSTM(6, **kw),
    "bi_lstm": lambda **kw: keras.layers.Bidirectional(keras.layers.LSTM(6, **kw)),
    "bi_gru": lambda **kw: keras.layers.Bidirectional(keras.layers.GRU(6, **kw)),
}


def _run(layer, x, mask):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, mask=tf.constant(mask))
        first = out[0] if isinstance(out, (list, tuple)) else out
        loss = tf.reduce_sum(first * tf.cos(tf.range(first.shape[-1], dtype="float32")))
    return out, tape.gradient(loss, x)


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("name", sorted(KERAS_LAYERS))
def test_from_keras_matches_outputs_and_gradients(name, return_sequences):
    keras_layer = KERAS_LAYERS[name](return_sequences=return_sequences, return_state=True)
    x, mask = padded_batch([7, 4, 2, 7], features=5)
    keras_layer(x, mask=mask)
    randomize(keras_layer)
    zoo_layer = layers.from_keras(keras_layer)
    assert type(zoo_layer).__module__.startswith("zoo.layers")
    keras_out, keras_grad = _run(keras_layer, x, mask)
    zoo_out, zoo_grad = _run(zoo_layer, x, mask)
    assert len(zoo_out) == len(keras_out)
    for k, z in zip(keras_out, zoo_out):
        np.testing.assert_allclose(z, k, atol=1e-5)
    np.testing.assert_allclose(zoo_grad, keras_grad, atol=1e-4)


@pytest.mark.parametrize("name", ["simple_rnn", "gru_reset_after", "lstm"])
def test_from_keras_go_backwards(name):
    keras_layer = KERAS_LAYERS[name](return_sequences=True, go_backwards=True)
    x, mask = padded_batch([5, 3], features=5)
    keras_layer(x, mask=mask)
    randomize(keras_layer)
    zoo_layer = layers.from_keras(keras_layer)
    np.testing.assert_allclose(zoo_layer(x, mask=mask), keras_layer(x, mask=mask), atol=1e-5)


@pytest.mark.parametrize("name", sorted(KERAS_LAYERS))
def test_to_keras_round_trip(name):
    keras_layer = KERAS_LAYERS[name](return_sequences=True)
    x, mask = padded_batch([6, 2], features=5)
    keras_layer(x)
    randomize(keras_layer)
    back = layers.to_keras(layers.from_keras(keras_layer))
    assert type(back) is type(keras_layer)
    for a, b in zip(back.get_weights(), keras_layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(back(x, mask=mask), keras_layer(x, mask=mask), atol=1e-6)


def test_to_keras_refuses_variants_keras_lacks():
    for layer in (layers.GRU(4, variant="minimal"), layers.LSTM(4, peephole=True)):
        layer.build((None, None, 3))
        with pytest.raises(ValueError, match="no"):
            layers.to_keras(layer)


def test_from_keras_needs_a_built_recurrent_layer():
    with pytest.raises(ValueError, match="not built"):
        layers.from_keras(keras.layers.LSTM(3))
    dense = keras.layers.Dense(3)
    dense.build((None, 2))
    with pytest.raises(TypeError, match="from_keras takes"):
        layers.from_keras(dense)
