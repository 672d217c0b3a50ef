"""Language models end to end: `python -m pipelines.lm train|evaluate|sample|score|export`.

    python -m pipelines.lm sample --model lm-dinos --num 5 --seed 3
    python -m pipelines.lm score --json "apple and pear salad" "apple and pair salad"
    python -m pipelines.lm evaluate --data ../shared/data/tinyshakespeare/valid.txt --json
    python -m pipelines.lm train --train shakespeare.txt --dev valid.txt --out my-lm
    python -m pipelines.lm train --train dinos.txt --format lines --out dinos-lm

Two corpus formats. `text` (the default): a file read as one continuous text, trained with
truncated backpropagation through time (the text is cut into `--batch-size` parallel streams,
read in consecutive windows of `--bptt` tokens with the states carried from one window to the
next). `lines`: one sequence per line (a name, a sentence), each read from `<BOS>` to `<EOS>`.
`--level char` (the default) or `word` (the top `--max-vocab` words; `<UNK>` for the rest; an
`<EOS>` ends every line). A model folder holds `model.keras` (a `zoo.models.LanguageModel`),
`vocab.txt` and `lm.json` (level and format).
"""

import itertools
import json
import math
import os
import sys

import click
import numpy as np

from pipelines import cli, records

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()
from pipelines.errors import DataError

DEFAULT_MODEL = "lm-shakespeare"
LEVELS = ("char", "word")
FORMATS = ("text", "lines")


# === Data ===


def read_corpus(source, data_format="text", max_examples=None):
    """The text of a source: a text file (`.gz` allowed), the text column of a CSV/TSV table
    (`.csv`, `.tsv`, the column found by name as `pipelines.sentiment` finds it; one example a
    line) or `tfds:tiny_shakespeare[:SPLIT]` (its `text` feature). `max_examples` keeps the
    first N lines (table rows)."""
    from pipelines.data import tfds_source
    from pipelines.data.files import read_text
    from pipelines.data.tables import is_table, read_table

    if tfds_source.is_tfds(source):
        examples, _ = tfds_source.load_examples(source)
        if not examples or "text" not in examples[0]:
            raise DataError(source, "has no text feature")
        text = "".join(example["text"].decode("utf-8") for example in examples)
    elif is_table(source):
        rows = read_table(source, labelled=False, max_examples=max_examples)
        text = "".join(" ".join(row[0].split()) + "\n" for row in rows)
    else:
        text = read_text(source)
    if max_examples:
        text = "".join(text.splitlines(keepends=True)[:max_examples])
    if not text.strip():
        raise DataError(source, "no text")
    return text


def split_text(text, level, lower=False):
    """Characters, or word tokens (`pipelines.text.word_tokenize`); `lower` lower-cases words
    and folds their digits to 0, as `pipelines.sentiment` reads text."""
    from pipelines.text import normalize_word, word_tokenize

    if level == "char":
        return list(text)
    if lower:
        return [normalize_word(t.text.lower()) for t in word_tokenize(text)]
    return [t.text for t in word_tokenize(text)]


class Tokens:
    """How a model turns text into ids and back: the vocabulary, the level and the format.
    `reverse` (a backward model) reads every text from its end: characters (or the words of
    each line, and the lines) in reverse order; `join` turns what such a model wrote back into
    reading order."""

    def __init__(self, vocab, level, data_format, lower=False, reverse=False):
        self.vocab, self.level, self.format = vocab, level, data_format
        self.lower = lower and level == "word"
        self.reverse = reverse

    @classmethod
    def build(
        cls, text, level, data_format, max_vocab=None, min_count=1, lower=False, reverse=False
    ):
        from pipelines.text import Vocabulary

        texts = [text] if isinstance(text, str) else text  # one text, or blocks of it
        if level == "word":
            units = (split_text(line, level, lower) for t in texts for line in t.splitlines())
        else:
            units = iter(texts)  # each text counts as its characters
        vocab = Vocabulary.build(units, min_count=min_count, max_size=max_vocab)
        if level == "char" and data_format == "lines":
            vocab = Vocabulary([t for t in vocab.tokens[4:] if t != "\n"])
        return cls(vocab, level, data_format, lower, reverse)

    def pieces(self, text):
        """The tokens of a text in the order the model reads them."""
        pieces = split_text(text, self.level, self.lower)
        return pieces[::-1] if self.reverse else pieces

    def stream(self, text):
        """Ids of a continuous text: `<BOS>`, the text (word level: `<EOS>` after each line)."""
        if self.level == "char":
            text = text[::-1] if self.reverse else text
            return np.asarray([self.vocab.bos_id] + self.vocab.encode(list(text)), "int32")
        ids = [self.vocab.bos_id]
        lines = text.splitlines()
        for line in lines[::-1] if self.reverse else lines:
            ids += self.vocab.encode(self.pieces(line)) + [self.vocab.eos_id]
        return np.asarray(ids, "int32")

    def sequences(self, text):
        """One `<BOS> ... <EOS>` id sequence per non-blank line (the `lines` format)."""
        return [
            np.asarray(
                [self.vocab.bos_id] + self.vocab.encode(self.pieces(line)) + [self.vocab.eos_id],
                "int32",
            )
            for line in text.splitlines()
            if line.strip()
        ]

    def join(self, pieces):
        """Tokens the model wrote (in its reading order) as text in reading order."""
        pieces = pieces[::-1] if self.reverse else pieces
        return "".join(pieces) if self.level == "char" else " ".join(pieces)

    def attach(self, prompt, text):
        """A sample `text` beside the `prompt` it was drawn from: after it for a forward model,
        before it for a backward one."""
        parts = [text, prompt] if self.reverse else [prompt, text]
        return "".join(parts) if self.level == "char" else " ".join(filter(None, parts))

    def save(self, folder):
        self.vocab.save(os.path.join(folder, "vocab.txt"))
        settings = {"level": self.level, "format": self.format, "lower": self.lower}
        if self.reverse:
            settings["reverse"] = True
        with open(os.path.join(folder, "lm.json"), "w", encoding="utf-8") as handle:
            json.dump(settings, handle)

    @classmethod
    def load(cls, folder):
        from pipelines.text import Vocabulary

        with open(os.path.join(folder, "lm.json"), encoding="utf-8") as handle:
            settings = json.load(handle)
        return cls(
            Vocabulary.load(os.path.join(folder, "vocab.txt")),
            level=settings["level"],
            data_format=settings["format"],
            lower=settings.get("lower", False),
            reverse=settings.get("reverse", False),
        )


def stream_windows(ids, batch, bptt, seed, start=0, endless=False):
    """Consecutive windows of `batch` parallel streams, for truncated BPTT: batch k's row i
    continues batch k-1's row i. Pass p over the text starts at an offset drawn from
    `seed + p`, so that windows do not always cut the text at the same places. One pass, or
    with `endless` pass after pass, beginning at the `start`-th window of them all (where a
    resumed run left off)."""
    passes = itertools.count(0) if endless else [0]
    for p in passes:
        rng = np.random.default_rng(seed + p)
        offset = int(rng.integers(0, bptt)) if len(ids) > batch * (bptt + 1) * 2 else 0
        usable = (len(ids) - offset - 1) // batch * batch
        x = ids[offset : offset + usable].reshape(batch, -1)
        y = ids[offset + 1 : offset + 1 + usable].reshape(batch, -1)
        count = (x.shape[1] - bptt) // bptt + 1
        if start >= count:
            start -= count
            continue
        for k in range(start, count):
            yield x[:, k * bptt : (k + 1) * bptt], y[:, k * bptt : (k + 1) * bptt]
        start = 0


def stream_dataset(ids, batch, bptt, seed, start=0, endless=False):
    """`stream_windows` as a dataset. Without `endless`, each iteration (a Keras epoch) is the
    next pass; with it, one iterator runs through pass after pass (epochs of
    `steps_per_epoch` batches), from window `start`."""
    import tensorflow as tf

    passes = [0]

    def windows():
        if endless:
            yield from stream_windows(ids, batch, bptt, seed, start, endless=True)
        else:
            passes[0] += 1
            yield from stream_windows(ids, batch, bptt, seed + passes[0] - 1)

    spec = tf.TensorSpec([batch, bptt], tf.int32)
    return tf.data.Dataset.from_generator(windows, output_signature=(spec, spec)).prefetch(4)


class StreamedText(records.Stream):
    """The text of records folders (`pipelines.records`, task `lm`) as blocks of lines."""

    def item(self, example):
        return example["text"]


def records_windows(tokens, text, batch, bptt, seed):
    """`stream_dataset` for a `StreamedText`: `batch` parallel streams, each a run of whole
    blocks (dealt to the shortest stream, blocks shuffled afresh every epoch) read in
    consecutive windows of `bptt`, so row i of each batch continues row i of the one before;
    memory holds a few blocks per stream."""
    import tensorflow as tf

    epoch = [0]

    def windows():
        blocks = text.iterate(shuffle=True, seed=seed + epoch[0])
        epoch[0] += 1
        streams = [np.asarray([tokens.vocab.bos_id], "int32") for _ in range(batch)]
        for block in blocks:
            shortest = min(range(batch), key=lambda i: len(streams[i]))
            streams[shortest] = np.concatenate([streams[shortest], tokens.stream(block)[1:]])
            while min(len(s) for s in streams) > bptt:
                x = np.stack([s[:bptt] for s in streams])
                y = np.stack([s[1 : bptt + 1] for s in streams])
                streams = [s[bptt:] for s in streams]
                yield x, y

    spec = tf.TensorSpec([batch, bptt], tf.int32)
    return tf.data.Dataset.from_generator(windows, output_signature=(spec, spec)).prefetch(4)


def lines_dataset(sequences, batch_size, shuffle, seed):
    import tensorflow as tf

    from pipelines.data import bucketed_dataset

    examples = [{"x": s[:-1], "y": s[1:]} for s in sequences]
    signature = {"x": tf.TensorSpec([None], tf.int32), "y": tf.TensorSpec([None], tf.int32)}
    dataset = bucketed_dataset(
        examples, signature, batch_size, shuffle=shuffle, seed=seed, pad_to_multiple=8
    )
    return dataset.map(lambda b: (b["x"], b["y"]))


# === Scoring ===


def stream_log_probs(model, ids, window=512):
    """log p(ids[t] | ids[:t]) for t >= 1 of one long sequence, states carried over windows
    (each window one compiled call; the last is padded, its padding scored 0 and dropped)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def scored(x, y, states):
        logits, states = model(x, states=states, return_states=True)
        log_p = tf.gather(tf.nn.log_softmax(tf.cast(logits, "float32")), y, batch_dims=2)
        return log_p, states

    states, out = model.zero_states(1), []
    for start in range(0, len(ids) - 1, window):
        x = np.zeros((1, window), "int32")
        y = np.zeros((1, window), "int32")
        chunk = ids[start : start + window + 1]
        x[0, : len(chunk) - 1], y[0, : len(chunk) - 1] = chunk[:-1], chunk[1:]
        log_p, states = scored(tf.constant(x), tf.constant(y), states)
        out.append(log_p[0, : len(chunk) - 1].numpy())
    return np.concatenate(out) if out else np.zeros(0)


def sequence_log_probs(model, sequences, batch_size=128):
    """Per-step log-probabilities of each `<BOS> ... <EOS>` sequence (of every token after BOS)."""
    import tensorflow as tf

    log_probabilities = tf.function(model.log_probabilities, reduce_retracing=True)
    results = [None] * len(sequences)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for lo in range(0, len(order), batch_size):
        chunk = order[lo : lo + batch_size]
        steps = max(len(sequences[i]) for i in chunk) - 1
        x = np.zeros((len(chunk), steps), "int32")
        y = np.zeros((len(chunk), steps), "int32")
        for row, i in enumerate(chunk):
            x[row, : len(sequences[i]) - 1] = sequences[i][:-1]
            y[row, : len(sequences[i]) - 1] = sequences[i][1:]
        log_p = log_probabilities(tf.constant(x), tf.constant(y)).numpy()
        for row, i in enumerate(chunk):
            results[i] = log_p[row, : len(sequences[i]) - 1]
    return results


def corpus_metrics(model, tokens, text):
    """nats, bits and perplexity per token over `text` (every token after the first predicted
    from everything before it; per line from `<BOS>` for a `lines` model)."""
    if tokens.format == "lines":
        log_p = np.concatenate(sequence_log_probs(model, tokens.sequences(text)))
    else:
        log_p = stream_log_probs(model, tokens.stream(text)[1:])
    nats = float(-log_p.mean())
    return {
        "nats_per_token": nats,
        "bits_per_token": nats / math.log(2),
        "perplexity": math.exp(nats),
        "tokens": int(log_p.size),
    }


def score_texts(model, tokens, texts):
    """log p(text) for each text, read from `<BOS>` (and, for a `lines` model, to `<EOS>`)."""
    scored = []
    for text in texts:
        ids = [tokens.vocab.bos_id] + tokens.vocab.encode(tokens.pieces(text))
        if tokens.format == "lines":
            ids.append(tokens.vocab.eos_id)
        log_p = sequence_log_probs(model, [np.asarray(ids, "int32")])[0] if len(ids) > 1 else []
        total = float(np.sum(log_p))
        scored.append(
            {
                "text": text,
                "log_prob": total,
                "tokens": len(log_p),
                "log_prob_per_token": total / len(log_p) if len(log_p) else 0.0,
                "token_log_probs": [round(float(v), 5) for v in log_p],
            }
        )
    return scored


# === Sampling ===


def sample(model, tokens, num, length, temperature=1.0, top_k=None, prompt="", seed=0):
    """The course's sampling: feed `<BOS>` and the prompt, then draw each next token from the
    softmax (divided by `temperature`, cut to the `top_k` most likely), feed the draw back, and
    stop at `<EOS>` or after `length` tokens. `<UNK>` (and `<PAD>`, `<BOS>`) are never drawn.
    The same seed gives the same samples."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    vocab = tokens.vocab
    banned = np.zeros(len(vocab), bool)
    banned[[vocab.pad_id, vocab.unk_id, vocab.bos_id]] = True
    primer = [vocab.bos_id] + vocab.encode(tokens.pieces(prompt))
    states = model.zero_states(num)
    for token in primer:
        log_p, states = model.step(tf.fill([num], token), states)
    outputs = [[] for _ in range(num)]
    done = np.zeros(num, bool)
    for _ in range(length):
        scores = log_p.numpy() / max(temperature, 1e-6)
        scores[:, banned] = -np.inf
        if top_k:
            kth = np.sort(scores, axis=1)[:, -top_k][:, None]
            scores = np.where(scores < kth, -np.inf, scores)
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        draws = np.array([rng.choice(len(vocab), p=row) for row in p], "int32")
        for i, token in enumerate(draws):
            if not done[i]:
                if token == vocab.eos_id:
                    done[i] = True
                else:
                    outputs[i].append(vocab.token(int(token)))
        if done.all():
            break
        log_p, states = model.step(tf.constant(draws), states)
    return [tokens.join(pieces) for pieces in outputs]


# === Command line ===


def load_lm(name_or_path):
    from zoo import registry

    folder = cli.model_folder(name_or_path)
    return registry.load(folder), Tokens.load(folder)


@click.group()
def main():
    """Character and word language models: train, evaluate, sample, score, export."""
    cli.quiet_tensorflow()


@main.command()
@cli.train_options
@click.option("--level", type=click.Choice(LEVELS), default="char", show_default=True)
@click.option(
    "--max-vocab",
    default=10_000,
    show_default=True,
    type=click.IntRange(5),
    help="Keep the most frequent words (characters at char level), specials included; the "
    "rest are <UNK>.",
)
@click.option(
    "--bptt",
    default=100,
    show_default=True,
    type=click.IntRange(2),
    help="Text format: tokens per window of truncated backpropagation through time.",
)
@click.option("--units", default=512, show_default=True, type=click.IntRange(1))
@click.option("--depth", default=2, show_default=True, type=click.IntRange(1))
@click.option("--embedding-dim", default=64, show_default=True, type=click.IntRange(1))
@click.option(
    "--dropout", default=0.2, show_default=True, type=click.FloatRange(0, 1, max_open=True)
)
@click.option("--rnn", type=click.Choice(["lstm", "gru"]), default="lstm", show_default=True)
@click.option(
    "--tie-embeddings",
    is_flag=True,
    help="Score next tokens against the embeddings (cheaper large word vocabularies).",
)
@click.option(
    "--lower",
    is_flag=True,
    help="Word level: lower-case words and fold digits, as pipelines.sentiment reads text "
    "(a model to initialise a classifier with `sentiment train --init`).",
)
@click.option(
    "--vectors",
    type=click.Path(dir_okay=False),
    help="Word level: word vectors (word2vec text) to start the embeddings from.",
)
@click.option(
    "--reverse",
    is_flag=True,
    help="A backward model: read every text from its end (right to left).",
)
@click.option(
    "--steps-per-epoch",
    default=None,
    type=click.IntRange(1),
    help="Text format: an epoch is this many batches (the text read pass after pass), so that "
    "a long run checkpoints (and --resume continues) within a pass.",
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
    level,
    max_vocab,
    bptt,
    units,
    depth,
    embedding_dim,
    dropout,
    rnn,
    tie_embeddings,
    lower,
    vectors,
    reverse,
    steps_per_epoch,
):
    """Trains a language model on a corpus and writes it to --out."""
    import keras

    from pipelines.training import TrainingRun, summary
    from zoo.models import LanguageModel

    data_format = data_format or "text"
    if data_format not in FORMATS:
        raise click.BadParameter(f"--format must be one of {FORMATS}", param_hint="--format")
    epochs, batch_size = epochs or 20, batch_size or 64
    learning_rate = learning_rate or 0.002
    log = lambda message: click.echo(message, err=True)  # noqa: E731
    streamed = records.streamed_sources(train_sources, "lm")
    if streamed and data_format != "text":
        raise click.BadParameter("records stream --format text only", param_hint="--format")
    if steps_per_epoch and (streamed or data_format != "text"):
        raise click.BadParameter(
            "--steps-per-epoch needs --format text and files", param_hint="--steps-per-epoch"
        )
    if streamed:  # blocks of lines read again on every pass, never held in memory
        text = StreamedText(streamed, max_examples)
    else:
        text = "".join(read_corpus(s, data_format, max_examples) for s in train_sources)
    dev_text = read_corpus(dev_source, data_format, max_examples) if dev_source else None
    run = TrainingRun(
        out,
        resume=resume,
        seed=seed,
        log=log,
        strategy=strategy,
        cpu_replicas=cpu_replicas,
        precision=precision,
    )
    with run.scope():
        if run.resumed:
            tokens = Tokens.load(run.assets)
            model = run.load_checkpoint()
        else:
            if init_model:
                old, tokens = load_lm(init_model)
                config = old.get_config()
            else:
                tokens = Tokens.build(
                    text, level, data_format, max_vocab, lower=lower, reverse=reverse
                )
                config = {
                    "vocab_size": len(tokens.vocab),
                    "embedding_dim": embedding_dim,
                    "rnn": rnn,
                    "units": units,
                    "depth": depth,
                    "dropout": dropout,
                    "tie_embeddings": tie_embeddings,
                }
            stateful = batch_size if data_format == "text" else None
            model = LanguageModel(
                **{
                    **{
                        k: config[k]
                        for k in ("vocab_size", "embedding_dim", "rnn", "units", "depth", "dropout")
                    },
                    "tie_embeddings": config.get("tie_embeddings", False),
                    "stateful_batch": stateful,
                }
            )
            model.build()
            if init_model:
                for target, source in zip(model.trainable_weights, old.trainable_weights):
                    target.assign(source)
            elif vectors:
                from pipelines.vectors import fill_embeddings, load_vectors

                found = fill_embeddings(model.embedding, tokens.vocab.tokens, load_vectors(vectors))
                log(f"word vectors for {found:,} of {len(tokens.vocab):,} words")
            tokens.save(run.assets)
            model.compile(keras.optimizers.Adam(learning_rate, clipnorm=clip_norm or None))

    if streamed:
        epoch = (run.state or {}).get("epoch", 0)
        dataset = records_windows(tokens, text, batch_size, bptt, seed + epoch)
        callbacks = [keras.callbacks.LambdaCallback(on_epoch_begin=lambda *_: model.reset_states())]
    elif tokens.format == "text":
        ids = tokens.stream(text)
        if len(ids) < batch_size * (bptt + 1):
            raise DataError(
                train_sources[0], f"too short for {batch_size} streams of {bptt} tokens"
            )
        done = (run.state or {}).get("epoch", 0)
        if steps_per_epoch:  # one endless stream, from where the last epoch left it
            dataset = stream_dataset(
                ids, batch_size, bptt, seed, start=done * steps_per_epoch, endless=True
            )
        else:
            dataset = stream_dataset(ids, batch_size, bptt, seed + done)
        # truncated BPTT starts every epoch from zero states
        callbacks = [keras.callbacks.LambdaCallback(on_epoch_begin=lambda *_: model.reset_states())]
    else:
        dataset = lines_dataset(tokens.sequences(text), batch_size, True, seed)
        callbacks = []

    def evaluate(m):
        plain = m.without_state() if m.stateful_batch else m
        return {"nats_per_token": corpus_metrics(plain, tokens, dev_text)["nats_per_token"]}

    result = run.fit(
        model,
        dataset,
        epochs,
        evaluate if dev_text else None,
        "nats_per_token" if dev_text else None,
        mode="min",
        patience=patience,
        lr_decay=lr_decay,
        average=average,
        callbacks=callbacks,
        steps_per_epoch=steps_per_epoch,
    )
    from pipelines.card import describe_run

    card = describe_run(
        task="lm",
        model=model,
        architecture={
            "class": "zoo.models.LanguageModel",
            **{
                k: model.get_config()[k]
                for k in ("embedding_dim", "rnn", "units", "depth", "dropout", "tie_embeddings")
            },
            "level": tokens.level,
            "lower": tokens.lower,
            "reverse": tokens.reverse,
            "format": tokens.format,
            "bptt": bptt,
            "batch_size": batch_size,
            "steps_per_epoch": steps_per_epoch,
        },
        sizes={"vocab": len(tokens.vocab)},
        train_sources=train_sources,
        dev_source=dev_source,
        result=result,
        extra={"init": init_model, "vectors": vectors},
    )
    run.finish(model.without_state() if model.stateful_batch else model, card=card)
    cli.print_json(summary(out, result, run.replicas))


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.option("--data", required=True, help="A text file or tfds:tiny_shakespeare[:SPLIT].")
@cli.max_examples_option
@cli.json_option
@cli.reports_bad_input
def evaluate(model, data, max_examples, as_json):
    """nats, bits and perplexity per token over a text."""
    lm, tokens = load_lm(model)
    metrics = corpus_metrics(lm, tokens, read_corpus(data, tokens.format, max_examples))
    if as_json:
        cli.print_json(metrics)
    else:
        click.echo(
            f"{metrics['nats_per_token']:.4f} nats/{tokens.level}, "
            f"{metrics['bits_per_token']:.4f} bits/{tokens.level}, "
            f"perplexity {metrics['perplexity']:.3f} over {metrics['tokens']:,} {tokens.level}s"
        )


@main.command(name="sample")
@cli.model_option(DEFAULT_MODEL)
@click.option("--prompt", default="", help="Text the samples continue.")
@click.option(
    "--length",
    default=200,
    show_default=True,
    type=click.IntRange(1),
    help="At most this many tokens (a sample also ends at <EOS>).",
)
@click.option(
    "--temperature", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True)
)
@click.option("--top-k", default=None, type=click.IntRange(1))
@click.option("--num", default=1, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@cli.reports_bad_input
def sample_command(model, prompt, length, temperature, top_k, num, seed):
    """Samples novel sequences, one per line."""
    lm, tokens = load_lm(model)
    for text in sample(lm, tokens, num, length, temperature, top_k, prompt, seed):
        click.echo(tokens.attach(prompt, text))


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.argument("texts", nargs=-1)
@click.option("--input", "input_path", type=click.Path(dir_okay=False), help="One text per line.")
@cli.json_option
@cli.reports_bad_input
def score(model, texts, input_path, as_json):
    """The log-probability (natural log) of each text, in total and per token."""
    lm, tokens = load_lm(model)
    for record in score_texts(lm, tokens, cli.texts_from(texts, input_path)):
        if as_json:
            cli.print_json(record)
        else:
            click.echo(
                f"{record['log_prob']:.4f}\t{record['log_prob_per_token']:.4f}\t{record['text']}"
            )


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.argument("texts", nargs=-1)
@click.option("--input", "input_path", type=click.Path(dir_okay=False), help="One text per line.")
@click.option("--length", default=100, show_default=True, type=click.IntRange(1))
@click.option(
    "--temperature", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True)
)
@click.option("--seed", default=0, show_default=True, type=int)
@cli.json_option
@cli.reports_bad_input
def predict(model, texts, input_path, length, temperature, seed, as_json):
    """Continues each text with a sample (the verb every task has; `sample` does more)."""
    lm, tokens = load_lm(model)
    for text in cli.texts_from(texts, input_path):
        (continuation,) = sample(lm, tokens, 1, length, temperature, None, text, seed)
        if as_json:
            cli.print_json({"text": text, "continuation": continuation})
        else:
            click.echo(tokens.attach(text, continuation))


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@cli.reports_bad_input
def export(model, out):
    """Writes a SavedModel: serving_default scores raw strings, generate samples in the graph."""
    from pipelines.export import export_language_model

    lm, tokens = load_lm(model)
    export_language_model(lm, tokens, out)
    click.echo(f"SavedModel written to {out}", err=True)


if __name__ == "__main__":
    sys.exit(cli.run(main))
