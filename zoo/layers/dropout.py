"""Per-sequence dropout masks for recurrent cells (variational dropout, Gal & Ghahramani 2016).

Keras only gives one-mask-per-sequence dropout to cells that subclass its private
`DropoutRNNCell`. This small mixin does the same job without private API: a cell draws its input
and recurrent masks once per sequence and reuses them at every step.

- Our own sequence layers (`zoo.layers.LSTM`, ...) draw the masks before their loop with
  `sequence_dropout_masks` and pass them to every step explicitly.
- Inside `keras.layers.RNN` the cell caches the masks the first time a step needs them and reuses
  them for the remaining steps of that sequence: Keras calls the step once outside its while loop
  (to learn the output shape), so the cached masks are loop invariants. The cache is cleared by
  `get_initial_state` (which `keras.layers.RNN` calls for every new batch) and ignored when it
  belongs to another graph, so a new batch never reuses an old mask.
"""

import keras
import tensorflow as tf


def _graph_of(tensor):
    try:
        return tensor.graph
    except AttributeError:  # an eager tensor
        return None


def _usable_here(tensor):
    """Whether a cached tensor can be used in the current (eager or graph) context."""
    graph_of_tensor = _graph_of(tensor)
    if tf.executing_eagerly():
        return graph_of_tensor is None
    graph = tf.compat.v1.get_default_graph()
    while graph is not None:
        if graph is graph_of_tensor:
            return True
        graph = getattr(graph, "outer_graph", None)
    return False


class DropoutMasks:
    """Mixin for cells with `dropout`, `recurrent_dropout` and a `seed_generator`."""

    def sequence_dropout_masks(self, first_input, first_state, training):
        """Draws `(input_mask, recurrent_mask)` for one batch of sequences, `None` where unused.

        Args:
            first_input: a `(batch, input_dim)` tensor shaped like one step's input.
            first_state: a `(batch, units)` tensor shaped like the recurrent state.
            training: whether dropout is active.
        Returns:
            Two tensors of 0 or `1 / (1 - rate)` (or `None`), to multiply every step by.
        """
        if not training:
            return None, None
        input_mask = recurrent_mask = None
        if self.dropout > 0:
            input_mask = keras.random.dropout(
                tf.ones_like(first_input), rate=self.dropout, seed=self.seed_generator
            )
        if self.recurrent_dropout > 0:
            recurrent_mask = keras.random.dropout(
                tf.ones_like(first_state), rate=self.recurrent_dropout, seed=self.seed_generator
            )
        return input_mask, recurrent_mask

    def cached_dropout_masks(self, inputs, state, training):
        """The masks for a step run by `keras.layers.RNN`: drawn once, reused for the sequence."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        cached = getattr(self, "_mask_cache", None)
        if cached is not None and all(m is None or _usable_here(m) for m in cached):
            return cached
        self._mask_cache = self.sequence_dropout_masks(inputs, state, training)
        return self._mask_cache

    def reset_dropout_masks(self):
        """Forgets cached masks, so that the next sequence draws new ones."""
        self._mask_cache = None
