"""`Vocabulary`: special ids, top-m building, plain-text files, in-graph lookup."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines.errors import DataError
from pipelines.text import BOS, EOS, PAD, UNK, Vocabulary

SENTENCES = [["the", "cat", "sat"], ["the", "dog", "sat"], ["the", "end"]]


def test_specials_come_first_then_tokens_by_count():
    vocab = Vocabulary.build(SENTENCES)
    assert vocab.tokens[:4] == [PAD, UNK, BOS, EOS]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert vocab.tokens[4:] == ["the", "sat", "cat", "dog", "end"]  # ties alphabetical
    assert vocab.encode(["the", "cow"]) == [4, 1]
    assert vocab.decode([4, 5]) == ["the", "sat"]


def test_min_count_and_max_size():
    assert Vocabulary.build(SENTENCES, min_count=2).tokens[4:] == ["the", "sat"]
    assert len(Vocabulary.build(SENTENCES, max_size=6)) == 6  # specials count
    with pytest.raises(ValueError, match="no room"):
        Vocabulary.build(SENTENCES, max_size=3)


def test_counts_mapping_and_tag_vocabulary_without_specials():
    tags = Vocabulary.build({"O": 10, "B-PER": 3}, specials=())
    assert tags.tokens == ["O", "B-PER"]
    with pytest.raises(KeyError):
        tags.id("B-XYZ")


def test_save_and_load_round_trip_with_odd_characters(tmp_path):
    vocab = Vocabulary(["a", "\n", "\\n", "\t", " ", "é"])
    vocab.save(tmp_path / "vocab.txt")
    assert Vocabulary.load(tmp_path / "vocab.txt") == vocab
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "content, message, line",
    [
        ("", "empty", None),
        ("<PAD>\n<UNK>\nfoo\n", "expected special token <BOS>", 3),
        ("<PAD>\n<UNK>\n<BOS>\n<EOS>\na\nb\na\n", "repeats line 5", 7),
        ("<PAD>\n<UNK>\n<BOS>\n<EOS>\nbad\\x\n", "unknown escape", 5),
    ],
)
def test_bad_vocabulary_files(tmp_path, content, message, line):
    path = tmp_path / "vocab.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as error:
        Vocabulary.load(path)
    assert error.value.line == line


def test_lookup_table_matches_python_lookup():
    vocab = Vocabulary.build(SENTENCES)
    table = vocab.lookup_table()
    ids = table.lookup(tf.constant(["the", "cow", "<PAD>", "end"]))
    np.testing.assert_array_equal(ids, vocab.encode(["the", "cow", "<PAD>", "end"]))
