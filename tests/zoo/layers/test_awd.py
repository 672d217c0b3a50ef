"""AWD-LSTM's regularisation (Merity et al. 2018): weight dropout on the recurrent kernel,
locked dropout between layers, embedding dropout. Each does its job in training and nothing at
inference, through the fast kernels, Bidirectional, stacking, .keras and Keras interop."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.zoo.layers.helpers import padded_batch, randomize
from zoo import kernels, layers

X = np.random.default_rng(0).normal(size=(4, 7, 5)).astype("float32")
SEQUENCE_LAYERS = {
    "lstm": layers.LSTM,
    "gru": layers.GRU,
    "simple_rnn": layers.SimpleRNN,
}


def built(layer, seed=0):
    layer.build((None, None, X.shape[-1]))
    randomize(layer, seed)
    return layer


@pytest.mark.parametrize("name", sorted(SEQUENCE_LAYERS))
def test_weight_dropout_changes_training_and_not_inference(name):
    cls = SEQUENCE_LAYERS[name]
    dropped = built(cls(6, weight_dropout=0.5, return_sequences=True, seed=1))
    plain = built(cls(6, return_sequences=True))
    plain.set_weights(dropped.get_weights())
    first, second = (np.asarray(dropped(X, training=True)) for _ in range(2))
    assert not np.allclose(first, second, atol=1e-4)  # a new mask per batch
    assert not np.allclose(first, np.asarray(plain(X, training=True)), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(dropped(X)), np.asarray(plain(X)))
    np.testing.assert_array_equal(
        np.asarray(dropped(X, training=False)), np.asarray(dropped(X, training=False))
    )


def test_the_issue_example():
    layer = layers.LSTM(64, weight_dropout=0.5, return_sequences=True)
    a, b = layer(X, training=True), layer(X, training=True)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(layer(X, training=False), layer(X, training=False))


@pytest.mark.parametrize("name", sorted(SEQUENCE_LAYERS))
def test_weight_dropout_is_one_mask_per_call_whatever_runs_it(name):
    """The fused kernel and the loops draw the same mask (same seed) and compute the same
    outputs and gradients with it: the masked kernel is just another kernel."""
    if not kernels.usable():
        pytest.skip("the zoo's CPU kernel is not usable here")
    cls = SEQUENCE_LAYERS[name]
    results = []
    for kernel in (True, False):
        layer = built(cls(6, weight_dropout=0.4, return_sequences=True, seed=7, kernel=kernel))
        with tf.GradientTape() as tape:
            out = layer(X, training=True)
            loss = tf.reduce_sum(out * out)
        results.append((out, tape.gradient(loss, layer.trainable_weights)))
    (out_kernel, grads_kernel), (out_loop, grads_loop) = results
    np.testing.assert_allclose(out_kernel, out_loop, atol=1e-5)
    for a, b in zip(grads_kernel, grads_loop):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_weight_dropout_drops_whole_recurrent_weights():
    """A dropped entry of U gets no gradient: DropConnect on the weights, not the states."""
    layer = built(layers.SimpleRNN(6, weight_dropout=0.5, seed=3, kernel=False))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(X, training=True))
    grad = tape.gradient(loss, layer.cell.recurrent_kernel).numpy()
    assert 0.2 < np.mean(grad == 0) < 0.8


def test_bidirectional_each_direction_its_own_mask_and_stacking():
    bi = built(layers.Bidirectional(layers.LSTM(6, weight_dropout=0.5, return_sequences=True)))
    plain = built(layers.Bidirectional(layers.LSTM(6, return_sequences=True)))
    plain.set_weights(bi.get_weights())
    x, mask = padded_batch([7, 4, 2, 7], features=X.shape[-1])
    assert not np.allclose(bi(x, mask=mask, training=True), bi(x, mask=mask, training=True))
    np.testing.assert_array_equal(bi(x, mask=mask), plain(x, mask=mask))
    stack = layers.StackedRNN(
        [layers.LSTM(6, return_sequences=True, weight_dropout=0.3), layers.GRU(6)],
        dropout=0.3,
        locked=True,
    )
    stack.build((None, None, X.shape[-1]))
    assert not np.allclose(stack(X, training=True), stack(X, training=True))
    np.testing.assert_array_equal(stack(X), stack(X, training=False))


def test_keras_round_trip_keeps_the_regularisation(tmp_path):
    inputs = keras.Input((None,), dtype="int32", name="tokens")
    h = layers.Embedding(20, 5, embedding_dropout=0.1, mask_zero=True)(inputs)
    h = layers.StackedRNN(
        [
            layers.Bidirectional(layers.LSTM(6, return_sequences=True, weight_dropout=0.5)),
            layers.GRU(6, return_sequences=True, weight_dropout=0.2),
        ],
        dropout=0.25,
        locked=True,
    )(h)
    h = layers.LockedDropout(0.2)(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    model.save(tmp_path / "awd.keras")
    loaded = keras.models.load_model(tmp_path / "awd.keras")
    tokens = np.array([[3, 4, 5, 0], [6, 7, 0, 0]])
    np.testing.assert_allclose(loaded(tokens), model(tokens), atol=1e-6)
    stack = loaded.get_layer(model.layers[2].name)
    assert stack.locked and stack.layers[1].cell.weight_dropout == 0.2
    assert stack.layers[0].forward_layer.weight_dropout == 0.5
    config = loaded.layers[1].get_config()
    assert config["embedding_dropout"] == 0.1 and config["mask_zero"]


def test_interop_keeps_the_inference_function():
    """Keras has no weight dropout: to_keras gives the layer's inference function."""
    zoo_layer = built(layers.LSTM(6, weight_dropout=0.5, return_sequences=True))
    keras_layer = layers.to_keras(zoo_layer)
    np.testing.assert_allclose(keras_layer(X), zoo_layer(X), atol=1e-5)
    back = layers.from_keras(keras_layer)
    assert back.weight_dropout == 0.0
    np.testing.assert_allclose(back(X), zoo_layer(X), atol=1e-5)


def test_locked_dropout_one_mask_per_sequence():
    x = np.ones((3, 6, 8), "float32")
    y = np.asarray(layers.LockedDropout(0.5, seed=2)(x, training=True))
    assert np.all(y == y[:, :1])  # the same mask at every step
    assert set(np.unique(y)) == {0.0, 2.0}
    assert not np.all(y[0] == y[1])  # each sequence its own mask
    np.testing.assert_array_equal(layers.LockedDropout(0.5)(x), x)
    step_wise = np.asarray(keras.layers.Dropout(0.5, seed=2)(x, training=True))
    assert not np.all(step_wise == step_wise[:, :1])  # what keras.layers.Dropout does instead


def test_locked_dropout_passes_masks():
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    out = layers.LockedDropout(0.3)(h)
    assert out._keras_mask is not None


def test_embedding_dropout_drops_word_types():
    ids = np.array([[1, 2, 1, 3, 1, 2, 0, 0]] * 4)
    layer = layers.Embedding(50, 16, embedding_dropout=0.5, seed=4)
    plain = keras.layers.Embedding(50, 16)
    plain.build(ids.shape)
    layer.build(ids.shape)
    layer.set_weights(plain.get_weights())
    np.testing.assert_array_equal(layer(ids), plain(ids))
    out, base = np.asarray(layer(ids, training=True)), np.asarray(plain(ids))
    for word in (1, 2, 3):
        scale = out[ids == word][:, 0] / base[ids == word][:, 0]
        np.testing.assert_allclose(scale, scale[0], atol=1e-5)  # every occurrence alike
        assert scale[0] == pytest.approx(0.0) or scale[0] == pytest.approx(2.0)
    dropped = [
        np.all(np.asarray(layer(np.arange(50)[None], training=True))[0] == 0, axis=-1).mean()
        for _ in range(5)
    ]
    assert 0.3 < np.mean(dropped) < 0.7


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_rates_are_checked(rate):
    with pytest.raises(ValueError, match="must be in"):
        layers.LSTM(4, weight_dropout=rate)
    with pytest.raises(ValueError, match="must be in"):
        layers.LockedDropout(rate)
    with pytest.raises(ValueError, match="must be in"):
        layers.Embedding(4, 2, embedding_dropout=rate)
