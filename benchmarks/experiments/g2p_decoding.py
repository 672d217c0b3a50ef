"""Issue 27 experiment: can decoding alone lower the shipped G2P model's phoneme error rate?

    python benchmarks/experiments/g2p_decoding.py [--model g2p-cmudict] [--data DEV.dict]
        [--beam 8] [--restress] [--max-words N]

1. The model's beam (`--beam` candidates per head word) gets its reranking features (network,
   rescorer, prefix and suffix analogy) and is decided three ways: the folder's weights
   (argmax, as `predict` decides), and minimum Bayes risk: the candidate with the least
   expected phoneme edit distance to the others, under the posterior softmax(alpha * combined
   score) (per token, or times the candidate's length), for several alpha. MBR trades exact
   matches for fewer phoneme errors when the posterior is spread over near-misses.
2. `--restress`: each word's candidates also get every stress pattern (one primary, the other
   vowels 0 or 2; words of up to 6 vowels) of its two best reranked candidates; all are scored
   teacher-forced by the network and the rescorer, with the analogy features, and reranked with
   weights tuned on the data (and a two-fold estimate). Prints the oracle WER of that set and
   the metrics of the reranked choice. A few minutes per 1,000 words on 2 cores.
"""

import argparse
import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

from pipelines import seq2seq  # noqa: E402
from pipelines.seq2seq.data import read_cmudict, references  # noqa: E402
from pipelines.seq2seq.decoding import edit_distance, nbest, seq2seq_metrics  # noqa: E402
from pipelines.seq2seq.rerank import FEATURES, sequence_scores, tune_with_estimate  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="g2p-cmudict")
parser.add_argument("--data", default="../shared/data/cmudict/dev.dict")
parser.add_argument("--beam", type=int, default=8)
parser.add_argument("--restress", action="store_true")
parser.add_argument("--max-words", type=int, help="the first N head words only (a quick run)")
args = parser.parse_args()

loaded = seq2seq.load(args.model)
model, sides = loaded.model, loaded.preprocessor
reranker = sides.reranker
if reranker is None:
    raise SystemExit(f"{args.model}: not a reranked model folder")
weights = reranker.weights.copy()
words, refs = references(read_cmudict(args.data))
words, refs = words[: args.max_words], refs[: args.max_words]
candidates = nbest(model, sides, words, args.beam)
reranker.weights[1:] = 1.0  # every feature computed
rows = reranker.feature_rows(sides, words, candidates)


def show(name, outputs):
    metrics = seq2seq_metrics(outputs, refs, "space")
    keys = ("wer", "per", "wer_no_stress", "per_no_stress")
    print(name, " ".join(f"{k} {metrics[k]:.4f}" for k in keys))


scored = []
for found, row in zip(candidates, rows):
    tokens = [out.split() for out, _ in found]
    distances = np.array([[edit_distance(a, b) for b in tokens] for a in tokens], float)
    lengths = np.array([len(t) + 1 for t in tokens])
    scored.append(([out for out, _ in found], np.asarray(row) @ weights, lengths, distances))
show(f"beam {args.beam}, the folder's weights:", [o[int(np.argmax(s))] for o, s, _, _ in scored])
for by_length in (False, True):
    for alpha in (1, 2, 4, 8, 16):
        chosen = []
        for outputs, combined, lengths, distances in scored:
            z = alpha * combined * (lengths if by_length else 1)
            p = np.exp(z - z.max())
            chosen.append(outputs[int(np.argmin(distances @ (p / p.sum())))])
        show(f"MBR alpha {alpha}{' x length' if by_length else ''}:", chosen)

if args.restress:

    def patterns(output):
        tokens = output.split()
        vowels = [i for i, p in enumerate(tokens) if p[-1].isdigit()]
        if not vowels or len(vowels) > 6:
            return []
        found = []
        for pattern in itertools.product("012", repeat=len(vowels)):
            if pattern.count("1") == 1:
                new = list(tokens)
                for i, digit in zip(vowels, pattern):
                    new[i] = new[i][:-1] + digit
                found.append(" ".join(new))
        return found

    pool = []
    for outputs, combined, _, _ in scored:
        extra = [p for k in np.argsort(-combined)[:2] for p in patterns(outputs[k])]
        pool.append(list(dict.fromkeys(outputs + extra)))
    flat = [(word, c) for word, found in zip(words, pool) for c in found]
    network = iter(sequence_scores(model, sides, *zip(*flat)))
    rescorer = iter(sequence_scores(*reranker.rescorer, *zip(*flat)))
    reranker.weights[1] = 0.0  # analogy features only: the rescorer is scored above
    analogy = reranker.feature_rows(sides, words, [[(c, 0.0) for c in found] for found in pool])
    table = [[[next(network), next(rescorer), *a[2:]] for a in row] for row in analogy]
    correct = [[c in options for c in found] for found, options in zip(pool, refs)]
    n = len(words)
    oracle = 1 - sum(map(any, correct)) / n
    print(f"restressed: {sum(map(len, pool)):,} candidates, oracle WER {oracle:.4f}")
    tuned, right, held_out = tune_with_estimate(table, correct, FEATURES)
    print(
        f"tuned weights {tuned.tolist()}: WER {1 - right / n:.4f}, two-fold {1 - held_out / n:.4f}"
    )
    show(
        "restressed, reranked:",
        [f[int(np.argmax(np.asarray(t) @ tuned))] for f, t in zip(pool, table)],
    )
