import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# On a GPU, TensorFlow's float32 products default to TensorFloat-32 (10-bit mantissas); the
# tests compare paths to 2e-5, so they run in full float32 there as on the CPU.
tf.config.experimental.enable_tensor_float_32_execution(False)


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running; deselected unless -m slow is given")
