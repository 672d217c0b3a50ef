"""`zoo.available()` and `zoo.load()` find model folders by name or path."""

import keras
import pytest

import zoo
from zoo import registry


def make_model_folder(folder):
    folder.mkdir(parents=True)
    model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2)])
    model.save(folder / "model.keras")
    return model


def test_names_and_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_MODELS", str(tmp_path))
    make_model_folder(tmp_path / "tiny")
    (tmp_path / "not-a-model").mkdir()
    assert zoo.available() == ["tiny"]
    assert registry.model_dir("tiny") == tmp_path / "tiny"
    assert registry.model_dir(str(tmp_path / "tiny")) == tmp_path / "tiny"
    assert zoo.load("tiny").count_params() == 8


def test_unknown_name_lists_the_available_models(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_MODELS", str(tmp_path))
    make_model_folder(tmp_path / "tiny")
    with pytest.raises(FileNotFoundError, match="available: tiny"):
        registry.model_dir("no-such-model")
