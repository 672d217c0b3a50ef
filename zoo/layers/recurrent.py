"""`Recurrent`: the base of the zoo's sequence layers (`SimpleRNN`, `GRU`, `LSTM`).

A sequence layer owns one cell and runs it over time. It computes the same function as
`keras.layers.RNN(cell)` (masked steps carry the state over, outputs at masked steps repeat the
previous output or are zeros with `zero_output_for_mask`), but faster: the input projection of
all steps is one matmul before the loop, and the default `loop="fused"` uses a hand-written
backward pass (see `zoo.layers.scan`). Faster still, the whole layer runs as one fused kernel
whenever the configuration allows it (`Recurrent.kernel_spec` says when): on the CPU the zoo's
compiled op (`zoo.kernels`), on a GPU cuDNN's (`zoo.kernels.cudnn`).
"""

import contextlib

import keras
import tensorflow as tf
from keras.src.utils import tracking  # keras.layers.RNN's way to keep states out of weights

from zoo import kernels as zoo_kernels
from zoo.kernels import cudnn
from zoo.layers import scan

LOOPS = ("fused", "plain")
USE_CUDNN = ("auto", True, False)
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
        kernel: run the whole layer as one fused kernel when the call allows it: no mask or a
            right-padded one, no recurrent dropout in training, no gates, tanh/sigmoid
            activations (relu too for the simple RNN). On the CPU the oneDNN op (`zoo.kernels`,
            float32, the full GRU); on a GPU cuDNN's (`zoo.kernels.cudnn`, float16 or float32,
            no peepholes, the full GRU with `reset_after=True`, no empty sequence in a mask).
            Otherwise, or with `kernel=False`, the loops below run; the function is the same.
        unroll: accepted for `keras.layers` compatibility and echoed by `get_config`; it only
            changes how Keras computes (a Python loop instead of a symbolic one), never the
            result, and the zoo's loops and kernels already do better, so it changes nothing.
        use_cudnn: (LSTM and GRU, as in Keras) `"auto"` runs cuDNN's kernel on a GPU where it
            can run this call, `False` never runs it (the zoo's loops, or its oneDNN kernel on
            a CPU, run instead), `True` raises `ValueError` on a call cuDNN cannot run (on a
            CPU, always).
        matmul_precision: `"float32"` (the default) or `"bfloat16"`, an opt-in speed for
            inference on CPUs with bfloat16 products (AVX-512 BF16, AMX): the LSTM's calls with
            `training=False` that the CPU kernel runs in the zoo's own loop (no peepholes, one
            thread per direction: a `Bidirectional` on 2-3 cores) then multiply bfloat16
            operands (inputs, states and weights rounded to nearest even) with float32 sums,
            gates and cells in float32.
            Outputs move by ~2e-4 on average, a few 1e-3 at most; training, the other cells and
            every other path stay float32 (a `Bidirectional` follows its forward layer's
            setting). README, "Benchmark", has the speed.
        **kwargs: the cell's arguments (`activation`, `dropout`, `recurrent_dropout`,
            initializers, ...) and the usual layer arguments (`name`, `dtype`, ...). Among
            them `weight_dropout`, AWD-LSTM's weight dropout (Merity et al. 2018, "Regularizing
            and Optimizing LSTM Language Models"): DropConnect (Wan et al. 2013) on the
            recurrent kernel, `U~ = U * M / (1 - p)` with `M ~ Bernoulli(1 - p)` per entry,
            one mask per training call (per batch) shared by all its steps, both directions
            of a `Bidirectional` each their own. It regularises the recurrence without
            touching the states, so the fast kernels still run (the masked kernel is just
            another kernel for that batch); inference uses U itself. A cell run alone inside
            `keras.layers.RNN` does not apply it (it cannot know where a batch starts).

    Training runs the fused loop (or the plain one, for `loop="plain"`, custom activations and
    `return_gates`) on the input projection of all steps; inference runs the plain loop with the
    projection done step by step, which is faster at large batches.
    """

    cell_class = None
    has_use_cudnn = True  # keras.layers.LSTM and GRU take it, SimpleRNN does not

    @property
    def use_cudnn(self):
        """`"auto"`, True or False: whether calls may (must) run cuDNN's kernel, as in Keras."""
        if not self.has_use_cudnn:
            raise AttributeError(f"{type(self).__name__} has no use_cudnn (as in Keras)")
        return self._use_cudnn

    @use_cudnn.setter
    def use_cudnn(self, value):
        if value not in USE_CUDNN:
            raise ValueError(
                "Invalid valid received for argument `use_cudnn`. Expected one of "
                f"{{'auto', True, False}}. Received: use_cudnn={value}"
            )
        self._use_cudnn = value

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
        kernel=True,
        matmul_precision="float32",
        unroll=False,
        use_cudnn=None,
        **kwargs,
    ):
        layer_kwargs = {key: kwargs.pop(key) for key in _LAYER_ARGUMENTS if key in kwargs}
        super().__init__(**layer_kwargs)
        if loop not in LOOPS:
            raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
        if matmul_precision not in zoo_kernels.PRECISIONS:
            raise ValueError(
                f"matmul_precision must be one of {zoo_kernels.PRECISIONS}, "
                f"got {matmul_precision!r}"
            )
        if use_cudnn is not None and not self.has_use_cudnn:  # as keras.layers.SimpleRNN
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                f"{{'use_cudnn': {use_cudnn!r}}}"
            )
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
        self.kernel = bool(kernel)
        self.matmul_precision = matmul_precision
        self.unroll = bool(unroll)
        self._use_cudnn = "auto"
        if self.has_use_cudnn:
            self.use_cudnn = "auto" if use_cudnn is None else use_cudnn
        self.states = None
        self.supports_masking = True

    @property
    def supports_jit(self):
        """False where this layer may run cuDNN's op, which has no XLA kernel (as
        keras.layers.LSTM): on a GPU Keras's `jit_compile="auto"` then leaves the model to
        TensorFlow, and cuDNN runs. True elsewhere, so `jit_compile=True` compiles the loops."""
        may_run_cudnn = (
            self.kernel and self._use_cudnn is not False and not self.return_gates
        ) and cudnn.available()
        return self._supports_jit and not (may_run_cudnn and cudnn.supports_cell(self.cell))

    @supports_jit.setter
    def supports_jit(self, value):  # keras.layers.Layer sets it
        self._supports_jit = value

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
            self._create_states(batch)

    def _create_states(self, batch):
        # As keras.layers.RNN: the carried states are variables but not weights, so that
        # `set_weights` copies a stateless layer's weights into a stateful one (and back).
        with tracking.DotNotTrackScope():
            self.states = [
                keras.Variable(
                    tf.zeros((batch, self.units)),
                    trainable=False,
                    dtype=self.variable_dtype,
                    name=f"state_{index}",
                )
                for index in range(self._state_count())
            ]

    def reset_state(self, states=None):
        """Starts a stateful layer over: its carried states become zeros, or `states` (one
        array per state, (batch, units) each, or a single array for a one-state cell)."""
        if not self.states:
            return
        if states is None:
            states = [tf.zeros(state.shape, dtype=state.dtype) for state in self.states]
        elif not isinstance(states, (list, tuple)):
            states = [states]
        if len(states) != len(self.states):
            raise ValueError(
                f"{self.name} keeps {len(self.states)} states, got {len(states)} to reset to"
            )
        for variable, value in zip(self.states, states):
            value = tf.convert_to_tensor(value, dtype=variable.dtype)
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"{self.name}: a state of shape {tuple(variable.shape)} cannot be reset to "
                    f"one of shape {tuple(value.shape)}"
                )
            variable.assign(value)

    def reset_states(self, states=None):
        """Keras 2's name of `reset_state`."""
        self.reset_state(states)

    def get_initial_state(self, batch_size):
        """The zero states a call starts from, one (batch_size, units) tensor per state."""
        return list(self.initial_states(batch_size))

    def _state_count(self):
        sizes = self.cell.state_size
        return len(sizes) if isinstance(sizes, (list, tuple)) else 1

    def kernel_spec(self, mask=None, training=None):
        """`cell.kernel_spec()` when this call may run as one fused kernel, else None: the
        `zoo.kernels` op on the CPU, cuDNN's (`zoo.kernels.cudnn`) on a GPU.

        With a mask the kernel runs only where the mask is right-padded (checked when the call
        runs; other masks take the loops), and cuDNN only when no sequence is empty.
        """
        if not self.kernel or self.return_gates:
            return None
        if training and self.cell.recurrent_dropout > 0:
            return None
        if zoo_kernels.usable():
            return self.cell.kernel_spec() if self.compute_dtype == "float32" else None
        if self._use_cudnn is not False and cudnn.usable(self.compute_dtype):
            return self.cell.kernel_spec() if cudnn.supports_cell(self.cell) else None
        return None

    def _check_cudnn(self, spec):
        """`use_cudnn=True` on a call that cuDNN's kernel does not run: Keras's error."""
        if self._use_cudnn is True and (spec is None or zoo_kernels.usable()):
            raise ValueError(
                "use_cudnn=True was specified, but cuDNN is not supported for this layer "
                "configuration with this backend. Pass use_cudnn='auto' to fallback to a "
                "non-cuDNN implementation."
            )

    def initial_states(self, batch, initial_state=None):
        """The states the call starts from: given, carried over (stateful), or zeros."""
        if initial_state is None and self.stateful:
            initial_state = [tf.convert_to_tensor(state) for state in self.states]
        if initial_state is None:
            return tuple(
                tf.zeros((batch, self.units), dtype=self.compute_dtype)
                for _ in range(self._state_count())
            )
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        return tuple(tf.cast(s, self.compute_dtype) for s in initial_state)

    def _kernel_call(self, sequences, spec, initial_state, training, mask=None):
        prepared = self._kernel_inputs(sequences, spec, initial_state, training, mask)
        x, w_layer, states, lengths = prepared
        if not zoo_kernels.usable():  # kernel_spec chose cuDNN, which stops at each length
            y, h_n, c_n = cudnn.rnn(spec, x, *states, lengths=lengths)
            final = (h_n, c_n) if len(states) > 1 else (h_n,)
            return self._kernel_outputs(y, final, prepared, exact_final=True)
        name, _, w_iter, bias, peephole = spec
        y, h_n, c_n = zoo_kernels.rnn(
            name,
            x,
            [states[0]],
            [states[1]] if len(states) > 1 else None,
            [w_layer],
            [w_iter],
            [bias],
            None if peephole is None else [peephole],
            training=bool(training),
            precision=self.matmul_precision,
        )
        final = (h_n[0], c_n[0]) if len(states) > 1 else (h_n[0],)
        return self._kernel_outputs(y, final, prepared)

    def _kernel_inputs(self, sequences, spec, initial_state, training, mask=None):
        """What this layer's direction feeds a kernel, read left to right: (x, w_layer,
        initial states, lengths or None). With a mask and final states wanted, x and w_layer
        carry the oneDNN op's extra input column that holds the state over padding."""
        name, w_layer = spec[0], spec[1]
        x = tf.cast(sequences, self.compute_dtype)  # (batch, time, features)
        lengths = None
        if mask is not None:
            # Right-padded: reading backwards is reading each sequence's valid part reversed.
            lengths = tf.reduce_sum(tf.cast(mask, "int32"), axis=1)
            if self.go_backwards:
                x = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
        elif self.go_backwards:
            x = tf.reverse(x, axis=[1])
        states = self.initial_states(tf.shape(x)[0], initial_state)
        input_mask, _ = self.cell.sequence_dropout_masks(x[:, 0], states[0], training)
        if input_mask is not None:
            x = x * input_mask[:, None]
        keeps_final = lengths is not None and (self.return_state or self.stateful)
        if keeps_final and zoo_kernels.usable() and name not in ("rnn_tanh", "rnn_relu"):
            x, w_layer = _hold_state_on_padding(name, x, w_layer, lengths, self.units)
        return x, w_layer, states, lengths

    def _kernel_outputs(self, y, final, prepared, exact_final=False):
        """The layer's results from a kernel's run over `_kernel_inputs`: y (batch, time,
        units) and the final states. `exact_final`: they are those after each sequence's last
        valid step (cuDNN's); else the oneDNN op's, after the padding too."""
        _, _, states, lengths = prepared
        if lengths is not None:
            result = self._masked_outputs(y, lengths)
            if not (self.return_state or self.stateful):
                return result
            if not exact_final:
                # a<t> after each sequence's last valid step (the initial state if it has none);
                # c (the LSTM's) was held over the padding by `_hold_state_on_padding`.
                final = (
                    tf.where(lengths[:, None] > 0, _at_last_valid(y, lengths), states[0]),
                    *final[1:],
                )
        else:
            result = y if self.return_sequences else final[0]
        if self.stateful:
            for variable, value in zip(self.states, final):
                variable.assign(tf.cast(value, variable.dtype))
        return (result, *final) if self.return_state else result

    def _masked_outputs(self, y, lengths):
        """Keras's masked outputs from the kernel's run over each valid prefix (y: its steps)."""
        steps = tf.shape(y)[1]
        valid = tf.sequence_mask(lengths, steps)[:, :, None]  # the prefix the kernel read
        # The output after each sequence's last valid step; zeros for an all-masked sequence.
        last = _at_last_valid(y, lengths)
        last = tf.where(lengths[:, None] > 0, last, tf.zeros_like(last))
        if not self.return_sequences:
            return last
        if self.go_backwards:
            # Reading order is reversed time: the valid steps come last, after masked steps
            # that output zeros (under either rule: no valid step was seen yet).
            read = tf.where(valid, y, tf.zeros_like(y))
            return tf.reverse(tf.reverse_sequence(read, lengths, seq_axis=1, batch_axis=0), [1])
        if self.zero_output_for_mask:
            return tf.where(valid, y, tf.zeros_like(y))
        return tf.where(valid, y, tf.broadcast_to(last[:, None], tf.shape(y)))

    @contextlib.contextmanager
    def weight_dropped(self, training):
        """Within it, a training call computes with the recurrent kernel times one DropConnect
        mask drawn on entry (`weight_dropout`); nested uses share the outer mask."""
        cell = self.cell
        if not training or cell.weight_dropout == 0 or cell._weight_mask is not None:
            yield
            return
        cell._weight_mask = cell.draw_weight_mask()
        try:
            yield
        finally:
            cell._weight_mask = None

    def call(self, sequences, initial_state=None, mask=None, training=None):
        with self.weight_dropped(training):
            return self._call(sequences, initial_state, mask, training)

    def _call(self, sequences, initial_state, mask, training):
        spec = self.kernel_spec(mask, training)
        self._check_cudnn(spec)
        if spec is not None and mask is None:
            return self._kernel_call(sequences, spec, initial_state, training)
        if spec is not None:
            runnable = right_padded(mask, nonempty=not zoo_kernels.usable())  # cuDNN: no empty
        if spec is not None and not tf.inside_function():
            if bool(runnable):
                return self._kernel_call(sequences, spec, initial_state, training, mask)
            return self._loop_call(sequences, initial_state, mask, training)
        if spec is not None:
            # Decided when the graph runs. The other branch takes the plain loop: the fused
            # loop's hand-written gradient cannot be taken through a tf.cond branch.
            return tf.cond(
                runnable,
                lambda: self._kernel_call(sequences, spec, initial_state, training, mask),
                lambda: self._loop_call(sequences, initial_state, mask, training, "plain"),
            )
        return self._loop_call(sequences, initial_state, mask, training)

    def _loop_call(self, sequences, initial_state, mask, training, loop=None):
        x = tf.transpose(sequences, (1, 0, 2))  # (time, batch, features)
        time_mask = None
        if mask is not None:
            time_mask = tf.transpose(tf.cast(mask, "bool"), (1, 0))  # (time, batch)
        if self.go_backwards:
            x = tf.reverse(x, axis=[0])
            if time_mask is not None:
                time_mask = tf.reverse(time_mask, axis=[0])

        states = self.initial_states(tf.shape(x)[1], initial_state)

        input_mask, recurrent_mask = self.cell.sequence_dropout_masks(x[0], states[0], training)
        if input_mask is not None:
            x = x * input_mask[None]
        params = self.cell.recurrent_params()
        loop = loop or self.loop
        fused = loop == "fused" and self.cell.supports_fused and not self.return_gates
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
                "kernel": self.kernel,
                "matmul_precision": self.matmul_precision,
                "unroll": self.unroll,
            }
        )
        if self.has_use_cudnn:
            config["use_cudnn"] = self.use_cudnn
        return config


# The cell's settings, read on the layer as on `keras.layers.LSTM` (`layer.activation`, ...).
CELL_PROPERTIES = (
    "activation",
    "recurrent_activation",
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
    "weight_dropout",
    "seed",
    "unit_forget_bias",
    "peephole",
    "reset_after",
    "variant",
    "implementation",
)


def _cell_property(name):
    def read(self):
        return getattr(self.cell, name)

    read.__doc__ = f"The cell's `{name}`."
    return property(read)


for _name in CELL_PROPERTIES:
    setattr(Recurrent, _name, _cell_property(_name))


def _at_last_valid(y, lengths):
    """y (batch, time, units) at each sequence's step lengths - 1 (step 0 when it is empty)."""
    return tf.gather(y, tf.maximum(lengths - 1, 0), axis=1, batch_dims=1)


# Large enough that σ saturates to exactly 0 or 1 in float32 whatever the other inputs add.
_SATURATE = 1e4


def _hold_state_on_padding(name, x, w_layer, lengths, units):
    """Makes the kernel's steps past each sequence's length keep its state, exactly.

    oneDNN runs every step; a final state must be the one after the last valid step. One more
    input column, 1 on padding, with fixed weights that saturate the gates there: the LSTM's
    input gate to 0 and forget gate to 1 (c carries over; a<t> is taken from the outputs), the
    GRU's update gate (oneDNN's u, which keeps the old state) to 1 (a carries over). At valid
    steps the column is 0 and changes nothing; its weights get no gradient.
    """
    padding = 1.0 - tf.sequence_mask(lengths, tf.shape(x)[1], dtype=x.dtype)
    x = tf.concat([x, padding[:, :, None]], axis=-1)
    if name == "lstm":  # blocks i, f, c~, o
        row = [-_SATURATE] * units + [_SATURATE] * units + [0.0] * (2 * units)
    else:  # GRU blocks u, r, o
        row = [_SATURATE] * units + [0.0] * (2 * units)
    w_layer = tf.concat([w_layer, tf.constant([row], dtype=w_layer.dtype)], axis=0)
    return x, w_layer


def right_padded(mask, nonempty=False):
    """True when every sequence's valid steps come first (what the kernels can run) and the
    batch has a row and a step (a replica's share of a last, short batch under a
    `tf.distribute` strategy may have none: the kernels cannot run it, the loops can), and
    with `nonempty` when no sequence is all padding (cuDNN fails on those)."""
    mask = tf.cast(mask, "bool")
    lengths = tf.reduce_sum(tf.cast(mask, "int32"), axis=1)
    padded = tf.reduce_all(tf.equal(mask, tf.sequence_mask(lengths, tf.shape(mask)[1])))
    padded = padded & (tf.size(mask) > 0)
    return padded & tf.reduce_all(lengths > 0) if nonempty else padded


def _seen(time_mask):
    """(time, batch): True from the first valid step on."""
    return tf.cumsum(tf.cast(time_mask, "int32"), axis=0) > 0
