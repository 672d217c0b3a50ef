"""`python -m pipelines.ner train|evaluate|predict|export|ensemble`: the command line over
`pipelines.ner` (each command builds the settings, calls the library, prints)."""

import sys

import click

from pipelines import cli

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()

from pipelines import ner  # noqa: E402
from pipelines.ner.inference import marked  # noqa: E402

Settings = ner.NERSettings
SCHEMES = ["auto", "iob1", "iob2", "bioes"]


def consistency_option(command):
    return click.option(
        "--consistency/--no-consistency",
        default=True,
        show_default=True,
        help="Document-level label consistency: one entity string, one type, in each document "
        "(a text of predict; a -DOCSTART- document of a CoNLL file, else each sentence).",
    )(command)


@click.group()
def main():
    """Named entity recognition: a BiLSTM-CRF tagger over words and characters."""
    cli.quiet_tensorflow()


@main.command()
@cli.train_options(Settings)
@cli.setting(
    Settings,
    "--vectors",
    type=click.Path(dir_okay=False),
    help="Word vectors (word2vec/GloVe text) to start the word embeddings from.",
)
@cli.setting(
    Settings,
    "--min-count",
    type=click.IntRange(1),
    help="Keep training words seen at least this often (words with vectors are always kept).",
)
@cli.setting(Settings, "--units", type=click.IntRange(1), help="RNN units each way.")
@cli.setting(Settings, "--rnn", type=click.Choice(["lstm", "gru"]))
@cli.setting(Settings, "--head", type=click.Choice(["crf", "softmax"]))
@cli.setting(Settings, "--char-encoder", type=click.Choice(["lstm", "cnn"]))
@cli.setting(
    Settings,
    "--max-vectors",
    type=click.IntRange(1),
    help="Use the first N words of the vectors file (word2vec files list the most frequent first).",
)
@cli.setting(
    Settings,
    "--word-dropout",
    type=click.FloatRange(0, 1),
    help="Replace words seen once in training by <UNK> with this probability.",
)
@cli.setting(
    Settings,
    "--scheme",
    type=click.Choice(SCHEMES),
    help="Tag scheme of the data files (converted to IOB2).",
)
@cli.setting(
    Settings,
    "--freeze-encoder-epochs",
    type=click.IntRange(0),
    help="With --init: train only the tag head for this many epochs first.",
)
@cli.setting(
    Settings,
    "--char-lm",
    help="Contextual string embeddings from character language models: FORWARD[,BACKWARD] "
    "(shipped names or folders; the backward one trained with `lm train --reverse`).",
)
@cli.setting(
    Settings,
    "--char-lm-context",
    type=click.IntRange(0),
    help="Characters of document context the character language models read before and "
    "after each sentence (the sentences around it in its -DOCSTART- document, or its text "
    f"in predict); 0: each sentence alone.  [default: {ner.CHAR_LM_CONTEXT}; with --init "
    "the model's own]",
)
@cli.setting(
    Settings,
    "--entity-bias",
    help="Lower the O tag's score by this much (more entities found, fewer of them right); "
    "auto: the value of the best F1 on --dev, none without it.",
)
@cli.reports_bad_input
def train(train_sources, dev_source, out, **settings):
    """Trains a tagger (or fine-tunes one with --init) and writes it to --out."""
    cli.train(ner.train, "ner", train_sources, dev_source, out, settings)


@main.command()
@cli.model_option(ner.DEFAULT_MODEL)
@click.option("--data", required=True, help="A CoNLL file or tfds:NAME[:SPLIT].")
@click.option("--format", "data_format", default=None)
@cli.max_examples_option
@click.option(
    "--scheme",
    type=click.Choice(SCHEMES),
    default="auto",
    show_default=True,
    help="Tag scheme of the data file.",
)
@consistency_option
@cli.json_option
@cli.reports_bad_input
def evaluate(model, data, data_format, max_examples, scheme, consistency, as_json):
    """Entity-level precision, recall and F1 (conlleval's counting), overall and per type."""
    metrics = ner.load(model).evaluate(data, data_format, max_examples, scheme, consistency)
    if as_json:
        cli.print_json(metrics)
        return
    click.echo(f"{'type':<8} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}")
    for kind, m in metrics["per_type"].items():
        click.echo(
            f"{kind:<8} {m['precision']:9.4f} {m['recall']:9.4f} {m['f1']:9.4f} {m['support']:8d}"
        )
    click.echo(
        f"{'overall':<8} {metrics['precision']:9.4f} {metrics['recall']:9.4f} {metrics['f1']:9.4f}"
    )


@main.command()
@cli.model_option(ner.DEFAULT_MODEL)
@cli.texts_options
@consistency_option
@cli.json_option
@cli.reports_bad_input
def predict(model, texts, input_path, consistency, as_json):
    """Finds the entities in raw texts (arguments, --input FILE or standard input; each text
    one document)."""
    texts = cli.texts_from(texts, input_path)
    for record in ner.load(model).predict(texts, consistency):
        cli.print_json(record) if as_json else click.echo(marked(record))


cli.add_ensemble(
    main,
    ner.make_ensemble,
    "pipelines.ner",
    "tagger",
    "Writes --out: one tagger made of --model and the --with taggers (the same tags and "
    "language models), which tags with the mean of their scores (a product of experts) in "
    "predict, evaluate and the export.",
)

cli.add_export(
    main,
    ner.load,
    ner.DEFAULT_MODEL,
    "Writes a SavedModel whose serving_default tags raw strings (tensorflow alone runs it).",
)


if __name__ == "__main__":
    sys.exit(cli.run(main))
