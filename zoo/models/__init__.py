"""Ready architectures built from `zoo.layers` (the tagger, classifier, LM and seq2seq)."""

from zoo.models.language_model import LanguageModel
from zoo.models.ner_tagger import NERTagger, NERTaggerEnsemble
from zoo.models.sentiment_classifier import SentimentClassifier
from zoo.models.seq2seq import Seq2Seq, Seq2SeqEnsemble

__all__ = [
    "LanguageModel",
    "NERTagger",
    "NERTaggerEnsemble",
    "Seq2Seq",
    "Seq2SeqEnsemble",
    "SentimentClassifier",
]
