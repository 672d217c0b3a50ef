"""A joint-sequence ("graphone") n-gram model of a lexicon, as a reranking feature.

Bisani & Ney (2008), "Joint-sequence models for grapheme-to-phoneme conversion": a pair
(word, pronunciation) is cut into graphones, each a chunk of one or two letters with the zero
to two phonemes it spells ("ph|F", "x|K S", "e|" for a silent e, "ll|L"), and an n-gram model
over graphone sequences gives the pair a joint probability:

    log P(w, p) ~= sum_k log P(g_k | g_{k-n+1} .. g_{k-1}),   g_1 .. g_K a segmentation of (w, p)

It is a different kind of model from the encoder-decoder: it counts what the lexicon spells,
chunk by chunk, and errs elsewhere, so as a reranking feature of the network's beam it pays
where a second network of the same kind does not (Rao et al. 2015 combine an LSTM with such a
model for the same reason).

- `align`: the segmentation of every lexicon pair, by expectation-maximisation over all of its
  segmentations (the many-to-many alignment of Jiampojamarn et al. 2007; chunks of `CHUNKS`),
  then the most probable one (Viterbi) under the learnt graphone probabilities;
- `GraphoneModel`: interpolated Kneser-Ney (one discount, 0.75) over those sequences; `logprob`
  segments a new pair by Viterbi under the alignment's graphone probabilities and scores that
  segmentation with the n-gram model.

The model folder keeps the alignment (`graphones.tsv.gz`: the graphones and their
probabilities, then each lexicon pair's segmentation), so loading counts n-grams (2-3 s for
CMUdict) instead of aligning again (minutes).
"""

import collections
import gzip
import itertools
import json
import math

import numpy as np

CHUNKS = ((1, 0), (1, 1), (1, 2), (2, 1))  # (source characters, target tokens) per graphone
FLOOR = 1e-12  # the probability of a graphone the lexicon never spelled, when segmenting


def _chunks(source, tokens, i, j, forwards=True):
    """(graphone, i2, j2) for each chunk size starting (`forwards`) or ending at (i, j)."""
    for x, y in CHUNKS:
        if forwards and i + x <= len(source) and j + y <= len(tokens):
            yield (source[i : i + x], tuple(tokens[j : j + y])), i + x, j + y
        elif not forwards and i >= x and j >= y:
            yield (source[i - x : i], tuple(tokens[j - y : j])), i - x, j - y


def _expected_counts(source, tokens, probs, floor, counts):
    """Adds the expected graphone counts of one pair under `probs` (forward-backward)."""
    n, m = len(source), len(tokens)
    alpha = [[0.0] * (m + 1) for _ in range(n + 1)]
    alpha[0][0] = 1.0
    for i in range(n + 1):
        for j in range(m + 1):
            if alpha[i][j]:
                for g, i2, j2 in _chunks(source, tokens, i, j):
                    alpha[i2][j2] += alpha[i][j] * probs.get(g, floor)
    total = alpha[n][m]
    if not total:
        return 0.0
    beta = [[0.0] * (m + 1) for _ in range(n + 1)]
    beta[n][m] = 1.0
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if beta[i][j]:
                for g, i2, j2 in _chunks(source, tokens, i, j, forwards=False):
                    beta[i2][j2] += beta[i][j] * probs.get(g, floor)
    for i in range(n + 1):
        for j in range(m + 1):
            if alpha[i][j]:
                for g, i2, j2 in _chunks(source, tokens, i, j):
                    share = alpha[i][j] * probs.get(g, floor) * beta[i2][j2] / total
                    if share > 1e-6:
                        counts[g] += share
    return math.log(total)


def segment(source, tokens, probs, floor=FLOOR):
    """The most probable segmentation of (source, tokens) into graphones under the unigram
    `probs` (graphones it lacks get `floor`), or None when no segmentation exists."""
    n, m = len(source), len(tokens)
    best = [[(-math.inf, None)] * (m + 1) for _ in range(n + 1)]
    best[0][0] = (0.0, None)
    for i in range(n + 1):
        for j in range(m + 1):
            score = best[i][j][0]
            if score == -math.inf:
                continue
            for g, i2, j2 in _chunks(source, tokens, i, j):
                trial = score + math.log(probs.get(g, floor))
                if trial > best[i2][j2][0]:
                    best[i2][j2] = (trial, (i, j, g))
    if best[n][m][0] == -math.inf:
        return None
    graphones, i, j = [], n, m
    while (i, j) != (0, 0):
        i, j, g = best[i][j][1]
        graphones.append(g)
    return graphones[::-1]


def align(pairs, iterations=4, log=None):
    """(segmentations, graphone probabilities): the best segmentation of each (source, tokens)
    pair (None where the chunk sizes cannot cover it) under the graphone probabilities learnt
    by `iterations` rounds of EM from uniform ones."""
    probs, floor = {}, 1e-3
    for round_ in range(iterations):
        counts = collections.Counter()
        likelihood = sum(_expected_counts(s, t, probs, floor, counts) for s, t in pairs)
        total = sum(counts.values())
        probs = {g: c / total for g, c in counts.items() if c > 0.01}
        floor = FLOOR
        if log:
            done = f"alignment round {round_ + 1}: log-likelihood {likelihood:.0f}"
            log(f"{done}, {len(probs)} graphones")
    return [segment(s, t, probs) for s, t in pairs], probs


class GraphoneModel:
    """Interpolated Kneser-Ney n-gram probabilities of graphone sequences.

    `graphones` lists the graphones (id 2 is the first; 0 and 1 are the sequence's start and
    end), `sequences` the lexicon's segmentations as ids, `units` the alignment's graphone
    probabilities with which `logprob` segments a new pair (by default the graphones'
    frequencies in `sequences`). N-grams are counted with numpy under 64-bit polynomial hash
    keys (`ngram_key`): CMUdict's model counts in 2-3 s on 2 cores."""

    def __init__(self, graphones, sequences, order=6, units=None, discount=0.75):
        self.order, self.discount = order, discount
        self.graphones, self.sequences = list(graphones), sequences
        self.ids = {g: i for i, g in enumerate(self.graphones, 2)}
        self.unseen = len(self.graphones) + 2  # the id of any graphone not in the list
        pad = [0] * (order - 1)
        flat = np.fromiter(
            itertools.chain.from_iterable(pad + list(s) + [1] for s in sequences), np.int64
        )
        real = np.flatnonzero(flat > 0) if len(flat) else np.zeros(0, np.int64)
        keys = [np.zeros(len(flat), np.uint64)]  # keys[n][k]: the n-gram ending at k
        with np.errstate(over="ignore"):
            for _ in range(order):
                before = np.r_[np.uint64(0), keys[-1][:-1]]
                keys.append(before * np.uint64(MULTIPLIER) + (flat + 1).astype(np.uint64))
        # the highest order counts n-grams; lower orders count the distinct contexts a
        # graphone follows (Kneser-Ney continuation counts): the suffixes of the distinct
        # n-grams one order up
        self.tables = [None] * (order + 1)
        self.context_total = [None] * (order + 1)
        self.context_types = [None] * (order + 1)
        at = real
        for n in range(order, 0, -1):
            unique, first, counts = np.unique(keys[n][at], return_index=True, return_counts=True)
            at = at[first]  # one position of each distinct n-gram
            contexts, inverse = np.unique(keys[n - 1][at - 1], return_inverse=True)
            totals = np.bincount(inverse, weights=counts).astype(np.int64)
            self.tables[n] = dict(zip(unique.tolist(), counts.tolist()))
            self.context_total[n] = dict(zip(contexts.tolist(), totals.tolist()))
            self.context_types[n] = dict(zip(contexts.tolist(), np.bincount(inverse).tolist()))
        self.vocabulary = len(self.tables[1]) + 1
        if units is None:
            frequencies = np.bincount(flat[real], minlength=self.unseen)[2:]
            units = {g: c / frequencies.sum() for g, c in zip(self.graphones, frequencies) if c}
        self.units = units
        self._cache = {}

    def probability(self, ngram):
        """P(ngram[-1] | ngram[:-1]) (a tuple of graphone ids), interpolated down to the
        uniform distribution."""
        if not ngram:
            return 1.0 / self.vocabulary
        found = self._cache.get(ngram)
        if found is None:
            n, context = len(ngram), ngram_key(ngram[:-1])
            lower = self.probability(ngram[1:])
            total = self.context_total[n].get(context, 0)
            if total:
                count = max(self.tables[n].get(ngram_key(ngram), 0) - self.discount, 0)
                backoff = self.discount * self.context_types[n][context] / total
                found = count / total + backoff * lower
            else:
                found = lower
            self._cache[ngram] = found
        return found

    def sequence_logprob(self, graphones):
        ids = [0] * (self.order - 1) + [self.ids.get(g, self.unseen) for g in graphones] + [1]
        return sum(
            math.log(self.probability(tuple(ids[k - self.order + 1 : k + 1])))
            for k in range(self.order - 1, len(ids))
        )

    def logprob(self, source, tokens):
        """log P(source, tokens): the n-gram log-probability of their best segmentation."""
        graphones = segment(source, tokens, self.units)
        return self.sequence_logprob(graphones) if graphones is not None else -1e4

    @classmethod
    def train(cls, pairs, order=6, iterations=4, log=None):
        """The model of (source, tokens) pairs; pairs no segmentation covers are left out."""
        segmentations, units = align(pairs, iterations, log)
        ids = {g: i for i, g in enumerate(units, 2)}
        sequences = [
            [ids.setdefault(g, len(ids) + 2) for g in graphones]
            for graphones in segmentations
            if graphones is not None
        ]
        return cls(list(ids), sequences, order, units)

    def save(self, path):
        """Writes a JSON line (the order, the graphones and their probabilities in the
        alignment), then the graphone ids of each segmented lexicon pair, a line each."""
        header = {
            "order": self.order,
            "graphones": [[s, list(t)] for s, t in self.graphones],
            "units": [self.units.get(g, 0.0) for g in self.graphones],
        }
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(json.dumps(header) + "\n")
            for ids in self.sequences:
                handle.write(" ".join(map(str, ids)) + "\n")

    @classmethod
    def load(cls, path):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            header = json.loads(handle.readline())
            sequences = [list(map(int, line.split())) for line in handle]
        graphones = [(s, tuple(t)) for s, t in header["graphones"]]
        units = {g: p for g, p in zip(graphones, header["units"]) if p > 0}
        return cls(graphones, sequences, header["order"], units)


MULTIPLIER = 0x9E3779B97F4A7C15  # odd
MASK = (1 << 64) - 1


def ngram_key(ids):
    """The 64-bit polynomial hash of a tuple of graphone ids under which it is counted."""
    key = 0
    for i in ids:
        key = (key * MULTIPLIER + i + 1) & MASK
    return key
