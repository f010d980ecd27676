"""Arrays written as Python literals that read back exactly, and the width of the code the page shows."""

from __future__ import annotations

import numpy as np


def literal(name: str, array: np.ndarray) -> str:
    """``name = np.array([...])`` with every float written so that it reads back exactly.

    Numbers that are float32 values (trained weights saved as float32) are written as float32, about half
    as many digits, and converted back to float64 exactly: ``np.array([...], dtype=np.float32).astype(np.float64)``.
    """
    array = np.asarray(array, dtype=np.float64)
    prefix = f"{name} = np.array("
    text = _array_text(array, prefix, ")")
    if array.size and np.array_equal(array.astype(np.float32).astype(np.float64), array):
        suffix = ", dtype=np.float32).astype(np.float64)"
        short = _array_text(array.astype(np.float32), prefix, suffix)
        if len(short) < 0.75 * len(text):
            return f"{prefix}{short}{suffix}"
    return f"{prefix}{text})"


#: The longest line :func:`program` writes (up to a long name): the page shows the code whole, without scrolling.
LINE_WIDTH = 100


def _array_text(array: np.ndarray, prefix: str, suffix: str) -> str:
    return np.array2string(array, separator=", ", threshold=np.inf, floatmode="unique", max_line_width=LINE_WIDTH,
                           prefix=prefix, suffix=suffix)
