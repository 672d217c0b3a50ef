"""Sentiment classification end to end: `python -m pipelines.sentiment` train, evaluate,
predict and export.

    python -m pipelines.sentiment predict "A gripping, beautifully acted film."
    python -m pipelines.sentiment evaluate --data ../shared/data/sst2/dev.tsv --json
    python -m pipelines.sentiment train --train train.tsv --dev dev.tsv --out my-classifier

Data: CSV or TSV files with a header (`.gz` allowed; text and label columns found by name or
given with `--text-column`/`--label-column`), a folder laid out like `aclImdb/train` (one
sub-folder per label, `pos/` and `neg/`, one text file per example), or `tfds:imdb_reviews`,
`tfds:glue/sst2`. Labels are strings; any number of classes. Texts are lower-cased and split
into words; a text longer than `--max-tokens` keeps its first and last halves (`--truncate
head+tail`, the default; `head` or `tail` keep one end), since reviews state their verdict at
either end. A model folder holds `model.keras` (a `zoo.models.SentimentClassifier`), `words.txt`,
`labels.txt` and `text.json` (how texts become tokens).
"""

import json
import os
import sys

import click
import numpy as np

from pipelines import cli, records

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()
from pipelines.errors import DataError
from pipelines.lm import split_text

DEFAULT_MODEL = "sentiment-sst2"
TRUNCATIONS = ("head+tail", "head", "tail")


# === Data ===


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


class TextEncoder:
    """Texts to token ids: `word_tokenize` words, lower-cased with digits folded to 0 (unless
    `lower` is false: a classifier made from a cased word language model reads as it did),
    truncated to `max_tokens`."""

    def __init__(
        self, words, labels, max_tokens=400, truncate="head+tail", lower=True, aliases=None
    ):
        self.words, self.labels = words, labels
        self.max_tokens, self.truncate, self.lower = max_tokens, truncate, lower
        self.aliases = dict(aliases or {})  # a label as data files write it -> its name

    def label(self, raw):
        """The model's name for a label read from data (`--label-names` renames `0` ...)."""
        return self.aliases.get(raw, raw)

    def tokens(self, text):
        from pipelines.lm import split_text

        return split_text(text, "word", self.lower)

    def cut(self, tokens):
        n = self.max_tokens
        if len(tokens) <= n:
            return tokens
        if self.truncate == "head":
            return tokens[:n]
        if self.truncate == "tail":
            return tokens[-n:]
        return tokens[: n - n // 2] + tokens[len(tokens) - n // 2 :]

    def encode(self, text):
        ids = self.words.encode(self.cut(self.tokens(text))) or [self.words.unk_id]
        return np.asarray(ids, "int32")

    def save(self, folder):
        self.words.save(os.path.join(folder, "words.txt"))
        self.labels.save(os.path.join(folder, "labels.txt"))
        with open(os.path.join(folder, "text.json"), "w", encoding="utf-8") as handle:
            settings = {"max_tokens": self.max_tokens, "truncate": self.truncate}
            json.dump({**settings, "lower": self.lower, "aliases": self.aliases}, handle)

    @classmethod
    def load(cls, folder):
        from pipelines.text import Vocabulary

        with open(os.path.join(folder, "text.json"), encoding="utf-8") as handle:
            settings = json.load(handle)
        return cls(
            Vocabulary.load(os.path.join(folder, "words.txt")),
            Vocabulary.load(os.path.join(folder, "labels.txt"), specials=()),
            **settings,
        )


def label_ids(encoder, rows, source):
    """Label strings to ids; a label the model does not know is bad input (naming the line)."""
    ids = []
    for _, raw, line in rows:
        label = encoder.label(raw)
        if label not in encoder.labels:
            known = ", ".join(encoder.labels.tokens)
            raise DataError(source, f"label {raw!r} unseen in training (known: {known})", line)
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
    graph exactly as `TextEncoder.encode` does (`pipelines.export.graph_classifier_ids`),
    bucketed by length; memory stays bounded whatever the corpus size."""
    import tensorflow as tf

    from pipelines.export import graph_classifier_ids

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


# === Prediction and metrics ===


def probabilities(model, encoder, texts, batch_size=128):
    """Class probabilities (len(texts), classes), batches of similar lengths."""
    import tensorflow as tf

    encoded = [encoder.encode(t) for t in texts]
    out = np.zeros((len(texts), len(encoder.labels)), "float32")
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    run = tf.function(lambda x: tf.nn.softmax(model(x, training=False)), reduce_retracing=True)
    for lo in range(0, len(order), batch_size):
        chunk = order[lo : lo + batch_size]
        x = np.zeros((len(chunk), max(len(encoded[i]) for i in chunk)), "int32")
        for row, i in enumerate(chunk):
            x[row, : len(encoded[i])] = encoded[i]
        out[chunk] = run(tf.constant(x)).numpy()
    return out


def classification_metrics(gold, predicted, num_classes):
    """Accuracy, and macro-averaged F1 when there are more than two classes."""
    gold, predicted = np.asarray(gold), np.asarray(predicted)
    metrics = {"accuracy": float((gold == predicted).mean()), "examples": int(gold.size)}
    if num_classes > 2:
        f1s = []
        for c in range(num_classes):
            tp = np.sum((predicted == c) & (gold == c))
            fp, fn = np.sum((predicted == c) & (gold != c)), np.sum((predicted != c) & (gold == c))
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        metrics["macro_f1"] = float(np.mean(f1s))
    return metrics


def parse_label_names(value):
    """`--label-names '0=negative,1=positive'` -> {"0": "negative", "1": "positive"}."""
    if not value:
        return {}
    aliases = {}
    for item in value.split(","):
        raw, sep, name = item.partition("=")
        if not sep or not raw.strip() or not name.strip():
            raise click.BadParameter(
                f"expected LABEL=NAME pairs separated by commas, got {item!r}",
                param_hint="--label-names",
            )
        aliases[raw.strip()] = name.strip()
    return aliases


def start_from(init_model, labels, aliases, max_tokens, truncate, pooling, dropout, log):
    """`train --init`: (model, encoder, kind) from a classifier folder (fine-tuned; a new head
    when the labels differ) or a word language model (`pipelines.lm train --level word`; its
    embeddings and recurrent layers become a forward encoder, its vocabulary the classifier's)."""
    from zoo import registry
    from zoo.models import SentimentClassifier

    folder = cli.model_folder(init_model)
    if os.path.exists(os.path.join(folder, "lm.json")):
        from pipelines.lm import Tokens

        tokens = Tokens.load(folder)
        if tokens.level != "word":
            raise DataError(folder, "a character language model cannot start a classifier")
        lm = registry.load(folder)
        model = SentimentClassifier.from_language_model(
            lm, len(labels), pooling=pooling, dropout=dropout
        )
        log(f"encoder from the language model {init_model} ({len(tokens.vocab):,} words)")
        words = tokens.vocab
        return model, TextEncoder(words, labels, max_tokens, truncate, tokens.lower, aliases), "lm"
    old, old_encoder = load_classifier(folder)
    encoder = TextEncoder(
        old_encoder.words,
        labels,
        old_encoder.max_tokens,
        old_encoder.truncate,
        old_encoder.lower,
        {**old_encoder.aliases, **aliases},
    )
    if labels.tokens == old_encoder.labels.tokens:
        return old, encoder, "classifier"
    config = {**old.get_config(), "num_classes": len(labels)}
    model = SentimentClassifier.from_config(config)
    model.build()
    for target, source in zip(model.weights, old.weights):
        if "classes/" not in target.path:  # the new head keeps its fresh initialisation
            target.assign(source)
    log(f"new output layer for the labels {', '.join(labels.tokens)}")
    return model, encoder, "classifier"


def load_classifier(name_or_path):
    from zoo import registry

    folder = cli.model_folder(name_or_path)
    return registry.load(folder), TextEncoder.load(folder)


# === Command line ===

column_options = [
    click.option("--text-column", default=None, help="Name of the text column (CSV/TSV)."),
    click.option("--label-column", default=None, help="Name of the label column (CSV/TSV)."),
]


def with_columns(command):
    for option in reversed(column_options):
        command = option(command)
    return command


@click.group()
def main():
    """Sentiment (any text classification): a (bi)directional zoo RNN with pooling."""
    cli.quiet_tensorflow()


@main.command()
@cli.train_options
@with_columns
@click.option("--vectors", type=click.Path(dir_okay=False), help="Word vectors to start from.")
@click.option("--max-vocab", default=30_000, show_default=True, type=click.IntRange(5))
@click.option("--min-count", default=2, show_default=True, type=click.IntRange(1))
@click.option(
    "--max-tokens",
    default=400,
    show_default=True,
    type=click.IntRange(1),
    help="Longer texts are truncated to this many tokens.",
)
@click.option("--truncate", type=click.Choice(TRUNCATIONS), default="head+tail", show_default=True)
@click.option(
    "--dev-fraction",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 0.5),
    help="Without --dev: hold out this share of the training data for early stopping.",
)
@click.option("--units", default=128, show_default=True, type=click.IntRange(1))
@click.option("--depth", default=1, show_default=True, type=click.IntRange(1))
@click.option("--embedding-dim", default=100, show_default=True, type=click.IntRange(1))
@click.option(
    "--pooling",
    type=click.Choice(["last", "max", "mean", "max_mean", "last_max_mean", "attention"]),
    default="max_mean",
    show_default=True,
)
@click.option("--rnn", type=click.Choice(["lstm", "gru"]), default="lstm", show_default=True)
@click.option("--unidirectional", is_flag=True, help="Read the text forwards only.")
@click.option(
    "--dropout", default=0.3, show_default=True, type=click.FloatRange(0, 1, max_open=True)
)
@click.option(
    "--label-names",
    help="Names for the labels as the data writes them, e.g. '0=negative,1=positive'.",
)
@click.option(
    "--discriminative",
    "decay",
    default=2.6,
    show_default=True,
    type=click.FloatRange(1),
    help="With --init: each level down (head, recurrent layers, embeddings) learns this many "
    "times slower than the one above.",
)
@click.option(
    "--unfreeze",
    type=click.Choice(["gradual", "all"]),
    default="gradual",
    show_default=True,
    help="With --init: 'gradual' trains only the head in epoch 1, one more level each epoch "
    "after; 'all' trains everything from the start.",
)
@cli.reports_bad_input
def train(
    train_sources,
    dev_source,
    out,
    init_model,
    epochs,
    batch_size,
    learning_rate,
    clip_norm,
    patience,
    lr_decay,
    average,
    max_examples,
    seed,
    resume,
    data_format,
    strategy,
    cpu_replicas,
    precision,
    text_column,
    label_column,
    vectors,
    max_vocab,
    min_count,
    max_tokens,
    truncate,
    dev_fraction,
    units,
    depth,
    embedding_dim,
    pooling,
    rnn,
    unidirectional,
    dropout,
    label_names,
    decay,
    unfreeze,
):
    """Trains a classifier (or fine-tunes one, or starts one from a word language model, with
    --init) and writes it to --out."""
    import keras

    from pipelines.card import describe_run
    from pipelines.text import Vocabulary
    from pipelines.training import FineTuning, LayerwiseAdam, TrainingRun, layerwise_adam, summary
    from zoo.models import SentimentClassifier

    epochs, batch_size = epochs or 10, batch_size or 32
    learning_rate, patience = learning_rate or 0.002, patience or 3
    aliases = parse_label_names(label_names)
    streamed = records.streamed_sources(train_sources, "sentiment")
    rows = [
        r
        for s in train_sources
        if not streamed
        for r in read_labelled(s, max_examples, text_column, label_column)
    ]
    if streamed:  # nothing to hold out from a stream: --dev or no dev set
        dev_fraction = 0.0
    if dev_source:
        dev_rows = read_labelled(dev_source, max_examples, text_column, label_column)
    elif dev_fraction:
        order = np.random.default_rng(seed).permutation(len(rows))
        cut = int(len(rows) * dev_fraction)
        dev_rows, rows = [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]
    else:
        dev_rows = []
    log = lambda message: click.echo(message, err=True)  # noqa: E731
    run = TrainingRun(
        out,
        resume=resume,
        seed=seed,
        log=log,
        strategy=strategy,
        cpu_replicas=cpu_replicas,
        precision=precision,
    )
    started_from = None
    with run.scope():
        if run.resumed:
            encoder = TextEncoder.load(run.assets)
            model = run.load_checkpoint()
        else:

            def pairs():  # (text, label), streamed from records when they are the data
                if streamed:
                    return (
                        (e["text"], e["label"]) for e in records.examples(streamed, max_examples)
                    )
                return ((text, label) for text, label, _ in rows)

            seen = set()

            def texts():  # one pass collects the words and the labels
                for text, label in pairs():
                    seen.add(label)
                    yield text

            if init_model:  # the vocabulary comes with the model: labels only
                seen.update(label for _, label in pairs())
            else:
                words = Vocabulary.build(
                    (split_text(text, "word", lower=True) for text in texts()),
                    min_count=min_count,
                    max_size=max_vocab,
                )
            names = sorted({aliases.get(label, label) for label in seen})
            labels = Vocabulary(names, specials=())
            if init_model:
                model, encoder, started_from = start_from(
                    init_model, labels, aliases, max_tokens, truncate, pooling, dropout, log
                )
            else:
                encoder = TextEncoder(words, labels, max_tokens, truncate, aliases=aliases)
                model = SentimentClassifier(
                    len(words),
                    len(labels),
                    embedding_dim=embedding_dim,
                    rnn=rnn,
                    units=units,
                    depth=depth,
                    bidirectional=not unidirectional,
                    pooling=pooling,
                    dropout=dropout,
                )
                model.build()
            if vectors:
                from pipelines.vectors import fill_embeddings, load_vectors

                found = fill_embeddings(
                    model.embedding, encoder.words.tokens, load_vectors(vectors)
                )
                log(f"word vectors for {found:,} of {len(encoder.words):,} words")
            encoder.save(run.assets)
    train_labels = label_ids(encoder, rows, train_sources[0]) if rows else None
    dev_labels = label_ids(encoder, dev_rows, dev_source or train_sources[0]) if dev_rows else None
    if streamed:
        dataset = stream_dataset(encoder, streamed, batch_size, seed, max_examples)
    else:
        dataset = make_dataset(encoder, rows, train_labels, batch_size, True, seed)

    def evaluate(m):
        predicted = probabilities(m, encoder, [t for t, _, _ in dev_rows]).argmax(axis=1)
        return classification_metrics(dev_labels, predicted, len(encoder.labels))

    callbacks = []
    with run.scope():
        if not run.resumed:
            clip = {"clipnorm": clip_norm} if clip_norm else {}
            if init_model:
                optimizer = layerwise_adam(model.layer_groups(), learning_rate, **clip)
            else:
                optimizer = keras.optimizers.Adam(learning_rate, **clip)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            model.compile(optimizer, loss=loss)
    if isinstance(model.optimizer, LayerwiseAdam):
        callbacks.append(FineTuning(decay, gradual=unfreeze == "gradual", log=log))
    result = run.fit(
        model,
        dataset,
        epochs,
        evaluate if dev_rows else None,
        "accuracy" if dev_rows else None,
        patience=patience,
        lr_decay=lr_decay,
        average=average,
        callbacks=callbacks,
    )
    card = describe_run(
        task="sentiment",
        model=model,
        architecture={
            "class": "zoo.models.SentimentClassifier",
            **{
                k: model.get_config()[k]
                for k in (
                    "embedding_dim",
                    "rnn",
                    "units",
                    "depth",
                    "bidirectional",
                    "pooling",
                    "dropout",
                )
            },
            "max_tokens": encoder.max_tokens,
            "truncate": encoder.truncate,
            "lower": encoder.lower,
        },
        sizes={"words": len(encoder.words), "labels": encoder.labels.tokens},
        train_sources=train_sources,
        dev_source=dev_source or f"{dev_fraction:.0%} of the training data (seed {seed})",
        result=result,
        extra={
            "vectors": vectors,
            "init": init_model and {"model": init_model, "kind": started_from},
            "fine_tuning": init_model
            and {"discriminative": decay, "unfreeze": unfreeze, "learning_rate": learning_rate},
        },
    )
    run.finish(model, card=card)
    cli.print_json(summary(out, result, run.replicas))


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.option("--data", required=True, help="CSV/TSV file, aclImdb-style folder or tfds:NAME.")
@with_columns
@cli.max_examples_option
@cli.json_option
@cli.reports_bad_input
def evaluate(model, data, text_column, label_column, max_examples, as_json):
    """Accuracy (and macro F1 for more than two classes)."""
    classifier, encoder = load_classifier(model)
    rows = read_labelled(data, max_examples, text_column, label_column)
    gold = label_ids(encoder, rows, data)
    predicted = probabilities(classifier, encoder, [t for t, _, _ in rows]).argmax(axis=1)
    metrics = classification_metrics(gold, predicted, len(encoder.labels))
    if as_json:
        cli.print_json(metrics)
    else:
        click.echo(
            " ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
            )
        )


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.argument("texts", nargs=-1)
@click.option("--input", "input_path", type=click.Path(dir_okay=False), help="One text per line.")
@cli.json_option
@cli.reports_bad_input
def predict(model, texts, input_path, as_json):
    """The label of each text, with the probability of every label."""
    classifier, encoder = load_classifier(model)
    texts = cli.texts_from(texts, input_path)
    for text, p in zip(texts, probabilities(classifier, encoder, texts)):
        label = encoder.labels.token(int(p.argmax()))
        if as_json:
            cli.print_json(
                {
                    "text": text,
                    "label": label,
                    "probabilities": {encoder.labels.token(i): float(v) for i, v in enumerate(p)},
                }
            )
        else:
            click.echo(f"{label}\t{p.max():.4f}\t{text}")


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@cli.reports_bad_input
def export(model, out):
    """Writes a SavedModel whose serving_default maps raw strings to probabilities and labels."""
    from pipelines.export import export_classifier

    classifier, encoder = load_classifier(model)
    export_classifier(classifier, encoder, out)
    click.echo(f"SavedModel written to {out}", err=True)


if __name__ == "__main__":
    sys.exit(cli.run(main))
