"""Issue 6 experiment: rerank the union of several G2P models' beams with all their scores.

    python benchmarks/experiments/g2p_union.py [--model g2p-cmudict] [--extra MODEL]
        [--data DEV.dict] [--beam 4] [--network-beam-only]

The shipped G2P folder holds a left-to-right network and a right-to-left rescorer; `--extra`
adds a third model (another network). Each decodes every head word into `--beam` candidates;
their union (or the network's beam alone, `--network-beam-only`) is scored by every model (mean
log-probability per token, teacher-forced) and reranked with weights tuned as `rerank` tunes
them (coordinate ascent for exact match, plus a two-fold estimate). Prints the oracle WER of
each beam and of the candidates, and the reranked WER.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pipelines.seq2seq.data import read_cmudict, references  # noqa: E402
from pipelines.seq2seq.decoding import nbest  # noqa: E402
from pipelines.seq2seq.rerank import (  # noqa: E402
    FEATURES,
    load_network,
    sequence_scores,
    tune_with_estimate,
)

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="g2p-cmudict")
parser.add_argument("--extra")
parser.add_argument("--data", default="../shared/data/cmudict/dev.dict")
parser.add_argument("--beam", type=int, default=4)
parser.add_argument("--network-beam-only", action="store_true")
args = parser.parse_args()
model, sides = load_network(args.model)
if sides.reranker is None or sides.reranker.rescorer is None:
    raise SystemExit(f"{args.model}: no rescorer in this model folder")
models = {"network": (model, sides), "rescorer": sides.reranker.rescorer}
if args.extra:
    models["extra"] = load_network(args.extra)
words, refs = references(read_cmudict(args.data))
beams = {name: nbest(m, s, words, args.beam) for name, (m, s) in models.items()}
pooled = [beams["network"]] if args.network_beam_only else list(beams.values())
candidates = [
    list(dict.fromkeys(out for found in per_word for out, _ in found)) for per_word in zip(*pooled)
]
flat = [(word, c) for word, found in zip(words, candidates) for c in found]
scores = [iter(sequence_scores(m, s, *zip(*flat))) for m, s in models.values()]
# rows in `pipelines.seq2seq.rerank.FEATURES` order: score, rescorer, then the extra model's score
empty = [0.0] * (len(FEATURES) - len(scores))
rows = [[[next(s) for s in scores] + empty for _ in found] for found in candidates]
correct = [[c in options for c in found] for found, options in zip(candidates, refs)]
n = len(words)
for name, beam in beams.items():
    oracle = sum(any(out in options for out, _ in found) for found, options in zip(beam, refs))
    print(f"oracle WER of the {name}'s beam of {args.beam}: {1 - oracle / n:.4f}")
print(f"oracle WER of the candidates: {1 - sum(map(any, correct)) / n:.4f}")
used = ["score", "rescorer", "prefix"][: len(models)]
weights, right, held_out = tune_with_estimate(rows, correct, used)
print(
    f"reranked: WER {1 - right / n:.4f}, two-fold {1 - held_out / n:.4f}, "
    f"weights {weights[: len(models)].tolist()}"
)
