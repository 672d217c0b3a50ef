"""LanguageModel: next-token logits, carried states, masked loss, stateful training, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.models import LanguageModel


@pytest.fixture(params=["lstm", "gru"])
def model(request):
    model = LanguageModel(12, embedding_dim=6, rnn=request.param, units=8, depth=2, dropout=0.0)
    model.build()
    return model


def test_step_by_step_equals_the_whole_sequence(model):
    tokens = tf.constant([[4, 5, 6, 7, 8], [9, 4, 4, 5, 6]])
    whole = tf.nn.log_softmax(model(tokens))
    states = model.zero_states(2)
    for t in range(5):
        log_p, states = model.step(tokens[:, t], states)
        np.testing.assert_allclose(log_p, whole[:, t], atol=1e-5)


def test_states_carry_a_text_over_windows(model):
    tokens = tf.constant([[4, 5, 6, 7, 8, 9]])
    whole = model(tokens)
    first, states = model(tokens[:, :3], return_states=True)
    second = model(tokens[:, 3:], states=states)
    np.testing.assert_allclose(tf.concat([first, second], 1), whole, atol=1e-5)


def test_padding_changes_nothing_and_costs_nothing(model):
    alone = model.log_probabilities(tf.constant([[4, 5, 6]]), tf.constant([[5, 6, 3]]))
    padded = model.log_probabilities(tf.constant([[4, 5, 6, 0, 0]]), tf.constant([[5, 6, 3, 0, 0]]))
    np.testing.assert_allclose(padded[:, :3], alone, atol=1e-5)
    assert np.all(padded[:, 3:].numpy() == 0)
    model.compile(keras.optimizers.Adam())
    x, y = tf.constant([[4, 5, 6, 0]]), tf.constant([[5, 6, 3, 0]])
    loss = model.compute_loss(x, y, model(x))
    np.testing.assert_allclose(loss, -tf.reduce_mean(alone), rtol=1e-5)


def test_stateful_training_carries_states_between_batches():
    model = LanguageModel(12, embedding_dim=6, units=8, depth=1, dropout=0.0, stateful_batch=2)
    model.build()
    tokens = np.random.default_rng(0).integers(4, 12, (2, 6)).astype("int32")
    plain = model.without_state()
    expected = plain(tokens)
    first = model(tokens[:, :3])
    second = model(tokens[:, 3:])  # continues from the states the first call left
    np.testing.assert_allclose(tf.concat([first, second], 1), expected, atol=1e-5)
    model.reset_states()
    np.testing.assert_allclose(model(tokens[:, :3]), first, atol=1e-6)


def test_fit_lowers_the_loss_and_saves(tmp_path):
    model = LanguageModel(8, embedding_dim=4, units=16, depth=1, dropout=0.0)
    model.build()
    model.compile(keras.optimizers.Adam(0.05))
    x = np.tile(np.array([[4, 5, 6, 7, 4, 5, 6, 7]], "int32"), (16, 1))
    y = np.roll(x, -1, axis=1)
    history = model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    model.save(tmp_path / "lm.keras")
    loaded = keras.saving.load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(loaded(x[:2]), model(x[:2]), atol=1e-6)


def test_tied_embeddings_score_against_the_embedding_table(tmp_path):
    model = LanguageModel(11, embedding_dim=4, units=6, depth=1, dropout=0.0, tie_embeddings=True)
    model.build()
    assert not any("logits/kernel" in v.path for v in model.weights)  # no vocab x units matrix
    x = tf.constant([[3, 4, 5, 0]])
    h = model.rnns[0](model.embedding(x), mask=x > 0)[0]
    expected = model.projection(h) @ tf.transpose(model.embedding.embeddings) + model.logits_bias
    np.testing.assert_allclose(model(x), expected, atol=1e-5)
    model.save(tmp_path / "tied.keras")
    loaded = keras.saving.load_model(tmp_path / "tied.keras")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    stateful = LanguageModel(
        11, embedding_dim=4, units=6, depth=1, tie_embeddings=True, stateful_batch=1
    )
    stateful.build()
    for target, source in zip(stateful.trainable_weights, model.trainable_weights):
        target.assign(source)
    np.testing.assert_allclose(stateful.without_state()(x), model(x), atol=1e-6)
