"""AvgPool2d: a window slides over each channel and keeps its mean.

For input ``x: (N, C, H, W)`` (or ``(C, H, W)``), with kernel ``(kH, kW)``, stride ``(sH, sW)`` and padding
``(pH, pW)`` (the windows and the output size: :mod:`~layerviz.layers._pool_windows`)::

    out[n, c, i, j] = sum_{p, q} xpad[n, c, i*sH + p, j*sW + q] / divisor      (padding is 0)

The divisor is ``kH*kW`` cut to the padded input (``count_include_pad=True``), or the number of input
cells in the window (``count_include_pad=False``), or ``divisor_override``. Backward: each output cell's
gradient spread over its window, divided by the divisor (:func:`~layerviz.layers._pool_average.spread`).
"""

from __future__ import annotations

import numbers

import numpy as np

from layerviz import _checks
from layerviz.backward import BackwardTrace, HasBackward
from layerviz.layers._module import Setting
from layerviz.layers._pool_average import AvgPoolFrame, _AverageFrames, spread
from layerviz.layers._pool_trace import Window, _WindowPoolTrace
from layerviz.layers._pool_windows import IntOrPair, _WindowPool2d, pair, torch_stride, windows_naive
from layerviz.scene import Scene
from layerviz.trace import LazyCaptions


def _divisor_override(name: str, value: object) -> int | None:
    """None, or a non-zero int."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer or None, got {value!r}")
    if value == 0:
        raise ValueError(f"{name} must not be 0")
    return int(value)


class AvgPool2d(_WindowPool2d):
    """2-D average pooling with ``torch.nn.AvgPool2d``'s arguments: each window keeps its mean.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: the kernel size.
    padding : int or (int, int), default 0
        Zeros added on each side, at most half the kernel size.
    ceil_mode : bool, default False
        Round the output size up: the last window may run past the padded input.
    count_include_pad : bool, default True
        Divide by the window's size (cut to the padded input), padding zeros included;
        False: by the number of input cells in the window.
    divisor_override : int, optional
        Divide every window's sum by this instead (not 0).

    Examples
    --------
    >>> AvgPool2d(2)(np.array([[[1.0, 3.0, 2.0, 0.0], [5.0, 4.0, 1.0, 1.0],
    ...                         [0.0, 2.0, 6.0, 8.0], [1.0, 1.0, 7.0, 3.0]]]))
    array([[[3.25, 1.  ],
            [1.  , 6.  ]]])
    """

    count_include_pad = Setting(_checks.flag)
    divisor_override = Setting(_divisor_override)

    def __init__(
        self,
        kernel_size: IntOrPair,
        stride: IntOrPair | None = None,
        padding: IntOrPair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        self._set_window(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    @classmethod
    def _from_torch(cls, module) -> AvgPool2d:
        """The layer equal to a ``torch.nn.AvgPool2d`` (see :func:`layerviz.from_torch`)."""
        return cls(module.kernel_size, stride=torch_stride(module.stride), padding=module.padding,
                   ceil_mode=module.ceil_mode, count_include_pad=module.count_include_pad,
                   divisor_override=module.divisor_override)

    def divisors(self, height: int, width: int) -> np.ndarray:
        """The divisor of every window, ``(OH, OW)`` int64, for an input of ``height x width``."""
        oh, ow = self.output_size(height, width)
        if self.divisor_override is not None:
            return np.full((oh, ow), self.divisor_override, dtype=np.int64)
        counts = []
        for size, length, kernel, stride, pad in zip((height, width), (oh, ow), pair(self.kernel_size),
                                                     pair(self.stride), pair(self.padding)):
            start = np.arange(length) * stride - pad
            end = np.minimum(start + kernel, size + pad)  # cut to the padded input (ceil_mode)
            counts.append(end - start if self.count_include_pad else np.minimum(end, size) - np.maximum(start, 0))
        return np.multiply.outer(*counts).astype(np.int64)

    def _pool(self, batched: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(out, sums, divisors)``: ``(N, C, OH, OW)``, ``(N, C, OH, OW)``, ``(OH, OW)``."""
        ext, oh, ow = self._extended(batched, 0.0)
        sums = self._windows(ext, oh, ow).sum(axis=(-2, -1))
        divisors = self.divisors(*batched.shape[2:])
        return sums / divisors, sums, divisors

    def forward(self, x) -> np.ndarray:
        """Average-pool ``x: (C, H, W)`` or ``(N, C, H, W)``; returns ``(C, OH, OW)`` or ``(N, C, OH, OW)``."""
        out = self._pool(self._check_input(x))[0]
        return out if np.ndim(x) == 4 else out[0]

    __call__ = forward

    def frames(self, x) -> AvgPoolTrace:
        """The forward pass one output cell (one window) per frame, in row-major order of the output."""
        return AvgPoolTrace(self, x)

    def __repr__(self) -> str:
        text = f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        # torch's repr stops here; the settings it hides are shown when they are not the defaults
        if self.ceil_mode:
            text += ", ceil_mode=True"
        if not self.count_include_pad:
            text += ", count_include_pad=False"
        if self.divisor_override is not None:
            text += f", divisor_override={self.divisor_override}"
        return text + ")"


def avg_pool2d_naive(pool: AvgPool2d, x: np.ndarray) -> np.ndarray:
    """The definition, as plain loops, for ``x: (N, C, H, W)`` already checked."""
    h, w = x.shape[2:]
    ph, pw = pair(pool.padding)
    out = np.zeros((*x.shape[:2], *pool.output_size(h, w)))
    for n, c, i, j, cells in windows_naive(pool, x):
        total, in_input, in_padded = 0.0, 0, 0
        for r, col in cells:
            if -ph <= r < h + ph and -pw <= col < w + pw:  # on the padded input
                in_padded += 1
                if 0 <= r < h and 0 <= col < w:
                    in_input += 1
                    total += x[n, c, r, col]
        if pool.divisor_override is not None:
            divisor = pool.divisor_override
        else:
            divisor = in_padded if pool.count_include_pad else in_input
        out[n, c, i, j] = total / divisor
    return out


class AvgPoolTrace(HasBackward, _AverageFrames, _WindowPoolTrace):
    """The frames of ``avg_pool(x)``: one per output cell, ``(n, c, i, j)`` in row-major order.

    The forward pass is computed once, vectorized; ``trace[k]`` is built in O(1). Besides the
    attributes of every pooling trace (``input``, ``padded`` with zero padding, ``padding_mask``,
    ``output``, ``output4``):

    Attributes
    ----------
    sums : ndarray, shape (N, C, OH, OW)
        Each window's sum.
    divisors : ndarray of int64, shape (OH, OW)
        Each window's divisor.
    """

    def __init__(self, pool: AvgPool2d, x) -> None:
        batched = pool._check_input(x)
        out4, self.sums, self.divisors = pool._pool(batched)
        ph, pw = pair(pool.padding)
        padded = np.pad(batched, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        self._setup(pool, x, padded, pool._padding_mask(*batched.shape[2:]), out4)
        self._freeze(self.sums, self.divisors)

    def _frame(self, k: int) -> AvgPoolFrame:
        pool = self.layer
        window = self._window(k)
        counted = np.ones_like(window.is_padding) if pool.count_include_pad else ~window.is_padding
        counted.flags.writeable = False
        return self._average_frame(k, window, counted, self._notes(window))

    def _notes(self, window: Window) -> list[str]:
        """What sets this window's divisor, when it is not simply the kernel's size."""
        pool = self.layer
        notes = []
        if pool.divisor_override is not None:
            notes.append(f"divisor_override={pool.divisor_override}")
        elif window.is_padding.any():
            notes.append("padding counts as 0" if pool.count_include_pad else "padding not counted")
        if window.values.shape != pair(pool.kernel_size):
            notes.append("window cut at the edge of the padded input")
        return notes

    def scene(self) -> Scene:
        """Input (padded) → output, with the window and the output cell lit per frame."""
        inp, out = self._grids("input (padded)" if self.padding_mask.any() else "input", "avg pool")
        highlights = (self._window_highlight(), self._output_highlight())
        return Scene(repr(self.layer), self.n_frames, (inp, out), highlights, LazyCaptions(self), self._vmax())


# -- backward ---------------------------------------------------------------------------------------


def _avg_backward(self: AvgPoolTrace, g: np.ndarray) -> BackwardTrace:
    (kh, kw), (sh, sw), (ph, pw), _ = self.layer._geometry()
    oh, ow = self.output4.shape[2:]
    row_lo, col_lo = np.arange(oh) * sh, np.arange(ow) * sw
    return spread(self, g, row_lo, row_lo + kh, col_lo, col_lo + kw, ph, pw)


AvgPoolTrace._backward = _avg_backward
