"""`python -m pipelines.lm train|evaluate|sample|score|predict|export`: the command line over
`pipelines.lm` (each command builds the settings, calls the library, prints)."""

import sys

import click

from pipelines import cli

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()

from pipelines import lm  # noqa: E402
from pipelines.lm.data import LEVELS  # noqa: E402

Settings = lm.LMSettings
temperature_option = click.option(
    "--temperature", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True)
)


@click.group()
def main():
    """Character and word language models: train, evaluate, sample, score, export."""
    cli.quiet_tensorflow()


@main.command()
@cli.train_options(Settings)
@cli.setting(Settings, "--level", type=click.Choice(LEVELS))
@cli.setting(
    Settings,
    "--max-vocab",
    type=click.IntRange(5),
    help="Keep the most frequent words (characters at char level), specials included; the "
    "rest are <UNK>.",
)
@cli.setting(
    Settings,
    "--bptt",
    type=click.IntRange(2),
    help="Text format: tokens per window of truncated backpropagation through time.",
)
@cli.setting(Settings, "--units", type=click.IntRange(1))
@cli.setting(Settings, "--depth", type=click.IntRange(1))
@cli.setting(Settings, "--embedding-dim", type=click.IntRange(1))
@cli.setting(
    Settings,
    "--dropout",
    type=click.FloatRange(0, 1, max_open=True),
    help="Dropout rate.  [default: 0.2; with --init the model's own]",
)
@cli.setting(
    Settings,
    "--lr-schedule",
    type=click.Choice(["constant", "slanted"]),
    help="slanted: ULMFiT's slanted triangular rates, peaking at --learning-rate "
    "(needs --steps-per-epoch).",
)
@cli.setting(
    Settings,
    "--locked-dropout",
    is_flag=True,
    default=None,
    help="AWD-LSTM: draw the --dropout masks once per sequence, not at every step "
    "(with --init: as the model did, unless given).",
)
@cli.awd_options(Settings)
@cli.setting(Settings, "--rnn", type=click.Choice(["lstm", "gru"]))
@cli.setting(
    Settings,
    "--tie-embeddings",
    is_flag=True,
    help="Score next tokens against the embeddings (cheaper large word vocabularies).",
)
@cli.setting(
    Settings,
    "--lower",
    is_flag=True,
    help="Word level: lower-case words and fold digits, as pipelines.sentiment reads text "
    "(a model to initialise a classifier with `sentiment train --init`).",
)
@cli.setting(
    Settings,
    "--vectors",
    type=click.Path(dir_okay=False),
    help="Word level: word vectors (word2vec text) to start the embeddings from.",
)
@cli.setting(
    Settings,
    "--reverse",
    is_flag=True,
    help="A backward model: read every text from its end (right to left); with --init of a "
    "forward model, a backward one started from its weights.",
)
@cli.setting(
    Settings,
    "--steps-per-epoch",
    type=click.IntRange(1),
    help="Text format: an epoch is this many batches (the text read pass after pass), so that "
    "a long run checkpoints (and --resume continues) within a pass.",
)
@cli.reports_bad_input
def train(train_sources, dev_source, out, **settings):
    """Trains a language model on a corpus and writes it to --out."""
    cli.train(lm.train, "lm", train_sources, dev_source, out, settings)


@main.command()
@cli.model_option(lm.DEFAULT_MODEL)
@click.option("--data", required=True, help="A text file or tfds:tiny_shakespeare[:SPLIT].")
@cli.max_examples_option
@cli.json_option
@cli.reports_bad_input
def evaluate(model, data, max_examples, as_json):
    """nats, bits and perplexity per token over a text."""
    loaded = lm.load(model)
    metrics = loaded.evaluate(data, max_examples)
    if as_json:
        cli.print_json(metrics)
    else:
        level = loaded.preprocessor.level
        click.echo(
            f"{metrics['nats_per_token']:.4f} nats/{level}, "
            f"{metrics['bits_per_token']:.4f} bits/{level}, "
            f"perplexity {metrics['perplexity']:.3f} over {metrics['tokens']:,} {level}s"
        )


@main.command(name="sample")
@cli.model_option(lm.DEFAULT_MODEL)
@click.option("--prompt", default="", help="Text the samples continue.")
@click.option(
    "--length",
    default=200,
    show_default=True,
    type=click.IntRange(1),
    help="At most this many tokens (a sample also ends at <EOS>).",
)
@temperature_option
@click.option("--top-k", default=None, type=click.IntRange(1))
@click.option("--num", default=1, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@cli.reports_bad_input
def sample_command(model, prompt, length, temperature, top_k, num, seed):
    """Samples novel sequences, one per line."""
    for text in lm.load(model).sample(num, seed, temperature, prompt, length, top_k):
        click.echo(text)


@main.command()
@cli.model_option(lm.DEFAULT_MODEL)
@cli.texts_options
@cli.json_option
@cli.reports_bad_input
def score(model, texts, input_path, as_json):
    """The log-probability (natural log) of each text, in total and per token."""
    for record in lm.load(model).score(cli.texts_from(texts, input_path)):
        if as_json:
            cli.print_json(record)
        else:
            click.echo(
                f"{record['log_prob']:.4f}\t{record['log_prob_per_token']:.4f}\t{record['text']}"
            )


@main.command()
@cli.model_option(lm.DEFAULT_MODEL)
@cli.texts_options
@click.option("--length", default=100, show_default=True, type=click.IntRange(1))
@temperature_option
@click.option("--seed", default=0, show_default=True, type=int)
@cli.json_option
@cli.reports_bad_input
def predict(model, texts, input_path, length, temperature, seed, as_json):
    """Continues each text with a sample (the verb every task has; `sample` does more)."""
    loaded = lm.load(model)
    texts = cli.texts_from(texts, input_path)
    for record in loaded.predict(texts, length, temperature, seed):
        if as_json:
            cli.print_json(record)
        else:
            click.echo(loaded.preprocessor.attach(record["text"], record["continuation"]))


cli.add_export(
    main,
    lm.load,
    lm.DEFAULT_MODEL,
    "Writes a SavedModel: serving_default scores raw strings, generate samples in the graph.",
)


if __name__ == "__main__":
    sys.exit(cli.run(main))
