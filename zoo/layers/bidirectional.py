"""`Bidirectional`: a forward and a backward copy of a recurrent layer, outputs merged per step."""

import contextlib

import keras
import tensorflow as tf

from zoo import kernels as zoo_kernels
from zoo.layers.gru import GRU
from zoo.layers.lstm import LSTM
from zoo.layers.recurrent import Recurrent, right_padded

MERGE_MODES = ("concat", "sum", "ave", "mul", None)


@keras.saving.register_keras_serializable(package="zoo")
class Bidirectional(keras.layers.Layer):
    """Bidirectional RNN (course: "Bidirectional RNN"): y<t> from [a→<t>, a←<t>].

    The forward copy reads x<1> ... x<Tx>, the backward copy x<Tx> ... x<1>; their outputs are
    aligned per step and merged. Right-padded batches are handled through the mask: the backward
    copy skips the padding before it reaches the last real step, so each sequence's result is the
    same alone or padded in a batch. Padded steps of the merged output are zeros, as in
    `keras.layers.Bidirectional`.

    A drop-in for `keras.layers.Bidirectional`: zoo layers take the zoo's fast path (both
    directions in one fused kernel where the call allows it); any other Keras recurrent layer
    (`keras.layers.LSTM`, `keras.layers.RNN(cell)`, ...) runs exactly as under
    `keras.layers.Bidirectional`: each direction called on its own, outputs merged in the
    wrapper's compute dtype.

    Args:
        layer: a zoo `SimpleRNN`, `GRU` or `LSTM`, or any Keras recurrent layer; copied, not
            reused (as in Keras).
        merge_mode: `"concat"` (default), `"sum"`, `"ave"`, `"mul"` or `None` (a pair).
        weights: initial weights, set when the layer is built: the forward layer's, then the
            backward layer's (as in Keras).
        backward_layer: optional explicit backward layer; by default a copy of `layer` with
            `go_backwards` flipped.

    Example:
        >>> bi = Bidirectional(LSTM(8, return_sequences=True))
        >>> bi(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"Bidirectional wraps a keras.layers.Layer instance, got {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, keras.layers.Layer):
            raise ValueError(
                f"backward_layer must be a keras.layers.Layer instance, got {backward_layer!r}"
            )
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
        for name in ("stateful", "return_sequences", "return_state"):
            if getattr(self.forward_layer, name) != getattr(backward_layer, name):
                raise ValueError(
                    f"forward and backward layers must have the same {name}, got "
                    f"{getattr(self.forward_layer, name)} and {getattr(backward_layer, name)}"
                )
        self.backward_layer = backward_layer
        if hasattr(layer, "use_cudnn"):  # as Keras: kept on both copies
            self.forward_layer.use_cudnn = self.backward_layer.use_cudnn = layer.use_cudnn
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sub in (self.forward_layer, self.backward_layer):
            # As Keras does: padded steps of returned sequences are zeros in both directions.
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = self.return_sequences
        self._initial_weights = list(weights) if weights else None
        self.supports_masking = True

    @property
    def zoo_path(self):
        """Whether both directions are zoo layers, which may run as one fused kernel."""
        return isinstance(self.forward_layer, Recurrent) and isinstance(
            self.backward_layer, Recurrent
        )

    def build(self, sequences_shape, initial_state_shape=None):
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(sequences_shape)
        if self._initial_weights:
            half = len(self._initial_weights) // 2
            self.forward_layer.set_weights(self._initial_weights[:half])
            self.backward_layer.set_weights(self._initial_weights[half:])
            self._initial_weights = None

    @property
    def states(self):
        """The carried states of a stateful layer, forward then backward (None otherwise)."""
        if self.forward_layer.states and self.backward_layer.states:
            return tuple(self.forward_layer.states) + tuple(self.backward_layer.states)
        return None

    def reset_state(self, states=None):
        """Starts both directions of a stateful layer over: zeros, or `states` (the forward
        layer's, then the backward layer's)."""
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        if states is None:
            self.forward_layer.reset_state()
            self.backward_layer.reset_state()
            return
        half = len(states) // 2
        self.forward_layer.reset_state(list(states[:half]))
        self.backward_layer.reset_state(list(states[half:]))

    def reset_states(self, states=None):
        """Keras 2's name of `reset_state`."""
        self.reset_state(states)

    def _can_attempt_fused_lstm(self, mask, initial_state=None):
        """Keras's own precondition for its fused two-direction cuDNN LSTM (kept for code that
        asks it); the zoo's fused path (`_joint_specs`) also runs masks and every cell."""
        return self._fused_precondition("lstm", mask, initial_state)

    def _can_attempt_fused_gru(self, mask, initial_state=None):
        """As `_can_attempt_fused_lstm`, for Keras's fused GRU (`reset_after=True` only)."""
        return self._fused_precondition("gru", mask, initial_state)

    def _fused_precondition(self, kind, mask, initial_state):
        forward, backward = self.forward_layer, self.backward_layer
        classes = {
            "lstm": (keras.layers.LSTM, LSTM),
            "gru": (keras.layers.GRU, GRU),
        }[kind]
        if mask is not None or self.stateful:
            return False
        if initial_state is not None and len(initial_state) != (4 if kind == "lstm" else 2):
            return False
        if not all(isinstance(layer, classes) for layer in (forward, backward)):
            return False
        if kind == "gru" and not (forward.cell.reset_after and backward.cell.reset_after):
            return False
        for layer in (forward, backward):
            if getattr(layer, "use_cudnn", "auto") not in (True, "auto"):
                return False
            if layer.cell.dropout or layer.cell.recurrent_dropout or not layer.cell.use_bias:
                return False
        if forward.cell.units != backward.cell.units:
            return False
        same = keras.activations.serialize
        if same(forward.cell.activation) != same(backward.cell.activation):
            return False
        if same(forward.cell.recurrent_activation) != same(backward.cell.recurrent_activation):
            return False
        return forward.built and backward.built

    def _joint_specs(self, training):
        """Both directions' kernel specs when one two-direction `zoo.kernels` op can run them."""
        forward, backward = self.forward_layer, self.backward_layer
        if not self.zoo_path or not zoo_kernels.usable():  # on a GPU: cuDNN, each direction
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
                output = tf.cast(y, self.compute_dtype)
            else:
                output = self._merge(y[..., :units], y[..., units:])
        else:
            output = self._merge(h_n[0], h_n[1])
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
        with contextlib.ExitStack() as masks:  # each direction's weight dropout, one mask each
            for layer in (self.forward_layer, self.backward_layer):
                if isinstance(layer, Recurrent):
                    masks.enter_context(layer.weight_dropped(training))
            return self._call(sequences, initial_state, mask, training)

    def _call(self, sequences, initial_state, mask, training):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        states = (forward_state, backward_state)
        specs = self._joint_specs(training)
        dropout = training and max(
            getattr(layer.cell, "dropout", 0) for layer in (self.forward_layer, self.backward_layer)
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
        output = self._merge(y, y_rev)
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
            shapes = self.forward_layer.compute_output_shape((None, None, None))
            outputs += [None] * (2 * (len(shapes) - 1))
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

    def _merge(self, y, y_rev):
        """The two directions' outputs merged, in this layer's compute dtype (as Keras)."""
        return _merge(
            self.merge_mode, tf.cast(y, self.compute_dtype), tf.cast(y_rev, self.compute_dtype)
        )


def _copy(layer, name, **overrides):
    """A new layer from `layer`'s configuration (as Keras's serialization round trip), made
    outside Keras's object sharing: while `keras.saving.load_model` loads a model it matches
    the objects it serializes by `id()`, so a layer copied twice (forward and backward) or a
    freed layer whose id a new one reuses would come back as an earlier copy."""
    with _no_object_sharing():
        config = keras.saving.serialize_keras_object(layer)
        config["config"].update(overrides, name=name)
        return keras.saving.deserialize_keras_object(config)


_SHARING_MAPS = ("shared_objects/id_to_obj_map", "shared_objects/id_to_config_map")


@contextlib.contextmanager
def _no_object_sharing():
    """Keras's object-sharing scope (`keras.src.saving.serialization_lib.ObjectSharingScope`,
    whose state lives in Keras's global state) suspended, and restored on exit."""
    from keras.src.backend.common import global_state

    saved = [global_state.get_global_attribute(key) for key in _SHARING_MAPS]
    for key in _SHARING_MAPS:
        global_state.set_global_attribute(key, None)
    try:
        yield
    finally:
        for key, value in zip(_SHARING_MAPS, saved):
            global_state.set_global_attribute(key, value)


def _merge(mode, y, y_rev):
    if mode == "concat":
        return tf.concat([y, y_rev], axis=-1)
    if mode == "sum":
        return y + y_rev
    if mode == "ave":
        return (y + y_rev) / 2
    if mode == "mul":
        return y * y_rev
    return (y, y_rev)
