"""The classifier's export: a SavedModel whose `serving_default` takes raw strings
(TensorFlow alone runs it)."""

import tensorflow as tf

from pipelines.export import graph_lower, graph_word_tokenize, write_archive


def graph_classifier_ids(texts, encoder, table):
    """Token ids of a batch of strings as `SentimentPreprocessor.encode` makes them
    (tokenised, lower-cased unless the encoder keeps case, looked up in `table`, truncated to
    `max_tokens` unless it keeps whole texts, reversed for a backward encoder; an empty text is
    one unknown word), in TensorFlow ops: `(batch, steps)` int32, 0-padded. For serving, and
    for training that streams raw text."""
    n, how = encoder.max_tokens, encoder.truncate
    tokens = graph_word_tokenize(texts)[0]
    tokens = graph_lower(tokens) if encoder.lower else tokens
    ids = tf.cast(tf.ragged.map_flat_values(table.lookup, tokens), tf.int32)
    cut = ids if how == "none" else _truncated(ids, n, how)
    cut = tf.reverse(cut, [1]) if getattr(encoder, "reverse", False) else cut
    kept = cut.row_lengths()
    steps = tf.maximum(tf.reduce_max(tf.concat([kept, [0]], 0)), 1)
    dense = cut.to_tensor(0, shape=tf.stack([tf.shape(texts, out_type=tf.int64)[0], steps]))
    first = tf.where(kept == 0, tf.cast(encoder.words.unk_id, tf.int32), dense[:, 0])
    return tf.concat([first[:, None], dense[:, 1:]], axis=1)


def _truncated(ids, n, how):
    """Each row of ragged `ids` cut to `n` as SentimentPreprocessor.cut does: the first
    n - n // 2 and last n // 2 (head+tail), the first n (head) or the last n (tail)."""
    length = ids.row_lengths()
    kept = tf.minimum(length, n)
    positions = tf.ragged.range(kept)
    long = tf.gather(length > n, positions.value_rowids())
    p = positions.flat_values
    row_length = tf.gather(length, positions.value_rowids())
    if how == "head":
        source = p
    elif how == "tail":
        source = tf.where(long, row_length - n + p, p)
    else:
        source = tf.where(long & (p >= n - n // 2), row_length - n + p, p)
    flat = tf.gather(
        ids.flat_values, tf.gather(ids.row_starts(), positions.value_rowids()) + source
    )
    return tf.RaggedTensor.from_row_lengths(flat, kept)


def export_classifier(model, encoder, out, members=()):
    """A SavedModel of a text classifier (`SentimentPreprocessor` describes its text):
    `serving_default(texts)` with `texts` a (batch,) string tensor returns `probabilities`
    (batch, classes), `labels` (batch,) the most probable label and `label_names` (classes,).
    `members`: more `(model, encoder)` pairs with the same labels (an ensemble): the
    probabilities are the mean of all."""
    pairs = [(model, encoder), *members]
    tables = [e.words.lookup_table() for _, e in pairs]
    names = tf.constant(encoder.labels.tokens)

    def serve(texts):
        each = [
            tf.nn.softmax(tf.cast(m(graph_classifier_ids(texts, e, t), training=False), "float32"))
            for (m, e), t in zip(pairs, tables)
        ]
        probabilities = tf.add_n(each) / len(each)
        return {
            "probabilities": probabilities,
            "labels": tf.gather(names, tf.argmax(probabilities, axis=1)),
            "label_names": names,
        }

    write_archive(
        out,
        [m for m, _ in pairs],
        tables,
        {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="texts")])},
    )
