"""Sentiment data: labelled texts from CSV/TSV tables, aclImdb-style folders, `tfds:` sources
and records folders, and the training batches."""

import os

import numpy as np

from pipelines.data import records
from pipelines.errors import BadSetting, DataError


def read_folder(path, max_examples=None):
    """An `aclImdb/train`-style folder: each sub-folder is a label holding one text per file
    (`unsup/` and files beside the sub-folders are skipped)."""
    from pipelines.data.files import read_text
    from pipelines.data.tables import clean_text

    labels = sorted(
        d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and d != "unsup"
    )
    if not labels:
        raise DataError(path, "no label sub-folders (expected e.g. pos/ and neg/)")
    rows = []
    for label in labels:
        folder = os.path.join(path, label)
        for name in sorted(os.listdir(folder)):
            rows.append((clean_text(read_text(os.path.join(folder, name))), label, None))
    if max_examples:
        order = np.random.default_rng(0).permutation(len(rows))[:max_examples]
        rows = [rows[i] for i in sorted(order)]  # a sample of every label, not the first only
    return rows


def read_labelled(source, max_examples=None, text_column=None, label_column=None):
    """(text, label, line) rows of a CSV/TSV file, an aclImdb-style folder or a `tfds:` source."""
    from pipelines.data import tfds_source
    from pipelines.data.tables import clean_text, read_table

    if tfds_source.is_tfds(source):
        examples, info = tfds_source.load_examples(source, max_examples=max_examples)
        text_key = next((k for k in ("text", "sentence", "review") if k in info.features), None)
        if text_key is None or "label" not in info.features:
            raise DataError(source, "has no text/sentence and label features")
        names = info.features["label"].names
        return [
            (clean_text(e[text_key].decode("utf-8")), names[int(e["label"])], n)
            for n, e in enumerate(examples, 1)
            if int(e["label"]) >= 0  # glue's test split has no labels (-1)
        ]
    if os.path.isdir(str(source)):
        return read_folder(source, max_examples)
    return read_table(source, text_column, label_column, max_examples=max_examples)


def label_ids(encoder, rows, source):
    """Label strings to ids; a label the model does not know is bad input (naming the line)."""
    ids = []
    for _, raw, line in rows:
        label = encoder.label(raw)
        if label not in encoder.labels:
            known = ", ".join(encoder.labels.tokens)
            read = f" (read as {label!r})" if label != raw else ""
            message = f"label {raw!r}{read} unseen in training (known: {known})"
            raise DataError(source, message, line)
        ids.append(encoder.labels.id(label))
    return np.asarray(ids, "int32")


def make_dataset(encoder, rows, labels, batch_size, shuffle, seed=0):
    import tensorflow as tf

    from pipelines.data import bucketed_dataset

    examples = [
        {"tokens": encoder.encode(text), "label": np.int32(y)}
        for (text, _, _), y in zip(rows, labels)
    ]
    signature = {"tokens": tf.TensorSpec([None], tf.int32), "label": tf.TensorSpec([], tf.int32)}
    dataset = bucketed_dataset(
        examples, signature, batch_size, shuffle=shuffle, seed=seed, pad_to_multiple=16
    )
    return dataset.map(lambda b: (b["tokens"], b["label"]))


def stream_dataset(encoder, folders, batch_size, seed=0, max_examples=None):
    """Batches streamed from records folders (`pipelines.records`): text encoded inside the
    graph exactly as `SentimentPreprocessor.encode` does (`export.graph_classifier_ids`),
    bucketed by length; memory stays bounded whatever the corpus size."""
    import tensorflow as tf

    from pipelines.sentiment.export import graph_classifier_ids

    table = encoder.words.lookup_table()
    keys = encoder.labels.tokens + list(encoder.aliases)
    values = list(range(len(encoder.labels))) + [
        encoder.labels.id(name) for name in encoder.aliases.values()
    ]
    labels = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), -1)
    data = records.dataset(folders, shuffle=True, seed=seed)
    if max_examples:
        data = data.take(max_examples)

    def encode(example):
        ids = graph_classifier_ids(tf.reshape(example["text"], [1]), encoder, table)[0]
        return ids, tf.cast(labels.lookup(example["label"]), tf.int32)

    data = data.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    limit = encoder.max_tokens + 1
    boundaries = [b for b in (16, 32, 64, 128, 256, 512, 1024) if b < limit] + [limit]
    data = data.bucket_by_sequence_length(
        lambda ids, label: tf.shape(ids)[0],
        boundaries,
        [batch_size] * (len(boundaries) + 1),
        padded_shapes=([None], []),
        pad_to_bucket_boundary=True,
    )
    return data.prefetch(tf.data.AUTOTUNE)


def parse_label_names(value):
    """`--label-names '0=negative,1=positive'` -> {"0": "negative", "1": "positive"}."""
    if not value:
        return {}
    aliases = {}
    for item in value.split(","):
        raw, sep, name = item.partition("=")
        if not sep or not raw.strip() or not name.strip():
            raise BadSetting(
                "--label-names", f"expected LABEL=NAME pairs separated by commas, got {item!r}"
            )
        aliases[raw.strip()] = name.strip()
    return aliases


def records_reader(source, data_format, max_examples):
    """The examples of a source as `pipelines.data.records` stores them (task `sentiment`)."""
    return [
        {"text": text, "label": label} for text, label, _ in read_labelled(source, max_examples)
    ]
