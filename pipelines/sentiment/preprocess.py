"""How a classifier reads text: words (lower-cased, digits folded), labels, truncation."""

import json
import os

import numpy as np

TRUNCATIONS = ("head+tail", "head", "tail", "none")


class SentimentPreprocessor:
    """Texts to token ids: `word_tokenize` words, lower-cased with digits folded to 0 (unless
    `lower` is false: a classifier made from a cased word language model reads as it did),
    truncated to `max_tokens` (`truncate="none"`: the whole text, however long); `reverse`
    (a classifier made from a backward language model) feeds the kept words last to first."""

    def __init__(
        self,
        words,
        labels,
        max_tokens=400,
        truncate="head+tail",
        lower=True,
        aliases=None,
        reverse=False,
    ):
        self.words, self.labels = words, labels
        self.max_tokens, self.truncate, self.lower = max_tokens, truncate, lower
        self.aliases = dict(aliases or {})  # a label as data files write it -> its name
        self.reverse = reverse

    def label(self, raw):
        """The model's name for a label read from data (`--label-names` renames `0` ...)."""
        return self.aliases.get(raw, raw)

    def tokens(self, text):
        from pipelines.text import split_text

        return split_text(text, "word", self.lower)

    def cut(self, tokens):
        n = self.max_tokens
        if self.truncate == "none" or len(tokens) <= n:
            return tokens
        if self.truncate == "head":
            return tokens[:n]
        if self.truncate == "tail":
            return tokens[-n:]
        return tokens[: n - n // 2] + tokens[len(tokens) - n // 2 :]

    def encode(self, text):
        ids = self.words.encode(self.cut(self.tokens(text))) or [self.words.unk_id]
        return np.asarray(ids[::-1] if self.reverse else ids, "int32")

    def save(self, folder):
        self.words.save(os.path.join(folder, "words.txt"))
        self.labels.save(os.path.join(folder, "labels.txt"))
        with open(os.path.join(folder, "text.json"), "w", encoding="utf-8") as handle:
            settings = {"max_tokens": self.max_tokens, "truncate": self.truncate}
            settings.update({"reverse": True} if self.reverse else {})
            json.dump({**settings, "lower": self.lower, "aliases": self.aliases}, handle)

    @classmethod
    def load(cls, folder):
        from pipelines.text import Vocabulary

        with open(os.path.join(folder, "text.json"), encoding="utf-8") as handle:
            settings = json.load(handle)
        return cls(
            Vocabulary.load(os.path.join(folder, "words.txt")),
            Vocabulary.load(os.path.join(folder, "labels.txt"), specials=()),
            **settings,
        )
