"""What every zoo recurrent cell shares: weights, the step contract, and `keras.layers.RNN` support.

A cell computes one time step. Like Keras cells it has `state_size`, `output_size` and
`call(x<t>, states, training) -> (a<t>, new_states)`, so it runs inside `keras.layers.RNN`. For
the zoo's own sequence layers it also splits the step into two parts:

- `input_projection(x)`: `x Wx + b` for every block (gate) at once; the layer runs it for all
  steps in one matmul before the loop.
- `step(zx, states, params, recurrent_mask)`: the recurrent part, given that projection.

and, for the fused loop, `backward_step` and `param_grads`, its hand-written gradient.

Weights follow Keras's layout, so `from_keras` is an exact copy: `kernel` is (input_dim,
blocks * units), `recurrent_kernel` is (units, blocks * units), `bias` is (blocks * units,).
In the course's notation `W [a<t-1>, x<t>] = Wa a<t-1> + Wx x<t>`: `recurrent_kernel` holds the
`Wa` columns and `kernel` the `Wx` columns of each `W`, side by side per block.
"""

import keras
import tensorflow as tf

from zoo.layers import activations as zoo_activations
from zoo.layers.dropout import DropoutMasks


class RecurrentCell(DropoutMasks, keras.layers.Layer):
    """Base class of the zoo's cells. Subclasses set `blocks`, `gate_names`, `saved_count`."""

    blocks = 1  # units-wide blocks in the kernels (4 for an LSTM: u, f, c~, o)
    gate_names = ()  # the sigmoid gates `return_gates=True` reports, in order
    saved_count = 0  # tensors `step` saves per step for `backward_step`
    dz_rec_is_dzx = True  # backward_step's dz_rec is its dzx (false for GRU reset_after)

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        weight_dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units must be a positive integer, got {units}")
        if not all(0 <= rate < 1 for rate in (dropout, recurrent_dropout, weight_dropout)):
            raise ValueError(
                f"dropout rates must be in [0, 1), got {dropout}, {recurrent_dropout} and "
                f"{weight_dropout}"
            )
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.weight_dropout = float(weight_dropout)
        self._weight_mask = None  # set by the sequence layer for one training call
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    # === Keras cell contract ===

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        width = self.blocks * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self._build_extra()

    def _bias_shape(self):
        return (self.blocks * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _build_extra(self):
        """Hook for weights beyond kernel, recurrent kernel and bias (the LSTM's peepholes)."""

    def get_initial_state(self, batch_size=None):
        # A new batch of sequences starts: masks cached for `keras.layers.RNN` are stale now.
        self.reset_dropout_masks()
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [tf.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def call(self, inputs, states, training=False):
        """One step, as `keras.layers.RNN` runs it: returns `(a<t>, new_states)`."""
        states = tuple(states) if isinstance(states, (list, tuple)) else (states,)
        input_mask, recurrent_mask = self.cached_dropout_masks(inputs, states[0], training)
        if input_mask is not None:
            inputs = inputs * input_mask
        new_states, _, _ = self.step(
            self.input_projection(inputs), states, self.recurrent_params(), recurrent_mask
        )
        return new_states[0], list(new_states)

    # === The zoo's split step ===

    def _cast(self, weight):
        return tf.cast(weight, self.compute_dtype)

    def input_bias(self):
        """The bias added to the input projection: all of `bias`, unless a subclass splits it."""
        return None if self.bias is None else self._cast(self.bias)

    def input_projection(self, x):
        """`x Wx + b` for every block; x is (..., input_dim), the result (..., blocks * units)."""
        kernel = self._cast(self.kernel)
        flat = tf.reshape(x, (-1, tf.shape(x)[-1]))
        z = tf.matmul(flat, kernel)
        bias = self.input_bias()
        if bias is not None:
            z = tf.nn.bias_add(z, bias)
        return tf.reshape(z, tf.concat([tf.shape(x)[:-1], [kernel.shape[-1]]], axis=0))

    def recurrent_params(self):
        """The tensors the recurrent part reads, in the order `param_grads` returns gradients."""
        return (self.recurrent_kernel_value(),)

    def recurrent_kernel_value(self):
        """The recurrent kernel this call computes with: the weights, times the DropConnect
        mask of `weight_dropout` while a sequence layer's training call holds one."""
        kernel = self._cast(self.recurrent_kernel)
        if self._weight_mask is not None:
            kernel = kernel * tf.cast(self._weight_mask, kernel.dtype)
        return kernel

    def draw_weight_mask(self):
        """A DropConnect mask for `recurrent_kernel` (0 or 1 / (1 - weight_dropout) per
        entry): one per batch, drawn by the sequence layer (Merity et al. 2018)."""
        return keras.random.dropout(
            tf.ones(self.recurrent_kernel.shape, self.compute_dtype),
            rate=self.weight_dropout,
            seed=self.seed_generator,
        )

    def step(self, zx, states, params, recurrent_mask, save=False, gates=False):
        """The recurrent part of one step. Returns (new_states, saved, gates).

        `saved` (what `backward_step` needs) and `gates` (the sigmoid gates, (batch, gates,
        units)) are only built when asked for, and are `None` otherwise: inside a while loop
        nothing prunes work whose result goes unused.
        """
        raise NotImplementedError

    def backward_step(self, saved, prev_states, new_states, d_new, params, recurrent_mask):
        """Gradient of one step. Returns (d zx, d prev_states, dz_rec) for the fused loop."""
        raise NotImplementedError

    def param_grads(self, saved, prev_states, new_states, dz_rec, params, recurrent_mask):
        """Gradients of `recurrent_params()` summed over all steps, from the stacked `dz_rec`.

        Default: the recurrent kernel multiplies `a<t-1>` (after recurrent dropout) for every
        block, so its gradient is one matmul over all (time, batch) rows.
        """
        a_in = _recurrent_input(prev_states[0], recurrent_mask)
        return (_outer_sum(a_in, dz_rec),)

    def kernel_name(self):
        """The fused kernels' name for this cell's function (`zoo.kernels.CELLS`), from its
        configuration alone, or None when no kernel computes it; `kernel_spec` agrees."""
        return None

    def kernel_spec(self):
        """This cell in the terms of `zoo.kernels.rnn`, or None when the kernel cannot run it.

        Returns `(cell, w_layer, w_iter, bias, peephole)` for one direction: the kernel's cell
        name, then tensors in its layout, computed from this cell's weights by differentiable
        ops (so the weights' gradients flow back through them).
        """
        return None

    def _activation_is(self, function, name):
        return keras.activations.serialize(function) == name

    def _bias_or_zeros(self, size):
        if self.bias is None:
            return tf.zeros((size,), self.compute_dtype)
        return self._cast(self.bias)

    @property
    def supports_fused(self):
        """Whether the fused loop knows this cell's activation derivatives."""
        return all(zoo_activations.derivative_from_output(f) for f in self._activations())

    def _activations(self):
        return (self.activation,)

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "weight_dropout": self.weight_dropout,
                "seed": self.seed,
            }
        )
        return config


def _recurrent_input(a_prev, recurrent_mask):
    """`a<t-1>` as the recurrent matmul sees it: after recurrent dropout, if any."""
    return a_prev if recurrent_mask is None else a_prev * recurrent_mask


def _outer_sum(rows, dz):
    """sum over time and batch of rows^T dz: (time, batch, n) x (time, batch, m) -> (n, m)."""
    n = rows.shape[-1]
    m = dz.shape[-1]
    return tf.matmul(tf.reshape(rows, (-1, n)), tf.reshape(dz, (-1, m)), transpose_a=True)


def split_blocks(z, count):
    return tf.split(z, count, axis=-1)
