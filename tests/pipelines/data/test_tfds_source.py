"""`tfds:NAME[/CONFIG][:SPLIT]` sources through tensorflow-datasets' own code, on mock data."""

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from pipelines.data import tfds_source
from pipelines.errors import DataError
from pipelines.ner.data import read_tagged


def test_parse():
    assert tfds_source.parse("tfds:conll2003") == ("conll2003", None)
    assert tfds_source.parse("tfds:wikiann/en:dev") == ("wikiann/en", "validation")
    with pytest.raises(DataError):
        tfds_source.parse("tfds:")


def _conll_examples(self, *args, **kwargs):
    names = self.info.features["ner"].feature.names
    tokens = [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    tags = [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]
    return tf.data.Dataset.from_generator(
        lambda: (
            {
                "tokens": t,
                "ner": [names.index(x) for x in g],
                "pos": [0] * len(t),
                "chunks": [0] * len(t),
            }
            for t, g in zip(tokens, tags)
        ),
        output_signature={
            "tokens": tf.TensorSpec([None], tf.string),
            "ner": tf.TensorSpec([None], tf.int64),
            "pos": tf.TensorSpec([None], tf.int64),
            "chunks": tf.TensorSpec([None], tf.int64),
        },
    )


def test_conll2003_through_tensorflow_datasets():
    with tfds.testing.mock_data(as_dataset_fn=_conll_examples):
        sentences = read_tagged("tfds:conll2003:dev")
    assert sentences == [
        (["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"]),
        (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
    ]
    with tfds.testing.mock_data(as_dataset_fn=_conll_examples):
        same, documents = read_tagged("tfds:conll2003:dev", documents=True)
    assert same == sentences and len(set(documents)) == 2  # no documents: each sentence alone


def test_random_mock_data_with_ragged_lengths_is_bad_input():
    # tfds's random mock examples have as many tags as tokens only by chance
    with tfds.testing.mock_data(num_examples=4):
        try:
            read_tagged("tfds:conll2003")
        except DataError as error:
            assert str(error).startswith("tfds:conll2003: example")


def test_unknown_dataset_is_bad_input():
    with pytest.raises(DataError, match="tfds:no_such_dataset_xyz: cannot load"):
        read_tagged("tfds:no_such_dataset_xyz")


def _shakespeare(self, *args, **kwargs):
    return tf.data.Dataset.from_tensors({"text": tf.constant("First Citizen:\nBefore we proceed")})


def test_tiny_shakespeare_through_tensorflow_datasets():
    from pipelines.lm.data import read_corpus

    with tfds.testing.mock_data(as_dataset_fn=_shakespeare):
        assert read_corpus("tfds:tiny_shakespeare:validation") == (
            "First Citizen:\nBefore we proceed"
        )
