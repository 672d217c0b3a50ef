"""A Keras model zoo of recurrent networks: layers (`zoo.layers`) and ready architectures."""

__version__ = "0.1.0"
