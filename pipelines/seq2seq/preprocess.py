"""How an encoder-decoder reads and writes text: a vocabulary and a level for each side."""

import json
import os

import numpy as np


class Seq2SeqPreprocessor:
    """How a model turns each side's text into ids and back: a vocabulary and a level each."""

    def __init__(
        self,
        source_vocab,
        target_vocab,
        source_level,
        target_level,
        beam=1,
        lowercase=False,
        reverse_targets=False,
        outputs=None,
    ):
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.source_level, self.target_level = source_level, target_level
        self.beam = beam  # the model's decoding default (`--beam` overrides it)
        # sources are lower-cased before they are split (CMUdict words: "Hello" is "hello")
        self.lowercase = lowercase
        # the network writes targets last token first (`train --reverse-targets`); encode_target
        # and decode turn them round, so outputs read as usual
        self.reverse_targets = reverse_targets
        # "iso-date" where every training target was a calendar date in ISO form (the date
        # task): `predict` then says whether each output is a real date
        self.outputs = outputs
        self.reranker = None  # a `rerank.Reranker` where the model folder has one
        self.rerank_settings = None  # seq2seq.json's "rerank" (`load`), for `Transducer.load`

    @staticmethod
    def split(text, level):
        from pipelines.text import word_tokenize

        if level == "char":
            return list(text)
        if level == "space":
            return text.split()
        return [t.text for t in word_tokenize(text)]

    @staticmethod
    def join(pieces, level):
        return "".join(pieces) if level == "char" else " ".join(pieces)

    @classmethod
    def build(
        cls,
        examples,
        source_level,
        target_level,
        max_vocab=None,
        lowercase=False,
        reverse_targets=False,
    ):
        from pipelines.seq2seq.dates import is_iso_date
        from pipelines.text import Vocabulary

        fold = str.lower if lowercase else str
        dates = isinstance(examples, list) and all(is_iso_date(t) for _, t, _ in examples)
        return cls(
            Vocabulary.build(
                (cls.split(fold(s), source_level) for s, _, _ in examples), max_size=max_vocab
            ),
            Vocabulary.build(
                (cls.split(t, target_level) for _, t, _ in examples), max_size=max_vocab
            ),
            source_level,
            target_level,
            lowercase=lowercase,
            reverse_targets=reverse_targets,
            outputs="iso-date" if dates and examples else None,
        )

    def fold(self, text):
        """`text` as the model reads it: lower-cased where the model lower-cases its input."""
        return text.lower() if self.lowercase else text

    def encode_source(self, text):
        text = self.fold(text)
        return np.asarray(
            self.source_vocab.encode(self.split(text, self.source_level))
            or [self.source_vocab.unk_id],
            "int32",
        )

    def encode_target(self, text):
        pieces = self.split(text, self.target_level)
        pieces = pieces[::-1] if self.reverse_targets else pieces
        return np.asarray(self.target_vocab.encode(pieces), "int32")

    def decode(self, ids):
        pieces = [self.target_vocab.token(int(i)) for i in ids]
        return self.join(pieces[::-1] if self.reverse_targets else pieces, self.target_level)

    @property
    def banned(self):
        """Target ids a decoder never writes: padding, `<UNK>` and `<BOS>`."""
        v = self.target_vocab
        return [v.pad_id, v.unk_id, v.bos_id]

    def save(self, folder):
        self.source_vocab.save(os.path.join(folder, "source.txt"))
        self.target_vocab.save(os.path.join(folder, "target.txt"))
        with open(os.path.join(folder, "seq2seq.json"), "w", encoding="utf-8") as handle:
            levels = {"source_level": self.source_level, "target_level": self.target_level}
            settings = {"beam": self.beam, "lowercase": self.lowercase}
            if self.reverse_targets:
                settings["reverse_targets"] = True
            if self.outputs:
                settings["outputs"] = self.outputs
            json.dump({**levels, **settings}, handle)

    @classmethod
    def load(cls, folder):
        from pipelines.text import Vocabulary

        with open(os.path.join(folder, "seq2seq.json"), encoding="utf-8") as handle:
            settings = json.load(handle)
        sides = cls(
            Vocabulary.load(os.path.join(folder, "source.txt")),
            Vocabulary.load(os.path.join(folder, "target.txt")),
            settings["source_level"],
            settings["target_level"],
            settings.get("beam", 1),
            settings.get("lowercase", False),
            settings.get("reverse_targets", False),
            settings.get("outputs"),
        )
        sides.rerank_settings = settings.get("rerank")
        return sides
