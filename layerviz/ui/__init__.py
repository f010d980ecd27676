"""Explorers: ipywidgets controls wired to a layer and the browser player."""

from layerviz.ui.conv import conv_explorer
from layerviz.ui.explorer import Explorer

__all__ = ["Explorer", "conv_explorer"]
