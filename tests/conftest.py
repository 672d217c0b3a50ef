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


def invoke(main, *args, **kwargs):
    """Runs a click command line in-process (`args` as the shell would pass them); an
    exception other than the command's own exit is raised, so a test sees its traceback."""
    from click.testing import CliRunner

    result = CliRunner().invoke(main, [str(a) for a in args], **kwargs)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A tiny corpus for every task, written once per session: `ner` (CoNLL, IOB2),
    `ner_dev`, `sentiment` (CSV), `sentiment_dev`, `lm` (text), `seq2seq` (pairs)."""
    from tests.pipelines.test_ner_cli import write_corpus
    from tests.pipelines.test_sentiment_cli import write_csv

    folder = tmp_path_factory.mktemp("tiny")
    (folder / "lm.txt").write_text("To be, or not to be, that is the question.\n" * 60)
    pairs = [(w, " ".join(w.upper())) for w in ("abc", "bca", "cab", "abba", "baba", "cc")]
    (folder / "pairs.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs * 10))
    return {
        "folder": folder,
        "ner": write_corpus(folder / "train.conll", 60, seed=0),
        "ner_dev": write_corpus(folder / "dev.conll", 20, seed=1),
        "sentiment": write_csv(folder / "train.csv", 120, 0),
        "sentiment_dev": write_csv(folder / "dev.csv", 40, 1),
        "lm": str(folder / "lm.txt"),
        "seq2seq": str(folder / "pairs.tsv"),
    }
