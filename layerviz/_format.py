"""Numbers as the narrations print them: two decimals, no negative zero, negatives in parentheses."""

from __future__ import annotations


def number(value: float) -> str:
    """``0.50``, ``-1.25``; ``-0.00`` is printed ``0.00``."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def signed(value: float) -> str:
    """A number as a term of a sum or product: ``0.50``, ``(-1.25)``."""
    text = number(value)
    return f"({text})" if text.startswith("-") else text


def shorten(values, keep: int, text) -> list[str]:
    """``text(v)`` for each of ``values``, or for its first and last few around an ellipsis when there
    are more than ``keep`` (only those are formatted: the cost does not grow with ``len(values)``)."""
    if len(values) <= keep:
        return [text(v) for v in values]
    head = (keep + 1) // 2
    return [text(v) for v in values[:head]] + ["…"] + [text(v) for v in values[len(values) - (keep - head):]]
