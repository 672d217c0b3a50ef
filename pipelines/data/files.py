"""Reading text files with errors that name the file and line."""

import gzip
import os
import zlib

from pipelines.errors import DataError


def read_lines(path):
    """The lines of a UTF-8 text file (line ends removed); `.gz` files are decompressed.

    Raises `DataError` as `read_text` does.
    """
    return read_text(path).splitlines()


def read_text(path):
    """The text of a UTF-8 file (`.gz` decompressed, a byte-order mark dropped).

    Raises `DataError` for a missing file, a folder, an empty or binary file, or bytes that are
    not UTF-8 (naming the line).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except IsADirectoryError:
        raise DataError(path, "is a folder, not a file") from None
    except OSError as error:
        raise DataError(path, error.strerror or "cannot be read") from None
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise DataError(path, "not a complete gzip file") from None
    if not data.strip():
        raise DataError(path, "empty file")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DataError(path, "binary data (a NUL byte), not text", line)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(path, f"not UTF-8 text (byte 0x{data[error.start]:02x})", line) from None
    if text.startswith("\ufeff"):  # a byte-order mark
        text = text[1:]
    if not text.strip():
        raise DataError(path, "empty file")
    return text
