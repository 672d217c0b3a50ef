"""Word vectors learned from unlabeled text: skip-gram with negative sampling (word2vec).

No pretrained vectors can be downloaded where the zoo is developed, so it learns its own from the
text in `../shared/data/unlabeled` (and any other corpus): `python -m pipelines.vectors train
--train a.txt.gz --train b.txt --out vectors.txt`. The output is the word2vec text format (a
header line `count dim`, then `word v1 v2 ...`), which GloVe and fastText users know; the NER
tagger starts its word embeddings from such a file (`pipelines.ner train --vectors FILE`).

Mikolov et al. 2013: each word (the center) predicts the words up to `window` positions away
(the window shrinks at random, so near words count more), against `negatives` words drawn from
the unigram distribution raised to 3/4; frequent words are subsampled. The whole epoch runs as
one TensorFlow loop of sparse SGD updates with a linearly decaying learning rate.
"""

import os
import time

import numpy as np

from pipelines.errors import BadSetting, DataError

_TABLE_SIZE = 10_000_000


def train_word_vectors(
    sentences,
    dim=100,
    window=5,
    negatives=5,
    min_count=3,
    max_size=None,
    epochs=5,
    batch_size=1024,
    learning_rate=0.025,
    subsample=1e-4,
    seed=0,
    log=None,
):
    """Learns word vectors from sentences (lists of tokens, kept as they are).

    Returns:
        (words, vectors): the words kept (count >= `min_count`, most frequent first, at most
        `max_size`) and a float32 array (len(words), dim).
    """
    import tensorflow as tf

    words, ids, sentence_ids, keep_probability, table = _corpus(
        sentences, min_count, max_size, subsample
    )
    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)
    scale = 0.5 / dim
    w_in = tf.Variable(rng.uniform(-scale, scale, (len(words), dim)).astype("float32"))
    w_out = tf.Variable(np.zeros((len(words), dim), "float32"))

    run_epoch = _epoch(w_in, w_out, table, negatives, batch_size)

    floor = learning_rate * 1e-4
    for epoch in range(epochs):
        start = time.time()
        centers, contexts = _pairs(ids, sentence_ids, keep_probability, window, rng)
        lr_start = learning_rate - (learning_rate - floor) * epoch / epochs
        lr_end = learning_rate - (learning_rate - floor) * (epoch + 1) / epochs
        loss = float(
            run_epoch(
                tf.constant(centers),
                tf.constant(contexts),
                tf.constant(lr_start, tf.float32),
                tf.constant(lr_end, tf.float32),
            )
        )
        if log:
            log(
                f"epoch {epoch + 1}/{epochs}: {len(centers):,} pairs, loss {loss:.4f}, "
                f"{time.time() - start:.0f} s"
            )
    return words, w_in.numpy()


def _epoch(w_in, w_out, table, negatives, batch_size):
    """One epoch of skip-gram with negative sampling as one TensorFlow loop: sparse SGD on
    the (center, context) pairs, the learning rate decaying linearly from `lr_start` to
    `lr_end`; returns the mean loss."""
    import tensorflow as tf

    dim = w_in.shape[1]
    table_t = tf.constant(table)
    labels = tf.constant([[1.0] + [0.0] * negatives])

    @tf.function(reduce_retracing=True)
    def run_epoch(centers, contexts, lr_start, lr_end):
        n = tf.shape(centers)[0]
        steps = (n + batch_size - 1) // batch_size
        total = tf.constant(0.0)
        for step in tf.range(steps):
            lo = step * batch_size
            c = centers[lo : lo + batch_size]
            o = contexts[lo : lo + batch_size]
            b = tf.shape(c)[0]
            draws = tf.random.uniform((b, negatives), maxval=table_t.shape[0], dtype=tf.int32)
            targets = tf.concat([o[:, None], tf.gather(table_t, draws)], axis=1)
            v = tf.gather(w_in, c)  # (b, dim)
            u = tf.gather(w_out, targets)  # (b, 1 + negatives, dim)
            logits = tf.einsum("bd,bkd->bk", v, u)
            loss = tf.nn.sigmoid_cross_entropy_with_logits(
                tf.broadcast_to(labels, tf.shape(logits)), logits
            )
            g = tf.sigmoid(logits) - labels  # d loss / d logits
            progress = tf.cast(step, tf.float32) / tf.cast(steps, tf.float32)
            lr = lr_start + (lr_end - lr_start) * progress
            _sgd_update(w_in, c, tf.einsum("bk,bkd->bd", g, u), lr)
            _sgd_update(
                w_out,
                tf.reshape(targets, (-1,)),
                tf.reshape(g[:, :, None] * v[:, None, :], (-1, dim)),
                lr,
            )
            total += tf.reduce_sum(loss)
        return total / tf.cast(tf.maximum(n, 1), tf.float32)

    return run_epoch


def _corpus(sentences, min_count, max_size, subsample):
    """What the skip-gram loop reads: the words kept (most frequent first), the corpus as word
    ids with each one's sentence, each word's probability of being kept (subsampling) and the
    unigram^0.75 table negatives are drawn from."""
    counts = {}
    for sentence in sentences:
        for token in sentence:
            counts[token] = counts.get(token, 0) + 1
    words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
    words = words[:max_size] if max_size else words
    if len(words) < 2:
        raise ValueError("fewer than two words occur often enough to learn vectors")
    index = {w: i for i, w in enumerate(words)}
    freq = np.array([counts[w] for w in words], "float64")

    ids, sentence_ids = [], []
    for n, sentence in enumerate(sentences):
        kept = [index[t] for t in sentence if t in index]
        ids.extend(kept)
        sentence_ids.extend([n] * len(kept))
    share = freq / freq.sum()
    if subsample > 0:  # word2vec's formula: frequent words are kept with probability < 1
        keep_probability = np.minimum(1.0, np.sqrt(subsample / share) + subsample / share)
    else:
        keep_probability = np.ones_like(share)
    unigram = freq**0.75
    table = np.repeat(
        np.arange(len(words), dtype="int32"),
        np.maximum(1, np.round(unigram / unigram.sum() * _TABLE_SIZE)).astype("int64"),
    )
    ids, sentence_ids = np.asarray(ids, "int32"), np.asarray(sentence_ids, "int64")
    return words, ids, sentence_ids, keep_probability, table


def _sgd_update(variable, rows, gradients, lr):
    """One SGD step on the rows of `variable` a batch touched. A row that occurs k times in the
    batch moves by the mean of its k gradients, not their sum, so that a word frequent in a
    small corpus does not take k steps at once (and diverge)."""
    import tensorflow as tf

    unique, position = tf.unique(rows)
    total = tf.math.unsorted_segment_sum(gradients, position, tf.shape(unique)[0])
    count = tf.math.unsorted_segment_sum(
        tf.ones_like(rows, tf.float32), position, tf.shape(unique)[0]
    )
    variable.scatter_sub(tf.IndexedSlices(lr * total / count[:, None], unique))


def _pairs(ids, sentence_ids, keep_probability, window, rng):
    """(center, context) pairs of one epoch, shuffled: subsampled tokens, shrinking windows."""
    kept = rng.random(len(ids)) < keep_probability[ids]
    ids, sentence_ids = ids[kept], sentence_ids[kept]
    reach = rng.integers(1, window + 1, len(ids))
    centers, contexts = [], []
    for d in range(1, window + 1):
        same = sentence_ids[:-d] == sentence_ids[d:]
        forward = same & (reach[:-d] >= d)  # center i, context i + d
        backward = same & (reach[d:] >= d)  # center i + d, context i
        centers += [ids[:-d][forward], ids[d:][backward]]
        contexts += [ids[d:][forward], ids[:-d][backward]]
    centers, contexts = np.concatenate(centers), np.concatenate(contexts)
    order = rng.permutation(len(centers))
    return centers[order], contexts[order]


def save_vectors(path, words, vectors):
    """Writes the word2vec text format, atomically (a temporary file renamed when complete)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(f"{len(words)} {vectors.shape[1]}\n")
        for word, vector in zip(words, vectors):
            handle.write(word + " " + " ".join(f"{x:.5f}" for x in vector) + "\n")
    os.replace(tmp, path)


def load_vectors(path):
    """Reads the word2vec or GloVe text format (the header line is optional).

    Returns (words, vectors as float32 (len(words), dim)); raises `DataError` naming the line of
    a malformed row.
    """
    from pipelines.data.files import read_lines

    lines = read_lines(path)
    first = lines[0].split()
    start = 1 if len(first) == 2 and all(part.isdigit() for part in first) else 0
    words, rows, dim = [], [], None
    for number, line in enumerate(lines[start:], start + 1):
        parts = line.rstrip().split(" ")
        if not line.strip():
            continue
        if dim is None:
            dim = len(parts) - 1
        if len(parts) - 1 != dim or dim < 1:
            raise DataError(path, f"expected a word and {dim} numbers", number)
        try:
            rows.append([float(x) for x in parts[1:]])
        except ValueError:
            raise DataError(path, "a vector component is not a number", number) from None
        words.append(parts[0])
    return words, np.asarray(rows, "float32")


def fill_embeddings(layer, tokens, vectors):
    """Sets the rows of a built `keras.layers.Embedding` to the vectors of its tokens (the exact
    word, else its lower-case form); other rows keep their initial values. Returns how many
    rows got a vector."""
    words, matrix = vectors
    table = layer.embeddings.numpy()
    if matrix.shape[1] != table.shape[1]:
        raise BadSetting(
            "--vectors",
            f"the vectors have {matrix.shape[1]} dimensions, the embeddings {table.shape[1]}",
        )
    index = {w: i for i, w in enumerate(words)}
    found = 0
    for row, token in enumerate(tokens):
        j = index.get(token, index.get(token.lower()))
        if j is not None:
            table[row] = matrix[j]
            found += 1
    layer.embeddings.assign(table)
    return found
