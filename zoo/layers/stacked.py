"""`StackedRNN`: a deep RNN, each recurrent layer reading the sequence of the one below."""

import keras

from zoo.layers.regularization import LockedDropout


@keras.saving.register_keras_serializable(package="zoo")
class StackedRNN(keras.layers.Layer):
    """Deep RNN (course: "Deep RNNs"): a[l]<t> = g(Wa[l] [a[l]<t-1>, a[l-1]<t>] + ba[l]).

    Layer l reads layer l-1's whole output sequence, so every layer but the last must return
    sequences. The mask goes to every layer. Layers created with `return_state=True` contribute
    their final states, which the stack returns after its output, bottom layer first.

    Args:
        layers: zoo recurrent layers (`LSTM`, `GRU`, `SimpleRNN`, or `Bidirectional` of them).
        dropout: dropout rate on the sequence between two layers (not after the last one).
        locked: draw that dropout's mask once per sequence (`LockedDropout`, AWD-LSTM's
            variational dropout between layers) instead of at every step.

    Example:
        >>> deep = StackedRNN([LSTM(32, return_sequences=True), LSTM(32)])
        >>> deep(np.zeros((2, 7, 4), "float32")).shape
        TensorShape([2, 32])
    """

    def __init__(self, layers, dropout=0.0, locked=False, **kwargs):
        super().__init__(**kwargs)
        if not layers:
            raise ValueError("StackedRNN needs at least one layer")
        for index, layer in enumerate(layers[:-1]):
            if not layer.return_sequences:
                raise ValueError(
                    f"layer {index} ({layer.name}) feeds another layer, so it needs "
                    "return_sequences=True"
                )
        self.layers = list(layers)
        self.dropout = float(dropout)
        self.locked = bool(locked)
        between = LockedDropout if self.locked else keras.layers.Dropout
        self.between = [between(self.dropout) for _ in self.layers[:-1]]
        self.return_sequences = self.layers[-1].return_sequences
        self.supports_masking = True

    def build(self, sequences_shape):
        shape = tuple(sequences_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            out = layer.compute_output_shape(shape)
            shape = out[0] if isinstance(out[0], (tuple, list)) else out

    def call(self, sequences, initial_state=None, mask=None, training=None):
        """`initial_state`, if given, is one list of states per layer (None for zeros)."""
        h = sequences
        states = []
        for index, layer in enumerate(self.layers):
            layer_state = initial_state[index] if initial_state is not None else None
            out = layer(h, initial_state=layer_state, mask=mask, training=training)
            if isinstance(out, (tuple, list)):
                h = out[0]
                states.extend(out[1:])
            else:
                h = out
            if index < len(self.between):
                h = self.between[index](h, training=training)
        return (h, *states) if states else h

    def compute_output_shape(self, sequences_shape):
        shape = tuple(sequences_shape)
        states = []
        for layer in self.layers:
            out = layer.compute_output_shape(shape)
            if isinstance(out[0], (tuple, list)):
                shape, states = out[0], states + list(out[1:])
            else:
                shape = out
        return (shape, *states) if states else shape

    def compute_mask(self, sequences, mask=None):
        out = mask if self.return_sequences else None
        shapes = self.compute_output_shape((None, None, None))
        extra = len(shapes) - 1 if isinstance(shapes[0], (tuple, list)) else 0
        return [out] + [None] * extra if extra else out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layers": [keras.saving.serialize_keras_object(layer) for layer in self.layers],
                "dropout": self.dropout,
                "locked": self.locked,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [keras.saving.deserialize_keras_object(c) for c in config["layers"]]
        return cls(**config)
