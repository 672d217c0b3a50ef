"""The benchmark's tagger for the experiment scripts: (batch, 40, 100) inputs, a zoo or a Keras
BiLSTM-200 (or one `Dense(400)` in its place: Keras's own cost with almost no model), a dense
layer to 9 tags, Adam on sparse cross-entropy."""

import keras

from zoo import layers as zl

KINDS = ("zoo", "keras", "dense")


def model_of(kind):
    inputs = keras.Input((40, 100), name="features")
    if kind == "zoo":
        h = zl.Bidirectional(zl.LSTM(200, return_sequences=True))(inputs)
    elif kind == "keras":
        h = keras.layers.Bidirectional(keras.layers.LSTM(200, return_sequences=True))(inputs)
    else:
        h = keras.layers.Dense(400)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(9)(h))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
