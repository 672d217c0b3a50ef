"""Ready architectures built from `zoo.layers` (the tagger, classifier, LM and seq2seq)."""
