"""The pretrained models shipped in `saved_models/`: `zoo.available()`, `zoo.load(name_or_path)`.

A model is a folder holding `model.keras` (and the vocabularies its task needs, read by
`pipelines`). Names are folder names under the models root: `saved_models/` beside the `zoo`
package in a source checkout, or the folder named by the `ZOO_MODELS` environment variable.
"""

import os
from pathlib import Path


def models_root():
    """The folder the shipped models live in."""
    configured = os.environ.get("ZOO_MODELS")
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "saved_models"


def available():
    """Names of the shipped models (folders with a `model.keras`), sorted."""
    root = models_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "model.keras").is_file())


def model_dir(name_or_path):
    """The folder of a model: a path to a model folder, or a shipped model's name.

    Raises:
        FileNotFoundError: neither, with the available names in the message.
    """
    path = Path(name_or_path)
    if (path / "model.keras").is_file():
        return path
    if (
        os.sep not in str(name_or_path)
        and (models_root() / str(name_or_path) / "model.keras").is_file()
    ):
        return models_root() / str(name_or_path)
    names = ", ".join(available()) or "none shipped"
    raise FileNotFoundError(f"no such model (a model folder holds model.keras); available: {names}")


def load(name_or_path, compile=False):
    """The Keras model of a shipped model's name or a model folder, loaded in safe mode."""
    import keras

    import zoo.layers  # noqa: F401  (registers the zoo's layers for deserialisation)
    import zoo.models  # noqa: F401

    path = model_dir(name_or_path) / "model.keras"
    return keras.saving.load_model(path, compile=compile, safe_mode=True)
