"""`Vocabulary`: tokens to ids and back, built from counts, saved as plain text."""

import collections
import os
import tempfile

from pipelines.errors import DataError

PAD, UNK, BOS, EOS = "<PAD>", "<UNK>", "<BOS>", "<EOS>"
SPECIALS = (PAD, UNK, BOS, EOS)  # ids 0, 1, 2, 3

# A saved vocabulary holds one token per line; these characters are escaped so that a character
# vocabulary can hold a newline.
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {v[1]: k for k, v in _ESCAPES.items()}


def _escape(token):
    return "".join(_ESCAPES.get(ch, ch) for ch in token)


def _unescape(line):
    out, chars = [], iter(line)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            if nxt not in _UNESCAPES:
                raise ValueError(f"unknown escape \\{nxt}")
            out.append(_UNESCAPES[nxt])
        else:
            out.append(ch)
    return "".join(out)


class Vocabulary:
    """Token <-> id mapping. The special tokens come first (by default `<PAD>`=0, `<UNK>`=1,
    `<BOS>`=2, `<EOS>`=3), then the tokens in the order given.

    Args:
        tokens: the regular tokens, most frequent first.
        specials: the special tokens, in id order; `()` for a tag vocabulary that needs none.

    Example:
        >>> vocab = Vocabulary.build([["the", "cat"], ["the", "dog"]], min_count=1)
        >>> vocab.encode(["the", "cow"])
        [4, 1]
    """

    def __init__(self, tokens, specials=SPECIALS):
        self.specials = tuple(specials)
        self._tokens = list(self.specials) + [t for t in tokens if t not in self.specials]
        self._ids = {}
        for index, token in enumerate(self._tokens):
            if token in self._ids:
                raise ValueError(f"token {token!r} appears twice")
            self._ids[token] = index

    @classmethod
    def build(cls, data, min_count=1, max_size=None, specials=SPECIALS):
        """A vocabulary of the most frequent tokens (the course's "top m words").

        Args:
            data: a mapping token -> count, or an iterable of token sequences to count.
            min_count: drop tokens seen fewer times.
            max_size: at most this many entries, specials included (the rows of an embedding
                matrix); `None` for no limit.
            specials: as in the constructor.
        Ties in count are broken alphabetically, so the same data always gives the same ids.
        """
        if isinstance(data, collections.abc.Mapping):
            counts = collections.Counter(data)
        else:
            counts = collections.Counter()
            for sequence in data:
                counts.update(sequence)
        if max_size is not None and max_size < len(specials):
            raise ValueError(f"max_size {max_size} leaves no room for the {len(specials)} specials")
        ranked = sorted(
            (t for t, c in counts.items() if c >= min_count and t not in specials),
            key=lambda t: (-counts[t], t),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        return cls(ranked, specials)

    # === mapping ===

    def __len__(self):
        return len(self._tokens)

    def __contains__(self, token):
        return token in self._ids

    def __iter__(self):
        return iter(self._tokens)

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self._tokens == other._tokens

    @property
    def tokens(self):
        return list(self._tokens)

    @property
    def pad_id(self):
        return self._ids.get(PAD)

    @property
    def unk_id(self):
        return self._ids.get(UNK)

    @property
    def bos_id(self):
        return self._ids.get(BOS)

    @property
    def eos_id(self):
        return self._ids.get(EOS)

    def id(self, token):
        """The id of a token; `<UNK>`'s for an unknown one (KeyError without `<UNK>`)."""
        found = self._ids.get(token)
        if found is not None:
            return found
        if self.unk_id is None:
            raise KeyError(f"{token!r} is not in the vocabulary")
        return self.unk_id

    def token(self, index):
        return self._tokens[index]

    def encode(self, tokens):
        return [self.id(t) for t in tokens]

    def decode(self, ids):
        return [self._tokens[i] for i in ids]

    # === files ===

    def save(self, path):
        """Writes one token per line (UTF-8; backslash, newline, CR and tab escaped)."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp"
        ) as handle:
            handle.writelines(_escape(t) + "\n" for t in self._tokens)
        os.chmod(handle.name, 0o644)  # mkstemp's 0600 would hide a shipped model's files
        os.replace(handle.name, path)  # never a half-written vocabulary

    @classmethod
    def load(cls, path, specials=SPECIALS):
        """Reads a file written by `save`. Bad files raise `DataError` naming file and line."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8", newline="\n") as handle:
                lines = handle.read().split("\n")
        except FileNotFoundError:
            raise DataError(path, "no such file") from None
        except UnicodeDecodeError as error:
            raise DataError(path, f"not UTF-8 text (byte {error.start})") from None
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            raise DataError(path, "empty vocabulary file")
        tokens = []
        for number, line in enumerate(lines, start=1):
            try:
                tokens.append(_unescape(line))
            except ValueError as error:
                raise DataError(path, str(error), number) from None
        for number, (got, expected) in enumerate(zip(tokens, specials), start=1):
            if got != expected:
                raise DataError(path, f"expected special token {expected}, found {got!r}", number)
        seen = {}
        for number, token in enumerate(tokens, start=1):
            if token in seen:
                raise DataError(path, f"{token!r} repeats line {seen[token]}", number)
            seen[token] = number
        return cls(tokens[len(specials) :], specials)

    # === in-graph lookup (export) ===

    def lookup_table(self):
        """A `tf.lookup.StaticHashTable` string -> int64 id, `<UNK>`'s id for unknown tokens.

        Keep a reference to it on the exported module (`tf.Module` attribute) so that the
        SavedModel tracks it.
        """
        import tensorflow as tf

        default = self.unk_id if self.unk_id is not None else -1
        initializer = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self._tokens), tf.range(len(self._tokens), dtype=tf.int64)
        )
        return tf.lookup.StaticHashTable(initializer, default_value=default)
