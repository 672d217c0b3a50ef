"""Readers of corpus files (and tensorflow-datasets sources) into plain Python records."""

from pipelines.data.batching import bucketed_dataset
from pipelines.data.conll import Sentence, convert_scheme, entity_spans, read_conll

__all__ = ["Sentence", "bucketed_dataset", "convert_scheme", "entity_spans", "read_conll"]
