"""Issue 27 experiment: do candidates of other kinds, or more reranking features, lower the PER?

    python benchmarks/experiments/g2p_candidates.py [--model g2p-cmudict] [--data DEV.dict]
        [--beam 8] [--graphone-beam 40] [--graphone-nbest 8] [--no-graphone] [--no-compose]
        [--max-words N]

The shipped folder decides among its network's beam. This script adds, for every head word,

- `compose`: pronunciations composed from the lexicon it carries: where the word is a lexicon
  word plus a suffix or a prefix of up to 5 letters ("aches" = "ache" + "s"), the lexicon
  word's first pronunciation plus the phonemes that affix adds most often after (suffixes) or
  before (prefixes) the same phoneme in the lexicon's own pairs (ache -> aches: + S);
- `graphone`: the n-best pronunciations of the folder's joint-sequence model decoding alone
  (a beam search over graphone sequences that spell the word, `--graphone-beam` states per
  letter position, `--graphone-nbest` kept); it errs elsewhere than the networks;

scores the new candidates as the beam's (network and rescorer teacher-forced, analogy, graphone
features; `pipelines.seq2seq.rerank`) and reranks the pool with weights tuned by coordinate
ascent for exact match (from the network's score alone, as `rerank` tunes), with a two-fold
estimate (weights tuned on every other word, scored on the rest). Extra columns: how much the
lexicon's affix statistics trust a composed candidate, whether a candidate is in the network's
beam, and derived scores (sums instead of means, length, the candidate's beam rank, its expected
phoneme edit distance to the others under the folder's scores). Prints WER and PER (stress kept)
for each pool and feature set. About 20 minutes for the 6,230 dev words on 2 cores, most of it
the graphone decoding (pure Python).
"""

import argparse
import collections
import heapq
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

from pipelines import seq2seq  # noqa: E402
from pipelines.seq2seq.data import read_cmudict, references  # noqa: E402
from pipelines.seq2seq.decoding import edit_distance, nbest  # noqa: E402
from pipelines.seq2seq.graphones import ngram_key  # noqa: E402
from pipelines.seq2seq.rerank import FEATURES, sequence_scores  # noqa: E402

GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0, 3.0, 5.0)
GRID = tuple(sorted(set(GRID) | {-g for g in GRID}))
MIN_STEM, MAX_AFFIX, MIN_PAIRS = 3, 5, 5


def affix_tables(lexicon):
    """(suffixes, prefixes): for each (affix letters, the stem's last or first phoneme), a
    Counter of the phonemes the affix adds, and how many lexicon pairs have the affix."""
    tables = {side: collections.defaultdict(collections.Counter) for side in (True, False)}
    pairs = {True: collections.Counter(), False: collections.Counter()}
    for word, targets in lexicon.entries.items():
        target = targets[0]
        for k in range(1, MAX_AFFIX + 1):
            if len(word) - k < MIN_STEM:
                break
            for suffix in (True, False):
                stem, affix = (word[:-k], word[-k:]) if suffix else (word[k:], word[:k])
                if stem not in lexicon.entries:
                    continue
                pairs[suffix][affix] += 1
                for said in lexicon.entries[stem]:
                    if suffix and (target == said or target.startswith(said + " ")):
                        tables[True][affix, said.split()[-1]][target[len(said) :].strip()] += 1
                        break
                    if not suffix and (target == said or target.endswith(" " + said)):
                        added = target[: len(target) - len(said)].strip()
                        tables[False][affix, said.split()[0]][added] += 1
                        break
    return tables, pairs


def compose(word, lexicon, tables, pairs):
    """{candidate: trust} for `word` composed from a lexicon stem and an affix; trust is the
    share of the affix's lexicon pairs that add these phonemes after (before) this phoneme."""
    found = {}
    for k in range(1, MAX_AFFIX + 1):
        if len(word) - k < MIN_STEM:
            break
        for suffix in (True, False):
            stem, affix = (word[:-k], word[-k:]) if suffix else (word[k:], word[:k])
            if stem not in lexicon.entries or pairs[suffix][affix] < MIN_PAIRS:
                continue
            said = lexicon.entries[stem][0]
            table = tables[suffix].get((affix, said.split()[-1 if suffix else 0]))
            if not table:
                continue
            added, count = table.most_common(1)[0]
            trust = min(count / pairs[suffix][affix], count / sum(table.values()))
            joined = f"{said} {added}" if suffix else f"{added} {said}"
            found[joined.strip()] = max(found.get(joined.strip(), 0.0), trust)
    return found


class GraphoneDecoder:
    """The n best pronunciations of a word under a `GraphoneModel` alone: a beam search over
    the graphone sequences that spell it, `beam` states kept per letter position."""

    def __init__(self, graphones):
        self.model = graphones
        self.spelling = collections.defaultdict(list)
        for g, i in graphones.ids.items():
            if graphones.tables[1].get(ngram_key((i,)), 0):
                self.spelling[g[0]].append((i, g[1]))

    def nbest(self, word, beam=40, count=8):
        model = self.model
        at = collections.defaultdict(dict)  # position -> {(history, phonemes): log-probability}
        at[0][(0,) * (model.order - 1), ()] = 0.0
        done = {}
        for i in range(len(word) + 1):
            states = heapq.nlargest(beam, at.pop(i, {}).items(), key=lambda kv: kv[1])
            for (history, said), logp in states:
                if i == len(word):
                    total = logp + math.log(model.probability(history + (1,)))
                    done[said] = max(done.get(said, -math.inf), total)
                    continue
                for width in (1, 2):
                    for g, phonemes in self.spelling.get(word[i : i + width], ()):
                        key = (history[1:] + (g,), said + phonemes)
                        total = logp + math.log(model.probability(history + (g,)))
                        if total > at[i + width].get(key, -math.inf):
                            at[i + width][key] = total
        best = sorted(done.items(), key=lambda kv: -kv[1])[:count]
        return [" ".join(said) for said, _ in best]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="g2p-cmudict")
    parser.add_argument("--data", default="../shared/data/cmudict/dev.dict")
    parser.add_argument("--beam", type=int, default=8)
    parser.add_argument("--graphone-beam", type=int, default=40)
    parser.add_argument("--graphone-nbest", type=int, default=8)
    parser.add_argument("--no-graphone", action="store_true")
    parser.add_argument("--no-compose", action="store_true")
    parser.add_argument("--max-words", type=int)
    args = parser.parse_args()

    loaded = seq2seq.load(args.model)
    model, sides = loaded.model, loaded.preprocessor
    reranker = sides.reranker
    if reranker is None or reranker.lexicon is None or reranker.graphones is None:
        raise SystemExit(f"{args.model}: needs a lexicon and a graphone model")
    shipped = reranker.weights.copy()
    words, refs = references(read_cmudict(args.data))
    words, refs = words[: args.max_words], refs[: args.max_words]
    keys = [sides.fold(w) for w in words]
    start = time.time()
    beams = nbest(model, sides, words, args.beam)
    pools = [[out for out, _ in found] for found in beams]
    trust = [{} for _ in words]
    if not args.no_compose:
        tables, pairs = affix_tables(reranker.lexicon)
        trust = [compose(k, reranker.lexicon, tables, pairs) for k in keys]
    from_graphones = [[] for _ in words]
    if not args.no_graphone:
        decoder = GraphoneDecoder(reranker.graphones)
        for i, key in enumerate(keys):
            if i % 200 == 0:
                reranker.graphones._cache.clear()  # bounded memory
            from_graphones[i] = decoder.nbest(key, args.graphone_beam, args.graphone_nbest)
    print(f"candidates made in {time.time() - start:.0f} s")
    pools = [list(dict.fromkeys(p + list(t) + g)) for p, t, g in zip(pools, trust, from_graphones)]
    new = [(w, c) for w, p, found in zip(words, pools, beams) for c in p[len(found) :]]
    network = iter(sequence_scores(model, sides, *zip(*new)) if new else [])
    scored = [
        list(found) + [(c, next(network)) for c in p[len(found) :]]
        for p, found in zip(pools, beams)
    ]
    reranker.weights[1:] = 1.0  # every feature computed
    rows = [np.asarray(r, float) for r in reranker.feature_rows(sides, words, scored)]

    errors, lengths, right = [], [], []
    for pool, options in zip(pools, refs):
        closest = [
            min((edit_distance(c.split(), r.split()), len(r.split())) for r in options)
            for c in pool
        ]
        errors.append(np.array([e for e, _ in closest], float))
        lengths.append(np.array([n for _, n in closest], float))
        right.append(np.array([c in options for c in pool]))

    names = list(FEATURES) + ["trust", "in_beam", "score_sum", "rescorer_sum", "length", "rank"]
    names += ["consensus"]
    table = []
    for i, (pool, row) in enumerate(zip(pools, rows)):
        size = np.array([len(c.split()) + 1 for c in pool], float)
        rank = np.arange(len(pool), dtype=float)
        in_beam = (rank < len(beams[i])).astype(float)
        combined = row @ shipped
        p = np.exp(4.0 * (combined - combined.max()))
        distance = np.array([[edit_distance(a.split(), b.split()) for b in pool] for a in pool])
        consensus = -(distance @ (p / p.sum()))
        t = np.array([trust[i].get(c, 0.0) for c in pool])
        extra = [t, in_beam, row[:, 0] * size, row[:, 1] * size, size, rank, consensus]
        table.append(np.column_stack([row] + extra))

    def choose(weights, which):
        return [int(np.argmax(table[i] @ weights)) for i in which]

    def measure(chosen, which):
        wer = 1 - sum(right[i][c] for c, i in zip(chosen, which)) / len(which)
        edits = sum(errors[i][c] for c, i in zip(chosen, which))
        return f"WER {wer:.4f} PER {edits / sum(lengths[i][c] for c, i in zip(chosen, which)):.4f}"

    def tune(which, used):
        weights = np.zeros(len(names))
        weights[0] = 1.0  # the network's score; the others from 0, as `rerank` tunes them
        weights[names.index("in_beam")] = 100.0 if "in_beam" not in used else 0.0
        best = sum(right[i][c] for c, i in zip(choose(weights, which), which))
        for _ in range(3):
            changed = False
            for k in [names.index(u) for u in used if u != "score"]:
                for value in GRID:
                    trial = weights.copy()
                    trial[k] = value
                    got = sum(right[i][c] for c, i in zip(choose(trial, which), which))
                    if got > best:
                        best, weights, changed = got, trial, True
            if not changed:
                break
        return weights

    everyone = list(range(len(words)))
    halves = [everyone[0::2], everyone[1::2]]
    in_beam_only = np.zeros(len(names))
    in_beam_only[: len(shipped)] = shipped
    in_beam_only[names.index("in_beam")] = 100.0
    print(f"{len(words)} words, {sum(map(len, pools)):,} candidates")
    beam_oracle = 1 - sum(right[i][: len(beams[i])].any() for i in everyone) / len(words)
    print(f"oracle WER: the network's beam {beam_oracle:.4f}, the pool ", end="")
    print(f"{1 - sum(r.any() for r in right) / len(words):.4f}")
    print(f"the folder's weights, its beam: {measure(choose(in_beam_only, everyone), everyone)}")
    base = list(FEATURES)
    for used in (
        base,
        base + ["in_beam"],
        base + ["in_beam", "trust"],
        *[base + ["in_beam", extra] for extra in names[len(FEATURES) + 2 :]],
    ):
        chosen = [None] * len(words)
        for k in (0, 1):
            weights = tune(halves[k], used)
            for i, c in zip(halves[1 - k], choose(weights, halves[1 - k])):
                chosen[i] = c
        weights = tune(everyone, used)
        line = "+".join(used[len(base) :]) or "the folder's features"
        tuned = measure(choose(weights, everyone), everyone)
        print(f"{line}: tuned on all {tuned}; two-fold {measure(chosen, everyone)}", flush=True)


if __name__ == "__main__":
    main()
