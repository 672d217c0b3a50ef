"""`LanguageModel`: tokens -> stacked zoo RNN -> a softmax over the next token.

One-to-many when sampling (course: "Language model and sequence generation", "Sampling novel
sequences"): the model reads `y<1> ... y<t-1>` and outputs `p(y<t> | y<1> ... y<t-1>)`; fed its
own draws one step at a time (`step`), it writes new sequences. Characters or words alike: the
model sees ids; `pipelines.lm` decides what an id is.
"""

import keras
import tensorflow as tf

from zoo import layers
from zoo.models.losses import per_replica

RNNS = ("lstm", "gru")


@keras.saving.register_keras_serializable(package="zoo")
class LanguageModel(keras.Model):
    """A next-token model. Input: `(batch, time)` int ids, 0 for padding. `call` returns logits
    `(batch, time, vocab_size)`: position t scores the token at t + 1.

    Args:
        vocab_size: ids include padding 0.
        embedding_dim: token embedding size.
        rnn: `"lstm"` or `"gru"`; units: its size; depth: stacked layers.
        dropout: on the embeddings, between layers and before the softmax.
        locked_dropout: draw those dropout masks once per sequence (`zoo.layers.LockedDropout`,
            AWD-LSTM's variational dropout) instead of at every step.
        weight_dropout: AWD-LSTM's DropConnect on every layer's recurrent kernel (the
            sequence layers' `weight_dropout`).
        embedding_dropout: AWD-LSTM's embedding dropout: whole word types dropped per batch
            (`zoo.layers.Embedding`).
        tie_embeddings: score the next token against the embedding matrix (Press & Wolf 2017,
            as AWD-LSTM and ULMFiT do): the last layer's output is projected to
            `embedding_dim` and multiplied by the transposed embeddings. Fewer weights, and a
            large word vocabulary costs `embedding_dim` rather than `units` per output row.
        stateful_batch: a fixed batch size for truncated backpropagation through time: the
            final states of each batch become the initial states of the next (row i continues
            row i), as Keras's `stateful=True` does; `reset_states()` starts afresh. `None` (the
            default) for a model that starts every batch from zero states (or `states=`).

    Train it with `compile(optimizer)` and `fit(tokens, next_tokens)`: the loss is the mean
    cross-entropy over the steps whose target is not padding, in nats.
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim=64,
        rnn="lstm",
        units=512,
        depth=2,
        dropout=0.2,
        tie_embeddings=False,
        stateful_batch=None,
        locked_dropout=False,
        weight_dropout=0.0,
        embedding_dropout=0.0,
        **kwargs,
    ):
        if rnn not in RNNS:
            raise ValueError(f"rnn must be one of {RNNS}, got {rnn!r}")
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.rnn = rnn
        self.units = units
        self.depth = depth
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.stateful_batch = stateful_batch
        self.locked_dropout = bool(locked_dropout)
        self.weight_dropout = float(weight_dropout)
        self.embedding_dropout = float(embedding_dropout)

        recurrent = {"lstm": layers.LSTM, "gru": layers.GRU}[rnn]
        self.embedding = layers.Embedding(
            vocab_size,
            embedding_dim,
            mask_zero=True,
            embedding_dropout=embedding_dropout,
            name="embedding",
        )
        self.rnns = [
            recurrent(
                units,
                return_sequences=True,
                return_state=True,
                stateful=stateful_batch is not None,
                weight_dropout=weight_dropout,
                name=f"{rnn}_{index}",
            )
            for index in range(depth)
        ]
        between = layers.LockedDropout if self.locked_dropout else keras.layers.Dropout
        self.dropouts = [between(dropout, name=f"dropout_{i}") for i in range(depth + 1)]
        if tie_embeddings:
            self.projection = keras.layers.Dense(embedding_dim, name="projection")
            self.logits = None
        else:
            self.logits = keras.layers.Dense(vocab_size, name="logits")

    def build(self, input_shape=None):
        if self.tie_embeddings:
            self.logits_bias = self.add_weight(
                shape=(self.vocab_size,), initializer="zeros", name="logits_bias"
            )
        self.call(tf.ones((self.stateful_batch or 1, 1), "int32"))
        if self.stateful_batch is not None:
            self.reset_states()
        self.built = True

    def call(self, tokens, states=None, training=None, return_states=False):
        """Logits of the next token at every step; with `return_states`, also the final states
        of every layer (a list per layer), to continue from with `states=`."""
        h, final = self.hidden_states(tokens, states, training, return_states=True)
        h = self.dropouts[-1](h, training=training)
        logits = self.output_logits(h)
        return (logits, final) if return_states else logits

    def hidden_states(self, tokens, states=None, training=None, return_states=False):
        """The last recurrent layer's output `a<t>` at every step `(batch, time, units)`: what
        the model knows after reading `tokens[..t]` (the features `zoo.layers.
        ContextualCharEmbedding` reads); with `return_states`, also every layer's final
        states."""
        mask = tokens > 0
        h = self.embedding(tokens)
        final = []
        for index, rnn in enumerate(self.rnns):
            h = self.dropouts[index](h, training=training)
            initial = None if states is None else states[index]
            h, *layer_states = rnn(h, initial_state=initial, mask=mask, training=training)
            final.append(layer_states)
        return (h, final) if return_states else h

    def output_logits(self, h):
        """The last layer's outputs `(batch, time, units)` -> next-token logits."""
        if not self.tie_embeddings:
            return self.logits(h)
        projected = self.projection(h)
        table = keras.ops.cast(self.embedding.embeddings, projected.dtype)
        logits = keras.ops.matmul(projected, keras.ops.transpose(table))
        return logits + keras.ops.cast(self.logits_bias, logits.dtype)

    def reset_states(self):
        """Zeroes the carried states of a `stateful_batch` model."""
        for rnn in self.rnns:
            rnn.reset_states()

    def zero_states(self, batch):
        """Initial states for `call(..., states=)` and `step`: zeros, a list per layer."""
        count = 2 if self.rnn == "lstm" else 1
        return [[tf.zeros((batch, self.units)) for _ in range(count)] for _ in self.rnns]

    def step(self, token, states):
        """One step of generation: the token ids `(batch,)` just emitted -> (log-probabilities
        of the next token `(batch, vocab_size)`, the new states)."""
        logits, states = self(token[:, None], states=states, return_states=True)
        return tf.nn.log_softmax(tf.cast(logits[:, 0], "float32")), states

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        per_step = keras.losses.sparse_categorical_crossentropy(
            y, tf.cast(y_pred, "float32"), from_logits=True
        )
        weights = tf.cast(y > 0, per_step.dtype)
        loss = tf.reduce_sum(per_step * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        return per_replica(loss + tf.add_n(self.losses) if self.losses else loss)

    def log_probabilities(self, tokens, targets, states=None):
        """log p(targets[t] | tokens[..t]) per step `(batch, time)`, 0 where a target is padding."""
        logits = self(tokens, states=states)
        log_p = tf.nn.log_softmax(tf.cast(logits, "float32"))
        picked = tf.gather(log_p, tf.maximum(targets, 0), batch_dims=2)
        return tf.where(targets > 0, picked, tf.zeros_like(picked))

    def without_state(self):
        """The same model (same weights) without `stateful_batch`: any batch size, zero states."""
        config = self.get_config()
        config["stateful_batch"] = None
        model = self.__class__.from_config(config)
        model.build()
        for target, source in zip(model.trainable_weights, self.trainable_weights):
            target.assign(source)  # the carried states are not weights to copy
        return model

    def get_config(self):
        config = super().get_config()
        for name in (
            "vocab_size",
            "embedding_dim",
            "rnn",
            "units",
            "depth",
            "dropout",
            "tie_embeddings",
            "stateful_batch",
            "locked_dropout",
            "weight_dropout",
            "embedding_dropout",
        ):
            config[name] = getattr(self, name)
        return config
