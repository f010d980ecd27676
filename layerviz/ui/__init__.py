"""Explorers: ipywidgets controls wired to a layer and the browser player."""

from layerviz.ui.batchnorm import batchnorm_explorer
from layerviz.ui.conv import conv_explorer
from layerviz.ui.dropout import dropout_explorer
from layerviz.ui.explorer import Explorer
from layerviz.ui.linear import linear_explorer
from layerviz.ui.lstm import lstm_explorer
from layerviz.ui.network import cnn_explorer, network_explorer
from layerviz.ui.pooling import pool_comparison, pooling_explorer
from layerviz.ui.rnn import rnn_explorer
from layerviz.ui.your_model import your_model_explorer

__all__ = [
    "Explorer", "batchnorm_explorer", "cnn_explorer", "conv_explorer", "dropout_explorer", "linear_explorer",
    "lstm_explorer", "network_explorer", "pool_comparison", "pooling_explorer", "rnn_explorer",
    "your_model_explorer",
]
