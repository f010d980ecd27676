"""AdaptiveAvgPool2d: average pooling to a chosen output size.

For input ``x: (N, C, H, W)`` (or ``(C, H, W)``) and output size ``(OH, OW)``, the windows cover the
input, overlapping by one cell or differing in size by one where the sizes do not divide::

    out[n, c, i, j] = mean of x[n, c, floor(i*H/OH) : ceil((i+1)*H/OH), floor(j*W/OW) : ceil((j+1)*W/OW)]

Backward: each output cell's gradient spread over its window, divided by the window's size
(:func:`~layerviz.layers._pool_average.spread`).
"""

from __future__ import annotations

import numpy as np

from layerviz import _checks
from layerviz.backward import BackwardTrace, HasBackward
from layerviz.layers._module import Module, Setting
from layerviz.layers._pool_average import AvgPoolFrame, _AverageFrames, spread
from layerviz.layers._pool_trace import OFF_GRID, Window, _PoolTrace
from layerviz.layers._pool_windows import check_pool_input
from layerviz.scene import Highlight, Scene
from layerviz.trace import LazyCaptions


def _output_size(name: str, value: object) -> int | tuple[int | None, int | None]:
    """An int >= 1, or a pair of (int >= 1 or None)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints or None, got {value!r}")
        return tuple(None if v is None else _checks.positive_int(name, v) for v in value)
    return _checks.positive_int(name, value)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a chosen output size, with ``torch.nn.AdaptiveAvgPool2d``'s argument.

    Output row ``i`` of ``OH`` averages input rows ``floor(i*H/OH)`` to ``ceil((i+1)*H/OH) - 1``
    (likewise columns), so the windows cover the input and may overlap by one cell or differ
    in size by one. ``AdaptiveAvgPool2d(1)`` is *global average pooling*: one mean per channel.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        ``(OH, OW)``, each >= 1; None keeps the input's size along that axis.

    Examples
    --------
    >>> AdaptiveAvgPool2d(1)(np.arange(8.0).reshape(2, 2, 2))
    array([[[1.5]],
    <BLANKLINE>
           [[5.5]]])
    """

    output_size = Setting(_output_size)

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        self.output_size = output_size

    @classmethod
    def _from_torch(cls, module) -> AdaptiveAvgPool2d:
        """The layer equal to a ``torch.nn.AdaptiveAvgPool2d`` (see :func:`layerviz.from_torch`)."""
        return cls(module.output_size)

    def output_shape(self, height: int, width: int) -> tuple[int, int]:
        """Output ``(OH, OW)`` for an input of ``height x width`` (None entries take the input's size)."""
        oh, ow = (self.output_size, self.output_size) if isinstance(self.output_size, int) else self.output_size
        return (height if oh is None else oh), (width if ow is None else ow)

    def bounds(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Window bounds ``(row_start, row_end, col_start, col_end)``: ``(OH,)``, ``(OH,)``, ``(OW,)``, ``(OW,)``.

        Output cell ``(i, j)`` averages ``x[..., row_start[i]:row_end[i], col_start[j]:col_end[j]]``.
        """
        oh, ow = self.output_shape(height, width)
        i, j = np.arange(oh), np.arange(ow)
        return (i * height // oh, -(-(i + 1) * height // oh), j * width // ow, -(-(j + 1) * width // ow))

    def _pool(self, batched: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(out, sums, divisors)``: ``(N, C, OH, OW)``, ``(N, C, OH, OW)``, ``(OH, OW)``."""
        h, w = batched.shape[2:]
        row_start, row_end, col_start, col_end = self.bounds(h, w)
        rows = (np.arange(h) >= row_start[:, None]) & (np.arange(h) < row_end[:, None])  # (OH, H)
        cols = (np.arange(w) >= col_start[:, None]) & (np.arange(w) < col_end[:, None])  # (OW, W)
        sums = np.einsum("ih,nchw,jw->ncij", rows.astype(np.float64), batched, cols.astype(np.float64), optimize=True)
        divisors = np.multiply.outer(row_end - row_start, col_end - col_start).astype(np.int64)
        return sums / divisors, sums, divisors

    def forward(self, x) -> np.ndarray:
        """Pool ``x: (C, H, W)`` or ``(N, C, H, W)`` to ``(C, OH, OW)`` or ``(N, C, OH, OW)``."""
        out = self._pool(check_pool_input(x))[0]
        return out if np.ndim(x) == 4 else out[0]

    __call__ = forward

    def frames(self, x) -> AdaptiveAvgPoolTrace:
        """The forward pass one output cell (one window) per frame, in row-major order of the output."""
        return AdaptiveAvgPoolTrace(self, x)

    def __repr__(self) -> str:
        return f"AdaptiveAvgPool2d(output_size={self.output_size})"


def adaptive_avg_pool2d_naive(pool: AdaptiveAvgPool2d, x: np.ndarray) -> np.ndarray:
    """The definition, as plain loops, for ``x: (N, C, H, W)`` already checked."""
    n_samples, channels, h, w = x.shape
    oh, ow = pool.output_shape(h, w)
    out = np.zeros((n_samples, channels, oh, ow))
    for n in range(n_samples):
        for c in range(channels):
            for i in range(oh):
                top, bottom = (i * h) // oh, -((-(i + 1) * h) // oh)
                for j in range(ow):
                    left, right = (j * w) // ow, -((-(j + 1) * w) // ow)
                    total = 0.0
                    for r in range(top, bottom):
                        for col in range(left, right):
                            total += x[n, c, r, col]
                    out[n, c, i, j] = total / ((bottom - top) * (right - left))
    return out


class AdaptiveAvgPoolTrace(HasBackward, _AverageFrames, _PoolTrace):
    """The frames of ``adaptive_avg_pool(x)``: one per output cell, ``(n, c, i, j)`` in row-major order.

    No padding (``padded`` is the input). Besides ``input``, ``output``, ``output4``:

    Attributes
    ----------
    sums, divisors : ndarray
        As :class:`~layerviz.layers.avg_pool.AvgPoolTrace`'s: each window's sum, ``(N, C, OH, OW)``, and its
        size, ``(OH, OW)`` int64.
    row_start, row_end, col_start, col_end : ndarray of int
        Window bounds (see :meth:`AdaptiveAvgPool2d.bounds`).
    """

    def __init__(self, pool: AdaptiveAvgPool2d, x) -> None:
        batched = check_pool_input(x)
        out4, self.sums, self.divisors = pool._pool(batched)
        self.row_start, self.row_end, self.col_start, self.col_end = pool.bounds(*batched.shape[2:])
        self._setup(pool, x, batched.copy(), np.zeros(batched.shape[2:], dtype=bool), out4)
        self._freeze(self.sums, self.divisors, self.row_start, self.row_end, self.col_start, self.col_end)

    def _frame(self, k: int) -> AvgPoolFrame:
        n, c, i, j, cell = self._locate(k)
        rows = np.arange(self.row_start[i], self.row_end[i])
        cols = np.arange(self.col_start[j], self.col_end[j])
        values = self.padded[n, c, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        is_padding = np.zeros(values.shape, dtype=bool)
        counted = ~is_padding
        for array in (is_padding, counted):
            array.flags.writeable = False
        return self._average_frame(k, Window(n, c, i, j, cell, rows, cols, values, is_padding), counted, [])

    def scene(self) -> Scene:
        """Input → output, with the window and the output cell lit per frame.

        Windows differ in size, and a highlight has one stencil: there is one ``window`` highlight per
        window size, anchored off the grid (so not drawn) at the frames of the other sizes.
        """
        inp, out = self._grids("input", "avg pool")
        slice_, i, j, _ = self._frame_origins()
        heights, widths = (self.row_end - self.row_start)[i], (self.col_end - self.col_start)[j]
        highlights = []
        for height, width in sorted(set(zip(heights.tolist(), widths.tolist()))):
            active = (heights == height) & (widths == width)
            origin = np.stack([slice_, self.row_start[i], self.col_start[j]], axis=1).astype(np.int32)
            origin[~active, 1:] = OFF_GRID
            stencil = np.stack(np.indices((1, height, width), dtype=np.int32), axis=-1).reshape(-1, 3)
            highlights.append(Highlight("input", origin, stencil, "window", "window"))
        highlights.append(self._output_highlight())
        return Scene(repr(self.layer), self.n_frames, (inp, out), tuple(highlights), LazyCaptions(self), self._vmax())


# -- backward ---------------------------------------------------------------------------------------


def _adaptive_backward(self: AdaptiveAvgPoolTrace, g: np.ndarray) -> BackwardTrace:
    return spread(self, g, self.row_start, self.row_end, self.col_start, self.col_end, 0, 0)


AdaptiveAvgPoolTrace._backward = _adaptive_backward
