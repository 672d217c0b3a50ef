"""`Bidirectional`: a forward and a backward copy of a recurrent layer, outputs merged per step."""

import keras
import tensorflow as tf

from zoo import kernels as zoo_kernels
from zoo.layers.recurrent import right_padded

MERGE_MODES = ("concat", "sum", "ave", "mul", None)


@keras.saving.register_keras_serializable(package="zoo")
class Bidirectional(keras.layers.Layer):
    """Bidirectional RNN (course: "Bidirectional RNN"): y<t> from [a→<t>, a←<t>].

    The forward copy reads x<1> ... x<Tx>, the backward copy x<Tx> ... x<1>; their outputs are
    aligned per step and merged. Right-padded batches are handled through the mask: the backward
    copy skips the padding before it reaches the last real step, so each sequence's result is the
    same alone or padded in a batch. Padded steps of the merged output are zeros, as in
    `keras.layers.Bidirectional`.

    Args:
        layer: a zoo `SimpleRNN`, `GRU` or `LSTM`; copied, not reused (as in Keras).
        merge_mode: `"concat"` (default), `"sum"`, `"ave"`, `"mul"` or `None` (a pair).
        backward_layer: optional explicit backward layer; by default a copy of `layer` with
            `go_backwards` flipped.

    Example:
        >>> bi = Bidirectional(LSTM(8, return_sequences=True))
        >>> bi(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        if getattr(layer, "return_gates", False):
            raise ValueError(
                "Bidirectional does not merge gates: inspect forward_layer and backward_layer"
            )
        self.merge_mode = merge_mode
        base_name = layer.name.removeprefix("forward_")
        self.forward_layer = _copy(layer, name=f"forward_{base_name}")
        if backward_layer is None:
            backward_layer = _copy(
                layer, name=f"backward_{base_name}", go_backwards=not layer.go_backwards
            )
        else:
            backward_layer = _copy(backward_layer, name=backward_layer.name)
        if backward_layer.go_backwards == self.forward_layer.go_backwards:
            raise ValueError("forward and backward layers must read in opposite directions")
        self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sub in (self.forward_layer, self.backward_layer):
            # As Keras does: padded steps of returned sequences are zeros in both directions.
            sub.zero_output_for_mask = self.return_sequences
        self.supports_masking = True

    def build(self, sequences_shape, initial_state_shape=None):
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(sequences_shape)

    def _joint_specs(self, training):
        """Both directions' kernel specs when one two-direction `zoo.kernels` op can run them."""
        forward, backward = self.forward_layer, self.backward_layer
        if not zoo_kernels.usable():  # on a GPU each direction runs cuDNN's kernel on its own
            return None
        if forward.go_backwards or forward.stateful or backward.stateful:
            return None
        specs = forward.kernel_spec(None, training), backward.kernel_spec(None, training)
        if None in specs or specs[0][0] != specs[1][0]:
            return None
        if (specs[0][4] is None) != (specs[1][4] is None):  # peepholes on one side only
            return None
        return specs

    def _joint_call(self, sequences, specs, forward_state, backward_state, training):
        """Both directions in one op: its output is already [a→<t>, a←<t>] per input step."""
        x = tf.cast(sequences, self.forward_layer.compute_dtype)
        batch = tf.shape(x)[0]
        states = [
            layer.initial_states(batch, state)
            for layer, state in (
                (self.forward_layer, forward_state),
                (self.backward_layer, backward_state),
            )
        ]

        def both(index):  # the two directions' tensors, as the op takes them: no copies
            return [specs[0][index], specs[1][index]]

        y, h_n, c_n = zoo_kernels.rnn(
            specs[0][0],
            x,
            [states[0][0], states[1][0]],
            [states[0][1], states[1][1]] if len(states[0]) > 1 else None,
            both(1),
            both(2),
            both(3),
            None if specs[0][4] is None else both(4),
            training=bool(training),
            precision=self.forward_layer.matmul_precision,
        )
        units = self.forward_layer.units
        if self.return_sequences:
            if self.merge_mode == "concat":
                output = y
            else:
                output = _merge(self.merge_mode, y[..., :units], y[..., units:])
        else:
            output = _merge(self.merge_mode, h_n[0], h_n[1])
        if not self.return_state:
            return output
        finals = [h_n, c_n] if len(states[0]) > 1 else [h_n]
        states = tuple(s[0] for s in finals) + tuple(s[1] for s in finals)
        return (*output, *states) if self.merge_mode is None else (output, *states)

    def _prepared_call(self, sequences, specs, forward_state, backward_state, training, mask):
        """Both directions in one op, each reading what it would read alone (the backward one
        its sequences reversed within their lengths, each its own dropout mask); each turns
        its half of the output into its results, as its own kernel call would."""
        layers = (self.forward_layer, self.backward_layer)
        prepared = [
            layer._kernel_inputs(sequences, spec, state, training, mask)
            for layer, spec, state in zip(layers, specs, (forward_state, backward_state))
        ]
        states = [p[2] for p in prepared]
        y, h_n, c_n = zoo_kernels.rnn(
            specs[0][0],
            [p[0] for p in prepared],
            [s[0] for s in states],
            [s[1] for s in states] if len(states[0]) > 1 else None,
            [p[1] for p in prepared],
            [spec[2] for spec in specs],
            [spec[3] for spec in specs],
            None if specs[0][4] is None else [spec[4] for spec in specs],
            training=bool(training),
            precision=self.forward_layer.matmul_precision,
        )
        units = self.forward_layer.units
        results = []
        for d, (layer, ready) in enumerate(zip(layers, prepared)):
            final = (h_n[d], c_n[d]) if len(states[0]) > 1 else (h_n[d],)
            results.append(layer._kernel_outputs(y[..., d * units : (d + 1) * units], final, ready))
        return self._combine(*results)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        states = (forward_state, backward_state)
        specs = self._joint_specs(training)
        dropout = training and max(
            self.forward_layer.cell.dropout, self.backward_layer.cell.dropout
        )
        if specs is not None and mask is None and not dropout:
            return self._joint_call(sequences, specs, *states, training)
        if specs is not None and mask is None:
            return self._prepared_call(sequences, specs, *states, training, None)
        if specs is not None:
            runnable = right_padded(mask)
            if not tf.inside_function():
                if bool(runnable):
                    return self._prepared_call(sequences, specs, *states, training, mask)
            else:  # decided when the graph runs
                return tf.cond(
                    runnable,
                    lambda: self._prepared_call(sequences, specs, *states, training, mask),
                    lambda: self._each_direction(sequences, *states, mask, training),
                )
        return self._each_direction(sequences, *states, mask, training)

    def _each_direction(self, sequences, forward_state, backward_state, mask, training):
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask, training=training)
        y_rev = self.backward_layer(
            sequences, initial_state=backward_state, mask=mask, training=training
        )
        return self._combine(y, y_rev)

    def _combine(self, y, y_rev):
        """The merged result from the two layers' results (with their states, if returned)."""
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = tf.reverse(y_rev, axis=[1])  # back to the input's order
        output = _merge(self.merge_mode, y, y_rev)
        if self.return_state:
            return (*output, *states) if self.merge_mode is None else (output, *states)
        return output

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = self.forward_layer.compute_output_shape(sequences_shape)
        states = ()
        if self.return_state:
            shape, states = shape[0], tuple(shape[1:]) * 2
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (shape[-1] * 2,)
        outputs = (shape, shape) if self.merge_mode is None else (shape,)
        outputs = outputs + states
        return outputs if len(outputs) > 1 else outputs[0]

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        outputs = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            outputs += [None] * (2 * self.forward_layer._state_count())
        return outputs if len(outputs) > 1 else outputs[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": keras.saving.serialize_keras_object(self.forward_layer),
                "merge_mode": self.merge_mode,
                "backward_layer": keras.saving.serialize_keras_object(self.backward_layer),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        config["backward_layer"] = keras.saving.deserialize_keras_object(config["backward_layer"])
        return cls(**config)


def _copy(layer, name, **overrides):
    config = layer.get_config()
    config.update(overrides, name=name)
    return type(layer).from_config(config)


def _merge(mode, y, y_rev):
    y_rev = tf.cast(y_rev, y.dtype)
    if mode == "concat":
        return tf.concat([y, y_rev], axis=-1)
    if mode == "sum":
        return y + y_rev
    if mode == "ave":
        return (y + y_rev) / 2
    if mode == "mul":
        return y * y_rev
    return (y, y_rev)
