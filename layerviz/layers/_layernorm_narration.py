"""A layer normalization told with its numbers: the mean and the variance of a group, each value normalized, and
the averages its backward pass takes.

Each function returns ``(narration, question)``. The numbers have the decimals with which every step, redone from
them, gives the result shown (see :func:`layerviz._format.redoable`); a question hides every step after its operands
(None where the values are abridged with "…"). The normalized values are told as batch norm's
(:func:`~layerviz.layers._batchnorm_narration._narrate_element`): the same arithmetic, over another axis.
"""

from __future__ import annotations

import numpy as np

from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten

#: Values an average (a variance) lists before abridging them with "…"; listed in full, it is asked.
AVERAGE_TERMS, VARIANCE_TERMS = 6, 4


def narrate_average(label: str, values: np.ndarray, total: float, result: float) -> tuple[str, Ask | None]:
    """``mean[0] = (1.00 + 2.00 + 3.00 + 4.00) / 4 = 10.00 / 4 = 2.50``; the question hides the sum too."""
    n = len(values)
    if n <= AVERAGE_TERMS:
        shown = redoable(values, [total, result, result], lambda o, r: [o.sum(), r[0] / n, o.sum() / n],
                         intermediate=(0,))
        head = f"{label} = ({' + '.join(paren(t) for t in shown.operands)}) / {n}"
        question = Ask(f"{head} = ?", shown.results[1], result)
        total_text, result_text = shown.results[0], shown.results[1]
    else:  # abridged: the sum is shown, its division can be redone
        shown = redoable([total], [result], lambda o, _: [o[0] / n])
        head = f"{label} = ({' + '.join(_shorten(values, AVERAGE_TERMS, lambda v: paren(_number(v))))}) / {n}"
        question, (total_text,), (result_text,) = None, shown.operands, shown.results
    return f"{head} = {total_text} / {n} = {result_text}", question


def narrate_variance(label: str, values: np.ndarray, mean: float, total: float, var: float) -> tuple[str, Ask | None]:
    """``var[0] = ((1.00 − 2.50)² + … + (4.00 − 2.50)²) / 4 = 5.00 / 4 = 1.25`` (biased: divided by n)."""
    n = len(values)
    if n <= VARIANCE_TERMS:
        def redo(o, r):
            squares = ((o[:-1] - o[-1]) ** 2).sum()
            return [squares, r[0] / n, squares / n]

        shown = redoable([*values, mean], [total, var, var], redo, intermediate=(0,))
        m = paren(shown.operands[-1])
        head = f"{label} = ({' + '.join(f'({t} − {m})²' for t in shown.operands[:-1])}) / {n}"
        question = Ask(f"{head} = ?", shown.results[1], var)
        total_text, var_text = shown.results[0], shown.results[1]
    else:
        shown = redoable([total], [var], lambda o, _: [o[0] / n])
        m = paren(_number(mean))
        terms = _shorten(values, VARIANCE_TERMS, lambda v: f"({_number(v)} − {m})²")
        head = f"{label} = ({' + '.join(terms)}) / {n}"
        question, (total_text,), (var_text,) = None, shown.operands, shown.results
    return f"{head} = {total_text} / {n} = {var_text}", question


def narrate_product_average(label: str, a: np.ndarray, b: np.ndarray, total: float, result: float
                            ) -> tuple[str, Ask | None]:
    """``m2[0] = (0.50×(-1.34) + … ) / 4 = -0.20 / 4 = -0.05``: the average of products, listed up to
    :data:`AVERAGE_TERMS` (and asked), else abridged with its sum shown."""
    n = len(a)
    if n <= AVERAGE_TERMS:
        shown = redoable([*a, *b], [total, result, result],
                         lambda o, r: [o[:n] @ o[n:], r[0] / n, (o[:n] @ o[n:]) / n], intermediate=(0,))
        terms = [f"{paren(x)}×{paren(y)}" for x, y in zip(shown.operands[:n], shown.operands[n:])]
        head = f"{label} = ({' + '.join(terms)}) / {n}"
        return f"{head} = {shown.results[0]} / {n} = {shown.results[1]}", Ask(f"{head} = ?", shown.results[1], result)
    shown = redoable([total], [result], lambda o, _: [o[0] / n])
    idx = [0, 1, 2, n - 2, n - 1]
    terms = [f"{paren(_number(a[i]))}×{paren(_number(b[i]))}" for i in idx]
    terms = terms[:3] + [f"… ({n} products)"] + terms[3:]
    return f"{label} = ({' + '.join(terms)}) / {n} = {shown.operands[0]} / {n} = {shown.results[0]}", None
