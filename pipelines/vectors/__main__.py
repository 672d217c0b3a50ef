"""`python -m pipelines.vectors train`: word vectors from unlabeled text (the library is
`pipelines.vectors`)."""

import sys

import click

from pipelines.cli import quiet_tensorflow, reports_bad_input, run

if __name__ == "__main__":  # before TensorFlow is imported
    quiet_tensorflow()

from pipelines.vectors import save_vectors, train_word_vectors  # noqa: E402


@click.group()
def cli():
    """Word vectors (skip-gram with negative sampling) from unlabeled text."""
    quiet_tensorflow()


@cli.command()
@click.option(
    "--train", "sources", multiple=True, required=True, help="Text or CoNLL file (repeat)."
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output vectors file.")
@click.option("--dim", default=100, show_default=True, type=click.IntRange(1))
@click.option("--window", default=5, show_default=True, type=click.IntRange(1))
@click.option("--negatives", default=5, show_default=True, type=click.IntRange(1))
@click.option("--min-count", default=3, show_default=True, type=click.IntRange(1))
@click.option("--max-size", default=None, type=click.IntRange(2))
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--lowercase", is_flag=True, help="Lower-case every token.")
@reports_bad_input
def train(sources, out, dim, window, negatives, min_count, max_size, epochs, seed, lowercase):
    """Learns vectors from plain text (one sentence or paragraph a line) or CoNLL files."""
    from pipelines.data.corpus import read_token_lines
    from pipelines.text import normalize_word

    sentences = []
    for source in sources:
        for tokens in read_token_lines(source):
            tokens = [normalize_word(t) for t in tokens]
            sentences.append([t.lower() for t in tokens] if lowercase else tokens)
    click.echo(f"{len(sentences):,} lines, {sum(map(len, sentences)):,} tokens", err=True)
    words, vectors = train_word_vectors(
        sentences,
        dim,
        window,
        negatives,
        min_count,
        max_size,
        epochs,
        seed=seed,
        log=lambda message: click.echo(message, err=True),
    )
    save_vectors(out, words, vectors)
    click.echo(f"{len(words):,} vectors of {dim} written to {out}", err=True)


if __name__ == "__main__":
    sys.exit(run(cli))
