"""Shared fixtures for the layer tests: every variant, random weights, padded batches."""

import numpy as np

from zoo import layers

# name -> (sequence layer factory, NumPy reference taking (cell, x) -> all outputs)
VARIANTS = {
    "simple_rnn": lambda **kw: layers.SimpleRNN(5, **kw),
    "simple_rnn_relu": lambda **kw: layers.SimpleRNN(5, activation="relu", **kw),
    "gru_full": lambda **kw: layers.GRU(5, reset_after=False, **kw),
    "gru_full_reset_after": lambda **kw: layers.GRU(5, reset_after=True, **kw),
    "gru_minimal": lambda **kw: layers.GRU(5, variant="minimal", **kw),
    "lstm": lambda **kw: layers.LSTM(5, **kw),
    "lstm_peephole": lambda **kw: layers.LSTM(5, peephole=True, **kw),
}


def randomize(layer, seed=0, scale=0.5):
    """Gives every weight (biases and peepholes too) random values."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(0, scale, w.shape).astype("float32") for w in layer.get_weights()]
    )


def built(layer, features=4, seed=0):
    layer.build((None, None, features))
    randomize(layer, seed)
    return layer


def padded_batch(lengths, features=4, seed=1):
    """A right-padded batch (garbage in the padding) and its boolean mask."""
    rng = np.random.default_rng(seed)
    steps = max(lengths)
    x = rng.normal(size=(len(lengths), steps, features)).astype("float32")
    mask = np.arange(steps)[None, :] < np.asarray(lengths)[:, None]
    return x, mask
