"""A seq2seq model's decoding helped by its training data: a lexicon and n-best reranking.

A model folder made by `python -m pipelines.seq2seq rerank` holds, beside the network,

- `lexicon.tsv.gz`: the pairs it was trained on (`source<TAB>target`). An input found there
  is answered from it (its first listed target, score 0.0), as a pronouncing dictionary answers
  the words it lists before any letter-to-sound model is asked; with `"inflections"` in the
  settings, so are the inflections of listed sources (`pipelines.seq2seq.inflections`);
- optionally `rescorer/`: a second model of the same task, usually one trained with
  `train --reverse-targets` (it writes the output right to left, so its errors differ);
- optionally `graphones.tsv.gz`: the lexicon's pairs cut into graphones, from which a
  joint-sequence n-gram model of the lexicon is counted when first needed
  (`pipelines.seq2seq.graphones`);
- in `seq2seq.json`, `"rerank"`: the weights below and how many neighbours to read.

Every other input is decoded by beam search into `beam` candidates, and the candidate with the
highest weighted sum of these features is the output:

- `score`: the network's mean log-probability per token (weight 1);
- `rescorer`: the rescorer's mean log-probability of the same candidate;
- `prefix`, `suffix`: agreement with the lexicon's neighbours (pronunciation by analogy): for
  each of the `neighbours` lexicon sources sharing the longest prefix (at least 3 characters)
  with the input, the number of leading target tokens the candidate shares with the
  neighbour's closest target, weighted by the shared share of the input; `suffix` the same
  from the end. "optimal" -> AA1 P T AH0 M AH0 L makes AA1 P T AH0 M AH0 the likelier reading
  of "optima" than AA1 P T IH0 M AH0;
- `joint`: the joint-sequence n-gram model's log-probability of (input, candidate).

The weights are tuned on a development set for exact match by coordinate ascent over a grid
(`tune`; with `--bags N`, the mean of the weights tuned on N bootstrap resamples), and
`rerank` reports (`rerank.json`) the WER and PER (and without stress, for ARPAbet targets) of
the network's best candidate, of the reranking and of a two-fold estimate (weights tuned on
one half of the development sources, scored on the other).
"""

import bisect
import gzip
import json
import os
import shutil

import numpy as np

from pipelines.errors import DataError
from pipelines.seq2seq.data import references
from pipelines.seq2seq.decoding import nbest, seq2seq_metrics
from pipelines.seq2seq.graphones import GraphoneModel
from pipelines.seq2seq.inflections import Inflections
from pipelines.seq2seq.preprocess import Seq2SeqPreprocessor

LEXICON = "lexicon.tsv.gz"
RESCORER = "rescorer"
GRAPHONES = "graphones.tsv.gz"
FEATURES = ("score", "rescorer", "prefix", "suffix", "joint")
GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0)
METRICS = ("wer", "per", "wer_no_stress", "per_no_stress")  # what `build` reports
MIN_SHARED = 3  # characters a neighbour must share with the input


def common_prefix(a, b):
    """How many leading items `a` and `b` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class Lexicon:
    """Targets by source, with the sources sorted forwards and backwards for neighbours."""

    def __init__(self, entries):
        self.entries = {}
        for source, target in entries:
            self.entries.setdefault(source, [])
            if target not in self.entries[source]:
                self.entries[source].append(target)
        self.forwards = sorted(self.entries)
        self.backwards = sorted(s[::-1] for s in self.entries)
        self._tokens = {}

    def __len__(self):
        return len(self.entries)

    def get(self, source):
        """The targets listed for `source` (first listed first), or None."""
        return self.entries.get(source)

    def neighbours(self, source, count, from_end=False, window=60):
        """Up to `count` (shared characters, lexicon source) pairs: the lexicon sources other
        than `source` sharing the longest prefix (`from_end`: suffix) with it, at least
        `MIN_SHARED` characters; the shorter first among equals."""
        key = source[::-1] if from_end else source
        keys = self.backwards if from_end else self.forwards
        at = bisect.bisect_left(keys, key)
        found = []
        for other in keys[max(0, at - window) : at + window]:
            shared = common_prefix(key, other)
            if shared >= MIN_SHARED and other != key:
                found.append((shared, other[::-1] if from_end else other))
        found.sort(key=lambda f: (-f[0], len(f[1]), f[1]))
        return found[:count]

    def token_lists(self, source, split):
        """The targets of `source` split into tokens (cached)."""
        if source not in self._tokens:
            self._tokens[source] = [split(t) for t in self.entries[source]]
        return self._tokens[source]

    def save(self, path):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            for source, targets in self.entries.items():
                for target in targets:
                    handle.write(f"{source}\t{target}\n")

    @classmethod
    def load(cls, path):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return cls(line.rstrip("\n").split("\t", 1) for line in handle if "\t" in line)


def analogy(candidate, source, lexicon, count, split):
    """(prefix, suffix) features of `candidate` (a token list) for input `source`."""
    values = []
    for from_end in (False, True):
        total = 0.0
        for shared, other in lexicon.neighbours(source, count, from_end):
            agree = 0
            for target in lexicon.token_lists(other, split):
                if from_end:
                    agree = max(agree, common_prefix(candidate[::-1], target[::-1]))
                else:
                    agree = max(agree, common_prefix(candidate, target))
            total += shared / len(source) * agree
        values.append(total)
    return values


def sequence_scores(model, sides, sources, targets, batch_size=256):
    """The mean log-probability per token (`<EOS>` included) `model` gives each target
    for its source, teacher-forced, as `decode` reports scores."""
    import tensorflow as tf

    bos, eos = sides.target_vocab.bos_id, sides.target_vocab.eos_id
    xs = [sides.encode_source(s) for s in sources]
    ys = [np.r_[sides.encode_target(t), eos].astype("int32") for t in targets]
    order = sorted(range(len(xs)), key=lambda i: (len(xs[i]), len(ys[i])))
    scores = np.zeros(len(xs), "float64")
    for lo in range(0, len(order), batch_size):
        chunk = order[lo : lo + batch_size]
        x = np.zeros((len(chunk), max(len(xs[i]) for i in chunk)), "int32")
        y = np.zeros((len(chunk), max(len(ys[i]) for i in chunk)), "int32")
        for row, i in enumerate(chunk):
            x[row, : len(xs[i])] = xs[i]
            y[row, : len(ys[i])] = ys[i]
        fed = np.concatenate([np.full((len(chunk), 1), bos, "int32"), y[:, :-1]], axis=1)
        fed[y == 0] = 0  # nothing fed after <EOS>
        logits = model({"source": tf.constant(x), "target": tf.constant(fed)}, training=False)
        log_p = tf.nn.log_softmax(tf.cast(logits, "float32")).numpy()
        picked = np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
        mask = y > 0
        scores[chunk] = (picked * mask).sum(axis=1) / mask.sum(axis=1)
    return scores.tolist()


def choose(rows, weights):
    """The index of the best row: `rows` (candidates, features) in `FEATURES` order."""
    return int(np.argmax(np.asarray(rows) @ np.asarray(weights)))


def _right(rows_list, correct_list, weights):
    return sum(bool(c[choose(r, weights)]) for r, c in zip(rows_list, correct_list))


def tune(rows_list, correct_list, features=FEATURES, passes=3):
    """Weights (in `FEATURES` order, `score` fixed at 1) that make the most inputs right:
    coordinate ascent over `GRID` for each used feature; ties keep the earlier weights."""
    weights = np.zeros(len(FEATURES))
    weights[0] = 1.0
    best = _right(rows_list, correct_list, weights)
    for _ in range(passes):
        changed = False
        for k, name in enumerate(FEATURES):
            if name == "score" or name not in features:
                continue
            for value in GRID:
                trial = weights.copy()
                trial[k] = value
                right = _right(rows_list, correct_list, trial)
                if right > best:
                    best, weights, changed = right, trial, True
        if not changed:
            break
    return weights


def tune_bagged(rows_list, correct_list, features=FEATURES, bags=1, seed=0):
    """`tune`'s weights, or with `bags` > 1 the mean of the weights it finds on that many
    bootstrap resamples of the inputs (bagging, rounded to 4 decimals): one coarse grid search
    fits the inputs it was tuned on closely, and the mean of many does better on others."""
    if bags <= 1 or not rows_list:
        return tune(rows_list, correct_list, features)
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(bags):
        sample = rng.integers(len(rows_list), size=len(rows_list))
        resampled = [rows_list[i] for i in sample], [correct_list[i] for i in sample]
        found.append(tune(*resampled, features))
    return np.round(np.mean(found, axis=0), 4)


def two_fold_choices(rows_list, correct_list, features=FEATURES, bags=1):
    """Per input, the row that weights tuned (`tune_bagged`) on the other half of the inputs
    choose (the halves: every other input): a two-fold estimate of how tuned weights do on
    new inputs."""
    chosen = [None] * len(rows_list)
    for k in (0, 1):
        weights = tune_bagged(rows_list[k::2], correct_list[k::2], features, bags)
        for i in range(1 - k, len(rows_list), 2):
            chosen[i] = choose(rows_list[i], weights)
    return chosen


def tune_with_estimate(rows_list, correct_list, features=FEATURES):
    """(weights tuned on every input, how many inputs they make right, and how many a two-fold
    estimate makes right: weights tuned on every other input, scored on the others, and back)."""
    chosen = two_fold_choices(rows_list, correct_list, features)
    held_out = sum(bool(c[k]) for c, k in zip(correct_list, chosen))
    weights = tune(rows_list, correct_list, features)
    return weights, _right(rows_list, correct_list, weights), held_out


def load_network(name_or_path):
    """(model, preprocessor) of a model folder's (or shipped model's) network, without any
    reranking."""
    from pipelines.io import model_folder
    from zoo import registry

    folder = model_folder(name_or_path)
    return registry.load(folder), Seq2SeqPreprocessor.load(folder)


class Reranker:
    """The lexicon, the rescorer, the graphone model and the weights a reranked model folder
    holds. `graphones`: a GraphoneModel, or a function that makes one (called when the
    feature is first needed: counting CMUdict's n-grams takes seconds)."""

    def __init__(
        self,
        weights,
        neighbours=4,
        lexicon=None,
        rescorer=None,
        graphones=None,
        order=0,
        inflections=None,
    ):
        self.weights = np.asarray([weights.get(name, 0.0) for name in FEATURES], "float64")
        self.neighbours, self.lexicon, self.rescorer = neighbours, lexicon, rescorer
        self._graphones, self.graphone_order = graphones, order
        # {"suffixes": [...], "bases": [...]}: `inflections.Inflections` of the lexicon
        self.inflection_settings = inflections
        self._inflections = None

    @classmethod
    def load(cls, folder, settings):
        lexicon = rescorer = graphones = None
        if os.path.exists(os.path.join(folder, LEXICON)):
            lexicon = Lexicon.load(os.path.join(folder, LEXICON))
        if os.path.isdir(os.path.join(folder, RESCORER)):
            rescorer = load_network(os.path.join(folder, RESCORER))
        order = settings.get("graphone_order", 0)
        if order:
            path = os.path.join(folder, GRAPHONES)
            if not os.path.exists(path):
                raise DataError(path, "missing: seq2seq.json names a graphone model")
            graphones = lambda: GraphoneModel.load(path)  # noqa: E731
        neighbours = settings.get("neighbours", 4)
        inflections = settings.get("inflections")
        if inflections and lexicon is None:
            raise DataError(
                os.path.join(folder, LEXICON), "missing: seq2seq.json names inflections"
            )
        return cls(
            settings["weights"], neighbours, lexicon, rescorer, graphones, order, inflections
        )

    @property
    def graphones(self):
        if callable(self._graphones):
            self._graphones = self._graphones()
        return self._graphones

    def inflections(self, target_level):
        """The lexicon's `inflections.Inflections` (learned when first needed), or None."""
        if not self.inflection_settings or self.lexicon is None:
            return None
        if self._inflections is None:
            self._inflections = Inflections(self.lexicon, target_level, **self.inflection_settings)
        return self._inflections

    def settings(self):
        found = {
            "weights": dict(zip(FEATURES, map(float, self.weights))),
            "neighbours": self.neighbours,
        }
        if self._graphones is not None:
            found["graphone_order"] = self.graphone_order
        if self.inflection_settings:
            found["inflections"] = dict(self.inflection_settings)
        return found

    def listed(self, sides, text):
        """The lexicon's answer for `text`: its first listed target, or one made from a listed
        word by an inflection; None where the network has to decide."""
        found = self.alternates(sides, text)
        return found[0] if found else None

    def alternates(self, sides, text):
        """Every target the lexicon lists for `text` or makes of the listed word it is an
        inflection of (`listed`'s first), or None."""
        return self.lookup(sides, text)[0]

    def lookup(self, sides, text):
        """(targets, source): the targets the lexicon lists for `text` (source `"lexicon"`) or
        makes of the listed word it is an inflection of (`"inflection"`); (None, `"network"`)
        where the network decides."""
        if self.lexicon is None:
            return None, "network"
        key = sides.fold(text)
        known = self.lexicon.get(key)
        if known:
            return known, "lexicon"
        inflections = self.inflections(sides.target_level)
        made = inflections.get_all(key) if inflections is not None else None
        return (made, "inflection") if made else (None, "network")

    def feature_rows(self, sides, texts, candidates):
        """(candidates, features) per input; `candidates` lists (output, score) per input."""
        split = lambda t: Seq2SeqPreprocessor.split(t, sides.target_level)  # noqa: E731
        rows = [
            [[score] + [0.0] * (len(FEATURES) - 1) for _, score in found] for found in candidates
        ]
        if self.rescorer is not None and self.weights[1]:  # weight 0: not worth the network
            flat = [(t, out) for t, found in zip(texts, candidates) for out, _ in found]
            scores = iter(sequence_scores(*self.rescorer, *zip(*flat)) if flat else [])
            for row in rows:
                for features in row:
                    features[1] = next(scores)
        if self.lexicon is not None and self.weights[2:4].any():
            for text, found, row in zip(texts, candidates, rows):
                key = sides.fold(text)
                for (output, _), features in zip(found, row):
                    features[2:4] = analogy(
                        split(output), key, self.lexicon, self.neighbours, split
                    )
        if self._graphones is not None and self.weights[4]:
            for text, found, row in zip(texts, candidates, rows):
                key = sides.fold(text)
                for (output, _), features in zip(found, row):
                    features[4] = self.graphones.logprob(key, split(output))
        return rows

    def decode(self, model, sides, texts, beam, batch_size=256):
        """(output, score) per text: the lexicon's target for the inputs it lists or the
        inflections make of a listed word (score 0.0), the best reranked candidate of a
        `beam`-wide search for the others (score: the network's)."""
        results = [None] * len(texts)
        unknown = []
        for i, text in enumerate(texts):
            known = self.listed(sides, text)
            if known is not None:
                results[i] = (known, 0.0)
            else:
                unknown.append(i)
        texts_left = [texts[i] for i in unknown]
        candidates = nbest(model, sides, texts_left, max(beam, 2), batch_size)
        rows = self.feature_rows(sides, texts_left, candidates)
        for i, found, row in zip(unknown, candidates, rows):
            results[i] = found[choose(row, self.weights)]
        return results


def graphone_model(lexicon, target_level, order, log=None):
    """The joint-sequence model of every (source, target) pair `lexicon` lists."""
    split = lambda t: Seq2SeqPreprocessor.split(t, target_level)  # noqa: E731
    pairs = [(s, split(t)) for s, targets in lexicon.entries.items() for t in targets]
    return GraphoneModel.train(pairs, order, log=log)


def build(
    model_folder,
    out,
    lexicon_examples,
    dev_examples,
    rescorer_folder,
    beam,
    neighbours,
    graphone_order=0,
    log=None,
    inflections=None,
    bags=1,
):
    """Writes `out`: `model_folder` with a lexicon of `lexicon_examples` (if any), the rescorer
    (if any), a joint-sequence model of the lexicon of `graphone_order` (0: none), the
    lexicon's `inflections` (`{"suffixes": [...], "bases": [...]}`, `inflections.Inflections`)
    and weights tuned on `dev_examples` (`tune_bagged` with `bags`); returns what it measured
    on them."""
    from pipelines.io import write_atomically

    model, sides = load_network(model_folder)
    lexicon = graphones = None
    if lexicon_examples:
        lexicon = Lexicon((sides.fold(s), t) for s, t, _ in lexicon_examples)
    if lexicon is None and rescorer_folder is None:
        raise ValueError("reranking needs a lexicon, a rescorer or both")
    if graphone_order and lexicon is None:
        raise ValueError("a graphone model needs a lexicon")
    inflections = {k: [sides.fold(x) for x in v] for k, v in (inflections or {}).items() if v}
    inflections = inflections or None
    if inflections and lexicon is None:
        raise ValueError("inflections need a lexicon")
    rescorer = load_network(rescorer_folder) if rescorer_folder else None
    if graphone_order:
        graphones = graphone_model(lexicon, sides.target_level, graphone_order, log)
    reranker = Reranker(
        {"score": 1.0}, neighbours, lexicon, rescorer, graphones, graphone_order, inflections
    )
    reranker.weights[1:] = 1.0  # every feature computed while tuning
    sources, refs = references(dev_examples)
    candidates = nbest(model, sides, sources, beam)
    rows = reranker.feature_rows(sides, sources, candidates)
    correct = [[out in options for out, _ in found] for found, options in zip(candidates, refs)]
    # inputs the lexicon answers (listed, or an inflection of a listed word) are answered from
    # it, whatever the weights: tuned on the others
    looked_up = [reranker.lookup(sides, s) for s in sources]
    listed = [found[0] if found else None for found, _ in looked_up]
    free = [i for i, known in enumerate(listed) if known is None]
    used = ["score"] + ["rescorer"] * (rescorer is not None) + ["prefix", "suffix"] * bool(lexicon)
    used += ["joint"] * (graphones is not None)

    free_rows, free_correct = [rows[i] for i in free], [correct[i] for i in free]
    reranker.weights = tune_bagged(free_rows, free_correct, used, bags)
    held_out = two_fold_choices(free_rows, free_correct, used, bags)

    def scored(pick):  # the metrics of the outputs with the free inputs' candidates `pick(j)`
        outputs = list(listed)
        for j, i in enumerate(free):
            outputs[i] = candidates[i][pick(j)][0]
        return seq2seq_metrics(outputs, refs, sides.target_level)

    network = seq2seq_metrics([found[0][0] for found in candidates], refs, sides.target_level)
    reranked = scored(lambda j: choose(free_rows[j], reranker.weights))
    two_fold = scored(lambda j: held_out[j])
    measured = {"network": network, "reranked": reranked, "reranked_two_fold": two_fold}
    report = _report(looked_up, correct, measured)
    report["weights"] = reranker.settings()["weights"]

    write_atomically(
        out, lambda tmp: write_folder(tmp, model_folder, rescorer_folder, reranker, beam, report)
    )
    return report


def _report(looked_up, correct, measured):
    """`rerank.json`'s figures: how many inputs the lexicon answers (`looked_up`: `lookup`'s
    pairs), the candidates' oracle WER (`correct`: per input, per candidate) and each of
    `measured` (`{name: seq2seq_metrics}`) as `{metric}_{name}`."""
    n = len(looked_up)
    report = {
        "examples": n,
        "listed_in_lexicon": sum(source == "lexicon" for _, source in looked_up),
        "answered_by_inflections": sum(source == "inflection" for _, source in looked_up),
        "wer_oracle": 1 - sum(any(c) for c in correct) / n,
    }
    for name, metrics in measured.items():
        report.update({f"{k}_{name}": metrics[k] for k in METRICS if k in metrics})
    return report


def write_folder(tmp, model_folder, rescorer_folder, reranker, beam, report):
    """Writes into `tmp` the reranked model folder `build` made: `model_folder`'s network,
    `reranker`'s lexicon, graphone model and settings, a copy of the rescorer, `report`."""
    from pipelines.io import write_json

    shutil.copytree(
        model_folder,
        tmp,
        ignore=shutil.ignore_patterns(LEXICON, RESCORER, GRAPHONES, "rerank.json"),
    )
    if reranker.lexicon is not None:
        reranker.lexicon.save(os.path.join(tmp, LEXICON))
    if reranker.graphone_order:
        reranker.graphones.save(os.path.join(tmp, GRAPHONES))
    if rescorer_folder:
        os.makedirs(os.path.join(tmp, RESCORER))
        for name in ("model.keras", "source.txt", "target.txt", "seq2seq.json", "card.json"):
            if name == "card.json" and not os.path.exists(os.path.join(rescorer_folder, name)):
                continue
            shutil.copy(os.path.join(rescorer_folder, name), os.path.join(tmp, RESCORER))
    with open(os.path.join(tmp, "seq2seq.json"), encoding="utf-8") as handle:
        settings = json.load(handle)
    settings.update(beam=beam, rerank=reranker.settings())
    with open(os.path.join(tmp, "seq2seq.json"), "w", encoding="utf-8") as handle:
        json.dump(settings, handle)
    write_json(os.path.join(tmp, "rerank.json"), report)
