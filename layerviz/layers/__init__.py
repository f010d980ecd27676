"""One module per layer; each gives a vectorized forward and a step-by-step trace.

Names are imported on first use (``from layerviz.layers import Conv2d`` loads the convolution only).
"""

from __future__ import annotations

import importlib
from typing import Any

#: Each name and the module of this package that defines it.
_NAMES = {
    **dict.fromkeys(("AttentionFrame", "AttentionTrace", "attention_frames", "scaled_dot_product_attention"),
                    "attention"),
    **dict.fromkeys(("BatchNorm1d", "BatchNorm2d", "BatchNormFrame", "BatchNormTrace"), "batchnorm"),
    **dict.fromkeys(("Conv2d", "ConvFrame", "ConvTrace"), "conv"),
    **dict.fromkeys(("Dropout", "DropoutFrame", "DropoutTrace"), "dropout"),
    **dict.fromkeys(("MaxPool2d",), "max_pool"),
    **dict.fromkeys(("AvgPool2d",), "avg_pool"),
    **dict.fromkeys(("AdaptiveAvgPool2d",), "adaptive_pool"),
    **dict.fromkeys(("ActivationFrame", "ActivationTrace", "Identity", "ReLU", "Sigmoid", "Softmax", "Tanh"),
                    "activation"),
    **dict.fromkeys(("GELU",), "gelu"),
    **dict.fromkeys(("LayerNorm", "LayerNormFrame", "LayerNormTrace"), "layernorm"),
    **dict.fromkeys(("Dense",), "dense"),
    **dict.fromkeys(("Embedding", "EmbeddingFrame", "EmbeddingTrace"), "embedding"),
    **dict.fromkeys(("Linear", "LinearFrame", "LinearTrace"), "linear"),
    **dict.fromkeys(("MultiheadAttention",), "multihead_attention"),
    **dict.fromkeys(("Flatten", "Sequential", "SequentialFrame", "SequentialTrace"), "sequential"),
    **dict.fromkeys(("RecurrentFrame", "RecurrentTrace"), "_recurrent"),
    **dict.fromkeys(("GRU",), "gru"),
    **dict.fromkeys(("LSTM",), "lstm"),
    **dict.fromkeys(("RNN",), "rnn"),
}

#: Every layer class (by name); those with a ``_from_torch`` classmethod are what :func:`layerviz.from_torch`
#: converts. ``LAYERS`` is the tuple of the classes themselves.
LAYER_NAMES = ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Dropout", "BatchNorm1d", "BatchNorm2d",
               "LayerNorm", "Linear", "Dense", "Identity", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "Flatten",
               "Sequential", "RNN", "LSTM", "GRU")

__all__ = ["LAYERS", *sorted(_NAMES)]


def __getattr__(name: str) -> Any:
    if name == "LAYERS":
        value: Any = tuple(__getattr__(n) for n in LAYER_NAMES)
    elif name in _NAMES:
        value = getattr(importlib.import_module(f"layerviz.layers.{_NAMES[name]}"), name)
    else:
        raise AttributeError(f"module 'layerviz.layers' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
