"""Classifying texts, and the metrics."""

import numpy as np


def probabilities(model, preprocessor, texts, batch_size=128):
    """Class probabilities (len(texts), classes), batches of similar lengths."""
    import tensorflow as tf

    from pipelines.data.batching import by_length, pad

    encoded = [preprocessor.encode(t) for t in texts]
    out = np.zeros((len(texts), len(preprocessor.labels)), "float32")
    run = tf.function(lambda x: tf.nn.softmax(model(x, training=False)), reduce_retracing=True)
    for rows, chunk in by_length(encoded, batch_size):
        out[rows] = run(tf.constant(pad(chunk))).numpy()
    return out


def classification_metrics(gold, predicted, num_classes):
    """Accuracy, and macro-averaged F1 when there are more than two classes."""
    gold, predicted = np.asarray(gold), np.asarray(predicted)
    metrics = {"accuracy": float((gold == predicted).mean()), "examples": int(gold.size)}
    if num_classes > 2:
        f1s = []
        for c in range(num_classes):
            tp = np.sum((predicted == c) & (gold == c))
            fp, fn = np.sum((predicted == c) & (gold != c)), np.sum((predicted != c) & (gold == c))
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        metrics["macro_f1"] = float(np.mean(f1s))
    return metrics
