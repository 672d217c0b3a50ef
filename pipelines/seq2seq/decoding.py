"""Decoding (greedy, beam search, through a reranker), the metrics, attention plots."""

import os
import re

import numpy as np

from pipelines.seq2seq.data import references
from pipelines.seq2seq.preprocess import Seq2SeqPreprocessor

ASCII_SPACE = " \t\n\v\f\r"  # what the export's tf.strings.strip removes


def max_output_length(source_length):
    """How many tokens a decoder may write for an input of `source_length` tokens."""
    return 2 * source_length + 10


def decode(model, sides, texts, beam=1, batch_size=256, network_only=False):
    """(output text, score) per text: greedy (`beam` 1) or beam search; the score is the
    mean log-probability per output token (`<EOS>` included); an empty or blank text has the
    empty output, score 0.0. A model folder with a lexicon and reranking weights
    (`pipelines.seq2seq.rerank`) answers through them unless `network_only`."""
    results = [("", 0.0)] * len(texts)  # an empty (or blank) input has an empty output
    filled = [i for i, text in enumerate(texts) if text.strip(ASCII_SPACE)]
    texts = [texts[i] for i in filled]
    if not texts:
        decoded = []
    elif sides.reranker is not None and not network_only:
        decoded = sides.reranker.decode(model, sides, texts, beam, batch_size)
    elif beam == 1:
        decoded = _greedy(model, sides, texts, batch_size)
    else:
        decoded = [found[0] for found in nbest(model, sides, texts, beam, batch_size)]
    for i, result in zip(filled, decoded):
        results[i] = result
    return results


def _batches(sides, texts, batch_size):
    """(indices, padded source ids, output length limit) of batches of similar lengths."""
    from pipelines.data.batching import by_length, pad

    for rows, chunk in by_length([sides.encode_source(t) for t in texts], batch_size):
        x = pad(chunk)
        yield rows, x, max_output_length(x.shape[1])


def nbest(model, sides, texts, beam, batch_size=256):
    """The `beam` candidates of a beam search per text, best first: (output text, mean
    log-probability per token) pairs."""
    import tensorflow as tf

    bos, eos = sides.target_vocab.bos_id, sides.target_vocab.eos_id
    results = [None] * len(texts)
    for chunk, x, limit in _batches(sides, texts, max(1, batch_size // beam)):
        found = model.beam_search(tf.constant(x), bos, eos, limit, beam=beam, banned=sides.banned)
        for row, i in enumerate(chunk):
            results[i] = [(sides.decode(ids), score) for ids, score in found[row]]
    return results


def _greedy(model, sides, texts, batch_size):
    import tensorflow as tf

    bos, eos = sides.target_vocab.bos_id, sides.target_vocab.eos_id
    results = [None] * len(texts)
    greedy = tf.function(model.greedy, reduce_retracing=True)
    for chunk, x, limit in _batches(sides, texts, batch_size):
        tokens, total, lengths, _ = greedy(
            tf.constant(x), bos, eos, tf.constant(limit), banned=tuple(sides.banned)
        )
        tokens, total, lengths = tokens.numpy(), total.numpy(), lengths.numpy()
        for row, i in enumerate(chunk):
            results[i] = (
                sides.decode(tokens[row, : lengths[row]]),
                float(total[row] / (lengths[row] + 1)),
            )
    return results


def edit_distance(a, b):
    """Levenshtein distance between two sequences."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


ARPABET = re.compile(r"[A-Z]+[0-2]?")  # a phoneme, with its stress digit on vowels
STRESS = re.compile(r"(?<=[A-Z])[0-2](?=\s|$)")


def has_stress(refs, level):
    """The targets are ARPAbet phonemes with stress digits (CMUdict's): space-separated
    upper-case symbols, some ending in 0, 1 or 2."""
    if level != "space":
        return False
    phonemes = [p for options in refs for r in options for p in r.split()]
    digits = any(p[-1].isdigit() for p in phonemes)
    return digits and all(ARPABET.fullmatch(p) for p in phonemes)


def strip_stress(text):
    """ARPAbet without stress digits: "AH0 B AW1 T" -> "AH B AW T"."""
    return STRESS.sub("", text)


def _errors(outputs, refs, level):
    """(outputs equal to one of their references, token edits against the closest
    reference, that reference's length) summed over the examples."""
    exact, errors, length = 0, 0, 0
    split = Seq2SeqPreprocessor.split
    for output, options in zip(outputs, refs):
        exact += output in options
        hyp = split(output, level)
        best = min((edit_distance(hyp, split(r, level)), len(split(r, level))) for r in options)
        errors += best[0]
        length += best[1]
    return exact, errors, length


def seq2seq_metrics(outputs, refs, level):
    """`exact` (share of outputs equal to one of their references), `per` (token edit distance
    over reference length, against the closest reference), `wer` (for word-level targets the
    word error rate, which is `per` over words; otherwise the share of outputs not exactly
    right, as G2P papers report it), `bleu` (sacrebleu, word-level targets), and for ARPAbet
    targets with stress digits `wer_no_stress` and `per_no_stress` (the digits removed from
    outputs and references before comparing, as most published G2P figures are)."""
    n = max(len(outputs), 1)
    exact, errors, length = _errors(outputs, refs, level)
    metrics = {"exact": exact / n, "per": errors / max(length, 1), "examples": len(outputs)}
    metrics["wer"] = metrics["per"] if level == "word" else 1 - metrics["exact"]
    if has_stress(refs, level):
        plain = [[strip_stress(r) for r in options] for options in refs]
        exact, errors, length = _errors([strip_stress(o) for o in outputs], plain, level)
        metrics["wer_no_stress"] = 1 - exact / n
        metrics["per_no_stress"] = errors / max(length, 1)
    if level == "word":
        import sacrebleu

        depth = max(len(r) for r in refs)
        streams = [[r[k] if k < len(r) else r[0] for r in refs] for k in range(depth)]
        metrics["bleu"] = sacrebleu.corpus_bleu(outputs, streams).score
    keys = ("wer", "per", "exact", "wer_no_stress", "per_no_stress", "bleu", "examples")
    return {k: metrics[k] for k in keys if k in metrics}


def evaluate_model(model, sides, examples, beam=1, network_only=False):
    sources, refs = references(examples)
    outputs = [text for text, _ in decode(model, sides, sources, beam, network_only=network_only)]
    return seq2seq_metrics(outputs, refs, sides.target_level)


def attention_weights(model, sides, text, output):
    """α (output tokens + `<EOS>`, input tokens) of the decoder writing `output` for `text`."""
    import tensorflow as tf

    source = tf.constant(sides.encode_source(text)[None])
    target = np.r_[sides.target_vocab.bos_id, sides.encode_target(output)].astype("int32")
    values, keys, mask, states = model.encode(source)
    _, _, alpha = model.decode(tf.constant(target[None]), values, keys, mask, states)
    return alpha[0].numpy()


def draw_attention(path, weights, source_pieces, target_pieces):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        figsize=(max(4, 0.45 * len(source_pieces) + 1.5), max(3, 0.4 * len(target_pieces) + 1))
    )
    axes.imshow(weights, cmap="viridis", aspect="auto", vmin=0, vmax=1)
    axes.set_xticks(range(len(source_pieces)), source_pieces)
    axes.set_yticks(range(len(target_pieces)), target_pieces)
    axes.set_xlabel("input")
    axes.set_ylabel("output")
    figure.tight_layout()
    tmp = f"{path}.tmp{os.getpid()}.png"
    figure.savefig(tmp, dpi=120)
    plt.close(figure)
    os.replace(tmp, path)


def plot_attention(model, sides, text, output, path):
    """Draws the attention weights of the decoder writing `output` for `text` (PNG)."""
    shown = lambda p: "\u2423" if p == " " else p  # noqa: E731  (a visible space)
    unk = sides.source_vocab.unk_id
    source_pieces = [
        shown(p) if sides.source_vocab.id(p) != unk else "<UNK>"
        for p in Seq2SeqPreprocessor.split(text, sides.source_level)
    ] or ["<UNK>"]
    target_pieces = [shown(p) for p in Seq2SeqPreprocessor.split(output, sides.target_level)]
    weights = attention_weights(model, sides, text, output)
    draw_attention(path, weights, source_pieces, target_pieces + ["<EOS>"])
