"""Unlabeled text for pretraining, as lists of word tokens: plain text files (one sentence or
paragraph a line), the tokens of CoNLL files, or the text column of CSV/TSV files; `.gz` allowed."""

from pipelines.data.conll import read_conll
from pipelines.data.files import read_lines
from pipelines.data.tables import read_table
from pipelines.text.tokenize import word_tokenize

CONLL_SUFFIXES = (".conll", ".conllu", ".iob", ".bio", ".bioes")


def is_conll(path):
    """CoNLL by extension, or a `.txt` file that starts with `-DOCSTART-` (CoNLL-2003's)."""
    name = str(path).lower().removesuffix(".gz")
    if name.endswith(CONLL_SUFFIXES):
        return True
    lines = read_lines(path)
    return bool(lines) and lines[0].startswith("-DOCSTART-")


def is_table(path):
    return str(path).lower().removesuffix(".gz").endswith((".csv", ".tsv"))


def read_token_lines(path):
    """The word tokens of each non-blank line (or each CoNLL sentence, or the text column of
    each CSV/TSV row) of a file."""
    if is_table(path):
        rows = read_table(path, labelled=False)
        return [[t.text for t in word_tokenize(text)] for text, _, _ in rows]
    if is_conll(path):
        return [sentence.tokens for sentence in read_conll(path)]
    tokens = (word_tokenize(line) for line in read_lines(path))
    return [[t.text for t in line] for line in tokens if line]
