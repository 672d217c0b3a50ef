"""Ensembles of classifiers, as ULMFiT averages its forward and backward classifiers (Howard &
Ruder 2018): a classifier folder's `ensemble.json` names other classifiers (shipped names, or
folders by absolute path) whose class probabilities are averaged with its own in `predict`,
`evaluate` and the export. Each member reads text its own way (its vocabulary, its direction:
a classifier made from a backward language model reads every text last word first), so a
folder stays the size of one classifier while the ensemble needs all of them.

    python -m pipelines.sentiment ensemble --model runs/forward --with runs/backward --out OUT
"""

import json
import os
import shutil

from pipelines.errors import BadSetting, DataError

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


def load_members(folder, labels):
    """The classifiers `folder` averages with its own, as `Classifier`s of their own (their
    own `ensemble.json` is not read: no nesting). `DataError` where one is missing or has
    other labels than `labels`."""
    from pipelines.io import model_folder
    from pipelines.sentiment.task import Classifier
    from zoo import registry

    members = []
    for name in member_names(folder):
        where = model_folder(name)
        member = Classifier(registry.load(where), Classifier.Preprocessor.load(where), where)
        _check_labels(member, labels, os.path.join(folder, ENSEMBLE))
        members.append(member)
    return members


def _check_labels(member, labels, where):
    found = member.preprocessor.labels.tokens
    if found != labels.tokens:
        raise DataError(
            where,
            f"{member.folder}: labels {', '.join(found)} differ from the ensemble's "
            f"{', '.join(labels.tokens)}",
        )


def _stored(name):
    """A member as the folder names it: a shipped name as it is, a folder by absolute path."""
    from zoo import registry

    return name if name in registry.available() else os.path.abspath(name)


def make_ensemble(model, members, out):
    """Writes the folder `out`: the classifier `model` (a name or folder) with `ensemble.json`
    naming `members` (names or folders of classifiers with the same labels), and returns it
    loaded (a `Classifier` whose `members` are set). Its card is `model`'s with an `ensemble`
    entry."""
    from pipelines.io import model_folder, read_json, write_atomically, write_json
    from pipelines.sentiment.task import Classifier

    if not members:
        raise BadSetting("--with", "name at least one other classifier")
    source = model_folder(model)
    own = Classifier.load(source)
    if own.members:
        raise BadSetting("--model", f"{source} is an ensemble already; give its members")
    names = [_stored(os.fspath(name)) for name in members]
    for name in names:
        member = Classifier.load(name)
        if member.members:
            raise BadSetting("--with", f"{name} is an ensemble; give its members")
        if os.path.abspath(member.folder) == os.path.abspath(source):
            raise BadSetting("--with", f"{name} is the --model classifier itself")
        try:
            _check_labels(member, own.preprocessor.labels, "--with")
        except DataError as error:
            raise BadSetting("--with", error.message) from None

    def write(tmp):
        shutil.copytree(source, tmp)
        write_json(os.path.join(tmp, ENSEMBLE), {"members": names})
        card_path = os.path.join(tmp, "card.json")
        card = read_json(card_path) if os.path.exists(card_path) else {}
        card["ensemble"] = {"model": _stored(os.fspath(model)), "members": names}
        write_json(card_path, card)

    write_atomically(out, write)
    return Classifier.load(out)
