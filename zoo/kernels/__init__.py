"""Compiled kernels: a whole recurrent layer as one TensorFlow op, run by oneDNN on the CPU.

`rnn_onednn.cc` defines the ops `ZooRnn` (forward) and `ZooRnnGrad` (its gradient): every step of
an LSTM, GRU or simple RNN, one or both directions, in oneDNN's fused RNN primitive (the kernel
`torch.nn.LSTM` runs on the CPU). The zoo's layers use it when it is built and the configuration
allows (see `zoo.layers.recurrent`), and fall back to their own loops otherwise; both compute the
same function. On a GPU they run cuDNN's kernel instead (`zoo.kernels.cudnn`).

The library is compiled on first use (about 15 s, g++ with TensorFlow's headers and those of the
`onednn-devel-cpu-tbb` and `tbb-devel` wheels) into `zoo/kernels/build/`, or
`~/.cache/zoo/kernels` when the package directory is read-only; `python -m zoo.kernels` builds
it ahead of time and says why when it cannot.

The LSTM without peepholes runs the zoo's own loop inside the op (GEMMs and vectorised gate
arithmetic, faster than the primitive here); `ZOO_KERNELS_ENGINE=onednn` makes it use oneDNN's
primitive like the other cells. `ZOO_KERNELS=0` turns the kernels off. Graphs being saved
(`model.export()`, `ExportArchive`, `tf.saved_model.save`) never contain them, so an exported
model loads with TensorFlow alone; `with zoo.kernels.portable():` does the same for any other
code.
"""

import contextlib
import hashlib
import logging
import os
import subprocess
import sys
import sysconfig
import threading

import tensorflow as tf

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn_onednn.cc")
CELLS = ("lstm", "gru", "lbr_gru", "rnn_tanh", "rnn_relu")
PRECISIONS = ("float32", "bfloat16")

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_state = {"module": None, "error": None, "tried": False}
_portable = threading.local()


class BuildError(RuntimeError):
    """The kernel library could not be built or loaded."""


_NEEDED = (
    "include/oneapi/dnnl/dnnl.hpp",
    "include/oneapi/tbb/task_arena.h",
    "lib/libdnnl.so",
    "lib/libtbb.so",
)


def _onednn_prefix():
    """The prefix holding oneDNN's and TBB's headers and libraries (their wheels install there)."""
    candidates = [sys.prefix, sysconfig.get_config_var("prefix"), os.path.expanduser("~/.local")]
    for prefix in candidates:
        if prefix and all(os.path.exists(os.path.join(prefix, path)) for path in _NEEDED):
            return prefix
    raise BuildError(
        "oneDNN or TBB headers not found (pip install onednn-devel-cpu-tbb tbb-devel, "
        "dependencies of the zoo)"
    )


def _cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return line
    except OSError:
        pass
    return ""


def _library_name(prefix):
    with open(SOURCE, "rb") as handle:
        digest = hashlib.sha256(handle.read())
    digest.update(tf.__version__.encode())
    digest.update(prefix.encode())
    digest.update(_cpu_flags().encode())  # built with -march=native: one build per CPU kind
    return f"zoo_rnn_{digest.hexdigest()[:16]}.so"


def _build_dirs():
    here = os.path.join(os.path.dirname(SOURCE), "build")
    return [here, os.path.join(os.path.expanduser("~"), ".cache", "zoo", "kernels")]


def _accepts(compiler, flag):
    """Whether `compiler` knows `flag` (False also when it cannot be run)."""
    try:
        result = subprocess.run(
            [compiler, flag, "-x", "c++", "-E", os.devnull], capture_output=True, check=False
        )
    except OSError:
        return False
    return result.returncode == 0


def _target_flags(compiler):
    """-march=native, less AVX-512 FP16: TensorFlow 2.21's Eigen headers do not compile with it
    (g++ 12, `predux_half_dowto4`), and the kernels have no half-precision code."""
    flags = ["-march=native"]
    if "avx512_fp16" in _cpu_flags() and _accepts(compiler, "-mno-avx512fp16"):
        flags.append("-mno-avx512fp16")
    return flags


def build(verbose=False):
    """Compiles the kernel library if needed; returns its path. Raises `BuildError`."""
    prefix = _onednn_prefix()
    name = _library_name(prefix)
    for directory in _build_dirs():
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    compiler = os.environ.get("CXX", "g++")
    command = [
        compiler,
        "-O3",
        *_target_flags(compiler),
        "-fno-trapping-math",  # lets the gate loops vectorize (floorf in exp)
        "-fno-math-errno",
        "-shared",
        "-fPIC",
        "-std=c++17",
        "-w",
        SOURCE,
        *tf.sysconfig.get_compile_flags(),
        f"-I{os.path.join(prefix, 'include')}",
        *tf.sysconfig.get_link_flags(),
        f"-L{os.path.join(prefix, 'lib')}",
        "-ldnnl",
        "-ltbb",
        # DT_RPATH, not RUNPATH: it also finds libdnnl's own dependencies (libtbb) there.
        "-Wl,--disable-new-dtags",
        f"-Wl,-rpath,{os.path.join(prefix, 'lib')}",
    ]
    errors = []
    for directory in _build_dirs():
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            errors.append(f"{directory}: {error}")
            continue
        path = os.path.join(directory, name)
        partial = f"{path}.{os.getpid()}.partial"
        try:
            result = subprocess.run(
                [*command, "-o", partial], capture_output=True, text=True, check=False
            )
        except OSError as error:  # no compiler
            raise BuildError(f"{compiler}: {error}") from error
        if result.returncode != 0:
            if os.path.exists(partial):
                os.remove(partial)
            if "Permission denied" in result.stderr or "Read-only" in result.stderr:
                errors.append(f"{directory}: not writable")
                continue
            raise BuildError(f"{compiler} failed:\n{result.stderr[-2000:]}")
        os.replace(partial, path)  # atomic: a concurrent loader sees the whole file or none
        for stale in os.listdir(directory):  # builds of older sources or TensorFlow versions
            if stale.startswith("zoo_rnn_") and stale.endswith(".so") and stale != name:
                try:
                    os.remove(os.path.join(directory, stale))
                except OSError:
                    pass
        if verbose:
            print(f"built {path}")
        return path
    raise BuildError("no writable build directory: " + "; ".join(errors))


def load():
    """The op module, building it on first use; None when it cannot be had (reason logged)."""
    if _state["tried"]:
        return _state["module"]
    with _lock:
        if _state["tried"]:
            return _state["module"]
        try:
            if os.environ.get("ZOO_KERNELS", "1") == "0":
                raise BuildError("turned off by ZOO_KERNELS=0")
            _state["module"] = tf.load_op_library(build())
            tf.no_gradient("ZooRnnGrad")
        except (BuildError, tf.errors.NotFoundError, OSError) as error:
            _state["error"] = str(error)
            _log.warning("zoo kernels unavailable, using the zoo's own loops: %s", error)
        _state["tried"] = True
    return _state["module"]


def _after_fork_in_child():
    # oneDNN's TBB threads do not survive fork(): a forked child builds graphs without the op
    # (graphs traced before the fork still hold it, and the op then fails with a clear error).
    if _state["module"] is not None:
        _state["module"] = None
        _state["error"] = "this process was forked after the kernel was loaded"


os.register_at_fork(after_in_child=_after_fork_in_child)


def unavailable_reason():
    """Why `load()` returned None (None when it did not)."""
    load()
    return _state["error"]


@contextlib.contextmanager
def portable():
    """Within this block the zoo's layers build graphs of standard TensorFlow ops only."""
    depth = getattr(_portable, "depth", 0)
    _portable.depth = depth + 1
    try:
        yield
    finally:
        _portable.depth = depth


_SAVING_MODULES = ("keras.src.export.", "tensorflow.python.saved_model.")


def _saving():
    """True while a SavedModel is being traced or written (found on the Python stack)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith(_SAVING_MODULES):
            return True
        frame = frame.f_back
    return False


def _in_xla():
    """True inside a function compiled by XLA, which cannot run custom ops."""
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - moved in some TensorFlow release
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def gpu_present():
    """Whether TensorFlow sees a GPU (asked once per process)."""
    if "gpu" not in _state:
        _state["gpu"] = bool(tf.config.list_logical_devices("GPU"))
    return _state["gpu"]


@tf.autograph.experimental.do_not_convert
def usable():
    """Whether a layer called now may put the kernel op into its graph.

    Not while a SavedModel is traced or under `portable()` (saved graphs stay standard), not
    inside XLA, and not when a GPU is present (the kernel is the CPU's; on a GPU the layers run
    cuDNN's, `zoo.kernels.cudnn`, or their own loops).
    """
    if gpu_present() or not allowed_here():
        return False
    return load() is not None


def allowed_here():
    """Whether a graph built now may hold a fused kernel (this module's op, or cuDNN's): not
    under `portable()`, not while a SavedModel is traced, not inside XLA."""
    if getattr(_portable, "depth", 0):
        return False
    return not (tf.inside_function() and (_in_xla() or _saving()))


def _per_direction(value, directions):
    """A list with one tensor per direction: given as such, or split off a leading axis."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return tf.unstack(value, num=directions)


@tf.autograph.experimental.do_not_convert
def rnn(cell, x, h0, c0, w_layer, w_iter, bias, peephole=None, training=False, precision="float32"):
    """Runs `ZooRnn`; differentiable. Returns (y, h_n, c_n).

    Shapes as in rnn_onednn.cc: `x` [batch, time, features]; the per-direction arguments are
    lists of one tensor per direction (one or two), or tensors with the directions stacked on a
    first axis. With two directions and one `x`, the second reads it right to left; `x` may
    also be a list of one tensor per direction, each read left to right (a masked
    `Bidirectional` gives the backward direction its sequences reversed within their lengths).
    `precision="bfloat16"`: the LSTM's own loop (no peepholes, a lane of one thread) runs
    inference calls (`training=False`) with bfloat16 matrix products, float32 accumulation and
    float32 gates, where oneDNN has bfloat16 products for the CPU; every other call float32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    module = load()
    if module is None:
        raise BuildError(_state["error"])
    directions = len(h0) if isinstance(h0, (list, tuple)) else h0.shape[0]
    if directions not in (1, 2):
        raise ValueError(f"one or two directions, got {directions}")
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(xs) not in (1, directions):
        raise ValueError(f"one x or one per direction, got {len(xs)} for {directions}")
    empty = [tf.zeros((0,), xs[0].dtype)] * directions
    y, h_n, c_n, _ = module.zoo_rnn(
        xs,
        _per_direction(h0, directions),
        empty if c0 is None else _per_direction(c0, directions),
        _per_direction(w_layer, directions),
        _per_direction(w_iter, directions),
        _per_direction(bias, directions),
        empty if peephole is None else _per_direction(peephole, directions),
        cell=cell,
        training=training,
        precision=precision,
    )
    return y, h_n, c_n


def _grouped_inputs(op):
    """ZooRnn's inputs as its Python wrapper takes them: seven lists (x, h0, c0, ...)."""
    directions, xs = op.get_attr("D"), op.get_attr("X")
    inputs = list(op.inputs)
    lists = [inputs[xs + k * directions : xs + (k + 1) * directions] for k in range(6)]
    return [inputs[:xs], *lists]


@tf.RegisterGradient("ZooRnn")
def _zoo_rnn_grad(op, dy, dh_n, dc_n, _dworkspace):
    cell = op.get_attr("cell")
    cell = cell.decode() if isinstance(cell, bytes) else cell
    inputs = _grouped_inputs(op)
    if op.get_attr("training"):
        y, h_n, c_n, workspace = op.outputs
    else:
        # Inference mode keeps no workspace: run the step again, keeping it.
        y, h_n, c_n, workspace = load().zoo_rnn(*inputs, cell=cell, training=True)
    dy = tf.zeros_like(y) if dy is None else dy
    dh_n = tf.zeros_like(h_n) if dh_n is None else dh_n
    dc_n = tf.zeros_like(c_n) if dc_n is None else dc_n
    # A tape says which inputs need no gradient; x often does not (the model's input).
    skipped = getattr(op, "skip_input_indices", None) or ()
    input_gradient = any(i not in skipped for i in range(len(inputs[0])))
    dx, *lists = load().zoo_rnn_grad(
        *inputs, y, h_n, c_n, workspace, dy, dh_n, dc_n, cell=cell, input_gradient=input_gradient
    )
    dx = dx if input_gradient else [None] * len(dx)
    return [*dx, *(grad for grads in lists for grad in grads)]
