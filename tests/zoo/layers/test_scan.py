"""The fused loop's hand-written backward pass equals TensorFlow's gradient of the plain loop."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from tests.zoo.layers.helpers import VARIANTS, built, padded_batch
from zoo.layers import scan


def _gradients(layer, loop, x, mask, recurrent_mask, initial):
    cell = layer.cell
    proj = tf.constant(cell.input_projection(tf.transpose(x, (1, 0, 2))))
    params = cell.recurrent_params()
    time_mask = tf.constant(mask.T)
    with tf.GradientTape() as tape:
        tape.watch([proj, *initial, *params])
        outputs, final, _ = loop(cell, proj, initial, params, time_mask, recurrent_mask)
        # weights on every output and on the final states, so every gradient path counts
        loss = tf.reduce_sum(outputs * tf.sin(tf.range(outputs.shape[-1], dtype="float32")))
        loss += sum(tf.reduce_sum(s * (i + 2.0)) for i, s in enumerate(final))
    return [outputs, *final], tape.gradient(loss, [proj, *initial, *params])


FUSED = {
    "fused": scan.fused_loop,
    "fused_xla": functools.partial(scan.fused_loop, jit=True),
}


@pytest.mark.parametrize("fused", sorted(FUSED))
@pytest.mark.parametrize("with_dropout", [False, True])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fused_gradients_match_plain(variant, with_dropout, fused):
    layer = built(VARIANTS[variant]())
    x, mask = padded_batch([6, 3, 1, 5])
    mask[1, 0] = False  # a masked step before valid ones, too
    rng = np.random.default_rng(7)
    initial = tuple(
        tf.constant(rng.normal(size=(4, 5)).astype("float32")) for _ in range(layer._state_count())
    )
    recurrent_mask = None
    if with_dropout:
        recurrent_mask = tf.constant((rng.random((4, 5)) > 0.3).astype("float32") / 0.7)
    args = (x, mask, recurrent_mask, initial)
    plain_out, plain_grads = _gradients(layer, scan.plain_loop, *args)
    fused_out, fused_grads = _gradients(layer, FUSED[fused], *args)
    for p, f in zip(plain_out, fused_out):
        np.testing.assert_allclose(f, p, atol=1e-6)
    for p, f in zip(plain_grads, fused_grads):
        np.testing.assert_allclose(f, p, atol=1e-5, rtol=1e-5)


def _swish(v):
    return v * tf.sigmoid(v)


def test_custom_activation_falls_back_to_plain_loop():
    layer = built(VARIANTS["simple_rnn"](activation=_swish))
    assert not layer.cell.supports_fused
    x = np.ones((2, 3, 4), "float32")
    with tf.GradientTape() as tape:
        out = layer(x)
    assert all(g is not None for g in tape.gradient(out, layer.trainable_weights))
