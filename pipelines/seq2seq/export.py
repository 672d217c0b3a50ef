"""The encoder-decoder's export: a SavedModel whose `serving_default` takes raw strings
(TensorFlow alone runs it)."""

import tensorflow as tf

from pipelines.export import graph_pieces, write_archive


def export_seq2seq(model, sides, out):
    """A SavedModel of an encoder-decoder (`Seq2SeqPreprocessor` describes its text):
    `serving_default(texts)` with `texts` a (batch,) string tensor returns `outputs` (batch,)
    strings, decoded greedily by a loop inside the graph, and `scores` (batch,) their mean
    log-probability per token (`<EOS>` included); an empty or blank text has the empty output
    (score 0.0). A model folder with a lexicon (`pipelines.seq2seq.rerank`) answers the
    inputs it lists from it (score 0.0), as `predict` does; the others are decoded greedily,
    without `predict`'s reranking."""
    source_table = sides.source_vocab.lookup_table()
    tables = [source_table]
    lexicon = sides.reranker.lexicon if sides.reranker is not None else None
    if lexicon is not None:
        keys = lexicon.forwards  # the lexicon's sources, sorted
        lexicon_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys), tf.constant([lexicon.entries[k][0] for k in keys])
            ),
            default_value="",
        )
        tables.append(lexicon_table)
    names = tf.constant(sides.target_vocab.tokens)
    separator = "" if sides.target_level == "char" else " "
    bos, eos, unk = sides.target_vocab.bos_id, sides.target_vocab.eos_id, sides.source_vocab.unk_id
    banned = tuple(sides.banned)

    def serve(texts):
        if sides.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        pieces = graph_pieces(texts, sides.source_level)
        ids = tf.cast(tf.ragged.map_flat_values(source_table.lookup, pieces), tf.int32)
        dense = ids.to_tensor(0)
        dense = tf.pad(dense, [[0, 0], [0, 1 - tf.minimum(tf.shape(dense)[1], 1)]])
        # an empty input is one unknown token, as Seq2SeqPreprocessor.encode_source makes it
        first = tf.where(ids.row_lengths() == 0, unk, dense[:, 0])
        dense = tf.concat([first[:, None], dense[:, 1:]], axis=1)
        limit = 2 * tf.shape(dense)[1] + 10  # pipelines.seq2seq.max_output_length
        tokens, total, lengths, _ = model.greedy(dense, bos, eos, limit, banned=banned)
        if sides.reverse_targets:  # written right to left: read them the usual way
            tokens = tf.reverse_sequence(tokens, lengths, seq_axis=1, batch_axis=0)
        pieces_out = tf.RaggedTensor.from_tensor(tf.gather(names, tokens), lengths=lengths)
        outputs = tf.strings.reduce_join(pieces_out, axis=1, separator=separator)
        scores = total / tf.cast(lengths + 1, tf.float32)
        if lexicon is not None:
            listed = lexicon_table.lookup(texts)
            outputs = tf.where(listed != "", listed, outputs)
            scores = tf.where(listed != "", 0.0, scores)
        blank = tf.equal(tf.strings.strip(texts), "")  # an empty input, an empty output
        return {"outputs": tf.where(blank, "", outputs), "scores": tf.where(blank, 0.0, scores)}

    write_archive(
        out,
        model,
        tables,
        {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="texts")])},
    )
