"""Document-level label consistency (`pipelines.ner.consistency`): the rule in Python, the
same rule in TensorFlow ops (the export), how documents are read from CoNLL files; and the
export's sentence pieces, cut as `predict` cuts them."""

import random

import numpy as np
import pytest

from pipelines.ner.consistency import consistent, consistent_documents, graph_consistent
from pipelines.ner.data import read_tagged

TAGS = ["", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def one(tokens, tags, **kwargs):
    return consistent([tokens.split()], [tags.split()], **kwargs)[0]


def test_an_entity_takes_the_type_its_string_has_most_often():
    tokens = ["Ajax", "beat", "Ajax", "and", "Ajax"]
    tags = ["B-ORG", "O", "B-LOC", "O", "B-ORG"]
    assert consistent([tokens], [tags])[0] == ["B-ORG", "O", "B-ORG", "O", "B-ORG"]
    # the votes are counted over the document's sentences
    sentences = [["Ajax", "won"], ["Ajax", "lost"], ["at", "Ajax"]]
    tagged = [["B-ORG", "O"], ["B-ORG", "O"], ["O", "B-LOC"]]
    assert consistent(sentences, tagged)[2] == ["O", "B-ORG"]


def test_ties_keep_an_entity_s_own_type_or_go_to_the_type_met_first():
    assert one("Ajax Ajax", "B-ORG B-LOC") == ["B-ORG", "B-LOC"]  # 1-1: each keeps its own
    tags = one("Ajax Ajax Ajax Ajax Ajax", "B-ORG B-LOC B-LOC B-ORG B-PER")
    assert tags == ["B-ORG", "B-LOC", "B-LOC", "B-ORG", "B-ORG"]  # PER: ORG was met first


def test_multiword_entities_are_retyped_whole_and_started_with_b():
    tokens = "New York and New York and New York".split()
    tags = "B-LOC I-LOC O B-LOC I-LOC O I-ORG I-ORG".split()
    assert consistent([tokens], [tags])[0] == "B-LOC I-LOC O B-LOC I-LOC O B-LOC I-LOC".split()


def test_untagged_repeats_of_an_entity_string_are_tagged():
    assert one("Smith met Smith .", "B-PER O O O") == ["B-PER", "O", "B-PER", "O"]
    # the longest string first: "New York" is filled whole, not as "York"
    tokens = "New York , York and New York".split()
    tags = "B-LOC I-LOC O B-ORG O O O".split()
    assert consistent([tokens], [tags])[0] == "B-LOC I-LOC O B-ORG O B-LOC I-LOC".split()
    # a run followed by an I- tag is part of something else: left alone
    assert one("Smith Smith Jones", "B-PER O I-ORG") == ["B-PER", "O", "I-ORG"]
    # two overlapping matches of one length: neither is taken
    assert one("A A x A A A", "B-ORG I-ORG O O O O") == "B-ORG I-ORG O O O O".split()
    assert one("A A x A A", "B-ORG I-ORG O O O") == "B-ORG I-ORG O B-ORG I-ORG".split()


def test_case_is_folded_and_lower_case_runs_are_not_filled():
    # a headline's JAPAN votes with the story's Japan, and is filled from it
    sentences = [["JAPAN", "WIN"], ["Japan", "beat", "SYRIA"], ["Syria", "lost"]]
    tagged = [["O", "O"], ["B-LOC", "O", "B-ORG"], ["B-LOC", "O"]]
    expected = [["B-LOC", "O"], ["B-LOC", "O", "B-ORG"], ["B-LOC", "O"]]  # ORG-LOC: a tie
    assert consistent(sentences, tagged) == expected
    tagged[1][2] = "B-LOC"
    assert consistent(sentences, tagged)[1] == ["B-LOC", "O", "B-LOC"]
    assert one("US and us", "B-LOC O O") == ["B-LOC", "O", "O"]  # "us" starts with a-z
    assert one("US and Us", "B-LOC O O") == ["B-LOC", "O", "B-LOC"]


def test_entities_longer_than_max_words_neither_vote_nor_change():
    tokens = "A B C x A B C".split()
    tags = "B-ORG I-ORG I-ORG O B-LOC I-LOC I-LOC".split()
    assert one(" ".join(tokens), " ".join(tags), max_words=2) == tags
    assert one(" ".join(tokens), " ".join(tags), max_words=3) == tags  # a 1-1 tie
    assert one("A B x A B", "B-ORG I-ORG O O O", max_words=1) == "B-ORG I-ORG O O O".split()


def test_documents_are_kept_apart():
    sentences = [["Ajax", "won"], ["Ajax", "lost"], ["Ajax", "drew"]]
    tagged = [["B-ORG", "O"], ["O", "O"], ["B-LOC", "O"]]
    result = consistent_documents(sentences, tagged, [1, 1, 2])
    assert result == [["B-ORG", "O"], ["B-ORG", "O"], ["B-LOC", "O"]]
    assert tagged[1] == ["O", "O"]  # the inputs are not changed


def _random_rows(rng, rows):
    words = ["a", "b", "c", "A", "B"]
    ids = [1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    return [
        ([rng.choice(words) for _ in range(n)], [rng.choice(ids) for _ in range(n)])
        for n in (rng.randint(0, 25) for _ in range(rows))
    ]


@pytest.mark.parametrize("max_words", [1, 3, 8])
def test_the_graph_ops_give_what_python_gives(max_words):
    import tensorflow as tf

    rng, changed = random.Random(max_words), 0
    for _ in range(40):
        rows = _random_rows(rng, rng.randint(1, 4))
        steps = max(1, max(len(t) for t, _ in rows))
        tokens = np.array([t + [""] * (steps - len(t)) for t, _ in rows])
        ids = np.array([i + [0] * (steps - len(i)) for _, i in rows], "int32")
        mask = np.array([[j < len(t) for j in range(steps)] for t, _ in rows])
        result = graph_consistent(tf.constant(tokens), ids, mask, TAGS, max_words).numpy()
        for row, (words, row_ids) in enumerate(rows):
            before = [TAGS[i] for i in row_ids]
            expected = consistent([words], [before], max_words)[0]
            assert [TAGS[i] for i in result[row, : len(words)]] == expected
            changed += expected != before
    assert changed > 20  # the cases exercise the rule


def test_documents_are_read_from_docstart_lines(tmp_path):
    path = tmp_path / "docs.conll"
    path.write_text(
        "-DOCSTART- -X- O O\n\nA x x B-ORG\n\nB x x O\n\n-DOCSTART- -X- O O\n\nC x x O\n",
        encoding="utf-8",
    )
    sentences, documents = read_tagged(str(path), documents=True)
    assert [s[0] for s in sentences] == [["A"], ["B"], ["C"]] and documents == [1, 1, 2]
    path.write_text("A B-ORG\n\nB O\n", encoding="utf-8")
    _, documents = read_tagged(str(path), documents=True)
    assert len(set(documents)) == 2  # no -DOCSTART-: every sentence alone
    assert read_tagged(str(path)) == [(["A"], ["B-ORG"]), (["B"], ["O"])]


@pytest.mark.parametrize("window", [3, 256])
def test_the_export_cuts_texts_into_the_pieces_predict_tags(monkeypatch, window):
    import tensorflow as tf

    from pipelines.ner import inference
    from pipelines.ner.export import graph_sentence_pieces

    monkeypatch.setattr(inference, "PREDICT_WINDOW", window)
    rng = random.Random(window)
    for _ in range(30):
        texts = [[rng.choice("a.b!c?") for _ in range(rng.randint(0, 12))] for _ in range(3)]
        flat = tf.constant([t for text in texts for t in text], tf.string)
        tokens = tf.RaggedTensor.from_row_lengths(flat, [len(text) for text in texts])
        pieces = [[t.decode() for t in row] for row in graph_sentence_pieces(tokens).to_list()]
        expected = [text[a:b] for text in texts for a, b in inference.sentence_pieces(text)]
        assert pieces == expected + [[]]
