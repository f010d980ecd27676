"""Explorers: ipywidgets controls wired to a layer and the browser player."""

from layerviz.ui.batchnorm import batchnorm_explorer
from layerviz.ui.conv import conv_explorer
from layerviz.ui.dropout import dropout_explorer
from layerviz.ui.explorer import Explorer
from layerviz.ui.pooling import pool_comparison, pooling_explorer

__all__ = ["Explorer", "batchnorm_explorer", "conv_explorer", "dropout_explorer", "pool_comparison", "pooling_explorer"]
