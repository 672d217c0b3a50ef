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


def members_of(model):
    """The `NERTagger`s of a tagger: an ensemble's members, or the tagger itself."""
    return list(getattr(model, "members", [model]))


def architecture_of(model):
    """The `ARCHITECTURE` settings of a tagger (for an ensemble, its first member's)."""
    config = members_of(model)[0].get_config()
    return {k: config[k] for k in ARCHITECTURE}


def grow_model(old_model, old, new, log, correspondence=None):
    """`grow` for a tagger or an ensemble: each member carried over to `new`; an ensemble's
    own CRF is kept (the tags unchanged) or mapped through `correspondence`."""
    from zoo.models import NERTaggerEnsemble

    members = [
        grow(m, old, new, architecture_of(m), log, correspondence) for m in members_of(old_model)
    ]
    if not isinstance(old_model, NERTaggerEnsemble):
        return members[0]
    model = NERTaggerEnsemble.of(members)
    if model.crf is not None and (new.tags.tokens == old.tags.tokens or correspondence is not None):
        weights = old_model.crf.get_weights()
        if new.tags.tokens != old.tags.tokens:
            weights = mapped_head("crf", weights, correspondence)
        model.crf.set_weights(weights)
    return model


def ensemble_of(taggers):
    """(model, vocabularies): one `NERTaggerEnsemble` of the taggers' networks (loaded
    `pipelines.ner.Tagger`s, ensembles among them contributing their members).

    The ensemble reads the union of their words and characters; each member's embedding row
    of a word it does not know is the row it would have used for it (another case of the word,
    or `<UNK>`), so that every member scores every sentence as it did alone. The taggers must
    have the same tags (in any order) and read the same character language models."""
    from pipelines.errors import DataError
    from pipelines.ner.preprocess import NERPreprocessor
    from pipelines.text import Vocabulary
    from zoo.models import NERTaggerEnsemble

    first = taggers[0].preprocessor
    for tagger in taggers[1:]:
        vocabs = tagger.preprocessor
        if set(vocabs.tags.tokens) != set(first.tags.tokens):
            raise DataError(tagger.folder, f"its tags differ from {taggers[0].folder}'s")
        if _lms(vocabs) != _lms(first):
            raise DataError(
                tagger.folder,
                f"its character language models ({_lms(vocabs)}) differ from "
                f"{taggers[0].folder}'s ({_lms(first)})",
            )
    vocabs = NERPreprocessor(
        *(
            Vocabulary(list(dict.fromkeys(w for t in taggers for w in _vocab(t, name)[4:])))
            for name in ("words", "chars")
        ),
        first.tags,
        first.contextual,
    )
    members = [
        _realigned(member, tagger.preprocessor, vocabs)
        for tagger in taggers
        for member in members_of(tagger.model)
    ]
    return NERTaggerEnsemble.of(members), vocabs


def _vocab(tagger, name):
    return getattr(tagger.preprocessor, name).tokens


def _lms(vocabs):
    """The character language models a tagger reads, and their document context."""
    contextual = vocabs.contextual
    return (contextual.names, contextual.context) if contextual is not None else None


def _realigned(model, old, new):
    """A copy of the tagger `model` (vocabularies `old`) reading `new`'s ids: embedding rows
    gathered by what `old` makes of each word and character, tags permuted."""
    rows = {
        "word_embedding": [old.word_id(w) for w in new.words.tokens],
        "char_embedding": [old.chars.id(c) for c in new.chars.tokens],
    }
    rows["word_embedding"][: len(new.words.specials)] = range(len(new.words.specials))
    rows["char_embedding"][: len(new.chars.specials)] = range(len(new.chars.specials))
    permutation = np.zeros((len(new.tags), len(old.tags)))
    for i, tag in enumerate(new.tags.tokens):
        permutation[i, old.tags.id(tag)] = 1.0
    copy = build_tagger(new, architecture_of(model))
    for layer, source in zip(copy.layers, model.layers):  # built in the same order
        weights = source.get_weights()
        if layer.name in rows:
            weights = [weights[0][rows[layer.name]]]
        elif layer.name in ("tag_scores", "crf"):
            weights = mapped_head(layer.name, weights, permutation)
        layer.set_weights(weights)
    return copy
