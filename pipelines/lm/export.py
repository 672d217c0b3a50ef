"""The language model's export: a SavedModel whose `serving_default` takes raw strings
(TensorFlow alone runs it)."""

import tensorflow as tf

from pipelines.export import graph_pieces, write_archive


def export_language_model(model, tokens, out):
    """A SavedModel of a language model (`LMPreprocessor` describes its text):

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
