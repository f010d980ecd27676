"""layerviz: see what a neural-network layer does, one step at a time.

>>> import layerviz as lv
>>> conv = lv.Conv2d(1, 1, kernel_size=3, rng=0)
>>> trace = conv.frames(x)          # x: (C, H, W)
>>> trace[5].narration              # 'out[0,0,5] = 0.12×(-0.30) + … = 0.41'
>>> trace.player()                  # animate it in the browser
"""

from layerviz.layers import (
    GRU,
    LSTM,
    RNN,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from layerviz.graph import Graph
from layerviz.losses import CrossEntropyLoss, MSELoss
from layerviz.torch_interop import from_torch
from layerviz.trace import Trace

__all__ = [
    "GRU", "LSTM", "RNN", "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Dense", "Dropout",
    "Flatten", "Identity", "Linear", "MaxPool2d", "MSELoss", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "Trace",
    "from_torch", "Embedding", "Graph",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    """Import the widget and drawing rooms only when used, so the engine needs neither."""
    if name in ("ui", "mpl", "data", "player"):
        import importlib

        return importlib.import_module(f"layerviz.{name}")
    raise AttributeError(f"module 'layerviz' has no attribute {name!r}")
