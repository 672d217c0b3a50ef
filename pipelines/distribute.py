"""Distribution and precision for every `train`: TensorFlow's own `tf.distribute` strategies and
Keras mixed-precision policies, chosen by name.

- `default`: one device (TensorFlow's default strategy).
- `mirrored`: `tf.distribute.MirroredStrategy` over all local GPUs or, on a machine without
  one, over `cpu_replicas` logical CPU devices (how the path is exercised without GPUs).
- `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`, configured by the standard
  `TF_CONFIG` variable; the chief (task `chief`, or `worker` 0 when there is none) writes the
  model, the other workers write to a private temporary folder.

The global batch size is the batch size the user gives: each replica computes its share, the
gradients are summed over replicas after each replica's loss was divided by their number, so the
step, the learning rate and the checkpoints are those of one device on the same global batch.
"""

import json
import os

STRATEGIES = ("default", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def configure_cpu_replicas(count):
    """Splits the CPU into `count` logical devices. Must run before TensorFlow creates its
    devices (before the first op); the command-line option does it as it is parsed."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as error:  # devices already initialised
        raise RuntimeError(
            f"cannot split the CPU into {count} devices after TensorFlow started: {error}"
        ) from None


def make_strategy(name="default", cpu_replicas=None):
    """The `tf.distribute.Strategy` called `name` (see the module's docstring)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    if cpu_replicas:
        configure_cpu_replicas(cpu_replicas)
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy(
        [d.name for d in cpus], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


def is_chief():
    """Whether this process writes models: always, except for a multi-worker task other than
    the chief (`TF_CONFIG`'s `chief`, or `worker` 0 when the cluster has no chief)."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    kind, index = task.get("type"), int(task.get("index", 0))
    if kind is None:
        return True
    if kind == "chief":
        return True
    has_chief = bool((config.get("cluster") or {}).get("chief"))
    return kind == "worker" and index == 0 and not has_chief


def set_precision(policy="float32"):
    """Keras's global dtype policy for the layers built from now on (`mixed_float16` and
    `mixed_bfloat16` compute in half precision and keep float32 weights; the zoo's losses,
    softmaxes and CRF compute in float32 whatever the policy)."""
    import keras

    if policy not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {policy!r}")
    keras.config.set_dtype_policy(policy)
