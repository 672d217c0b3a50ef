"""`python -m pipelines.seq2seq train|evaluate|predict|export|rerank|ensemble|dates`: the
command line over `pipelines.seq2seq` (each command builds the settings, calls the library,
prints)."""

import os
import sys

import click

from pipelines import cli

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()

from pipelines import seq2seq  # noqa: E402
from pipelines.io import model_folder  # noqa: E402
from pipelines.seq2seq.data import LEVELS, read_examples  # noqa: E402

Settings = seq2seq.Seq2SeqSettings
beam_option = click.option(
    "--beam",
    default=None,
    type=click.IntRange(1),
    help="Beam width (1: greedy decoding); default: the model's own (seq2seq.json), else 1. "
    "With reranking (`rerank`), the number of candidates reranked (at least 2).",
)
network_only_option = click.option(
    "--network-only",
    is_flag=True,
    help="Decode with the network alone: no lexicon lookup and no reranking (for a model "
    "folder made by `rerank`).",
)


@click.group()
def main():
    """Sequence to sequence with attention: G2P, dates, any string-to-string pairs."""
    cli.quiet_tensorflow()


@main.command()
@cli.train_options(Settings)
@cli.setting(Settings, "--source-level", type=click.Choice(LEVELS), help="Default: char.")
@cli.setting(
    Settings,
    "--target-level",
    type=click.Choice(LEVELS),
    help="Default: space for cmudict, else char.",
)
@cli.setting(Settings, "--max-vocab", type=click.IntRange(5), help="Per side.")
@cli.setting(Settings, "--units", type=click.IntRange(1))
@cli.setting(Settings, "--embedding-dim", type=click.IntRange(1))
@cli.setting(Settings, "--encoder-depth", type=click.IntRange(1))
@cli.setting(Settings, "--decoder-depth", type=click.IntRange(1))
@cli.setting(Settings, "--attention", type=click.Choice(["additive", "multiplicative"]))
@cli.setting(Settings, "--rnn", type=click.Choice(["lstm", "gru"]))
@cli.setting(Settings, "--unidirectional", is_flag=True, help="Read the input forwards only.")
@cli.setting(
    Settings,
    "--input-feeding",
    is_flag=True,
    help="Feed the previous attentional state to the decoder with the previous token (Luong).",
)
@cli.setting(
    Settings,
    "--beam",
    type=click.IntRange(1),
    help="The model's decoding default, kept in seq2seq.json (dev evaluation during training "
    "stays greedy).",
)
@cli.setting(Settings, "--dropout", type=click.FloatRange(0, 1, max_open=True))
@cli.setting(
    Settings,
    "--label-smoothing",
    type=click.FloatRange(0, 1, max_open=True),
    help="Spread this share of each target over the vocabulary in the loss (default 0; with "
    "--init the model's own unless given).",
)
@cli.setting(
    Settings,
    "--reverse-targets",
    is_flag=True,
    help="Write each target right to left (outputs still read left to right): a second "
    "opinion for `rerank --rescorer`.",
)
@cli.reports_bad_input
def train(train_sources, dev_source, out, **settings):
    """Trains an encoder-decoder (or continues one with --init) and writes it to --out."""
    cli.train(seq2seq.train, "seq2seq", train_sources, dev_source, out, settings)


@main.command()
@cli.model_option(seq2seq.DEFAULT_MODEL)
@click.option("--data", required=True, help="A pair file or a CMUdict-format file.")
@click.option("--format", "data_format", default=None, help="pairs or cmudict.")
@beam_option
@network_only_option
@cli.max_examples_option
@cli.json_option
@cli.reports_bad_input
def evaluate(model, data, data_format, beam, network_only, max_examples, as_json):
    """WER, PER, exact match (and BLEU for word targets) on a labelled file."""
    loaded = seq2seq.load(model)
    metrics = loaded.evaluate(data, data_format, beam, network_only, max_examples)
    cli.print_metrics(metrics, as_json)


@main.command()
@cli.model_option(seq2seq.DEFAULT_MODEL)
@click.argument("texts", nargs=-1)
@click.option("--input", "input_path", type=click.Path(dir_okay=False), help="One input per line.")
@beam_option
@network_only_option
@click.option(
    "--plot-attention",
    type=click.Path(dir_okay=False),
    help="Draw the attention weights of the first input as a heatmap (PNG).",
)
@click.option(
    "--all",
    "alternates",
    is_flag=True,
    help="Also give every target the model's lexicon lists for an input, or makes for an "
    "inflection of a listed word (its alternates).",
)
@cli.json_option
@cli.reports_bad_input
def predict(model, texts, input_path, beam, network_only, plot_attention, alternates, as_json):
    """The output for each input, with its mean log-probability per token."""
    from pipelines.seq2seq.decoding import plot_attention as draw

    loaded = seq2seq.load(model)
    records = loaded.predict(cli.texts_from(texts, input_path), beam, network_only, alternates)
    for record in records:
        if as_json:
            cli.print_json(record)
            continue
        flag = "\tnot a calendar date" if record.get("valid") is False else ""
        click.echo(f"{record['input']}\t{record['output']}\t{record['score']:.4f}{flag}")
        for other in record.get("alternates", [])[1:]:
            click.echo(f"{record['input']}\t{other}\t(alternate)")
    if plot_attention and records:
        draw(
            loaded.model,
            loaded.preprocessor,
            records[0]["input"],
            records[0]["output"],
            plot_attention,
        )
        click.echo(f"attention weights drawn in {plot_attention}", err=True)


@main.command()
@click.option("--model", required=True, help="A trained model folder (or shipped name).")
@click.option(
    "--lexicon",
    "lexicon_sources",
    multiple=True,
    help="The pairs or dictionary the model was trained on (repeatable): looked up, and the "
    "analogy features.",
)
@click.option("--dev", "dev_source", required=True, help="Where the weights are tuned.")
@click.option("--rescorer", default=None, help="A second model of the task (--reverse-targets).")
@click.option("--format", "data_format", default=None, help="pairs or cmudict.")
@click.option(
    "--beam", default=4, show_default=True, type=click.IntRange(2), help="Candidates reranked."
)
@click.option("--neighbours", default=4, show_default=True, type=click.IntRange(1))
@click.option(
    "--graphone-order",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Also rerank with a joint-sequence (graphone) n-gram model of the lexicon of this "
    "order (6 for a pronouncing dictionary; 0: none). Aligning the lexicon takes minutes "
    "for CMUdict.",
)
@click.option(
    "--inflect",
    "suffixes",
    multiple=True,
    help="Answer an unlisted input that is a lexicon source plus this suffix from the "
    "lexicon, changed as the lexicon's own pairs of that kind change it (repeatable; "
    'CMUdict: --inflect s --inflect "\'s" --inflect "s\'" --inflect "\'").',
)
@click.option(
    "--uninflect",
    "bases",
    multiple=True,
    help="Answer an unlisted input that plus this suffix is a lexicon source the same way "
    '(repeatable; CMUdict: --uninflect "\'s" --uninflect s).',
)
@click.option(
    "--bags",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Tune the weights on this many bootstrap resamples of --dev and keep their mean "
    "(steadier on new inputs than one tuning; 20 takes a minute or two for CMUdict's dev).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@cli.reports_bad_input
def rerank(
    model,
    lexicon_sources,
    dev_source,
    rescorer,
    data_format,
    beam,
    neighbours,
    graphone_order,
    suffixes,
    bases,
    bags,
    out,
):
    """Writes --out: the model with a lexicon of its training data (inputs listed there, and
    with --inflect/--uninflect their inflections, are answered from it) and n-best reranking
    (the lexicon's neighbours, a graphone model of it, the rescorer), the weights tuned on --dev
    for exact match; prints what they give there."""
    from pipelines.seq2seq.rerank import build

    lexicon = [e for s in lexicon_sources for e in read_examples(s, data_format)]
    dev = read_examples(dev_source, data_format)
    folder = model_folder(model)
    second = model_folder(rescorer) if rescorer else None
    if not lexicon and not second:
        raise click.UsageError("give --lexicon, --rescorer or both")
    if graphone_order and not lexicon:
        raise click.UsageError("--graphone-order needs --lexicon")
    if (suffixes or bases) and not lexicon:
        raise click.UsageError("--inflect and --uninflect need --lexicon")
    if any(not s.strip() or s != s.strip() for s in suffixes + bases):
        raise click.UsageError("--inflect and --uninflect take suffixes without spaces")
    log = lambda line: click.echo(line, err=True)  # noqa: E731
    inflections = {"suffixes": list(suffixes), "bases": list(bases)}
    report = build(
        folder,
        out,
        lexicon,
        dev,
        second,
        beam,
        neighbours,
        graphone_order,
        log,
        inflections,
        bags,
    )
    cli.print_json(report)


cli.add_ensemble(
    main,
    seq2seq.make_ensemble,
    "pipelines.seq2seq",
    "model",
    "Writes --out: one network made of the networks of --model and the --with models (the same "
    "vocabularies), which decodes with the mean of their next-token distributions. It has no "
    "lexicon or reranking: `rerank --model OUT` adds them.",
)

cli.add_export(
    main,
    seq2seq.load,
    seq2seq.DEFAULT_MODEL,
    "Writes a SavedModel whose serving_default maps raw strings to output strings.",
)


@main.command()
@click.option("--num", default=40_000, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--first-year", default=1000, show_default=True, type=click.IntRange(1, 9999))
@click.option("--last-year", default=2999, show_default=True, type=click.IntRange(1, 9999))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="A pair file.")
@cli.reports_bad_input
def dates(num, seed, first_year, last_year, out):
    """Writes the course's date task: human-readable dates and their ISO form, one pair a line."""
    from pipelines.seq2seq.dates import date_pairs

    tmp = f"{out}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        pairs = date_pairs(num, seed, min(first_year, last_year), max(first_year, last_year))
        handle.writelines(f"{human}\t{iso}\n" for human, iso in pairs)
    os.replace(tmp, out)
    click.echo(f"{num:,} pairs written to {out}", err=True)


if __name__ == "__main__":
    sys.exit(cli.run(main))
