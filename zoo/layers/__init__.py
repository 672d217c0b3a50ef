"""The zoo's layers: recurrent cells and sequence layers, bidirectional and deep RNNs, the CRF,
attention, contextual string embeddings, AWD-LSTM's dropouts, and weight exchange with
`keras.layers`."""

from zoo.layers.attention import AdditiveAttention, MultiplicativeAttention
from zoo.layers.bidirectional import Bidirectional
from zoo.layers.contextual import ContextualCharEmbedding
from zoo.layers.crf import CRF
from zoo.layers.gru import GRU, GRUCell
from zoo.layers.interop import from_keras, to_keras
from zoo.layers.lstm import LSTM, LSTMCell
from zoo.layers.recurrent import Recurrent
from zoo.layers.regularization import Embedding, LockedDropout
from zoo.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from zoo.layers.stacked import StackedRNN

__all__ = [
    "AdditiveAttention",
    "MultiplicativeAttention",
    "GRU",
    "LSTM",
    "CRF",
    "Bidirectional",
    "ContextualCharEmbedding",
    "Embedding",
    "LockedDropout",
    "GRUCell",
    "LSTMCell",
    "Recurrent",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNN",
    "from_keras",
    "to_keras",
]
