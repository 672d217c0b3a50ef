"""Tagging raw text: batches of similar lengths, long texts cut at sentence ends (or in
overlapping windows), entities with character offsets; entity-level metrics."""

import weakref

import numpy as np

PREDICT_WINDOW = 256  # tokens per window when predicting on a long text


_COMPILED = weakref.WeakKeyDictionary()


def _compiled(model):
    """`model.tags_and_probabilities` as a `tf.function` (one per model), for any batch shape."""
    import tensorflow as tf

    if model not in _COMPILED:
        spec = {
            "words": tf.TensorSpec([None, None], tf.int32),
            "chars": tf.TensorSpec([None, None, None], tf.int32),
        }
        if model.contextual_dim:
            spec["contextual"] = tf.TensorSpec([None, None, model.contextual_dim], tf.float32)
        _COMPILED[model] = tf.function(model.tags_and_probabilities, input_signature=[spec])
    return _COMPILED[model]


def _batches(vocabs, token_lists, batch_size, documents=None):
    """(indices, token lists, model inputs) of the non-empty `token_lists`, in batches of
    similar lengths; `documents`: each sentence's document, whose other sentences are its
    context for the contextual embeddings (see `ContextualEncoder.contexts`)."""
    from pipelines.data.batching import by_length, pad

    contexts = vocabs.contextual.contexts(token_lists, documents) if vocabs.contextual else None
    filled = [i for i, tokens in enumerate(token_lists) if tokens]
    for rows, chunk in by_length([token_lists[i] for i in filled], batch_size):
        encoded = [vocabs.encode(tokens) for tokens in chunk]
        words = pad([e["words"] for e in encoded])
        letters = max(e["chars"].shape[1] for e in encoded)
        chars = np.zeros(words.shape + (letters,), "int32")
        for row, e in enumerate(encoded):
            chars[row, : e["chars"].shape[0], : e["chars"].shape[1]] = e["chars"]
        inputs = {"words": words, "chars": chars}
        if vocabs.contextual is not None:
            around = [contexts[filled[i]] for i in rows] if contexts else None
            vectors = vocabs.contextual.embed(chunk, contexts=around)
            inputs["contextual"] = np.zeros(words.shape + (vocabs.contextual.dim,), "float32")
            for row, v in enumerate(vectors):
                inputs["contextual"][row, : len(v)] = v
        yield [filled[i] for i in rows], chunk, inputs


def _tags(vocabs, ids):
    return [vocabs.tags.token(int(t)) if t > 0 else "O" for t in ids]


def tag_batch(model, vocabs, token_lists, batch_size=64, marginals=False, documents=None):
    """Best tags and their probabilities (CRF marginals) for lists of tokens; with
    `marginals`, also each token's marginal probabilities of every tag id, (tokens, tags).
    `documents`: each sentence's document (the sentences of one document in order), for a
    tagger whose contextual embeddings read document context; None: each sentence alone."""
    empty = ([], [], np.zeros((0, len(vocabs.tags)), "float32")) if marginals else ([], [])
    results = [empty if not tokens else None for tokens in token_lists]
    for indices, chunk, inputs in _batches(vocabs, token_lists, batch_size, documents):
        best, probabilities = _compiled(model)(inputs)
        best, probabilities = best.numpy(), probabilities.numpy()
        for row, (i, tokens) in enumerate(zip(indices, chunk)):
            ids = best[row, : len(tokens)]
            probs = [float(probabilities[row, t, ids[t]]) for t in range(len(tokens))]
            results[i] = (_tags(vocabs, ids), probs)
            if marginals:
                results[i] += (probabilities[row, : len(tokens)],)
    return results


ENTITY_BIASES = tuple(b / 4 for b in range(-4, 17))  # -1 to 4 by 0.25


def fit_entity_bias(model, vocabs, sentences, biases=ENTITY_BIASES, batch_size=256, documents=None):
    """The entity bias (how much lower the O tag's score is made) with the best entity-level
    F1 on tagged `sentences`: the network's scores are computed once, and the best tags
    found again for each bias in `biases` (`documents`: as `tag_batch`'s). Returns `(bias,
    {bias: F1 metrics})`; ties go to the bias nearest 0.

    A tagger trained on little data in a new domain is often sure of the entities it finds
    and misses many (precision far above recall); a lower O score trades some of that
    precision for recall, a decision threshold fitted on dev data as a classifier's is."""
    import tensorflow as tf

    shift = np.zeros(len(vocabs.tags), "float32")
    shift[vocabs.tags.id("O")] = 1.0
    decode = tf.function(
        model.best_tags,
        input_signature=[
            tf.TensorSpec([None, None, len(vocabs.tags)], tf.float32),
            tf.TensorSpec([None, None], tf.bool),
        ],
    )
    scored = [  # the network runs once; each bias only decodes again
        (
            indices,
            chunk,
            tf.cast(model(inputs, training=False), "float32"),
            tf.constant(inputs["words"] > 0),
        )
        for indices, chunk, inputs in _batches(
            vocabs, [t for t, _ in sentences], batch_size, documents
        )
    ]
    gold = [tags for _, tags in sentences]
    table = {}
    for bias in biases:
        predicted = [[] for _ in sentences]
        for indices, chunk, scores, mask in scored:
            best = decode(scores - bias * shift, mask).numpy()
            for row, (i, tokens) in enumerate(zip(indices, chunk)):
                predicted[i] = _tags(vocabs, best[row, : len(tokens)])
        table[bias] = evaluate_tags(gold, predicted)
    best = max(biases, key=lambda b: (round(table[b]["f1"], 6), -abs(b)))
    return best, table


def lower_o_score(model, vocabs, bias):
    """Makes the O tag's score `bias` lower (in the bias of the layer that scores the tags),
    so that the saved model, its export and a model started from it all carry it."""
    for member in getattr(model, "members", [model]):  # an ensemble's scores: their mean
        layer = member.get_layer("tag_scores")
        kernel, offsets = layer.get_weights()
        offsets[vocabs.tags.id("O")] -= bias
        layer.set_weights([kernel, offsets])


SENTENCE_ENDS = {".", "!", "?"}


def sentence_pieces(tokens):
    """(start, end) pieces of a text's tokens: cut after sentence-ending punctuation, and
    after `PREDICT_WINDOW` tokens where no sentence ends."""
    pieces, start = [], 0
    for i, token in enumerate(tokens):
        if token in SENTENCE_ENDS or i - start + 1 >= PREDICT_WINDOW or i == len(tokens) - 1:
            pieces.append((start, i + 1))
            start = i + 1
    return pieces


def tag_texts(model, vocabs, token_lists, consistency=False):
    """(tags, scores) of texts of any length, as tokens. Each text is cut into
    `sentence_pieces`, and the pieces of all texts are tagged as one batched run; a longer
    stretch without a sentence end is tagged in windows overlapping by half (`_retag_long`).
    Each text is one document: the context of its pieces for contextual embeddings that read
    document context, and with `consistency`, for `consistency.consistent`, a changed tag
    scored by its own marginal probability."""
    from pipelines.ner.consistency import consistent

    pieces = [sentence_pieces(tokens) for tokens in token_lists]
    flat = [tokens[a:b] for tokens, spans in zip(token_lists, pieces) for a, b in spans]
    documents = [text for text, spans in enumerate(pieces) for _ in spans]
    tagged = iter(tag_batch(model, vocabs, flat, marginals=True, documents=documents))
    results = []
    for tokens, spans in zip(token_lists, pieces):
        tags, scores, rows = [], [], []
        for _ in spans:
            piece_tags, piece_scores, piece_rows = next(tagged)
            tags += piece_tags
            scores += piece_scores
            rows += list(piece_rows)
        if any(b - a >= PREDICT_WINDOW for a, b in spans):
            _retag_long(model, vocabs, tokens, tags, scores, rows)
        if consistency:
            changed = consistent([tokens], [tags])[0]
            for t, (old, new) in enumerate(zip(tags, changed)):
                if new != old:
                    scores[t] = float(rows[t][vocabs.tags.id(new)])
            tags = changed
        results.append((tags, scores))
    return results


def _retag_long(model, vocabs, tokens, tags, scores, rows):
    """Re-tags (in place) each stretch of over `PREDICT_WINDOW` tokens without a sentence end
    in windows overlapping by half, each token taken from the window where it is most
    central, with each cut moved past the end of an entity so that entities stay whole (each
    window read alone, without document context)."""
    stretches, start = [], 0
    for i, token in enumerate(tokens):
        if token in SENTENCE_ENDS or i == len(tokens) - 1:
            if i + 1 - start > PREDICT_WINDOW:
                stretches.append((start, i + 1))
            start = i + 1
    for a, b in stretches:
        step = PREDICT_WINDOW // 2
        starts = list(range(a, max(a + 1, b - PREDICT_WINDOW + step), step))
        windows = tag_batch(
            model, vocabs, [tokens[s : s + PREDICT_WINDOW] for s in starts], marginals=True
        )
        position = a
        for k, (s, (w_tags, w_scores, w_rows)) in enumerate(zip(starts, windows)):
            end = min(b, s + len(w_tags))
            cut = end if k == len(starts) - 1 else min(end, s + step + step // 2)
            while cut < end and w_tags[cut - s].startswith("I-"):
                cut += 1  # keep an entity that runs over the cut whole
            for t in range(position, cut):
                tags[t], scores[t], rows[t] = w_tags[t - s], w_scores[t - s], w_rows[t - s]
            if position < cut and tags[position].startswith("I-") and k > 0:
                tags[position] = "B-" + tags[position][2:]
            position = max(position, cut)


def annotate(texts, model, vocabs, consistency=True):
    """The predictions for raw texts: tokens, tags and entities with character offsets (each
    text one document for label consistency, unless `consistency` is false)."""
    from pipelines.text import word_tokenize

    tokenized = [word_tokenize(text) for text in texts]
    token_lists = [[t.text for t in tokens] for tokens in tokenized]
    tagged = tag_texts(model, vocabs, token_lists, consistency)
    return [
        record(text, tokens, tags, scores)
        for text, tokens, (tags, scores) in zip(texts, tokenized, tagged)
    ]


def record(text, tokens, tags, scores):
    """What `predict` says of one text: its tokens, tags and entities."""
    from pipelines.data import entity_spans

    entities = []
    for kind, first, last in entity_spans(tags):
        start, end = tokens[first].start, tokens[last - 1].end
        entities.append(
            {
                "text": text[start:end],
                "type": kind,
                "start": start,
                "end": end,
                "score": round(float(np.mean(scores[first:last])), 4),
            }
        )
    return {"text": text, "tokens": [t.text for t in tokens], "tags": tags, "entities": entities}


def marked(record):
    """The text with entities marked in place: `[Teddy Roosevelt]PER was ...`."""
    text, out, at = record["text"], [], 0
    for entity in record["entities"]:
        out += [text[at : entity["start"]], f"[{entity['text']}]{entity['type']}"]
        at = entity["end"]
    return "".join(out + [text[at:]])


def evaluate_tags(gold, predicted):
    """Entity-level precision, recall, F1 (seqeval's default mode, the one conlleval uses),
    overall (micro-averaged) and per type."""
    from seqeval.metrics import classification_report

    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    micro = report["micro avg"]
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "per_type": {
            kind: {
                "precision": float(r["precision"]),
                "recall": float(r["recall"]),
                "f1": float(r["f1-score"]),
                "support": int(r["support"]),
            }
            for kind, r in sorted(report.items())
            if not kind.endswith(" avg")
        },
        "sentences": len(gold),
    }


def evaluate_model(model, vocabs, sentences, documents=None, consistency=True):
    """`evaluate_tags` of the model's tags for (tokens, tags) `sentences`; with `documents`
    (each sentence's document), read in their documents (`tag_batch`) and, with
    `consistency`, after label consistency within each document."""
    from pipelines.ner.consistency import consistent_documents

    token_lists = [tokens for tokens, _ in sentences]
    tagged = tag_batch(model, vocabs, token_lists, batch_size=256, documents=documents)
    predicted = [t for t, _ in tagged]
    if documents is not None and consistency:
        predicted = consistent_documents(token_lists, predicted, documents)
    return evaluate_tags([tags for _, tags in sentences], predicted)
