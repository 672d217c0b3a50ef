"""Starting a classifier from another model (`--init`): a classifier or a word language
model (ULMFiT)."""

import os

from pipelines.errors import DataError
from pipelines.io import model_folder
from pipelines.sentiment.preprocess import SentimentPreprocessor


def init_aliases(init_model):
    """The label names a classifier reads its data's codes as (e.g. `0` -> `negative`), which
    fine-tuning it on data written the same way keeps; `{}` for a language model."""
    folder = model_folder(init_model)
    if os.path.exists(os.path.join(folder, "lm.json")):
        return {}
    return SentimentPreprocessor.load(folder).aliases


def start_from(
    init_model, labels, aliases, max_tokens, truncate, pooling, dropout, log, regularisation=None
):
    """`train --init`: (model, preprocessor, kind) from a classifier folder (fine-tuned; a new
    head when the labels differ) or a word language model (`pipelines.lm train --level word`;
    its embeddings and recurrent layers become the encoder, reading as the model does, forwards
    or backwards, its vocabulary the classifier's). `regularisation`: `weight_dropout` and
    `embedding_dropout` to train with (default: the initial model's)."""
    regularisation = regularisation or {}
    from pipelines.sentiment.ensemble import member_names
    from zoo import registry
    from zoo.models import SentimentClassifier

    folder = model_folder(init_model)
    if os.path.exists(os.path.join(folder, "lm.json")):
        from pipelines.lm.preprocess import LMPreprocessor

        tokens = LMPreprocessor.load(folder)
        if tokens.level != "word":
            raise DataError(folder, "a character language model cannot start a classifier")
        model = SentimentClassifier.from_language_model(
            registry.load(folder), len(labels), pooling=pooling, dropout=dropout, **regularisation
        )
        way = "backward " if tokens.reverse else ""
        log(f"encoder from the {way}language model {init_model} ({len(tokens.vocab):,} words)")
        preprocessor = SentimentPreprocessor(
            tokens.vocab, labels, max_tokens, truncate, tokens.lower, aliases, tokens.reverse
        )
        return model, preprocessor, "lm"
    old, old_pre = registry.load(folder), SentimentPreprocessor.load(folder)
    others = member_names(folder)
    if others:
        log(f"{init_model} is an ensemble: its own classifier is trained, not {', '.join(others)}")
    preprocessor = SentimentPreprocessor(
        old_pre.words,
        labels,
        old_pre.max_tokens,
        old_pre.truncate,
        old_pre.lower,
        {**old_pre.aliases, **aliases},
        old_pre.reverse,
    )
    new_labels = labels.tokens != old_pre.labels.tokens
    config = old.get_config()
    changed = {k: v for k, v in regularisation.items() if config.get(k, 0.0) != v}
    if not new_labels and not changed:
        return old, preprocessor, "classifier"
    model = SentimentClassifier.from_config({**config, "num_classes": len(labels), **changed})
    model.build()
    for target, source in zip(model.weights, old.weights):
        if not new_labels or "classes/" not in target.path:  # a new head starts fresh
            target.assign(source)
    if new_labels:
        log(f"new output layer for the labels {', '.join(labels.tokens)}")
    return model, preprocessor, "classifier"
