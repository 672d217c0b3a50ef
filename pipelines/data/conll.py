"""CoNLL column files: one token a line, the tag in a column, a blank line between sentences.

Any number of columns, separated by spaces or tabs (CoNLL-2003: `word POS chunk NER`; WNUT-17:
`word<TAB>tag`); the tag column is the last by default. `-DOCSTART-` lines separate documents.
Tags are read as IOB1, IOB2 or BIOES (detected, or given) and returned in IOB2 (or BIOES).
"""

import re
from typing import NamedTuple

from pipelines.data.files import read_lines
from pipelines.errors import DataError

SCHEMES = ("iob1", "iob2", "bioes")
_TAG = re.compile(r"^(?:O|[BIES]-\S+)$")
_ZERO_WIDTH = "\ufeff\u200b\u200c\u200d"


class Sentence(NamedTuple):
    tokens: list
    tags: list
    line: int  # line of the first token in the file, for messages
    document: int = None  # how many -DOCSTART- lines come before it (None: none do)


def read_conll(path, tag_column=-1, scheme="auto", output_scheme="iob2", max_examples=None):
    """Reads a CoNLL file into `Sentence`s with tags in `output_scheme`.

    Args:
        path: the file.
        tag_column: which column holds the tag (default: the last).
        scheme: `"auto"` (BIOES if E-/S- tags occur, IOB1 if a chunk starts with I-, else IOB2),
            or `"iob1"`, `"iob2"`, `"bioes"`.
        output_scheme: `"iob2"` or `"bioes"`.
        max_examples: stop after this many sentences.
    Raises:
        DataError: a missing, empty, binary or non-UTF-8 file, a line without a tag, a tag
            outside IOB1/IOB2/BIOES (naming file and line).
    """
    if scheme not in SCHEMES + ("auto",):
        raise ValueError(f"scheme must be auto or one of {SCHEMES}, got {scheme!r}")
    if output_scheme not in ("iob2", "bioes"):
        raise ValueError(f"output_scheme must be iob2 or bioes, got {output_scheme!r}")
    sentences, tokens, tags, first, document = [], [], [], None, None
    for number, line in enumerate(read_lines(path), start=1):
        # A line of nothing but zero-width characters (WNUT-17's dev file has stray byte-order
        # marks) is a blank line.
        fields = line.split() if line.strip(_ZERO_WIDTH + " \t") else []
        if not fields or fields[0] == "-DOCSTART-":
            if tokens:
                sentences.append(Sentence(tokens, tags, first, document))
                tokens, tags = [], []
                if max_examples is not None and len(sentences) >= max_examples:
                    break
            if fields:
                document = 1 if document is None else document + 1
            continue
        if len(fields) < 2:
            raise DataError(path, f"token {fields[0]!r} has no tag column", number)
        try:
            tag = fields[tag_column]
        except IndexError:
            raise DataError(path, f"no column {tag_column} on this line", number) from None
        if not _TAG.match(tag):
            raise DataError(path, f"tag {tag!r} is not O, B-, I-, E- or S-TYPE", number)
        if tag[0] in "ES" and scheme in ("iob1", "iob2"):
            raise DataError(path, f"tag {tag!r} is BIOES, not {scheme.upper()}", number)
        if not tokens:
            first = number
        tokens.append(fields[0])
        tags.append(tag)
    if tokens and (max_examples is None or len(sentences) < max_examples):
        sentences.append(Sentence(tokens, tags, first, document))
    if not sentences:
        raise DataError(path, "no sentences (only blank or -DOCSTART- lines)")
    source = scheme if scheme != "auto" else detect_scheme(s.tags for s in sentences)
    return [s._replace(tags=convert_scheme(s.tags, source, output_scheme)) for s in sentences]


def _starts_chunk_with_i(tags):
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            return True
        previous = tag
    return False


def detect_scheme(tag_sequences):
    """BIOES if E-/S- occur, IOB1 if some chunk starts with I-, otherwise IOB2."""
    iob1 = False
    for tags in tag_sequences:
        if any(t[0] in "ES" for t in tags):
            return "bioes"
        iob1 = iob1 or _starts_chunk_with_i(tags)
    return "iob1" if iob1 else "iob2"


def convert_scheme(tags, source, target):
    """Converts one sentence's tags from IOB1, IOB2 or BIOES to IOB2 or BIOES.

    Reading is the same for every source scheme (a chunk starts at B-/S-, or at an I-/E- that
    does not continue a chunk of its type), so `source` only documents the caller's intent.
    """
    iob2 = []
    previous = "O"
    for tag in tags:
        if tag == "O":
            iob2.append(tag)
        else:
            # B- and S- always start a chunk (IOB1 writes B- only where two chunks of one type
            # meet); I- and E- continue one only after B- or I- of the same type.
            kind = tag[2:]
            continues = tag[0] in "IE" and previous[0] in "BI" and previous[2:] == kind
            iob2.append(("I-" if continues else "B-") + kind)
        previous = tag
    if target == "iob2":
        return iob2
    bioes = []
    for index, tag in enumerate(iob2):
        if tag == "O":
            bioes.append(tag)
            continue
        following = iob2[index + 1] if index + 1 < len(iob2) else "O"
        continues = following == f"I-{tag[2:]}"
        if tag[0] == "B":
            bioes.append(tag if continues else f"S-{tag[2:]}")
        else:
            bioes.append(tag if continues else f"E-{tag[2:]}")
    return bioes


def entity_spans(tags):
    """Entity chunks of a tag sequence as `(type, first, last + 1)`, the way conlleval reads
    them: a chunk starts at B-/S- or where the type changes, and ends at E-/S-, O or a new start.

    Example:
        >>> entity_spans(["B-PER", "I-PER", "O", "I-LOC"])
        [('PER', 0, 2), ('LOC', 3, 4)]
    """
    spans, kind, start = [], None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        begins = prefix in ("B", "S") or (prefix in ("I", "E") and label != kind)
        if kind is not None and (prefix == "O" or begins):
            spans.append((kind, start, i))
            kind = None
        if prefix != "O" and (begins or kind is None):
            kind, start = label, i
        if prefix in ("E", "S") and kind is not None:
            spans.append((kind, start, i + 1))
            kind = None
    return spans
