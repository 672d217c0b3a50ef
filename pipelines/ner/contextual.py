"""Contextual string embeddings for the tagger: the zoo's own character language models read
each sentence as one string (`zoo.layers.ContextualCharEmbedding`, Akbik et al. 2018).

A sentence's string is its tokens joined by spaces between two newlines (a line of text, as
the language models read their corpora); a word's vector is the forward model's state after
its last character and the backward model's before its first. With document context
(`context` > 0), the forward model first reads up to that many characters of the sentence's
document before it, and the backward model up to that many after it: the document's other
sentences, one a line, as the language models read news. The tagger's folder names the
language models and the context (`contextual.json`) rather than holding a copy of the models:
shipped names, or folders.
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


def document_contexts(token_lists, documents, size):
    """(before, after) strings of each sentence: the last `size` characters of its document
    before it and the first `size` after it, the document's sentences (its tokens joined by
    spaces) one a line. `documents` gives each sentence's document (any hashable), the
    sentences of one document in their order; "" where there is nothing."""
    strings = [" ".join(tokens) for tokens in token_lists]
    members = {}
    for i, document in enumerate(documents):
        members.setdefault(document, []).append(i)
    contexts = [("", "")] * len(token_lists)
    for rows in members.values() if size > 0 else ():
        for k, i in enumerate(rows):
            contexts[i] = (
                _gathered(strings, reversed(rows[:k]), size, before=True),
                _gathered(strings, rows[k + 1 :], size, before=False),
            )
    return contexts


def _gathered(strings, rows, size, before):
    """Up to `size` characters of the sentences `rows` (nearest first), one a line."""
    taken, length = [], -1
    for i in rows:
        if length >= size:
            break
        taken.append(strings[i])
        length += len(strings[i]) + 1
    if not taken:
        return ""
    if before:
        return "\n".join(reversed(taken))[-size:]
    return "\n".join(taken)[:size]


class ContextualEncoder:
    """The character language models a tagger reads, and how sentences become their vectors.

    Args:
        names: one or two language models (shipped names or folders): a forward character
            model, then optionally a backward one (`pipelines.lm train --reverse`) with the
            same characters.
        context: characters of document context each language model reads beyond the
            sentence (`document_contexts`); 0: each sentence alone.
    """

    def __init__(self, names, context=0):
        from pipelines import lm
        from pipelines.errors import BadSetting
        from zoo.layers import ContextualCharEmbedding

        if context < 0:
            raise BadSetting("--char-lm-context", f"{context} is below 0")
        self.names, self.context = list(names), int(context)
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
    def from_option(cls, value, context=0):
        """`--char-lm FORWARD[,BACKWARD]` -> an encoder (None for no value)."""
        if not value:
            return None
        from pipelines.io import stored_name

        names = [stored_name(name.strip()) for name in value.split(",") if name.strip()]
        return cls(names, context)

    def save(self, folder):
        with open(os.path.join(folder, CONTEXTUAL), "w", encoding="utf-8") as handle:
            json.dump({"char_lms": self.names, "context": self.context}, handle)

    @classmethod
    def load(cls, folder):
        """The encoder a tagger folder names, or None."""
        path = os.path.join(folder, CONTEXTUAL)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as handle:
            settings = json.load(handle)
        return cls(settings["char_lms"], settings.get("context", 0))

    def contexts(self, token_lists, documents):
        """Each sentence's (before, after) context strings (`document_contexts`) for `embed`;
        None without document context or without `documents`."""
        if not self.context or documents is None:
            return None
        return document_contexts(token_lists, documents, self.context)

    def inputs(self, token_lists, contexts=None):
        """The layer's padded inputs for sentences: `chars` (the forward model's strings: the
        context before, then the sentence), `backward_chars` (the sentence, then the context
        after), `starts` (in `backward_chars`), `ends` (in `chars`)."""
        contexts = contexts or [("", "")] * len(token_lists)
        strings = [sentence_string(tokens) for tokens in token_lists]
        forward = [before + string for (before, _), (string, _, _) in zip(contexts, strings)]
        backward = [string + after for (_, after), (string, _, _) in zip(contexts, strings)]
        count = max([1] + [len(tokens) for tokens in token_lists])
        starts = np.full((len(strings), count), -1, "int32")
        ends = np.full((len(strings), count), -1, "int32")
        for row, ((before, _), (_, first, last)) in enumerate(zip(contexts, strings)):
            starts[row, : len(first)] = first
            ends[row, : len(last)] = [e + len(before) for e in last]
        chars = self._padded_ids(forward)
        return {
            "chars": chars,
            "backward_chars": chars if forward == backward else self._padded_ids(backward),
            "starts": starts,
            "ends": ends,
        }

    def _padded_ids(self, strings):
        ids = np.zeros((len(strings), max([1] + [len(s) for s in strings])), "int32")
        for row, string in enumerate(strings):
            ids[row, : len(string)] = self.vocab.encode(list(string))
        return ids

    def embed(self, token_lists, batch_size=32, dtype="float32", contexts=None):
        """(len(tokens), dim) vectors per sentence, batches of similar lengths; `contexts`:
        each sentence's (before, after) strings (`contexts`), None for none. Sentences given
        to `remember` with the same contexts are looked up, not run again."""
        import tensorflow as tf

        from pipelines.data.batching import by_length

        if self._compiled is None:
            spec = tf.TensorSpec([None, None], tf.int32)
            names = ("chars", "backward_chars", "starts", "ends")
            self._compiled = tf.function(
                lambda x: self.layer(x, training=False),
                input_signature=[{name: spec for name in names}],
            )
        contexts = contexts or [("", "")] * len(token_lists)
        keys = [(tuple(t), *c) for t, c in zip(token_lists, contexts)]
        out = [self._remembered.get(key) for key in keys]
        missing = [i for i, vectors in enumerate(out) if vectors is None]

        def characters(i):
            return sum(map(len, token_lists[i])) + len(token_lists[i]) + max(map(len, contexts[i]))

        for _, chunk in by_length(missing, batch_size, characters):
            sentences = [token_lists[i] for i in chunk]
            inputs = self.inputs(sentences, [contexts[i] for i in chunk])
            vectors = self._compiled(inputs).numpy() if any(sentences) else None
            for row, (i, tokens) in enumerate(zip(chunk, sentences)):
                out[i] = vectors[row, : len(tokens)] if tokens else np.zeros((0, self.dim))
        return [vectors.astype(dtype) for vectors in out]

    def remember(self, token_lists, contexts=None):
        """Computes the vectors of sentences that will be asked for again (a dev set evaluated
        after every epoch) once, and keeps them (with their `contexts`)."""
        contexts = contexts or [("", "")] * len(token_lists)
        vectors = self.embed(token_lists, contexts=contexts)
        for tokens, context, v in zip(token_lists, contexts, vectors):
            self._remembered[(tuple(tokens), *context)] = v

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
