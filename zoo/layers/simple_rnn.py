"""The simple RNN: `SimpleRNNCell` (one step) and `SimpleRNN` (the sequence)."""

import keras
import tensorflow as tf

from zoo.layers import activations as zoo_activations
from zoo.layers.cell import RecurrentCell, _recurrent_input
from zoo.layers.recurrent import Recurrent


@keras.saving.register_keras_serializable(package="zoo")
class SimpleRNNCell(RecurrentCell):
    """One step of the simple RNN (course: "Recurrent Neural Network Model").

        a<t> = g(Wa [a<t-1>, x<t>] + ba),    g = tanh (relu allowed)

    `kernel` holds the `x<t>` columns of Wa, `recurrent_kernel` the `a<t-1>` ones, `bias` is ba:
    the layout of `keras.layers.SimpleRNNCell`.

    Args:
        units: size of a<t>.
        activation: g, `"tanh"` by default.
        dropout, recurrent_dropout: rates of the per-sequence masks on x<t> and on a<t-1>.
        Other arguments as in `keras.layers.SimpleRNNCell`.

    Example:
        >>> layer = keras.layers.RNN(SimpleRNNCell(8))
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    blocks = 1

    def step(self, zx, states, params, recurrent_mask, save=False, gates=False):
        (recurrent_kernel,) = params
        a_in = _recurrent_input(states[0], recurrent_mask)
        a = self.activation(zx + tf.matmul(a_in, recurrent_kernel))
        return (a,), (), None  # backward_step needs only a<t>, which the loop keeps

    def backward_step(self, saved, prev_states, new_states, d_new, params, recurrent_mask):
        (recurrent_kernel,) = params
        d_g = zoo_activations.derivative_from_output(self.activation)
        dz = d_new[0] * d_g(new_states[0])
        d_a_prev = tf.matmul(dz, recurrent_kernel, transpose_b=True)
        if recurrent_mask is not None:
            d_a_prev = d_a_prev * recurrent_mask
        return dz, (d_a_prev,), dz

    def kernel_name(self):
        for name in ("tanh", "relu"):
            if self._activation_is(self.activation, name):
                return f"rnn_{name}"
        return None

    def kernel_spec(self):
        name = self.kernel_name()
        if name is None:
            return None
        kernel, recurrent = self._cast(self.kernel), self.recurrent_kernel_value()
        return name, kernel, recurrent, self._bias_or_zeros(self.units), None


@keras.saving.register_keras_serializable(package="zoo")
class SimpleRNN(Recurrent):
    """A simple RNN over a sequence, with the arguments of `keras.layers.SimpleRNN`.

    Args:
        units: size of a<t>.
        activation: g, `"tanh"` by default.
        return_sequences, return_state, go_backwards, zero_output_for_mask: as in Keras.
        loop: `"fused"` (hand-written backward pass, the default) or `"plain"`.
        Cell arguments (initializers, dropout, ...) as in `SimpleRNNCell`.

    Example:
        >>> SimpleRNN(16, return_sequences=True)(np.zeros((2, 7, 4), "float32")).shape
        TensorShape([2, 7, 16])
    """

    cell_class = SimpleRNNCell
    has_use_cudnn = False
