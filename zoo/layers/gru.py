"""The GRU: `GRUCell` (one step; full or minimal, reset before or after) and `GRU`."""

import keras
import tensorflow as tf

from zoo.layers import activations as zoo_activations
from zoo.layers.cell import RecurrentCell, _outer_sum, _recurrent_input
from zoo.layers.recurrent import Recurrent

VARIANTS = ("full", "minimal")


@keras.saving.register_keras_serializable(package="zoo")
class GRUCell(RecurrentCell):
    """One step of the GRU (course: "Gated Recurrent Unit (GRU)"); here a<t> = c<t>.

    `variant="full"`:

        c~<t> = tanh(Wc [Γr * c<t-1>, x<t>] + bc)
        Γu    = σ(Wu [c<t-1>, x<t>] + bu)           update
        Γr    = σ(Wr [c<t-1>, x<t>] + br)           relevance (reset)
        c<t>  = Γu * c~<t> + (1 - Γu) * c<t-1>

    `variant="minimal"` is the course's simplified GRU: no Γr, so
    `c~<t> = tanh(Wc [c<t-1>, x<t>] + bc)`.

    `reset_after=True` applies Γr after the recurrent matmul, the cuDNN form and the default of
    `keras.layers.GRU`: `c~<t> = tanh(Wcx x<t> + bcx + Γr * (Wcc c<t-1> + bcc))`, with separate
    input and recurrent biases (`bias` is (2, 3 * units)).

    Blocks are stored in the order (u, r, c~), as Keras stores (z, r, h). Keras's update gate z is
    the course's 1 - Γu, so `from_keras` negates the z block: σ(-x) = 1 - σ(x).

    Args:
        units: size of c<t>.
        variant: `"full"` or `"minimal"`.
        reset_after: where Γr applies (full variant only): True by default, as in Keras (the
            cuDNN form); False is the course's equation above.
        activation: the tanh of c~<t>; recurrent_activation: σ of the gates.
        implementation: accepted and echoed as in `keras.layers.GRUCell`; changes nothing.
        Other arguments as in `keras.layers.GRUCell`.

    Example:
        >>> layer = keras.layers.RNN(GRUCell(8, variant="minimal"))
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    def __init__(
        self,
        units,
        variant="full",
        reset_after=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        implementation=2,
        **kwargs,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if variant == "minimal" and reset_after:
            raise ValueError("reset_after applies to the full GRU only: the minimal one has no Γr")
        if reset_after is None:  # Keras's default for the full GRU
            reset_after = variant == "full"
        super().__init__(units, activation=activation, **kwargs)
        self.variant = variant
        self.reset_after = bool(reset_after)
        # Keras's choice between two orders of the same computation: accepted and echoed,
        # it changes nothing here.
        self.implementation = implementation
        self.recurrent_activation = keras.activations.get(recurrent_activation)

    @property
    def blocks(self):
        return 3 if self.variant == "full" else 2

    @property
    def gate_names(self):
        return ("update", "reset") if self.variant == "full" else ("update",)

    @property
    def dz_rec_is_dzx(self):
        return not self.reset_after  # reset_after: Γr scales the recurrent c~ block

    @property
    def saved_count(self):
        return 1  # the activated blocks, plus Wcc c<t-1> + bcc when reset_after

    def _bias_shape(self):
        if self.reset_after:
            return (2, self.blocks * self.units)  # input bias, recurrent bias
        return (self.blocks * self.units,)

    def input_bias(self):
        if self.bias is None:
            return None
        bias = self._cast(self.bias)
        return bias[0] if self.reset_after else bias

    def recurrent_params(self):
        params = (self.recurrent_kernel_value(),)
        if self.reset_after:
            recurrent_bias = self._cast(self.bias[1]) if self.bias is not None else None
            if recurrent_bias is None:
                recurrent_bias = tf.zeros((3 * self.units,), dtype=self.compute_dtype)
            params += (recurrent_bias,)
        return params

    def _activations(self):
        return (self.activation, self.recurrent_activation)

    def step(self, zx, states, params, recurrent_mask, save=False, gates=False):
        c_prev = states[0]
        c_in = _recurrent_input(c_prev, recurrent_mask)
        sigma, g = self.recurrent_activation, self.activation
        kernel = params[0]
        if self.variant == "minimal":
            z_u, z_c = tf.split(zx + tf.matmul(c_in, kernel), 2, axis=-1)
            gamma_u, c_tilde = sigma(z_u), g(z_c)
            c = gamma_u * c_tilde + (1 - gamma_u) * c_prev
            saved = (tf.concat([gamma_u, c_tilde], axis=-1),) if save else None
            return (c,), saved, (gamma_u[:, None] if gates else None)
        x_u, x_r, x_c = tf.split(zx, 3, axis=-1)
        if self.reset_after:
            rec = tf.matmul(c_in, kernel) + params[1]
            rec_u, rec_r, rec_c = tf.split(rec, 3, axis=-1)
            gamma_u, gamma_r = sigma(x_u + rec_u), sigma(x_r + rec_r)
            c_tilde = g(x_c + gamma_r * rec_c)
            blocks = [gamma_u, gamma_r, c_tilde, rec_c]
        else:
            kernel_ur, kernel_c = kernel[:, : 2 * self.units], kernel[:, 2 * self.units :]
            rec_u, rec_r = tf.split(tf.matmul(c_in, kernel_ur), 2, axis=-1)
            gamma_u, gamma_r = sigma(x_u + rec_u), sigma(x_r + rec_r)
            c_tilde = g(x_c + tf.matmul(gamma_r * c_in, kernel_c))
            blocks = [gamma_u, gamma_r, c_tilde]
        c = gamma_u * c_tilde + (1 - gamma_u) * c_prev
        saved = (tf.concat(blocks, axis=-1),) if save else None
        return (c,), saved, (tf.stack([gamma_u, gamma_r], axis=1) if gates else None)

    def backward_step(self, saved, prev_states, new_states, d_new, params, recurrent_mask):
        d_sigma = zoo_activations.derivative_from_output(self.recurrent_activation)
        d_g = zoo_activations.derivative_from_output(self.activation)
        kernel = params[0]
        c_prev = prev_states[0]
        d_c = d_new[0]
        if self.variant == "minimal":
            gamma_u, c_tilde = tf.split(saved[0], 2, axis=-1)
        elif self.reset_after:
            gamma_u, gamma_r, c_tilde, rec_c = tf.split(saved[0], 4, axis=-1)
        else:
            gamma_u, gamma_r, c_tilde = tf.split(saved[0], 3, axis=-1)
        # c = Γu c~ + (1 - Γu) c_prev
        dz_u = d_c * (c_tilde - c_prev) * d_sigma(gamma_u)
        dz_c = d_c * gamma_u * d_g(c_tilde)
        d_c_prev = d_c * (1 - gamma_u)
        if self.variant == "minimal":
            dz = tf.concat([dz_u, dz_c], axis=-1)
            d_c_in = tf.matmul(dz, kernel, transpose_b=True)
            dzx = dz_rec = dz
        elif self.reset_after:
            dz_r = dz_c * rec_c * d_sigma(gamma_r)
            dzx = tf.concat([dz_u, dz_r, dz_c], axis=-1)
            dz_rec = tf.concat([dz_u, dz_r, dz_c * gamma_r], axis=-1)
            d_c_in = tf.matmul(dz_rec, kernel, transpose_b=True)
        else:
            c_in = _recurrent_input(c_prev, recurrent_mask)
            kernel_ur, kernel_c = kernel[:, : 2 * self.units], kernel[:, 2 * self.units :]
            d_rc = tf.matmul(dz_c, kernel_c, transpose_b=True)  # d (Γr * c_in)
            dz_r = d_rc * c_in * d_sigma(gamma_r)
            dz_ur = tf.concat([dz_u, dz_r], axis=-1)
            d_c_in = d_rc * gamma_r + tf.matmul(dz_ur, kernel_ur, transpose_b=True)
            dzx = dz_rec = tf.concat([dz_u, dz_r, dz_c], axis=-1)
        if recurrent_mask is not None:
            d_c_in = d_c_in * recurrent_mask
        return dzx, (d_c_prev + d_c_in,), dz_rec

    def param_grads(self, saved, prev_states, new_states, dz_rec, params, recurrent_mask):
        c_in = _recurrent_input(prev_states[0], recurrent_mask)
        if self.variant == "minimal":
            return (_outer_sum(c_in, dz_rec),)
        if self.reset_after:
            return (_outer_sum(c_in, dz_rec), tf.reduce_sum(dz_rec, axis=(0, 1)))
        units = self.units
        gamma_r = saved[0][..., units : 2 * units]
        d_kernel_ur = _outer_sum(c_in, dz_rec[..., : 2 * units])
        d_kernel_c = _outer_sum(gamma_r * c_in, dz_rec[..., 2 * units :])
        return (tf.concat([d_kernel_ur, d_kernel_c], axis=-1),)

    def kernel_name(self):
        if self.variant != "full" or not (
            self._activation_is(self.activation, "tanh")
            and self._activation_is(self.recurrent_activation, "sigmoid")
        ):
            return None
        return "lbr_gru" if self.reset_after else "gru"

    def kernel_spec(self):
        if self.kernel_name() is None:
            return None
        # oneDNN's GRU keeps u * c<t-1> + (1 - u) * c~ where the zoo keeps Γu * c~ + (1 - Γu) *
        # c<t-1>: its u is 1 - Γu = σ(-z_u), so the update block's weights enter negated.
        units = self.units
        flip = tf.concat([-tf.ones((units,)), tf.ones((2 * units,))], axis=0)
        flip = tf.cast(flip, self.compute_dtype)
        kernel = self._cast(self.kernel) * flip
        recurrent_kernel = self.recurrent_kernel_value() * flip
        if not self.reset_after:
            return "gru", kernel, recurrent_kernel, self._bias_or_zeros(3 * units) * flip, None
        if self.bias is None:
            bias = tf.zeros((4 * units,), self.compute_dtype)
        else:
            # linear-before-reset: [bu, br] are the sums of input and recurrent biases; the
            # candidate keeps its input bias and its recurrent bias (inside Γr *) apart.
            input_bias, recurrent_bias = tf.unstack(self._cast(self.bias))
            both = (input_bias + recurrent_bias)[: 2 * units] * flip[: 2 * units]
            bias = tf.concat([both, input_bias[2 * units :], recurrent_bias[2 * units :]], 0)
        return "lbr_gru", kernel, recurrent_kernel, bias, None

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "variant": self.variant,
                "reset_after": self.reset_after,
                "implementation": self.implementation,
                "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class GRU(Recurrent):
    """A GRU over a sequence, with the arguments of `keras.layers.GRU` plus `variant`.

    One difference from `keras.layers.GRU`, the course's convention (see `GRUCell`): the
    update gate is the course's Γu, which weights the candidate, c<t> = Γu * c~<t> + (1 - Γu) *
    c<t-1>. Keras's z weights the old state, so Keras's z is 1 - Γu, and the same constant
    initialisers give different outputs. `zoo.layers.from_keras(keras_gru)` (and `to_keras`)
    negate the update block of the weights, after which both compute exactly the same function,
    with either `reset_after`.

    `reset_after` defaults to True, as in Keras (the cuDNN form); `reset_after=False` is the
    course's equation, Γr applied before the recurrent matmul.

    With `return_gates=True` the last output holds Γu, Γr per step, (batch, time, gates, units).

    Example:
        >>> GRU(8, variant="minimal")(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    cell_class = GRUCell
