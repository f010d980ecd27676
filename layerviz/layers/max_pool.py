"""MaxPool2d: a window slides over each channel and keeps its largest value.

For input ``x: (N, C, H, W)`` (or ``(C, H, W)``), with kernel ``(kH, kW)``, stride ``(sH, sW)``, padding
``(pH, pW)`` and dilation ``(dH, dW)`` (the windows and the output size: :mod:`~layerviz.layers._pool_windows`)::

    out[n, c, i, j] = max_{p, q} xpad[n, c, i*sH + p*dH, j*sW + q*dW]      (padding is -inf)

Backward: each output cell's gradient goes to the input cell that won its window (the first maximum in
row-major order, the index torch saves: on a tie the gradient goes to that one cell only); a cell that won
several overlapping windows gathers all their gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerviz import _checks
from layerviz._format import Ask
from layerviz._format import number as _number
from layerviz.backward import BackwardTrace, HasBackward, Section, name as grad_name, sum_of
from layerviz.layers._module import Setting
from layerviz.layers._pool_trace import MAX_TERMS, OFF_GRID, PoolFrame, _WindowPoolTrace, abridged, cell_name, cells_text
from layerviz.layers._pool_windows import IntOrPair, _WindowPool2d, pair, torch_form_of, torch_stride, windows_naive
from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions


class MaxPool2d(_WindowPool2d):
    """2-D max pooling with ``torch.nn.MaxPool2d``'s arguments: each window keeps its largest value.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: the kernel size (windows side by side, no overlap).
    padding : int or (int, int), default 0
        Cells added on each side, at most half the kernel size. Padding is ``-inf``: it never wins.
    dilation : int or (int, int), default 1
        Spacing between the cells of a window.
    return_indices : bool, default False
        ``forward`` also returns where each maximum came from, as torch does: the flat index
        ``row * W + col`` in the input channel.
    ceil_mode : bool, default False
        Round the output size up: the last window may run past the padded input.

    Ties go to the first cell of the window in row-major order (the cell torch's
    ``return_indices`` points at). A dilated window can jump over a tiny input and read only
    padding; its output is ``-inf``, as in torch.

    Examples
    --------
    >>> MaxPool2d(2)(np.array([[[1.0, 3.0, 2.0, 0.0], [5.0, 4.0, 1.0, 1.0],
    ...                         [0.0, 2.0, 6.0, 8.0], [1.0, 1.0, 7.0, 3.0]]]))
    array([[[5., 2.],
            [2., 8.]]])
    """

    dilation = Setting(torch_form_of(1))
    return_indices = Setting(_checks.flag)

    def __init__(
        self,
        kernel_size: IntOrPair,
        stride: IntOrPair | None = None,
        padding: IntOrPair = 0,
        dilation: IntOrPair = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        self.dilation = dilation
        self.return_indices = return_indices
        self._set_window(kernel_size, stride, padding, ceil_mode)

    @property
    def _dilation(self) -> tuple[int, int]:
        return pair(self.dilation)

    def _tuple_output(self) -> tuple[str, str] | None:
        if self.return_indices:
            return "(values, indices)", "set return_indices=False to pass only the values on"
        return None

    @classmethod
    def _from_torch(cls, module) -> MaxPool2d:
        """The layer equal to a ``torch.nn.MaxPool2d`` (see :func:`layerviz.from_torch`)."""
        return cls(module.kernel_size, stride=torch_stride(module.stride), padding=module.padding,
                   dilation=module.dilation, return_indices=module.return_indices, ceil_mode=module.ceil_mode)

    def _pool(self, batched: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(out, tap, indices)``, each ``(N, C, OH, OW)``: the maxima, the winning tap of each window
        (row-major index into its ``kH x kW`` cells) and torch's flat input index ``row * W + col``."""
        ext, oh, ow = self._extended(batched, -np.inf)
        windows = self._windows(ext, oh, ow)
        flat = windows.reshape(*windows.shape[:4], -1)
        tap = flat.argmax(axis=-1)  # first maximum in row-major order, as torch's strict ">" scan
        out = np.take_along_axis(flat, tap[..., None], axis=-1)[..., 0]
        (_, kw), (sh, sw), (ph, pw), (dh, dw) = self._geometry()
        rows = np.arange(oh)[:, None] * sh - ph + (tap // kw) * dh
        cols = np.arange(ow)[None, :] * sw - pw + (tap % kw) * dw
        indices = rows * batched.shape[3] + cols
        empty = np.isneginf(out)  # a dilated window can jump over a tiny input: it reads only padding
        if empty.any():
            # torch's output there is -inf, its index that of the first tap at row >= 0 and column >= 0
            top, left = np.arange(oh) * sh - ph, np.arange(ow) * sw - pw
            top, left = top + -(top // dh) * dh * (top < 0), left + -(left // dw) * dw * (left < 0)
            indices = np.where(empty, top[:, None] * batched.shape[3] + left[None, :], indices)
        return out, tap, indices

    def forward(self, x) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Max-pool ``x: (C, H, W)`` or ``(N, C, H, W)``; returns ``(C, OH, OW)`` or ``(N, C, OH, OW)``.

        With ``return_indices`` returns ``(out, indices)``, ``indices`` int64 shaped like ``out``.
        """
        batched = self._check_input(x)
        out, _, indices = self._pool(batched)
        if np.ndim(x) == 3:
            out, indices = out[0], indices[0]
        return (out, indices.astype(np.int64)) if self.return_indices else out

    __call__ = forward

    def frames(self, x) -> MaxPoolTrace:
        """The forward pass one output cell (one window) per frame, in row-major order of the output."""
        return MaxPoolTrace(self, x)

    def __repr__(self) -> str:
        text = (f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")
        return text + (", return_indices=True)" if self.return_indices else ")")


def max_pool2d_naive(pool: MaxPool2d, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The definition, as plain loops: ``(out, indices)`` for ``x: (N, C, H, W)`` already checked.

    Padding cells are skipped (they never win); the first largest cell wins a tie. A window of
    padding only gives ``-inf``, and torch's index: its first cell at row >= 0 and column >= 0.
    """
    h, w = x.shape[2:]
    out = np.zeros((*x.shape[:2], *pool.output_size(h, w)))
    indices = np.zeros(out.shape, dtype=np.int64)
    for n, c, i, j, cells in windows_naive(pool, x):
        best = None
        for r, col in cells:
            if 0 <= r < h and 0 <= col < w and (best is None or x[n, c, r, col] > out[n, c, i, j]):
                best = r * w + col
                out[n, c, i, j] = x[n, c, r, col]
        if best is None:
            out[n, c, i, j] = -np.inf
            best = min(r for r, _ in cells if r >= 0) * w + min(col for _, col in cells if col >= 0)
        indices[n, c, i, j] = best
    return out, indices


@dataclass(frozen=True, eq=False, repr=False)
class MaxPoolFrame(PoolFrame):
    """A max-pooling frame (see :class:`~layerviz.layers._pool_trace.PoolFrame`), and where the maximum is.

    Attributes
    ----------
    argmax : (int, int) or None
        ``(row, col)`` of the winning cell in ``window``: ``window[argmax] == result``. A tie goes to the
        first in row-major order. None if the window holds only padding (``result`` is then ``-inf``).
    position : (int, int) or None
        ``(row, col)`` of the winning cell in the input ``x`` (without padding); None as ``argmax``.
    input_index : int
        ``row * W + col``: what torch's ``return_indices`` gives for this cell.
    """

    argmax: tuple[int, int] | None
    position: tuple[int, int] | None
    input_index: int


def narrate_max(cell, window, is_padding, result, position) -> tuple[str, Ask | None]:
    """``out[0,1,2] = max(0.50, 0.10, 0.30, 0.20) = 0.50`` (the maximum of numbers rounded alike is the
    rounded maximum: two decimals always add up), and the question (None when abridged)."""
    terms = cells_text(window, is_padding)
    head = f"out[{cell_name(cell)}] = max({', '.join(abridged(terms))})"
    text = f"{head} = {_number(result)}"
    if position is None:
        return text + " (the dilated window jumps over the input and reads only padding; torch gives -inf)", None
    listed = len(terms) <= MAX_TERMS
    if not listed:
        text += f" (largest of {len(terms)}, at x[{cell_name(cell[:-2] + position)}])"
    if is_padding.any():
        text += "; padding never wins"
    return text, (Ask(f"{head} = ?", _number(result), result) if listed else None)


class MaxPoolTrace(HasBackward, _WindowPoolTrace):
    """The frames of ``max_pool(x)``: one per output cell, ``(n, c, i, j)`` in row-major order.

    The forward pass is computed once, vectorized; ``trace[k]`` slices frame ``k``'s window out of
    the padded input, so any frame costs the same. Besides the attributes of every pooling trace
    (``input``, ``padded`` with ``-inf`` padding, ``padding_mask``, ``output``, ``output4``):

    Attributes
    ----------
    indices : ndarray of int64
        torch's ``return_indices``: flat ``row * W + col`` input index of each maximum, shaped like ``output``.
    """

    def __init__(self, pool: MaxPool2d, x) -> None:
        batched = pool._check_input(x)
        out4, self._tap, indices4 = pool._pool(batched)
        ph, pw = pair(pool.padding)
        padded = np.pad(batched, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
        self._setup(pool, x, padded, pool._padding_mask(*batched.shape[2:]), out4)
        self.indices4 = indices4
        self.indices = indices4 if self.batched else indices4[0]
        self._freeze(self._tap, self.indices4, self.indices)

    def _frame(self, k: int) -> MaxPoolFrame:
        window = self._window(k)
        n, c, i, j = window.n, window.c, window.i, window.j
        kw = pair(self.layer.kernel_size)[1]
        tap = int(self._tap[n, c, i, j])
        result = float(self.output4[n, c, i, j])
        argmax = position = None
        if result != -np.inf:
            argmax = (tap // kw, tap % kw)
            ph, pw = pair(self.layer.padding)
            position = (int(window.rows[argmax[0]]) - ph, int(window.cols[argmax[1]]) - pw)
        told = narrate_max(window.cell, window.values, window.is_padding, result, position)
        return self._record(MaxPoolFrame, k, window, result, told, argmax=argmax, position=position,
                            input_index=int(self.indices4[n, c, i, j]))

    def scene(self) -> Scene:
        """Input (padded) → output, with the window, its maximum and the output cell lit per frame."""
        inp, out = self._grids("input (padded)" if self.padding_mask.any() else "input", "max pool")
        slice_ = self._frame_origins()[0]
        ph, pw = pair(self.layer.padding)
        width = self.input.shape[-1]
        winner = np.stack([slice_, self.indices4.ravel() // width + ph, self.indices4.ravel() % width + pw], axis=1)
        empty = np.isneginf(self.output4)
        if empty.any():  # windows of padding only: no winner; their -inf output drawn as padding
            winner[empty.ravel(), 1:] = OFF_GRID
            out = Grid(out.name, out.title, np.where(empty, 0.0, self.output4).reshape(out.values.shape), out.labels,
                       padding=empty.reshape(out.values.shape), reveal=out.reveal, page_size=out.page_size,
                       page=out.page, op=out.op, cmap=out.cmap)
        highlights = (
            self._window_highlight(),
            Highlight("input", winner.astype(np.int32), np.zeros((1, 3), dtype=np.int32), "max", "maximum (kept)"),
            self._output_highlight(),
        )
        return Scene(repr(self.layer), self.n_frames, (inp, out), highlights, LazyCaptions(self), self._vmax())


# -- backward ---------------------------------------------------------------------------------------


def _max_backward(self: MaxPoolTrace, g: np.ndarray) -> BackwardTrace:
    """Each dout routed to its window's maximum (see the module docstring)."""
    g4 = g if self.batched else g[None]
    n_samples, channels, height, width = (self.input if self.batched else self.input[None]).shape
    plane = height * width
    keys = ((np.arange(n_samples * channels) * plane).reshape(n_samples, channels, 1, 1) + self.indices4).ravel()
    dx4 = np.bincount(keys, weights=g4.ravel(), minlength=n_samples * channels * plane).reshape(
        n_samples, channels, height, width)
    dx = dx4 if self.batched else dx4[0]
    order = np.argsort(keys, kind="stable")  # the output cells routed to each input cell, together
    starts = np.searchsorted(keys[order], np.arange(n_samples * channels * plane + 1))

    def explain(index):
        flat = int(np.ravel_multi_index(index, dx.shape))
        return _explain_routed(self.batched, index, order[starts[flat] : starts[flat + 1]], g4, float(dx[index]))

    section = Section("input", "dx", "dL/dx (each dout routed to its window's max)", dx, explain)
    return BackwardTrace(self, g, [section], {"input": dx})


def _explain_routed(batched: bool, index: tuple[int, ...], cells: np.ndarray, g4: np.ndarray, result: float):
    """The operands, narration and question of input cell ``index``, the max of the output ``cells`` (flat
    indices into ``g4``)."""
    values = g4.ravel()[cells]
    outs = [np.unravel_index(c, g4.shape) for c in cells[:4]]
    names = ", ".join(grad_name("out", o if batched else o[1:]) for o in outs)
    names += ", …" if len(cells) > 4 else ""
    x_name, label = grad_name("x", index), grad_name("dx", index)
    if not len(cells):
        return values, f"{x_name} was no window's max, so it takes no gradient: {label} = 0.00", None
    text, ask = sum_of(label, values, result, before=f"{x_name} was the max of {names}, so it takes their dout: ")
    return values, text, ask


MaxPoolTrace._backward = _max_backward
