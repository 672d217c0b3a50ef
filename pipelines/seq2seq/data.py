"""Seq2seq data: pair files, CMUdict-format dictionaries and records folders, and the
training batches."""

import numpy as np

from pipelines.data import records
from pipelines.errors import BadSetting, DataError

LEVELS = ("char", "word", "space")
FORMATS = ("pairs", "cmudict")


def data_format_of(source, given=None):
    """`given`, or `cmudict` for `.dict` files and `pairs` otherwise."""
    if given:
        if given not in FORMATS:
            raise BadSetting("--format", f"must be one of {FORMATS}")
        return given
    return "cmudict" if str(source).lower().removesuffix(".gz").endswith(".dict") else "pairs"


def read_pairs(path, max_examples=None):
    """(source, target, line) of a `source<TAB>target` file; blank lines are skipped."""
    from pipelines.data.files import read_lines

    pairs = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        source, tab, target = line.partition("\t")
        if not tab:
            raise DataError(path, "no tab between source and target", number)
        if not source.strip() or not target.strip():
            raise DataError(path, "empty source or target", number)
        pairs.append((source.strip(), target.strip(), number))
        if max_examples and len(pairs) >= max_examples:
            break
    if not pairs:
        raise DataError(path, "no pairs")
    return pairs


def read_cmudict(path, max_examples=None):
    """(word, "PH1 PH2 ...", line) of a CMU Pronouncing Dictionary file: `WORD(2)` is another
    pronunciation of WORD; `# comments` and `;;;` lines are skipped."""
    from pipelines.data.files import read_lines

    entries = []
    for number, line in enumerate(read_lines(path), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith(";;;"):
            continue
        word, *phonemes = line.split()
        if not phonemes:
            raise DataError(path, f"no pronunciation for {word!r}", number)
        if word.endswith(")") and "(" in word[1:]:
            word = word[: word.rindex("(")]
        entries.append((word, " ".join(phonemes), number))
        if max_examples and len(entries) >= max_examples:
            break
    if not entries:
        raise DataError(path, "no entries")
    return entries


def read_examples(source, data_format=None, max_examples=None):
    if data_format_of(source, data_format) == "cmudict":
        return read_cmudict(source, max_examples)
    return read_pairs(source, max_examples)


def references(examples):
    """Sources in first-seen order, each with every target given for it."""
    grouped = {}
    for source, target, _ in examples:
        grouped.setdefault(source, [])
        if target not in grouped[source]:
            grouped[source].append(target)
    return list(grouped), list(grouped.values())


def make_dataset(sides, examples, batch_size, shuffle, seed=0):
    """Batches of ({"source", "target": <BOS> y}, y <EOS>), similar lengths together."""
    import tensorflow as tf

    from pipelines.data import bucketed_dataset

    bos, eos = sides.target_vocab.bos_id, sides.target_vocab.eos_id
    rows = []
    for source, target, _ in examples:
        y = sides.encode_target(target)
        rows.append(
            {
                "source": sides.encode_source(source),
                "target": np.r_[bos, y].astype("int32"),
                "next": np.r_[y, eos].astype("int32"),
            }
        )
    spec = tf.TensorSpec([None], tf.int32)
    signature = {"source": spec, "target": spec, "next": spec}
    dataset = bucketed_dataset(
        rows, signature, batch_size, shuffle=shuffle, seed=seed, pad_to_multiple=4
    )
    return dataset.map(lambda b: ({"source": b["source"], "target": b["target"]}, b["next"]))


class StreamedPairs(records.Stream):
    """The (source, target, None) pairs of records folders (`pipelines.records`, task
    `seq2seq`), as `read_examples` gives them."""

    def item(self, example):
        return example["source"], example["target"], None


def stream_dataset(sides, pairs, batch_size, shuffle=True, seed=0):
    """`make_dataset` for `StreamedPairs`: the same batches, encoded inside the input pipeline
    and bucketed by length."""
    import tensorflow as tf

    from pipelines.export import graph_pieces

    source_table = sides.source_vocab.lookup_table()
    target_table = sides.target_vocab.lookup_table()
    bos, eos, unk = sides.target_vocab.bos_id, sides.target_vocab.eos_id, sides.source_vocab.unk_id
    data = pairs.dataset(shuffle, seed)

    def encode(example):
        source = example["source"]
        if sides.lowercase:
            source = tf.strings.lower(source, encoding="utf-8")
        pieces = graph_pieces(tf.reshape(source, [1]), sides.source_level)[0]
        source = tf.cast(source_table.lookup(pieces), tf.int32)
        source = tf.cond(tf.size(source) > 0, lambda: source, lambda: tf.constant([unk]))
        pieces = graph_pieces(tf.reshape(example["target"], [1]), sides.target_level)[0]
        target = tf.cast(target_table.lookup(pieces), tf.int32)
        return {
            "source": source,
            "target": tf.concat([[bos], target], 0),
            "next": tf.concat([target, [eos]], 0),
        }

    data = data.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    boundaries = [8, 12, 16, 24, 32, 48, 64, 96, 128]
    data = data.bucket_by_sequence_length(
        lambda e: tf.shape(e["source"])[0],
        boundaries,
        [batch_size] * (len(boundaries) + 1),
        padded_shapes={"source": [None], "target": [None], "next": [None]},
    )
    batches = data.map(lambda b: ({"source": b["source"], "target": b["target"]}, b["next"]))
    return batches.prefetch(tf.data.AUTOTUNE)


def records_reader(source, data_format, max_examples):
    """The examples of a source as `pipelines.data.records` stores them (task `seq2seq`)."""
    return [
        {"source": s, "target": t} for s, t, _ in read_examples(source, data_format, max_examples)
    ]
