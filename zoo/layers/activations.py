"""Activations whose derivative the fused recurrent loop can compute from the activation's output.

The fused loop (`zoo.layers.scan`) writes its own backward pass; it needs f'(x) expressed through
y = f(x), which these common activations allow. Any other activation still works: the layer then
falls back to the plain loop differentiated by TensorFlow.
"""

import keras
import tensorflow as tf


def _hard_sigmoid_grad(y):
    inside = tf.logical_and(y > 0, y < 1)
    return tf.where(inside, tf.cast(1.0 / 6.0, y.dtype), tf.zeros_like(y))


# name -> f'(x) as a function of y = f(x)
_DERIVATIVE_FROM_OUTPUT = {
    "tanh": lambda y: 1 - y * y,
    "sigmoid": lambda y: y * (1 - y),
    "relu": lambda y: tf.cast(y > 0, y.dtype),
    "linear": tf.ones_like,
    "hard_sigmoid": _hard_sigmoid_grad,
}


def name_of(activation):
    """The registered name of a Keras activation function, or `None` for a custom callable."""
    try:
        name = keras.activations.serialize(activation)
    except (ValueError, TypeError):
        return None
    return name if isinstance(name, str) else None


def derivative_from_output(activation):
    """f'(x) as a function of f(x), or `None` when not known for this activation."""
    return _DERIVATIVE_FROM_OUTPUT.get(name_of(activation))
