"""Explorers: ipywidgets controls wired to a layer and the browser player.

Names and modules are imported on first use (``lv.ui.conv_explorer()`` loads the convolution's explorer, not the
recurrent layers'), so that a page's kernel imports what the page shows.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

#: Each explorer and the module of this package that defines it.
_NAMES = {
    "Explorer": "explorer",
    "batchnorm_explorer": "batchnorm",
    "cnn_explorer": "network",
    "conv_explorer": "conv",
    "dropout_explorer": "dropout",
    "gru_explorer": "gru",
    "linear_explorer": "linear",
    "lstm_explorer": "lstm",
    "network_explorer": "network",
    "pool_comparison": "pooling",
    "pooling_explorer": "pooling",
    "rnn_explorer": "rnn",
    "your_model_explorer": "your_model",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    """An explorer (``conv_explorer``) or a module of this package (``lv.ui.rnn``), imported on first use."""
    if name in _NAMES:
        value = getattr(importlib.import_module(f"layerviz.ui.{_NAMES[name]}"), name)
    elif not name.startswith("__") and importlib.util.find_spec(f"layerviz.ui.{name}") is not None:
        value = importlib.import_module(f"layerviz.ui.{name}")
    else:
        raise AttributeError(f"module 'layerviz.ui' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
