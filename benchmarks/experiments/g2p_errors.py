"""Issue 6 experiment: how many of a G2P model's errors are only stress digits.

    python benchmarks/experiments/g2p_errors.py [--model g2p-cmudict] [--data DEV.dict]

Decodes every head word of the data greedily with the network alone (as `evaluate --network-only
--beam 1` does) and counts the words whose output matches none of their pronunciations, those of
them that match one once the stress digits are removed from both, and the WER that stress-free
scoring would give.
"""

import argparse
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pipelines.seq2seq.data import read_cmudict, references  # noqa: E402
from pipelines.seq2seq.decoding import decode  # noqa: E402
from pipelines.seq2seq.rerank import load_network  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="g2p-cmudict")
parser.add_argument("--data", default="../shared/data/cmudict/dev.dict")
args = parser.parse_args()
model, sides = load_network(args.model)
words, refs = references(read_cmudict(args.data))
outputs = [text for text, _ in decode(model, sides, words, network_only=True)]


def unstressed(phonemes):
    return re.sub(r"\d", "", phonemes)


wrong = [(out, options) for out, options in zip(outputs, refs) if out not in options]
stress_only = sum(unstressed(out) in map(unstressed, options) for out, options in wrong)
n = len(words)
print(f"words {n}, wrong {len(wrong)} (WER {len(wrong) / n:.4f})")
print(f"wrong only in stress {stress_only} ({stress_only / n:.4f} of all words)")
print(f"WER with stress removed {(len(wrong) - stress_only) / n:.4f}")
