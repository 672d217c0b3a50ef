"""Corpora larger than memory: sharded TFRecord files, written once, streamed by training.

    python -m pipelines.records convert --task sentiment --input "reviews/*.csv.gz" --out recs
    python -m pipelines.records info recs

A records folder holds `records.json` (the task, the fields, how many examples, the sources
with their sha256) and `part-NNNNN-of-MMMMM.tfrecord.gz` shards (GZIP-compressed
`tf.train.Example`s of raw strings, examples dealt round-robin). Any corpus a task's `train`
reads can be converted; each input file is read, converted and released in turn, so memory
holds one input file at a time. The fields per task:

- `ner`: `words`, `tags` (string lists, IOB2);
- `sentiment`: `text`, `label`;
- `lm`: `text` (blocks of 200 lines of the corpus);
- `seq2seq`: `source`, `target`.

`dataset(folder)` streams the examples back (shards interleaved, shuffled with a buffer);
`examples(folder)` iterates over them in Python (one pass, for vocabularies). Every task's
`train --train FOLDER` streams from records instead of loading its corpus. The command line
is `pipelines.records` (`python -m pipelines.records`).
"""

import glob
import json
import os

from pipelines.errors import BadSetting, DataError

MANIFEST = "records.json"
LM_BLOCK = 200  # lines of text per `lm` example
FIELDS = {
    "ner": {"words": "list", "tags": "list"},
    "sentiment": {"text": "scalar", "label": "scalar"},
    "lm": {"text": "scalar"},
    "seq2seq": {"source": "scalar", "target": "scalar"},
}


def is_records(source):
    """Whether `source` is a records folder (it holds `records.json`)."""
    return os.path.isfile(os.path.join(str(source), MANIFEST))


def expand(sources):
    """Sources with glob patterns (`*`, `?`, `[...]`) replaced by the files they match, sorted;
    a pattern that matches nothing is bad input."""
    expanded = []
    for source in sources:
        source = str(source)
        if any(ch in source for ch in "*?[") and not source.startswith("tfds:"):
            matches = sorted(glob.glob(source))
            if not matches:
                raise DataError(source, "no files match this pattern")
            expanded.extend(matches)
        else:
            expanded.append(source)
    return expanded


def streamed_sources(sources, task):
    """The records folders among a `train`'s sources (all of them, of `task`), or [] when the
    sources are files; a mix is bad input."""
    folders = [s for s in sources if is_records(s)]
    if folders and len(folders) < len(sources):
        raise BadSetting("--train", "give either records folders or files")
    for folder in folders:
        kind = manifest(folder)["task"]
        if kind != task:
            raise DataError(folder, f"records of the {kind} task, not {task}")
    return folders


def manifest(folder):
    with open(os.path.join(str(folder), MANIFEST), encoding="utf-8") as handle:
        return json.load(handle)


READERS = {}  # task -> read(source, data_format, max_examples): the examples as dicts


def register(task, read):
    """A task's reader for `convert`: `read(source, data_format, max_examples)` returns the
    examples of one source as dicts of strings (lists of strings for `list` fields). Each task
    package registers its own when imported."""
    READERS[task] = read


def _read(task, source, data_format, max_examples):
    if task not in READERS:
        raise ValueError(f"no reader for the {task} task: import pipelines.{task} first")
    return READERS[task](source, data_format, max_examples)


def _example(record, fields):
    import tensorflow as tf

    feature = {}
    for name, kind in fields.items():
        values = record[name] if kind == "list" else [record[name]]
        feature[name] = tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[v.encode("utf-8") for v in values])
        )
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def convert(task, sources, out, shards=8, data_format=None, max_examples=None, log=None):
    """Writes the examples of `sources` (files, globs, `tfds:` names) as a records folder."""
    import tensorflow as tf

    from pipelines.card import describe_source
    from pipelines.io import write_atomically

    if task not in FIELDS:
        raise ValueError(f"task must be one of {sorted(FIELDS)}, got {task!r}")
    sources = expand(sources)
    fields = FIELDS[task]

    def write(tmp):
        os.makedirs(tmp)
        names = [f"part-{i:05d}-of-{shards:05d}.tfrecord.gz" for i in range(shards)]
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        writers = [tf.io.TFRecordWriter(os.path.join(tmp, n), options) for n in names]
        count = 0
        try:
            for source in sources:
                for record in _read(task, source, data_format, max_examples):
                    writers[count % shards].write(_example(record, fields))
                    count += 1
                if log:
                    log(f"{source}: {count:,} examples so far")
        finally:
            for writer in writers:
                writer.close()
        if not count:
            raise DataError(sources[0], "no examples")
        info = {
            "task": task,
            "fields": fields,
            "examples": count,
            "shards": names,
            "compression": "GZIP",
            "sources": [describe_source(s) for s in sources],
        }
        with open(os.path.join(tmp, MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(info, handle, indent=2, ensure_ascii=False)
            handle.write("\n")

    write_atomically(out, write)
    return manifest(out)


def _parse(fields):
    import tensorflow as tf

    spec = {
        name: tf.io.VarLenFeature(tf.string)
        if kind == "list"
        else tf.io.FixedLenFeature([], tf.string)
        for name, kind in fields.items()
    }

    def parse(serialized):
        parsed = tf.io.parse_single_example(serialized, spec)
        return {
            name: tf.sparse.to_dense(value, default_value="")
            if isinstance(value, tf.sparse.SparseTensor)
            else value
            for name, value in parsed.items()
        }

    return parse


def dataset(folders, shuffle=True, seed=0, buffer=10_000):
    """A `tf.data.Dataset` of the examples of one records folder or several (of one task):
    dicts of string tensors, the shards read in an interleaved, seeded order and the examples
    shuffled with a `buffer`-sized window, so that a corpus of any size streams in bounded
    memory."""
    import tensorflow as tf

    folders = [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)
    infos = [manifest(folder) for folder in folders]
    info = infos[0]
    for folder, other in zip(folders, infos):
        if other["task"] != info["task"]:
            raise DataError(folder, f"records of task {other['task']}, not {info['task']}")
    paths = [
        os.path.join(str(folder), name)
        for folder, other in zip(folders, infos)
        for name in other["shards"]
    ]
    files = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    records = files.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=info["compression"]),
        cycle_length=min(4, len(paths)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shuffle:
        records = records.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    return records.map(_parse(info["fields"]), num_parallel_calls=tf.data.AUTOTUNE)


def examples(folders, limit=None):
    """The examples of one records folder or several in Python, one pass in file order: dicts
    of `str` (lists of `str` for list fields). For streaming statistics such as vocabularies."""
    return iter(Stream(folders, limit))


class Stream:
    """A task's training data held as records folders: iterating reads them afresh every time
    (vocabularies and statistics in constant memory), `dataset` streams them to training. A
    task subclasses it to give its own view of an example (`item`)."""

    def __init__(self, folders, limit=None):
        self.folders, self.limit = folders, limit

    def item(self, example):
        """What iterating yields for one example (a dict of `str` / lists of `str`)."""
        return example

    def dataset(self, shuffle=True, seed=0):
        """`dataset(self.folders)`, cut to the first `limit` examples."""
        data = dataset(self.folders, shuffle=shuffle, seed=seed)
        return data.take(self.limit) if self.limit else data

    def iterate(self, shuffle=False, seed=0):
        for record in self.dataset(shuffle, seed).as_numpy_iterator():
            yield self.item(
                {
                    name: [v.decode("utf-8") for v in value]
                    if getattr(value, "ndim", 0)
                    else value.decode("utf-8")
                    for name, value in record.items()
                }
            )

    def __iter__(self):
        return self.iterate()
