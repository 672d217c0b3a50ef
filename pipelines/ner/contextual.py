"""Contextual string embeddings for the tagger: the zoo's own character language models read
each sentence as one string (`zoo.layers.ContextualCharEmbedding`, Akbik et al. 2018).

A sentence's string is its tokens joined by spaces between two newlines (a line of text, as
the language models read their corpora); a word's vector is the forward model's state after
its last character and the backward model's before its first. The tagger's folder names the
language models (`contextual.json`) rather than holding a copy: shipped names, or folders.
"""

import json
import os

import numpy as np

CONTEXTUAL = "contextual.json"
EDGE = "\n"  # before and after every sentence string


def sentence_string(tokens):
    """(string, starts, ends): the tokens joined by spaces between newlines, and each token's
    first and last character position in it."""
    starts, ends, at = [], [], len(EDGE)
    for token in tokens:
        starts.append(at)
        ends.append(at + len(token) - 1)
        at += len(token) + 1
    return EDGE + " ".join(tokens) + EDGE, starts, ends


class ContextualEncoder:
    """The character language models a tagger reads, and how sentences become their vectors.

    Args:
        names: one or two language models (shipped names or folders): a forward character
            model, then optionally a backward one (`pipelines.lm train --reverse`) with the
            same characters.
    """

    def __init__(self, names):
        from pipelines import lm
        from pipelines.errors import BadSetting
        from zoo.layers import ContextualCharEmbedding

        self.names = list(names)
        models = [lm.load(name) for name in self.names]
        problem = _check(models)
        if problem:
            raise BadSetting("--char-lm", problem)
        self.vocab = models[0].preprocessor.vocab
        self.layer = ContextualCharEmbedding(*(m.model for m in models))
        self.layer.build()  # its language models are built: ready to run, track or export
        self._compiled = None
        self._remembered = {}  # tokens -> vectors of sentences met again (a dev set)

    @property
    def dim(self):
        return self.layer.output_dim

    @classmethod
    def from_option(cls, value):
        """`--char-lm FORWARD[,BACKWARD]` -> an encoder (None for no value)."""
        if not value:
            return None
        from pipelines.io import stored_name

        return cls([stored_name(name.strip()) for name in value.split(",") if name.strip()])

    def save(self, folder):
        with open(os.path.join(folder, CONTEXTUAL), "w", encoding="utf-8") as handle:
            json.dump({"char_lms": self.names}, handle)

    @classmethod
    def load(cls, folder):
        """The encoder a tagger folder names, or None."""
        path = os.path.join(folder, CONTEXTUAL)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle)["char_lms"])

    def inputs(self, token_lists):
        """The layer's padded inputs for sentences: `chars`, `starts`, `ends`."""
        strings = [sentence_string(tokens) for tokens in token_lists]
        length = max([1] + [len(s) for s, _, _ in strings])
        count = max([1] + [len(tokens) for tokens in token_lists])
        chars = np.zeros((len(strings), length), "int32")
        starts = np.full((len(strings), count), -1, "int32")
        ends = np.full((len(strings), count), -1, "int32")
        for row, (string, first, last) in enumerate(strings):
            chars[row, : len(string)] = self.vocab.encode(list(string))
            starts[row, : len(first)], ends[row, : len(last)] = first, last
        return {"chars": chars, "starts": starts, "ends": ends}

    def embed(self, token_lists, batch_size=32, dtype="float32"):
        """(len(tokens), dim) vectors per sentence, batches of similar lengths; sentences
        given to `remember` are looked up, not run again."""
        import tensorflow as tf

        from pipelines.data.batching import by_length

        if self._compiled is None:
            spec = tf.TensorSpec([None, None], tf.int32)
            self._compiled = tf.function(
                lambda x: self.layer(x, training=False),
                input_signature=[{"chars": spec, "starts": spec, "ends": spec}],
            )
        out = [self._remembered.get(tuple(tokens)) for tokens in token_lists]
        missing = [i for i, vectors in enumerate(out) if vectors is None]
        characters = lambda i: sum(map(len, token_lists[i])) + len(token_lists[i])  # noqa: E731
        for _, chunk in by_length(missing, batch_size, characters):
            sentences = [token_lists[i] for i in chunk]
            vectors = self._compiled(self.inputs(sentences)).numpy() if any(sentences) else None
            for row, (i, tokens) in enumerate(zip(chunk, sentences)):
                out[i] = vectors[row, : len(tokens)] if tokens else np.zeros((0, self.dim))
        return [vectors.astype(dtype) for vectors in out]

    def remember(self, token_lists):
        """Computes the vectors of sentences that will be asked for again (a dev set evaluated
        after every epoch) once, and keeps them."""
        for tokens, vectors in zip(token_lists, self.embed(token_lists)):
            self._remembered[tuple(tokens)] = vectors

    def describe(self):
        """What the card says of the language models: names, sizes, corpora."""
        from pipelines.io import model_folder, read_json

        described = []
        for name in self.names:
            card_path = os.path.join(model_folder(name), "card.json")
            card = read_json(card_path) if os.path.exists(card_path) else {}
            described.append(
                {
                    "model": name,
                    "architecture": card.get("architecture"),
                    "data": card.get("data"),
                    "dev_metrics": card.get("dev_metrics"),
                }
            )
        return described


def _check(models):
    """What makes these language models unusable together (None when nothing)."""
    if not 1 <= len(models) <= 2:
        return "give one or two character language models: FORWARD[,BACKWARD]"
    for model, backward in zip(models, (False, True)):
        pre = model.preprocessor
        if pre.level != "char":
            return f"{model.folder} is not a character language model"
        if pre.reverse != backward:
            direction = "backward (lm train --reverse)" if backward else "forward"
            return f"{model.folder} should be a {direction} model"
    if (
        len(models) == 2
        and models[0].preprocessor.vocab.tokens != models[1].preprocessor.vocab.tokens
    ):
        return "the forward and backward language models have different characters"
    return None
