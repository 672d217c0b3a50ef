"""`CRF` against brute-force enumeration of every tag path on tiny cases."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import layers

NUM_TAGS = 3


def _crf(seed=0):
    crf = layers.CRF(NUM_TAGS)
    crf.build((None, None, NUM_TAGS))
    rng = np.random.default_rng(seed)
    crf.set_weights([rng.normal(size=w.shape).astype("float32") for w in crf.get_weights()])
    return crf


def _path_score(crf, emissions, path):
    transitions, start, end = (np.asarray(w, "float64") for w in crf.get_weights())
    score = start[path[0]] + end[path[-1]]
    score += sum(emissions[t, tag] for t, tag in enumerate(path))
    score += sum(transitions[a, b] for a, b in zip(path, path[1:]))
    return score


def _brute_force(crf, emissions):
    """(log Z, best path, best score, marginals) over every path of one unpadded sequence."""
    steps = emissions.shape[0]
    paths = list(itertools.product(range(NUM_TAGS), repeat=steps))
    scores = np.array([_path_score(crf, emissions, p) for p in paths])
    log_z = np.log(np.exp(scores - scores.max()).sum()) + scores.max()
    best = int(np.argmax(scores))
    marginals = np.zeros((steps, NUM_TAGS))
    for path, score in zip(paths, scores):
        for t, tag in enumerate(path):
            marginals[t, tag] += np.exp(score - log_z)
    return log_z, list(paths[best]), scores[best], marginals


LENGTHS = [4, 1, 3, 2]


@pytest.fixture
def padded():
    rng = np.random.default_rng(1)
    emissions = rng.normal(size=(len(LENGTHS), max(LENGTHS), NUM_TAGS)).astype("float32")
    mask = np.arange(max(LENGTHS))[None] < np.array(LENGTHS)[:, None]
    tags = rng.integers(0, NUM_TAGS, size=mask.shape)
    return emissions, mask, tags


def test_log_partition_decode_and_marginals_match_enumeration(padded):
    emissions, mask, _ = padded
    crf = _crf()
    log_z = np.asarray(crf.log_partition(emissions, mask))
    tags, best = (np.asarray(v) for v in crf.decode(emissions, mask))
    marginals = np.asarray(crf.marginals(emissions, mask))
    for i, length in enumerate(LENGTHS):
        expected = _brute_force(crf, emissions[i, :length].astype("float64"))
        np.testing.assert_allclose(log_z[i], expected[0], rtol=1e-5)
        assert tags[i, :length].tolist() == expected[1]
        assert np.all(tags[i, length:] == 0)
        np.testing.assert_allclose(best[i], expected[2], rtol=1e-5)
        np.testing.assert_allclose(marginals[i, :length], expected[3], atol=1e-5)
        assert np.all(marginals[i, length:] == 0)


def test_log_likelihood_matches_enumeration(padded):
    emissions, mask, tags = padded
    crf = _crf(2)
    got = np.asarray(crf.log_likelihood(emissions, tags, mask))
    for i, length in enumerate(LENGTHS):
        e = emissions[i, :length].astype("float64")
        log_z = _brute_force(crf, e)[0]
        np.testing.assert_allclose(got[i], _path_score(crf, e, tags[i, :length]) - log_z, rtol=1e-5)


def test_masked_steps_anywhere_are_skipped():
    """A hole in the mask scores and decodes as the sequence without that step."""
    crf = _crf(3)
    rng = np.random.default_rng(4)
    emissions = rng.normal(size=(1, 5, NUM_TAGS)).astype("float32")
    mask = np.array([[True, False, True, True, False]])
    kept = emissions[:, [0, 2, 3]]
    tags = rng.integers(0, NUM_TAGS, size=(1, 5))
    np.testing.assert_allclose(
        crf.log_likelihood(emissions, tags, mask),
        crf.log_likelihood(kept, tags[:, [0, 2, 3]]),
        rtol=1e-6,
    )
    decoded = np.asarray(crf(emissions, mask=mask))
    np.testing.assert_array_equal(decoded[0, [0, 2, 3]], np.asarray(crf(kept))[0])
    assert decoded[0, 1] == decoded[0, 4] == 0


def test_empty_sequence_has_zero_likelihood_terms():
    crf = _crf()
    emissions = np.ones((2, 3, NUM_TAGS), "float32")
    mask = np.array([[True, True, False], [False, False, False]])
    assert float(crf.log_partition(emissions, mask)[1]) == 0.0
    assert float(crf.log_likelihood(emissions, np.zeros((2, 3)), mask)[1]) == 0.0


def test_training_raises_the_likelihood_of_gold_tags():
    crf = layers.CRF(NUM_TAGS)
    crf.build((None, None, NUM_TAGS))
    rng = np.random.default_rng(5)
    emissions = tf.constant(rng.normal(size=(8, 6, NUM_TAGS)).astype("float32"))
    gold = np.tile([0, 1, 2, 0, 1, 2], (8, 1))  # a pattern the transitions can learn
    optimizer = keras.optimizers.Adam(0.1)
    first = None
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(crf.log_likelihood(emissions, gold))
        grads = tape.gradient(loss, crf.trainable_weights)
        optimizer.apply_gradients(zip(grads, crf.trainable_weights))
        first = float(loss) if first is None else first
    assert float(loss) < first / 2
    assert np.mean(np.asarray(crf(emissions)) == gold) > 0.9


def test_crf_in_a_model_round_trips(tmp_path):
    inputs = keras.Input((None, 4))
    scores = keras.layers.Dense(NUM_TAGS)(inputs)
    model = keras.Model(inputs, layers.CRF(NUM_TAGS, name="crf")(scores))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    model.save(tmp_path / "crf.keras")
    reloaded = keras.saving.load_model(tmp_path / "crf.keras")
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert model.predict(x, verbose=0).dtype == np.int32


def test_wrong_number_of_tags():
    with pytest.raises(ValueError, match="tags"):
        layers.CRF(3)(np.zeros((1, 2, 4), "float32"))


def test_single_step_batch_and_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    crf = layers.CRF(NUM_TAGS)
    emissions = np.array([[[0.0, 2.0, 1.0]], [[3.0, 0.0, 0.0]]], "float32")
    np.testing.assert_array_equal(crf(emissions), [[1], [0]])
    assert crf.log_partition(emissions).dtype == tf.float32
    assert crf.transitions.dtype == "float32"
