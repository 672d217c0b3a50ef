"""Loss helpers shared by the zoo's models that compute their own loss."""

import tensorflow as tf


def per_replica(loss):
    """A replica's loss as Keras's own losses give it under a `tf.distribute` strategy:
    divided by the number of replicas in sync, so that the gradients summed over the replicas
    equal one device's on the whole global batch (Keras logs the loss multiplied back)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss
