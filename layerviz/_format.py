"""Numbers as the narrations print them: no negative zero, negatives in parentheses, rounded half away from zero
(as the player's grid rounds), and with the decimals that make a narration add up (:func:`redoable`): two, or
more where the arithmetic redone from two would not give the result shown."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

import numpy as np


def number(value: float, decimals: int | None = 2) -> str:
    """``0.50``, ``-1.25``; ``-0.00`` is printed ``0.00`` (see :func:`fixed`)."""
    return fixed(value, decimals)


def signed(value: float, decimals: int | None = 2) -> str:
    """A number as a term of a sum or product: ``0.50``, ``(-1.25)``."""
    return paren(number(value, decimals))


def shorten(values, keep: int, text) -> list[str]:
    """``text(v)`` for each of ``values``, or for its first and last few around an ellipsis when there
    are more than ``keep`` (only those are formatted: the cost does not grow with ``len(values)``)."""
    if len(values) <= keep:
        return [text(v) for v in values]
    head = (keep + 1) // 2
    return [text(v) for v in values[:head]] + ["…"] + [text(v) for v in values[len(values) - (keep - head):]]


def count(n: int, noun: str) -> str:
    """``1 part``, ``3 parts``: ``n`` and its noun, plural with an ``s`` when ``n`` is not 1."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


# -- narrations a student can redo by hand ----------------------------------------------------------
#
# A narration shows a frame's operands and its result. Two decimals each would not add up: the terms of
# "0.57 × 10.00" were rounded, so their product (5.70) misses the result shown (5.73) by more than the
# result's own rounding. :func:`redoable` picks, per frame, the fewest decimals (2 at least) with which
# redoing the arithmetic from the operands *as shown* gives the result shown; results stay at 2 decimals.

#: Decimals tried for the operands before falling back to full precision (``repr``).
MOST_DECIMALS = 8
#: Beyond this magnitude, decimals stop meaning much (float arithmetic itself rounds at the 0.01 level
#: near 1e14): such numbers are shown at 2 decimals, unchecked.
_LARGEST = 1e6
#: A result on a rounding tie (0.125 at 2 decimals), up to float noise (this fraction of a unit), is shown with
#: one more decimal, so that the result shown does not hang on how a student rounds a tie. A result merely
#: near a tie is shown at 2 decimals, its operands with the decimals that put the redone result on its side.
_NEAR_TIE = 1e-6
#: Redoing from the shown operands must land this much (in units of the result's last decimal) inside the
#: half unit: float arithmetic never decides a rounding.
_INSIDE = 1e-6
#: Half a unit of the last of ``p`` decimals, by ``p``.
_HALF_UNITS = [0.5 * 10.0**-p for p in range(60)]


def fixed(value: float, decimals: int | None = 2) -> str:
    """``value`` with ``decimals`` decimals, rounded half away from zero (as JavaScript's ``toFixed``, which draws
    the player's grid numbers: ``0.125`` is ``0.13`` in both); ``-0.00`` is ``0.00``; ``decimals=None``:
    every digit (the shortest text that reads back as ``value``)."""
    value = float(value)
    if decimals is None:
        text = repr(value)
    else:
        text = f"{value:.{decimals}f}"  # correctly rounded, ties to even: only an exact tie differs
        if math.isfinite(value) and f"{value:.{decimals + 1}f}".endswith("5"):
            exact = Decimal(value)
            step = Decimal(1).scaleb(-decimals)
            if exact == exact.quantize(step * Decimal("0.1")):  # ends with that 5: a tie
                text = f"{exact.quantize(step, rounding=ROUND_HALF_UP):f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def paren(text: str) -> str:
    """A number's text as a term of a sum or product: ``(-1.25)`` for a negative one."""
    return f"({text})" if text.startswith("-") else text


def negated(text: str) -> str:
    """The text of minus the number ``text`` shows: ``0.50`` -> ``-0.50``; ``0.00`` stays ``0.00``."""
    if text.startswith("-"):
        return text[1:]
    return text if float(text) == 0 else "-" + text


_POWERS = [10.0**p for p in range(40)]
_STEPS = [Decimal(1).scaleb(-p) for p in range(40)]


def _whole(magnitude: float, places: int) -> int:
    """``magnitude`` (>= 0) rounded half up at ``places``, times ``10**places``: the digits of its text."""
    scaled = magnitude * _POWERS[places]
    whole = math.floor(scaled)
    rest = scaled - whole
    if abs(rest - 0.5) < 1e-9:  # the product rounded near a tie: decide on the exact value
        return int(Decimal(magnitude).quantize(_STEPS[places], rounding=ROUND_HALF_UP).scaleb(places))
    return whole + (rest >= 0.5)


def _on_tie(magnitude: float, places: int) -> bool:
    scaled = magnitude * _POWERS[places]
    return abs(scaled - math.floor(scaled) - 0.5) < _NEAR_TIE


@functools.lru_cache(maxsize=1 << 16)  # a kernel's weights are in every frame, an input value in several
def _shown(value: float, places: int, consistent: bool = True) -> tuple[float, int]:
    """``value`` as shown at ``places`` decimals, and the decimals its text has.

    With ``consistent``, more places where the text would round (at 2 decimals, half up, as a reader rounds)
    otherwise than the value itself: ``0.68499`` is not shown ``0.685``, which reads as ``0.69`` beside a grid
    showing ``0.68``. Trailing zeros are dropped down to 2 places (``1.00``, not ``1.000``: the same number).
    """
    magnitude = abs(value)
    whole = _whole(magnitude, places)
    if places == 2:
        return math.copysign(whole / 100.0, value), 2
    if consistent:
        two = _whole(magnitude, 2)
        tens = 10 ** (places - 2)
        while (whole + tens // 2) // tens != two and places < MOST_DECIMALS + 8:
            places, tens = places + 1, tens * 10
            whole = _whole(magnitude, places)
    while places > 2 and whole % 10 == 0:
        whole, places = whole // 10, places - 1
    return math.copysign(whole / _POWERS[places], value), places


def _off_tie(value: float, places: int) -> int:
    """``places``, raised (up to 6) while ``value`` sits on a rounding tie there."""
    magnitude = abs(value)
    while places < 6 and _on_tie(magnitude, places):
        places += 1
    return places


class Ask(NamedTuple):
    """What a frame asks a student to predict before stepping to it ("predict the next value").

    A frame asks only when its narration shows every number its result is computed from (no "…", no matrix
    left out), at the decimals :func:`redoable` chose: the answer can be worked out from the screen.
    """

    #: The frame's arithmetic with the result hidden, and any step that would give it away left out:
    #: ``"out[0,0,1] = 1.00×0.00 + 2.00×1.00 + 4.00×2.00 + 5.00×3.00 = ?"``.
    prompt: str
    #: The answer as the narration shows it (``"25.00"``): its decimals are the precision a check judges at.
    shown: str
    #: The answer as the engine computed it (every digit).
    value: float
    #: True when the result is a vector and the answer its first entry.
    entry: bool = False


def vector_text(texts: Sequence[str], keep: int = 6) -> str:
    """``[0.50, -1.20, …, 0.30]``: numbers' texts as a vector, at most ``keep`` shown."""
    return "[" + ", ".join(shorten(list(texts), keep, lambda t: t)) + "]"


class Shown(NamedTuple):
    """The texts of a frame's operands and results, as :func:`redoable` chose them."""

    operands: list[str]
    results: list[str]


def redoable(operands, results, redo: Callable[[np.ndarray, np.ndarray], Any], *,
             intermediate: Sequence[int] = ()) -> Shown:
    """Texts for a frame's numbers such that redoing its arithmetic from the texts gives the results shown.

    Parameters
    ----------
    operands : sequence of float
        The numbers the frame computes from, flat.
    results : sequence of float
        The numbers it shows computed, as the engine computed them; each is shown rounded to 2 decimals
        (3 or more when it sits on a rounding tie).
    redo : callable
        ``redo(ops, shown)``: each result recomputed (an array like ``results``) from ``ops``, the operands as
        shown, and ``shown``, the results as shown (a later step reads an earlier step's result as shown).
        ``results`` may list a value twice to ask two ways of computing it to agree (the narration's steps,
        and the question that hides the intermediate step).
    intermediate : sequence of int
        Results that later steps read: they get one decimal fewer than the operands (2 at least), so that
        the step computing them can be redone too.

    The operands get the fewest decimals ``d >= 2`` with which every recomputed result rounds to the result
    shown, unambiguously; up to :data:`MOST_DECIMALS`, then every digit. Each text rounds, at 2 decimals,
    to what the player's grid shows.
    """
    op_array = np.asarray(operands, dtype=np.float64).ravel()
    res_array = np.asarray(results, dtype=np.float64).ravel()
    ops, res = op_array.tolist(), res_array.tolist()
    if not (_moderate(op_array) and _moderate(res_array)):
        return Shown([fixed(v) for v in ops], [fixed(v) for v in res])
    between = set(intermediate)
    # a final result: 2 places (more on a tie), its digits as they are; an intermediate: see below
    finals = {i: _shown(v, _off_tie(v, 2), consistent=False) for i, v in enumerate(res) if i not in between}
    for d in range(2, MOST_DECIMALS + 1):
        op_shown = [_shown(v, d) for v in ops]
        op_values = np.array([v for v, _ in op_shown])
        places = {i: _off_tie(res[i], max(2, d - 1)) for i in between}
        for _ in range(3):
            shown = [finals[i] if i in finals else _shown(v, places[i]) for i, v in enumerate(res)]
            again = np.asarray(redo(op_values, np.array([v for v, _ in shown])), dtype=np.float64).ravel().tolist()
            missed = [i for i, (a, (v, p)) in enumerate(zip(again, shown))
                      if not abs(a - v) <= _HALF_UNITS[p] * (1 - _INSIDE)]
            if not missed:
                return Shown(_texts(op_shown), _texts(shown))
            # an intermediate its operands, redone, put on a tie (a sum of 3-place numbers, at 2 places) gets a
            # place more; other misses take more places for the operands
            retry = [i for i in missed if i in between and places[i] <= d]
            if len(retry) < len(missed) or not retry:
                break
            for i in retry:
                places[i] += 1
    return Shown([fixed(v, None) for v in ops],
                 [fixed(v, None) if i in between else fixed(v, finals[i][1]) for i, v in enumerate(res)])


def _moderate(values: np.ndarray) -> bool:
    """All finite and below :data:`_LARGEST` in magnitude (NaN fails too)."""
    return values.size == 0 or bool(np.abs(values).max() < _LARGEST)


def _texts(shown: list[tuple[float, int]]) -> list[str]:
    # a value shown as 0 is the rounded value 0.0 or -0.0: no negative zero
    return [f"{0.0 if v == 0 else v:.{p}f}" for v, p in shown]
