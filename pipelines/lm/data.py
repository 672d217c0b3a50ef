"""Language-model data: corpora (text files, table columns, `tfds:`, records folders) and the
training batches (consecutive windows for truncated BPTT, or one sequence a line)."""

import itertools

import numpy as np

from pipelines.data import records
from pipelines.errors import DataError

LEVELS = ("char", "word")
FORMATS = ("text", "lines")


def read_corpus(source, data_format="text", max_examples=None):
    """The text of a source: a text file (`.gz` allowed), the text column of a CSV/TSV table
    (`.csv`, `.tsv`, the column found by name as `pipelines.sentiment` finds it; one example a
    line) or `tfds:tiny_shakespeare[:SPLIT]` (its `text` feature). `max_examples` keeps the
    first N lines (table rows)."""
    from pipelines.data import tfds_source
    from pipelines.data.files import read_text
    from pipelines.data.tables import is_table, read_table

    if tfds_source.is_tfds(source):
        examples, _ = tfds_source.load_examples(source)
        if not examples or "text" not in examples[0]:
            raise DataError(source, "has no text feature")
        text = "".join(example["text"].decode("utf-8") for example in examples)
    elif is_table(source):
        rows = read_table(source, labelled=False, max_examples=max_examples)
        text = "".join(" ".join(row[0].split()) + "\n" for row in rows)
    else:
        text = read_text(source)
    if max_examples:
        text = "".join(text.splitlines(keepends=True)[:max_examples])
    if not text.strip():
        raise DataError(source, "no text")
    return text


def stream_windows(ids, batch, bptt, seed, start=0, endless=False):
    """Consecutive windows of `batch` parallel streams, for truncated BPTT: batch k's row i
    continues batch k-1's row i. Pass p over the text starts at an offset drawn from
    `seed + p`, so that windows do not always cut the text at the same places. One pass, or
    with `endless` pass after pass, beginning at the `start`-th window of them all (where a
    resumed run left off)."""
    passes = itertools.count(0) if endless else [0]
    for p in passes:
        rng = np.random.default_rng(seed + p)
        offset = int(rng.integers(0, bptt)) if len(ids) > batch * (bptt + 1) * 2 else 0
        usable = (len(ids) - offset - 1) // batch * batch
        x = ids[offset : offset + usable].reshape(batch, -1)
        y = ids[offset + 1 : offset + 1 + usable].reshape(batch, -1)
        count = (x.shape[1] - bptt) // bptt + 1
        if start >= count:
            start -= count
            continue
        for k in range(start, count):
            yield x[:, k * bptt : (k + 1) * bptt], y[:, k * bptt : (k + 1) * bptt]
        start = 0


def stream_dataset(ids, batch, bptt, seed, start=0, endless=False):
    """`stream_windows` as a dataset. Without `endless`, each iteration (a Keras epoch) is the
    next pass; with it, one iterator runs through pass after pass (epochs of
    `steps_per_epoch` batches), from window `start`."""
    import tensorflow as tf

    passes = [0]

    def windows():
        if endless:
            yield from stream_windows(ids, batch, bptt, seed, start, endless=True)
        else:
            passes[0] += 1
            yield from stream_windows(ids, batch, bptt, seed + passes[0] - 1)

    spec = tf.TensorSpec([batch, bptt], tf.int32)
    return tf.data.Dataset.from_generator(windows, output_signature=(spec, spec)).prefetch(4)


class StreamedText(records.Stream):
    """The text of records folders (`pipelines.records`, task `lm`) as blocks of lines."""

    def item(self, example):
        return example["text"]


def records_windows(tokens, text, batch, bptt, seed):
    """`stream_dataset` for a `StreamedText`: `batch` parallel streams, each a run of whole
    blocks (dealt to the shortest stream, blocks shuffled afresh every epoch) read in
    consecutive windows of `bptt`, so row i of each batch continues row i of the one before;
    memory holds a few blocks per stream."""
    import tensorflow as tf

    epoch = [0]

    def windows():
        blocks = text.iterate(shuffle=True, seed=seed + epoch[0])
        epoch[0] += 1
        streams = [np.asarray([tokens.vocab.bos_id], "int32") for _ in range(batch)]
        for block in blocks:
            shortest = min(range(batch), key=lambda i: len(streams[i]))
            streams[shortest] = np.concatenate([streams[shortest], tokens.stream(block)[1:]])
            while min(len(s) for s in streams) > bptt:
                x = np.stack([s[:bptt] for s in streams])
                y = np.stack([s[1 : bptt + 1] for s in streams])
                streams = [s[bptt:] for s in streams]
                yield x, y

    spec = tf.TensorSpec([batch, bptt], tf.int32)
    return tf.data.Dataset.from_generator(windows, output_signature=(spec, spec)).prefetch(4)


def lines_dataset(sequences, batch_size, shuffle, seed):
    import tensorflow as tf

    from pipelines.data import bucketed_dataset

    examples = [{"x": s[:-1], "y": s[1:]} for s in sequences]
    signature = {"x": tf.TensorSpec([None], tf.int32), "y": tf.TensorSpec([None], tf.int32)}
    dataset = bucketed_dataset(
        examples, signature, batch_size, shuffle=shuffle, seed=seed, pad_to_multiple=8
    )
    return dataset.map(lambda b: (b["x"], b["y"]))


def records_reader(source, data_format, max_examples):
    """The examples of a source as `pipelines.data.records` stores them (task `lm`): blocks of
    lines, so that a text read back for truncated BPTT keeps long stretches in their order."""
    lines = read_corpus(source, data_format or "text", max_examples).splitlines(True)
    return [
        {"text": "".join(lines[i : i + records.LM_BLOCK])}
        for i in range(0, len(lines), records.LM_BLOCK)
    ]
