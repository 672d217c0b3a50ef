"""Every reader meets random bytes and malformed lines with a result or a `DataError` naming the
file (and line), never another exception."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.data import read_conll
from pipelines.data.corpus import read_token_lines
from pipelines.data.tables import read_table
from pipelines.errors import DataError
from pipelines.seq2seq.data import read_cmudict, read_pairs
from pipelines.text import Vocabulary
from pipelines.vectors import load_vectors

READERS = {
    "data.conll": read_conll,
    "data.csv": read_table,
    "data.tsv": read_table,
    "data.txt": read_token_lines,
    "vectors.txt": load_vectors,
    "vocab.txt": Vocabulary.load,
    "data.conll.gz": read_conll,
    "pairs.tsv": read_pairs,
    "words.dict": read_cmudict,
}

_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "",
                "-DOCSTART- -X- O",
                "EU B-ORG",
                "rejects O",
                "x",
                "a\tb\tc",
                "text,label",
                '"unclosed,1',
                "good,1",
                "w 0.1 0.2",
                "2 2",
                "I-PER",
                "B-",
                "\ufeff",
                "\\",
                "source\ttarget",
                "WORD(2) W ER1 D",
                "WORD # comment",
                ";;; comment",
            ]
        ),
        st.text(max_size=20),
    ),
    max_size=12,
).map("\n".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.one_of(st.binary(max_size=200), _LINES.map(lambda s: s.encode("utf-8"))))
@pytest.mark.parametrize("name", sorted(READERS))
def test_readers_raise_only_data_errors(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        READERS[name](path)
    except DataError as error:
        assert str(error).startswith(str(path))
        assert "\n" not in str(error)
