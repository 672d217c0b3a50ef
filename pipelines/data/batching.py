"""tf.data input: examples bucketed by length and padded per batch, cached and prefetched.

Padding every sentence to the corpus's longest (124 tokens in CoNLL-2003, where the average is
14) wastes most of a recurrent layer's steps. Here sentences of similar length share a batch and
each batch is padded only to its own longest sentence.
"""

import numpy as np


def default_boundaries(lengths, buckets=8):
    """Bucket boundaries at quantiles of the lengths, so that buckets fill about equally."""
    lengths = np.asarray(lengths)
    qs = np.quantile(lengths, np.linspace(0, 1, buckets + 1)[1:-1])
    return sorted({int(q) + 1 for q in qs if int(q) + 1 < lengths.max() + 1})


def bucketed_dataset(
    examples,
    signature,
    batch_size,
    length_key=None,
    boundaries=None,
    shuffle=True,
    seed=0,
    cache=True,
    padding_values=None,
    pad_to_multiple=None,
):
    """A `tf.data.Dataset` of padded batches of similar-length examples.

    Args:
        examples: a list of examples, each a dict of NumPy-compatible sequences (ids, tags, ...);
            every example is kept, in batches of at most `batch_size`.
        signature: dict name -> `tf.TensorSpec` of one example, e.g.
            `{"words": tf.TensorSpec([None], tf.int32), "chars": tf.TensorSpec([None, None],
            tf.int32)}`.
        batch_size: examples per batch.
        length_key: the feature whose first dimension is the example's length (default: the
            first in `signature`).
        boundaries: bucket boundaries in tokens; default: quantiles of the lengths.
        shuffle: shuffle examples (seeded) before bucketing, and differently every epoch.
        seed: the shuffle seed.
        cache: cache the examples in memory after the first pass.
        padding_values: dict name -> padding value (default 0 for every feature).
        pad_to_multiple: pad each batch's length up to a multiple of this. Fewer distinct batch
            shapes means fewer compilations for XLA-compiled layers (the zoo's training loops
            compile once per shape): CoNLL-2003 has ~120 sentence lengths, 16 multiples of 8.
    Returns:
        A dataset of dicts of (batch, longest in batch, ...) tensors, prefetched.
    """
    import tensorflow as tf

    if not examples:
        raise ValueError("no examples to batch")
    length_key = length_key or next(iter(signature))
    lengths = [len(example[length_key]) for example in examples]
    if boundaries is None:
        boundaries = default_boundaries(lengths)

    def generate():
        for example in examples:
            yield {name: np.asarray(example[name]) for name in signature}

    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if cache:
        dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    padding_values = padding_values or {}
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda example: tf.shape(example[length_key])[0],
        bucket_boundaries=list(boundaries),
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values={
            name: tf.constant(padding_values.get(name, 0), dtype=spec.dtype)
            for name, spec in signature.items()
        },
        drop_remainder=False,
    )
    if pad_to_multiple:
        dataset = dataset.map(
            lambda batch: _pad_time(batch, pad_to_multiple, padding_values),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _pad_time(batch, multiple, padding_values):
    """Pads axis 1 (time) of every feature up to a multiple of `multiple`."""
    import tensorflow as tf

    steps = tf.shape(next(iter(batch.values())))[1]
    extra = (multiple - steps % multiple) % multiple
    padded = {}
    for name, value in batch.items():
        if len(value.shape) < 2:  # a per-example value (a label) has no time axis
            padded[name] = value
            continue
        paddings = [[0, 0], [0, extra]] + [[0, 0]] * (len(value.shape) - 2)
        padded[name] = tf.pad(
            value, paddings, constant_values=tf.cast(padding_values.get(name, 0), value.dtype)
        )
    return padded


def by_length(items, batch_size, length=len):
    """Batches for inference: `(indices, items)` of at most `batch_size` items of similar
    lengths (sorted by `length`), so that little of each padded batch is padding; a caller
    scatters each batch's results back to `indices`."""
    order = sorted(range(len(items)), key=lambda i: length(items[i]))
    for lo in range(0, len(order), batch_size):
        chunk = order[lo : lo + batch_size]
        yield chunk, [items[i] for i in chunk]


def pad(sequences, width=None, dtype="int32"):
    """Right-padded (with 0) rows of `sequences`: `(len(sequences), width)`, `width` at least
    the longest."""
    width = max([width or 0] + [len(s) for s in sequences])
    out = np.zeros((len(sequences), width), dtype)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = sequence
    return out
