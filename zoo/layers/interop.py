"""Exact weight exchange with `keras.layers.SimpleRNN`, `GRU`, `LSTM` and `Bidirectional`.

`from_keras(layer)` returns the zoo layer that computes the same function with the same weights;
`to_keras(layer)` goes back where Keras has the variant (not the minimal GRU, not peepholes).
The only change of weights is the GRU's update gate: Keras's z is the course's 1 - Γu, and since
σ(-x) = 1 - σ(x) the z block of every GRU kernel and bias is negated on the way over.
"""

import keras
import numpy as np

from zoo.layers.bidirectional import Bidirectional
from zoo.layers.gru import GRU
from zoo.layers.lstm import LSTM
from zoo.layers.simple_rnn import SimpleRNN

# Cell settings that mean the same in Keras and in the zoo.
_SHARED_CELL_KEYS = (
    "units",
    "activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
)
_SHARED_LAYER_KEYS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "zero_output_for_mask",
    "unroll",
)
_GATED_KEYS = ("recurrent_activation",)


def _negate_update_block(weights, units):
    """Keras z <-> course Γu: negate the first `units` columns of each GRU weight."""
    flipped = []
    for w in weights:
        w = np.array(w, copy=True)
        w[..., :units] = -w[..., :units]
        flipped.append(w)
    return flipped


def _check_built(layer):
    if not layer.built:
        raise ValueError(f"{layer.name} is not built: call it on data (or build it) first")


def _config_subset(config, keys):
    return {key: config[key] for key in keys if key in config}


def from_keras(layer):
    """The zoo layer computing the same function as a built Keras recurrent layer.

    Args:
        layer: a built `keras.layers.SimpleRNN`, `GRU` (either `reset_after`), `LSTM`, or a
            `keras.layers.Bidirectional` of one of them.
    Returns:
        A built `zoo.layers.SimpleRNN`, `GRU`, `LSTM` or `Bidirectional` with copied weights.

    Example:
        >>> keras_lstm = keras.layers.LSTM(8); keras_lstm(np.zeros((1, 3, 4), "float32"))
        >>> zoo_lstm = from_keras(keras_lstm)
    """
    _check_built(layer)
    if isinstance(layer, keras.layers.Bidirectional):
        forward = from_keras(layer.forward_layer)
        backward = from_keras(layer.backward_layer)
        result = Bidirectional(
            forward, merge_mode=layer.merge_mode, backward_layer=backward, name=layer.name
        )
        input_dim = layer.forward_layer.cell.kernel.shape[0]
        result.build((None, None, input_dim))
        result.forward_layer.set_weights(forward.get_weights())
        result.backward_layer.set_weights(backward.get_weights())
        return result
    if getattr(layer, "stateful", False):
        raise ValueError("stateful Keras layers are not supported by from_keras")
    config = layer.get_config()
    kwargs = _config_subset(config, _SHARED_CELL_KEYS + _SHARED_LAYER_KEYS)
    kwargs["name"] = layer.name
    kwargs["dtype"] = layer.dtype_policy
    weights = layer.get_weights()
    if hasattr(layer, "use_cudnn"):  # an attribute, not in Keras's config
        kwargs["use_cudnn"] = layer.use_cudnn
    if isinstance(layer, keras.layers.LSTM):
        kwargs.update(_config_subset(config, _GATED_KEYS + ("unit_forget_bias",)))
        result = LSTM(**kwargs)
    elif isinstance(layer, keras.layers.GRU):
        kwargs.update(_config_subset(config, _GATED_KEYS))
        result = GRU(variant="full", reset_after=config["reset_after"], **kwargs)
        weights = _negate_update_block(weights, layer.cell.units)
    elif isinstance(layer, keras.layers.SimpleRNN):
        result = SimpleRNN(**kwargs)
    else:
        raise TypeError(
            f"from_keras takes keras.layers.SimpleRNN, GRU, LSTM or Bidirectional; "
            f"got {type(layer).__name__}"
        )
    result.build((None, None, layer.cell.kernel.shape[0]))
    result.set_weights(weights)
    return result


def to_keras(layer):
    """The Keras layer computing the same function as a built zoo layer.

    Raises `ValueError` for variants Keras does not have: the minimal GRU and the peephole LSTM.
    """
    _check_built(layer)
    if isinstance(layer, Bidirectional):
        forward = to_keras(layer.forward_layer)
        backward = to_keras(layer.backward_layer)
        result = keras.layers.Bidirectional(
            forward, merge_mode=layer.merge_mode, backward_layer=backward, name=layer.name
        )
        result.build((None, None, layer.forward_layer.cell.kernel.shape[0]))
        result.forward_layer.set_weights(forward.get_weights())
        result.backward_layer.set_weights(backward.get_weights())
        return result
    config = layer.get_config()
    kwargs = _config_subset(config, _SHARED_CELL_KEYS + _SHARED_LAYER_KEYS)
    kwargs["name"] = layer.name
    kwargs["dtype"] = layer.dtype_policy
    weights = layer.get_weights()
    if layer.has_use_cudnn:
        kwargs["use_cudnn"] = layer.use_cudnn
    if isinstance(layer, LSTM):
        if layer.cell.peephole:
            raise ValueError("keras.layers.LSTM has no peephole connections")
        kwargs.update(_config_subset(config, _GATED_KEYS + ("unit_forget_bias",)))
        result = keras.layers.LSTM(**kwargs)
    elif isinstance(layer, GRU):
        if layer.cell.variant != "full":
            raise ValueError("keras.layers.GRU has no minimal variant")
        kwargs.update(_config_subset(config, _GATED_KEYS))
        result = keras.layers.GRU(reset_after=layer.cell.reset_after, **kwargs)
        weights = _negate_update_block(weights, layer.units)
    elif isinstance(layer, SimpleRNN):
        result = keras.layers.SimpleRNN(**kwargs)
    else:
        raise TypeError(f"to_keras takes a zoo recurrent layer, got {type(layer).__name__}")
    result.build((None, None, layer.cell.kernel.shape[0]))
    result.set_weights(weights)
    return result
