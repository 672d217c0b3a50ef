"""SavedModels with string signatures: tokenisation and vocabulary lookup inside the graph, so
that the export loads and runs with `tensorflow` alone (no zoo, no pipelines installed).

`graph_word_tokenize` is `pipelines.text.word_tokenize` in TensorFlow ops (the same two regex
stages, written for RE2), returning the same tokens and character offsets.
"""

import tensorflow as tf

from pipelines.text import tokenize
from pipelines.training import write_atomically


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
    """The tokens of a (batch,) string tensor at a level, as `pipelines.seq2seq.Sides.split`
    and `pipelines.lm.split_text` make them: `char` (code points), `space` (whitespace-split
    symbols) or `word` (`word_tokenize`; `lower`: lower-cased, digits folded). Ragged."""
    if level == "char":
        return tf.strings.unicode_split(texts, "UTF-8", errors="replace")
    if level == "space":
        return tf.strings.split(texts)
    words = graph_word_tokenize(texts)[0]
    return graph_lower(words) if lower else words


def write_archive(out, model, resources, endpoints):
    """Writes a SavedModel of `model` (and the lookup tables in `resources`) with the given
    endpoints, `{name: (function, input_signature)}`, atomically."""
    import keras

    from zoo import kernels

    def write(folder):
        # Standard ops only: the SavedModel must load with TensorFlow alone.
        with kernels.portable():
            _write(folder)

    def _write(folder):
        archive = keras.export.ExportArchive()
        archive.track(model)
        for resource in resources:
            archive.track(resource)
        for name, (function, signature) in endpoints.items():
            archive.add_endpoint(name, function, input_signature=signature)
        archive.write_out(folder, verbose=False)

    write_atomically(out, write)


def export_tagger(model, vocabs, out, max_word_chars):
    """A SavedModel of an NER tagger: `serving_default(texts)` with `texts` a (batch,) string
    tensor returns dense `tokens` (batch, T) strings ("" past the end), `tags` (batch, T)
    strings, `scores` (batch, T) tag probabilities, `starts`/`ends` (batch, T) character
    offsets and `lengths` (batch,) token counts. Each text is tagged as one sequence."""
    words_table = vocabs.words.lookup_table()
    chars_table = vocabs.chars.lookup_table()
    tag_names = tf.constant([""] + vocabs.tags.tokens[1:])

    def serve(texts):
        tokens, starts, ends = graph_word_tokenize(texts)
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        steps = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], 0)), 1)
        shape = tf.stack([tf.shape(texts)[0], steps])
        normal = tf.strings.regex_replace(tokens, "[0-9]", "0")
        words = tf.ragged.map_flat_values(words_table.lookup, normal)
        words = tf.cast(words, tf.int32).to_tensor(0, shape=shape)
        letters = tf.strings.unicode_split(tokens, "UTF-8", errors="replace")[:, :, :max_word_chars]
        chars = tf.ragged.map_flat_values(chars_table.lookup, letters)
        chars = tf.cast(chars, tf.int32).to_tensor(0)
        chars = tf.pad(chars, [[0, 0], [0, steps - tf.shape(chars)[1]], [0, 1]])
        inputs = {"words": words, "chars": chars}
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

    write_archive(
        out,
        model,
        [words_table, chars_table],
        {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="texts")])},
    )


def export_language_model(model, tokens, out):
    """A SavedModel of a language model (`pipelines.lm.Tokens` describes its text):

    - `serving_default(texts)`: `texts` a (batch,) string tensor -> `log_prob` (batch,) the
      natural-log probability of each text read from `<BOS>` (to `<EOS>` for a `lines` model),
      `tokens` (batch,) how many tokens were scored, `log_prob_per_token` (batch,).
    - `generate(prompt, length, temperature)`: scalars (string, int32, float32) -> `text`, a
      sample continuing `prompt` (without it), drawn inside the graph; never `<UNK>`. A
      backward model (`tokens.reverse`) writes what comes before `prompt`, in reading order.
    """
    vocab = tokens.vocab
    table = vocab.lookup_table()
    names = tf.constant(vocab.tokens)
    separator = "" if tokens.level == "char" else " "
    bos, eos = vocab.bos_id, vocab.eos_id
    banned = tf.constant(
        [i in (vocab.pad_id, vocab.unk_id, bos) for i in range(len(vocab))], tf.bool
    )

    def encode(texts):
        pieces = graph_pieces(texts, tokens.level, tokens.lower)
        if tokens.reverse:  # a backward model reads from the end
            pieces = tf.reverse(pieces, [1])
        ids = tf.cast(tf.ragged.map_flat_values(table.lookup, pieces), tf.int32)
        rows = tf.shape(texts)[0]
        parts = [tf.fill([rows, 1], bos), ids]
        if tokens.format == "lines":
            parts.append(tf.fill([rows, 1], eos))
        return tf.concat(parts, axis=1)

    def serve(texts):
        ids = encode(texts).to_tensor(0)
        x, y = ids[:, :-1], ids[:, 1:]
        x = tf.where(y > 0, x, 0)
        log_p = model.log_probabilities(x, y)
        counts = tf.reduce_sum(tf.cast(y > 0, tf.int32), axis=1)
        total = tf.reduce_sum(log_p, axis=1)
        return {
            "log_prob": total,
            "tokens": counts,
            "log_prob_per_token": total / tf.maximum(tf.cast(counts, tf.float32), 1.0),
        }

    def generate(prompt, length, temperature):
        primer = encode(prompt[None])
        if tokens.format == "lines":
            primer = primer[:, :-1]  # the prompt does not end the sequence
        logits, states = model(primer.to_tensor(0), return_states=True)
        last = tf.cast(logits[:, -1], tf.float32)

        def body(step, last, states, out, done):
            scores = tf.where(banned[None], tf.constant(-1e9), last / temperature)
            draw = tf.cast(tf.random.categorical(scores, 1)[:, 0], tf.int32)
            done = done | tf.equal(draw[0], eos)
            out = out.write(step, tf.where(done, 0, draw[0]))
            logits, states = model(draw[:, None], states=states, return_states=True)
            return step + 1, tf.cast(logits[:, -1], tf.float32), states, out, done

        out = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        _, _, _, out, _ = tf.while_loop(
            lambda step, last, states, out, done: (step < length) & ~done,
            body,
            (tf.constant(0), last, states, out, tf.constant(False)),
        )
        drawn = out.stack()
        drawn = tf.boolean_mask(drawn, drawn > 0)
        if tokens.reverse:  # written right to left: the text in reading order
            drawn = tf.reverse(drawn, [0])
        return {"text": tf.strings.reduce_join(tf.gather(names, drawn), separator=separator)}

    signature = [
        tf.TensorSpec([], tf.string, name="prompt"),
        tf.TensorSpec([], tf.int32, name="length"),
        tf.TensorSpec([], tf.float32, name="temperature"),
    ]
    endpoints = {
        "serving_default": (serve, [tf.TensorSpec([None], tf.string, name="texts")]),
        "generate": (generate, signature),
    }
    write_archive(out, model, [table], endpoints)


def graph_classifier_ids(texts, encoder, table):
    """Token ids of a batch of strings as `pipelines.sentiment.TextEncoder.encode` makes them
    (tokenised, lower-cased unless the encoder keeps case, looked up in `table`, truncated to
    `max_tokens`; an empty text is one unknown word), in TensorFlow ops: `(batch, steps)`
    int32, 0-padded. For serving, and for training that streams raw text."""
    n, how = encoder.max_tokens, encoder.truncate
    tokens = graph_word_tokenize(texts)[0]
    tokens = graph_lower(tokens) if encoder.lower else tokens
    ids = tf.cast(tf.ragged.map_flat_values(table.lookup, tokens), tf.int32)
    # truncation, as TextEncoder.cut: keep the first n - n // 2 and last n // 2 (head+tail)
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
    cut = tf.RaggedTensor.from_row_lengths(flat, kept)
    steps = tf.maximum(tf.reduce_max(tf.concat([kept, [0]], 0)), 1)
    dense = cut.to_tensor(0, shape=tf.stack([tf.shape(texts, out_type=tf.int64)[0], steps]))
    first = tf.where(kept == 0, tf.cast(encoder.words.unk_id, tf.int32), dense[:, 0])
    return tf.concat([first[:, None], dense[:, 1:]], axis=1)


def export_classifier(model, encoder, out):
    """A SavedModel of a text classifier (`pipelines.sentiment.TextEncoder` describes its text):
    `serving_default(texts)` with `texts` a (batch,) string tensor returns `probabilities`
    (batch, classes), `labels` (batch,) the most probable label and `label_names` (classes,)."""
    table = encoder.words.lookup_table()
    names = tf.constant(encoder.labels.tokens)

    def serve(texts):
        dense = graph_classifier_ids(texts, encoder, table)
        probabilities = tf.nn.softmax(tf.cast(model(dense, training=False), tf.float32))
        return {
            "probabilities": probabilities,
            "labels": tf.gather(names, tf.argmax(probabilities, axis=1)),
            "label_names": names,
        }

    write_archive(
        out,
        model,
        [table],
        {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="texts")])},
    )


def export_seq2seq(model, sides, out):
    """A SavedModel of an encoder-decoder (`pipelines.seq2seq.Sides` describes its text):
    `serving_default(texts)` with `texts` a (batch,) string tensor returns `outputs` (batch,)
    strings, decoded greedily by a loop inside the graph, and `scores` (batch,) their mean
    log-probability per token (`<EOS>` included). A model folder with a lexicon
    (`pipelines.rerank`) answers the inputs it lists from it (score 0.0), as `predict` does;
    the others are decoded greedily, without `predict`'s reranking."""
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
        # an empty input is one unknown token, as Sides.encode_source makes it
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
        return {"outputs": outputs, "scores": scores}

    write_archive(
        out,
        model,
        tables,
        {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="texts")])},
    )
