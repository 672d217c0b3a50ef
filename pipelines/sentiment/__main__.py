"""`python -m pipelines.sentiment train|evaluate|predict|ensemble|export`: the command line over
`pipelines.sentiment` (each command builds the settings, calls the library, prints)."""

import sys

import click

from pipelines import cli

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()

from pipelines import sentiment  # noqa: E402
from pipelines.sentiment.preprocess import TRUNCATIONS  # noqa: E402

Settings = sentiment.SentimentSettings
POOLINGS = ["last", "max", "mean", "max_mean", "last_max_mean", "attention"]


def with_columns(command):
    command = click.option("--label-column", help="Name of the label column (CSV/TSV).")(command)
    return click.option("--text-column", help="Name of the text column (CSV/TSV).")(command)


@click.group()
def main():
    """Sentiment (any text classification): a (bi)directional zoo RNN with pooling."""
    cli.quiet_tensorflow()


@main.command()
@cli.train_options(Settings)
@with_columns
@cli.setting(
    Settings, "--vectors", type=click.Path(dir_okay=False), help="Word vectors to start from."
)
@cli.setting(Settings, "--max-vocab", type=click.IntRange(5))
@cli.setting(Settings, "--min-count", type=click.IntRange(1))
@cli.setting(
    Settings,
    "--max-tokens",
    type=click.IntRange(1),
    help="Longer texts are truncated to this many tokens (not with --truncate none).",
)
@cli.setting(
    Settings,
    "--truncate",
    type=click.Choice(TRUNCATIONS),
    help="Which tokens of a long text are kept; none: the whole text, however long.",
)
@cli.setting(
    Settings,
    "--dev-fraction",
    type=click.FloatRange(0, 0.5),
    help="Without --dev: hold out this share of the training data for early stopping.",
)
@cli.setting(Settings, "--units", type=click.IntRange(1))
@cli.setting(Settings, "--depth", type=click.IntRange(1))
@cli.setting(Settings, "--embedding-dim", type=click.IntRange(1))
@cli.setting(Settings, "--pooling", type=click.Choice(POOLINGS))
@cli.setting(Settings, "--rnn", type=click.Choice(["lstm", "gru"]))
@cli.setting(Settings, "--unidirectional", is_flag=True, help="Read the text forwards only.")
@cli.setting(Settings, "--dropout", type=click.FloatRange(0, 1, max_open=True))
@cli.awd_options(Settings)
@cli.setting(
    Settings,
    "--label-names",
    help="Names for the labels as the data writes them, e.g. '0=negative,1=positive'.",
)
@cli.setting(
    Settings,
    "--discriminative",
    type=click.FloatRange(1),
    help="With --init: each level down (head, recurrent layers, embeddings) learns this many "
    "times slower than the one above.",
)
@cli.setting(
    Settings,
    "--unfreeze",
    type=click.Choice(["gradual", "all"]),
    help="With --init: 'gradual' trains only the head in epoch 1, one more level each epoch "
    "after; 'all' trains everything from the start.",
)
@cli.reports_bad_input
def train(train_sources, dev_source, out, **settings):
    """Trains a classifier (or fine-tunes one, or starts one from a word language model, with
    --init) and writes it to --out."""
    cli.train(sentiment.train, "sentiment", train_sources, dev_source, out, settings)


@main.command()
@cli.model_option(sentiment.DEFAULT_MODEL)
@click.option("--data", required=True, help="CSV/TSV file, aclImdb-style folder or tfds:NAME.")
@with_columns
@cli.max_examples_option
@cli.json_option
@cli.reports_bad_input
def evaluate(model, data, text_column, label_column, max_examples, as_json):
    """Accuracy (and macro F1 for more than two classes)."""
    metrics = sentiment.load(model).evaluate(data, text_column, label_column, max_examples)
    cli.print_metrics(metrics, as_json)


@main.command()
@cli.model_option(sentiment.DEFAULT_MODEL)
@cli.texts_options
@cli.json_option
@cli.reports_bad_input
def predict(model, texts, input_path, as_json):
    """The label of each text, with the probability of every label."""
    classifier = sentiment.load(model)
    for record in classifier.predict(cli.texts_from(texts, input_path)):
        if as_json:
            cli.print_json(record)
        else:
            p = record["probabilities"][record["label"]]
            click.echo(f"{record['label']}\t{p:.4f}\t{record['text']}")


@main.command()
@click.option("--model", required=True, help="The classifier (a shipped name or a folder).")
@click.option(
    "--with",
    "members",
    multiple=True,
    required=True,
    help="Another classifier with the same labels, averaged with --model (repeat for more).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@cli.reports_bad_input
def ensemble(model, members, out):
    """Writes --out: --model's classifier that averages its class probabilities with those of
    the --with classifiers (ULMFiT's forward and backward classifiers), in predict, evaluate
    and the export. The folder names the others rather than holding a copy."""
    sentiment.make_ensemble(model, members, out)
    click.echo(f"ensemble written to {out}", err=True)


cli.add_export(
    main,
    sentiment.load,
    sentiment.DEFAULT_MODEL,
    "Writes a SavedModel whose serving_default maps raw strings to probabilities and labels.",
)


if __name__ == "__main__":
    sys.exit(cli.run(main))
