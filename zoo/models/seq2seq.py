"""`Seq2Seq`: an encoder-decoder with attention, for inputs and outputs of different lengths.

Course: "Sequence to sequence models", "Attention model". The encoder (a bidirectional stack of
zoo recurrent layers) reads the whole input into states a<1> ... a<Tx>; the decoder, started
from a projection of the encoder's final states, writes y<1> ... y<Ty> one token at a time from
`<BOS>` until it writes `<EOS>`. At every decoder step t its state s<t> attends over the
encoder's states (Luong et al. 2015, "attention after the recurrent layer"):

    c<t>  = sum over t' of α<t,t'> a<t'>            (`zoo.layers` additive or multiplicative)
    h~<t> = tanh(W_c [s<t>; c<t>])                   the attentional state
    p(y<t> | y<t-1> ... , x) = softmax(W_y h~<t>)

With `input_feeding=True` (Luong et al.'s "input feeding") the decoder also reads its previous
attentional state, [y<t-1>; h~<t-1>] instead of y<t-1>, so it knows where it attended before;
teacher forcing then runs step by step (a `tf.while_loop`) instead of in one pass.

In training the decoder reads the true previous tokens (teacher forcing), so all steps run in
one pass (without input feeding); decoding feeds back its own choices: greedily (`greedy`, a
`tf.while_loop` that also runs inside an exported graph) or keeping the `beam` best prefixes
(`beam_search`, ranked at the end by log-probability per token: length-normalised).
"""

import keras
import numpy as np
import tensorflow as tf

from zoo import layers
from zoo.models.ensembles import ensemble_members
from zoo.models.losses import per_replica

RNNS = ("lstm", "gru")
ATTENTIONS = ("additive", "multiplicative")
# the constructor's settings besides the vocabulary sizes: `get_config` and model cards list them
SETTINGS = (
    "embedding_dim",
    "units",
    "encoder_depth",
    "decoder_depth",
    "bidirectional",
    "rnn",
    "attention",
    "dropout",
    "input_feeding",
    "label_smoothing",
)


class Decoding:
    """Writing outputs one token at a time, for a model with `encode(source)` -> (values,
    keys, mask, states) and `decode(target, values, keys, mask, states)` -> (logits, states,
    attention weights), any of them nested, and `target_vocab_size`."""

    def step(self, tokens, states, values, keys, mask):
        """One decoding step: the tokens `(batch,)` just written -> (log-probabilities of the
        next `(batch, V)`, new states, attention weights `(batch, Tx)`)."""
        logits, states, alpha = self.decode(tokens[:, None], values, keys, mask, states)
        return tf.nn.log_softmax(tf.cast(logits[:, 0], "float32")), states, alpha[:, 0]

    def greedy(self, source, bos, eos, max_length, banned=None):
        """The most probable token at every step, until `<EOS>` or `max_length` tokens.

        Returns:
            tokens `(batch, max_length)` int32 (0 after `<EOS>`, which is not included),
            log_prob `(batch,)` summed over the tokens and `<EOS>`, lengths `(batch,)` the
            number of tokens written (without `<EOS>`), attention `(batch, max_length, Tx)`.
        """
        values, keys, mask, states = self.encode(source)
        batch = tf.shape(source)[0]
        penalty = self._penalty(banned)

        def body(t, last, states, done, total, out, weights):
            log_p, states, alpha = self.step(last, states, values, keys, mask)
            pick = tf.cast(tf.argmax(log_p + penalty, axis=-1), tf.int32)
            gained = tf.gather(log_p, pick, batch_dims=1)
            total += tf.where(done, 0.0, gained)
            out = out.write(t, tf.where(done | tf.equal(pick, eos), 0, pick))
            weights = weights.write(t, tf.cast(alpha, tf.float32))  # bfloat16 under mixed precision
            return t + 1, pick, states, done | tf.equal(pick, eos), total, out, weights

        _, _, _, _, total, out, weights = tf.while_loop(
            lambda t, last, states, done, *_: (t < max_length) & ~tf.reduce_all(done),
            body,
            (
                tf.constant(0),
                tf.fill([batch], tf.cast(bos, tf.int32)),
                states,
                tf.zeros([batch], tf.bool),
                tf.zeros([batch], tf.float32),
                tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None]),
                tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, None]),
            ),
        )
        tokens = tf.transpose(out.stack())  # (batch, steps)
        tokens = tf.pad(tokens, [[0, 0], [0, max_length - tf.shape(tokens)[1]]])
        lengths = tf.reduce_sum(tf.math.cumprod(tf.cast(tokens > 0, tf.int32), axis=1), axis=1)
        return tokens, total, lengths, tf.transpose(weights.stack(), [1, 0, 2])

    def beam_search(self, source, bos, eos, max_length, beam=4, banned=None):
        """The `beam` most probable prefixes kept at every step; each input's output is its
        finished hypothesis with the highest log-probability per token (`<EOS>` counted).

        Returns a list per input of `(tokens, score)` pairs, best first (`beam` of them):
        `tokens` a list of ids without `<EOS>`, `score` the mean log-probability per token.
        """
        values, keys, mask, states = self.encode(source)
        batch = int(source.shape[0])
        vocab = self.target_vocab_size
        repeat = lambda x: tf.repeat(x, beam, axis=0)  # noqa: E731
        values, keys, mask, states = tf.nest.map_structure(repeat, (values, keys, mask, states))
        penalty = self._penalty(banned).numpy()
        eos_only = np.full(vocab, -np.inf, "float32")
        eos_only[eos] = 0.0
        scores = np.tile(np.r_[0.0, np.full(beam - 1, -np.inf)], batch).astype("float32")
        last = np.full(batch * beam, bos, "int32")
        done = np.zeros(batch * beam, bool)
        lengths = np.zeros(batch * beam, "int32")
        history = []  # per step: (parents, tokens), flat indices
        offsets = np.repeat(np.arange(batch) * beam, beam)
        for _ in range(max_length):
            log_p, states, _ = self.step(tf.constant(last), states, values, keys, mask)
            log_p = log_p.numpy() + penalty
            log_p[done] = eos_only  # a finished hypothesis stays as it is
            total = (scores[:, None] + log_p).reshape(batch, beam * vocab)
            best = np.argsort(-total, axis=1, kind="stable")[:, :beam]
            scores = np.take_along_axis(total, best, axis=1).reshape(-1)
            parents = offsets + (best // vocab).reshape(-1)
            last = (best % vocab).reshape(-1).astype("int32")
            lengths = lengths[parents] + ~done[parents]
            done = done[parents] | (last == eos)
            history.append((parents, last))
            states = tf.nest.map_structure(lambda s, p=parents: tf.gather(s, p), states)
            if done.all():
                break
        sequences = []
        for row in range(batch * beam):  # follow each slot's parents back to the start
            tokens = []
            for parents, written in reversed(history):
                tokens.append(int(written[row]))
                row = parents[row]
            tokens = tokens[::-1]
            sequences.append(tokens[: tokens.index(eos)] if eos in tokens else tokens)
        normalised = scores / np.maximum(lengths, 1)
        results = []
        for b in range(batch):
            span = range(b * beam, (b + 1) * beam)
            ranked = sorted(span, key=lambda r: -normalised[r])
            results.append([(sequences[r], float(normalised[r])) for r in ranked])
        return results

    def _penalty(self, banned):
        """-1e9 for token ids that must never be written (`banned`: ids), 0 elsewhere."""
        mask = np.zeros(self.target_vocab_size, "float32")
        if banned is not None:
            mask[list(banned)] = -1e9
        return tf.constant(mask)


@keras.saving.register_keras_serializable(package="zoo")
class Seq2Seq(Decoding, keras.Model):
    """An attention encoder-decoder over token ids (0 is padding).

    `call({"source": (batch, Tx), "target": (batch, Ty)})` returns logits `(batch, Ty,
    target_vocab_size)`: position t scores the token after `target[:, t]` (feed
    `<BOS> y<1> ... y<n>`, predict `y<1> ... y<n> <EOS>`).

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (ids include padding 0).
        embedding_dim: token embedding size (each side).
        units: the decoder's size, and the encoder's in each direction.
        encoder_depth, decoder_depth: stacked recurrent layers.
        bidirectional: the encoder reads the input both ways.
        rnn: `"lstm"` or `"gru"`.
        attention: `"additive"` (Bahdanau) or `"multiplicative"` (Luong "general").
        dropout: on the embeddings, between layers and on the attentional state.
        input_feeding: feed the previous attentional state h~<t-1> to the decoder with the
            previous token (then the dropout masks of the decoder's inputs and of h~ are drawn
            once per sequence, the same at every step).
        label_smoothing: the loss's cross-entropy target puts `1 - label_smoothing`
            on the right token and spreads `label_smoothing` evenly over the whole vocabulary,
            as `keras.losses.CategoricalCrossentropy(label_smoothing=...)` does.

    Train it with `compile(optimizer)` and `fit({"source": x, "target": y_in}, y_out)`: the
    loss is the mean cross-entropy over target steps that are not padding.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=64,
        units=256,
        encoder_depth=1,
        decoder_depth=1,
        bidirectional=True,
        rnn="lstm",
        attention="multiplicative",
        dropout=0.2,
        input_feeding=False,
        label_smoothing=0.0,
        **kwargs,
    ):
        for name, value, allowed in (("rnn", rnn, RNNS), ("attention", attention, ATTENTIONS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        super().__init__(**kwargs)
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.encoder_depth = encoder_depth
        self.decoder_depth = decoder_depth
        self.bidirectional = bidirectional
        self.rnn = rnn
        self.attention = attention
        self.dropout = dropout
        self.input_feeding = bool(input_feeding)
        self.label_smoothing = float(label_smoothing)

        recurrent = {"lstm": layers.LSTM, "gru": layers.GRU}[rnn]
        self.state_count = 2 if rnn == "lstm" else 1
        self.source_embedding = keras.layers.Embedding(
            source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding"
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embedding_dim, mask_zero=True, name="target_embedding"
        )
        stack = []
        for index in range(encoder_depth):
            layer = recurrent(units, return_sequences=True, name=f"encoder_{rnn}_{index}")
            stack.append(
                layers.Bidirectional(layer, name=f"bi_{index}") if bidirectional else layer
            )
        self.encoder = layers.StackedRNN(stack, dropout=dropout, name="encoder")
        self.bridge = keras.layers.Dense(
            decoder_depth * self.state_count * units, activation="tanh", name="bridge"
        )
        self.decoder = [
            recurrent(
                units, return_sequences=True, return_state=True, name=f"decoder_{rnn}_{index}"
            )
            for index in range(decoder_depth)
        ]
        self.attend = (
            layers.AdditiveAttention(units, name="attention")
            if attention == "additive"
            else layers.MultiplicativeAttention(name="attention")
        )
        self.combine = keras.layers.Dense(units, activation="tanh", name="combine")
        self.dropouts = [
            keras.layers.Dropout(dropout, name=f"dropout_{i}") for i in range(decoder_depth + 2)
        ]
        self.logits = keras.layers.Dense(target_vocab_size, name="logits")

    def build(self, input_shape=None):
        features = self.units * (2 if self.bidirectional else 1)
        self.attend.build((None, None, self.units), (None, None, features))
        if self.input_feeding:  # the step loop calls the cells, so build the layers here
            for index, rnn in enumerate(self.decoder):
                width = self.embedding_dim + self.units if index == 0 else self.units
                rnn.build((None, None, width))
        ones = tf.ones((1, 2), "int32")
        self.call({"source": ones, "target": ones})
        self.built = True

    # === the two halves ===

    def encode(self, source, training=None):
        """(values (batch, Tx, features), keys for the attention, mask (batch, Tx), the
        decoder's initial states: a list per decoder layer)."""
        mask = source > 0
        h = self.dropouts[0](self.source_embedding(source), training=training)
        values = self.encoder(h, mask=mask, training=training)
        last = tf.maximum(tf.reduce_sum(tf.cast(mask, "int32"), axis=1) - 1, 0)
        final = tf.gather(values, last, batch_dims=1)
        if self.bidirectional:  # the backward direction's final state is at the first step
            final = tf.concat([final[:, : self.units], values[:, 0, self.units :]], axis=-1)
        flat = tf.split(self.bridge(final), self.decoder_depth * self.state_count, axis=-1)
        states = [
            flat[i * self.state_count : (i + 1) * self.state_count]
            for i in range(self.decoder_depth)
        ]
        if self.input_feeding:  # h~<0>: nothing attended yet
            states.append([tf.zeros_like(flat[0])])
        return values, self.attend.keys(values), mask, states

    def decode(self, target, values, keys, mask, states, training=None):
        """Teacher-forced or one step at a time: (logits (batch, Ty, V), new states, attention
        weights (batch, Ty, Tx)). With input feeding the states end with `[h~]`."""
        if self.input_feeding:
            return self._decode_fed(target, values, keys, mask, states, training)
        h = self.target_embedding(target)
        target_mask = target > 0
        final = []
        for index, rnn in enumerate(self.decoder):
            h = self.dropouts[index + 1](h, training=training)
            h, *layer_states = rnn(h, initial_state=states[index], mask=target_mask)
            final.append(layer_states)
        context, alpha = self.attend(h, values, mask=mask, keys=keys, return_attention_scores=True)
        attentional = self.combine(tf.concat([h, context], axis=-1))
        attentional = self.dropouts[-1](attentional, training=training)
        return self.logits(attentional), final, alpha

    def _decode_fed(self, target, values, keys, mask, states, training=None):
        """`decode` with input feeding: one step at a time, h~<t-1> joining y<t-1>."""
        h = self.target_embedding(target)
        batch, steps = tf.shape(target)[0], tf.shape(target)[1]
        layer_states, feed = [list(s) for s in states[:-1]], states[-1][0]
        feed = tf.cast(feed, h.dtype)

        def mask_of(dropout, width):  # one mask per sequence, the same at every step
            return dropout(tf.ones((batch, width), h.dtype), training=training)

        widths = [self.embedding_dim + self.units] + [self.units] * (self.decoder_depth - 1)
        input_masks = [mask_of(self.dropouts[i + 1], w) for i, w in enumerate(widths)]
        output_mask = mask_of(self.dropouts[-1], self.units)
        inputs = tf.TensorArray(h.dtype, size=steps).unstack(tf.transpose(h, (1, 0, 2)))

        def body(t, feed, layer_states, outputs, weights):
            x = tf.concat([inputs.read(t), feed], axis=-1)
            new_states = []
            for rnn, input_mask, cell_states in zip(self.decoder, input_masks, layer_states):
                x, cell_states = rnn.cell(x * input_mask, cell_states, training=training)
                new_states.append(list(cell_states))
            context, alpha = self.attend(
                x, values, mask=mask, keys=keys, return_attention_scores=True
            )
            feed = self.combine(tf.concat([x, context], axis=-1)) * output_mask
            outputs = outputs.write(t, feed)
            weights = weights.write(t, tf.cast(alpha, "float32"))
            return t + 1, feed, new_states, outputs, weights

        _, feed, layer_states, outputs, weights = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (
                tf.constant(0),
                feed,
                layer_states,
                tf.TensorArray(h.dtype, size=steps),
                tf.TensorArray("float32", size=steps),
            ),
        )
        attentional = tf.transpose(outputs.stack(), (1, 0, 2))
        alpha = tf.transpose(weights.stack(), (1, 0, 2))
        return self.logits(attentional), [*layer_states, [feed]], alpha

    def call(self, inputs, training=None):
        values, keys, mask, states = self.encode(inputs["source"], training=training)
        logits, _, _ = self.decode(inputs["target"], values, keys, mask, states, training)
        return logits

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        logits = tf.cast(y_pred, "float32")
        if self.label_smoothing:  # one log-softmax serves the right token and the spread
            log_p = tf.nn.log_softmax(logits)
            right = -tf.gather(log_p, tf.cast(y, "int32"), batch_dims=2)
            spread = -tf.reduce_mean(log_p, axis=-1)
            per_step = (1.0 - self.label_smoothing) * right + self.label_smoothing * spread
        else:
            per_step = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        weights = tf.cast(y > 0, per_step.dtype)
        loss = tf.reduce_sum(per_step * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        return per_replica(loss + tf.add_n(self.losses) if self.losses else loss)

    def get_config(self):
        config = super().get_config()
        for name in ("source_vocab_size", "target_vocab_size", *SETTINGS):
            config[name] = getattr(self, name)
        return config


@keras.saving.register_keras_serializable(package="zoo")
class Seq2SeqEnsemble(Decoding, keras.Model):
    """Several `Seq2Seq` models with the same vocabularies, as one: at every step the
    distribution over the next token is the mean of the members' (each reads the same
    source and the same prefix),

        p(y<t> | y<t-1> ... , x) = 1/M sum over m of p_m(y<t> | y<t-1> ... , x),

    so that greedy decoding and the beam search follow what the members agree on; `call`
    returns log p (logits for a softmax that gives p back) and the attention weights are the
    members' mean. For decoding and scoring; a member is trained alone.

    Args:
        members: `Seq2Seq` models with the same source and target vocabulary sizes (their
            configs when loading).
    """

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        members = ensemble_members(members, ("source_vocab_size", "target_vocab_size"))
        self.members = members
        self.source_vocab_size = members[0].source_vocab_size
        self.target_vocab_size = members[0].target_vocab_size

    def build(self, input_shape=None):
        for member in self.members:
            if not member.built:
                member.build()
        self.built = True

    def encode(self, source, training=None):
        """The members' encodings: (values, keys, states) lists, one entry per member, and
        the source mask."""
        encoded = [m.encode(source, training=training) for m in self.members]
        values, keys, masks, states = (list(part) for part in zip(*encoded))
        return values, keys, masks[0], states

    def decode(self, target, values, keys, mask, states, training=None):
        """(log of the members' mean probabilities (batch, Ty, V), their new states, their
        mean attention weights)."""
        decoded = [
            m.decode(target, v, k, mask, s, training=training)
            for m, v, k, s in zip(self.members, values, keys, states)
        ]
        log_p = tf.stack([tf.nn.log_softmax(tf.cast(d[0], "float32")) for d in decoded])
        mean = tf.reduce_logsumexp(log_p, axis=0) - np.log(len(decoded)).astype("float32")
        alpha = tf.add_n([tf.cast(d[2], "float32") for d in decoded]) / len(decoded)
        return mean, [d[1] for d in decoded], alpha

    def call(self, inputs, training=None):
        values, keys, mask, states = self.encode(inputs["source"], training=training)
        return self.decode(inputs["target"], values, keys, mask, states, training)[0]

    def get_config(self):
        config = super().get_config()
        config["members"] = [keras.saving.serialize_keras_object(m) for m in self.members]
        return config
