"""CoNLL reader: columns, documents, tag schemes, and errors that name the file and line."""

import pytest

from pipelines.data import convert_scheme, entity_spans, read_conll
from pipelines.data.conll import detect_scheme
from pipelines.errors import DataError

CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def write(tmp_path, text, name="data.conll", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_reads_conll2003_columns_and_documents(tmp_path):
    sentences = read_conll(write(tmp_path, CONLL2003))
    assert [s.tokens for s in sentences] == [
        ["EU", "rejects", "German", "call"],
        ["Peter", "Blackburn"],
        ["BRUSSELS"],
    ]
    assert sentences[1].tags == ["B-PER", "I-PER"]
    assert [s.line for s in sentences] == [3, 8, 13]


def test_tab_separated_two_columns_and_max_examples(tmp_path):
    path = write(tmp_path, "@paul\tO\nIt\tB-person\n\nx\tO\n\ny\tO\n")
    assert [s.tags for s in read_conll(path)] == [["O", "B-person"], ["O"], ["O"]]
    assert len(read_conll(path, max_examples=2)) == 2


def test_tag_column_option(tmp_path):
    path = write(tmp_path, "Paris B-LOC NNP\n")
    assert read_conll(path, tag_column=1)[0].tags == ["B-LOC"]


@pytest.mark.parametrize(
    "tags, scheme, iob2, bioes",
    [
        (
            ["I-PER", "I-PER", "B-PER", "O"],
            "iob1",
            ["B-PER", "I-PER", "B-PER", "O"],
            ["B-PER", "E-PER", "S-PER", "O"],
        ),
        (
            ["B-LOC", "I-LOC", "I-ORG", "O", "I-LOC"],
            "iob1",
            ["B-LOC", "I-LOC", "B-ORG", "O", "B-LOC"],
            ["B-LOC", "E-LOC", "S-ORG", "O", "S-LOC"],
        ),
        (
            ["B-PER", "E-PER", "S-LOC", "S-LOC"],
            "bioes",
            ["B-PER", "I-PER", "B-LOC", "B-LOC"],
            ["B-PER", "E-PER", "S-LOC", "S-LOC"],
        ),
        (
            ["B-PER", "I-PER", "O", "B-ORG"],
            "iob2",
            ["B-PER", "I-PER", "O", "B-ORG"],
            ["B-PER", "E-PER", "O", "S-ORG"],
        ),
    ],
)
def test_scheme_detection_and_conversion(tags, scheme, iob2, bioes):
    assert detect_scheme([tags]) == scheme
    assert convert_scheme(tags, scheme, "iob2") == iob2
    assert convert_scheme(tags, scheme, "bioes") == bioes
    assert convert_scheme(bioes, "bioes", "iob2") == iob2


def test_iob1_file_is_read_as_iob2(tmp_path):
    path = write(tmp_path, "Peter I-PER\nBlackburn I-PER\n\nBonn I-LOC\n")
    assert [s.tags for s in read_conll(path)] == [["B-PER", "I-PER"], ["B-LOC"]]
    assert read_conll(path, output_scheme="bioes")[0].tags == ["B-PER", "E-PER"]


@pytest.mark.parametrize(
    "content, message, line",
    [
        ("EU B-ORG\nrejects\n", "no tag column", 2),
        ("EU B-ORG\n\nrejects X-ORG\n", "not O, B-, I-, E- or S-TYPE", 3),
        ("EU b-org\n", "not O, B-", 1),
        ("\n\n-DOCSTART- O\n\n", "no sentences", None),
        ("", "empty file", None),
        (b"EU B-ORG\nM\xfcnchen B-LOC\n", "not UTF-8", 2),
        (b"EU B-ORG\n\x00\x01\x02", "binary", 2),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, content, message, line):
    path = write(tmp_path, content)
    with pytest.raises(DataError, match=message) as error:
        read_conll(path)
    assert error.value.line == line
    where = f"{path}:{line}: " if line else f"{path}: "
    assert str(error.value).startswith(where)


def test_missing_file_and_bioes_in_iob2_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_conll(tmp_path / "missing.conll")
    with pytest.raises(DataError, match="BIOES") as error:
        read_conll(write(tmp_path, "EU S-ORG\n"), scheme="iob2")
    assert error.value.line == 1


def test_a_line_of_zero_width_characters_is_blank(tmp_path):
    path = write(tmp_path, "Channel\tB-corporation\n!\tO\n\ufeff\n\nNext\tO\n")
    assert [s.tokens for s in read_conll(path)] == [["Channel", "!"], ["Next"]]


@pytest.mark.parametrize(
    "tags, spans",
    [
        (["B-PER", "I-PER", "O", "I-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
        (["B-PER", "B-PER", "I-ORG"], [("PER", 0, 1), ("PER", 1, 2), ("ORG", 2, 3)]),
        (["S-LOC", "B-ORG", "E-ORG", "O"], [("LOC", 0, 1), ("ORG", 1, 3)]),
        (["O", "O"], []),
        ([], []),
    ],
)
def test_entity_spans_read_chunks_like_conlleval(tags, spans):
    assert entity_spans(tags) == spans


def test_gzip_files_are_read(tmp_path):
    import gzip

    path = tmp_path / "train.conll.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("EU B-ORG\nrejects O\n")
    assert read_conll(path)[0].tokens == ["EU", "rejects"]
    (tmp_path / "cut.conll.gz").write_bytes(path.read_bytes()[:-6])
    with pytest.raises(DataError, match="not a complete gzip file"):
        read_conll(tmp_path / "cut.conll.gz")
