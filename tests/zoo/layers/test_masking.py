"""Padding invariance: a sequence alone gives the same result as padded inside a batch."""

import numpy as np
import pytest

from tests.zoo.layers.helpers import VARIANTS, built, padded_batch
from zoo import layers

LENGTHS = [6, 2, 4, 1]


def _alone(layer, x, mask, index):
    length = int(mask[index].sum())
    return layer(x[index : index + 1, :length])


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_sequence_layer_padding_invariance(variant, go_backwards):
    layer = built(VARIANTS[variant](return_sequences=True, go_backwards=go_backwards))
    x, mask = padded_batch(LENGTHS)
    batch = np.asarray(layer(x, mask=mask))
    for i, length in enumerate(LENGTHS):
        alone = np.asarray(_alone(layer, x, mask, i))[0]
        # reading order: forward, the padding comes last; backwards, it is read first
        got = batch[i, -length:] if go_backwards else batch[i, :length]
        np.testing.assert_allclose(got, alone, atol=1e-6)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_last_output_and_states_ignore_padding(variant):
    layer = built(VARIANTS[variant](return_state=True))
    x, mask = padded_batch(LENGTHS)
    batch = layer(x, mask=mask)
    for i in range(len(LENGTHS)):
        for got, alone in zip(batch, _alone(layer, x, mask, i)):
            np.testing.assert_allclose(np.asarray(got)[i], np.asarray(alone)[0], atol=1e-6)


@pytest.mark.parametrize(
    "variant", ["gru_minimal", "lstm_peephole", "lstm", "gru_full_reset_after", "simple_rnn"]
)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_padding_invariance(variant, return_sequences):
    bi = layers.Bidirectional(VARIANTS[variant](return_sequences=return_sequences))
    built(bi)
    x, mask = padded_batch(LENGTHS)
    batch = np.asarray(bi(x, mask=mask))
    for i, length in enumerate(LENGTHS):
        alone = np.asarray(_alone(bi, x, mask, i))[0]
        if return_sequences:
            np.testing.assert_allclose(batch[i, :length], alone, atol=1e-6)
            assert np.all(batch[i, length:] == 0), "padded steps are zeros"
        else:
            np.testing.assert_allclose(batch[i], alone, atol=1e-6)


def test_bidirectional_backward_half_reads_from_the_end():
    """The backward half at step t has read x<t> ... x<Tx>: its value at the last real step is
    the backward layer run on that one step."""
    bi = built(layers.Bidirectional(layers.LSTM(5, return_sequences=True)))
    x, mask = padded_batch([5, 3])
    out = np.asarray(bi(x, mask=mask))
    one_step = np.asarray(bi.backward_layer(x[1:2, 2:3]))
    np.testing.assert_allclose(out[1, 2, 5:], one_step[0, 0], atol=1e-6)


def test_stacked_rnn_padding_invariance_and_states():
    deep = layers.StackedRNN(
        [
            layers.Bidirectional(layers.GRU(5, variant="minimal", return_sequences=True)),
            layers.LSTM(5, return_sequences=True, return_state=True),
        ]
    )
    built(deep)
    x, mask = padded_batch(LENGTHS)
    out, a, c = deep(x, mask=mask)
    assert out.shape == (4, 6, 5) and a.shape == c.shape == (4, 5)
    for i, length in enumerate(LENGTHS):
        alone_out, alone_a, _ = _alone(deep, x, mask, i)
        np.testing.assert_allclose(np.asarray(out)[i, :length], alone_out[0], atol=1e-6)
        np.testing.assert_allclose(np.asarray(a)[i], alone_a[0], atol=1e-6)


def test_stacked_rnn_needs_sequences_between_layers():
    with pytest.raises(ValueError, match="return_sequences"):
        layers.StackedRNN([layers.LSTM(4), layers.LSTM(4)])


@pytest.mark.parametrize("variant", ["lstm", "gru_full", "simple_rnn"])
def test_stateful_layer_continues_sequences_across_batches(variant):
    """Two halves fed to a stateful layer give the whole sequence's result; reset starts over."""
    x, _ = padded_batch([8, 8])
    whole = built(VARIANTS[variant](return_sequences=True))
    stateful = VARIANTS[variant](return_sequences=True, stateful=True)
    stateful.build((2, None, 4))
    stateful.cell.set_weights(whole.cell.get_weights())
    halves = np.concatenate([stateful(x[:, :5]), stateful(x[:, 5:])], axis=1)
    np.testing.assert_allclose(halves, whole(x), atol=1e-6)
    stateful.reset_states()
    np.testing.assert_allclose(stateful(x[:, :5]), whole(x[:, :5]), atol=1e-6)


def test_keras_bidirectional_accepts_zoo_layers():
    import keras

    x, mask = padded_batch([5, 2])
    keras_bi = keras.layers.Bidirectional(layers.GRU(5, return_sequences=True))
    keras_bi(x, mask=mask)
    zoo_bi = layers.Bidirectional(layers.GRU(5, return_sequences=True))
    zoo_bi.build(x.shape)
    zoo_bi.forward_layer.set_weights(keras_bi.forward_layer.get_weights())
    zoo_bi.backward_layer.set_weights(keras_bi.backward_layer.get_weights())
    np.testing.assert_allclose(zoo_bi(x, mask=mask), keras_bi(x, mask=mask), atol=1e-6)
