"""The recurrent layers' tables and element functions: their gates, the stages of a time step, the gates'
names, and how a vector of a step is written in a narration. The forward trace and backpropagation through
time both read them.
"""

from __future__ import annotations

import numpy as np

from layerviz._format import number as _number
from layerviz._format import paren, vector_text
from layerviz._format import shorten as _shorten

#: Gates per mode, in torch's storage order (rows of ``weight_ih`` in blocks of ``hidden_size``).
GATES = {"RNN_TANH": ("h",), "RNN_RELU": ("h",), "LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n")}

#: The stages of one time step, in the order the frames show them.
STAGES = {"RNN": ("ih", "hh", "sum", "h"), "LSTM": ("f", "i", "g", "o", "c", "h"), "GRU": ("r", "z", "n", "h")}

#: Names of the LSTM gates, for narrations and error messages.
LSTM_GATE_NAMES = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate"}
GRU_GATE_NAMES = {"r": "reset gate", "z": "update gate", "n": "new gate"}

def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow for large ``|x|``."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def vector(values: np.ndarray | list[str]) -> str:
    """``0.50`` for one value, ``[0.50, -1.20, …, 0.30]`` for more (at most 6 shown); numbers, or their texts."""
    if isinstance(values, list):
        return values[0] if len(values) == 1 else vector_text(values)
    values = np.ravel(values)
    if values.size == 1:
        return _number(float(values[0]))
    return "[" + ", ".join(_shorten(values, 6, _number)) + "]"


def operand(values: np.ndarray | list[str]) -> str:
    """An operand: like :func:`vector`, a lone negative number in parentheses (``(-0.50)``)."""
    text = vector(values)
    return paren(text) if not text.startswith("[") else text
