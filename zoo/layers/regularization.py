"""AWD-LSTM's dropouts that are layers of their own (Merity et al. 2018, "Regularizing and
Optimizing LSTM Language Models"): locked dropout between layers and embedding dropout. The
third, weight dropout on the recurrent kernel, is `weight_dropout=` of the sequence layers.

All of them act only in training (`training=True`); at inference they are the identity.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="zoo")
class LockedDropout(keras.layers.Layer):
    """Variational ("locked") dropout on a sequence (Gal & Ghahramani 2016; AWD-LSTM):

        y<t> = x<t> * m / (1 - p),    m ~ Bernoulli(1 - p) of shape (batch, features)

    one mask per sequence, the same at every step t, where `keras.layers.Dropout` draws a new
    mask at every step. Between stacked recurrent layers it drops the same units of a<t> all
    along a sequence. Masks pass through; `noise_shape` as in Keras otherwise.

    Args:
        rate: p, the fraction of features dropped.
        seed: for the masks.

    Example:
        >>> LockedDropout(0.3)(np.ones((2, 5, 4)), training=True)[0]  # rows repeat over time
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, sequences, training=None):
        if not training or self.rate == 0:
            return sequences
        shape = tf.shape(sequences)
        keep = keras.random.dropout(
            tf.ones((shape[0], 1, shape[-1]), sequences.dtype),
            rate=self.rate,
            seed=self.seed_generator,
        )
        return sequences * keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="zoo")
class Embedding(keras.layers.Embedding):
    """`keras.layers.Embedding` with AWD-LSTM's embedding dropout: in training, whole rows of
    the embedding matrix are dropped (a word type vanishes from the whole batch, every one of
    its occurrences at once) and the rest scaled:

        e(w) = E[w] * m_w / (1 - p),    m_w ~ Bernoulli(1 - p) per vocabulary entry w

    drawn once per call (per batch). Everything else, `mask_zero` included, is Keras's layer.

    Args:
        input_dim, output_dim, ...: as in `keras.layers.Embedding`.
        embedding_dropout: p, the fraction of word types dropped.
        seed: for the masks.
    """

    def __init__(self, input_dim, output_dim, embedding_dropout=0.0, seed=None, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        if not 0 <= embedding_dropout < 1:
            raise ValueError(f"embedding_dropout must be in [0, 1), got {embedding_dropout}")
        self.embedding_dropout = float(embedding_dropout)
        self.seed = seed
        # none without dropout: a plain embedding draws no seed (initialisations stay as
        # keras.layers.Embedding's under the same global seed)
        self.seed_generator = keras.random.SeedGenerator(seed) if embedding_dropout else None

    def call(self, inputs, training=None):
        outputs = super().call(inputs)
        if not training or self.embedding_dropout == 0:
            return outputs
        keep = keras.random.dropout(
            tf.ones((self.input_dim,), outputs.dtype),
            rate=self.embedding_dropout,
            seed=self.seed_generator,
        )
        ids = tf.cast(inputs, "int32")
        return outputs * tf.gather(keep, ids)[..., None]

    def get_config(self):
        config = super().get_config()
        config.update({"embedding_dropout": self.embedding_dropout, "seed": self.seed})
        return config
