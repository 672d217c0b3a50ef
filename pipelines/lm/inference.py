"""Scoring and sampling: log-probabilities of texts and corpora, novel sequences."""

import math

import numpy as np


def stream_log_probs(model, ids, window=512):
    """log p(ids[t] | ids[:t]) for t >= 1 of one long sequence, states carried over windows
    (each window one compiled call; the last is padded, its padding scored 0 and dropped)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def scored(x, y, states):
        logits, states = model(x, states=states, return_states=True)
        log_p = tf.gather(tf.nn.log_softmax(tf.cast(logits, "float32")), y, batch_dims=2)
        return log_p, states

    states, out = model.zero_states(1), []
    for start in range(0, len(ids) - 1, window):
        x = np.zeros((1, window), "int32")
        y = np.zeros((1, window), "int32")
        chunk = ids[start : start + window + 1]
        x[0, : len(chunk) - 1], y[0, : len(chunk) - 1] = chunk[:-1], chunk[1:]
        log_p, states = scored(tf.constant(x), tf.constant(y), states)
        out.append(log_p[0, : len(chunk) - 1].numpy())
    return np.concatenate(out) if out else np.zeros(0)


def sequence_log_probs(model, sequences, batch_size=128):
    """Per-step log-probabilities of each `<BOS> ... <EOS>` sequence (of every token after BOS)."""
    import tensorflow as tf

    from pipelines.data.batching import by_length, pad

    log_probabilities = tf.function(model.log_probabilities, reduce_retracing=True)
    results = [np.zeros(0, "float32")] * len(sequences)
    filled = [i for i, s in enumerate(sequences) if len(s) > 1]
    for rows, chunk in by_length([sequences[i] for i in filled], batch_size):
        x, y = pad([s[:-1] for s in chunk]), pad([s[1:] for s in chunk])
        log_p = log_probabilities(tf.constant(x), tf.constant(y)).numpy()
        for row, (i, sequence) in enumerate(zip(rows, chunk)):
            results[filled[i]] = log_p[row, : len(sequence) - 1]
    return results


def corpus_metrics(model, tokens, text):
    """nats, bits and perplexity per token over `text` (every token after the first predicted
    from everything before it; per line from `<BOS>` for a `lines` model)."""
    if tokens.format == "lines":
        log_p = np.concatenate(sequence_log_probs(model, tokens.sequences(text)))
    else:
        log_p = stream_log_probs(model, tokens.stream(text)[1:])
    nats = float(-log_p.mean())
    return {
        "nats_per_token": nats,
        "bits_per_token": nats / math.log(2),
        "perplexity": math.exp(nats),
        "tokens": int(log_p.size),
    }


def score_texts(model, tokens, texts):
    """log p(text) for each text, read from `<BOS>` (and, for a `lines` model, to `<EOS>`);
    all texts scored in batches."""
    vocab = tokens.vocab
    ends = [vocab.eos_id] if tokens.format == "lines" else []
    sequences = [
        np.asarray([vocab.bos_id] + vocab.encode(tokens.pieces(text)) + ends, "int32")
        for text in texts
    ]
    scored = []
    for text, log_p in zip(texts, sequence_log_probs(model, sequences)):
        total = float(np.sum(log_p))
        scored.append(
            {
                "text": text,
                "log_prob": total,
                "tokens": len(log_p),
                "log_prob_per_token": total / len(log_p) if len(log_p) else 0.0,
                "token_log_probs": [round(float(v), 5) for v in log_p],
            }
        )
    return scored


def sample(model, tokens, prompts, length, temperature=1.0, top_k=None, seed=0, rngs=None):
    """The course's sampling, one sample per prompt, all in one batch: feed `<BOS>` and the
    prompt (`LMPreprocessor.primer`), then draw each next token from the softmax (divided by
    `temperature`, cut to the `top_k` most likely), feed the draw back, and stop at `<EOS>`
    or after `length` tokens.
    `<UNK>` (and `<PAD>`, `<BOS>`) are never drawn. Rows draw in turn from one generator
    seeded with `seed`, or each from its own of `rngs`; the same seed gives the same
    samples. Returns the samples in reading order (without their prompts)."""
    import tensorflow as tf

    num = len(prompts)
    rngs = rngs or [np.random.default_rng(seed)] * num
    vocab = tokens.vocab
    banned = np.zeros(len(vocab), bool)
    banned[[vocab.pad_id, vocab.unk_id, vocab.bos_id]] = True
    primers = [tokens.primer(prompt) for prompt in prompts]
    states, log_p = model.zero_states(num), None
    for t in range(max(map(len, primers))):  # each row reads its own primer, then waits
        step = tf.constant([primer[min(t, len(primer) - 1)] for primer in primers], tf.int32)
        new_log_p, new_states = model.step(step, states)
        reading = tf.constant([t < len(primer) for primer in primers])[:, None]
        log_p = new_log_p if log_p is None else tf.where(reading, new_log_p, log_p)
        states = [
            [tf.where(reading, n, o) for n, o in zip(*layer)] for layer in zip(new_states, states)
        ]
    outputs = [[] for _ in range(num)]
    done = np.zeros(num, bool)
    for _ in range(length):
        scores = log_p.numpy() / max(temperature, 1e-6)
        scores[:, banned] = -np.inf
        if top_k:
            kth = np.sort(scores, axis=1)[:, -top_k][:, None]
            scores = np.where(scores < kth, -np.inf, scores)
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        draws = np.array([rng.choice(len(vocab), p=row) for rng, row in zip(rngs, p)], "int32")
        for i, token in enumerate(draws):
            if not done[i]:
                if token == vocab.eos_id:
                    done[i] = True
                else:
                    outputs[i].append(vocab.token(int(token)))
        if done.all():
            break
        log_p, states = model.step(tf.constant(draws), states)
    return [tokens.join(pieces) for pieces in outputs]
