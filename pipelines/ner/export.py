"""The tagger's export: a SavedModel whose `serving_default` takes raw strings
(TensorFlow alone runs it)."""

import tensorflow as tf

from pipelines.export import graph_word_tokenize, write_archive


def export_tagger(model, vocabs, out, max_word_chars):
    """A SavedModel of an NER tagger: `serving_default(texts)` with `texts` a (batch,) string
    tensor returns dense `tokens` (batch, T) strings ("" past the end), `tags` (batch, T)
    strings, `scores` (batch, T) tag probabilities, `starts`/`ends` (batch, T) character
    offsets and `lengths` (batch,) token counts. Each text is tagged as one sequence."""
    words_table = vocabs.words.lookup_table()
    chars_table = vocabs.chars.lookup_table()
    tag_names = tf.constant([""] + vocabs.tags.tokens[1:])
    contextual = vocabs.contextual
    tables = [words_table, chars_table]
    if contextual is not None:  # the character language models run inside the graph
        lm_table = contextual.vocab.lookup_table()
        tables.append(lm_table)

    def contextual_vectors(tokens, shape):
        """`ContextualEncoder.inputs` in TensorFlow ops, run through its layer: each text's
        tokens joined by spaces between newlines, each token's first and last character."""
        from pipelines.ner.contextual import EDGE

        strings = EDGE + tf.strings.reduce_join(tokens, axis=1, separator=" ") + EDGE
        letters = tf.strings.unicode_split(strings, "UTF-8", errors="replace")
        chars = tf.cast(tf.ragged.map_flat_values(lm_table.lookup, letters), tf.int32)
        sizes = tf.cast(tf.strings.length(tokens, unit="UTF8_CHAR"), tf.int32)
        sizes = sizes.to_tensor(-1, shape=shape)  # -1: no token there
        starts = tf.cumsum(sizes + 1, axis=1, exclusive=True) + len(EDGE)
        real = sizes >= 0
        inputs = {
            "chars": chars.to_tensor(0),
            "starts": tf.where(real, starts, -1),
            "ends": tf.where(real, starts + sizes - 1, -1),
        }
        return tf.identity(contextual.layer(inputs, training=False))  # the tags' mask: words

    def serve(texts):
        tokens, starts, ends = graph_word_tokenize(texts)
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        steps = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], 0)), 1)
        shape = tf.stack([tf.shape(texts)[0], steps])
        words = tf.ragged.map_flat_values(vocabs.graph_word_ids, tokens, words_table)
        words = words.to_tensor(0, shape=shape)
        letters = tf.strings.unicode_split(tokens, "UTF-8", errors="replace")[:, :, :max_word_chars]
        chars = tf.ragged.map_flat_values(chars_table.lookup, letters)
        chars = tf.cast(chars, tf.int32).to_tensor(0)
        chars = tf.pad(chars, [[0, 0], [0, steps - tf.shape(chars)[1]], [0, 1]])
        inputs = {"words": words, "chars": chars}
        if contextual is not None:
            inputs["contextual"] = contextual_vectors(tokens, shape)
        best, probabilities = model.tags_and_probabilities(inputs)
        mask = words > 0
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
