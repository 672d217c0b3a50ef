"""Bucketed batches: every example once, padded only to its batch's longest, seeded."""

import numpy as np
import tensorflow as tf

from pipelines.data.batching import bucketed_dataset, default_boundaries

SIGNATURE = {
    "words": tf.TensorSpec([None], tf.int32),
    "chars": tf.TensorSpec([None, None], tf.int32),
    "tags": tf.TensorSpec([None], tf.int32),
}


def _examples(n=50, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for index in range(n):
        length = int(rng.integers(1, 30))
        out.append(
            {
                "words": np.full(length, index + 1),  # the example's id, to find it again
                "chars": rng.integers(1, 9, size=(length, int(rng.integers(1, 6)))),
                "tags": rng.integers(1, 5, size=length),
            }
        )
    return out


def _batches(dataset):
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset]


def test_every_example_once_and_padding_per_batch():
    examples = _examples()
    batches = _batches(bucketed_dataset(examples, SIGNATURE, batch_size=8))
    seen = []
    longest = max(len(e["words"]) for e in examples)
    padded_to_corpus_max = 0
    for batch in batches:
        assert len(batch["words"]) <= 8
        lengths = (batch["words"] > 0).sum(axis=1)
        assert batch["words"].shape[1] == lengths.max()  # padded to this batch's longest
        padded_to_corpus_max += batch["words"].shape[1] == longest
        assert batch["chars"].shape[:2] == batch["words"].shape
        seen.extend(int(row[0]) for row in batch["words"])
    assert sorted(seen) == list(range(1, len(examples) + 1))
    assert padded_to_corpus_max < len(batches)
    # examples' own values survive padding
    for batch in batches:
        for row, tags in zip(batch["words"], batch["tags"]):
            original = examples[int(row[0]) - 1]
            np.testing.assert_array_equal(tags[: len(original["tags"])], original["tags"])


def test_same_seed_same_batches_and_epochs_differ():
    examples = _examples()
    first = bucketed_dataset(examples, SIGNATURE, batch_size=8, seed=3)
    again = bucketed_dataset(examples, SIGNATURE, batch_size=8, seed=3)
    order = [b["words"][:, 0].tolist() for b in _batches(first)]
    assert order == [b["words"][:, 0].tolist() for b in _batches(again)]
    assert order != [b["words"][:, 0].tolist() for b in _batches(first)]  # the next epoch


def test_unshuffled_keeps_bucket_order_and_boundaries_split_lengths():
    lengths = [1, 2, 3, 10, 11, 12]
    examples = [
        {"words": np.ones(n), "chars": np.ones((n, 1)), "tags": np.ones(n)} for n in lengths
    ]
    batches = _batches(
        bucketed_dataset(examples, SIGNATURE, batch_size=8, boundaries=[5], shuffle=False)
    )
    assert sorted(b["words"].shape[1] for b in batches) == [3, 12]
    assert default_boundaries(np.arange(1, 101), buckets=4) == [26, 51, 76]


def test_pad_to_multiple_bounds_batch_shapes():
    examples = _examples()
    batches = _batches(bucketed_dataset(examples, SIGNATURE, batch_size=8, pad_to_multiple=8))
    assert {b["words"].shape[1] % 8 for b in batches} == {0}
    assert all(b["chars"].shape[1] == b["words"].shape[1] for b in batches)
    seen = sorted(int(row[0]) for b in batches for row in b["words"])
    assert seen == list(range(1, len(examples) + 1))
