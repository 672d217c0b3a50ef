"""Building a tagger, and carrying one over to new vocabularies (`--init`)."""

import numpy as np

ARCHITECTURE = {
    "word_dim": 100,
    "char_dim": 25,
    "char_encoder": "lstm",
    "char_units": 25,
    "rnn": "lstm",
    "units": 200,
    "depth": 1,
    "dropout": 0.5,
    "head": "crf",
    "contextual_dim": 0,  # contextual string embeddings' size (--char-lm)
}


def build_tagger(vocabs, architecture, vectors=None, log=None):
    """A new NERTagger for `vocabs`; word embeddings start from `vectors` (words, matrix) where
    a word (or its lower-case form) has one."""
    from zoo.models import NERTagger

    model = NERTagger(len(vocabs.words), len(vocabs.chars), len(vocabs.tags), **architecture)
    model.build()
    if vectors is not None:
        from pipelines.vectors import fill_embeddings

        found = fill_embeddings(model.word_embedding, vocabs.words.tokens, vectors)
        if log:
            log(f"word vectors for {found:,} of {len(vocabs.words):,} words")
    return model


def grow(old_model, old, new, architecture, log, correspondence=None):
    """`old_model` carried over to the vocabularies `new` (a superset of `old`'s words and
    characters): known rows keep their embeddings, a new word starts from another case of a
    known word where there is one, other new rows start fresh; the tag head is kept
    when the tag set is unchanged and replaced otherwise. A new head starts from the old one
    through `correspondence` (`tag_correspondence`) when it is given, fresh when not."""
    model = build_tagger(new, architecture)
    same_tags = new.tags.tokens == old.tags.tokens
    copied = 0
    for layer, source in zip(model.layers, old_model.layers):  # built in the same order
        if layer.name in ("word_embedding", "char_embedding"):
            (table,) = source.get_weights()
            fresh = layer.get_weights()[0]
            fresh[: len(table)] = table
            if layer.name == "word_embedding":
                copied = _start_from_other_forms(fresh, old.words, new.words)
            layer.set_weights([fresh])
        elif layer.name in ("tag_scores", "crf") and not same_tags:
            if correspondence is not None:
                layer.set_weights(mapped_head(layer.name, source.get_weights(), correspondence))
        else:
            layer.set_weights(source.get_weights())
    head = "tag head kept" if same_tags else f"new tag head for {len(new.tags) - 1} tags"
    if not same_tags and correspondence is not None:
        head += ", started from the old tags the old model gives their words"
    log(
        f"--init: {len(new.words) - len(old.words):,} new words ({copied:,} started from "
        "another case of a known word), "
        f"{len(new.chars) - len(old.chars):,} new characters, {head}"
    )
    return model


def _start_from_other_forms(table, old, new):
    """Rows of `new` words past `old`'s start as the row of the first other form
    (`word_forms`: lower-cased, capitalised) `old` has: `trump` from `Trump`, so that a word
    the old model read through that form keeps what it knew. Returns how many did."""
    from pipelines.ner.preprocess import word_forms

    copied = 0
    for row in range(len(old), len(new)):
        known = [f for f in word_forms(new.tokens[row])[1:] if f in old]
        if known:
            table[row] = table[old.id(known[0])]
            copied += 1
    return copied


def tag_correspondence(pairs, new_size, old_size, prior=0.1):
    """P(old tag | new tag) as a (new_size, old_size) matrix, from (new id, old id) pairs: a
    token's tag in the new data and the tag the old model gives it. Padding maps to padding
    alone; `prior` is added to every cell of the real tags, so that a tag seen rarely or never
    still has a distribution (with `prior=0`, every new tag must occur in `pairs`)."""
    counts = np.full((new_size, old_size), float(prior))
    counts[0], counts[:, 0] = 0.0, 0.0
    counts[0, 0] = 1.0
    if len(pairs):
        np.add.at(counts, tuple(np.asarray(pairs).T), 1.0)
    return counts / counts.sum(axis=1, keepdims=True)


def mapped_head(name, weights, correspondence):
    """A new tag head's weights from the old head's: each new tag's emission weights and CRF
    transitions are the old tags' averaged under P(old | new), so that the new tags start
    out where the old model already separated their words (Dense kernel/bias; CRF
    transitions, start, end)."""
    p = correspondence
    if name == "tag_scores":
        kernel, bias = weights
        return [kernel @ p.T, p @ bias]
    transitions, start, end = weights
    return [p @ transitions @ p.T, p @ start, p @ end]
