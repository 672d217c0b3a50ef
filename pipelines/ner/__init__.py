"""Named entity recognition: a BiLSTM-CRF tagger over words and characters.

    from pipelines import ner
    tagger = ner.load()                       # the shipped ner-conll2003, a name or a folder
    tagger.predict(["Teddy Roosevelt was a great president."])
    tagger.evaluate("../shared/data/conll2003/valid.txt")
    ner.train("train.conll", dev="dev.conll", out="my-tagger", epochs=5)
    ner.make_ensemble("my-tagger", ["my-other-tagger"], "both")  # one tagger: mean scores

The command line is `python -m pipelines.ner train|evaluate|predict|export|ensemble`.
Data: CoNLL column files (`word ... tag`, IOB1/IOB2/BIOES) or `tfds:conll2003[:SPLIT]`. A
model folder holds `model.keras` (a `zoo.models.NERTagger`, or a `NERTaggerEnsemble` of
them), `words.txt`, `chars.txt`, `tags.txt` and `card.json`. Parts: `preprocess` (the
vocabularies), `data` (readers, datasets), `model` (building, `--init`, ensembles),
`inference` (tagging raw text, metrics), `export`, `task`.
"""

from pipelines.data import records
from pipelines.ner.data import records_reader
from pipelines.ner.preprocess import NERPreprocessor
from pipelines.ner.task import (
    CHAR_LM_CONTEXT,
    DEFAULT_MODEL,
    NERSettings,
    Tagger,
    load,
    make_ensemble,
    train,
)

records.register("ner", records_reader)

__all__ = [
    "CHAR_LM_CONTEXT",
    "DEFAULT_MODEL",
    "NERPreprocessor",
    "NERSettings",
    "Tagger",
    "load",
    "make_ensemble",
    "train",
]
