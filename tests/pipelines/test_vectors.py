"""Skip-gram word vectors: words that share contexts end up close; the text format round-trips."""

import gzip

import numpy as np
import pytest
from click.testing import CliRunner

from pipelines import vectors
from pipelines.errors import DataError
from pipelines.vectors.__main__ import cli as vectors_cli


def corpus(seed=0, lines=400):
    rng = np.random.default_rng(seed)
    animals, foods = ["cat", "dog", "cow"], ["bread", "rice", "soup"]
    out = []
    for _ in range(lines):
        if rng.random() < 0.5:
            out.append(["the", str(rng.choice(animals)), "runs", "and", "barks"])
        else:
            out.append(["we", "eat", str(rng.choice(foods)), "with", "salt"])
    return out


def test_words_in_the_same_contexts_get_similar_vectors():
    words, matrix = vectors.train_word_vectors(
        corpus(), dim=16, min_count=1, epochs=5, batch_size=64, learning_rate=0.1, subsample=0
    )
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}

    def cos(a, b):
        return float(unit[index[a]] @ unit[index[b]])

    assert cos("cat", "dog") > cos("cat", "rice") + 0.2
    assert cos("bread", "soup") > cos("bread", "cow") + 0.2


def test_save_and_load_round_trip(tmp_path):
    words, matrix = ["a", "b"], np.array([[0.5, -1.0], [2.0, 0.25]], "float32")
    vectors.save_vectors(tmp_path / "v.txt", words, matrix)
    loaded_words, loaded = vectors.load_vectors(tmp_path / "v.txt")
    assert loaded_words == words and np.allclose(loaded, matrix)
    (tmp_path / "glove.txt").write_text("a 1 2\nb 3 4\n")  # GloVe: no header line
    assert vectors.load_vectors(tmp_path / "glove.txt")[0] == ["a", "b"]


def test_malformed_row_names_the_line(tmp_path):
    (tmp_path / "v.txt").write_text("2 2\na 1 2\nb 3\n")
    with pytest.raises(DataError, match=r"v.txt:3: expected a word and 2 numbers"):
        vectors.load_vectors(tmp_path / "v.txt")


def test_command_reads_gzip_text(tmp_path):
    path = tmp_path / "text.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(" ".join(line) for line in corpus(lines=100)) + "\n")
    out = tmp_path / "vectors.txt"
    result = CliRunner().invoke(
        vectors_cli,
        [
            "train",
            "--train",
            str(path),
            "--out",
            str(out),
            "--dim",
            "8",
            "--epochs",
            "1",
            "--min-count",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    words, matrix = vectors.load_vectors(out)
    assert "cat" in words and matrix.shape == (len(words), 8)
    missing = CliRunner().invoke(vectors_cli, ["train", "--train", "nope.txt", "--out", str(out)])
    assert missing.exit_code == 2 and "nope.txt: no such file" in missing.output
