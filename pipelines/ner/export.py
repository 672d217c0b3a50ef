"""The tagger's export: a SavedModel whose `serving_default` takes raw strings
(TensorFlow alone runs it)."""

import tensorflow as tf

from pipelines.export import graph_word_tokenize, write_archive

CHUNK = 32  # sentences tagged at a time by the export


def export_tagger(model, vocabs, out, max_word_chars, consistency=True):
    """A SavedModel of an NER tagger: `serving_default(texts)` with `texts` a (batch,) string
    tensor returns dense `tokens` (batch, T) strings ("" past the end), `tags` (batch, T)
    strings, `scores` (batch, T) tag probabilities, `starts`/`ends` (batch, T) character
    offsets and `lengths` (batch,) token counts. Each text is tagged sentence by sentence as
    `predict` tags it (`tag_by_sentence`; without `predict`'s re-tagging of long stretches
    without a sentence end), and is one document for label consistency unless `consistency`
    is false."""
    from pipelines.ner.consistency import graph_consistent

    words_table = vocabs.words.lookup_table()
    chars_table = vocabs.chars.lookup_table()
    tag_names = tf.constant([""] + vocabs.tags.tokens[1:])
    contextual = vocabs.contextual
    tables = [words_table, chars_table]
    if contextual is not None:  # the character language models run inside the graph
        lm_table = contextual.vocab.lookup_table()
        tables.append(lm_table)

    def around(tokens, pieces):
        """Each piece's context character ids (`graph_piece_contexts`), or none."""
        return graph_piece_contexts(tokens, pieces, contextual.context, lm_table.lookup)

    def tag(pieces, before=None, after=None):
        """The model's best tag ids, marginals and mask for ragged (P, None) tokens."""
        shape, steps = _padded_shape(pieces)
        words = tf.ragged.map_flat_values(vocabs.graph_word_ids, pieces, words_table)
        words = words.to_tensor(0, shape=shape)
        letters = tf.strings.unicode_split(pieces, "UTF-8", errors="replace")[:, :, :max_word_chars]
        chars = tf.ragged.map_flat_values(chars_table.lookup, letters)
        chars = tf.cast(chars, tf.int32).to_tensor(0)
        chars = tf.pad(chars, [[0, 0], [0, steps - tf.shape(chars)[1]], [0, 1]])
        inputs = {"words": words, "chars": chars}
        if contextual is not None:
            inputs["contextual"] = graph_contextual_vectors(
                contextual.layer, lm_table, pieces, shape, before, after
            )
        best, probabilities = model.tags_and_probabilities(inputs)
        return best, probabilities, words > 0

    def serve(texts):
        tokens, starts, ends = graph_word_tokenize(texts)
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        shape, steps = _padded_shape(tokens)
        best, probabilities = tag_by_sentence(
            tag, tokens, shape, len(vocabs.tags), around if contextual is not None else None
        )
        mask = tf.sequence_mask(lengths, steps)
        if consistency:
            dense = tokens.to_tensor("", shape=shape)
            best = graph_consistent(dense, best, mask, ["O"] + vocabs.tags.tokens[1:])
        scores = tf.where(mask, tf.gather(probabilities, best, batch_dims=2), 0.0)
        return {
            "tokens": tokens.to_tensor("", shape=shape),
            "tags": tf.where(mask, tf.gather(tag_names, best), ""),
            "scores": scores,
            "starts": tf.cast(starts.to_tensor(0, shape=shape), tf.int32),
            "ends": tf.cast(ends.to_tensor(0, shape=shape), tf.int32),
            "lengths": lengths,
        }

    if contextual is not None:
        tables.append(contextual.layer)
    write_archive(
        out,
        model,
        tables,
        {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="texts")])},
    )


def graph_contextual_vectors(layer, lm_table, tokens, shape, before, after):
    """`ContextualEncoder.inputs` in TensorFlow ops, run through its `layer`: each piece's
    ragged `tokens` joined by spaces between newlines, after the character ids of its
    context `before` for the forward model and before those of `after` for the backward
    one, each token's first and last character; (P, T, dim) for `shape` (P, T)."""
    from pipelines.ner.contextual import EDGE

    strings = EDGE + tf.strings.reduce_join(tokens, axis=1, separator=" ") + EDGE
    letters = tf.strings.unicode_split(strings, "UTF-8", errors="replace")
    chars = tf.cast(tf.ragged.map_flat_values(lm_table.lookup, letters), tf.int32)
    sizes = tf.cast(tf.strings.length(tokens, unit="UTF8_CHAR"), tf.int32)
    sizes = sizes.to_tensor(-1, shape=shape)  # -1: no token there
    starts = tf.cumsum(sizes + 1, axis=1, exclusive=True) + len(EDGE)
    real = sizes >= 0
    shift = tf.cast(before.row_lengths(), tf.int32)[:, None]
    inputs = {
        "chars": tf.concat([before, chars], axis=1).to_tensor(0),
        "backward_chars": tf.concat([chars, after], axis=1).to_tensor(0),
        "starts": tf.where(real, starts, -1),
        "ends": tf.where(real, starts + sizes - 1 + shift, -1),
    }
    return tf.identity(layer(inputs, training=False))  # the tags' mask: words


def graph_sentence_pieces(tokens):
    """`inference.sentence_pieces` in TensorFlow ops: the (batch, None) tokens of texts cut
    after each sentence end and after `PREDICT_WINDOW` tokens without one, as ragged (P + 1,
    None) pieces in order (the last one empty, so that a batch of empty texts still has one)."""
    from pipelines.ner.inference import PREDICT_WINDOW, SENTENCE_ENDS

    flat = tokens.flat_values
    index = tf.range(tf.size(flat, out_type=tf.int64))
    rows = tokens.value_rowids()
    first = index == tf.gather(tokens.row_starts(), rows)
    ends = tf.reduce_any(flat[:, None] == tf.constant(sorted(SENTENCE_ENDS))[None, :], -1)
    after_end = tf.concat([[False], ends], 0)[:-1]
    stretch = tf.cumsum(tf.cast(first | after_end, tf.int64)) - 1
    offset = index - tf.gather(tf.math.segment_min(index, stretch), stretch)
    new = first | after_end | (offset % PREDICT_WINDOW == 0)
    piece = tf.cumsum(tf.cast(new, tf.int64)) - 1
    count = tf.reduce_max(tf.concat([piece, [-1]], 0)) + 1
    return tf.RaggedTensor.from_value_rowids(flat, piece, nrows=count + 1)


def graph_piece_contexts(tokens, pieces, size, lookup):
    """`ContextualEncoder.contexts` in TensorFlow ops for the `graph_sentence_pieces` of
    ragged (batch, None) `tokens`, each text one document: the `lookup` ids of the last `size`
    characters of each piece's text before it and of the first `size` after it (the text's
    pieces, their tokens joined by spaces, one a line), ragged (P + 1, None) each."""
    if size == 0:
        nothing = tf.RaggedTensor.from_row_lengths(
            tf.zeros([0], tf.int32), tf.zeros([pieces.nrows()], tf.int64)
        )
        return nothing, nothing
    real = pieces[:-1]  # the last piece is empty and in no text
    strings = tf.strings.reduce_join(real, axis=1, separator=" ")
    text = tf.gather(tokens.value_rowids(), real.row_starts())  # of its first token
    documents = tf.strings.reduce_join(
        tf.RaggedTensor.from_value_rowids(strings, text, nrows=tokens.nrows()),
        axis=1,
        separator="\n",
    )
    letters = tf.strings.unicode_split(documents, "UTF-8", errors="replace")
    ids = tf.cast(lookup(letters.flat_values), tf.int32)
    steps = tf.cast(tf.strings.length(strings, unit="UTF8_CHAR"), tf.int64) + 1
    at = tf.cumsum(steps, exclusive=True)  # where each piece starts, all texts joined
    at -= tf.gather(tf.math.unsorted_segment_min(at, text, tokens.nrows()), text)
    length = tf.gather(letters.row_lengths(), text)
    base = tf.gather(letters.row_starts(), text)
    size = tf.constant(size, tf.int64)
    before_end = tf.maximum(at - 1, 0)
    before_start = tf.maximum(before_end - size, 0)
    after_start = tf.minimum(at + steps, length)
    after_end = tf.minimum(after_start + size, length)
    empty = tf.zeros([1], tf.int64)
    return tuple(
        tf.gather(
            ids, tf.ragged.range(tf.concat([base + a, empty], 0), tf.concat([base + b, empty], 0))
        )
        for a, b in ((before_start, before_end), (after_start, after_end))
    )


def tag_by_sentence(tag, tokens, shape, num_tags, around=None):
    """Best tag ids (batch, T) and marginals (batch, T, num_tags) of ragged (batch, None)
    `tokens` padded to `shape`: `tag(pieces, *extras)` -> (best ids, marginals, mask) run on
    the `graph_sentence_pieces` of the texts sorted by length, `CHUNK` at a time (as
    `predict` batches them: little padding, bounded memory), the results put back in their
    texts. `around(tokens, pieces)`: ragged (P + 1, None) tensors of each piece, given to
    `tag` as `extras` (the pieces' context)."""
    pieces = graph_sentence_pieces(tokens)
    extras = around(tokens, pieces) if around is not None else ()
    sizes = tf.cast(pieces.row_lengths(), tf.int32)
    order = tf.argsort(sizes, stable=True)  # the last piece is empty: it sorts first
    count = tf.size(order)
    chunks = (count + CHUNK - 1) // CHUNK
    filler = tf.zeros([chunks * CHUNK - count], tf.int32)  # the empty piece again
    steps = tf.maximum(tf.reduce_max(sizes), 1)

    def run(rows):
        best, probabilities, _ = tag(tf.gather(pieces, rows), *(tf.gather(e, rows) for e in extras))
        pad = steps - tf.shape(best)[1]
        best = tf.pad(tf.cast(best, tf.int32), [[0, 0], [0, pad]])
        return best, tf.pad(probabilities, [[0, 0], [0, pad], [0, 0]])

    best, probabilities = tf.map_fn(
        run,
        tf.reshape(tf.concat([order, tf.gather(order, filler)], 0), [chunks, CHUNK]),
        fn_output_signature=(
            tf.TensorSpec([CHUNK, None], tf.int32),
            tf.TensorSpec([CHUNK, None, num_tags], tf.float32),
        ),
    )
    back = tf.math.invert_permutation(order)
    real = tf.sequence_mask(sizes, steps)
    best = tf.boolean_mask(tf.gather(tf.reshape(best, [chunks * CHUNK, steps]), back), real)
    probabilities = tf.reshape(probabilities, [chunks * CHUNK, steps, num_tags])
    probabilities = tf.boolean_mask(tf.gather(probabilities, back), real)
    rows = tokens.row_lengths()  # the pieces' words, in order, are the texts' words
    best = tf.RaggedTensor.from_row_lengths(best, rows).to_tensor(0, shape=shape)
    probabilities = tf.RaggedTensor.from_row_lengths(probabilities, rows)
    return best, probabilities.to_tensor(0.0, shape=tf.concat([shape, [num_tags]], 0))


def _padded_shape(ragged):
    """(shape, steps) of a ragged (rows, None) tensor padded: (rows, steps), steps >= 1."""
    lengths = tf.cast(ragged.row_lengths(), tf.int32)
    steps = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], 0)), 1)
    return tf.stack([tf.cast(ragged.nrows(), tf.int32), steps]), steps
