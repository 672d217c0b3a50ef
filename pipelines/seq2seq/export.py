"""The encoder-decoder's export: a SavedModel whose `serving_default` takes raw strings
(TensorFlow alone runs it)."""

import re

import tensorflow as tf

from pipelines.export import graph_pieces, write_archive
from pipelines.seq2seq.inflections import LONGER_TOKENS, MIN_STEM, SEPARATOR, STEM_TOKENS


def export_seq2seq(model, sides, out):
    """A SavedModel of an encoder-decoder (`Seq2SeqPreprocessor` describes its text):
    `serving_default(texts)` with `texts` a (batch,) string tensor returns `outputs` (batch,)
    strings, decoded greedily by a loop inside the graph, and `scores` (batch,) their mean
    log-probability per token (`<EOS>` included); an empty or blank text has the empty output
    (score 0.0). A model folder with a lexicon (`pipelines.seq2seq.rerank`) answers the
    inputs it lists, and the inflections of listed words it was given, from it (score 0.0), as
    `predict` does; the others are decoded greedily, without `predict`'s reranking."""
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
    inflections = sides.reranker.inflections(sides.target_level) if lexicon is not None else None
    if inflections is not None:
        rule_tables = [
            rules_table(inflections, rules) for rules in (inflections.added, inflections.removed)
        ]
        tables.extend(rule_tables)
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
            if inflections is not None:
                listed = graph_inflections(texts, listed, lexicon_table, inflections, rule_tables)
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


def rules_table(inflections, rules):
    """A lookup table of `inflections`' `rules`: rule key -> "DROP<TAB>ADDED" ("" if none)."""
    keys, values = inflections.table(rules)
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys or [""], tf.string), tf.constant(values or [""], tf.string)
        ),
        default_value="",
    )


def graph_inflections(texts, listed, lexicon_table, inflections, rule_tables):
    """`listed` (the lexicon's targets of `texts`, "" where it lists none) with the targets
    `inflections.Inflections.get` makes of listed words filled in, in the graph."""
    level = inflections.target_level
    separator = "" if level == "char" else " "
    length = tf.strings.length(texts, unit="UTF8_CHAR")
    decided = listed != ""
    added, removed = rule_tables

    def apply(table, context, suffix, target, stem, found):
        """The target made of `target` by the change `table` keeps for the key of `suffix`,
        `target`'s last `context` tokens and `stem`'s last character; "" where there is none."""
        tokens = graph_pieces(target, level)
        count = tokens.row_lengths()
        last = tf.ragged.boolean_mask(tokens, tf.ragged.range(count) >= (count - context)[:, None])
        last = tf.ragged.map_flat_values(tf.strings.regex_replace, last, "[0-9]+$", "")
        last = tf.strings.reduce_join(last, axis=1, separator=" ")
        safe = tf.where(found, stem, "  ")  # a character to read where no stem was found
        character = tf.strings.substr(safe, -1, 1, unit="UTF8_CHAR")
        rule = table.lookup(tf.strings.join([suffix, last, character], separator=SEPARATOR))
        made = rule != ""
        parts = tf.strings.split(tf.where(made, rule, "0" + SEPARATOR), SEPARATOR).to_tensor(
            "", shape=[None, 2]
        )
        drop = tf.strings.to_number(parts[:, 0], tf.int64)
        keep = tf.ragged.range(count) < (count - drop)[:, None]
        kept = tf.strings.reduce_join(
            tf.ragged.boolean_mask(tokens, keep), axis=1, separator=separator
        )
        joined = tf.where(
            (kept != "") & (parts[:, 1] != ""),
            tf.strings.join([kept, parts[:, 1]], separator=separator),
            kept + parts[:, 1],
        )
        return tf.where(found & made & (count > 0), joined, "")

    for suffix in inflections.suffixes:  # the first suffix whose stem is listed decides
        size = len(suffix)
        ends = tf.strings.regex_full_match(texts, f"(?s).{{{MIN_STEM},}}{re.escape(suffix)}")
        stem = tf.strings.substr(
            texts, tf.zeros_like(length), tf.maximum(length - size, 0), unit="UTF8_CHAR"
        )
        target = tf.where(ends & ~decided, lexicon_table.lookup(stem), "")
        found = target != ""
        listed = tf.where(found, apply(added, STEM_TOKENS, suffix, target, stem, found), listed)
        decided = decided | found
    for suffix in inflections.bases:
        longer = tf.strings.join([texts, suffix])
        target = tf.where((length >= MIN_STEM) & ~decided, lexicon_table.lookup(longer), "")
        found = target != ""
        listed = tf.where(
            found, apply(removed, LONGER_TOKENS, suffix, target, texts, found), listed
        )
        decided = decided | found
    return listed
