"""`ContextualCharEmbedding`: per-word states of a forward and a backward character LM."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers import ContextualCharEmbedding
from zoo.models import LanguageModel


def language_model(seed, units):
    keras.utils.set_random_seed(seed)
    lm = LanguageModel(12, embedding_dim=6, units=units, depth=1, dropout=0.3)
    lm.build()
    return lm


def inputs(strings, words):
    """`strings`: lists of char ids; `words`: per string, (start, end) of each word."""
    length = max(map(len, strings))
    count = max(map(len, words))
    chars = np.zeros((len(strings), length), "int32")
    starts = np.full((len(strings), count), -1, "int32")
    ends = np.full((len(strings), count), -1, "int32")
    for row, (string, spans) in enumerate(zip(strings, words)):
        chars[row, : len(string)] = string
        for w, (s, e) in enumerate(spans):
            starts[row, w], ends[row, w] = s, e
    return {"chars": chars, "starts": starts, "ends": ends}


SENTENCES = [([5, 6, 4, 7, 8, 9, 5], [(0, 1), (3, 5), (6, 6)]), ([9, 4, 10, 11], [(0, 0), (2, 3)])]


@pytest.fixture(scope="module")
def models():
    return language_model(1, 8), language_model(2, 5)


def test_each_word_is_the_forward_state_at_its_end_and_the_backward_at_its_start(models):
    forward, backward = models
    layer = ContextualCharEmbedding(forward, backward)
    string, spans = SENTENCES[0]
    out = layer(inputs([string], [spans])).numpy()[0]
    assert out.shape == (3, 13) and layer.output_dim == 13
    h_forward = forward.hidden_states(tf.constant([string])).numpy()[0]
    h_backward = backward.hidden_states(tf.constant([string[::-1]])).numpy()[0][::-1]
    for w, (s, e) in enumerate(spans):
        np.testing.assert_allclose(out[w, :8], h_forward[e], atol=1e-6)
        np.testing.assert_allclose(out[w, 8:], h_backward[s], atol=1e-6)
    # the forward state at a word's end has read the words before it: context changes it
    other = layer(inputs([[9, 9, 4] + string[3:]], [[(0, 1), (3, 5), (6, 6)]])).numpy()[0]
    assert np.abs(other[1, :8] - out[1, :8]).max() > 1e-4
    np.testing.assert_allclose(other[2, 8:], out[2, 8:], atol=1e-6)  # backward: only what follows


def test_a_sentence_alone_and_in_a_padded_batch_are_embedded_alike(models):
    layer = ContextualCharEmbedding(*models)
    batch = layer(inputs(*zip(*SENTENCES)))
    mask = np.asarray(layer.compute_mask(inputs(*zip(*SENTENCES))))
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    for row, (string, spans) in enumerate(SENTENCES):
        alone = layer(inputs([string], [spans])).numpy()[0]
        np.testing.assert_allclose(batch.numpy()[row, : len(spans)], alone, atol=1e-5)
    assert not batch.numpy()[1, 2].any()  # a padding word is zeros


def test_frozen_by_default_and_fine_tuned_on_request(models):
    frozen = ContextualCharEmbedding(*models)
    assert frozen.trainable_weights == [] and len(frozen.non_trainable_weights) > 0
    x = inputs(*zip(*SENTENCES))
    np.testing.assert_allclose(frozen(x, training=True), frozen(x, training=False))  # no dropout
    forward, backward = language_model(1, 8), language_model(2, 5)
    tuned = ContextualCharEmbedding(forward, backward, fine_tune=True)
    # what the states depend on: the embeddings and the recurrent layers, not the softmax
    reading = [v for lm in (forward, backward) for v in lm.embedding.weights + lm.rnns[0].weights]
    assert {id(v) for v in tuned.trainable_weights} == {id(v) for v in reading}
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tuned(x, training=False) ** 2)
    grads = tape.gradient(loss, tuned.trainable_weights)
    assert all(g is not None for g in grads)


def test_forward_only(models):
    layer = ContextualCharEmbedding(models[0])
    assert layer(inputs(*zip(*SENTENCES))).shape == (2, 3, 8)


def test_keras_round_trip(models, tmp_path):
    layer = ContextualCharEmbedding(*models)
    spec = {
        name: keras.Input((None,), dtype="int32", name=name) for name in ("chars", "starts", "ends")
    }
    model = keras.Model(spec, keras.layers.Dense(3, name="head")(layer(spec)))
    x = inputs(*zip(*SENTENCES))
    expected = model.predict_on_batch(x)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict_on_batch(x), expected, atol=1e-6)
    config = layer.get_config()
    assert config["fine_tune"] is False and config["backward"] is not None
    assert ContextualCharEmbedding.from_config(config).output_dim == 13
