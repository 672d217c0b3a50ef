"""The LSTM: `LSTMCell` (one step, optional peepholes) and `LSTM` (the sequence)."""

import keras
import tensorflow as tf

from zoo.layers import activations as zoo_activations
from zoo.layers.cell import RecurrentCell, _recurrent_input
from zoo.layers.recurrent import Recurrent


@keras.saving.register_keras_serializable(package="zoo")
class LSTMCell(RecurrentCell):
    """One step of the LSTM (course: "Long Short Term Memory (LSTM)").

        c~<t> = tanh(Wc [a<t-1>, x<t>] + bc)
        Γu    = σ(Wu [a<t-1>, x<t>] + bu)           update (Keras: input gate i)
        Γf    = σ(Wf [a<t-1>, x<t>] + bf)           forget
        Γo    = σ(Wo [a<t-1>, x<t>] + bo)           output
        c<t>  = Γu * c~<t> + Γf * c<t-1>
        a<t>  = Γo * tanh(c<t>)

    With `peephole=True` the gates also read the cell state through diagonal weights p:
    `Γu = σ(... + pu * c<t-1>)`, `Γf = σ(... + pf * c<t-1>)`, `Γo = σ(... + po * c<t>)`.

    Blocks are stored in Keras's order (u, f, c~, o), so `keras.layers.LSTM` weights copy over
    unchanged. The forget-gate bias starts at 1 (`unit_forget_bias`), as in Keras.

    Args:
        units: size of a<t> and c<t>.
        activation: the tanh of c~<t> and of c<t>.
        recurrent_activation: σ of the gates.
        peephole: let the gates read c (Gers & Schmidhuber 2000).
        unit_forget_bias: start bf at 1.
        implementation: accepted and echoed as in `keras.layers.LSTMCell` (1 or 2: how Keras
            orders the same matmuls); the result is the same either way.
        Other arguments as in `keras.layers.LSTMCell`.

    Example:
        >>> layer = keras.layers.RNN(LSTMCell(8, peephole=True))
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    blocks = 4
    gate_names = ("update", "forget", "output")
    saved_count = 1  # the activated blocks [Γu, Γf, c~, Γo]

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        peephole=False,
        unit_forget_bias=True,
        peephole_initializer="zeros",
        implementation=2,
        **kwargs,
    ):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.peephole = bool(peephole)
        self.unit_forget_bias = unit_forget_bias
        # Keras's choice between two orders of the same computation: accepted and echoed,
        # it changes nothing here.
        self.implementation = implementation
        # Zeros: a peephole LSTM starts as the plain LSTM and learns how much to look at c.
        self.peephole_initializer = keras.initializers.get(peephole_initializer)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def initializer(shape, dtype=None):
            return tf.concat(
                [
                    base((units,), dtype=dtype),
                    tf.ones((units,), dtype=dtype),
                    base((units * 2,), dtype=dtype),
                ],
                axis=0,
            )

        return initializer

    def _build_extra(self):
        self.peephole_kernel = None
        if self.peephole:
            # rows: pu, pf, po
            self.peephole_kernel = self.add_weight(
                shape=(3, self.units), name="peephole_kernel", initializer=self.peephole_initializer
            )

    def recurrent_params(self):
        params = (self.recurrent_kernel_value(),)
        if self.peephole:
            params += (self._cast(self.peephole_kernel),)
        return params

    def _activations(self):
        return (self.activation, self.recurrent_activation)

    def step(self, zx, states, params, recurrent_mask, save=False, gates=False):
        a_prev, c_prev = states
        sigma, g = self.recurrent_activation, self.activation
        z = zx + tf.matmul(_recurrent_input(a_prev, recurrent_mask), params[0])
        z_u, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
        if self.peephole:
            p_u, p_f, p_o = tf.unstack(params[1])
            z_u = z_u + p_u * c_prev
            z_f = z_f + p_f * c_prev
        gamma_u, gamma_f, c_tilde = sigma(z_u), sigma(z_f), g(z_c)
        c = gamma_u * c_tilde + gamma_f * c_prev
        if self.peephole:
            z_o = z_o + p_o * c
        gamma_o = sigma(z_o)
        a = gamma_o * g(c)
        saved = (tf.concat([gamma_u, gamma_f, c_tilde, gamma_o], axis=-1),) if save else None
        gate_values = tf.stack([gamma_u, gamma_f, gamma_o], axis=1) if gates else None
        return (a, c), saved, gate_values

    def backward_step(self, saved, prev_states, new_states, d_new, params, recurrent_mask):
        d_sigma = zoo_activations.derivative_from_output(self.recurrent_activation)
        d_g = zoo_activations.derivative_from_output(self.activation)
        gamma_u, gamma_f, c_tilde, gamma_o = tf.split(saved[0], 4, axis=-1)
        c_prev = prev_states[1]
        c = new_states[1]
        d_a, d_c = d_new
        g_c = self.activation(c)
        dz_o = d_a * g_c * d_sigma(gamma_o)
        d_c = d_c + d_a * gamma_o * d_g(g_c)
        if self.peephole:
            p_u, p_f, p_o = tf.unstack(params[1])
            d_c = d_c + dz_o * p_o
        dz_u = d_c * c_tilde * d_sigma(gamma_u)
        dz_f = d_c * c_prev * d_sigma(gamma_f)
        dz_c = d_c * gamma_u * d_g(c_tilde)
        d_c_prev = d_c * gamma_f
        if self.peephole:
            d_c_prev = d_c_prev + dz_u * p_u + dz_f * p_f
        dz = tf.concat([dz_u, dz_f, dz_c, dz_o], axis=-1)
        d_a_prev = tf.matmul(dz, params[0], transpose_b=True)
        if recurrent_mask is not None:
            d_a_prev = d_a_prev * recurrent_mask
        return dz, (d_a_prev, d_c_prev), dz

    def param_grads(self, saved, prev_states, new_states, dz_rec, params, recurrent_mask):
        grads = super().param_grads(saved, prev_states, new_states, dz_rec, params, recurrent_mask)
        if not self.peephole:
            return grads
        dz_u, dz_f, _, dz_o = tf.split(dz_rec, 4, axis=-1)
        c_prev, c = prev_states[1], new_states[1]
        d_peephole = tf.stack(
            [
                tf.reduce_sum(dz_u * c_prev, axis=(0, 1)),
                tf.reduce_sum(dz_f * c_prev, axis=(0, 1)),
                tf.reduce_sum(dz_o * c, axis=(0, 1)),
            ]
        )
        return grads + (d_peephole,)

    def kernel_name(self):
        tanh = self._activation_is(self.activation, "tanh")
        sigmoid = self._activation_is(self.recurrent_activation, "sigmoid")
        return "lstm" if tanh and sigmoid else None

    def kernel_spec(self):
        if self.kernel_name() is None:
            return None
        # oneDNN's gate order (i, f, c~, o) and peephole order (i, f, o) are the zoo's.
        peephole = None
        if self.peephole:
            peephole = tf.reshape(self._cast(self.peephole_kernel), (-1,))
        kernel, recurrent_kernel = self._cast(self.kernel), self.recurrent_kernel_value()
        return "lstm", kernel, recurrent_kernel, self._bias_or_zeros(4 * self.units), peephole

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
                "peephole": self.peephole,
                "unit_forget_bias": self.unit_forget_bias,
                "implementation": self.implementation,
                "peephole_initializer": keras.initializers.serialize(self.peephole_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class LSTM(Recurrent):
    """An LSTM over a sequence, with the arguments of `keras.layers.LSTM` plus `peephole`.

    Returns `a<t>` (the last one, or all with `return_sequences=True`); with `return_state=True`
    also the final `[a, c]`; with `return_gates=True`, as the last output, the gate activations
    (batch, time, 3, units) in the order Γu, Γf, Γo.

    Example:
        >>> out, gates = LSTM(8, return_sequences=True, return_gates=True)(np.ones((2, 5, 3)))
        >>> gates.shape
        TensorShape([2, 5, 3, 8])
    """

    cell_class = LSTMCell
