"""Contextual string embeddings: words as a character language model reads them in context.

Akbik, Blythe and Vollgraf (2018), "Contextual String Embeddings for Sequence Labeling"
(COLING), the embeddings behind Flair: a forward and a backward character language model read
the whole sentence as one string of characters, and each word is represented by what they know
at its edges.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="zoo")
class ContextualCharEmbedding(keras.layers.Layer):
    """Per-word vectors from one or two character language models run over the sentence.

    With the sentence as one string of characters `c<1> ... c<L>` (its words joined by spaces),
    a forward LM's last-layer state after reading `c<1..t>` and a backward LM's after reading
    `c<L..t>` from the right,

        h→<t> = LM→(c<1>, ..., c<t>)        h←<t> = LM←(c<L>, ..., c<t>)

    a word spanning characters `s .. e` is embedded as

        x_word = [h→<e> ; h←<s>]

    the forward state after its last character (everything up to and including the word) and
    the backward state before its first (the word and everything after it). Each state has read
    the whole sentence on its side, so the same word gets different vectors in different
    contexts, and a word never seen labelled still gets the language model's knowledge of its
    spelling and surroundings.

    Args:
        forward: a character language model with `hidden_states(ids, training=)` (a
            `zoo.models.LanguageModel`) reading left to right.
        backward: optionally one that was trained right to left (`pipelines.lm train
            --reverse`); it must share the forward model's character ids. The layer reverses
            each string within its length for it.
        fine_tune: train the language models with the layer's model (their embeddings and
            recurrent layers; the next-token softmax stays as it is). Default: frozen, their
            dropout off and their weights out of `trainable_weights`.

    Inputs: a dict of `chars` `(batch, L)` int character ids of each sentence's string (0 is
    padding, strings right-padded), `starts` and `ends` `(batch, W)` int positions in the
    string of each word's first and last character, -1 for padding words. Optionally
    `backward_chars` `(batch, L')`: another string for the backward model to read, `starts`
    then giving positions in it. A forward model needs only what comes before a word and a
    backward one only what follows, so a sentence read within the text around it can be given
    as `chars` = text before + sentence for the forward model and `backward_chars` = sentence
    + text after for the backward one, each shorter than both contexts together. Output:
    `(batch, W, units→ + units←)`, zeros for padding words, which the output mask leaves out.
    A sentence gives the same vectors alone and inside a padded batch.
    """

    def __init__(self, forward, backward=None, fine_tune=False, **kwargs):
        super().__init__(**kwargs)
        self.forward_lm, self.backward_lm, self.fine_tune = forward, backward, fine_tune
        for lm in self.language_models:
            lm.trainable = fine_tune
            for head in (getattr(lm, "logits", None), getattr(lm, "projection", None)):
                if head is not None:  # the next-token softmax: not read by the states
                    head.trainable = False
        self.supports_masking = True

    @property
    def language_models(self):
        return [lm for lm in (self.forward_lm, self.backward_lm) if lm is not None]

    @property
    def output_dim(self):
        return sum(lm.units for lm in self.language_models)

    def build(self, input_shape=None):
        for lm in self.language_models:
            if not lm.built:
                lm.build()
        self.built = True

    def call(self, inputs, training=None):
        chars = tf.cast(inputs["chars"], "int32")
        starts, ends = tf.cast(inputs["starts"], "int32"), tf.cast(inputs["ends"], "int32")
        lm_training = bool(training) and self.fine_tune
        forward = self.forward_lm.hidden_states(chars, training=lm_training)
        parts = [tf.gather(forward, tf.maximum(ends, 0), batch_dims=1)]
        if self.backward_lm is not None:
            if "backward_chars" in inputs:
                chars = tf.cast(inputs["backward_chars"], "int32")
            lengths = tf.reduce_sum(tf.cast(chars > 0, "int32"), axis=1)
            reversed_chars = tf.reverse_sequence(chars, lengths, seq_axis=1, batch_axis=0)
            backward = self.backward_lm.hidden_states(reversed_chars, training=lm_training)
            backward = tf.reverse_sequence(backward, lengths, seq_axis=1, batch_axis=0)
            parts.append(tf.gather(backward, tf.maximum(starts, 0), batch_dims=1))
        vectors = tf.concat([tf.cast(p, self.compute_dtype) for p in parts], axis=-1)
        return tf.where((starts >= 0)[..., None], vectors, tf.zeros_like(vectors))

    def compute_mask(self, inputs, mask=None):
        return inputs["starts"] >= 0

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape["starts"]), self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "forward": keras.saving.serialize_keras_object(self.forward_lm),
                "backward": keras.saving.serialize_keras_object(self.backward_lm)
                if self.backward_lm is not None
                else None,
                "fine_tune": self.fine_tune,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("forward", "backward"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
