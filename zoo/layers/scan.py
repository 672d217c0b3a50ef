"""The time loop shared by every zoo recurrent layer.

A zoo cell splits one step into the input projection `zx = x<t> Wx + b` (done for all steps at
once, one matmul, before the loop) and the recurrent part (the loop). Two loops run that part:

- `plain`: a `tf.while_loop` over `cell.step`, differentiated by TensorFlow. Works for any
  activation and can also return the gate activations.
- `fused`: the same forward loop under `tf.custom_gradient`, with the backward pass written by
  hand (`cell.backward_step`), and the gradient of the recurrent weights computed after the loop as
  one matmul over all steps instead of one small matmul per step. Optionally compiled by XLA.

Both compute the same function; tests check their outputs and gradients against each other.

Masks: at a masked step the states carry over unchanged (as in `keras.layers.RNN`).
Shapes: time-major inside, `proj` is (time, batch, blocks * units).
"""

import functools

import tensorflow as tf

# Steps a while loop may run ahead: reads, input-only work and writes of step t+1 overlap step t.
PARALLEL_ITERATIONS = 32


def _while(steps, body, loop_vars):
    """`tf.while_loop` over t = 0 .. steps - 1; `body(t, ...)` returns `(t + 1, ...)`."""
    return tf.while_loop(
        lambda t, *_: t < steps,
        body,
        loop_vars,
        maximum_iterations=steps,
        parallel_iterations=PARALLEL_ITERATIONS,
    )


def _expand(mask_t):
    return mask_t[:, None]  # (batch, 1): broadcasts over units


def plain_loop(
    cell,
    proj,
    states,
    params,
    mask=None,
    recurrent_mask=None,
    return_gates=False,
    project=None,
):
    """Runs `cell.step` over time. Returns (a for every step, final states, gates or None).

    Args:
        cell: a zoo cell.
        proj: (time, batch, blocks * units) input projections, bias included; or, with
            `project`, the (time, batch, features) inputs that `project` maps to them.
        states: tuple of (batch, units) initial states; `states[0]` is `a<0>`.
        params: the cell's recurrent parameters, `cell.recurrent_params()`.
        mask: optional (time, batch) boolean; masked steps carry the states over.
        recurrent_mask: optional (batch, units) dropout mask on the recurrent input.
        return_gates: also stack each step's gate activations, (time, batch, gates, units).
        project: optional function computing a step's projection inside the loop. Inference
            uses it: at large batches, one (batch, blocks * units) projection per step stays in
            cache, where the projection of all steps at once is a big tensor to write and read.
    """
    steps = tf.shape(proj)[0]
    # A TensorArray, not proj[t]: the gradient of a slice inside the loop would be a full-size
    # (time, batch, ...) tensor per step.
    inputs = tf.TensorArray(proj.dtype, size=steps).unstack(proj)
    dtype = states[0].dtype
    outputs = tf.TensorArray(dtype, size=steps, element_shape=states[0].shape)
    arrays = (outputs, tf.TensorArray(dtype, size=steps)) if return_gates else (outputs,)

    def body(t, states, arrays):
        zx = inputs.read(t) if project is None else project(inputs.read(t))
        new_states, _, step_gates = cell.step(
            zx, states, params, recurrent_mask, gates=return_gates
        )
        if mask is not None:
            keep = _expand(mask[t])
            new_states = tuple(tf.where(keep, n, o) for n, o in zip(new_states, states))
            if return_gates:
                step_gates = tf.where(keep[:, None], step_gates, tf.zeros_like(step_gates))
        written = (arrays[0].write(t, new_states[0]),)
        if return_gates:
            written += (arrays[1].write(t, step_gates),)
        return t + 1, new_states, written

    _, final, arrays = _while(steps, body, (0, tuple(states), arrays))
    return arrays[0].stack(), final, (arrays[1].stack() if return_gates else None)


def _fused_forward(cell, proj, init, params, mask, recurrent_mask):
    """The forward loop, keeping every state and what `cell.backward_step` needs."""
    steps = tf.shape(proj)[0]
    seqs = tuple(tf.TensorArray(proj.dtype, size=steps, element_shape=s.shape) for s in init)
    saved = tuple(tf.TensorArray(proj.dtype, size=steps) for _ in range(cell.saved_count))

    def body(t, states, seqs, saved):
        # proj[t], not a TensorArray: nothing differentiates this loop, and unstacking would
        # copy all of proj once more.
        new_states, step_saved, _ = cell.step(proj[t], states, params, recurrent_mask, save=True)
        if mask is not None:
            keep = _expand(mask[t])
            new_states = tuple(tf.where(keep, n, o) for n, o in zip(new_states, states))
        seqs = tuple(a.write(t, s) for a, s in zip(seqs, new_states))
        saved = tuple(a.write(t, s) for a, s in zip(saved, step_saved))
        return t + 1, new_states, seqs, saved

    _, final, seqs, saved = _while(steps, body, (0, tuple(init), seqs, saved))
    return tuple(a.stack() for a in seqs), final, tuple(a.stack() for a in saved)


def _fused_backward(cell, init, new_seqs, saved_seqs, params, mask, recurrent_mask, d_out, d_final):
    """The backward loop: gradients of the input projections, initial states and parameters."""
    steps = tf.shape(new_seqs[0])[0]
    # (time, batch, units) per state: the states before each step.
    prev_seqs = tuple(tf.concat([s0[None], s[:-1]], axis=0) for s0, s in zip(init, new_seqs))

    def back(i, d_states, arrays):
        t = steps - 1 - i
        d_new = list(d_states)
        d_new[0] = d_new[0] + d_out[t]
        if mask is not None:
            keep = _expand(mask[t])
            carried = [tf.where(keep, tf.zeros_like(d), d) for d in d_new]
            d_new = [tf.where(keep, d, tf.zeros_like(d)) for d in d_new]
        dzx, d_prev, dz_rec = cell.backward_step(
            [s[t] for s in saved_seqs],
            [s[t] for s in prev_seqs],
            [s[t] for s in new_seqs],
            d_new,
            params,
            recurrent_mask,
        )
        if mask is not None:
            d_prev = [a + b for a, b in zip(d_prev, carried)]
        written = (arrays[0].write(t, dzx),)
        if not cell.dz_rec_is_dzx:
            written += (arrays[1].write(t, dz_rec),)
        return i + 1, tuple(d_prev), written

    # For most cells the recurrent pre-activation's gradient is the input one's
    # (`cell.dz_rec_is_dzx`); then one array holds both.
    count = 1 if cell.dz_rec_is_dzx else 2
    arrays = tuple(tf.TensorArray(new_seqs[0].dtype, size=steps) for _ in range(count))
    _, d_init, arrays = _while(steps, back, (0, tuple(d_final), arrays))
    dzx = arrays[0].stack()
    dz_rec = dzx if cell.dz_rec_is_dzx else arrays[1].stack()
    d_params = cell.param_grads(saved_seqs, prev_seqs, new_seqs, dz_rec, params, recurrent_mask)
    return dzx, d_init, tuple(d_params)


def fused_loop(cell, proj, states, params, mask=None, recurrent_mask=None, jit=False):
    """Same function as `plain_loop` (without gates), with a hand-written backward pass.

    With `jit=True` the forward and the backward loop are each compiled by XLA (one compilation
    per shape).
    """
    states = tuple(states)
    n_states = len(states)
    forward = functools.partial(_fused_forward, cell)
    backward = functools.partial(_fused_backward, cell)
    if jit:
        forward = tf.function(forward, jit_compile=True, autograph=False)
        backward = tf.function(backward, jit_compile=True, autograph=False)

    @tf.custom_gradient
    def run(proj, *flat):
        # Nothing differentiates through the loops themselves (`grad` below does that job), and
        # an XLA-compiled loop must not be asked for its own gradient.
        proj, flat = tf.stop_gradient(proj), [tf.stop_gradient(v) for v in flat]
        init, params_ = tuple(flat[:n_states]), tuple(flat[n_states:])
        new_seqs, final, saved_seqs = forward(proj, init, params_, mask, recurrent_mask)

        def grad(d_out, *d_final):
            if d_out is None:
                d_out = tf.zeros_like(new_seqs[0])
            d_final = tuple(tf.zeros_like(s) if d is None else d for s, d in zip(final, d_final))
            dzx, d_init, d_params = backward(
                init, new_seqs, saved_seqs, params_, mask, recurrent_mask, d_out, d_final
            )
            return (dzx, *d_init, *d_params)

        return (new_seqs[0], *final), grad

    out = run(proj, *states, *params)
    return out[0], tuple(out[1:]), None
