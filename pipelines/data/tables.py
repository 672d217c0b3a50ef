"""CSV and TSV files with a header line (`.gz` allowed): a text column and, for labelled data, a
label column, found by name or given.

`text`/`sentence`/`review`/`content` and `label`/`sentiment`/`polarity`/`rating` are found by
themselves (case-insensitive); other layouts name their columns. HTML line breaks (`<br />`, as
in IMDB's reviews) become spaces.
"""

import csv
import io
import re

from pipelines.data.files import read_text
from pipelines.errors import DataError

TEXT_COLUMNS = ("text", "sentence", "review", "content")
LABEL_COLUMNS = ("label", "sentiment", "polarity", "rating")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def clean_text(text):
    """HTML line breaks to spaces."""
    return _BREAK.sub(" ", text)


def _find(header, wanted, given, path, what):
    names = [name.strip().lower() for name in header]
    if given is not None:
        if given.lower() not in names:
            raise DataError(path, f"no {what} column {given!r} (columns: {', '.join(header)})", 1)
        return names.index(given.lower())
    for candidate in wanted:
        if candidate in names:
            return names.index(candidate)
    raise DataError(
        path, f"no {what} column (looked for {', '.join(wanted)}; columns: {', '.join(header)})", 1
    )


def is_table(path):
    """Whether a path names a CSV or TSV file (`.csv`, `.tsv`, optionally `.gz`)."""
    return str(path).lower().removesuffix(".gz").endswith((".csv", ".tsv"))


def read_table(path, text_column=None, label_column=None, labelled=True, max_examples=None):
    """Rows of a CSV (comma) or TSV (`.tsv`, tab) file as `(text, label, line)` tuples
    (`label` None when `labelled` is false).

    Raises:
        DataError: unreadable file, missing columns, a row with too few fields (naming the line).
    """
    name = str(path).lower().removesuffix(".gz")
    delimiter = "\t" if name.endswith(".tsv") else ","
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    # the csv module splits lines itself: quoted fields may hold line breaks of any kind
    reader = csv.reader(
        io.StringIO(read_text(path), newline=""), delimiter=delimiter, quoting=quoting
    )
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, "empty file") from None
    except csv.Error as error:
        raise DataError(path, f"not CSV: {error}", 1) from None
    text_index = _find(header, TEXT_COLUMNS, text_column, path, "text")
    label_index = _find(header, LABEL_COLUMNS, label_column, path, "label") if labelled else None
    needed = max(text_index, label_index if label_index is not None else 0) + 1
    rows = []
    try:
        for row in reader:
            line = reader.line_num
            if not row or not any(field.strip() for field in row):
                continue
            if len(row) < needed:
                raise DataError(path, f"{len(row)} fields, expected at least {needed}", line)
            label = row[label_index].strip() if label_index is not None else None
            if labelled and not label:
                raise DataError(path, "empty label", line)
            rows.append((clean_text(row[text_index]), label, line))
            if max_examples is not None and len(rows) >= max_examples:
                break
    except csv.Error as error:
        raise DataError(path, f"not CSV: {error}", reader.line_num) from None
    if not rows:
        raise DataError(path, "no rows after the header")
    return rows
