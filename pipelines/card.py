"""`card.json`: what a model folder says about itself (DESIGN: model folders)."""

import os
import platform

from pipelines.io import sha256


def describe_source(source):
    """Name, and for a local file its path and sha256."""
    if os.path.isfile(str(source)):
        return {"name": os.path.basename(source), "path": str(source), "sha256": sha256(source)}
    return {"name": str(source)}


def machine():
    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            ]
        processor = names[0] if names else processor
    except OSError:
        pass
    return {"platform": platform.platform(), "processor": processor, "cpus": os.cpu_count()}


def versions():
    import keras
    import tensorflow as tf

    import zoo

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "zoo": zoo.__version__,
    }


def describe_run(
    task, model, architecture, sizes, train_sources, dev_source, result, command, extra=None
):
    """The card of a model just trained: `command` is what reproduces it (the command line,
    or the Python call, that trained it)."""
    best = {k: v for k, v in (result.get("best") or {}).items() if k != "value"}
    return {
        "task": task,
        "architecture": architecture,
        "sizes": sizes,
        "parameters": int(model.count_params()),
        "data": {
            "train": [describe_source(s) for s in train_sources],
            "dev": describe_source(dev_source) if dev_source else None,
        },
        # the command that reproduces the model (a --resume continues the same command)
        "command": command,
        "dev_metrics": best,
        "epochs": result.get("epochs"),
        "best_epoch": result.get("best_epoch"),
        # [first, last] epoch when the model kept is the mean of their weights (--average)
        "best_averaged": result.get("best_averaged"),
        # the epochs' own time (dev evaluation excluded), summed over interrupted runs
        "training_seconds": round(sum(h.get("seconds", 0) for h in result.get("history", [])), 1),
        "epoch_seconds": [h.get("seconds") for h in result.get("history", [])],
        "machine": machine(),
        "versions": versions(),
        **(extra or {}),
    }
