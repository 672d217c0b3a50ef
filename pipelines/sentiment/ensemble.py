"""Ensembles of classifiers, as ULMFiT averages its forward and backward classifiers (Howard &
Ruder 2018): a classifier folder's `ensemble.json` names other classifiers (shipped names, or
folders by absolute path) whose class probabilities are averaged with its own in `predict`,
`evaluate` and the export. Each member reads text its own way (its vocabulary, its direction:
a classifier made from a backward language model reads every text last word first), so a
folder stays the size of one classifier while the ensemble needs all of them.

    python -m pipelines.sentiment ensemble --model runs/forward --with runs/backward --out OUT

This module reads and checks the file; `pipelines.sentiment.task` loads the members
(`Classifier.load`) and writes ensembles (`make_ensemble`).
"""

import json
import os

from pipelines.errors import DataError

ENSEMBLE = "ensemble.json"


def member_names(folder):
    """The other classifiers a folder's `ensemble.json` names ([] for a single classifier)."""
    path = os.path.join(folder, ENSEMBLE)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        try:
            names = json.load(handle)["members"]
        except (ValueError, KeyError, TypeError):
            raise DataError(path, 'not an ensemble file ({"members": [names]})') from None
    return list(names)


def check_labels(member, labels, where):
    """`DataError` at `where` when classifier `member`'s labels are not `labels`."""
    found = member.preprocessor.labels.tokens
    if found != labels.tokens:
        raise DataError(
            where,
            f"{member.folder}: labels {', '.join(found)} differ from the ensemble's "
            f"{', '.join(labels.tokens)}",
        )
