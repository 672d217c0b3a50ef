"""`python -m pipelines.records convert|info|bench`: sharded TFRecord corpora (the library is
`pipelines.data.records`).

    python -m pipelines.records convert --task sentiment --input "reviews/*.csv.gz" --out recs
    python -m pipelines.records info recs
"""

import os
import sys

import click

from pipelines import cli

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()

# each task registers its reader with pipelines.data.records when imported
import pipelines.lm  # noqa: E402, F401
import pipelines.ner  # noqa: E402, F401
import pipelines.sentiment  # noqa: E402, F401
import pipelines.seq2seq  # noqa: E402, F401
from pipelines.data.records import FIELDS, MANIFEST, convert, is_records, manifest  # noqa: E402
from pipelines.errors import DataError  # noqa: E402


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
