"""Issue 24 experiment: how a tagger does on entities it never saw, and what document-level
label consistency would add.

    python benchmarks/experiments/ner_generalisation.py [--model ner-conll2003]
        [--train TRAIN] [--data DEV]

Tags every sentence of `--data` alone (as `evaluate` does) and prints, entity by entity
(conlleval's counting: type and both ends right):

- precision, recall and F1 on the entities whose words occur as an entity (of any type) in
  `--train` ("seen") and on the others ("unseen"), counted on both sides: a gold entity for
  recall, a predicted one for precision. CoNLL-2003's test split holds more unseen entities than
  its dev split, which is why taggers lose 3-6 F1 points from one to the other;
- F1 after document-level label consistency, a post-processing step `pipelines.ner` does not
  do: within a document (`-DOCSTART-` to the next; a file without them is one document), (1) an
  entity string takes the type it was predicted with most often there, and (2) a run of tokens
  tagged O that equals a string predicted as an entity elsewhere in the document becomes that
  entity (each alone, then both).
"""

import argparse
import os
from collections import Counter, defaultdict

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pipelines import ner  # noqa: E402
from pipelines.data.conll import entity_spans, read_conll  # noqa: E402
from pipelines.data.files import read_lines  # noqa: E402
from pipelines.ner.inference import evaluate_tags, tag_texts  # noqa: E402


def documents(path, sentences):
    """The document number of each sentence: how many -DOCSTART- lines come before it."""
    starts = [n for n, line in enumerate(read_lines(path), 1) if line.startswith("-DOCSTART-")]
    return [sum(start < s.line for start in starts) for s in sentences]


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


def consistent(sentences, predicted, docs, retype=True, fill=True):
    """The predicted tags after document-level label consistency (see the module's doc)."""
    votes = defaultdict(Counter)
    for s, tags, doc in zip(sentences, predicted, docs):
        for kind, a, b in entity_spans(tags):
            votes[doc, tuple(s.tokens[a:b])][kind] += 1
    by_doc = defaultdict(list)
    for (doc, words), counter in votes.items():
        by_doc[doc].append((words, counter.most_common(1)[0][0]))
    result = []
    for s, tags, doc in zip(sentences, predicted, docs):
        tags = list(tags)
        if retype:
            for kind, a, b in entity_spans(tags):
                counter = votes[doc, tuple(s.tokens[a:b])]
                best, n = counter.most_common(1)[0]
                if best != kind and n > counter[kind]:
                    tags[a:b] = ["B-" + best] + ["I-" + best] * (b - a - 1)
        if fill:
            for words, kind in by_doc[doc]:
                n = len(words)
                for i in range(len(s.tokens) - n + 1):
                    free = all(t == "O" for t in tags[i : i + n])
                    ends = i + n == len(tags) or not tags[i + n].startswith("I-")
                    if free and ends and tuple(s.tokens[i : i + n]) == words:
                        tags[i : i + n] = ["B-" + kind] + ["I-" + kind] * (n - 1)
        result.append(tags)
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
    tagged = tag_texts(tagger.model, tagger.preprocessor, [s.tokens for s in dev])
    predicted = [tags for tags, _ in tagged]
    gold = [s.tags for s in dev]
    print(f"{args.model} on {args.data}: F1 {evaluate_tags(gold, predicted)['f1']:.4f}")
    for kind, (n, p, r, f) in split_scores(dev, predicted, seen).items():
        print(f"  {kind:6s} entities {n:5d}: precision {p:.4f} recall {r:.4f} F1 {f:.4f}")
    docs = documents(args.data, dev)
    print(f"document-level consistency ({len(set(docs))} documents):")
    variants = (("retype", True, False), ("fill", False, True), ("both", True, True))
    for name, retype, fill in variants:
        tags = consistent(dev, predicted, docs, retype, fill)
        metrics = evaluate_tags(gold, tags)
        p, r, f = (metrics[k] for k in ("precision", "recall", "f1"))
        print(f"  {name:6s}: precision {p:.4f} recall {r:.4f} F1 {f:.4f}")


if __name__ == "__main__":
    main()
