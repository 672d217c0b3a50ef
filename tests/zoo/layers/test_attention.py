"""Attention: the course's equations in NumPy, masks, one query or a sequence, round trips."""

import keras
import numpy as np
import pytest

from zoo import layers

RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(3, 4)).astype("float32")  # s<t-1>
VALUES = RNG.normal(size=(3, 6, 5)).astype("float32")  # a<t'>
MASK = np.arange(6)[None] < np.array([[6], [2], [4]])


def _randomized(layer, *inputs):
    layer(*inputs)
    layer.set_weights([RNG.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def _softmax_context(e, values, mask):
    e = np.where(mask, e, -np.inf)
    alpha = np.exp(e - e.max(-1, keepdims=True))
    alpha /= alpha.sum(-1, keepdims=True)
    return np.einsum("bt,btd->bd", alpha, values), alpha


def test_additive_matches_numpy():
    layer = _randomized(layers.AdditiveAttention(7), QUERY, VALUES)
    wq, wa, b, v = (np.asarray(w, "float64") for w in layer.get_weights())
    e = np.tanh((QUERY @ wq)[:, None] + VALUES @ wa + b) @ v  # (batch, Tx)
    expected_context, expected_alpha = _softmax_context(e, VALUES, MASK)
    context, alpha = layer(QUERY, VALUES, mask=MASK, return_attention_scores=True)
    np.testing.assert_allclose(context, expected_context, atol=1e-5)
    np.testing.assert_allclose(alpha, expected_alpha, atol=1e-6)


@pytest.mark.parametrize("scale", [False, True])
def test_multiplicative_matches_numpy(scale):
    layer = _randomized(layers.MultiplicativeAttention(scale=scale), QUERY, VALUES)
    (w,) = (np.asarray(x, "float64") for x in layer.get_weights())
    e = np.einsum("bq,btq->bt", QUERY, VALUES @ w)
    if scale:
        e = e / np.sqrt(4)
    expected_context, _ = _softmax_context(e, VALUES, MASK)
    np.testing.assert_allclose(layer(QUERY, VALUES, mask=MASK), expected_context, atol=1e-5)


def test_masked_steps_get_no_weight_and_padding_is_invisible():
    layer = _randomized(layers.AdditiveAttention(7), QUERY, VALUES)
    context, alpha = layer(QUERY, VALUES, mask=MASK, return_attention_scores=True)
    assert np.all(np.asarray(alpha)[~MASK] == 0)
    np.testing.assert_allclose(np.asarray(alpha).sum(-1), 1, atol=1e-6)
    alone = layer(QUERY[1:2], VALUES[1:2, :2])
    np.testing.assert_allclose(np.asarray(context)[1], np.asarray(alone)[0], atol=1e-6)


def test_sequence_of_queries_equals_one_at_a_time():
    layer = _randomized(layers.MultiplicativeAttention(), QUERY, VALUES)
    queries = RNG.normal(size=(3, 2, 4)).astype("float32")
    together = np.asarray(layer(queries, VALUES, mask=MASK))
    for t in range(2):
        np.testing.assert_allclose(
            together[:, t], layer(queries[:, t], VALUES, mask=MASK), atol=1e-6
        )


def test_dot_attention_needs_equal_sizes():
    with pytest.raises(ValueError, match="equal sizes"):
        layers.MultiplicativeAttention(use_kernel=False)(QUERY, VALUES)


@pytest.mark.parametrize(
    "make", [lambda: layers.AdditiveAttention(3), lambda: layers.MultiplicativeAttention()]
)
def test_round_trip_in_a_model(make, tmp_path):
    query = keras.Input((4,))
    values = keras.Input((None, 5))
    model = keras.Model([query, values], make()(query, values))
    model.set_weights([RNG.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    model.save(tmp_path / "a.keras")
    reloaded = keras.saving.load_model(tmp_path / "a.keras")
    np.testing.assert_array_equal(reloaded([QUERY, VALUES]), model([QUERY, VALUES]))
