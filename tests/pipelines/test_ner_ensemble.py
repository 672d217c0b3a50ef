"""`pipelines.ner.make_ensemble` / `python -m pipelines.ner ensemble`: several taggers as one,
whose members score every sentence as they did alone; float16 storage; the export; `--init`."""

import json

import numpy as np
import pytest

from pipelines import ner
from pipelines.ner.inference import tag_batch
from pipelines.training import save_model
from tests.pipelines.test_ner_cli import invoke, served_tags, write_corpus

SENTENCES = [
    ["Anna", "Smith", "visited", "Paris", "."],
    ["Zed", "Quux", "left", "Rome", "."],  # words only the second tagger knows
    ["unheard", "of", "Ola", "Berg"],
    ["OSLO"],
]


@pytest.fixture(scope="module")
def taggers(tmp_path_factory):
    """Two taggers of the same tags with different words (the second also read sentences
    about Zed Quux in Rome) and different seeds."""
    folder = tmp_path_factory.mktemp("ensemble")
    first = write_corpus(folder / "first.conll", 40, seed=0)
    second = folder / "second.conll"
    extra = (
        "Zed NNP B-NP B-PER\nQuux NNP I-NP I-PER\nleft VBD B-VP O\nRome NNP B-NP B-LOC\n. . O O\n"
    )
    second.write_text(open(write_corpus(folder / "base.conll", 40, seed=3)).read() + extra * 3)
    common = dict(epochs=2, units=8, batch_size=8, learning_rate=0.02, log=lambda m: None)
    ner.train(first, out=folder / "a", seed=0, **common)
    ner.train(str(second), out=folder / "b", seed=1, **common)
    return folder, str(folder / "a"), str(folder / "b")


def by_tag(vocabs, probabilities):
    """Per-token probabilities as {tag: column}, whatever the tags' ids."""
    return {tag: probabilities[:, vocabs.tags.id(tag)] for tag in vocabs.tags.tokens[1:]}


def test_each_member_scores_as_it_did_alone(taggers):
    folder, a, b = taggers
    ensemble = ner.make_ensemble(a, [b], folder / "ab")
    assert ensemble.card["architecture"]["class"] == "zoo.models.NERTaggerEnsemble"
    assert [m["model"] for m in ensemble.card["members"]] == [a, b]
    vocabs = ensemble.preprocessor
    assert "Quux" in vocabs.words and "Quux" not in ner.load(a).preprocessor.words
    for alone, member in zip((ner.load(a), ner.load(b)), ensemble.model.members):
        before = tag_batch(alone.model, alone.preprocessor, SENTENCES, marginals=True)
        after = tag_batch(member, vocabs, SENTENCES, marginals=True)
        for (tags, _, p), (tags_now, _, p_now) in zip(before, after):
            assert tags == tags_now
            expected, got = by_tag(alone.preprocessor, p), by_tag(vocabs, p_now)
            for tag in expected:
                np.testing.assert_allclose(got[tag], expected[tag], atol=1e-5)


def test_an_ensemble_of_one_tagger_twice_tags_as_the_tagger(taggers):
    folder, a, _ = taggers
    twice = ner.make_ensemble(a, [a], folder / "aa")
    alone = ner.load(a)
    texts = ["Anna Smith visited Paris. Then Smith left.", "Ola Berg saw Oslo", ""]
    assert twice.predict(texts) == alone.predict(texts)


def test_float16_weights_halve_the_file_and_keep_the_tags(taggers, tmp_path):
    folder, a, b = taggers
    result = invoke("ensemble", "--model", a, "--with", b, "--out", tmp_path / "h", "--float16")
    assert result.exit_code == 0, result.output
    full = ner.make_ensemble(a, [b], tmp_path / "f")
    half = ner.load(str(tmp_path / "h"))
    size = lambda f: (f / "model.keras").stat().st_size  # noqa: E731
    assert size(tmp_path / "h") < 0.75 * size(tmp_path / "f")  # (a tiny model's file: half)
    for w_full, w_half in zip(full.model.get_weights(), half.model.get_weights()):
        assert w_half.dtype == np.float32
        np.testing.assert_allclose(w_half, w_full, rtol=2e-3, atol=1e-4)
    card = json.loads((tmp_path / "h" / "card.json").read_text())
    assert card["float16"] and card["command"].endswith("--float16")
    texts = ["Anna Smith visited Paris", "Ken Ito left Lima ."]
    assert [r["tags"] for r in half.predict(texts)] == [r["tags"] for r in full.predict(texts)]
    # a single model too (`save_model(..., float16=True)`), loaded by Keras alone
    import keras

    save_model(full.model.members[0], tmp_path / "one.keras", float16=True)
    loaded = keras.saving.load_model(tmp_path / "one.keras")
    np.testing.assert_allclose(
        loaded.get_weights()[0], full.model.members[0].get_weights()[0], rtol=2e-3, atol=1e-4
    )


def test_the_export_of_an_ensemble_agrees_with_predict(taggers, tmp_path):
    folder, a, b = taggers
    ensemble = ner.make_ensemble(a, [b], tmp_path / "ab")
    texts = ["Anna Smith visited Oslo. Smith left.", "Zed Quux saw Rome", ""]
    ensemble.export(str(tmp_path / "served"))
    predicted = [r["tags"] for r in ensemble.predict(texts)]
    assert served_tags(tmp_path / "served", texts, tmp_path) == predicted


def test_init_from_an_ensemble_fine_tunes_it_whole(taggers, tmp_path):
    folder, a, b = taggers
    ner.make_ensemble(a, [b], tmp_path / "ab")
    train = write_corpus(tmp_path / "new.conll", 20, seed=2, extra_type="ORG")
    tuned = ner.train(
        train,
        out=tmp_path / "tuned",
        init=str(tmp_path / "ab"),
        epochs=1,
        batch_size=8,
        log=lambda m: None,
    )
    assert len(tuned.model.members) == 2 and "B-ORG" in tuned.preprocessor.tags
    assert tuned.card["architecture"]["members"] == 2
    assert tuned.evaluate(train)["f1"] >= 0.0


def test_bad_ensembles_exit_2_in_one_line(taggers, tmp_path):
    folder, a, _ = taggers
    result = invoke("ensemble", "--model", a, "--out", tmp_path / "x")
    assert result.exit_code == 2 and "--with" in result.output
    other = write_corpus(tmp_path / "other.conll", 20, seed=2, extra_type="ORG")
    ner.train(other, out=tmp_path / "o", epochs=1, units=8, batch_size=8, log=lambda m: None)
    result = invoke("ensemble", "--model", a, "--with", tmp_path / "o", "--out", tmp_path / "x")
    assert result.exit_code == 2, result.output
    assert "tags differ" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
