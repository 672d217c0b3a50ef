"""Keras's own behaviour tests for its recurrent layers, run with the zoo's layers in their place.

`load(test_file, shim)` reads `keras/src/layers/rnn/<test_file>` from the installed Keras and
runs it against one of three stand-ins for `keras.src.layers` (everything else is Keras's):

- `"zoo"`: `LSTM`, `GRU`, `SimpleRNN` and `Bidirectional` are the zoo's;
- `"zoo_bidirectional"`: only `Bidirectional` is the zoo's, wrapping Keras's own layers, which
  must then behave exactly as under `keras.layers.Bidirectional`;
- `"keras_gru_convention"`: as `"zoo"`, but the GRU's update-block initial weights are negated
  (`NegatedUpdateBlock`): Keras's z is the course's 1 - Γu, so the tests that pin Keras's GRU
  values with constant initialisers must pass here, where under `"zoo"` they cannot.
"""

import pathlib
import types
import unittest

import keras
import keras.src.layers as keras_layers
import numpy as np

from zoo import layers as zoo_layers

RNN_TESTS = pathlib.Path(keras_layers.__file__).parent / "rnn"
IMPORT_LINE = "from keras.src import layers\n"

# Tests that pin keras.layers.GRU's values with constant initialisers: under the zoo's gate
# convention they compute other numbers (the "keras_gru_convention" run checks them).
PINS_GRU_GATES = {
    "gru_test.py": (
        "test_correctness",
        "test_legacy_implementation_argument",
        "test_masking",
        "test_pass_initial_state",
        "test_pass_return_state",
        "test_statefulness",
    ),
    "bidirectional_test.py": ("test_correctness", "test_masking"),
}


@keras.saving.register_keras_serializable(package="zoo_tests")
class NegatedUpdateBlock(keras.initializers.Initializer):
    """`base`'s values with the first `units` columns (the GRU's update block) negated."""

    def __init__(self, base, units):
        self.base = keras.initializers.get(base)
        self.units = units

    def __call__(self, shape, dtype=None):
        values = np.array(self.base(shape, dtype=dtype))
        values[..., : self.units] *= -1
        return values

    def get_config(self):
        return {"base": keras.initializers.serialize(self.base), "units": self.units}


@keras.saving.register_keras_serializable(package="zoo_tests")
class KerasConventionGRU(zoo_layers.GRU):
    """The zoo's GRU started from the weights that make it Keras's GRU with `base` weights."""

    def __init__(self, units, **kwargs):
        defaults = {
            "kernel_initializer": "glorot_uniform",
            "recurrent_initializer": "orthogonal",
            "bias_initializer": "zeros",
        }
        for key, default in defaults.items():
            initializer = keras.initializers.get(kwargs.get(key, default))
            if not isinstance(initializer, NegatedUpdateBlock):
                initializer = NegatedUpdateBlock(initializer, units)
            kwargs[key] = initializer
        super().__init__(units, **kwargs)


def _shim(name, replacements):
    module = types.ModuleType(f"keras_suite_{name}_layers")
    module.__dict__.update(replacements)
    module.__getattr__ = lambda attribute: getattr(keras_layers, attribute)
    return module


SHIMS = {
    "zoo": {
        "LSTM": zoo_layers.LSTM,
        "GRU": zoo_layers.GRU,
        "SimpleRNN": zoo_layers.SimpleRNN,
        "Bidirectional": zoo_layers.Bidirectional,
    },
    "zoo_bidirectional": {"Bidirectional": zoo_layers.Bidirectional},
    "keras_gru_convention": {
        "LSTM": zoo_layers.LSTM,
        "GRU": KerasConventionGRU,
        "SimpleRNN": zoo_layers.SimpleRNN,
        "Bidirectional": zoo_layers.Bidirectional,
    },
}


def available(test_file):
    return (RNN_TESTS / test_file).is_file()


def load(test_file, shim):
    """The `unittest.TestCase` classes of Keras's `test_file`, run against `shim`."""
    path = RNN_TESTS / test_file
    source = path.read_text()
    if IMPORT_LINE not in source:
        raise RuntimeError(f"{path} no longer imports its layers as `{IMPORT_LINE.strip()}`")
    module = types.ModuleType(f"keras_suite_{shim}_{path.stem}")
    module.__dict__["layers"] = _shim(shim, SHIMS[shim])
    code = compile(source.replace(IMPORT_LINE, "\n"), str(path), "exec")
    exec(code, module.__dict__)  # noqa: S102 - Keras's own test file
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, unittest.TestCase)
        and value.__module__ == module.__name__
    ]
    if shim == "zoo":
        for cls in classes:
            _skip_pinned(cls, PINS_GRU_GATES.get(test_file, ()))
    return classes


def _skip_pinned(cls, prefixes):
    reason = (
        "pins keras.layers.GRU's gate values with constant initialisers (Keras's z is the "
        "course's 1 - Γu); checked by the keras_gru_convention run"
    )
    for name in list(vars(cls)):
        if name.startswith("test_") and name.startswith(prefixes):
            setattr(cls, name, unittest.skip(reason)(getattr(cls, name)))
