"""String-to-string tasks end to end: `python -m pipelines.seq2seq` train, evaluate, predict,
export (and `dates`, the course's date-normalisation data).

    python -m pipelines.seq2seq predict knight photosynthesis
    python -m pipelines.seq2seq evaluate --data ../shared/data/cmudict/dev.dict --json
    python -m pipelines.seq2seq dates --num 40000 --out dates.tsv
    python -m pipelines.seq2seq train --train pairs.tsv --dev dev.tsv --out my-model

Data: pair files, one `source<TAB>target` a line (`.gz` allowed), or the CMU Pronouncing
Dictionary (`WORD PH1 PH2 ...`; alternates `WORD(2)`; `# comments` and `;;;` lines skipped;
`.dict` files, or `--format cmudict`). A source listed more than once has several right
answers: evaluation counts an output right when it matches any of them.

Each side is split into tokens at a level: `char` (characters), `word` (`word_tokenize`) or
`space` (whitespace-separated symbols, e.g. phonemes). A model folder holds `model.keras` (a
`zoo.models.Seq2Seq`), `source.txt`, `target.txt` (vocabularies) and `seq2seq.json` (levels).
"""

import datetime
import json
import os
import random
import sys

import click
import numpy as np

from pipelines import cli, records

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()
from pipelines.errors import DataError

DEFAULT_MODEL = "g2p-cmudict"
LEVELS = ("char", "word", "space")
FORMATS = ("pairs", "cmudict")


# === Data ===


def data_format_of(source, given=None):
    """`given`, or `cmudict` for `.dict` files and `pairs` otherwise."""
    if given:
        if given not in FORMATS:
            raise click.BadParameter(f"must be one of {FORMATS}", param_hint="--format")
        return given
    return "cmudict" if str(source).lower().removesuffix(".gz").endswith(".dict") else "pairs"


def read_pairs(path, max_examples=None):
    """(source, target, line) of a `source<TAB>target` file; blank lines are skipped."""
    from pipelines.data.files import read_lines

    pairs = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        source, tab, target = line.partition("\t")
        if not tab:
            raise DataError(path, "no tab between source and target", number)
        if not source.strip() or not target.strip():
            raise DataError(path, "empty source or target", number)
        pairs.append((source.strip(), target.strip(), number))
        if max_examples and len(pairs) >= max_examples:
            break
    if not pairs:
        raise DataError(path, "no pairs")
    return pairs


def read_cmudict(path, max_examples=None):
    """(word, "PH1 PH2 ...", line) of a CMU Pronouncing Dictionary file: `WORD(2)` is another
    pronunciation of WORD; `# comments` and `;;;` lines are skipped."""
    from pipelines.data.files import read_lines

    entries = []
    for number, line in enumerate(read_lines(path), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith(";;;"):
            continue
        word, *phonemes = line.split()
        if not phonemes:
            raise DataError(path, f"no pronunciation for {word!r}", number)
        if word.endswith(")") and "(" in word[1:]:
            word = word[: word.rindex("(")]
        entries.append((word, " ".join(phonemes), number))
        if max_examples and len(entries) >= max_examples:
            break
    if not entries:
        raise DataError(path, "no entries")
    return entries


def read_examples(source, data_format=None, max_examples=None):
    if data_format_of(source, data_format) == "cmudict":
        return read_cmudict(source, max_examples)
    return read_pairs(source, max_examples)


def references(examples):
    """Sources in first-seen order, each with every target given for it."""
    grouped = {}
    for source, target, _ in examples:
        grouped.setdefault(source, [])
        if target not in grouped[source]:
            grouped[source].append(target)
    return list(grouped), list(grouped.values())


class Sides:
    """How a model turns each side's text into ids and back: a vocabulary and a level each."""

    def __init__(
        self,
        source_vocab,
        target_vocab,
        source_level,
        target_level,
        beam=1,
        lowercase=False,
        reverse_targets=False,
    ):
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.source_level, self.target_level = source_level, target_level
        self.beam = beam  # the model's decoding default (`--beam` overrides it)
        # sources are lower-cased before they are split (CMUdict words: "Hello" is "hello")
        self.lowercase = lowercase
        # the network writes targets last token first (`train --reverse-targets`); encode_target
        # and decode turn them round, so outputs read as usual
        self.reverse_targets = reverse_targets
        self.reranker = None  # a `pipelines.rerank.Reranker` where the model folder has one
        self.rerank_settings = None  # seq2seq.json's "rerank" (`load`), for `load_seq2seq`

    @staticmethod
    def split(text, level):
        from pipelines.text import word_tokenize

        if level == "char":
            return list(text)
        if level == "space":
            return text.split()
        return [t.text for t in word_tokenize(text)]

    @staticmethod
    def join(pieces, level):
        return "".join(pieces) if level == "char" else " ".join(pieces)

    @classmethod
    def build(
        cls,
        examples,
        source_level,
        target_level,
        max_vocab=None,
        lowercase=False,
        reverse_targets=False,
    ):
        from pipelines.text import Vocabulary

        fold = str.lower if lowercase else str
        return cls(
            Vocabulary.build(
                (cls.split(fold(s), source_level) for s, _, _ in examples), max_size=max_vocab
            ),
            Vocabulary.build(
                (cls.split(t, target_level) for _, t, _ in examples), max_size=max_vocab
            ),
            source_level,
            target_level,
            lowercase=lowercase,
            reverse_targets=reverse_targets,
        )

    def fold(self, text):
        """`text` as the model reads it: lower-cased where the model lower-cases its input."""
        return text.lower() if self.lowercase else text

    def encode_source(self, text):
        text = self.fold(text)
        return np.asarray(
            self.source_vocab.encode(self.split(text, self.source_level))
            or [self.source_vocab.unk_id],
            "int32",
        )

    def encode_target(self, text):
        pieces = self.split(text, self.target_level)
        pieces = pieces[::-1] if self.reverse_targets else pieces
        return np.asarray(self.target_vocab.encode(pieces), "int32")

    def decode(self, ids):
        pieces = [self.target_vocab.token(int(i)) for i in ids]
        return self.join(pieces[::-1] if self.reverse_targets else pieces, self.target_level)

    @property
    def banned(self):
        """Target ids a decoder never writes: padding, `<UNK>` and `<BOS>`."""
        v = self.target_vocab
        return [v.pad_id, v.unk_id, v.bos_id]

    def save(self, folder):
        self.source_vocab.save(os.path.join(folder, "source.txt"))
        self.target_vocab.save(os.path.join(folder, "target.txt"))
        with open(os.path.join(folder, "seq2seq.json"), "w", encoding="utf-8") as handle:
            levels = {"source_level": self.source_level, "target_level": self.target_level}
            settings = {"beam": self.beam, "lowercase": self.lowercase}
            if self.reverse_targets:
                settings["reverse_targets"] = True
            json.dump({**levels, **settings}, handle)

    @classmethod
    def load(cls, folder):
        from pipelines.text import Vocabulary

        with open(os.path.join(folder, "seq2seq.json"), encoding="utf-8") as handle:
            settings = json.load(handle)
        sides = cls(
            Vocabulary.load(os.path.join(folder, "source.txt")),
            Vocabulary.load(os.path.join(folder, "target.txt")),
            settings["source_level"],
            settings["target_level"],
            settings.get("beam", 1),
            settings.get("lowercase", False),
            settings.get("reverse_targets", False),
        )
        sides.rerank_settings = settings.get("rerank")
        return sides


def make_dataset(sides, examples, batch_size, shuffle, seed=0):
    """Batches of ({"source", "target": <BOS> y}, y <EOS>), similar lengths together."""
    import tensorflow as tf

    from pipelines.data import bucketed_dataset

    bos, eos = sides.target_vocab.bos_id, sides.target_vocab.eos_id
    rows = []
    for source, target, _ in examples:
        y = sides.encode_target(target)
        rows.append(
            {
                "source": sides.encode_source(source),
                "target": np.r_[bos, y].astype("int32"),
                "next": np.r_[y, eos].astype("int32"),
            }
        )
    spec = tf.TensorSpec([None], tf.int32)
    signature = {"source": spec, "target": spec, "next": spec}
    dataset = bucketed_dataset(
        rows, signature, batch_size, shuffle=shuffle, seed=seed, pad_to_multiple=4
    )
    return dataset.map(lambda b: ({"source": b["source"], "target": b["target"]}, b["next"]))


class StreamedPairs(records.Stream):
    """The (source, target, None) pairs of records folders (`pipelines.records`, task
    `seq2seq`), as `read_examples` gives them."""

    def item(self, example):
        return example["source"], example["target"], None


def stream_dataset(sides, pairs, batch_size, shuffle=True, seed=0):
    """`make_dataset` for `StreamedPairs`: the same batches, encoded inside the input pipeline
    and bucketed by length."""
    import tensorflow as tf

    from pipelines.export import graph_pieces

    source_table = sides.source_vocab.lookup_table()
    target_table = sides.target_vocab.lookup_table()
    bos, eos, unk = sides.target_vocab.bos_id, sides.target_vocab.eos_id, sides.source_vocab.unk_id
    data = pairs.dataset(shuffle, seed)

    def encode(example):
        source = example["source"]
        if sides.lowercase:
            source = tf.strings.lower(source, encoding="utf-8")
        pieces = graph_pieces(tf.reshape(source, [1]), sides.source_level)[0]
        source = tf.cast(source_table.lookup(pieces), tf.int32)
        source = tf.cond(tf.size(source) > 0, lambda: source, lambda: tf.constant([unk]))
        pieces = graph_pieces(tf.reshape(example["target"], [1]), sides.target_level)[0]
        target = tf.cast(target_table.lookup(pieces), tf.int32)
        return {
            "source": source,
            "target": tf.concat([[bos], target], 0),
            "next": tf.concat([target, [eos]], 0),
        }

    data = data.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    boundaries = [8, 12, 16, 24, 32, 48, 64, 96, 128]
    data = data.bucket_by_sequence_length(
        lambda e: tf.shape(e["source"])[0],
        boundaries,
        [batch_size] * (len(boundaries) + 1),
        padded_shapes={"source": [None], "target": [None], "next": [None]},
    )
    batches = data.map(lambda b: ({"source": b["source"], "target": b["target"]}, b["next"]))
    return batches.prefetch(tf.data.AUTOTUNE)


# === Decoding and metrics ===


def max_output_length(source_length):
    """How many tokens a decoder may write for an input of `source_length` tokens."""
    return 2 * source_length + 10


def decode(model, sides, texts, beam=1, batch_size=256, network_only=False):
    """(output text, score) per text: greedy (`beam` 1) or beam search; the score is the
    mean log-probability per output token (`<EOS>` included). A model folder with a lexicon
    and reranking weights (`pipelines.rerank`) answers through them unless `network_only`."""
    if sides.reranker is not None and not network_only:
        return sides.reranker.decode(model, sides, texts, beam, batch_size)
    if beam == 1:
        return _greedy(model, sides, texts, batch_size)
    return [found[0] for found in nbest(model, sides, texts, beam, batch_size)]


def _batches(sides, texts, batch_size):
    """(indices, padded source ids, output length limit) of batches of similar lengths."""
    encoded = [sides.encode_source(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    for lo in range(0, len(order), batch_size):
        chunk = order[lo : lo + batch_size]
        width = max(len(encoded[i]) for i in chunk)
        x = np.zeros((len(chunk), width), "int32")
        for row, i in enumerate(chunk):
            x[row, : len(encoded[i])] = encoded[i]
        yield chunk, x, max_output_length(width)


def nbest(model, sides, texts, beam, batch_size=256):
    """The `beam` candidates of a beam search per text, best first: (output text, mean
    log-probability per token) pairs."""
    import tensorflow as tf

    bos, eos = sides.target_vocab.bos_id, sides.target_vocab.eos_id
    results = [None] * len(texts)
    for chunk, x, limit in _batches(sides, texts, max(1, batch_size // beam)):
        found = model.beam_search(tf.constant(x), bos, eos, limit, beam=beam, banned=sides.banned)
        for row, i in enumerate(chunk):
            results[i] = [(sides.decode(ids), score) for ids, score in found[row]]
    return results


def _greedy(model, sides, texts, batch_size):
    import tensorflow as tf

    bos, eos = sides.target_vocab.bos_id, sides.target_vocab.eos_id
    results = [None] * len(texts)
    greedy = tf.function(model.greedy, reduce_retracing=True)
    for chunk, x, limit in _batches(sides, texts, batch_size):
        tokens, total, lengths, _ = greedy(
            tf.constant(x), bos, eos, tf.constant(limit), banned=tuple(sides.banned)
        )
        tokens, total, lengths = tokens.numpy(), total.numpy(), lengths.numpy()
        for row, i in enumerate(chunk):
            results[i] = (
                sides.decode(tokens[row, : lengths[row]]),
                float(total[row] / (lengths[row] + 1)),
            )
    return results


def edit_distance(a, b):
    """Levenshtein distance between two sequences."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def seq2seq_metrics(outputs, refs, level):
    """`exact` (share of outputs equal to one of their references), `per` (token edit distance
    over reference length, against the closest reference), `wer` (for word-level targets the
    word error rate, which is `per` over words; otherwise the share of outputs not exactly
    right, as G2P papers report it) and `bleu` (sacrebleu, word-level targets)."""
    exact, errors, length = 0, 0, 0
    for output, options in zip(outputs, refs):
        exact += output in options
        hyp = Sides.split(output, level)
        best = min(
            (edit_distance(hyp, Sides.split(r, level)), len(Sides.split(r, level))) for r in options
        )
        errors += best[0]
        length += best[1]
    n = max(len(outputs), 1)
    metrics = {
        "exact": exact / n,
        "per": errors / max(length, 1),
        "examples": len(outputs),
    }
    metrics["wer"] = metrics["per"] if level == "word" else 1 - metrics["exact"]
    if level == "word":
        import sacrebleu

        depth = max(len(r) for r in refs)
        streams = [[r[k] if k < len(r) else r[0] for r in refs] for k in range(depth)]
        metrics["bleu"] = sacrebleu.corpus_bleu(outputs, streams).score
    return {k: metrics[k] for k in ("wer", "per", "exact", "bleu", "examples") if k in metrics}


def evaluate_model(model, sides, examples, beam=1, network_only=False):
    sources, refs = references(examples)
    outputs = [text for text, _ in decode(model, sides, sources, beam, network_only=network_only)]
    return seq2seq_metrics(outputs, refs, sides.target_level)


def attention_weights(model, sides, text, output):
    """α (output tokens + `<EOS>`, input tokens) of the decoder writing `output` for `text`."""
    import tensorflow as tf

    source = tf.constant(sides.encode_source(text)[None])
    target = np.r_[sides.target_vocab.bos_id, sides.encode_target(output)].astype("int32")
    values, keys, mask, states = model.encode(source)
    _, _, alpha = model.decode(tf.constant(target[None]), values, keys, mask, states)
    return alpha[0].numpy()


def draw_attention(path, weights, source_pieces, target_pieces):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        figsize=(max(4, 0.45 * len(source_pieces) + 1.5), max(3, 0.4 * len(target_pieces) + 1))
    )
    axes.imshow(weights, cmap="viridis", aspect="auto", vmin=0, vmax=1)
    axes.set_xticks(range(len(source_pieces)), source_pieces)
    axes.set_yticks(range(len(target_pieces)), target_pieces)
    axes.set_xlabel("input")
    axes.set_ylabel("output")
    figure.tight_layout()
    tmp = f"{path}.tmp{os.getpid()}.png"
    figure.savefig(tmp, dpi=120)
    plt.close(figure)
    os.replace(tmp, path)


# === The course's date task ===

MONTHS = [datetime.date(2000, m, 1).strftime("%B") for m in range(1, 13)]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def human_date(date, rng):
    """One human way of writing `date` (a `datetime.date`), drawn with `rng`."""
    month = MONTHS[date.month - 1]
    month = rng.choice([month, month[:3], month[:3] + ".", "Sept" if date.month == 9 else month])
    day = rng.choice([str(date.day), f"{date.day:02d}", _ordinal(date.day)])
    year = str(date.year)
    weekday = DAYS[date.weekday()]
    weekday = rng.choice([weekday, weekday[:3]])
    shapes = [
        f"{day} {month} {year}",
        f"{month} {day}, {year}",
        f"{month} {day} {year}",
        f"{weekday}, {month} {day}, {year}",
        f"{weekday} {day} {month} {year}",
        f"{weekday}, {day} {month} {year}",
        f"{day} {month}, {year}",
        f"the {_ordinal(date.day)} of {month} {year}",
        f"{_ordinal(date.day)} of {month}, {year}",
        f"{date.month}/{date.day}/{year}",  # US order with slashes
        f"{date.day:02d}.{date.month:02d}.{year}",  # European order with dots
        f"{day}-{month}-{year}",
        f"{month[:3]}. {day}, {year}",
        f"{year}-{date.month:02d}-{date.day:02d}",
        f"{year}/{date.month:02d}/{date.day:02d}",
    ]
    text = rng.choice(shapes)
    case = rng.random()
    if case < 0.25:
        text = text.lower()
    elif case < 0.35:
        text = text.upper()
    return text


def date_pairs(count, seed=0, start=1000, end=2999):
    """`count` (human-readable date, ISO date) pairs, dates drawn uniformly in [start, end]."""
    rng = random.Random(seed)
    first = datetime.date(start, 1, 1).toordinal()
    last = datetime.date(end, 12, 31).toordinal()
    pairs = []
    for _ in range(count):
        date = datetime.date.fromordinal(rng.randint(first, last))
        pairs.append((human_date(date, rng), date.isoformat()))
    return pairs


def load_seq2seq(name_or_path):
    from zoo import registry

    folder = cli.model_folder(name_or_path)
    sides = Sides.load(folder)
    if sides.rerank_settings is not None:
        from pipelines.rerank import Reranker

        sides.reranker = Reranker.load(folder, sides.rerank_settings)
    return registry.load(folder), sides


# === Command line ===


@click.group()
def main():
    """Sequence to sequence with attention: G2P, dates, any string-to-string pairs."""
    cli.quiet_tensorflow()


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


@main.command()
@cli.train_options
@click.option("--source-level", type=click.Choice(LEVELS), help="Default: char.")
@click.option(
    "--target-level", type=click.Choice(LEVELS), help="Default: space for cmudict, else char."
)
@click.option("--max-vocab", default=None, type=click.IntRange(5), help="Per side.")
@click.option("--units", default=256, show_default=True, type=click.IntRange(1))
@click.option("--embedding-dim", default=64, show_default=True, type=click.IntRange(1))
@click.option("--encoder-depth", default=1, show_default=True, type=click.IntRange(1))
@click.option("--decoder-depth", default=1, show_default=True, type=click.IntRange(1))
@click.option(
    "--attention",
    type=click.Choice(["additive", "multiplicative"]),
    default="multiplicative",
    show_default=True,
)
@click.option("--rnn", type=click.Choice(["lstm", "gru"]), default="lstm", show_default=True)
@click.option("--unidirectional", is_flag=True, help="Read the input forwards only.")
@click.option(
    "--input-feeding",
    is_flag=True,
    help="Feed the previous attentional state to the decoder with the previous token (Luong).",
)
@click.option(
    "--beam",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="The model's decoding default, kept in seq2seq.json (dev evaluation during training "
    "stays greedy).",
)
@click.option(
    "--dropout", default=0.2, show_default=True, type=click.FloatRange(0, 1, max_open=True)
)
@click.option(
    "--label-smoothing",
    type=click.FloatRange(0, 1, max_open=True),
    help="Spread this share of each target over the vocabulary in the loss (default 0; with "
    "--init the model's own unless given).",
)
@click.option(
    "--reverse-targets",
    is_flag=True,
    help="Write each target right to left (outputs still read left to right): a second "
    "opinion for `rerank --rescorer`.",
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
    source_level,
    target_level,
    max_vocab,
    units,
    embedding_dim,
    encoder_depth,
    decoder_depth,
    attention,
    rnn,
    unidirectional,
    input_feeding,
    dropout,
    beam,
    label_smoothing,
    reverse_targets,
):
    """Trains an encoder-decoder (or continues one with --init) and writes it to --out."""
    import keras

    from pipelines.card import describe_run
    from pipelines.training import TrainingRun, summary
    from zoo.models import Seq2Seq
    from zoo.models.seq2seq import SETTINGS

    epochs, batch_size = epochs or 30, batch_size or 64
    learning_rate, patience = learning_rate or 0.002, patience or 4
    log = lambda message: click.echo(message, err=True)  # noqa: E731
    fmt = data_format_of(train_sources[0], data_format)
    streamed = records.streamed_sources(train_sources, "seq2seq")
    if streamed:  # read again on every pass, never held in memory
        examples = StreamedPairs(streamed, max_examples)
    else:
        examples = [e for s in train_sources for e in read_examples(s, data_format, max_examples)]
    dev = read_examples(dev_source, data_format, max_examples) if dev_source else None
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
            sides = Sides.load(run.assets)
            model = run.load_checkpoint()
        else:
            if init_model:
                model, sides = load_seq2seq(init_model)
            else:
                sides = Sides.build(
                    examples,
                    source_level or "char",
                    target_level or ("space" if fmt == "cmudict" else "char"),
                    max_vocab,
                    lowercase=fmt == "cmudict",
                    reverse_targets=reverse_targets,
                )
                model = Seq2Seq(
                    len(sides.source_vocab),
                    len(sides.target_vocab),
                    embedding_dim=embedding_dim,
                    units=units,
                    encoder_depth=encoder_depth,
                    decoder_depth=decoder_depth,
                    bidirectional=not unidirectional,
                    rnn=rnn,
                    attention=attention,
                    dropout=dropout,
                    input_feeding=input_feeding,
                )
                model.build()
            if label_smoothing is not None:
                model.label_smoothing = label_smoothing
            sides.beam = beam
            sides.save(run.assets)
            model.compile(keras.optimizers.Adam(learning_rate, clipnorm=clip_norm or None))
    dataset = (stream_dataset if streamed else make_dataset)(
        sides, examples, batch_size, True, seed
    )

    def evaluate(m):
        return evaluate_model(m, sides, dev)

    result = run.fit(
        model,
        dataset,
        epochs,
        evaluate if dev else None,
        "wer" if dev else None,
        mode="min",
        patience=patience,
        lr_decay=lr_decay,
        average=average,
    )
    config = model.get_config()
    card = describe_run(
        task="seq2seq",
        model=model,
        architecture={
            "class": "zoo.models.Seq2Seq",
            **{k: config[k] for k in SETTINGS},
            "source_level": sides.source_level,
            "target_level": sides.target_level,
        },
        sizes={"source_vocab": len(sides.source_vocab), "target_vocab": len(sides.target_vocab)},
        train_sources=train_sources,
        dev_source=dev_source,
        result=result,
        extra={"init": init_model, "format": fmt, "beam": sides.beam},
    )
    run.finish(model, card=card)
    cli.print_json(summary(out, result, run.replicas))


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.option("--data", required=True, help="A pair file or a CMUdict-format file.")
@click.option("--format", "data_format", default=None, help="pairs or cmudict.")
@beam_option
@network_only_option
@cli.max_examples_option
@cli.json_option
@cli.reports_bad_input
def evaluate(model, data, data_format, beam, network_only, max_examples, as_json):
    """WER, PER, exact match (and BLEU for word targets) on a labelled file."""
    seq2seq, sides = load_seq2seq(model)
    examples = read_examples(data, data_format, max_examples)
    metrics = evaluate_model(seq2seq, sides, examples, beam or sides.beam, network_only)
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
@click.option("--input", "input_path", type=click.Path(dir_okay=False), help="One input per line.")
@beam_option
@network_only_option
@click.option(
    "--plot-attention",
    type=click.Path(dir_okay=False),
    help="Draw the attention weights of the first input as a heatmap (PNG).",
)
@cli.json_option
@cli.reports_bad_input
def predict(model, texts, input_path, beam, network_only, plot_attention, as_json):
    """The output for each input, with its mean log-probability per token."""
    seq2seq, sides = load_seq2seq(model)
    texts = cli.texts_from(texts, input_path)
    results = decode(seq2seq, sides, texts, beam or sides.beam, network_only=network_only)
    for text, (output, score) in zip(texts, results):
        if as_json:
            cli.print_json({"input": text, "output": output, "score": score})
        else:
            click.echo(f"{text}\t{output}\t{score:.4f}")
    if plot_attention and texts:
        text, output = texts[0], results[0][0]
        shown = lambda p: "\u2423" if p == " " else p  # noqa: E731  (a visible space)
        source_pieces = [
            shown(p) if sides.source_vocab.id(p) != sides.source_vocab.unk_id else "<UNK>"
            for p in Sides.split(text, sides.source_level)
        ] or ["<UNK>"]
        target_pieces = [shown(p) for p in Sides.split(output, sides.target_level)] + ["<EOS>"]
        weights = attention_weights(seq2seq, sides, text, output)
        draw_attention(plot_attention, weights, source_pieces, target_pieces)
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
@click.option("--out", required=True, type=click.Path(file_okay=False))
@cli.reports_bad_input
def rerank(model, lexicon_sources, dev_source, rescorer, data_format, beam, neighbours, out):
    """Writes --out: the model with a lexicon of its training data (inputs listed there are
    answered from it) and n-best reranking (the lexicon's neighbours, the rescorer), the
    weights tuned on --dev for exact match; prints what they give there."""
    from pipelines.rerank import build

    lexicon = [e for s in lexicon_sources for e in read_examples(s, data_format)]
    dev = read_examples(dev_source, data_format)
    folder = cli.model_folder(model)
    second = cli.model_folder(rescorer) if rescorer else None
    if not lexicon and not second:
        raise click.UsageError("give --lexicon, --rescorer or both")
    cli.print_json(build(folder, out, lexicon, dev, second, beam, neighbours))


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@cli.reports_bad_input
def export(model, out):
    """Writes a SavedModel whose serving_default maps raw strings to output strings."""
    from pipelines.export import export_seq2seq

    seq2seq, sides = load_seq2seq(model)
    export_seq2seq(seq2seq, sides, out)
    click.echo(f"SavedModel written to {out}", err=True)


@main.command()
@click.option("--num", default=40_000, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--first-year", default=1000, show_default=True, type=click.IntRange(1, 9999))
@click.option("--last-year", default=2999, show_default=True, type=click.IntRange(1, 9999))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="A pair file.")
@cli.reports_bad_input
def dates(num, seed, first_year, last_year, out):
    """Writes the course's date task: human-readable dates and their ISO form, one pair a line."""
    tmp = f"{out}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        pairs = date_pairs(num, seed, min(first_year, last_year), max(first_year, last_year))
        handle.writelines(f"{human}\t{iso}\n" for human, iso in pairs)
    os.replace(tmp, out)
    click.echo(f"{num:,} pairs written to {out}", err=True)


if __name__ == "__main__":
    sys.exit(cli.run(main))
