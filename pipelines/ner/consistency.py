"""Document-level label consistency: one name, one type, throughout a document.

A tagger that reads sentence by sentence may call "Ajax" an organisation in one sentence and a
location in the next, or miss it where the sentence says little. News names its subject many
times, so agreement inside a document is a strong signal (Krishnan & Manning 2006; Ratinov &
Roth 2009 call it non-local label consistency). After tagging, within one document (a text of
`predict`, a `-DOCSTART-` document of a CoNLL file):

1. **Retype.** Every predicted entity of at most `MAX_WORDS` words votes for its type under its
   string (its words, A-Z read as a-z, so that a headline's "JAPAN" and the story's "Japan"
   vote together). An entity whose own type has fewer votes than the most voted one takes that
   type (among tied types, the one met first in the document).
2. **Fill.** A run of words tagged O that equals an entity string of the document (A-Z read as
   a-z), does not start with a lower-case letter a-z and is not followed by an I- tag is
   tagged as an entity of that string's most voted type. Longer strings go first; two matches
   of the same length that overlap are both left alone, so the result does not depend on the
   order of the text.

`consistent` does this in Python (`predict`, `evaluate`) and `graph_consistent` in TensorFlow
ops over one sequence per row (the export), with the same result; `tests/pipelines/
test_ner_consistency.py` checks that they agree.
"""

import string
from collections import Counter, defaultdict

from pipelines.data.conll import entity_spans

MAX_WORDS = 8  # longer entity strings neither vote nor change
_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # as tf.strings.lower


def _key(words):
    return tuple(word.translate(_FOLD) for word in words)


def _entity(kind, n):
    return ["B-" + kind] + ["I-" + kind] * (n - 1)


def consistent(token_lists, tag_lists, max_words=MAX_WORDS):
    """The IOB2 tags of one document's sentences after label consistency (the module's doc).

    Args:
        token_lists: the document's sentences, each a list of tokens.
        tag_lists: their predicted tags (IOB2), one list per sentence.
        max_words: entity strings of more words than this are left as they are.
    Returns:
        New tag lists (the inputs are not changed).

    Example:
        >>> consistent([["Ajax", "won"], ["Ajax", "lost", "to", "Ajax"]],
        ...            [["B-ORG", "O"], ["B-LOC", "O", "O", "O"]])[1]
        ['B-ORG', 'O', 'O', 'B-ORG']
    """
    spans = [
        [(kind, a, b) for kind, a, b in entity_spans(tags) if b - a <= max_words]
        for tags in tag_lists
    ]
    votes, first = defaultdict(Counter), {}
    for number, (tokens, found) in enumerate(zip(token_lists, spans)):
        for kind, a, b in found:
            key = _key(tokens[a:b])
            votes[key][kind] += 1
            first.setdefault((key, kind), (number, a))

    def voted(key, own=None):
        counter = votes[key]
        top = max(counter.values())
        if own is not None and counter[own] == top:
            return own
        return min((k for k, n in counter.items() if n == top), key=lambda k: first[key, k])

    majority = defaultdict(dict)  # words -> {key: type}
    for key in votes:
        majority[len(key)][key] = voted(key)
    result = []
    for tokens, tags, found in zip(token_lists, tag_lists, spans):
        tags = list(tags)
        for kind, a, b in found:
            best = voted(_key(tokens[a:b]), kind)
            if best != kind:
                tags[a:b] = _entity(best, b - a)
        _fill(tokens, tags, majority, max_words)
        result.append(tags)
    return result


def _fill(tokens, tags, majority, max_words):
    """Step 2 of the module's doc on one sentence, in place."""
    free = [tag == "O" for tag in tags]
    for n in range(max_words, 0, -1):
        if not majority[n]:
            continue
        matches = {
            p
            for p in range(len(tokens) - n + 1)
            if all(free[p : p + n])
            and _key(tokens[p : p + n]) in majority[n]
            and not "a" <= tokens[p][:1] <= "z"
            and not (p + n < len(tags) and tags[p + n].startswith("I-"))
        }
        for p in sorted(matches):
            if any(q in matches for q in range(p - n + 1, p + n) if q != p):
                continue  # overlapping matches of one length: neither is taken
            tags[p : p + n] = _entity(majority[n][_key(tokens[p : p + n])], n)
            free[p : p + n] = [False] * n


def consistent_documents(token_lists, tag_lists, documents):
    """`consistent` over the sentences of a file: `documents` gives each sentence's document
    (sentences of one document are consecutive or not; order within it is kept)."""
    members = defaultdict(list)
    for i, doc in enumerate(documents):
        members[doc].append(i)
    result = list(tag_lists)
    for rows in members.values():
        tagged = consistent([token_lists[i] for i in rows], [tag_lists[i] for i in rows])
        for i, tags in zip(rows, tagged):
            result[i] = tags
    return result


def graph_consistent(tokens, ids, mask, tag_names, max_words=MAX_WORDS):
    """`consistent` in TensorFlow ops, each row of a batch one document of one sentence.

    Args:
        tokens: (batch, T) strings (tokens hold no spaces).
        ids: (batch, T) int32 tag ids, `tag_names[id]` an IOB2 tag; ids outside `mask` and ids
            whose name is not B-/I- read as O.
        mask: (batch, T) bool, the real tokens.
        tag_names: the tag of every id (a Python list).
    Returns:
        (batch, T) int32 tag ids after label consistency.
    """
    import tensorflow as tf

    kinds = sorted({t[2:] for t in tag_names if t[:2] in ("B-", "I-")})
    kind_of = [kinds.index(t[2:]) + 1 if t[:2] in ("B-", "I-") else 0 for t in tag_names]
    named = {
        prefix: tf.constant(
            [tag_names.index(prefix + k) if prefix + k in tag_names else 0 for k in [""] + kinds],
            tf.int32,
        )
        for prefix in ("B-", "I-")
    }
    ids = tf.where(mask, tf.cast(ids, tf.int32), 0)
    kind = tf.where(mask, tf.gather(tf.constant(kind_of, tf.int32), ids), 0)
    is_b = tf.gather(tf.constant([t.startswith("B-") for t in tag_names]), ids)
    begins = (kind > 0) & (is_b | (_shift(kind, -1, 0) != kind))
    continues = (kind > 0) & ~begins
    run, alive = tf.ones_like(kind), tf.ones_like(begins)
    for n in range(1, max_words + 1):  # entity length from its first word, max_words + 1: longer
        alive &= _shift(continues, n, False)
        run += tf.cast(alive, tf.int32)
    starts = begins & (run <= max_words)
    back, alive = tf.zeros_like(kind), continues
    for n in range(1, max_words + 1):  # how far back an entity's first word is
        back += tf.cast(alive, tf.int32)
        alive &= _shift(continues, -n, False)

    folded = tf.strings.lower(tokens)  # A-Z only, as `_key`
    grams = [folded]  # grams[n - 1][:, t]: the n words from t, A-Z folded, joined by spaces
    for n in range(2, max_words + 1):
        grams.append(tf.strings.join([grams[-1], _shift(folded, n - 1, "")], separator=" "))
    key = tf.fill(tf.shape(tokens), "")
    for n in range(1, max_words + 1):
        key = tf.where(run == n, grams[n - 1], key)

    # the entities of each row, in order: (batch, S), and the types they vote for
    positions = tf.broadcast_to(tf.range(tf.shape(kind)[1])[None], tf.shape(kind))
    where = tf.ragged.boolean_mask(positions, starts).to_tensor(-1)
    where = tf.pad(where, [[0, 0], [0, 1]], constant_values=-1)  # at least one column
    real, at = where >= 0, tf.maximum(where, 0)
    spans = {
        name: tf.where(real, tf.gather(values, at, batch_dims=1), empty)
        for name, values, empty in (("key", key, ""), ("kind", kind, 0), ("run", run, 0))
    }
    voted, retyped = _graph_votes(spans["key"], spans["kind"], real, len(kinds) + 1)

    # 1. retype: every word of an entity takes its entity's new type
    first_word = positions - back
    index = tf.gather(tf.cumsum(tf.cast(starts, tf.int32), 1) - 1, first_word, batch_dims=1)
    inside = (kind > 0) & tf.gather(starts, first_word, batch_dims=1)
    new_kind = tf.gather(retyped, tf.maximum(index, 0), batch_dims=1)
    renamed = tf.gather(named["B-"], new_kind)
    renamed = tf.where(back == 0, renamed, tf.gather(named["I-"], new_kind))
    ids = tf.where(inside & (new_kind != kind), renamed, ids)

    # 2. fill: runs of O words equal to an entity string, the longest first
    is_i = tf.gather(tf.constant([t.startswith("I-") for t in tag_names]), ids)
    lower_start = tf.strings.regex_full_match(tokens, "(?s)[a-z].*")
    return _graph_fill(ids, grams, spans, voted, mask, kind == 0, lower_start, is_i, named)


def _graph_votes(span_key, span_kind, real, types):
    """(voted, retyped), both (batch, S): the type each entity's string has most often (ties:
    the type met first), and the type each entity takes (its own where that ties the most)."""
    import tensorflow as tf

    same = (span_key[:, :, None] == span_key[:, None, :]) & real[:, :, None] & real[:, None, :]
    of_kind = tf.one_hot(span_kind, types, on_value=True, off_value=False)
    both = same[:, :, :, None] & of_kind[:, None, :, :]  # (batch, S, S, types)
    votes = tf.reduce_sum(tf.cast(both, tf.int32), 2)
    order = tf.range(tf.shape(span_key)[1])[None, None, :, None]
    first = tf.reduce_min(tf.where(both, order, tf.int32.max), 2)
    top = tf.reduce_max(votes, -1, keepdims=True)
    voted = tf.cast(tf.argmin(tf.where(votes == top, first, tf.int32.max), -1), tf.int32)
    own = tf.gather(votes, span_kind, batch_dims=2)
    return voted, tf.where(own == top[..., 0], span_kind, voted)


def _graph_fill(ids, grams, spans, voted, mask, untagged, lower_start, is_i, named):
    """Step 2 of the module's doc: `ids` with the runs of untagged words that equal an entity
    string tagged, the longest strings first."""
    import tensorflow as tf

    # the entity strings sorted by fingerprint, to look the word n-grams up among them
    fingerprint = lambda strings: tf.strings.to_hash_bucket_fast(strings, 2**62)  # noqa: E731
    span_hash = tf.where(spans["kind"] > 0, fingerprint(spans["key"]), tf.int64.max)
    by_hash = tf.argsort(span_hash, -1, stable=True)
    sorted_hash = tf.gather(span_hash, by_hash, batch_dims=1)
    free = mask & untagged
    for n in range(len(grams), 0, -1):
        gram = grams[n - 1]
        slot = tf.searchsorted(sorted_hash, fingerprint(gram))
        match = tf.gather(by_hash, tf.minimum(slot, tf.shape(by_hash)[1] - 1), batch_dims=1)
        found = tf.gather(spans["key"], match, batch_dims=1) == gram  # exactly, not by hash
        found &= tf.gather(spans["run"], match, batch_dims=1) == n
        found &= _shift(mask, n - 1, False) & ~lower_start & ~_shift(is_i, n, False)
        for m in range(n):
            found &= _shift(free, m, False)
        clash = tf.zeros_like(found)
        for d in range(1, n):
            clash |= _shift(found, d, False) | _shift(found, -d, False)
        taken = found & ~clash
        fill_kind = tf.gather(voted, match, batch_dims=1)
        ids = tf.where(taken, tf.gather(named["B-"], fill_kind), ids)
        free &= ~taken
        for d in range(1, n):
            inner = _shift(taken, -d, False)
            ids = tf.where(inner, tf.gather(named["I-"], _shift(fill_kind, -d, 0)), ids)
            free &= ~inner
    return ids


def _shift(x, n, fill):
    """`x[:, t + n]` of a (batch, T) tensor, `fill` past either end (n < 0: behind)."""
    import tensorflow as tf

    if n == 0:
        return x
    pad = tf.fill([tf.shape(x)[0], abs(n)], tf.constant(fill, x.dtype))
    if n > 0:
        return tf.concat([x, pad], 1)[:, n:]
    return tf.concat([pad, x], 1)[:, : tf.shape(x)[1]]
