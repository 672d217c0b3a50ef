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
`train --train FOLDER` streams from records instead of loading its corpus.
"""

import glob
import json
import os
import sys

import click

from pipelines import cli
from pipelines.errors import DataError

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()

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
        raise click.BadParameter("give either records folders or files", param_hint="--train")
    for folder in folders:
        kind = manifest(folder)["task"]
        if kind != task:
            raise DataError(folder, f"records of the {kind} task, not {task}")
    return folders


def manifest(folder):
    with open(os.path.join(str(folder), MANIFEST), encoding="utf-8") as handle:
        return json.load(handle)


def _read(task, source, data_format, max_examples):
    """The examples of one source as dicts of strings (lists of strings for `list` fields)."""
    if task == "ner":
        from pipelines.ner import read_tagged

        return [
            {"words": list(words), "tags": list(tags)}
            for words, tags in read_tagged(source, max_examples, data_format)
        ]
    if task == "sentiment":
        from pipelines.sentiment import read_labelled

        return [
            {"text": text, "label": label} for text, label, _ in read_labelled(source, max_examples)
        ]
    if task == "lm":
        from pipelines.lm import read_corpus

        lines = read_corpus(source, data_format or "text", max_examples).splitlines(True)
        # blocks of lines, so that a text read back for truncated backpropagation through
        # time keeps long stretches in their order
        return [{"text": "".join(lines[i : i + LM_BLOCK])} for i in range(0, len(lines), LM_BLOCK)]
    from pipelines.seq2seq import read_examples

    return [
        {"source": s, "target": t} for s, t, _ in read_examples(source, data_format, max_examples)
    ]


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
    from pipelines.training import write_atomically

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


# === Command line ===


@click.group()
def main():
    """Sharded TFRecord corpora: convert once, stream in training."""
    cli.quiet_tensorflow()


@main.command("convert")
@click.option("--task", required=True, type=click.Choice(sorted(FIELDS)))
@click.option(
    "--input",
    "inputs",
    multiple=True,
    required=True,
    help="A corpus file, glob pattern or tfds:NAME (repeatable).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Records folder.")
@click.option("--shards", default=8, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--format", "data_format", default=None, help="Data format, if not from the extension."
)
@cli.max_examples_option
@cli.reports_bad_input
def convert_command(task, inputs, out, shards, data_format, max_examples):
    """Converts a task's corpus into a sharded TFRecord folder."""
    log = lambda message: click.echo(message, err=True)  # noqa: E731
    info = convert(task, inputs, out, shards, data_format, max_examples, log)
    cli.print_json({"out": out, "task": task, "examples": info["examples"], "shards": shards})


@main.command("info")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@cli.reports_bad_input
def info_command(folder):
    """Prints a records folder's manifest."""
    if not is_records(folder):
        raise DataError(folder, f"not a records folder (no {MANIFEST})")
    cli.print_json(manifest(folder))


def _synthetic_reviews(path, count, seed):
    """A CSV of `count` made-up reviews (a polar word among filler words) for benchmarks."""
    import random

    rng = random.Random(seed)
    good, bad = ["great", "superb", "moving", "wonderful"], ["awful", "dull", "boring", "weak"]
    filler = [f"w{i}" for i in range(3000)]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("text,label\n")
        for _ in range(count):
            positive = rng.random() < 0.5
            words = rng.choices(filler, k=rng.randint(20, 120))
            words.insert(rng.randrange(len(words)), rng.choice(good if positive else bad))
            handle.write(f"{' '.join(words)},{int(positive)}\n")


def _peak_rss(command):
    """Runs `command` in a child process; (exit status, its peak resident memory in MiB)."""
    import subprocess

    probe = (
        "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, check=False
    )
    code, kib = run.stdout.strip().splitlines()[-1].split()
    if int(code):
        raise RuntimeError(f"{' '.join(command)} failed:\n{run.stderr[-2000:]}")
    return int(kib) / 1024


@main.command("bench")
@click.option("--examples", default=20_000, show_default=True, type=click.IntRange(100))
@click.option("--scale", default=10, show_default=True, type=click.IntRange(2))
@click.option("--workdir", default=None, type=click.Path(file_okay=False))
def bench_command(examples, scale, workdir):
    """Peak memory of sentiment training on a synthetic corpus and on one `--scale` times
    larger: streamed from records (flat) and read into memory (growing)."""
    import shutil
    import tempfile

    folder = workdir or tempfile.mkdtemp(prefix="zoo-records-bench-")
    os.makedirs(folder, exist_ok=True)
    train = [sys.executable, "-m", "pipelines.sentiment", "train", "--epochs", "1"]
    train += ["--units", "8", "--embedding-dim", "16", "--max-vocab", "5000", "--dev-fraction", "0"]
    try:
        for size in (1, scale):
            files = []
            for part in range(size):  # the corpus in files of `examples` each
                files.append(os.path.join(folder, f"reviews-{size}x-{part:03d}.csv"))
                _synthetic_reviews(files[-1], examples, seed=part)
            out = os.path.join(folder, f"records-{size}x")
            convert_mib = _peak_rss(
                [sys.executable, "-m", "pipelines.records", "convert", "--task", "sentiment"]
                + [a for f in files for a in ("--input", f)]
                + ["--out", out]
            )
            streamed = _peak_rss([*train, "--train", out, "--out", os.path.join(folder, "m1")])
            loaded = _peak_rss(
                [*train, *[a for f in files for a in ("--train", f)]]
                + ["--out", os.path.join(folder, "m2")]
            )
            cli.print_json(
                {
                    "examples": examples * size,
                    "convert_peak_mib": round(convert_mib),
                    "train_streamed_peak_mib": round(streamed),
                    "train_in_memory_peak_mib": round(loaded),
                }
            )
    finally:
        if not workdir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(cli.run(main))
