"""How a language model reads text: its vocabulary, level (characters or words), format and
direction."""

import json
import os

import numpy as np

from pipelines.text import split_text


class LMPreprocessor:
    """How a model turns text into ids and back: the vocabulary, the level and the format.
    `reverse` (a backward model) reads every text from its end: characters (or the words of
    each line, and the lines) in reverse order; `join` turns what such a model wrote back into
    reading order."""

    def __init__(self, vocab, level, data_format, lower=False, reverse=False):
        self.vocab, self.level, self.format = vocab, level, data_format
        self.lower = lower and level == "word"
        self.reverse = reverse

    @classmethod
    def build(
        cls, text, level, data_format, max_vocab=None, min_count=1, lower=False, reverse=False
    ):
        from pipelines.text import Vocabulary

        texts = [text] if isinstance(text, str) else text  # one text, or blocks of it
        if level == "word":
            units = (split_text(line, level, lower) for t in texts for line in t.splitlines())
        else:
            units = iter(texts)  # each text counts as its characters
        vocab = Vocabulary.build(units, min_count=min_count, max_size=max_vocab)
        if level == "char" and data_format == "lines":
            vocab = Vocabulary([t for t in vocab.tokens[4:] if t != "\n"])
        return cls(vocab, level, data_format, lower, reverse)

    def pieces(self, text):
        """The tokens of a text in the order the model reads them."""
        pieces = split_text(text, self.level, self.lower)
        return pieces[::-1] if self.reverse else pieces

    def stream(self, text):
        """Ids of a continuous text: `<BOS>`, the text (word level: `<EOS>` after each line)."""
        if self.level == "char":
            text = text[::-1] if self.reverse else text
            return np.asarray([self.vocab.bos_id] + self.vocab.encode(list(text)), "int32")
        ids = [self.vocab.bos_id]
        lines = text.splitlines()
        for line in lines[::-1] if self.reverse else lines:
            ids += self.vocab.encode(self.pieces(line)) + [self.vocab.eos_id]
        return np.asarray(ids, "int32")

    def primer(self, prompt=""):
        """The ids a model reads before it writes after `prompt`: `<BOS>`; for a character
        model of continuous text a line break, so that a sample starts as a line of its
        corpus does (such a model met `<BOS>` once, at the start of its corpus, and line
        breaks everywhere); then the prompt."""
        ids = [self.vocab.bos_id]
        if self.level == "char" and self.format == "text" and "\n" in self.vocab:
            ids.append(self.vocab.id("\n"))
        return ids + self.vocab.encode(self.pieces(prompt))

    def sequences(self, text):
        """One `<BOS> ... <EOS>` id sequence per non-blank line (the `lines` format)."""
        return [
            np.asarray(
                [self.vocab.bos_id] + self.vocab.encode(self.pieces(line)) + [self.vocab.eos_id],
                "int32",
            )
            for line in text.splitlines()
            if line.strip()
        ]

    def join(self, pieces):
        """Tokens the model wrote (in its reading order) as text in reading order."""
        pieces = pieces[::-1] if self.reverse else pieces
        return "".join(pieces) if self.level == "char" else " ".join(pieces)

    def attach(self, prompt, text):
        """A sample `text` beside the `prompt` it was drawn from: after it for a forward model,
        before it for a backward one."""
        parts = [text, prompt] if self.reverse else [prompt, text]
        return "".join(parts) if self.level == "char" else " ".join(filter(None, parts))

    def save(self, folder):
        self.vocab.save(os.path.join(folder, "vocab.txt"))
        settings = {"level": self.level, "format": self.format, "lower": self.lower}
        if self.reverse:
            settings["reverse"] = True
        with open(os.path.join(folder, "lm.json"), "w", encoding="utf-8") as handle:
            json.dump(settings, handle)

    @classmethod
    def load(cls, folder):
        from pipelines.text import Vocabulary

        with open(os.path.join(folder, "lm.json"), encoding="utf-8") as handle:
            settings = json.load(handle)
        return cls(
            Vocabulary.load(os.path.join(folder, "vocab.txt")),
            level=settings["level"],
            data_format=settings["format"],
            lower=settings.get("lower", False),
            reverse=settings.get("reverse", False),
        )
