"""Unlabeled text for pretraining: plain text files (one sentence or paragraph a line, `.gz`
allowed) or the tokens of CoNLL files, as lists of word tokens."""

from pipelines.data.conll import read_conll
from pipelines.data.files import read_lines
from pipelines.text.tokenize import word_tokenize

CONLL_SUFFIXES = (".conll", ".conllu", ".iob", ".bio", ".bioes")


def is_conll(path):
    """CoNLL by extension, or a `.txt` file that starts with `-DOCSTART-` (CoNLL-2003's)."""
    name = str(path).lower().removesuffix(".gz")
    if name.endswith(CONLL_SUFFIXES):
        return True
    lines = read_lines(path)
    return bool(lines) and lines[0].startswith("-DOCSTART-")


def read_token_lines(path):
    """The word tokens of each non-blank line (or each CoNLL sentence) of a file."""
    if is_conll(path):
        return [sentence.tokens for sentence in read_conll(path)]
    tokens = (word_tokenize(line) for line in read_lines(path))
    return [[t.text for t in line] for line in tokens if line]
