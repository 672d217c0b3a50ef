"""Sources `tfds:NAME[/CONFIG][:SPLIT]`: corpora through tensorflow-datasets.

`tfds:conll2003` (the train split), `tfds:conll2003:dev`, `tfds:wikiann/en:validation`,
`tfds:imdb_reviews:test`, ... The dataset must be prepared in the tensorflow-datasets data folder
(`TFDS_DATA_DIR`, default `~/tensorflow_datasets`) or downloadable; tests run this code path on
`tfds.testing.mock_data`.
"""

from pipelines.errors import DataError

PREFIX = "tfds:"
SPLIT_ALIASES = {"dev": "validation", "valid": "validation"}


def is_tfds(source):
    return str(source).startswith(PREFIX)


def parse(source):
    """`tfds:NAME[/CONFIG][:SPLIT]` -> (name with config, split or None)."""
    spec = str(source)[len(PREFIX) :]
    name, _, split = spec.partition(":")
    if not name:
        raise DataError(source, "expected tfds:NAME[/CONFIG][:SPLIT]")
    return name, SPLIT_ALIASES.get(split, split) or None


def load_examples(source, default_split="train", max_examples=None):
    """The examples of a tensorflow-datasets split as dicts of NumPy values, with the dataset's
    info (for label names). Raises `DataError` when the dataset cannot be loaded."""
    import tensorflow_datasets as tfds

    name, split = parse(source)
    split = split or default_split
    if max_examples:
        split = f"{split}[:{max_examples}]"
    try:
        dataset, info = tfds.load(name, split=split, with_info=True)
    except Exception as error:  # tfds raises many kinds: unknown name, no network, bad split
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(source, f"cannot load from tensorflow-datasets: {message}") from None
    return list(tfds.as_numpy(dataset)), info


def tagged_sentences(source, max_examples=None):
    """A token-classification dataset (conll2003, wikiann, wnut17, ...) as (tokens, tags) pairs,
    tags as strings: the `tokens` feature and the first of `ner`, `ner_tags`, `tags`."""
    examples, info = load_examples(source, max_examples=max_examples)
    features = info.features
    key = next((k for k in ("ner", "ner_tags", "tags") if k in features), None)
    if "tokens" not in features or key is None:
        raise DataError(source, "has no tokens and ner/tags features")
    names = features[key].feature.names
    return [
        (
            [t.decode("utf-8") for t in example["tokens"]],
            [names[int(i)] for i in example[key]],
        )
        for example in examples
    ]
