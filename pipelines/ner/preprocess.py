"""How a tagger reads text: its three vocabularies (words, characters, tags)."""

import os

import numpy as np

from pipelines.text import normalize_word

MAX_WORD_CHARS = 30  # longer words (URLs) are cut for the character encoder


class NERPreprocessor:
    """The three vocabularies of a tagger (words, characters, tags) and how text becomes ids.

    Words are looked up as `normalize_word` makes them (case kept, digits folded to 0), and a
    word not in the vocabulary in its lower-case form, then capitalised (`word_forms`: `trump`
    and `TRUMP` find `Trump`, `THE` finds `the`); characters as they are; tag 0 is padding.
    `contextual` (a `pipelines.ner.contextual.ContextualEncoder`, or None) adds contextual
    string embeddings from character language models.
    """

    def __init__(self, words, chars, tags, contextual=None):
        self.words, self.chars, self.tags = words, chars, tags
        self.contextual = contextual

    @classmethod
    def build(cls, sentences, min_count=2, extra_words=()):
        from pipelines.text import Vocabulary

        counted = Vocabulary.build(
            ([normalize_word(t) for t in tokens] for tokens, _ in sentences), min_count=min_count
        )
        words = Vocabulary(list(dict.fromkeys(list(extra_words) + counted.tokens[4:])))
        chars = Vocabulary.build(list(t) for tokens, _ in sentences for t in tokens)
        tags = Vocabulary.build((tags for _, tags in sentences), specials=("<PAD>",))
        return cls(words, chars, tags)

    def save(self, folder):
        for name in ("words", "chars", "tags"):
            getattr(self, name).save(os.path.join(folder, f"{name}.txt"))
        if self.contextual is not None:
            self.contextual.save(folder)

    @classmethod
    def load(cls, folder):
        from pipelines.ner.contextual import ContextualEncoder
        from pipelines.text import Vocabulary

        return cls(
            Vocabulary.load(os.path.join(folder, "words.txt")),
            Vocabulary.load(os.path.join(folder, "chars.txt")),
            Vocabulary.load(os.path.join(folder, "tags.txt"), specials=("<PAD>",)),
            ContextualEncoder.load(folder),
        )

    def encode(self, tokens):
        """{"words": (T,), "chars": (T, longest word)} int32 ids of one sentence."""
        letters = max(1, min(MAX_WORD_CHARS, max((len(t) for t in tokens), default=1)))
        chars = np.zeros((len(tokens), letters), "int32")
        for i, token in enumerate(tokens):
            ids = self.chars.encode(list(token[:MAX_WORD_CHARS]))
            chars[i, : len(ids)] = ids
        words = np.asarray([self.word_id(t) for t in tokens], "int32")
        return {"words": words, "chars": chars}

    def word_id(self, token):
        """The id of a token's first form (`word_forms`) in the vocabulary, else `<UNK>`'s."""
        for form in word_forms(normalize_word(token)):
            if form in self.words:
                return self.words.id(form)
        return self.words.unk_id

    def graph_word_ids(self, tokens, table):
        """`word_id` in TensorFlow ops, for a string tensor of tokens (no empty strings) and
        the words' `lookup_table()`: int32 ids of the same shape."""
        import tensorflow as tf

        word = tf.strings.regex_replace(tokens, "[0-9]", "0")
        lower = tf.strings.lower(word, encoding="utf-8")
        first = tf.strings.substr(lower, 0, 1, unit="UTF8_CHAR")
        capital = tf.strings.upper(first, encoding="utf-8") + tf.strings.substr(
            lower, tf.strings.length(first), tf.strings.length(lower)
        )
        unk = self.words.unk_id
        ids = table.lookup(word)
        for form in (lower, capital):
            ids = tf.where(ids == unk, table.lookup(form), ids)
        return tf.cast(ids, tf.int32)


def word_forms(word):
    """The forms a tagger looks a word up in, in order: the word, lower-cased, capitalised
    (its first letter upper-case, the rest lower)."""
    lower = word.lower()
    return word, lower, lower[:1].upper() + lower[1:]
