"""Sentiment (any text classification): a (bi)directional zoo RNN with pooling.

    from pipelines import sentiment
    classifier = sentiment.load()             # the shipped sentiment-sst2, a name or a folder
    classifier.predict(["A gripping, beautifully acted film."])
    classifier.evaluate("../shared/data/sst2/dev.tsv")
    sentiment.train("train.tsv", dev="dev.tsv", out="my-classifier", epochs=3)

The command line is `python -m pipelines.sentiment train|evaluate|predict|ensemble|export`. Data:
CSV or TSV files with a header (`.gz` allowed; text and label columns found by name or given
with `text_column`/`label_column`), a folder laid out like `aclImdb/train` (one sub-folder per
label), or `tfds:imdb_reviews`, `tfds:glue/sst2`. Labels are strings; any number of classes.
Texts are lower-cased and split into words; a text longer than `max_tokens` keeps its first
and last halves (`truncate="head+tail"`; `head` or `tail` keep one end). A model folder holds
`model.keras` (a `zoo.models.SentimentClassifier`), `words.txt`, `labels.txt` and `text.json`;
an ensemble's (`make_ensemble`) also `ensemble.json`, naming the classifiers it averages with.
A classifier made from a backward language model (`pipelines.lm train --reverse`) reads every
text last word first.
"""

from pipelines.data import records
from pipelines.sentiment.data import records_reader
from pipelines.sentiment.preprocess import SentimentPreprocessor
from pipelines.sentiment.task import (
    DEFAULT_MODEL,
    Classifier,
    SentimentSettings,
    load,
    make_ensemble,
    train,
)

records.register("sentiment", records_reader)

__all__ = [
    "DEFAULT_MODEL",
    "Classifier",
    "SentimentPreprocessor",
    "SentimentSettings",
    "load",
    "make_ensemble",
    "train",
]
