"""`CRF`: a linear-chain conditional random field over per-step tag scores."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="zoo")
class CRF(keras.layers.Layer):
    """Linear-chain CRF (Lafferty et al. 2001), the output layer of BiLSTM-CRF taggers
    (Lample et al. 2016).

    For emission scores e<t> (the tagger's per-step scores, "potentials") and a tag sequence y:

        score(y) = start[y<1>] + sum_t e<t>[y<t>] + sum_t>1 A[y<t-1>, y<t>] + end[y<Ty>]
        p(y | x) = exp(score(y)) / sum over all y' of exp(score(y'))

    The sum over all paths (the partition function) and the best path (Viterbi) are computed by
    dynamic programming over time. Masked steps are skipped: a sequence padded inside a batch (or
    with masked steps anywhere) scores and decodes exactly as the sequence of its valid steps.
    All arithmetic is float32, whatever the layer's compute dtype.

    Args:
        num_tags: number of tags.
        transitions_initializer: initializer of A, `start` and `end`.

    Calling the layer returns the Viterbi tags, (batch, time) int32, 0 at masked steps. Training
    uses `log_likelihood`; `marginals` gives each step's posterior tag probabilities.

    Example:
        >>> crf = CRF(5)
        >>> scores = np.random.randn(2, 7, 5).astype("float32")
        >>> tags = crf(scores)                                  # (2, 7) int32
        >>> loss = -crf.log_likelihood(scores, tags)            # (2,)
    """

    def __init__(self, num_tags, transitions_initializer="zeros", **kwargs):
        # float32 arithmetic: its weights are read as float32 even under a mixed policy
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if num_tags < 1:
            raise ValueError(f"num_tags must be positive, got {num_tags}")
        self.num_tags = int(num_tags)
        self.transitions_initializer = keras.initializers.get(transitions_initializer)
        self.supports_masking = True

    def build(self, potentials_shape):
        if potentials_shape[-1] is not None and potentials_shape[-1] != self.num_tags:
            raise ValueError(f"CRF({self.num_tags}) got scores for {potentials_shape[-1]} tags")
        n = self.num_tags
        init = self.transitions_initializer
        # A[i, j]: the score of tag j following tag i
        self.transitions = self.add_weight(shape=(n, n), name="transitions", initializer=init)
        self.start_transitions = self.add_weight(shape=(n,), name="start", initializer=init)
        self.end_transitions = self.add_weight(shape=(n,), name="end", initializer=init)

    # === helpers ===

    def _prepare(self, potentials, mask):
        """Time-major float32 scores (time, batch, tags) and mask (time, batch)."""
        potentials = tf.cast(potentials, "float32")
        if mask is None:
            mask = tf.ones(tf.shape(potentials)[:2], dtype="bool")
        mask = tf.cast(mask, "bool")
        return tf.transpose(potentials, (1, 0, 2)), tf.transpose(mask, (1, 0))

    def _weights(self):
        return (
            tf.cast(self.transitions, "float32"),
            tf.cast(self.start_transitions, "float32"),
            tf.cast(self.end_transitions, "float32"),
        )

    # === scores ===

    def log_partition(self, potentials, mask=None):
        """log of the sum over all tag paths of exp(score): (batch,); 0 for empty sequences."""
        emissions, steps_mask = self._prepare(potentials, mask)
        transitions, start, end = self._weights()
        batch = tf.shape(emissions)[1]
        alpha0 = tf.zeros((batch, self.num_tags))
        started0 = tf.zeros((batch,), dtype="bool")

        def step(carry, inputs):
            alpha, started = carry
            e, m = inputs
            # (batch, previous tag, tag) -> logsumexp over the previous tag
            moved = tf.reduce_logsumexp(alpha[:, :, None] + transitions[None], axis=1) + e
            new = tf.where(started[:, None], moved, start[None] + e)
            return tf.where(m[:, None], new, alpha), tf.logical_or(started, m)

        alpha, started = tf.scan(step, (emissions, steps_mask), initializer=(alpha0, started0))
        alpha, started = alpha[-1], started[-1]
        total = tf.reduce_logsumexp(alpha + end[None], axis=1)
        return tf.where(started, total, tf.zeros_like(total))

    def sequence_score(self, potentials, tags, mask=None):
        """score(y) of the given tag sequences: (batch,)."""
        emissions, steps_mask = self._prepare(potentials, mask)
        transitions, start, end = self._weights()
        tags = tf.transpose(tf.cast(tags, "int32"), (1, 0))  # (time, batch)
        batch = tf.shape(emissions)[1]

        def step(carry, inputs):
            score, last, started = carry
            e, y, m = inputs
            emitted = tf.gather(e, y, axis=1, batch_dims=1)
            moved = tf.gather_nd(transitions, tf.stack([last, y], axis=1))
            added = emitted + tf.where(started, moved, tf.gather(start, y))
            return (
                score + tf.where(m, added, tf.zeros_like(added)),
                tf.where(m, y, last),
                tf.logical_or(started, m),
            )

        init = (tf.zeros((batch,)), tf.zeros((batch,), "int32"), tf.zeros((batch,), "bool"))
        score, last, started = tf.scan(step, (emissions, tags, steps_mask), initializer=init)
        score, last, started = score[-1], last[-1], started[-1]
        return score + tf.where(started, tf.gather(end, last), tf.zeros_like(score))

    def log_likelihood(self, potentials, tags, mask=None):
        """log p(tags | x) per sequence, (batch,); its negative is the training loss."""
        return self.sequence_score(potentials, tags, mask) - self.log_partition(potentials, mask)

    def marginals(self, potentials, mask=None):
        """p(y<t> = j | x) for every step and tag, (batch, time, tags); zeros at masked steps.

        The gradient of the log partition function with respect to the emission scores is
        exactly these marginals, so that is how they are computed (no second recursion to get
        wrong).
        """
        potentials = tf.cast(potentials, "float32")
        with tf.GradientTape() as tape:
            tape.watch(potentials)
            log_z = self.log_partition(potentials, mask)
        return tape.gradient(log_z, potentials)

    # === decoding ===

    def decode(self, potentials, mask=None):
        """The best path (Viterbi): tags (batch, time) int32, 0 at masked steps, and its score."""
        emissions, steps_mask = self._prepare(potentials, mask)
        transitions, start, end = self._weights()
        batch = tf.shape(emissions)[1]
        identity = tf.broadcast_to(tf.range(self.num_tags)[None], (batch, self.num_tags))

        def forward(carry, inputs):
            delta, started, _ = carry
            e, m = inputs
            candidates = delta[:, :, None] + transitions[None]  # (batch, previous, tag)
            best_previous = tf.argmax(candidates, axis=1, output_type="int32")
            moved = tf.reduce_max(candidates, axis=1) + e
            new = tf.where(started[:, None], moved, start[None] + e)
            # Backpointers: identity where the step is masked or starts the sequence, so that
            # following them walks through masked steps without changing the tag.
            pointers = tf.where((m & started)[:, None], best_previous, identity)
            return tf.where(m[:, None], new, delta), tf.logical_or(started, m), pointers

        init = (
            tf.zeros((batch, self.num_tags)),
            tf.zeros((batch,), "bool"),
            identity,
        )
        deltas, started, pointers = tf.scan(forward, (emissions, steps_mask), initializer=init)
        final = deltas[-1] + end[None]
        last_tag = tf.argmax(final, axis=1, output_type="int32")
        best_score = tf.where(started[-1], tf.reduce_max(final, axis=1), tf.zeros((batch,)))

        def backward(tag, step_pointers):
            return tf.gather(step_pointers, tag, axis=1, batch_dims=1)

        # tags[t-1] = pointers[t][tags[t]], walking back from the last step; an identity step
        # after the last gives tags[T-1] = last_tag (and a non-empty scan for one-step inputs)
        steps = tf.concat([pointers[1:], identity[None]], axis=0)
        tags = tf.scan(backward, steps, initializer=last_tag, reverse=True)  # (time, batch)
        tags = tf.where(steps_mask, tags, tf.zeros_like(tags))
        return tf.transpose(tags, (1, 0)), best_score

    def call(self, potentials, mask=None):
        return self.decode(potentials, mask)[0]

    def compute_output_shape(self, potentials_shape):
        return tuple(potentials_shape[:-1])

    def compute_output_spec(self, potentials, mask=None):
        return keras.KerasTensor(potentials.shape[:-1], dtype="int32")

    def compute_mask(self, potentials, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tags": self.num_tags,
                "transitions_initializer": keras.initializers.serialize(
                    self.transitions_initializer
                ),
            }
        )
        return config
