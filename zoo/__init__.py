"""A Keras model zoo of recurrent networks: layers (`zoo.layers`) and ready architectures."""

from zoo.registry import available, load

__version__ = "0.1.0"

__all__ = ["available", "load"]
