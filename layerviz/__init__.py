"""layerviz: see what a neural-network layer does, one step at a time.

>>> import layerviz as lv
>>> conv = lv.Conv2d(1, 1, kernel_size=3, rng=0)
>>> trace = conv.frames(x)          # x: (C, H, W)
>>> trace[5].narration              # 'out[0,0,5] = 0.12×(-0.30) + … = 0.41'
>>> trace.player()                  # animate it in the browser

The package's edge: every name below is imported the first time it is used (``lv.Conv2d`` loads the
convolution and what it stands on, not the recurrent layers, the graph or matplotlib), so a page's kernel
pays only for what the page shows. The views of a trace (``trace.player()``, ``trace.show()``,
``trace.save()``) are named here too: the engine never imports the rooms above it.
"""

from __future__ import annotations

import importlib
from typing import Any

from layerviz import views as _views

#: Each public name and the module that defines it.
_NAMES = {
    **dict.fromkeys(("Conv2d",), "layerviz.layers.conv"),
    **dict.fromkeys(("attention_frames", "scaled_dot_product_attention"), "layerviz.layers.attention"),
    **dict.fromkeys(("MaxPool2d",), "layerviz.layers.max_pool"),
    **dict.fromkeys(("AvgPool2d",), "layerviz.layers.avg_pool"),
    **dict.fromkeys(("AdaptiveAvgPool2d",), "layerviz.layers.adaptive_pool"),
    **dict.fromkeys(("BatchNorm1d", "BatchNorm2d"), "layerviz.layers.batchnorm"),
    **dict.fromkeys(("Dropout",), "layerviz.layers.dropout"),
    **dict.fromkeys(("LayerNorm",), "layerviz.layers.layernorm"),
    **dict.fromkeys(("GELU",), "layerviz.layers.gelu"),
    **dict.fromkeys(("Identity", "ReLU", "Sigmoid", "Softmax", "Tanh"), "layerviz.layers.activation"),
    **dict.fromkeys(("Dense",), "layerviz.layers.dense"),
    **dict.fromkeys(("Embedding",), "layerviz.layers.embedding"),
    **dict.fromkeys(("Linear",), "layerviz.layers.linear"),
    **dict.fromkeys(("MultiheadAttention",), "layerviz.layers.multihead_attention"),
    **dict.fromkeys(("Flatten", "Sequential"), "layerviz.layers.sequential"),
    **dict.fromkeys(("RNN",), "layerviz.layers.rnn"),
    **dict.fromkeys(("LSTM",), "layerviz.layers.lstm"),
    **dict.fromkeys(("GRU",), "layerviz.layers.gru"),
    **dict.fromkeys(("Graph",), "layerviz.graph"),
    **dict.fromkeys(("CrossEntropyLoss", "MSELoss"), "layerviz.losses"),
    **dict.fromkeys(("from_torch",), "layerviz.torch_interop"),
    **dict.fromkeys(("Trace",), "layerviz.trace"),
}

#: The rooms reached as ``lv.ui``, ``lv.mpl``, ``lv.data``, ``lv.player``.
_ROOMS = ("ui", "mpl", "data", "player")

__all__ = sorted(_NAMES)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use, and keep the name here (later uses cost nothing)."""
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _ROOMS:
        value = importlib.import_module(f"layerviz.{name}")
    else:
        raise AttributeError(f"module 'layerviz' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_NAMES, *_ROOMS})


def _player():
    from layerviz.player import Player

    return Player


def _figure():
    from layerviz.mpl import draw_frame

    return draw_frame


def _file():
    from layerviz.mpl import save

    return save


_views.VIEWS.update(player=_player, figure=_figure, file=_file)
