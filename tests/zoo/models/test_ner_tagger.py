"""NERTagger: padding never changes a sentence's result, it learns a toy task, it round-trips;
NERTaggerEnsemble: the mean of its members' sequence scores."""

import keras
import numpy as np
import pytest

from zoo.models import NERTagger, NERTaggerEnsemble

WORDS, CHARS, TAGS = 30, 12, 5


def _batch(lengths, seed=0):
    rng = np.random.default_rng(seed)
    steps, letters = max(lengths), 6
    words = np.zeros((len(lengths), steps), "int32")
    chars = np.zeros((len(lengths), steps, letters), "int32")
    for i, length in enumerate(lengths):
        words[i, :length] = rng.integers(1, WORDS, size=length)
        for t in range(length):
            n = int(rng.integers(1, letters + 1))
            chars[i, t, :n] = rng.integers(1, CHARS, size=n)
    return {"words": words, "chars": chars}


def _tagger(**kwargs):
    options = dict(word_dim=8, char_dim=4, char_units=3, units=6, dropout=0.1)
    options.update(kwargs)
    return NERTagger(WORDS, CHARS, TAGS, **options)


def _slice(batch, i, length):
    letters = int((batch["chars"][i, :length] > 0).sum(-1).max())
    return {
        "words": batch["words"][i : i + 1, :length],
        "chars": batch["chars"][i : i + 1, :length, :letters],
    }


@pytest.mark.parametrize(
    "options",
    [{}, {"head": "softmax", "rnn": "gru"}, {"char_encoder": "cnn", "depth": 2}],
    ids=["crf-lstm", "softmax-gru", "cnn-deep"],
)
def test_padding_invariance_of_scores_tags_and_probabilities(options):
    model = _tagger(**options)
    lengths = [5, 2, 4]
    batch = _batch(lengths)
    scores = np.asarray(model(batch))
    tags = np.asarray(model.predict_tags(batch))
    probs = np.asarray(model.tag_probabilities(batch))
    for i, length in enumerate(lengths):
        alone = _slice(batch, i, length)
        np.testing.assert_allclose(scores[i, :length], np.asarray(model(alone))[0], atol=1e-5)
        np.testing.assert_array_equal(tags[i, :length], np.asarray(model.predict_tags(alone))[0])
        np.testing.assert_allclose(
            probs[i, :length], np.asarray(model.tag_probabilities(alone))[0], atol=1e-5
        )
        assert np.all(tags[i, length:] == 0)
    np.testing.assert_allclose(probs.sum(-1)[np.asarray(batch["words"]) > 0], 1, atol=1e-5)


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_learns_a_toy_tagging_task(head):
    """Tag = word id mod 5, except that a word after word 1 gets tag 4: needs context."""
    keras.utils.set_random_seed(0)
    batch = _batch([8] * 64 + [5] * 64, seed=1)
    words = batch["words"]
    tags = (words % 4) + 1
    after_one = np.zeros_like(words, bool)
    after_one[:, 1:] = words[:, :-1] == 1
    tags[after_one] = 0 + 4
    tags[words == 0] = 0
    model = _tagger(head=head, units=16, dropout=0.0)
    model.compile(keras.optimizers.Adam(0.02))
    history = model.fit(batch, tags, batch_size=32, epochs=25, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 5
    predicted = np.asarray(model.predict_tags(batch))
    assert np.mean(predicted[words > 0] == tags[words > 0]) > 0.95


def test_keras_file_round_trip(tmp_path):
    model = _tagger(char_encoder="cnn")
    batch = _batch([4, 3])
    model(batch)
    model.save(tmp_path / "tagger.keras")
    reloaded = keras.saving.load_model(tmp_path / "tagger.keras")
    np.testing.assert_array_equal(reloaded(batch), model(batch))
    np.testing.assert_array_equal(reloaded.predict_tags(batch), model.predict_tags(batch))
    assert reloaded.get_config() == model.get_config()


def test_rejects_unknown_options():
    with pytest.raises(ValueError, match="head"):
        _tagger(head="hmm")


def test_contextual_features_join_the_word_representation(tmp_path):
    """With `contextual_dim`, per-word features computed outside (contextual string
    embeddings) are read beside the word and character features: they change the scores, a
    tag that only they reveal is learned, and the model round-trips."""
    keras.utils.set_random_seed(0)
    batch = _batch([6] * 96, seed=2)
    words = batch["words"]
    signal = np.random.default_rng(3).integers(0, 2, words.shape)  # invisible in words/chars
    contextual = np.zeros(words.shape + (4,), "float32")
    contextual[..., 0] = signal
    tags = np.where(words > 0, signal + 1, 0)
    model = _tagger(contextual_dim=4, units=8, dropout=0.0)
    inputs = {**batch, "contextual": contextual}
    model.compile(keras.optimizers.Adam(0.02))
    model.fit(inputs, tags, batch_size=32, epochs=15, verbose=0)
    predicted = np.asarray(model.predict_tags(inputs))
    assert np.mean(predicted[words > 0] == tags[words > 0]) > 0.95
    flipped = {**inputs, "contextual": contextual[..., ::-1].copy()}
    assert np.abs(np.asarray(model(flipped)) - np.asarray(model(inputs))).max() > 1e-3
    model.save(tmp_path / "tagger.keras")
    reloaded = keras.saving.load_model(tmp_path / "tagger.keras")
    np.testing.assert_allclose(reloaded(inputs), model(inputs), atol=1e-6)
    assert reloaded.get_config()["contextual_dim"] == 4
    assert _tagger().get_config()["contextual_dim"] == 0  # older folders load as before


def test_an_ensemble_scores_a_tag_sequence_as_the_mean_of_its_members(tmp_path):
    members = [_tagger(), _tagger(units=4)]
    rng = np.random.default_rng(1)
    for member in members:
        member.build()
        member.crf.set_weights([rng.normal(size=w.shape) for w in member.crf.get_weights()])
    ensemble = NERTaggerEnsemble.of(members)
    batch = _batch([5, 2, 4])
    mask = batch["words"] > 0
    tags = np.where(mask, rng.integers(1, TAGS, size=mask.shape), 0).astype("int32")
    alone = [np.asarray(m.crf.sequence_score(m(batch), tags, mask)) for m in members]
    together = np.asarray(ensemble.crf.sequence_score(ensemble(batch), tags, mask))
    np.testing.assert_allclose(together, np.mean(alone, axis=0), atol=1e-5)
    # the Viterbi path is the best of the mean scores: no random path beats it
    best = np.asarray(ensemble.predict_tags(batch))
    best_score = np.asarray(ensemble.crf.sequence_score(ensemble(batch), best, mask))
    assert np.all(best_score >= together - 1e-5)
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(m) for m in loaded.members] == [NERTagger, NERTagger]
    np.testing.assert_array_equal(np.asarray(loaded.predict_tags(batch)), best)


def test_ensemble_members_must_read_the_same_inputs():
    with pytest.raises(ValueError, match="num_tags"):
        NERTaggerEnsemble([_tagger(), NERTagger(WORDS, CHARS, TAGS + 1)])
    with pytest.raises(ValueError, match="head"):
        NERTaggerEnsemble([_tagger(), _tagger(head="softmax")])
