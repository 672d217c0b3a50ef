"""Seq2Seq: teacher forcing equals step-by-step decoding, padding changes nothing, it learns
to reverse sequences, greedy and beam search agree with it, it round-trips through .keras;
Seq2SeqEnsemble decodes with the mean of its members' distributions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.models import Seq2Seq, Seq2SeqEnsemble

BOS, EOS = 2, 3


def reversal(n, rng):
    x = np.zeros((n, 6), "int32")
    y_in = np.zeros((n, 7), "int32")
    y_out = np.zeros((n, 7), "int32")
    for i in range(n):
        length = rng.integers(2, 7)
        s = rng.integers(4, 10, length)
        x[i, :length] = s
        y_in[i, 0], y_in[i, 1 : length + 1] = BOS, s[::-1]
        y_out[i, :length], y_out[i, length] = s[::-1], EOS
    return x, y_in, y_out


@pytest.mark.parametrize(
    "attention, rnn, feeding, depth",
    [
        ("additive", "lstm", False, 1),
        ("multiplicative", "lstm", False, 1),
        ("additive", "gru", False, 1),
        ("multiplicative", "gru", False, 1),
        ("multiplicative", "lstm", True, 2),
        ("additive", "gru", True, 1),
    ],
)
def test_steps_equal_teacher_forcing_and_padding_is_ignored(attention, rnn, feeding, depth):
    model = Seq2Seq(
        12,
        11,
        embedding_dim=5,
        units=6,
        attention=attention,
        rnn=rnn,
        dropout=0.0,
        input_feeding=feeding,
        decoder_depth=depth,
    )
    model.build()
    source = tf.constant([[4, 5, 6, 0, 0]])
    target = tf.constant([[BOS, 7, 8, 9]])
    logits = model({"source": source, "target": target})
    unpadded = model({"source": source[:, :3], "target": target})
    np.testing.assert_allclose(logits, unpadded, atol=1e-5)
    values, keys, mask, states = model.encode(source)
    for t in range(4):
        log_p, states, alpha = model.step(target[:, t], states, values, keys, mask)
        np.testing.assert_allclose(log_p, tf.nn.log_softmax(logits[:, t]), atol=1e-5)
        assert float(tf.reduce_sum(alpha[:, 3:])) == 0.0  # padding gets no attention


@pytest.mark.parametrize("feeding", [False, True])
def test_learns_to_reverse_decodes_and_round_trips(tmp_path, feeding):
    rng = np.random.default_rng(0)
    x, y_in, y_out = reversal(2000, rng)
    model = Seq2Seq(10, 10, embedding_dim=16, units=32, dropout=0.0, input_feeding=feeding)
    model.build()
    model.compile(keras.optimizers.Adam(0.01))
    model.fit({"source": x, "target": y_in}, y_out, epochs=6, batch_size=64, verbose=0)
    test_x, _, _ = reversal(100, rng)
    tokens, total, lengths, attention = model.greedy(tf.constant(test_x), BOS, EOS, 10, [0, 1, 2])
    expected = [list(row[row > 0][::-1]) for row in test_x]
    got = [list(tokens[i, : lengths[i]].numpy()) for i in range(100)]
    assert np.mean([g == e for g, e in zip(got, expected)]) > 0.95
    assert attention.shape[0] == 100 and np.all(total.numpy() <= 0)
    beams = model.beam_search(tf.constant(test_x[:20]), BOS, EOS, 10, beam=3, banned=[0, 1, 2])
    assert all(len(b) == 3 and b[0][1] >= b[1][1] >= b[2][1] for b in beams)
    assert np.mean([b[0][0] == e for b, e in zip(beams, expected[:20])]) > 0.95
    model.save(tmp_path / "s2s.keras")
    loaded = keras.saving.load_model(tmp_path / "s2s.keras")
    inputs = {"source": tf.constant(x[:4]), "target": tf.constant(y_in[:4])}
    np.testing.assert_allclose(loaded(inputs), model(inputs), atol=1e-5)


@pytest.mark.parametrize("attention, feeding", [("additive", False), ("multiplicative", True)])
def test_mixed_precision_trains_and_decodes(attention, feeding):
    # The decoder loop calls the attention's `keys`/`scores` outside `__call__`, where Keras's
    # autocast does not reach: bfloat16 states met float32 kernels there.
    keras.config.set_dtype_policy("mixed_bfloat16")
    x, y_in, y_out = reversal(64, np.random.default_rng(1))
    model = Seq2Seq(10, 10, embedding_dim=8, units=8, attention=attention, input_feeding=feeding)
    model.build()
    model.compile(keras.optimizers.Adam(0.01))
    history = model.fit({"source": x, "target": y_in}, y_out, epochs=2, batch_size=32, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    tokens, total, _, _ = model.greedy(tf.constant(x[:4]), BOS, EOS, 8, [0, 1, 2])
    assert tokens.shape == (4, 8) and total.dtype == tf.float32


def test_label_smoothing_is_keras_smoothed_cross_entropy_over_real_steps():
    rng = np.random.default_rng(2)
    x, y_in, y_out = reversal(8, rng)
    model = Seq2Seq(10, 10, embedding_dim=4, units=5, dropout=0.0, label_smoothing=0.2)
    model.build()
    logits = model({"source": tf.constant(x), "target": tf.constant(y_in)})
    real = y_out > 0
    smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    expected = smoothed(tf.one_hot(y_out[real], 10), tf.boolean_mask(logits, real))
    np.testing.assert_allclose(model.compute_loss(y=y_out, y_pred=logits), expected, rtol=1e-5)
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.label_smoothing = 0.0
    np.testing.assert_allclose(
        model.compute_loss(y=y_out, y_pred=logits),
        plain(y_out[real], tf.boolean_mask(logits, real)),
        rtol=1e-5,
    )
    assert (
        Seq2Seq.from_config(Seq2Seq(10, 10, label_smoothing=0.1).get_config()).label_smoothing
        == 0.1
    )
    with pytest.raises(ValueError, match="label_smoothing"):
        Seq2Seq(10, 10, label_smoothing=1.0)


def test_an_ensemble_decodes_with_the_mean_of_its_members_distributions(tmp_path):
    options = dict(embedding_dim=5, units=6, dropout=0.0)
    members = [Seq2Seq(12, 11, **options), Seq2Seq(12, 11, input_feeding=True, **options)]
    for member in members:
        member.build()
    ensemble = Seq2SeqEnsemble(members)
    source = tf.constant([[4, 5, 6, 0], [7, 8, 0, 0]])
    target = tf.constant([[BOS, 7, 8], [BOS, 9, 4]])
    mean = np.mean([tf.nn.softmax(m({"source": source, "target": target})) for m in members], 0)
    np.testing.assert_allclose(
        tf.nn.softmax(ensemble({"source": source, "target": target})), mean, atol=1e-5
    )
    values, keys, mask, states = ensemble.encode(source)
    for t in range(3):  # step by step as in one pass
        log_p, states, alpha = ensemble.step(target[:, t], states, values, keys, mask)
        np.testing.assert_allclose(np.exp(log_p), mean[:, t], atol=1e-5)
    beams = ensemble.beam_search(source, BOS, EOS, 5, beam=3)
    tokens, _, lengths, _ = ensemble.greedy(source, BOS, EOS, 5)
    assert [b[0][0] for b in Seq2SeqEnsemble([members[0]]).beam_search(source, BOS, EOS, 5, 3)] == [
        b[0][0] for b in members[0].beam_search(source, BOS, EOS, 5, 3)
    ]
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(m) for m in loaded.members] == [Seq2Seq, Seq2Seq]
    assert loaded.beam_search(source, BOS, EOS, 5, beam=3) == beams
    np.testing.assert_array_equal(loaded.greedy(source, BOS, EOS, 5)[0], tokens)
    with pytest.raises(ValueError, match="target_vocab_size"):
        Seq2SeqEnsemble([members[0], Seq2Seq(12, 10)])
