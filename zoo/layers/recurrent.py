"""`Recurrent`: the base of the zoo's sequence layers (`SimpleRNN`, `GRU`, `LSTM`).

A sequence layer owns one cell and runs it over time. It computes the same function as
`keras.layers.RNN(cell)` (masked steps carry the state over, outputs at masked steps repeat the
previous output or are zeros with `zero_output_for_mask`), but faster: the input projection of
all steps is one matmul before the loop, and the default `loop="fused"` uses a hand-written
backward pass (see `zoo.layers.scan`).
"""

import keras
import tensorflow as tf

from zoo.layers import scan

LOOPS = ("fused", "plain")
# Arguments for the layer itself; the rest of **kwargs configures its cell.
_LAYER_ARGUMENTS = ("name", "dtype", "trainable", "autocast", "activity_regularizer")


class Recurrent(keras.layers.Layer):
    """Runs `cell_class` over a (batch, time, features) sequence. Subclasses set `cell_class`.

    Args:
        units: size of the state a<t>.
        return_sequences: return a<t> for every step, (batch, time, units), not only the last.
        return_state: also return the final states (a, plus c for an LSTM).
        go_backwards: read the sequence from its end; outputs come in that reading order.
        return_gates: also return, last, the gate activations per step, (batch, time, gates,
            units), in the order of `cell.gate_names`; masked steps are zeros.
        zero_output_for_mask: outputs at masked steps are zeros instead of the previous output.
        stateful: carry the final states of each batch over as the initial states of the next
            (sequence i of a batch continues sequence i of the previous one); needs a fixed
            batch size; `reset_states()` starts over. For truncated backpropagation through time.
        loop: `"fused"` or `"plain"` (see `zoo.layers.scan`); the same function either way.
        jit: in training, compile the fused loops with XLA (once per sequence length and batch
            size). Inference never compiles, so that predicting on new lengths costs nothing.
        **kwargs: the cell's arguments (`activation`, `dropout`, `recurrent_dropout`,
            initializers, ...) and the usual layer arguments (`name`, `dtype`, ...).

    Training runs the fused loop (or the plain one, for `loop="plain"`, custom activations and
    `return_gates`) on the input projection of all steps; inference runs the plain loop with the
    projection done step by step, which is faster at large batches.
    """

    cell_class = None

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        return_gates=False,
        zero_output_for_mask=False,
        stateful=False,
        loop="fused",
        jit=True,
        **kwargs,
    ):
        layer_kwargs = {key: kwargs.pop(key) for key in _LAYER_ARGUMENTS if key in kwargs}
        super().__init__(**layer_kwargs)
        if loop not in LOOPS:
            raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
        self.cell = self.cell_class(units, dtype=self.dtype_policy, name="cell", **kwargs)
        if return_gates and not self.cell.gate_names:
            raise ValueError(f"{type(self).__name__} has no gates to return")
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.return_gates = return_gates
        self.zero_output_for_mask = zero_output_for_mask
        self.stateful = stateful
        self.loop = loop
        self.jit = jit
        self.states = None
        self.supports_masking = True

    @property
    def units(self):
        return self.cell.units

    def build(self, sequences_shape, initial_state_shape=None):
        if not self.cell.built:
            self.cell.build(tuple(sequences_shape)[-1:])
        if self.stateful:
            batch = sequences_shape[0]
            if batch is None:
                raise ValueError(
                    "a stateful layer needs a fixed batch size: "
                    "keras.Input(shape, batch_size=N) or build((N, time, features))"
                )
            self.states = [
                self.add_weight(
                    shape=(batch, self.units),
                    initializer="zeros",
                    trainable=False,
                    name=f"state_{index}",
                )
                for index in range(self._state_count())
            ]

    def reset_states(self):
        """Zeroes the carried states of a stateful layer."""
        for state in self.states or ():
            state.assign(tf.zeros(state.shape, dtype=state.dtype))

    def _state_count(self):
        sizes = self.cell.state_size
        return len(sizes) if isinstance(sizes, (list, tuple)) else 1

    def call(self, sequences, initial_state=None, mask=None, training=None):
        x = tf.transpose(sequences, (1, 0, 2))  # (time, batch, features)
        time_mask = None
        if mask is not None:
            time_mask = tf.transpose(tf.cast(mask, "bool"), (1, 0))  # (time, batch)
        if self.go_backwards:
            x = tf.reverse(x, axis=[0])
            if time_mask is not None:
                time_mask = tf.reverse(time_mask, axis=[0])

        batch = tf.shape(x)[1]
        if initial_state is None and self.stateful:
            initial_state = [tf.convert_to_tensor(state) for state in self.states]
        if initial_state is None:
            states = tuple(
                tf.zeros((batch, self.units), dtype=self.compute_dtype)
                for _ in range(self._state_count())
            )
        else:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            states = tuple(tf.cast(s, self.compute_dtype) for s in initial_state)

        input_mask, recurrent_mask = self.cell.sequence_dropout_masks(x[0], states[0], training)
        if input_mask is not None:
            x = x * input_mask[None]
        params = self.cell.recurrent_params()
        fused = self.loop == "fused" and self.cell.supports_fused and not self.return_gates
        if training and fused:
            # The input projection of all steps in one matmul; the fused loop's backward pass
            # turns its gradient into one matmul for the kernel too.
            proj = self.cell.input_projection(x)  # (time, batch, blocks * units)
            a_seq, final, gates = scan.fused_loop(
                self.cell, proj, states, params, time_mask, recurrent_mask, jit=self.jit
            )
        else:
            # Training projects all steps at once (its gradient is then one matmul); inference
            # projects step by step inside the loop (see `scan.plain_loop`), and stays
            # differentiable by TensorFlow should someone ask for a gradient.
            a_seq, final, gates = scan.plain_loop(
                self.cell,
                self.cell.input_projection(x) if training else x,
                states,
                params,
                time_mask,
                recurrent_mask,
                self.return_gates,
                project=None if training else self.cell.input_projection,
            )

        if self.stateful:
            for variable, value in zip(self.states, final):
                variable.assign(tf.cast(value, variable.dtype))

        outputs = a_seq
        if time_mask is not None:
            # Keras's rule: a masked step outputs the previous output (zeros before any valid
            # step), or zeros with zero_output_for_mask. a_seq carries the state over masked
            # steps, so "previous output" is a_seq itself once a valid step was seen.
            valid = time_mask if self.zero_output_for_mask else _seen(time_mask)
            outputs = tf.where(valid[:, :, None], a_seq, tf.zeros_like(a_seq))
        if self.return_sequences:
            result = tf.transpose(outputs, (1, 0, 2))  # (batch, time, units)
        else:
            result = outputs[-1]  # (batch, units)
        extra = []
        if self.return_state:
            extra.extend(final)
        if self.return_gates:
            extra.append(tf.transpose(gates, (1, 0, 2, 3)))  # (batch, time, gates, units)
        return (result, *extra) if extra else result

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        output = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        shapes = [output]
        if self.return_state:
            shapes.extend((batch, self.units) for _ in range(self._state_count()))
        if self.return_gates:
            shapes.append((batch, steps, len(self.cell.gate_names), self.units))
        return tuple(shapes) if len(shapes) > 1 else output

    def compute_mask(self, sequences, mask=None):
        output_mask = None
        if mask is not None and self.return_sequences:
            # Outputs come in reading order, so with go_backwards their mask is reversed too.
            output_mask = tf.reverse(mask, axis=[1]) if self.go_backwards else mask
        extra = self._state_count() * self.return_state + self.return_gates
        return [output_mask] + [None] * extra if extra else output_mask

    def get_config(self):
        config = super().get_config()
        cell_config = self.cell.get_config()
        for key in ("name", "dtype", "trainable"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config.update(
            {
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "return_gates": self.return_gates,
                "zero_output_for_mask": self.zero_output_for_mask,
                "stateful": self.stateful,
                "loop": self.loop,
                "jit": self.jit,
            }
        )
        return config


def _seen(time_mask):
    """(time, batch): True from the first valid step on."""
    return tf.cumsum(tf.cast(time_mask, "int32"), axis=0) > 0
