"""The joint-sequence (graphone) n-gram model behind `rerank --graphone-order`."""

import math

import pytest

from pipelines.seq2seq.graphones import CHUNKS, GraphoneModel, align, segment

LEXICON = [
    ("phone", "F OW1 N"),
    ("phase", "F EY1 Z"),
    ("graph", "G R AE1 F"),
    ("photo", "F OW1 T OW0"),
    ("fox", "F AA1 K S"),
    ("box", "B AA1 K S"),
    ("tax", "T AE1 K S"),
    ("hat", "HH AE1 T"),
    ("pat", "P AE1 T"),
    ("top", "T AA1 P"),
    ("tone", "T OW1 N"),
    ("bone", "B OW1 N"),
]


def pairs():
    return [(word, target.split()) for word, target in LEXICON]


def test_alignment_finds_the_chunks_english_spells():
    segmentations, units = align(pairs(), iterations=5)
    segmented = dict(zip([w for w, _ in LEXICON], segmentations))
    assert 0.99 < sum(units.values()) <= 1.0  # less the chunks too rare to keep
    for word, target in LEXICON:  # each a segmentation of its pair, chunks of CHUNKS' sizes
        chunks = segmented[word]
        assert "".join(s for s, _ in chunks) == word
        assert [t for _, ts in chunks for t in ts] == target.split()
        assert all((len(s), len(ts)) in CHUNKS for s, ts in chunks)
    assert all(segmented[w][0] == ("ph", ("F",)) for w in ("phone", "phase", "photo"))
    assert all(segmented[w][-1] == ("x", ("K", "S")) for w in ("fox", "box", "tax"))
    # no chunk spells three tokens from one character: no segmentation at all
    assert segment("a", ["A", "B", "C"], {}) is None
    assert segment("ab", [], {}) == [("a", ()), ("b", ())]  # floor probabilities, silent letters


def test_joint_model_prefers_what_the_lexicon_spells(tmp_path):
    model = GraphoneModel.train(pairs(), order=3, iterations=5)
    # "phox": ph as in phone, ox as in fox
    right, wrong = "F AA1 K S".split(), "P HH AA1 K S".split()
    assert model.logprob("phox", right) > model.logprob("phox", wrong) + 1
    # "hone": HH OW1 N as in tone and bone, rather than HH AA1 N
    assert model.logprob("hone", "HH OW1 N".split()) > model.logprob("hone", "HH AA1 N".split())
    # the probabilities of the next graphone sum to one in any context, less the share kept
    # for graphones never seen (the uniform distribution's one unseen slot)
    ids = model.ids
    ph, o, ne = ids[("ph", ("F",))], ids[("o", ("OW1",))], ids[("ne", ("N",))]
    seen = {g for sequence in model.sequences for g in sequence} | {1}  # 1: the sequence's end
    for context in [(0, 0), (0, ph), (o, ne), (ne, ph)]:  # 0: the sequence's start
        total = sum(model.probability(context + (g,)) for g in seen)
        assert 0.95 < total < 1.0
        assert total + model.probability(context + (model.unseen,)) == pytest.approx(1.0)
    path = tmp_path / "graphones.tsv.gz"
    model.save(path)
    loaded = GraphoneModel.load(path)
    assert loaded.order == 3 and loaded.units == model.units
    for word, target in [("phox", right), ("hone", ["HH", "OW1", "N"]), ("xyz", ["Z"])]:
        assert loaded.logprob(word, target) == pytest.approx(model.logprob(word, target))
    assert math.isfinite(loaded.logprob("xyz", ["Z"]))
