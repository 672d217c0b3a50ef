"""Issue 24 experiment: how a tagger does on entities it never saw, and what document-level
label consistency would add.

    python benchmarks/experiments/ner_generalisation.py [--model ner-conll2003]
        [--train TRAIN] [--data DEV]

Tags the sentences of `--data` (each alone, or with the text around it in its `-DOCSTART-`
document for a tagger that reads document context; as `evaluate --no-consistency` does) and
prints,
entity by entity (conlleval's counting: type and both ends right):

- precision, recall and F1 on the entities whose words occur as an entity (of any type) in
  `--train` ("seen") and on the others ("unseen"), counted on both sides: a gold entity for
  recall, a predicted one for precision. CoNLL-2003's test split holds more unseen entities than
  its dev split, which is why taggers lose 3-6 F1 points from one to the other;
- the same after document-level label consistency (`pipelines.ner.consistency`, what
  `evaluate` does by default), within each `-DOCSTART-` document.
"""

import argparse
import os
from collections import Counter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pipelines import ner  # noqa: E402
from pipelines.data.conll import entity_spans, read_conll  # noqa: E402
from pipelines.ner.consistency import consistent_documents  # noqa: E402
from pipelines.ner.data import read_tagged  # noqa: E402
from pipelines.ner.inference import evaluate_tags, tag_batch  # noqa: E402


def split_scores(sentences, predicted, seen):
    """{"seen": (P, R, F1), "unseen": ...} by whether an entity's words are in `seen`."""
    counts = Counter()
    for s, tags in zip(sentences, predicted):
        gold, found = set(entity_spans(s.tags)), set(entity_spans(tags))
        for side, entities, other in (("gold", gold, found), ("found", found, gold)):
            for entity in entities:
                kind = "seen" if " ".join(s.tokens[entity[1] : entity[2]]) in seen else "unseen"
                counts[kind, side] += 1
                counts[kind, side, "right"] += entity in other
    result = {}
    for kind in ("seen", "unseen"):
        p = counts[kind, "found", "right"] / max(counts[kind, "found"], 1)
        r = counts[kind, "gold", "right"] / max(counts[kind, "gold"], 1)
        result[kind] = (counts[kind, "gold"], p, r, 2 * p * r / max(p + r, 1e-9))
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="ner-conll2003")
    parser.add_argument("--train", default="../shared/data/conll2003/train.txt")
    parser.add_argument("--data", default="../shared/data/conll2003/valid.txt")
    args = parser.parse_args()
    train, dev = read_conll(args.train), read_conll(args.data)
    seen = {" ".join(s.tokens[a:b]) for s in train for _, a, b in entity_spans(s.tags)}
    tagger = ner.load(args.model)
    _, docs = read_tagged(args.data, documents=True)
    token_lists = [s.tokens for s in dev]  # in their documents for a document-context tagger
    tagged = tag_batch(tagger.model, tagger.preprocessor, token_lists, documents=docs)
    predicted = [tags for tags, _ in tagged]
    gold = [s.tags for s in dev]
    print(f"{args.model} on {args.data}: F1 {evaluate_tags(gold, predicted)['f1']:.4f}")
    for kind, (n, p, r, f) in split_scores(dev, predicted, seen).items():
        print(f"  {kind:6s} entities {n:5d}: precision {p:.4f} recall {r:.4f} F1 {f:.4f}")
    tags = consistent_documents([s.tokens for s in dev], predicted, docs)
    metrics = evaluate_tags(gold, tags)
    p, r, f = (metrics[k] for k in ("precision", "recall", "f1"))
    print(f"with document-level consistency ({len(set(docs))} documents): F1 {f:.4f}")
    print(f"  precision {p:.4f} recall {r:.4f}")
    for kind, (n, p, r, f) in split_scores(dev, tags, seen).items():
        print(f"  {kind:6s} entities {n:5d}: precision {p:.4f} recall {r:.4f} F1 {f:.4f}")


if __name__ == "__main__":
    main()
