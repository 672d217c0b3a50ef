"""SentimentClassifier: pooling over valid steps only, every option trains and saves."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.models import SentimentClassifier
from zoo.models.sentiment_classifier import POOLINGS


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padding_does_not_change_the_prediction(pooling, bidirectional):
    model = SentimentClassifier(
        20, 3, embedding_dim=6, units=5, pooling=pooling, bidirectional=bidirectional, dropout=0.0
    )
    model.build()
    alone = model(tf.constant([[4, 5, 6]]))
    padded = model(tf.constant([[4, 5, 6, 0, 0], [7, 8, 9, 10, 11]]))
    np.testing.assert_allclose(padded[:1], alone, atol=1e-5)
    assert padded.shape == (2, 3)


def test_last_pooling_takes_each_direction_s_final_state():
    model = SentimentClassifier(20, 2, embedding_dim=4, units=3, pooling="last", dropout=0.0)
    model.build()
    tokens = tf.constant([[4, 5, 6, 0]])
    h = model.encoder(model.embedding(tokens), mask=tokens > 0)
    pooled = model.pool(h, tokens > 0)
    np.testing.assert_allclose(pooled[0, :3], h[0, 2, :3])  # forward: the last valid step
    np.testing.assert_allclose(pooled[0, 3:], h[0, 0, 3:])  # backward: the first step


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_learns_a_keyword_and_round_trips(rnn, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(5, 30, (64, 8)).astype("int32")
    y = (x == 5).any(axis=1).astype("int32")  # positive when token 5 occurs
    model = SentimentClassifier(30, 2, embedding_dim=8, units=8, rnn=rnn, depth=2, dropout=0.0)
    model.compile(
        keras.optimizers.Adam(0.02),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=25, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    model.save(tmp_path / "clf.keras")
    loaded = keras.saving.load_model(tmp_path / "clf.keras")
    np.testing.assert_allclose(loaded(x[:4]), model(x[:4]), atol=1e-5)


def test_from_language_model_reuses_the_encoder():
    from zoo.models import LanguageModel

    lm = LanguageModel(25, embedding_dim=6, units=7, depth=2, tie_embeddings=True)
    lm.build()
    model = SentimentClassifier.from_language_model(lm, 3, pooling="last_max_mean", dropout=0.0)
    assert not model.bidirectional and model.units == 7 and model.depth == 2
    np.testing.assert_array_equal(model.embedding.embeddings, lm.embedding.embeddings)
    tokens = tf.constant([[4, 5, 6, 0]])
    # the classifier's encoder reads text exactly as the language model does
    h_lm = lm.embedding(tokens)
    for rnn in lm.rnns:
        h_lm = rnn(h_lm, mask=tokens > 0)[0]
    h = model.encoder(model.embedding(tokens), mask=tokens > 0)
    np.testing.assert_allclose(h[:, :3], h_lm[:, :3], atol=1e-6)
    assert model(tokens).shape == (1, 3)
    # last + max + mean of 7 features
    assert model.pool(h, tokens > 0).shape == (1, 21)
    levels = model.layer_groups()
    assert len(levels) == 4 and levels[0] == [model.embedding.embeddings]
    assert sum(len(level) for level in levels) == len(model.trainable_weights)
