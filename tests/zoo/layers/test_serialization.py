"""Every layer survives a `.keras` round trip: same config, same outputs."""

import keras
import numpy as np
import pytest

from tests.zoo.layers.helpers import VARIANTS, padded_batch, randomize
from zoo import layers


def _model(variant):
    inputs = keras.Input((None, 4), name="x")
    h = keras.layers.Masking()(inputs)
    h = layers.Bidirectional(VARIANTS[variant](return_sequences=True, dropout=0.1))(h)
    h = layers.StackedRNN(
        [VARIANTS[variant](return_sequences=True), VARIANTS[variant]()], dropout=0.2
    )(h)
    return keras.Model(inputs, keras.layers.Dense(2)(h))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_keras_file_round_trip(variant, tmp_path):
    model = _model(variant)
    randomize(model)
    x, mask = padded_batch([5, 3, 1])
    x[~mask] = 0.0  # Masking layer: all-zero steps are padding
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)  # safe_mode: no lambdas, nothing unpickled
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "layer",
    [
        layers.SimpleRNNCell(3, activation="relu", dropout=0.2),
        layers.GRUCell(3, variant="minimal", recurrent_dropout=0.1),
        layers.GRUCell(3, reset_after=True, recurrent_activation="hard_sigmoid"),
        layers.LSTMCell(3, peephole=True, unit_forget_bias=False),
        layers.LSTM(3, peephole=True, return_gates=True, go_backwards=True, loop="plain"),
        layers.GRU(3, variant="minimal", return_state=True, kernel_regularizer="l2"),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_cell_in_keras_rnn_round_trip(tmp_path):
    inputs = keras.Input((None, 4))
    out = keras.layers.RNN(layers.LSTMCell(3, peephole=True))(inputs)
    model = keras.Model(inputs, out)
    randomize(model)
    model.save(tmp_path / "m.keras")
    x = np.ones((2, 3, 4), "float32")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "m.keras")(x), model(x))


@keras.saving.register_keras_serializable(package="zoo_tests")
class TwoReadings(keras.Model):
    """Two Bidirectional layers made from one recurrent layer object (each holds copies)."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        inner = layers.LSTM(units, return_sequences=True)
        self.first = layers.Bidirectional(inner)
        self.second = layers.Bidirectional(inner, merge_mode="sum")

    def call(self, x):
        return self.second(self.first(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_layers_made_while_a_model_loads_are_their_own(tmp_path):
    """`keras.saving.load_model` matches the objects it serializes by `id()` while a model
    loads; the copies `Bidirectional` makes of the layer it wraps must stay out of that (one
    object copied twice, or a freed layer's id reused, would otherwise come back as an earlier
    copy: both directions one layer)."""
    model = TwoReadings()
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype("float32")
    expected = model(x)
    path = tmp_path / "two.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    directions = [reloaded.first.forward_layer, reloaded.first.backward_layer]
    directions += [reloaded.second.forward_layer, reloaded.second.backward_layer]
    assert len({id(layer) for layer in directions}) == 4
    assert [layer.go_backwards for layer in directions] == [False, True, False, True]
    np.testing.assert_allclose(reloaded(x), expected, atol=1e-6)
