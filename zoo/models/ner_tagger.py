"""`NERTagger`: words and their characters -> bidirectional RNN -> CRF (or softmax) tags.

Many-to-many with Tx = Ty (course: "Named entity recognition"), in the BiLSTM-CRF form of
Lample et al. 2016: each word is represented by a case-aware word embedding and by a character
encoder run over its letters (a character BiLSTM or a CNN), so that unseen words still look like
names; a bidirectional RNN of zoo layers reads the sentence; a CRF scores whole tag sequences.
"""

import keras
import tensorflow as tf

from zoo import layers
from zoo.models.ensembles import ensemble_members
from zoo.models.losses import per_replica

HEADS = ("crf", "softmax")
CHAR_ENCODERS = ("lstm", "cnn")
RNNS = ("lstm", "gru")


class TagDecoding:
    """What a tagger does with its per-step tag scores (`call`): the loss, the best tags and
    their probabilities, with a CRF head (`self.crf`) or a softmax one (`self.crf` None)."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        mask = x["words"] > 0
        if self.crf is not None:
            nll = -self.crf.log_likelihood(y_pred, y, mask)
            loss = tf.reduce_sum(nll) / tf.cast(tf.shape(y_pred)[0], nll.dtype)
        else:
            per_step = keras.losses.sparse_categorical_crossentropy(
                y, tf.cast(y_pred, "float32"), from_logits=True
            )
            weights = tf.cast(mask, per_step.dtype)
            loss = tf.reduce_sum(per_step * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        return per_replica(loss + tf.add_n(self.losses) if self.losses else loss)

    def predict_tags(self, inputs):
        """Best tag ids (batch, time), 0 at padding; with the CRF, the Viterbi path."""
        return self.best_tags(self(inputs, training=False), inputs["words"] > 0)

    def tag_probabilities(self, inputs):
        """p(tag at step t | sentence), (batch, time, num_tags): CRF marginals or softmax."""
        return self._probabilities(self(inputs, training=False), inputs["words"] > 0)

    def tags_and_probabilities(self, inputs):
        """`predict_tags` and `tag_probabilities` from one pass through the network."""
        scores, mask = self(inputs, training=False), inputs["words"] > 0
        return self.best_tags(scores, mask), self._probabilities(scores, mask)

    def best_tags(self, scores, mask):
        """Best tag ids (batch, time), 0 where `mask` is False, from the scores `call`
        returns (or scores changed after it): the Viterbi path with the CRF, else argmax."""
        if self.crf is not None:
            return self.crf.decode(scores, mask)[0]
        best = tf.argmax(scores, axis=-1, output_type="int32")
        return tf.where(mask, best, tf.zeros_like(best))

    def _probabilities(self, scores, mask):
        if self.crf is not None:
            return self.crf.marginals(scores, mask)
        return tf.nn.softmax(tf.cast(scores, "float32")) * tf.cast(mask, "float32")[..., None]


@keras.saving.register_keras_serializable(package="zoo")
class NERTagger(TagDecoding, keras.Model):
    """A sequence tagger. Inputs: `{"words": (batch, time), "chars": (batch, time, letters)}`
    int ids, 0 for padding. `call` returns per-step tag scores (batch, time, num_tags);
    `predict_tags` returns the best tag ids (Viterbi with the CRF head).

    Args:
        word_vocab_size, char_vocab_size, num_tags: sizes (ids include padding 0).
        word_dim, char_dim: embedding sizes.
        char_encoder: `"lstm"` (a character BiLSTM, `char_units` each way) or `"cnn"`
            (`char_units` filters of width 3, max-pooled).
        rnn: `"lstm"` or `"gru"`; units: its size each way; depth: stacked bidirectional layers.
        dropout: on the word representations and between layers.
        head: `"crf"` or `"softmax"`.
        contextual_dim: with a positive size, the inputs also hold `"contextual"`: (batch,
            time, contextual_dim) float features per word computed outside the tagger, such as
            `zoo.layers.ContextualCharEmbedding`'s contextual string embeddings (Akbik et al.
            2018), concatenated with the word embedding and the character features.

    Train it with `compile(optimizer)` and `fit(inputs, tags)`: the loss is the CRF's negative
    log-likelihood (or masked cross-entropy), padded steps carry none.
    """

    def __init__(
        self,
        word_vocab_size,
        char_vocab_size,
        num_tags,
        word_dim=100,
        char_dim=25,
        char_encoder="lstm",
        char_units=25,
        rnn="lstm",
        units=200,
        depth=1,
        dropout=0.5,
        head="crf",
        contextual_dim=0,
        **kwargs,
    ):
        for name, value, allowed in (
            ("head", head, HEADS),
            ("char_encoder", char_encoder, CHAR_ENCODERS),
            ("rnn", rnn, RNNS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        super().__init__(**kwargs)
        self.word_vocab_size = word_vocab_size
        self.char_vocab_size = char_vocab_size
        self.num_tags = num_tags
        self.word_dim = word_dim
        self.char_dim = char_dim
        self.char_encoder = char_encoder
        self.char_units = char_units
        self.rnn = rnn
        self.units = units
        self.depth = depth
        self.dropout = dropout
        self.head = head
        self.contextual_dim = contextual_dim

        # === Layers ===
        self.word_embedding = keras.layers.Embedding(
            word_vocab_size, word_dim, mask_zero=True, name="word_embedding"
        )
        self.char_embedding = keras.layers.Embedding(
            char_vocab_size, char_dim, mask_zero=True, name="char_embedding"
        )
        if char_encoder == "lstm":
            self.char_layer = layers.Bidirectional(layers.LSTM(char_units), name="char_lstm")
        else:
            self.char_layer = keras.layers.Conv1D(
                char_units, 3, padding="same", activation="tanh", name="char_cnn"
            )
        recurrent = {"lstm": layers.LSTM, "gru": layers.GRU}[rnn]
        self.encoder = layers.StackedRNN(
            [layers.Bidirectional(recurrent(units, return_sequences=True)) for _ in range(depth)],
            dropout=dropout,
            name="encoder",
        )
        self.word_dropout = keras.layers.Dropout(dropout, name="word_dropout")
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.scores = keras.layers.Dense(num_tags, name="tag_scores")
        self.crf = layers.CRF(num_tags, name="crf") if head == "crf" else None

    def build(self, input_shape=None):
        # Build every sublayer now (the CRF is not reached by `call`), by running a one-word
        # sentence through the model, as a functional model is built at construction.
        if self.crf is not None:
            self.crf.build((None, None, self.num_tags))
        inputs = {"words": tf.ones((1, 1), "int32"), "chars": tf.ones((1, 1, 1), "int32")}
        if self.contextual_dim:
            inputs["contextual"] = tf.zeros((1, 1, self.contextual_dim))
        self.call(inputs)
        self.built = True

    def _char_features(self, chars, training):
        # (batch, time, letters) -> (batch * time, letters): the character encoder runs per word
        shape = tf.shape(chars)
        flat = tf.reshape(chars, (-1, shape[2]))
        embedded = self.char_embedding(flat)
        if self.char_encoder == "lstm":
            features = self.char_layer(embedded, mask=flat > 0, training=training)
        else:
            letters = (flat > 0)[:, :, None]
            # padding letters as zeros, like the convolution's own "same" padding, so that a
            # word's features do not depend on how far its batch pads words
            convolved = self.char_layer(tf.where(letters, embedded, tf.zeros_like(embedded)))
            lowest = tf.fill(tf.shape(convolved), tf.cast(float("-inf"), convolved.dtype))
            features = tf.reduce_max(tf.where(letters, convolved, lowest), axis=1)
            # a padding word (no letters) gets zeros, not -inf
            features = tf.where(tf.math.is_finite(features), features, tf.zeros_like(features))
        return tf.reshape(features, (shape[0], shape[1], features.shape[-1]))

    def call(self, inputs, training=None):
        words, chars = inputs["words"], inputs["chars"]
        mask = words > 0
        features = [self.word_embedding(words), self._char_features(chars, training)]
        if self.contextual_dim:
            features.append(tf.cast(inputs["contextual"], features[0].dtype))
        h = tf.concat(features, axis=-1)
        h = self.word_dropout(h, training=training)
        h = self.encoder(h, mask=mask, training=training)
        h = self.output_dropout(h, training=training)
        return self.scores(h)  # (batch, time, num_tags)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                name: getattr(self, name)
                for name in (
                    "word_vocab_size",
                    "char_vocab_size",
                    "num_tags",
                    "word_dim",
                    "char_dim",
                    "char_encoder",
                    "char_units",
                    "rnn",
                    "units",
                    "depth",
                    "dropout",
                    "head",
                    "contextual_dim",
                )
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class NERTaggerEnsemble(TagDecoding, keras.Model):
    """Several `NERTagger`s that read the same inputs, as one tagger: a product of experts.

    Each member m scores the tags of every step (its `call`, e_m<t>); the ensemble's scores
    are their mean, and its own CRF (started from the mean of the members' CRFs, see `of`)
    scores whole sequences over them:

        score(y) = start[y<1>] + sum_t mean_m e_m<t>[y<t>] + sum_t>1 A[y<t-1>, y<t>] + end[y<Ty>]

    With A, start and end the members' means, this is the mean of the members' own sequence
    scores, so p(y | x) is proportional to the geometric mean of their p_m(y | x): the
    Viterbi path is the one the members agree on best, and the CRF marginals are computed
    once over the combined scores. Trained further (`fit`), the whole ensemble is one model
    and the members' own CRFs are no longer used.

    Args:
        members: `NERTagger`s with the same vocabulary sizes, tags, head and contextual
            features (their configs when loading).

    The inputs, `call`, the loss, `predict_tags`, `tag_probabilities` and
    `tags_and_probabilities` are `NERTagger`'s.
    """

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        members = ensemble_members(
            members, ("word_vocab_size", "char_vocab_size", "num_tags", "head", "contextual_dim")
        )
        first = members[0].get_config()
        for member in members:  # the ensemble's own CRF decodes; the members' are kept unused
            if member.crf is not None:
                member.crf.trainable = False
        self.members = members
        self.num_tags = first["num_tags"]
        self.head = first["head"]
        self.contextual_dim = first["contextual_dim"]
        self.crf = layers.CRF(self.num_tags, name="crf") if self.head == "crf" else None

    @classmethod
    def of(cls, members, **kwargs):
        """An ensemble of trained `members` whose CRF is the mean of theirs."""
        ensemble = cls(members, **kwargs)
        ensemble.build()
        if ensemble.crf is not None:
            weights = [m.crf.get_weights() for m in members]
            ensemble.crf.set_weights([sum(w) / len(members) for w in zip(*weights)])
        return ensemble

    def build(self, input_shape=None):
        for member in self.members:
            if not member.built:
                member.build()
        if self.crf is not None:
            self.crf.build((None, None, self.num_tags))
        self.built = True

    def call(self, inputs, training=None):
        scores = [tf.cast(m(inputs, training=training), "float32") for m in self.members]
        return tf.add_n(scores) / len(scores)

    def get_config(self):
        config = super().get_config()
        config["members"] = [keras.saving.serialize_keras_object(m) for m in self.members]
        return config
