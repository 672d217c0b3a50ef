"""Named entity recognition end to end: `python -m pipelines.ner train|evaluate|predict|export`.

    python -m pipelines.ner predict "Teddy Roosevelt was a great president."
    python -m pipelines.ner evaluate --data ../shared/data/conll2003/valid.txt --json
    python -m pipelines.ner train --train train.conll --dev dev.conll --out my-tagger
    python -m pipelines.ner train --init ner-conll2003 --train wnut17/train.conll --out wnut
    python -m pipelines.ner export --out serving/

Data: CoNLL column files (`word ... tag`, IOB1/IOB2/BIOES) or `tfds:conll2003[:SPLIT]`.
A model folder holds `model.keras` (a `zoo.models.NERTagger`), `words.txt`, `chars.txt`,
`tags.txt` and `card.json`.
"""

import os
import sys
import time
import weakref

import click
import numpy as np

from pipelines import cli, records

if __name__ == "__main__":  # before anything imports TensorFlow
    cli.quiet_tensorflow()
from pipelines.errors import DataError

DEFAULT_MODEL = "ner-conll2003"
MAX_WORD_CHARS = 30  # longer words (URLs) are cut for the character encoder
PREDICT_WINDOW = 256  # tokens per window when predicting on a long text


# === Data ===


def read_tagged(source, max_examples=None, data_format=None, scheme="auto"):
    """(tokens, tags) sentences from a CoNLL file or a `tfds:` source, tags in IOB2."""
    from pipelines.data import conll, tfds_source

    if tfds_source.is_tfds(source):
        pairs = tfds_source.tagged_sentences(source, max_examples)
        for number, (tokens, tags) in enumerate(pairs, 1):
            if len(tokens) != len(tags) or not tokens:
                raise DataError(source, f"example {number}: {len(tokens)} tokens, {len(tags)} tags")
        origin = scheme if scheme != "auto" else conll.detect_scheme(t for _, t in pairs)
        return [(tokens, conll.convert_scheme(tags, origin, "iob2")) for tokens, tags in pairs]
    if data_format not in (None, "conll"):
        raise click.BadParameter(f"unknown format {data_format!r} (ner reads conll)")
    sentences = conll.read_conll(source, scheme=scheme, max_examples=max_examples)
    return [(s.tokens, s.tags) for s in sentences]


class Vocabularies:
    """The three vocabularies of a tagger (words, characters, tags) and how text becomes ids.

    Words are looked up as `normalize_word` makes them (case kept, digits folded to 0);
    characters as they are; tag 0 is padding.
    """

    def __init__(self, words, chars, tags):
        self.words, self.chars, self.tags = words, chars, tags

    @classmethod
    def build(cls, sentences, min_count=2, extra_words=()):
        from pipelines.text import Vocabulary, normalize_word

        counted = Vocabulary.build(
            ([normalize_word(t) for t in tokens] for tokens, _ in sentences), min_count=min_count
        )
        words = Vocabulary(list(dict.fromkeys(list(extra_words) + counted.tokens[4:])))
        chars = Vocabulary.build(list(t) for tokens, _ in sentences for t in tokens)
        tags = Vocabulary.build((tags for _, tags in sentences), specials=("<PAD>",))
        return cls(words, chars, tags)

    def save(self, folder):
        for name in ("words", "chars", "tags"):
            getattr(self, name).save(os.path.join(folder, f"{name}.txt"))

    @classmethod
    def load(cls, folder):
        from pipelines.text import Vocabulary

        return cls(
            Vocabulary.load(os.path.join(folder, "words.txt")),
            Vocabulary.load(os.path.join(folder, "chars.txt")),
            Vocabulary.load(os.path.join(folder, "tags.txt"), specials=("<PAD>",)),
        )

    def encode(self, tokens):
        """{"words": (T,), "chars": (T, longest word)} int32 ids of one sentence."""
        from pipelines.text import normalize_word

        letters = max(1, min(MAX_WORD_CHARS, max((len(t) for t in tokens), default=1)))
        chars = np.zeros((len(tokens), letters), "int32")
        for i, token in enumerate(tokens):
            ids = self.chars.encode(list(token[:MAX_WORD_CHARS]))
            chars[i, : len(ids)] = ids
        words = np.asarray(self.words.encode([normalize_word(t) for t in tokens]), "int32")
        return {"words": words, "chars": chars}


def singletons(vocabs, sentences):
    """A boolean per word id: the word occurs exactly once in `sentences`."""
    from collections import Counter

    from pipelines.text import normalize_word

    counts = Counter(vocabs.words.id(normalize_word(t)) for tokens, _ in sentences for t in tokens)
    once = np.zeros(len(vocabs.words), bool)
    once[[i for i, c in counts.items() if c == 1]] = True
    once[vocabs.words.unk_id] = False
    return once


def make_dataset(vocabs, sentences, batch_size, shuffle, seed=0, word_dropout=0.0):
    """Padded, length-bucketed batches `({"words", "chars"}, tags)`. With `word_dropout`, each
    word seen once in `sentences` is replaced by `<UNK>` with that probability, afresh every
    epoch (Lample et al. 2016), so that `<UNK>` learns to stand for words unseen in training."""
    import tensorflow as tf

    from pipelines.data import bucketed_dataset

    examples = []
    for tokens, tags in sentences:
        example = vocabs.encode(tokens)
        example["tags"] = np.asarray(
            [vocabs.tags.id(t) if t in vocabs.tags else 0 for t in tags], "int32"
        )
        examples.append(example)
    signature = {
        "words": tf.TensorSpec([None], tf.int32),
        "chars": tf.TensorSpec([None, None], tf.int32),
        "tags": tf.TensorSpec([None], tf.int32),
    }
    dataset = bucketed_dataset(
        examples, signature, batch_size, shuffle=shuffle, seed=seed, pad_to_multiple=8
    )
    return dataset.map(_split_batch(vocabs, sentences, word_dropout))


def _split_batch(vocabs, sentences, word_dropout):
    """batch -> (inputs, tags), with word dropout: words seen once in training become `<UNK>`
    with probability `word_dropout`, so the model learns what to do with unknown words."""
    import tensorflow as tf

    once = tf.constant(singletons(vocabs, sentences)) if word_dropout else None

    def split(batch):
        words = batch["words"]
        if once is not None:
            drop = tf.gather(once, words) & (tf.random.uniform(tf.shape(words)) < word_dropout)
            words = tf.where(drop, vocabs.words.unk_id, words)
        return {"words": words, "chars": batch["chars"]}, batch["tags"]

    return split


class StreamedSentences(records.Stream):
    """The (tokens, tags) sentences of records folders (`pipelines.records`, task `ner`)."""

    def item(self, example):
        return example["words"], example["tags"]


def stream_dataset(vocabs, sentences, batch_size, shuffle=True, seed=0, word_dropout=0.0):
    """`make_dataset` for `StreamedSentences`: the same batches, encoded inside the input
    pipeline (words with digits folded, characters, tags) and bucketed by length."""
    import tensorflow as tf

    words_table, chars_table = vocabs.words.lookup_table(), vocabs.chars.lookup_table()
    tag_names = vocabs.tags.tokens[1:]
    tags_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tag_names, list(range(1, len(tag_names) + 1))), 0
    )
    data = sentences.dataset(shuffle, seed)

    def encode(example):
        tokens = example["words"]
        words = words_table.lookup(tf.strings.regex_replace(tokens, "[0-9]", "0"))
        letters = tf.strings.unicode_split(tokens, "UTF-8", errors="replace")
        chars = tf.ragged.map_flat_values(chars_table.lookup, letters[:, :MAX_WORD_CHARS])
        chars = tf.cast(chars, tf.int32).to_tensor(0)
        chars = tf.pad(chars, [[0, 0], [0, tf.maximum(1 - tf.shape(chars)[1], 0)]])
        tags = tf.cast(tags_table.lookup(example["tags"]), tf.int32)
        return {"words": tf.cast(words, tf.int32), "chars": chars, "tags": tags}

    data = data.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    boundaries = [8, 16, 24, 32, 48, 64, 96, 128]
    data = data.bucket_by_sequence_length(
        lambda e: tf.shape(e["words"])[0],
        boundaries,
        [batch_size] * (len(boundaries) + 1),
        padded_shapes={"words": [None], "chars": [None, None], "tags": [None]},
    )
    split = _split_batch(vocabs, sentences, word_dropout)
    return data.map(split).prefetch(tf.data.AUTOTUNE)


# === Models ===


def load_tagger(name_or_path):
    """(model, vocabularies, folder) of a tagger folder or shipped model name."""
    from zoo import registry

    folder = cli.model_folder(name_or_path)
    return registry.load(folder), Vocabularies.load(folder), folder


_COMPILED = weakref.WeakKeyDictionary()


def _compiled(model):
    """`model.tags_and_probabilities` as a `tf.function` (one per model), for any batch shape."""
    import tensorflow as tf

    if model not in _COMPILED:
        _COMPILED[model] = tf.function(
            model.tags_and_probabilities,
            input_signature=[
                {
                    "words": tf.TensorSpec([None, None], tf.int32),
                    "chars": tf.TensorSpec([None, None, None], tf.int32),
                }
            ],
        )
    return _COMPILED[model]


def tag_batch(model, vocabs, token_lists, batch_size=64):
    """Best tags and their probabilities (CRF marginals) for lists of tokens."""

    results = [None] * len(token_lists)
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
    for lo in range(0, len(order), batch_size):
        chunk = [i for i in order[lo : lo + batch_size] if token_lists[i]]
        for i in order[lo : lo + batch_size]:
            if not token_lists[i]:
                results[i] = ([], [])
        if not chunk:
            continue
        encoded = [vocabs.encode(token_lists[i]) for i in chunk]
        steps = max(len(e["words"]) for e in encoded)
        letters = max(e["chars"].shape[1] for e in encoded)
        words = np.zeros((len(chunk), steps), "int32")
        chars = np.zeros((len(chunk), steps, letters), "int32")
        for row, e in enumerate(encoded):
            words[row, : len(e["words"])] = e["words"]
            chars[row, : e["chars"].shape[0], : e["chars"].shape[1]] = e["chars"]
        best, probabilities = _compiled(model)({"words": words, "chars": chars})
        best, probabilities = best.numpy(), probabilities.numpy()
        for row, i in enumerate(chunk):
            n = len(token_lists[i])
            ids = best[row, :n]
            tags = [vocabs.tags.token(int(t)) if t > 0 else "O" for t in ids]
            results[i] = (tags, [float(probabilities[row, t, ids[t]]) for t in range(n)])
    return results


SENTENCE_ENDS = {".", "!", "?"}


def tag_long(model, vocabs, tokens):
    """Tags a text of any length. The text is cut after sentence-ending punctuation into pieces
    of at most `PREDICT_WINDOW` tokens, tagged as a batch; a longer stretch without one is tagged
    in windows overlapping by half, each token taken from the window where it is most central,
    with each cut moved past the end of an entity so that entities stay whole."""
    pieces, start = [], 0
    for i, token in enumerate(tokens):
        if token in SENTENCE_ENDS or i - start + 1 >= PREDICT_WINDOW or i == len(tokens) - 1:
            pieces.append((start, i + 1))
            start = i + 1
    # a piece cut by length (no sentence end) is re-tagged in overlapping windows below
    tagged = tag_batch(model, vocabs, [tokens[a:b] for a, b in pieces])
    tags, scores = [], []
    for piece_tags, piece_scores in tagged:
        tags += piece_tags
        scores += piece_scores
    if not any(b - a >= PREDICT_WINDOW for a, b in pieces):
        return tags, scores
    stretches, start = [], 0
    for i, token in enumerate(tokens):
        if token in SENTENCE_ENDS or i == len(tokens) - 1:
            if i + 1 - start > PREDICT_WINDOW:
                stretches.append((start, i + 1))
            start = i + 1
    for a, b in stretches:
        step = PREDICT_WINDOW // 2
        starts = list(range(a, max(a + 1, b - PREDICT_WINDOW + step), step))
        windows = tag_batch(model, vocabs, [tokens[s : s + PREDICT_WINDOW] for s in starts])
        position = a
        for k, (s, (w_tags, w_scores)) in enumerate(zip(starts, windows)):
            end = min(b, s + len(w_tags))
            cut = end if k == len(starts) - 1 else min(end, s + step + step // 2)
            while cut < end and w_tags[cut - s].startswith("I-"):
                cut += 1  # keep an entity that runs over the cut whole
            for t in range(position, cut):
                tags[t], scores[t] = w_tags[t - s], w_scores[t - s]
            if position < cut and tags[position].startswith("I-") and k > 0:
                tags[position] = "B-" + tags[position][2:]
            position = max(position, cut)
    return tags, scores


def annotate(text, model, vocabs):
    """The prediction for one raw text: tokens, tags and entities with character offsets."""
    from pipelines.data import entity_spans
    from pipelines.text import word_tokenize

    tokens = word_tokenize(text)
    tags, scores = tag_long(model, vocabs, [t.text for t in tokens])
    entities = []
    for kind, first, last in entity_spans(tags):
        start, end = tokens[first].start, tokens[last - 1].end
        entities.append(
            {
                "text": text[start:end],
                "type": kind,
                "start": start,
                "end": end,
                "score": round(float(np.mean(scores[first:last])), 4),
            }
        )
    return {"text": text, "tokens": [t.text for t in tokens], "tags": tags, "entities": entities}


def marked(record):
    """The text with entities marked in place: `[Teddy Roosevelt]PER was ...`."""
    text, out, at = record["text"], [], 0
    for entity in record["entities"]:
        out += [text[at : entity["start"]], f"[{entity['text']}]{entity['type']}"]
        at = entity["end"]
    return "".join(out + [text[at:]])


def evaluate_tags(gold, predicted):
    """Entity-level precision, recall, F1 (seqeval's default mode, the one conlleval uses),
    overall (micro-averaged) and per type."""
    from seqeval.metrics import classification_report

    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    micro = report["micro avg"]
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "per_type": {
            kind: {
                "precision": float(r["precision"]),
                "recall": float(r["recall"]),
                "f1": float(r["f1-score"]),
                "support": int(r["support"]),
            }
            for kind, r in sorted(report.items())
            if not kind.endswith(" avg")
        },
        "sentences": len(gold),
    }


def evaluate_model(model, vocabs, sentences):
    tagged = tag_batch(model, vocabs, [tokens for tokens, _ in sentences], batch_size=256)
    return evaluate_tags([tags for _, tags in sentences], [t for t, _ in tagged])


# === Training ===

ARCHITECTURE = {
    "word_dim": 100,
    "char_dim": 25,
    "char_encoder": "lstm",
    "char_units": 25,
    "rnn": "lstm",
    "units": 200,
    "depth": 1,
    "dropout": 0.5,
    "head": "crf",
}


def build_tagger(vocabs, architecture, vectors=None, log=None):
    """A new NERTagger for `vocabs`; word embeddings start from `vectors` (words, matrix) where
    a word (or its lower-case form) has one."""
    from zoo.models import NERTagger

    model = NERTagger(len(vocabs.words), len(vocabs.chars), len(vocabs.tags), **architecture)
    model.build()
    if vectors is not None:
        from pipelines.vectors import fill_embeddings

        found = fill_embeddings(model.word_embedding, vocabs.words.tokens, vectors)
        if log:
            log(f"word vectors for {found:,} of {len(vocabs.words):,} words")
    return model


def grow(old_model, old, new, architecture, log):
    """`old_model` carried over to the vocabularies `new` (a superset of `old`'s words and
    characters): known rows keep their embeddings, new ones start fresh; the tag head is kept
    when the tag set is unchanged and replaced otherwise."""
    model = build_tagger(new, architecture)
    same_tags = new.tags.tokens == old.tags.tokens
    for layer, source in zip(model.layers, old_model.layers):  # built in the same order
        if layer.name in ("word_embedding", "char_embedding"):
            (table,) = source.get_weights()
            fresh = layer.get_weights()[0]
            fresh[: len(table)] = table
            layer.set_weights([fresh])
        elif layer.name in ("tag_scores", "crf") and not same_tags:
            continue
        else:
            layer.set_weights(source.get_weights())
    log(
        f"--init: {len(new.words) - len(old.words):,} new words, "
        f"{len(new.chars) - len(old.chars):,} new characters, "
        + ("tag head kept" if same_tags else f"new tag head for {len(new.tags) - 1} tags")
    )
    return model


def set_encoder_trainable(model, trainable):
    for layer in model.layers:
        if layer.name not in ("tag_scores", "crf"):
            layer.trainable = trainable


@click.group()
def main():
    """Named entity recognition: a BiLSTM-CRF tagger over words and characters."""
    cli.quiet_tensorflow()


@main.command()
@cli.train_options
@click.option(
    "--vectors",
    type=click.Path(dir_okay=False),
    help="Word vectors (word2vec/GloVe text) to start the word embeddings from.",
)
@click.option(
    "--min-count",
    default=2,
    show_default=True,
    type=click.IntRange(1),
    help="Keep training words seen at least this often (words with vectors are always kept).",
)
@click.option("--units", default=None, type=click.IntRange(1), help="RNN units each way.")
@click.option("--rnn", type=click.Choice(["lstm", "gru"]), default=None)
@click.option("--head", type=click.Choice(["crf", "softmax"]), default=None)
@click.option("--char-encoder", type=click.Choice(["lstm", "cnn"]), default=None)
@click.option(
    "--max-vectors",
    default=40_000,
    show_default=True,
    type=click.IntRange(1),
    help="Use the first N words of the vectors file (word2vec files list the most frequent first).",
)
@click.option(
    "--word-dropout",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Replace words seen once in training by <UNK> with this probability.",
)
@click.option(
    "--scheme",
    type=click.Choice(["auto", "iob1", "iob2", "bioes"]),
    default="auto",
    show_default=True,
    help="Tag scheme of the data files (converted to IOB2).",
)
@click.option(
    "--freeze-encoder-epochs",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="With --init: train only the tag head for this many epochs first.",
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
    vectors,
    max_vectors,
    min_count,
    units,
    rnn,
    head,
    char_encoder,
    word_dropout,
    scheme,
    freeze_encoder_epochs,
):
    """Trains a tagger (or fine-tunes one with --init) and writes it to --out."""
    import keras

    from pipelines.training import TrainingRun, summary

    started = time.time()
    epochs = epochs or 30
    batch_size = batch_size or 32
    learning_rate = learning_rate or 0.002
    patience = patience or 5
    log = lambda message: click.echo(message, err=True)  # noqa: E731
    streamed = records.streamed_sources(train_sources, "ner")
    if streamed:  # read again on every pass, never held in memory
        sentences = StreamedSentences(streamed, max_examples)
    else:
        sentences = [
            s
            for source in train_sources
            for s in read_tagged(source, max_examples, data_format, scheme)
        ]
    dev = read_tagged(dev_source, max_examples, data_format, scheme) if dev_source else None
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
            vocabs = Vocabularies.load(run.assets)
            model = run.load_checkpoint()
            architecture = {k: model.get_config()[k] for k in ARCHITECTURE}
        else:
            architecture = dict(ARCHITECTURE)
            for key, value in (
                ("units", units),
                ("rnn", rnn),
                ("head", head),
                ("char_encoder", char_encoder),
            ):
                if value is not None:
                    architecture[key] = value
            if init_model:
                old_model, old, _ = load_tagger(init_model)
                architecture = {k: old_model.get_config()[k] for k in ARCHITECTURE}
                fresh = Vocabularies.build(sentences, min_count)
                words = old.words.tokens[4:] + fresh.words.tokens[4:]
                chars = old.chars.tokens[4:] + fresh.chars.tokens[4:]
                new_tags = fresh.tags.tokens[1:]
                tags = old.tags if set(new_tags) <= set(old.tags.tokens) else fresh.tags
                from pipelines.text import Vocabulary

                vocabs = Vocabularies(
                    Vocabulary(list(dict.fromkeys(words))),
                    Vocabulary(list(dict.fromkeys(chars))),
                    tags,
                )
                model = grow(old_model, old, vocabs, architecture, log)
            else:
                from pipelines.vectors import load_vectors

                loaded = load_vectors(vectors) if vectors else None
                if loaded:
                    loaded = (loaded[0][:max_vectors], loaded[1][:max_vectors])
                vocabs = Vocabularies.build(sentences, min_count, loaded[0] if loaded else ())
                model = build_tagger(vocabs, architecture, loaded, log)
            vocabs.save(run.assets)

    unknown = {t for _, tags in dev or [] for t in tags} - set(vocabs.tags.tokens)
    if unknown:
        raise DataError(dev_source, f"tags not in the training data: {', '.join(sorted(unknown))}")
    dataset = (stream_dataset if streamed else make_dataset)(
        vocabs,
        sentences,
        batch_size,
        shuffle=True,
        seed=seed + (run.state or {}).get("epoch", 0),
        word_dropout=word_dropout,
    )
    evaluate = (lambda m: _dev_metrics(m, vocabs, dev)) if dev else None
    monitor = "f1" if dev else None

    def compile_model(learning_rate):
        with run.scope():
            model.compile(
                keras.optimizers.Adam(learning_rate, clipnorm=clip_norm or None),
                jit_compile=False,
            )

    if not run.resumed:
        compile_model(learning_rate)
    done = (run.state or {}).get("epoch", 0)
    if init_model and freeze_encoder_epochs and done < freeze_encoder_epochs:
        set_encoder_trainable(model, False)
        compile_model(learning_rate)
        run.fit(
            model, dataset, min(freeze_encoder_epochs, epochs), evaluate, monitor, patience=None
        )
        set_encoder_trainable(model, True)
        compile_model(learning_rate)
    result = run.fit(
        model,
        dataset,
        epochs,
        evaluate,
        monitor,
        patience=patience,
        lr_decay=lr_decay,
        average=average,
    )
    seconds = time.time() - started
    card = make_card(
        model, vocabs, architecture, train_sources, dev_source, result, init_model, vectors
    )
    run.finish(model, card=card)
    cli.print_json({**summary(out, result, run.replicas), "seconds": round(seconds, 1)})


def _dev_metrics(model, vocabs, dev):
    metrics = evaluate_model(model, vocabs, dev)
    return {k: metrics[k] for k in ("precision", "recall", "f1")}


def make_card(model, vocabs, architecture, sources, dev_source, result, init_model, vectors):
    from pipelines.card import describe_run, describe_source

    return describe_run(
        task="ner",
        model=model,
        architecture={"class": "zoo.models.NERTagger", **architecture},
        sizes={
            "words": len(vocabs.words),
            "chars": len(vocabs.chars),
            "tags": vocabs.tags.tokens[1:],
        },
        train_sources=sources,
        dev_source=dev_source,
        result=result,
        extra={"init": init_model, "vectors": describe_source(vectors) if vectors else None},
    )


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.option("--data", required=True, help="A CoNLL file or tfds:NAME[:SPLIT].")
@click.option("--format", "data_format", default=None)
@cli.max_examples_option
@click.option(
    "--scheme",
    type=click.Choice(["auto", "iob1", "iob2", "bioes"]),
    default="auto",
    show_default=True,
    help="Tag scheme of the data file.",
)
@cli.json_option
@cli.reports_bad_input
def evaluate(model, data, data_format, max_examples, scheme, as_json):
    """Entity-level precision, recall and F1 (conlleval's counting), overall and per type."""
    sentences = read_tagged(data, max_examples, data_format, scheme)
    tagger, vocabs, _ = load_tagger(model)
    metrics = evaluate_model(tagger, vocabs, sentences)
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
@cli.model_option(DEFAULT_MODEL)
@click.argument("texts", nargs=-1)
@click.option("--input", "input_path", type=click.Path(dir_okay=False), help="One text per line.")
@cli.json_option
@cli.reports_bad_input
def predict(model, texts, input_path, as_json):
    """Finds the entities in raw texts (arguments, --input FILE or standard input)."""
    texts = cli.texts_from(texts, input_path)
    tagger, vocabs, _ = load_tagger(model)
    for text in texts:
        record = annotate(text, tagger, vocabs)
        if as_json:
            cli.print_json(record)
        else:
            click.echo(marked(record))


@main.command()
@cli.model_option(DEFAULT_MODEL)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@cli.reports_bad_input
def export(model, out):
    """Writes a SavedModel whose serving_default tags raw strings (tensorflow alone runs it)."""
    from pipelines.export import export_tagger

    tagger, vocabs, _ = load_tagger(model)
    export_tagger(tagger, vocabs, out, max_word_chars=MAX_WORD_CHARS)
    click.echo(f"SavedModel written to {out}", err=True)


if __name__ == "__main__":
    sys.exit(cli.run(main))
