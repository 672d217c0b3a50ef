"""SavedModels with string signatures: tokenisation and vocabulary lookup inside the graph, so
that the export loads and runs with `tensorflow` alone (no zoo, no pipelines installed). The
graph pieces every task's export shares; each task's own export is in its package
(`pipelines.<task>.export`).

`graph_word_tokenize` is `pipelines.text.word_tokenize` in TensorFlow ops (the same two regex
stages, written for RE2), returning the same tokens and character offsets.
"""

import tensorflow as tf

from pipelines.io import write_atomically
from pipelines.text import tokenize


def graph_word_tokenize(texts):
    """Tokens of a batch of strings, as `word_tokenize` splits them.

    Args:
        texts: a string tensor of shape (batch,).
    Returns:
        (tokens, starts, ends): ragged (batch, None) tensors; starts and ends are offsets in
        characters (Unicode code points), like `Token.start` and `Token.end`.
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    marked = tf.strings.regex_replace(texts, tokenize.MARK, tokenize.STAND_IN)
    marked = tf.strings.regex_replace(
        marked, tokenize.STAGE1_RE2, tokenize.MARK + r"\0" + tokenize.MARK
    )
    for pattern, replacement in tokenize.STAGE2_RE2:
        marked = tf.strings.regex_replace(marked, pattern, replacement)
    pieces = tf.strings.split(marked, tokenize.MARK)  # gap, token, gap, ..., gap per text
    lengths = tf.strings.length(pieces.flat_values)  # bytes (MARK-free: pieces of the text)
    flat_ends = tf.cumsum(lengths)
    row_starts = pieces.row_starts()
    rows = pieces.value_rowids()
    base = tf.gather(tf.concat([[0], flat_ends], 0), tf.gather(row_starts, rows))
    byte_ends = flat_ends - base
    byte_starts = byte_ends - lengths
    position = tf.range(tf.shape(lengths, out_type=tf.int64)[0]) - tf.gather(row_starts, rows)
    is_token = tf.math.floormod(position, 2) == 1
    keep = tf.RaggedTensor.from_row_starts(is_token, row_starts)
    # the tokens cut from the original text (a MARK in the text was replaced in `marked`)
    originals = tf.strings.substr(tf.gather(texts, rows), byte_starts, lengths)
    tokens = tf.ragged.boolean_mask(tf.RaggedTensor.from_row_starts(originals, row_starts), keep)
    as_ragged = lambda values: tf.ragged.boolean_mask(  # noqa: E731
        tf.RaggedTensor.from_row_starts(values, row_starts), keep
    )
    # byte offsets -> character offsets: count the characters that start before each offset
    _, char_bytes = tf.strings.unicode_decode_with_offsets(
        texts, "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    big = tf.constant(2**62, tf.int64)
    char_bytes = char_bytes.to_tensor(default_value=big)
    char_bytes = tf.concat([char_bytes, tf.fill([tf.shape(char_bytes)[0], 1], big)], axis=1)

    def to_chars(byte_offsets):
        ragged = as_ragged(tf.cast(byte_offsets, tf.int64))
        dense = ragged.to_tensor(default_value=0)
        chars = tf.searchsorted(char_bytes, dense, side="left")
        return tf.RaggedTensor.from_tensor(chars, lengths=ragged.row_lengths())

    return tokens, to_chars(byte_starts), to_chars(byte_ends)


def graph_lower(tokens):
    """`normalize_word(token.lower())` of ragged string tokens: lower-cased, digits folded."""
    return tf.ragged.map_flat_values(
        lambda t: tf.strings.regex_replace(tf.strings.lower(t, encoding="utf-8"), "[0-9]", "0"),
        tokens,
    )


def graph_pieces(texts, level, lower=False):
    """The tokens of a (batch,) string tensor at a level, as `Seq2SeqPreprocessor.split`
    and `pipelines.text.split_text` make them: `char` (code points), `space` (whitespace-split
    symbols) or `word` (`word_tokenize`; `lower`: lower-cased, digits folded). Ragged."""
    if level == "char":
        return tf.strings.unicode_split(texts, "UTF-8", errors="replace")
    if level == "space":
        return tf.strings.split(texts)
    words = graph_word_tokenize(texts)[0]
    return graph_lower(words) if lower else words


def write_archive(out, model, resources, endpoints):
    """Writes a SavedModel of `model` (or a list of models) and the lookup tables in
    `resources` with the given endpoints, `{name: (function, input_signature)}`, atomically."""
    import keras

    from zoo import kernels

    def write(folder):
        # Standard ops only: the SavedModel must load with TensorFlow alone.
        with kernels.portable():
            _write(folder)

    def _write(folder):
        archive = keras.export.ExportArchive()
        for each in model if isinstance(model, (list, tuple)) else [model]:
            archive.track(each)
        for resource in resources:
            archive.track(resource)
        for name, (function, signature) in endpoints.items():
            archive.add_endpoint(name, function, input_signature=signature)
        archive.write_out(folder, verbose=False)

    write_atomically(out, write)
