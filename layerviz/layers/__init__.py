"""One module per layer; each gives a vectorized forward and a step-by-step trace."""

from layerviz.layers.batchnorm import BatchNorm1d, BatchNorm2d, BatchNormFrame, BatchNormTrace
from layerviz.layers.conv import Conv2d, ConvFrame, ConvTrace
from layerviz.layers.dropout import Dropout, DropoutFrame, DropoutTrace
from layerviz.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from layerviz.layers.activation import ActivationFrame, ActivationTrace, Identity, ReLU, Sigmoid, Softmax, Tanh
from layerviz.layers.dense import Dense
from layerviz.layers.embedding import Embedding, EmbeddingFrame, EmbeddingTrace
from layerviz.layers.linear import Linear, LinearFrame, LinearTrace
from layerviz.layers.sequential import Flatten, Sequential, SequentialFrame, SequentialTrace
from layerviz.layers._recurrent import RecurrentFrame, RecurrentTrace
from layerviz.layers.gru import GRU
from layerviz.layers.lstm import LSTM
from layerviz.layers.rnn import RNN

#: Every layer class; those with a ``_from_torch`` classmethod are what :func:`layerviz.from_torch` converts.
LAYERS = (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, BatchNorm1d, BatchNorm2d,
          Linear, Dense, Identity, ReLU, Sigmoid, Tanh, Softmax, Flatten, Sequential,
          RNN, LSTM, GRU)

__all__ = [
    "LAYERS",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormFrame",
    "BatchNormTrace",
    "Conv2d",
    "ConvFrame",
    "ConvTrace",
    "Dropout",
    "DropoutFrame",
    "DropoutTrace",
    "MaxPool2d",
    "ActivationFrame",
    "ActivationTrace",
    "Dense",
    "Embedding",
    "EmbeddingFrame",
    "EmbeddingTrace",
    "Flatten",
    "Identity",
    "Linear",
    "LinearFrame",
    "LinearTrace",
    "ReLU",
    "Sequential",
    "SequentialFrame",
    "SequentialTrace",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "GRU",
    "LSTM",
    "RNN",
    "RecurrentFrame",
    "RecurrentTrace",
]
