"""NER data: tagged sentences from CoNLL files, `tfds:` sources and records folders, and the
padded, length-bucketed training batches."""

import numpy as np

from pipelines.data import records
from pipelines.errors import BadSetting, DataError
from pipelines.ner.preprocess import MAX_WORD_CHARS


def read_tagged(source, max_examples=None, data_format=None, scheme="auto", documents=False):
    """(tokens, tags) sentences from a CoNLL file or a `tfds:` source, tags in IOB2; with
    `documents`, also each sentence's document: the `-DOCSTART-` lines of a CoNLL file part
    them, and a sentence before any (or from a `tfds:` source) is a document of its own."""
    from pipelines.data import conll, tfds_source

    if tfds_source.is_tfds(source):
        pairs = tfds_source.tagged_sentences(source, max_examples)
        for number, (tokens, tags) in enumerate(pairs, 1):
            if len(tokens) != len(tags) or not tokens:
                raise DataError(source, f"example {number}: {len(tokens)} tokens, {len(tags)} tags")
        origin = scheme if scheme != "auto" else conll.detect_scheme(t for _, t in pairs)
        pairs = [(tokens, conll.convert_scheme(tags, origin, "iob2")) for tokens, tags in pairs]
        return (pairs, [("sentence", i) for i in range(len(pairs))]) if documents else pairs
    if data_format not in (None, "conll"):
        raise BadSetting("--format", f"unknown format {data_format!r} (ner reads conll)")
    sentences = conll.read_conll(source, scheme=scheme, max_examples=max_examples)
    pairs = [(s.tokens, s.tags) for s in sentences]
    if not documents:
        return pairs
    return pairs, [
        ("sentence", i) if s.document is None else s.document for i, s in enumerate(sentences)
    ]


class Documents(list):
    """(tokens, tags) sentences in their order with each one's document (`documents`, a
    hashable per sentence): what contextual embeddings with document context read around
    each sentence."""

    def __init__(self, sentences, documents):
        super().__init__(sentences)
        self.documents = list(documents)
        if len(self.documents) != len(self):
            raise ValueError(f"{len(self)} sentences, {len(self.documents)} documents")


def read_documents(sources, max_examples=None, data_format=None, scheme="auto"):
    """`Documents` of the sentences of several sources (`read_tagged`), in order; no
    document spans two sources."""
    sentences, documents = [], []
    for number, source in enumerate(sources):
        pairs, parts = read_tagged(source, max_examples, data_format, scheme, documents=True)
        sentences += pairs
        documents += [(number, part) for part in parts]
    return Documents(sentences, documents)


def documents_of(sentences):
    """Each sentence's document when `sentences` are `Documents`, else None."""
    return getattr(sentences, "documents", None)


def singletons(vocabs, sentences):
    """A boolean per word id: the word occurs exactly once in `sentences`."""
    from collections import Counter

    counts = Counter(vocabs.word_id(t) for tokens, _ in sentences for t in tokens)
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
    if vocabs.contextual is not None:  # the language models run once, not every epoch
        token_lists = [tokens for tokens, _ in sentences]
        contexts = vocabs.contextual.contexts(token_lists, documents_of(sentences))
        vectors = vocabs.contextual.embed(token_lists, dtype="float16", contexts=contexts)
        for example, v in zip(examples, vectors):
            example["contextual"] = v
        signature["contextual"] = tf.TensorSpec([None, vocabs.contextual.dim], tf.float16)
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
        inputs = {"words": words, "chars": batch["chars"]}
        if "contextual" in batch:
            inputs["contextual"] = tf.cast(batch["contextual"], tf.float32)
        return inputs, batch["tags"]

    return split


class StreamedSentences(records.Stream):
    """The (tokens, tags) sentences of records folders (`pipelines.records`, task `ner`)."""

    def item(self, example):
        return example["words"], example["tags"]


def stream_dataset(vocabs, sentences, batch_size, shuffle=True, seed=0, word_dropout=0.0):
    """`make_dataset` for `StreamedSentences`: the same batches, encoded inside the input
    pipeline (words as `NERPreprocessor.graph_word_ids` finds them, characters, tags) and
    bucketed by length."""
    import tensorflow as tf

    words_table, chars_table = vocabs.words.lookup_table(), vocabs.chars.lookup_table()
    tag_names = vocabs.tags.tokens[1:]
    tags_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tag_names, list(range(1, len(tag_names) + 1))), 0
    )
    data = sentences.dataset(shuffle, seed)

    def encode(example):
        tokens = example["words"]
        words = vocabs.graph_word_ids(tokens, words_table)
        letters = tf.strings.unicode_split(tokens, "UTF-8", errors="replace")
        chars = tf.ragged.map_flat_values(chars_table.lookup, letters[:, :MAX_WORD_CHARS])
        chars = tf.cast(chars, tf.int32).to_tensor(0)
        chars = tf.pad(chars, [[0, 0], [0, tf.maximum(1 - tf.shape(chars)[1], 0)]])
        tags = tf.cast(tags_table.lookup(example["tags"]), tf.int32)
        return {"words": words, "chars": chars, "tags": tags}

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


def records_reader(source, data_format, max_examples):
    """The examples of a source as `pipelines.data.records` stores them (task `ner`)."""
    return [
        {"words": list(words), "tags": list(tags)}
        for words, tags in read_tagged(source, max_examples, data_format)
    ]
