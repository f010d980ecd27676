"""The four phases of a batch normalization told with their numbers: mean, variance, normalize, update.

Each function returns ``(narration, question)``. The numbers of each narration have the decimals with which
every step, redone from them, gives the result shown (see :func:`layerviz._format.redoable`); a question
hides every step after its operands (None where the values are abridged with "…").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from layerviz._format import Ask, paren, redoable, vector_text
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten

if TYPE_CHECKING:
    from layerviz.layers.batchnorm import BatchNormTrace

#: Values a mean (a variance) lists before abridging them with "…"; listed in full, the statistic is asked.
_STAT_TERMS, _VARIANCE_TERMS = 6, 4


def _index(cell) -> str:
    return ",".join(str(int(i)) for i in cell)


def exact(value: float) -> str:
    """A constant as short as it reads (``0.9``), with every digit when that is what it takes."""
    text = f"{value:g}"
    return text if float(text) == value else repr(float(value))


def narrate_mean(c: int, values: np.ndarray, total: float, mean: float) -> tuple[str, Ask | None]:
    """``mean[0] = (1.00 + 2.00 + 3.00 + 4.00) / 4 = 10.00 / 4 = 2.50``; the question hides the sum too."""
    n = len(values)
    if n <= _STAT_TERMS:
        shown = redoable(values, [total, mean, mean], lambda o, r: [o.sum(), r[0] / n, o.sum() / n],
                         intermediate=(0,))
        head = f"mean[{c}] = ({' + '.join(paren(t) for t in shown.operands)}) / {n}"
        question = Ask(f"{head} = ?", shown.results[1], mean)
        total_text, mean_text = shown.results[0], shown.results[1]
    else:  # abridged: the sum of the values is shown, its division can be redone
        shown = redoable([total], [mean], lambda o, _: [o[0] / n])
        head = f"mean[{c}] = ({' + '.join(_shorten(values, _STAT_TERMS, lambda v: paren(_number(v))))}) / {n}"
        question, (total_text,), (mean_text,) = None, shown.operands, shown.results
    return f"{head} = {total_text} / {n} = {mean_text}", question


def narrate_variance(c: int, values: np.ndarray, mean: float, total: float, var: float) -> tuple[str, Ask | None]:
    """``var[0] = ((1.00 − 2.50)² + … + (4.00 − 2.50)²) / 4 = 5.00 / 4 = 1.25``; the question hides the sum."""
    n = len(values)
    if n <= _VARIANCE_TERMS:
        def redo(o, r):
            squares = ((o[:-1] - o[-1]) ** 2).sum()
            return [squares, r[0] / n, squares / n]

        shown = redoable([*values, mean], [total, var, var], redo, intermediate=(0,))
        m = paren(shown.operands[-1])
        head = f"var[{c}] = ({' + '.join(f'({t} − {m})²' for t in shown.operands[:-1])}) / {n}"
        question = Ask(f"{head} = ?", shown.results[1], var)
        total_text, var_text = shown.results[0], shown.results[1]
    else:  # abridged: the sum of the squares is shown, its division can be redone
        shown = redoable([total], [var], lambda o, _: [o[0] / n])
        m = paren(_number(mean))
        terms = _shorten(values, _VARIANCE_TERMS, lambda v: f"({_number(v)} − {m})²")
        head = f"var[{c}] = ({' + '.join(terms)}) / {n}"
        question, (total_text,), (var_text,) = None, shown.operands, shown.results
    return f"{head} = {total_text} / {n} = {var_text}", question


class _Affine:
    """The ``× γ + β`` a normalized value goes through, with the parameters the layer has (either may be absent):
    their values as operands, applied to numbers, and written from their texts."""

    def __init__(self, trace: BatchNormTrace, gamma: float, beta: float) -> None:
        self.has_weight, self.has_bias = trace.weight is not None, trace.bias is not None
        self.operands = [v for v, used in ((gamma, self.has_weight), (beta, self.has_bias)) if used]

    def apply(self, o_affine, z):
        """``z × γ + β`` with the affine operands given (those the layer has)."""
        i = 0
        if self.has_weight:
            z, i = z * o_affine[i], i + 1
        if self.has_bias:
            z = z + o_affine[i]
        return z

    def text(self, shown_affine) -> str:
        """`` × (γ) + (β)`` from the operands' texts."""
        i, scale, shift = 0, "", ""
        if self.has_weight:
            scale, i = f" × {paren(shown_affine[i])}", i + 1
        if self.has_bias:
            shift = f" + {paren(shown_affine[i])}"
        return scale + shift


def narrate_normalize(trace: BatchNormTrace, c: int, cells: np.ndarray, values: np.ndarray, mean: float, var: float,
                      normalized: np.ndarray, gamma: float, beta: float, outputs: np.ndarray) -> tuple[str, Ask | None]:
    """``out[0,0] = (1.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = (-1.34) × 1.00 + 0.00 = -1.34``.

    The question hides the normalized value: ``out[0,0] = (1.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = ?``.
    A frame of a row (``trace.by_row``) writes the row as a vector and asks for its first entry.
    """
    affine = _Affine(trace, gamma, beta)
    eval_note = "" if trace.uses_batch_stats else f"   (eval: running_mean[{c}], running_var[{c}])"
    if trace.by_row:
        target = f"out[:,{c}]" if trace.input.ndim == 2 else f"out[{_index(cells[0, :-1])},:]"
        return _narrate_row(target, exact(trace.eps), affine, values, mean, var, outputs, eval_note)
    return _narrate_element(f"out[{_index(cells[0])}]", exact(trace.eps), affine, values[0], mean, var,
                            float(normalized[0]), float(outputs[0]), eval_note)


def _narrate_row(target: str, eps: str, affine: _Affine, values, mean, var, outputs, eval_note: str
                 ) -> tuple[str, Ask]:
    """``out[0,:] = ([1.00, 2.00] − 2.50) / √(1.25 + 1e-05) × 1.00 = [-1.34, -0.45]``; asks for the first entry
    (its operands are shown, even when the row is abridged). ``eps`` is written with every digit: the student
    computes with it."""
    m = len(values)

    def redo_row(o, _):
        return affine.apply(o[m + 2:], (o[:m] - o[m]) / np.sqrt(o[m + 1] + float(eps)))

    shown = redoable([*values, mean, var, *affine.operands], outputs, redo_row)
    head = (f"{target} = ({vector_text(shown.operands[:m])} − {paren(shown.operands[m])}) / "
            f"√({shown.operands[m + 1]} + {eps}){affine.text(shown.operands[m + 2:])}")
    question = Ask(f"{head} = ?{eval_note}", shown.results[0], float(outputs[0]), entry=True)
    return f"{head} = {vector_text(shown.results)}{eval_note}", question


def _narrate_element(target: str, eps: str, affine: _Affine, value, mean, var, normalized: float, output: float,
                     eval_note: str) -> tuple[str, Ask]:
    """One element: ``(x − μ) / √(σ² + eps)``, then (with γ or β) the normalized value as shown ``× γ + β``."""
    scaled = bool(affine.operands)

    def redo(o, r):
        z = (o[0] - o[1]) / np.sqrt(o[2] + float(eps))
        # the normalized value; the output from it as shown (the narration's step) and as computed (the question's)
        return [z, affine.apply(o[3:], r[0]), affine.apply(o[3:], z)] if scaled else [z]

    results = [normalized, output, output] if scaled else [output]
    shown = redoable([value, mean, var, *affine.operands], results, redo, intermediate=(0,) if scaled else ())
    x, mu, v = shown.operands[:3]
    head = f"{target} = ({x} − {paren(mu)}) / √({v} + {eps}){affine.text(shown.operands[3:])}"
    text = head
    if scaled:
        text += f" = {paren(shown.results[0])}{affine.text(shown.operands[3:])}"
    text += f" = {shown.results[-1]}{eval_note}"
    return text, Ask(f"{head} = ?{eval_note}", shown.results[-1], output)


def narrate_update(trace: BatchNormTrace, c: int, statistic: str, old: float, observed: float, new: float
                   ) -> tuple[str, Ask]:
    """``running_mean[0] = 0.9 × 0.00 + 0.1 × 2.50 = 0.25``; the running variance blends the unbiased
    variance, shown with how it comes from the batch's: ``(unbiased: 1.25 × 4/3 = 1.67)``."""
    if trace.momentum is None:
        t = trace.new_num_batches_tracked
        keep, take = f"{t - 1}/{t}", f"1/{t}"
        keep_value, take_value = (t - 1) / t, 1 / t
    else:
        keep, take = exact(1 - trace.momentum), exact(trace.momentum)
        keep_value, take_value = float(keep), float(take)
    n = trace.count
    if statistic == "running_var":
        # the unbiased variance, from the batch's as shown, is the step before
        shown = redoable([old, trace.batch_var[c]], [observed, new],
                         lambda o, r: [o[1] * n / (n - 1), keep_value * o[0] + take_value * r[0]],
                         intermediate=(0,))
        (old_text, batch_var), (observed_text, new_text) = shown.operands, shown.results
        note = f"   (unbiased: {batch_var} × {n}/{n - 1} = {observed_text})"
    else:
        shown = redoable([old, observed], [new], lambda o, _: [keep_value * o[0] + take_value * o[1]])
        (old_text, observed_text), (new_text,) = shown.operands, shown.results
        note = (f"   (num_batches_tracked: {trace.num_batches_tracked} → {trace.new_num_batches_tracked})"
                if c == 0 else "")
    head = f"{statistic}[{c}] = {keep} × {paren(old_text)} + {take} × {paren(observed_text)}"
    return f"{head} = {new_text}{note}", Ask(f"{head} = ?{note}", new_text, new)
