"""How long a tagger takes to `predict` a long text and to `evaluate` a CoNLL file, as a user
runs them (the model loaded once; each timed call as the command line makes it).

    python benchmarks/ner_speed.py --model ner-conll2003 \
        --data ../shared/data/conll2003/valid.txt --tokens 20000 [--export]

The text is the data file's sentences detokenised into paragraphs of ten sentences, cut at
`--tokens` tokens: running text, as `predict` gets it. With `--export`, the model is also
exported and its `serving_default` timed on the same text as one string (after a first call
on a short one), and its tags compared with `predict`'s. Prints one JSON object.
"""

import argparse
import json
import os
import platform
import tempfile
import time


def long_text(sentences, tokens):
    words, paragraphs, paragraph = 0, [], []
    for sentence in sentences:
        if words >= tokens:
            break
        take = list(sentence[0])[: tokens - words]
        paragraph.append(" ".join(take))
        words += len(take)
        if len(paragraph) == 10:
            paragraphs.append(" ".join(paragraph))
            paragraph = []
    paragraphs.append(" ".join(paragraph))
    return "\n\n".join(p for p in paragraphs if p)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="ner-conll2003")
    parser.add_argument("--data", required=True, help="a CoNLL file: evaluated, and the text")
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--export", action="store_true", help="time the SavedModel export too")
    args = parser.parse_args(argv)

    from pipelines import ner
    from pipelines.ner.data import read_tagged

    started = time.perf_counter()
    tagger = ner.load(args.model)
    loaded = time.perf_counter() - started
    text = long_text(read_tagged(args.data), args.tokens)

    started = time.perf_counter()
    result = tagger.predict([text])[0]
    predict_seconds = time.perf_counter() - started

    started = time.perf_counter()
    metrics = tagger.evaluate(args.data)
    evaluate_seconds = time.perf_counter() - started
    served = served_speed(tagger, text, result["tags"]) if args.export else {}
    print(
        json.dumps(
            {
                **served,
                "model": args.model,
                "load_s": round(loaded, 1),
                "predict_tokens": len(result["tokens"]),
                "predict_s": round(predict_seconds, 1),
                "evaluate_data": args.data,
                "evaluate_f1": round(metrics["f1"], 4),
                "evaluate_s": round(evaluate_seconds, 1),
                "cpus": os.cpu_count(),
                "machine": platform.processor() or platform.machine(),
            }
        )
    )


def served_speed(tagger, text, tags):
    """{"served_s", "served_agrees"}: the export's time on `text` and whether its tags are
    `tags` (what `predict` gave)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder:
        tagger.export(folder)
        serve = tf.saved_model.load(folder).signatures["serving_default"]
        serve(texts=tf.constant([text[:2000]]))  # the first call traces the graph
        started = time.perf_counter()
        outputs = serve(texts=tf.constant([text]))
        seconds = time.perf_counter() - started
    n = int(outputs["lengths"][0])
    served = [t.decode() for t in outputs["tags"].numpy()[0][:n]]
    return {"served_s": round(seconds, 1), "served_agrees": served == tags}


if __name__ == "__main__":
    main()
