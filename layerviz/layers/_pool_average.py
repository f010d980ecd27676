"""What average pooling and adaptive average pooling share: a window's sum over a divisor, and its gradient.

The frame of an average (:class:`AvgPoolFrame`) and its narration, ``out[0,1,2] = (0.50 + 0.10 + 0.30 +
0.20) / 4 = 0.28``; and the backward pass of both layers, which spreads each output cell's gradient over its
window, divided by the window's divisor::

    dx[h, w] = sum over the windows covering (h, w) of dout / divisor
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz.backward import BackwardTrace, Section, name as grad_name
from layerviz.layers._pool_trace import MAX_TERMS, PoolFrame, Window, abridged, cell_name, cells_text


@dataclass(frozen=True, eq=False, repr=False)
class AvgPoolFrame(PoolFrame):
    """An average-pooling frame (see :class:`~layerviz.layers._pool_trace.PoolFrame`): ``result = total / divisor``.

    Attributes
    ----------
    counted : ndarray of bool, shape (h, w)
        Cells the divisor counts (padding too with ``count_include_pad``); ignored when
        ``divisor_override`` sets the divisor.
    total : float
        Sum of the window (padding adds 0).
    divisor : int
        ``counted.sum()``, or ``divisor_override``.
    """

    counted: np.ndarray
    total: float
    divisor: int


def narrate_average(cell, window, is_padding, counted, total, divisor, result, notes: list[str]) -> tuple[str, Ask | None]:
    """``out[0,1,2] = (0.50 + 0.10 + 0.30 + 0.20) / 4 = 0.28``, with the decimals that make the sum, redone,
    give the result shown (the sum of many terms shown instead: ``… = 5.12 / 16 = 0.32``); and the question
    (the terms listed, the result hidden), None when abridged."""
    shown_cells = counted | ~is_padding  # padding appears in the sum only when the divisor counts it
    values, padding = window[shown_cells], is_padding[shown_cells]
    listed = values.size <= MAX_TERMS
    if listed:
        shown = redoable(np.where(padding, 0.0, values), [result], lambda o, _: [o.sum() / divisor])
        terms = ["pad" if pad else paren(text) for text, pad in zip(shown.operands, padding)]
    else:
        shown = redoable([total], [result], lambda o, _: [o[0] / divisor])
        terms = cells_text(values, padding, lambda v: paren(_number(v)))
    head = f"out[{cell_name(cell)}] = ({' + '.join(abridged(terms))}) / {divisor}"
    if not listed:
        head += f" = {shown.operands[0]} / {divisor}"
    notes_text = f" ({'; '.join(notes)})" if notes else ""
    question = Ask(f"{head} = ?{notes_text}", shown.results[0], result) if listed else None
    return f"{head} = {shown.results[0]}{notes_text}", question


class _AverageFrames:
    """The frames of an average pooling trace, which sets ``sums`` ``(N, C, OH, OW)`` and ``divisors``
    ``(OH, OW)`` besides the attributes of every pooling trace."""

    sums: np.ndarray
    divisors: np.ndarray

    def _average_frame(self, k: int, window: Window, counted: np.ndarray, notes: list[str]) -> AvgPoolFrame:
        """Frame ``k``: the window's sum over its divisor, narrated with ``notes`` (the rules that set the divisor)."""
        n, c, i, j = window.n, window.c, window.i, window.j
        total, divisor, result = float(self.sums[n, c, i, j]), int(self.divisors[i, j]), float(self.output4[n, c, i, j])
        told = narrate_average(window.cell, window.values, window.is_padding, counted, total, divisor, result, notes)
        return self._record(AvgPoolFrame, k, window, result, told, counted=counted, total=total, divisor=divisor)


def spread(trace, g: np.ndarray, row_lo, row_hi, col_lo, col_hi, top: int, left: int) -> BackwardTrace:
    """Average pooling backward: each window's ``dout / divisor`` added over the window's cells.

    Window ``(i, j)`` covers rows ``row_lo[i]:row_hi[i]`` and columns ``col_lo[j]:col_hi[j]`` of the padded input,
    whose input cells start at row ``top``, column ``left``.
    """
    g4 = g if trace.batched else g[None]
    height, width = trace.input.shape[-2:]
    share = g4 / trace.divisors
    ext_h, ext_w = max(int(row_hi.max()), top + height), max(int(col_hi.max()), left + width)
    rows = ((np.arange(ext_h) >= row_lo[:, None]) & (np.arange(ext_h) < row_hi[:, None])).astype(np.float64)
    cols = ((np.arange(ext_w) >= col_lo[:, None]) & (np.arange(ext_w) < col_hi[:, None])).astype(np.float64)
    rows, cols = rows[:, top : top + height], cols[:, left : left + width]
    dx4 = np.einsum("ih,ncij,jw->nchw", rows, share, cols, optimize=True)
    dx = dx4 if trace.batched else dx4[0]

    def explain(index):
        n, c, h, w = index if trace.batched else (0, *index)
        ii, jj = np.nonzero(rows[:, h])[0], np.nonzero(cols[:, w])[0]
        ii, jj = np.repeat(ii, len(jj)), np.tile(jj, len(ii))
        values, divisors = g4[n, c, ii, jj], trace.divisors[ii, jj].astype(np.float64)
        return _explain_share(grad_name("dx", index), grad_name("x", index), values, divisors, float(dx[index]))

    section = Section("input", "dx", "dL/dx (dout / divisor spread over each window)", dx, explain)
    return BackwardTrace(trace, g, [section], {"input": dx})


def _explain_share(label: str, x_name: str, values: np.ndarray, divisors: np.ndarray, result: float):
    """``dx[0,0,0] = 0.50/4 + (-0.20)/4 = 0.08``: the operands, the narration and the question of one input cell
    that windows with these gradients and divisors covered."""
    if len(values) == 0:
        return [], f"no window covered {x_name}: {label} = 0.00", None
    before = f"dout / divisor from every window that covered {x_name}: "
    m = len(values)
    if m <= 9:
        shown = redoable([*values, *divisors], [result], lambda o, _: [(o[:m] / o[m:]).sum()])
        terms = " + ".join(f"{paren(a)}/{int(b)}" for a, b in zip(shown.operands[:m], divisors))
        head = f"{label} = {terms}"
        return [*values, *divisors], f"{before}{head} = {shown.results[0]}", Ask(f"{head} = ?", shown.results[0], result)
    terms = [f"{paren(_number(a))}/{int(b)}" for a, b in zip(values[[0, 1, -1]], divisors[[0, 1, -1]])]
    text = f"{before}{label} = {terms[0]} + {terms[1]} + … ({m} windows) + {terms[2]} = {_number(result)}"
    return [*values, *divisors], text, None
