"""Attention for encoder-decoders: `AdditiveAttention` (Bahdanau) and `MultiplicativeAttention`
(Luong).

The course's attention model: for decoder step t with previous state s<t-1> and encoder states
a<t'> (t' = 1 .. Tx),

    e<t,t'> = score(s<t-1>, a<t'>)
    α<t,t'> = exp(e<t,t'>) / sum over t' of exp(e<t,t'>)       (masked t' get α = 0)
    c<t>    = sum over t' of α<t,t'> a<t'>

`AdditiveAttention`: score = v · tanh(Wq s + Wa a) (Bahdanau et al. 2015, the course's "small
neural network"). `MultiplicativeAttention`: score = s · (W a) (Luong et al. 2015, "general"),
or s · a without a kernel ("dot").

The query is one decoder state (batch, query_dim) or a sequence of them (batch, Ty, query_dim),
for a decoder loop or teacher forcing over all steps at once.
"""

import keras
import tensorflow as tf


class _Attention(keras.layers.Layer):
    """Shared part: masking, softmax, context. Subclasses define `keys` and `scores`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def keys(self, values):
        """What the score reads of the encoder states; a decoder loop computes it once."""
        return values

    def scores(self, query, keys):
        """e: (batch, Ty, Tx) for query (batch, Ty, query_dim)."""
        raise NotImplementedError

    def call(self, query, values, mask=None, keys=None, return_attention_scores=False):
        """Context vectors (and, optionally, the weights α).

        Args:
            query: (batch, query_dim) or (batch, Ty, query_dim) decoder states.
            values: (batch, Tx, value_dim) encoder states.
            mask: optional (batch, Tx) boolean, True at the encoder's valid steps (a list
                `[query_mask, values_mask]` as Keras passes it also works).
            keys: `self.keys(values)`, when the caller computed it already.
            return_attention_scores: also return α, (batch, [Ty,] Tx).
        """
        if isinstance(mask, (list, tuple)):
            mask = mask[-1]
        single = len(query.shape) == 2
        if single:
            query = query[:, None]  # (batch, 1, query_dim)
        keys = self.keys(values) if keys is None else keys
        e = self.scores(query, keys)  # (batch, Ty, Tx)
        if mask is not None:
            valid = tf.cast(mask, "bool")[:, None, :]
            e = tf.where(valid, e, tf.cast(-1e9, e.dtype) * tf.ones_like(e))
        alpha = tf.nn.softmax(tf.cast(e, "float32"), axis=-1)
        if mask is not None:  # a sequence with no valid step attends to nothing
            alpha = tf.where(valid, alpha, tf.zeros_like(alpha))
        alpha = tf.cast(alpha, values.dtype)
        context = tf.matmul(alpha, values)  # (batch, Ty, value_dim)
        if single:
            context, alpha = context[:, 0], alpha[:, 0]
        return (context, alpha) if return_attention_scores else context

    def compute_mask(self, query, values=None, mask=None, **kwargs):
        return None


@keras.saving.register_keras_serializable(package="zoo")
class AdditiveAttention(_Attention):
    """Bahdanau attention: e<t,t'> = v · tanh(Wq s<t-1> + Wa a<t'> + b).

    Args:
        units: size of the hidden layer of the score network.

    Example:
        >>> attention = AdditiveAttention(16)
        >>> context, alpha = attention(s, a, mask=a_mask, return_attention_scores=True)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, query_shape, values_shape=None, *args, **kwargs):
        self.query_kernel = self.add_weight(
            shape=(query_shape[-1], self.units), name="query_kernel"
        )
        self.value_kernel = self.add_weight(
            shape=(values_shape[-1], self.units), name="value_kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")
        self.score_vector = self.add_weight(shape=(self.units,), name="score_vector")

    def keys(self, values):
        # Weights cast by hand: a decoder loop calls `keys` and `scores` outside `__call__`,
        # where Keras's autocast (mixed precision) does not reach.
        kernel, bias = tf.cast(self.value_kernel, values.dtype), tf.cast(self.bias, values.dtype)
        return tf.matmul(values, kernel) + bias  # (batch, Tx, units)

    def scores(self, query, keys):
        projected = tf.matmul(query, tf.cast(self.query_kernel, query.dtype))  # (batch, Ty, units)
        hidden = tf.tanh(projected[:, :, None, :] + keys[:, None, :, :])  # (batch, Ty, Tx, units)
        return tf.tensordot(hidden, tf.cast(self.score_vector, hidden.dtype), axes=1)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="zoo")
class MultiplicativeAttention(_Attention):
    """Luong attention: e<t,t'> = s<t-1> · (W a<t'>) ("general"), or s · a with
    `use_kernel=False` ("dot", which needs query_dim == value_dim).

    Args:
        use_kernel: learn W (default) or use the plain dot product.
        scale: divide scores by sqrt(dimension), as in scaled dot-product attention.
    """

    def __init__(self, use_kernel=True, scale=False, **kwargs):
        super().__init__(**kwargs)
        self.use_kernel = bool(use_kernel)
        self.scale = bool(scale)

    def build(self, query_shape, values_shape=None, *args, **kwargs):
        if self.use_kernel:
            self.kernel = self.add_weight(shape=(values_shape[-1], query_shape[-1]), name="kernel")
        elif query_shape[-1] != values_shape[-1]:
            raise ValueError(
                f"dot attention needs equal sizes, got query {query_shape[-1]} "
                f"and values {values_shape[-1]}: use use_kernel=True"
            )

    def keys(self, values):
        if not self.use_kernel:
            return values
        return tf.matmul(values, tf.cast(self.kernel, values.dtype))  # cast: see AdditiveAttention

    def scores(self, query, keys):
        e = tf.matmul(query, keys, transpose_b=True)  # (batch, Ty, Tx)
        if self.scale:
            e = e / tf.sqrt(tf.cast(tf.shape(keys)[-1], e.dtype))
        return e

    def get_config(self):
        return {**super().get_config(), "use_kernel": self.use_kernel, "scale": self.scale}
