"""Readers of corpus files (and tensorflow-datasets sources) into plain Python records,
records folders, and tf.data input. Importing it does not import TensorFlow."""

from pipelines.data.conll import Sentence, convert_scheme, entity_spans, read_conll

__all__ = ["Sentence", "bucketed_dataset", "convert_scheme", "entity_spans", "read_conll"]


def __getattr__(name):
    if name == "bucketed_dataset":  # tf.data: imported when first used
        from pipelines.data.batching import bucketed_dataset

        return bucketed_dataset
    raise AttributeError(f"module 'pipelines.data' has no attribute {name!r}")
