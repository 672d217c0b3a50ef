"""The zoo's recurrent layers: cells, sequence layers, bidirectional and deep RNNs, interop."""

from zoo.layers.bidirectional import Bidirectional
from zoo.layers.gru import GRU, GRUCell
from zoo.layers.interop import from_keras, to_keras
from zoo.layers.lstm import LSTM, LSTMCell
from zoo.layers.recurrent import Recurrent
from zoo.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from zoo.layers.stacked import StackedRNN

__all__ = [
    "GRU",
    "LSTM",
    "Bidirectional",
    "GRUCell",
    "LSTMCell",
    "Recurrent",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNN",
    "from_keras",
    "to_keras",
]
