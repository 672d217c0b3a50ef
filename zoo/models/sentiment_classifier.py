"""`SentimentClassifier`: tokens -> (bi)directional zoo RNN -> pooling -> a softmax over classes.

Many-to-one (course: "Sentiment classification"): the whole text decides one label, binary
polarity or a rating from one to five (or ten). The recurrent layers read the text; pooling
turns their outputs at the valid (unpadded) steps into one vector.
"""

import keras
import tensorflow as tf

from zoo import layers

RNNS = ("lstm", "gru")
POOLINGS = ("last", "max", "mean", "max_mean", "last_max_mean", "attention")


@keras.saving.register_keras_serializable(package="zoo")
class SentimentClassifier(keras.Model):
    """A text classifier. Input: `(batch, time)` int token ids, 0 for padding. `call` returns
    class logits `(batch, num_classes)`.

    Args:
        vocab_size, num_classes: sizes (ids include padding 0).
        embedding_dim: token embedding size.
        rnn: `"lstm"` or `"gru"`; units: its size (each way); depth: stacked layers.
        bidirectional: read the text both ways.
        pooling: how the steps become one vector: `"last"` (the final state: the last valid
            step forwards, and the first step backwards), `"max"`, `"mean"`, `"max_mean"` (both,
            concatenated), `"last_max_mean"` (all three, ULMFiT's concat pooling) or
            `"attention"` (a learned weighted mean), all over valid steps only.
        dropout: on the embeddings, between layers and before the softmax.
        weight_dropout: AWD-LSTM's DropConnect on each recurrent layer's recurrent kernel (one
            mask per batch; `zoo.layers` `weight_dropout=`).
        embedding_dropout: whole word types dropped from a batch's embeddings
            (`zoo.layers.Embedding`). Both as ULMFiT fine-tunes its classifiers; off at
            inference.

    Train it with `compile(optimizer, loss=keras.losses.SparseCategoricalCrossentropy(
    from_logits=True))` and `fit(tokens, labels)`. `from_language_model` starts one from a
    `LanguageModel` (same ids): its embeddings and recurrent layers become the encoder.
    """

    def __init__(
        self,
        vocab_size,
        num_classes,
        embedding_dim=100,
        rnn="lstm",
        units=128,
        depth=1,
        bidirectional=True,
        pooling="max_mean",
        dropout=0.3,
        weight_dropout=0.0,
        embedding_dropout=0.0,
        **kwargs,
    ):
        for name, value, allowed in (("rnn", rnn, RNNS), ("pooling", pooling, POOLINGS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.rnn = rnn
        self.units = units
        self.depth = depth
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.weight_dropout = weight_dropout
        self.embedding_dropout = embedding_dropout

        recurrent = {"lstm": layers.LSTM, "gru": layers.GRU}[rnn]
        self.embedding = layers.Embedding(
            vocab_size,
            embedding_dim,
            embedding_dropout=embedding_dropout,
            mask_zero=True,
            name="embedding",
        )
        stack = []
        for index in range(depth):
            layer = recurrent(
                units, return_sequences=True, weight_dropout=weight_dropout, name=f"{rnn}_{index}"
            )
            stack.append(
                layers.Bidirectional(layer, name=f"bi_{rnn}_{index}") if bidirectional else layer
            )
        self.encoder = layers.StackedRNN(stack, dropout=dropout, name="encoder")
        self.input_dropout = keras.layers.Dropout(dropout, name="input_dropout")
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.attention_scores = (
            keras.layers.Dense(1, name="attention_scores") if pooling == "attention" else None
        )
        self.classes = keras.layers.Dense(num_classes, name="classes")

    def build(self, input_shape=None):
        self.call(tf.ones((1, 1), "int32"))
        self.built = True

    def call(self, tokens, training=None):
        mask = tokens > 0
        h = self.input_dropout(self.embedding(tokens, training=training), training=training)
        h = self.encoder(h, mask=mask, training=training)  # (batch, time, features)
        pooled = self.pool(h, mask)
        return self.classes(self.output_dropout(pooled, training=training))

    def pool(self, h, mask):
        """(batch, time, features), (batch, time) -> (batch, pooled features), valid steps only."""
        valid = tf.cast(mask, h.dtype)[:, :, None]
        count = tf.maximum(tf.reduce_sum(valid, axis=1), 1.0)
        if self.pooling in ("last", "last_max_mean"):
            last = tf.maximum(tf.reduce_sum(tf.cast(mask, "int32"), axis=1) - 1, 0)
            final = tf.gather(h, last, batch_dims=1)
            if self.bidirectional:
                # the backward direction has read the whole text at the first step
                half = h.shape[-1] // 2
                final = tf.concat([final[:, :half], h[:, 0, half:]], axis=-1)
            if self.pooling == "last":
                return final
        lowest = tf.fill(tf.shape(h), tf.cast(-1e9, h.dtype))
        maximum = tf.reduce_max(tf.where(valid > 0, h, lowest), axis=1)
        mean = tf.reduce_sum(h * valid, axis=1) / count
        if self.pooling == "max":
            return maximum
        if self.pooling == "mean":
            return mean
        if self.pooling == "max_mean":
            return tf.concat([maximum, mean], axis=-1)
        if self.pooling == "last_max_mean":
            return tf.concat([final, maximum, mean], axis=-1)
        scores = tf.squeeze(self.attention_scores(h), -1)
        scores = tf.where(mask, scores, tf.cast(-1e9, scores.dtype))
        weights = tf.nn.softmax(scores, axis=1)[:, :, None]
        return tf.reduce_sum(h * weights, axis=1)

    def layer_groups(self):
        """The trainable variables from the input up, one list per level: the embeddings,
        each recurrent layer, the head (pooling scores and classes). For discriminative learning
        rates and gradual unfreezing (`pipelines.training.LayerwiseAdam`)."""
        head = [self.classes] + ([self.attention_scores] if self.attention_scores else [])
        levels = [[self.embedding], *[[layer] for layer in self.encoder.layers], head]
        return [[v for layer in level for v in layer.trainable_weights] for level in levels]

    @classmethod
    def from_language_model(cls, lm, num_classes, pooling="last_max_mean", dropout=0.3, **kwargs):
        """A classifier reading text as `lm` (a `zoo.models.LanguageModel`) does, forwards,
        with its embeddings and recurrent layers copied in; the head is new. `weight_dropout`
        and `embedding_dropout` default to the language model's."""
        kwargs.setdefault("weight_dropout", getattr(lm, "weight_dropout", 0.0))
        kwargs.setdefault("embedding_dropout", getattr(lm, "embedding_dropout", 0.0))
        model = cls(
            lm.vocab_size,
            num_classes,
            embedding_dim=lm.embedding_dim,
            rnn=lm.rnn,
            units=lm.units,
            depth=lm.depth,
            bidirectional=False,
            pooling=pooling,
            dropout=dropout,
            **kwargs,
        )
        model.build()
        model.embedding.set_weights(lm.embedding.get_weights())
        for target, source in zip(model.encoder.layers, lm.rnns):
            target.set_weights(source.get_weights())
        return model

    def get_config(self):
        config = super().get_config()
        for name in (
            "vocab_size",
            "num_classes",
            "embedding_dim",
            "rnn",
            "units",
            "depth",
            "bidirectional",
            "pooling",
            "dropout",
            "weight_dropout",
            "embedding_dropout",
        ):
            config[name] = getattr(self, name)
        return config
