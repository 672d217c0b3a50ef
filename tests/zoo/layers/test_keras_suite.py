"""Keras 3's own tests of LSTM, GRU, SimpleRNN and Bidirectional, with the zoo's layers in place
(see `keras_suite`): a drop-in must pass what Keras's layers pass."""

import pytest

from tests.zoo.layers import keras_suite

FILES = ("lstm_test.py", "gru_test.py", "simple_rnn_test.py", "bidirectional_test.py")
RUNS = {
    "zoo": FILES,
    "zoo_bidirectional": ("bidirectional_test.py",),
    "keras_gru_convention": ("gru_test.py", "bidirectional_test.py"),
}

if not all(keras_suite.available(name) for name in FILES):  # pragma: no cover
    pytest.skip("this Keras install ships no layer tests", allow_module_level=True)

for _shim, _files in RUNS.items():
    for _file in _files:
        for _cls in keras_suite.load(_file, _shim):
            _name = f"Test_{_shim}_{_file.removesuffix('_test.py')}_{_cls.__name__}"
            _cls.__qualname__ = _cls.__name__ = _name
            globals()[_name] = _cls
del _shim, _files, _file, _cls
