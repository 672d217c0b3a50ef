"""cuDNN's fused RNN kernels for the zoo's layers on a GPU.

On a machine with a CUDA GPU the zoo's layers run each direction of a recurrent layer as one
`CudnnRNNV3` op (the kernel `keras.layers.LSTM` and `torch.nn.LSTM` run there) whenever the
configuration allows it, as Keras does: the LSTM with tanh/sigmoid and no peepholes, the full GRU
with `reset_after=True`, the simple RNN with tanh or relu; float16 or float32; no recurrent
dropout in training; masks only when right-padded with no empty sequence (checked when the call
runs). Otherwise they run their own loops, which compute the same function.

The cell describes itself once, in `zoo.kernels`' terms (`cell.kernel_spec()`: its weights in
oneDNN's layout); `params` turns that into cuDNN's flat parameter buffer. Graphs being saved
(`model.export()`, ...) and graphs under `zoo.kernels.portable()` never contain the op, so a
model exported on a GPU machine loads on a CPU-only one.
"""

import tensorflow as tf

# zoo.kernels cell name -> (cuDNN rnn_mode, gate blocks)
MODES = {"lstm": ("lstm", 4), "lbr_gru": ("gru", 3), "rnn_tanh": ("rnn_tanh", 1)}
MODES["rnn_relu"] = ("rnn_relu", 1)
DTYPES = ("float16", "float32")

_state = {}


def _cuda_build():
    if "cuda" not in _state:  # ROCm's MIOpen orders the LSTM's gates otherwise
        _state["cuda"] = bool(tf.test.is_built_with_cuda())
    return _state["cuda"]


def available():
    """Whether TensorFlow here is a CUDA build that sees a GPU (asked once per process)."""
    from zoo import kernels

    return kernels.gpu_present() and _cuda_build()


@tf.autograph.experimental.do_not_convert
def usable(dtype="float32"):
    """Whether a layer called now may put `CudnnRNNV3` into its graph."""
    from zoo import kernels

    return dtype in DTYPES and available() and kernels.allowed_here()


def supports_cell(cell):
    """Whether cuDNN computes this cell's function, from its configuration alone (no weights
    needed): `supports(cell.kernel_spec())` once built."""
    return (
        cell.kernel_name() in MODES
        and not getattr(cell, "peephole", False)
        and cell.compute_dtype in DTYPES
    )


def supports(spec):
    """Whether cuDNN computes the function of this `cell.kernel_spec()`."""
    return spec is not None and spec[0] in MODES and spec[4] is None


def params(spec):
    """cuDNN's flat parameter buffer for `spec` = (cell, w_layer, w_iter, bias, peephole).

    cuDNN holds, per gate, the input weights W (units, features) and the recurrent weights R
    (units, units) row-major, all W then all R, then an input bias and a recurrent bias per gate
    in the same order. Its LSTM gates are (i, f, c~, o), oneDNN's and the zoo's order; its GRU
    gates are (r, z, h~) where oneDNN's are (u, r, o): oneDNN's u is cuDNN's z (both keep the
    old state: h = z * h<t-1> + (1 - z) * h~), and linear-before-reset is cuDNN's only GRU.
    """
    cell, w_layer, w_iter, bias, peephole = spec
    if not supports(spec):
        raise ValueError(f"cuDNN has no {cell!r} cell" + (" with peepholes" if peephole else ""))
    blocks = MODES[cell][1]
    w = tf.split(w_layer, blocks, axis=1)
    r = tf.split(w_iter, blocks, axis=1)
    if cell == "lbr_gru":
        # oneDNN's 4 biases: u and r (input and recurrent summed), o's input and recurrent.
        b_u, b_r, b_o, b_ro = tf.split(bias, 4)
        w, r = [w[1], w[0], w[2]], [r[1], r[0], r[2]]
        biases = [b_r, b_u, b_o, tf.zeros_like(b_r), tf.zeros_like(b_u), b_ro]
    else:
        b = tf.split(bias, blocks)
        biases = b + [tf.zeros_like(part) for part in b]  # the input bias carries it all
    flat = [tf.reshape(tf.transpose(m), [-1]) for m in w + r] + [
        tf.reshape(b, [-1]) for b in biases
    ]
    return tf.concat(flat, axis=0)


def _op(**kwargs):  # the raw op, looked up when called (tests stand in for it without a GPU)
    return tf.raw_ops.CudnnRNNV3(**kwargs)


def rnn(spec, x, h0, c0=None, lengths=None):
    """One direction of `spec`'s cell over `x` (batch, time, features), left to right.

    `lengths` (batch,) int32: each sequence's valid steps, which come first (right padding);
    None: all steps. Returns y (batch, time, units), zeros past each length, and the states
    after each sequence's last valid step: h_n (batch, units), c_n (the LSTM's, else None).
    Differentiable (cuDNN's own backward pass).
    """
    mode = MODES[spec[0]][0]
    if lengths is None:
        lengths = tf.fill([tf.shape(x)[0]], tf.shape(x)[1])
    y, h_n, c_n, _, _ = _op(
        input=x,
        input_h=h0[:, None],  # batch-major: (batch, layers, units)
        input_c=c0[:, None] if mode == "lstm" else tf.zeros((), x.dtype),
        params=params(spec),
        sequence_lengths=tf.cast(lengths, tf.int32),
        rnn_mode=mode,
        input_mode="linear_input",
        direction="unidirectional",
        is_training=True,  # keeps the reserve space its gradient needs
        time_major=False,
    )
    return y, h_n[:, 0], c_n[:, 0] if mode == "lstm" else None
