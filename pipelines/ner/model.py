"""Building a tagger, and carrying one over to new vocabularies (`--init`)."""

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


def grow(old_model, old, new, architecture, log):
    """`old_model` carried over to the vocabularies `new` (a superset of `old`'s words and
    characters): known rows keep their embeddings, new ones start fresh; the tag head is kept
    when the tag set is unchanged and replaced otherwise."""
    model = build_tagger(new, architecture)
    same_tags = new.tags.tokens == old.tags.tokens
    for layer, source in zip(model.layers, old_model.layers):  # built in the same order
        if layer.name in ("word_embedding", "char_embedding"):
            (table,) = source.get_weights()
            fresh = layer.get_weights()[0]
            fresh[: len(table)] = table
            layer.set_weights([fresh])
        elif layer.name in ("tag_scores", "crf") and not same_tags:
            continue
        else:
            layer.set_weights(source.get_weights())
    log(
        f"--init: {len(new.words) - len(old.words):,} new words, "
        f"{len(new.chars) - len(old.chars):,} new characters, "
        + ("tag head kept" if same_tags else f"new tag head for {len(new.tags) - 1} tags")
    )
    return model
