"""Pooling (subsampling): a window slides over each channel and keeps one number per position.

For input ``x: (N, C, H, W)`` (or ``(C, H, W)``), every channel is pooled on its own; the output is
``(N, C, OH, OW)``. With kernel ``(kH, kW)``, stride ``(sH, sW)`` (default: the kernel size),
padding ``(pH, pW)`` and, for max pooling, dilation ``(dH, dW)``::

    MaxPool2d:         out[n, c, i, j] = max_{p, q} xpad[n, c, i*sH + p*dH, j*sW + q*dW]      (padding is -inf)
    AvgPool2d:         out[n, c, i, j] = sum_{p, q} xpad[n, c, i*sH + p, j*sW + q] / divisor   (padding is 0)
    AdaptiveAvgPool2d: out[n, c, i, j] = mean of x[n, c, floor(i*H/OH) : ceil((i+1)*H/OH),
                                                          floor(j*W/OW) : ceil((j+1)*W/OW)]

The output has ``OH = floor((H + 2*pH - dH*(kH - 1) - 1) / sH) + 1`` rows (likewise ``OW``). With
``ceil_mode`` the division rounds up, so the last window may run past the padded input (the cells
past it are ignored), but a window that would start in the bottom padding is dropped, as in torch.
The average's divisor is ``kH*kW`` cut to the padded input (``count_include_pad=True``), or the
number of input cells in the window (``count_include_pad=False``), or ``divisor_override``.
Padding must be at most half the kernel size (``p <= k // 2``).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz.layers._module import Module, Setting
from layerviz.scene import Grid, Highlight, Scene
from layerviz.backward import BackwardTrace, HasBackward, Section, name as grad_name, sum_of
from layerviz.trace import LazyCaptions, Trace

IntOrPair = int | tuple[int, int]

#: Window cells listed one by one in a narration; bigger windows are abridged with "…".
_MAX_TERMS = 9

#: Highlight anchor for a frame where a highlight is not in use: every cell lands outside the grid,
#: and the renderers (browser and matplotlib) draw no cell outside a grid.
_OFF_GRID = -(2**30)


def _torch_form(name: str, value: object, minimum: int) -> IntOrPair:
    """``value`` checked, in torch's form: an int stays an int, a pair becomes a tuple."""
    pair = _checks.int_pair(name, value, minimum)
    return pair if isinstance(value, (tuple, list)) else pair[0]


def _torch_form_of(minimum: int):
    """The check of a window setting: ``check(name, value)`` gives :func:`_torch_form`'s value."""

    def check(name: str, value: object) -> IntOrPair:
        return _torch_form(name, value, minimum)

    return check


def _pair(value: IntOrPair) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def _pooled_length(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape``: windows along one axis (may be < 1 if the kernel does not fit)."""
    room = size + 2 * pad - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return room // stride + 1
    length = (room + stride - 1) // stride + 1
    if (length - 1) * stride >= size + pad:  # the last window would start in the bottom/right padding
        length -= 1
    return length


def _torch_stride(stride):
    """torch stores ``stride=[]`` for "the kernel size"; layerviz says None."""
    return None if isinstance(stride, (tuple, list)) and len(stride) == 0 else stride


# -- the layers ----------------------------------------------------------------------------------


class _WindowPool2d(Module):
    """What MaxPool2d and AvgPool2d share: kernel, stride, padding, ceil_mode, output size, input checks.

    The settings are checked whenever they are set (``pool.stride = 0`` raises there), as the
    constructor checks them; padding against the kernel size is checked when the layer runs.
    """

    _dilation: tuple[int, int] = (1, 1)

    kernel_size = Setting(_torch_form_of(1))
    padding = Setting(_torch_form_of(0))
    ceil_mode = Setting(_checks.flag)

    @property
    def stride(self) -> IntOrPair:
        """The step between windows. The constructor's ``stride=None`` is the kernel size then (as torch
        stores it); ``pool.stride = None`` later means the kernel size, whatever it becomes."""
        stride = self.__dict__.get("_stride")
        return self.kernel_size if stride is None else stride

    @stride.setter
    def stride(self, value: IntOrPair | None) -> None:
        self.__dict__["_stride"] = None if value is None else _torch_form("stride", value, 1)

    def _set_window(self, kernel_size, stride, padding, ceil_mode) -> None:
        self.kernel_size = kernel_size
        self.stride = self.kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self._check_settings()

    def _check_settings(self) -> None:
        """Padding at most half the kernel size (torch's rule)."""
        (kh, kw), (ph, pw) = _pair(self.kernel_size), _pair(self.padding)
        if ph > kh // 2 or pw > kw // 2:
            raise ValueError(
                f"padding must be at most half the kernel size, got padding={self.padding} "
                f"for kernel_size={self.kernel_size}"
            )

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Output ``(OH, OW)`` for an input of ``height x width``; ValueError if the kernel does not fit."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(self.kernel_size), _pair(self.stride),
                                                  _pair(self.padding), self._dilation)
        oh = _pooled_length(height, kh, sh, ph, dh, self.ceil_mode)
        ow = _pooled_length(width, kw, sw, pw, dw, self.ceil_mode)
        if oh < 1 or ow < 1:
            span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
            rule = " by more than stride - 1 (ceil_mode)" if self.ceil_mode else ""
            dilated = f" with dilation {self.dilation}" if self._dilation != (1, 1) else ""
            raise ValueError(
                f"kernel_size {self.kernel_size}{dilated} spans {span_h}x{span_w} cells, larger than the padded "
                f"input {height + 2 * ph}x{width + 2 * pw}{rule}"
            )
        return oh, ow

    output_shape = output_size

    def _check_input(self, x) -> np.ndarray:
        """Return ``x`` as a finite, non-empty ``(N, C, H, W)`` float64 array the kernel fits."""
        self._check_settings()
        batched = _check_pool_input(x)
        self.output_size(*batched.shape[2:])
        return batched

    def _extended(self, batched: np.ndarray, fill: float) -> tuple[np.ndarray, int, int]:
        """The padded input, grown with ``fill`` until every window fits (ceil_mode); and ``(OH, OW)``."""
        n, c, h, w = batched.shape
        oh, ow = self.output_size(h, w)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(self.kernel_size), _pair(self.stride),
                                                  _pair(self.padding), self._dilation)
        ext_h = max(h + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1)
        ext_w = max(w + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1)
        ext = np.full((n, c, ext_h, ext_w), fill)
        ext[:, :, ph : ph + h, pw : pw + w] = batched
        return ext, oh, ow

    def _windows(self, ext: np.ndarray, oh: int, ow: int) -> np.ndarray:
        """View of every window: ``(N, C, OH, OW, kH, kW)``."""
        (kh, kw), (sh, sw), (dh, dw) = _pair(self.kernel_size), _pair(self.stride), self._dilation
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        return sliding_window_view(ext, span, axis=(2, 3))[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw,
                                                           ::dh, ::dw]

    def _padding_mask(self, height: int, width: int) -> np.ndarray:
        """``(H + 2pH, W + 2pW)`` bool, True on padding."""
        ph, pw = _pair(self.padding)
        mask = np.ones((height + 2 * ph, width + 2 * pw), dtype=bool)
        mask[ph : ph + height, pw : pw + width] = False
        return mask


def _check_pool_input(x) -> np.ndarray:
    x = _checks.finite_array("x", x, (3, 4), "(C, H, W) or (N, C, H, W)")
    if 0 in x.shape:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    return x if x.ndim == 4 else x[None]


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

    dilation = Setting(_torch_form_of(1))
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
        return _pair(self.dilation)

    def _tuple_output(self) -> tuple[str, str] | None:
        if self.return_indices:
            return "(values, indices)", "set return_indices=False to pass only the values on"
        return None

    @classmethod
    def _from_torch(cls, module) -> MaxPool2d:
        """The layer equal to a ``torch.nn.MaxPool2d`` (see :func:`layerviz.from_torch`)."""
        return cls(module.kernel_size, stride=_torch_stride(module.stride), padding=module.padding,
                   dilation=module.dilation, return_indices=module.return_indices, ceil_mode=module.ceil_mode)

    def _pool(self, batched: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(out, tap, indices)``, each ``(N, C, OH, OW)``: the maxima, the winning tap of each window
        (row-major index into its ``kH x kW`` cells) and torch's flat input index ``row * W + col``."""
        ext, oh, ow = self._extended(batched, -np.inf)
        windows = self._windows(ext, oh, ow)
        flat = windows.reshape(*windows.shape[:4], -1)
        tap = flat.argmax(axis=-1)  # first maximum in row-major order, as torch's strict ">" scan
        out = np.take_along_axis(flat, tap[..., None], axis=-1)[..., 0]
        (_, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(self.kernel_size), _pair(self.stride),
                                                 _pair(self.padding), self._dilation)
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
        return cls(module.kernel_size, stride=_torch_stride(module.stride), padding=module.padding,
                   ceil_mode=module.ceil_mode, count_include_pad=module.count_include_pad,
                   divisor_override=module.divisor_override)

    def divisors(self, height: int, width: int) -> np.ndarray:
        """The divisor of every window, ``(OH, OW)`` int64, for an input of ``height x width``."""
        oh, ow = self.output_size(height, width)
        if self.divisor_override is not None:
            return np.full((oh, ow), self.divisor_override, dtype=np.int64)
        counts = []
        for size, length, kernel, stride, pad in zip((height, width), (oh, ow), _pair(self.kernel_size),
                                                     _pair(self.stride), _pair(self.padding)):
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
        out = self._pool(_check_pool_input(x))[0]
        return out if np.ndim(x) == 4 else out[0]

    __call__ = forward

    def frames(self, x) -> AdaptiveAvgPoolTrace:
        """The forward pass one output cell (one window) per frame, in row-major order of the output."""
        return AdaptiveAvgPoolTrace(self, x)

    def __repr__(self) -> str:
        return f"AdaptiveAvgPool2d(output_size={self.output_size})"


# -- the definitions, as plain loops --------------------------------------------------------------


def _windows_naive(layer: _WindowPool2d, x: np.ndarray):
    """Yield ``(n, c, i, j, cells)`` with ``cells`` the ``(row, col)`` input cells of each window, by loops."""
    n_samples, channels, h, w = x.shape
    oh, ow = layer.output_size(h, w)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding),
                                              layer._dilation)
    for n in range(n_samples):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    cells = [(i * sh - ph + p * dh, j * sw - pw + q * dw) for p in range(kh) for q in range(kw)]
                    yield n, c, i, j, cells


def max_pool2d_naive(pool: MaxPool2d, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The definition, as plain loops: ``(out, indices)`` for ``x: (N, C, H, W)`` already checked.

    Padding cells are skipped (they never win); the first largest cell wins a tie. A window of
    padding only gives ``-inf``, and torch's index: its first cell at row >= 0 and column >= 0.
    """
    h, w = x.shape[2:]
    out = np.zeros((*x.shape[:2], *pool.output_size(h, w)))
    indices = np.zeros(out.shape, dtype=np.int64)
    for n, c, i, j, cells in _windows_naive(pool, x):
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


def avg_pool2d_naive(pool: AvgPool2d, x: np.ndarray) -> np.ndarray:
    """The definition, as plain loops, for ``x: (N, C, H, W)`` already checked."""
    h, w = x.shape[2:]
    ph, pw = _pair(pool.padding)
    out = np.zeros((*x.shape[:2], *pool.output_size(h, w)))
    for n, c, i, j, cells in _windows_naive(pool, x):
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


# -- frames --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PoolFrame:
    """One output cell of a pooling layer: the window it summarises.

    Attributes
    ----------
    index : int
        Position in the trace.
    cell : tuple of int
        The output cell filled: ``(n, c, i, j)``, or ``(c, i, j)`` for an unbatched input.
    rows, cols : ndarray of int, shape (h,), (w,)
        Rows and columns of the window's cells in the padded input (``trace.padded``); cells a
        ``ceil_mode`` window would have past the padded input are left out.
    window : ndarray, shape (h, w)
        The values in the window: input cells and padding (``-inf`` for max pooling, 0 for average).
    is_padding : ndarray of bool, shape (h, w)
        True where the window reads padding.
    result : float
        The output cell.
    narration : str
        The arithmetic in words and numbers.
    """

    index: int
    cell: tuple[int, ...]
    rows: np.ndarray
    cols: np.ndarray
    window: np.ndarray
    is_padding: np.ndarray
    result: float
    narration: str
    _trace: _PoolTrace
    #: What the frame asks a student to predict (None when the window's values are abridged with "…").
    question: Ask | None = field(default=None, kw_only=True)

    @property
    def output_so_far(self) -> np.ndarray:
        """The output of this frame's sample, ``(C, OH, OW)``, NaN where not yet computed."""
        trace = self._trace
        sample = self.index // trace.frames_per_sample
        computed = np.arange(trace.frames_per_sample).reshape(trace.output4.shape[1:]) <= self.index % trace.frames_per_sample
        return np.where(computed, trace.output4[sample], np.nan)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.index}: {self.narration})"


@dataclass(frozen=True, eq=False, repr=False)
class MaxPoolFrame(PoolFrame):
    """A max-pooling frame (see :class:`PoolFrame`), and where the maximum is.

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


@dataclass(frozen=True, eq=False, repr=False)
class AvgPoolFrame(PoolFrame):
    """An average-pooling frame (see :class:`PoolFrame`): ``result = total / divisor``.

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


def _cells(values, is_padding, number=_number) -> list[str]:
    """Each cell as text, ``"pad"`` for padding."""
    return ["pad" if pad else number(v) for v, pad in zip(np.ravel(values), np.ravel(is_padding))]


def _abridged(terms: list[str]) -> list[str]:
    return terms if len(terms) <= _MAX_TERMS else terms[:3] + ["…"] + terms[-2:]


def _cell_name(cell: tuple[int, ...]) -> str:
    return ",".join(map(str, cell))


# -- traces --------------------------------------------------------------------------------------


class _PoolTrace(Trace):
    """What the pooling traces share: the input, the padded input, the output, frame ``k``'s cell.

    Attributes
    ----------
    input : ndarray
        ``x`` as given, ``(C, H, W)`` or ``(N, C, H, W)``.
    padded : ndarray, shape (N, C, H + 2pH, W + 2pW)
        The input with the padding the layer pools over (``-inf`` for max pooling, 0 for average).
    padding_mask : ndarray of bool, shape (H + 2pH, W + 2pW)
        True on padding.
    output : ndarray
        The layer's output, shaped like torch's (unbatched if ``x`` was).
    output4 : ndarray, shape (N, C, OH, OW)
    """

    def _setup(self, layer, x, padded: np.ndarray, padding_mask: np.ndarray, output4: np.ndarray) -> None:
        self.layer = layer
        self.input = np.array(_checks.plain(x), dtype=np.float64)
        self.batched = self.input.ndim == 4
        self.padded = padded
        self.padding_mask = padding_mask
        self.output4 = output4
        self.output = output4 if self.batched else output4[0]
        self.frames_per_sample = int(np.prod(output4.shape[1:]))
        self.n_frames = int(output4.size)

    def _freeze(self, *arrays: np.ndarray) -> None:
        """Frames hand out views of these arrays: read-only, so a frame cannot change its trace."""
        for array in (self.input, self.padded, self.padding_mask, self.output4, self.output, *arrays):
            array.flags.writeable = False

    def _locate(self, k: int) -> tuple[int, int, int, int, tuple[int, ...]]:
        n, c, i, j = (int(v) for v in np.unravel_index(k, self.output4.shape))
        return n, c, i, j, ((n, c, i, j) if self.batched else (c, i, j))

    def _frame_origins(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(slice, i, j, sample)`` of every frame, int32, where slice is ``n*C + c``."""
        n, c, i, j = (a.ravel() for a in np.indices(self.output4.shape, dtype=np.int32))
        return n * self.output4.shape[1] + c, i, j, n

    def _grids(self, title: str, output_title: str = "output") -> tuple[Grid, Grid]:
        """The input grid (padding drawn hatched, shown as 0) and the output grid filling up; an input that is a
        picture (a digit, a photo, an upload) is drawn in greys, and so is its pooled output (made of its values)."""
        from layerviz.scene import picture_cmap

        cmap = picture_cmap(self, self.input)
        n_samples, channels, padded_h, padded_w = self.padded.shape
        oh, ow = self.output4.shape[2:]
        _, _, _, sample = self._frame_origins()
        shown = np.where(self.padding_mask, 0.0, self.padded).reshape(-1, padded_h, padded_w)
        prefix = "{n}," if self.batched else ""
        inp = Grid(
            "input",
            title,
            shown,
            tuple(("x[" + prefix + "{c}]").format(n=n, c=c) for n in range(n_samples) for c in range(channels)),
            padding=np.broadcast_to(self.padding_mask, shown.shape) if self.padding_mask.any() else None,
            page_size=channels,
            page=sample,
            cmap=cmap,
        )
        out = Grid(
            "output",
            output_title,
            self.output4.reshape(-1, oh, ow),
            tuple(("out[" + prefix + "{c}]").format(n=n, c=c) for n in range(n_samples) for c in range(channels)),
            reveal=np.arange(self.n_frames, dtype=np.int32).reshape(-1, oh, ow),
            page_size=channels,
            page=sample,
            op="→",
            cmap=cmap,
        )
        return inp, out

    def _vmax(self) -> float:
        shown = np.where(self.padding_mask, 0.0, self.padded)
        output = self.output4[np.isfinite(self.output4)]  # max pooling: -inf where a window reads only padding
        return max(float(np.abs(shown).max()), float(np.abs(output).max(initial=0.0))) or 1.0

    def _output_highlight(self) -> Highlight:
        slice_, i, j, _ = self._frame_origins()
        return Highlight("output", np.stack([slice_, i, j], axis=1), np.zeros((1, 3), dtype=np.int32), "output",
                         "output cell")


class _WindowPoolTrace(_PoolTrace):
    """Max and average pooling: windows on a grid of fixed stride."""

    def _window_axes(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of window ``(i, j)`` in the padded input (cells past it left out)."""
        layer = self.layer
        (kh, kw), (sh, sw), (dh, dw) = _pair(layer.kernel_size), _pair(layer.stride), layer._dilation
        rows, cols = i * sh + dh * np.arange(kh), j * sw + dw * np.arange(kw)
        return rows[rows < self.padded.shape[2]], cols[cols < self.padded.shape[3]]

    def _window_views(self, n: int, c: int, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Read-only views of the window's values and padding mask (rows and columns are evenly spaced)."""
        (dh, dw) = self.layer._dilation
        at = (slice(rows[0], rows[-1] + 1, dh), slice(cols[0], cols[-1] + 1, dw))
        return self.padded[n, c][at], self.padding_mask[at]

    def _window_highlight(self) -> Highlight:
        """The window's cells; a ``ceil_mode`` window's cells past the padded input fall off the grid."""
        layer = self.layer
        (kh, kw), (sh, sw), (dh, dw) = _pair(layer.kernel_size), _pair(layer.stride), layer._dilation
        slice_, i, j, _ = self._frame_origins()
        stencil = np.stack(np.indices((1, kh, kw), dtype=np.int32), axis=-1).reshape(-1, 3)
        return Highlight("input", np.stack([slice_, i * sh, j * sw], axis=1),
                         stencil * np.array([1, dh, dw], dtype=np.int32), "window", "window")


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
        ph, pw = _pair(pool.padding)
        padded = np.pad(batched, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
        self._setup(pool, x, padded, pool._padding_mask(*batched.shape[2:]), out4)
        self.indices4 = indices4
        self.indices = indices4 if self.batched else indices4[0]
        self._freeze(self._tap, self.indices4, self.indices)

    def _frame(self, k: int) -> MaxPoolFrame:
        n, c, i, j, cell = self._locate(k)
        rows, cols = self._window_axes(i, j)
        window, is_padding = self._window_views(n, c, rows, cols)
        kw = _pair(self.layer.kernel_size)[1]
        tap = int(self._tap[n, c, i, j])
        result = float(self.output4[n, c, i, j])
        argmax = position = None
        if result != -np.inf:
            argmax = (tap // kw, tap % kw)
            ph, pw = _pair(self.layer.padding)
            position = (int(rows[argmax[0]]) - ph, int(cols[argmax[1]]) - pw)
        narration, question = self._narrate(cell, window, is_padding, result, position)
        return MaxPoolFrame(
            index=k,
            cell=cell,
            rows=rows,
            cols=cols,
            window=window,
            is_padding=is_padding,
            result=result,
            narration=narration,
            _trace=self,
            question=question,
            argmax=argmax,
            position=position,
            input_index=int(self.indices4[n, c, i, j]),
        )

    @staticmethod
    def _narrate(cell, window, is_padding, result, position) -> tuple[str, Ask | None]:
        """``out[0,1,2] = max(0.50, 0.10, 0.30, 0.20) = 0.50`` (the maximum of numbers rounded alike is the
        rounded maximum: two decimals always add up), and the question (None when abridged)."""
        terms = _cells(window, is_padding)
        head = f"out[{_cell_name(cell)}] = max({', '.join(_abridged(terms))})"
        text = f"{head} = {_number(result)}"
        if position is None:
            return text + " (the dilated window jumps over the input and reads only padding; torch gives -inf)", None
        listed = len(terms) <= _MAX_TERMS
        if not listed:
            text += f" (largest of {len(terms)}, at x[{_cell_name(cell[:-2] + position)}])"
        if is_padding.any():
            text += "; padding never wins"
        return text, (Ask(f"{head} = ?", _number(result), result) if listed else None)

    def scene(self) -> Scene:
        """Input (padded) → output, with the window, its maximum and the output cell lit per frame."""
        inp, out = self._grids("input (padded)" if self.padding_mask.any() else "input", "max pool")
        slice_ = self._frame_origins()[0]
        ph, pw = _pair(self.layer.padding)
        width = self.input.shape[-1]
        winner = np.stack([slice_, self.indices4.ravel() // width + ph, self.indices4.ravel() % width + pw], axis=1)
        empty = np.isneginf(self.output4)
        if empty.any():  # windows of padding only: no winner; their -inf output drawn as padding
            winner[empty.ravel(), 1:] = _OFF_GRID
            out = Grid(out.name, out.title, np.where(empty, 0.0, self.output4).reshape(out.values.shape), out.labels,
                       padding=empty.reshape(out.values.shape), reveal=out.reveal, page_size=out.page_size,
                       page=out.page, op=out.op, cmap=out.cmap)
        highlights = (
            self._window_highlight(),
            Highlight("input", winner.astype(np.int32), np.zeros((1, 3), dtype=np.int32), "max", "maximum (kept)"),
            self._output_highlight(),
        )
        return Scene(repr(self.layer), self.n_frames, (inp, out), highlights, LazyCaptions(self), self._vmax())


class _AvgTraceMixin:
    """Average narration shared by AvgPoolTrace and AdaptiveAvgPoolTrace."""

    @staticmethod
    def _narrate(cell, window, is_padding, counted, total, divisor, result, notes: list[str]) -> tuple[str, Ask | None]:
        """``out[0,1,2] = (0.50 + 0.10 + 0.30 + 0.20) / 4 = 0.28``, with the decimals that make the sum, redone,
        give the result shown (the sum of many terms shown instead: ``… = 5.12 / 16 = 0.32``); and the question
        (the terms listed, the result hidden), None when abridged."""
        shown_cells = counted | ~is_padding  # padding appears in the sum only when the divisor counts it
        values, padding = window[shown_cells], is_padding[shown_cells]
        listed = values.size <= _MAX_TERMS
        if listed:
            shown = redoable(np.where(padding, 0.0, values), [result], lambda o, _: [o.sum() / divisor])
            terms = ["pad" if pad else paren(text) for text, pad in zip(shown.operands, padding)]
        else:
            shown = redoable([total], [result], lambda o, _: [o[0] / divisor])
            terms = _cells(values, padding, lambda v: paren(_number(v)))
        head = f"out[{_cell_name(cell)}] = ({' + '.join(_abridged(terms))}) / {divisor}"
        if not listed:
            head += f" = {shown.operands[0]} / {divisor}"
        notes_text = f" ({'; '.join(notes)})" if notes else ""
        question = Ask(f"{head} = ?{notes_text}", shown.results[0], result) if listed else None
        return f"{head} = {shown.results[0]}{notes_text}", question


class AvgPoolTrace(HasBackward, _AvgTraceMixin, _WindowPoolTrace):
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
        ph, pw = _pair(pool.padding)
        padded = np.pad(batched, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        self._setup(pool, x, padded, pool._padding_mask(*batched.shape[2:]), out4)
        self._freeze(self.sums, self.divisors)

    def _frame(self, k: int) -> AvgPoolFrame:
        pool = self.layer
        n, c, i, j, cell = self._locate(k)
        rows, cols = self._window_axes(i, j)
        window, is_padding = self._window_views(n, c, rows, cols)
        counted = np.ones_like(is_padding) if pool.count_include_pad else ~is_padding
        counted.flags.writeable = False
        total, divisor, result = float(self.sums[n, c, i, j]), int(self.divisors[i, j]), float(self.output4[n, c, i, j])
        notes = []
        if pool.divisor_override is not None:
            notes.append(f"divisor_override={pool.divisor_override}")
        elif is_padding.any():
            notes.append("padding counts as 0" if pool.count_include_pad else "padding not counted")
        kh, kw = _pair(pool.kernel_size)
        if window.shape != (kh, kw):
            notes.append("window cut at the edge of the padded input")
        narration, question = self._narrate(cell, window, is_padding, counted, total, divisor, result, notes)
        return AvgPoolFrame(
            index=k,
            cell=cell,
            rows=rows,
            cols=cols,
            window=window,
            is_padding=is_padding,
            result=result,
            narration=narration,
            _trace=self,
            question=question,
            counted=counted,
            total=total,
            divisor=divisor,
        )

    def scene(self) -> Scene:
        """Input (padded) → output, with the window and the output cell lit per frame."""
        inp, out = self._grids("input (padded)" if self.padding_mask.any() else "input", "avg pool")
        highlights = (self._window_highlight(), self._output_highlight())
        return Scene(repr(self.layer), self.n_frames, (inp, out), highlights, LazyCaptions(self), self._vmax())


class AdaptiveAvgPoolTrace(HasBackward, _AvgTraceMixin, _PoolTrace):
    """The frames of ``adaptive_avg_pool(x)``: one per output cell, ``(n, c, i, j)`` in row-major order.

    No padding (``padded`` is the input). Besides ``input``, ``output``, ``output4``:

    Attributes
    ----------
    sums : ndarray, shape (N, C, OH, OW)
        Each window's sum.
    divisors : ndarray of int64, shape (OH, OW)
        Each window's size.
    row_start, row_end, col_start, col_end : ndarray of int
        Window bounds (see :meth:`AdaptiveAvgPool2d.bounds`).
    """

    def __init__(self, pool: AdaptiveAvgPool2d, x) -> None:
        batched = _check_pool_input(x)
        out4, self.sums, self.divisors = pool._pool(batched)
        self.row_start, self.row_end, self.col_start, self.col_end = pool.bounds(*batched.shape[2:])
        self._setup(pool, x, batched.copy(), np.zeros(batched.shape[2:], dtype=bool), out4)
        self._freeze(self.sums, self.divisors, self.row_start, self.row_end, self.col_start, self.col_end)

    def _frame(self, k: int) -> AvgPoolFrame:
        n, c, i, j, cell = self._locate(k)
        rows = np.arange(self.row_start[i], self.row_end[i])
        cols = np.arange(self.col_start[j], self.col_end[j])
        window = self.padded[n, c, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        is_padding = np.zeros(window.shape, dtype=bool)
        counted = ~is_padding
        for array in (is_padding, counted):
            array.flags.writeable = False
        total, divisor, result = float(self.sums[n, c, i, j]), int(self.divisors[i, j]), float(self.output4[n, c, i, j])
        narration, question = self._narrate(cell, window, is_padding, counted, total, divisor, result, [])
        return AvgPoolFrame(
            index=k,
            cell=cell,
            rows=rows,
            cols=cols,
            window=window,
            is_padding=is_padding,
            result=result,
            narration=narration,
            _trace=self,
            question=question,
            counted=counted,
            total=total,
            divisor=divisor,
        )

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
            origin[~active, 1:] = _OFF_GRID
            stencil = np.stack(np.indices((1, height, width), dtype=np.int32), axis=-1).reshape(-1, 3)
            highlights.append(Highlight("input", origin, stencil, "window", "window"))
        highlights.append(self._output_highlight())
        return Scene(repr(self.layer), self.n_frames, (inp, out), tuple(highlights), LazyCaptions(self), self._vmax())


# -- backward ---------------------------------------------------------------------------------------
#
# Max pooling routes each output cell's gradient to the input cell that won its window (the first maximum in
# row-major order, the index torch saves: on a tie the gradient goes to that one cell only); a cell that won
# several overlapping windows gathers all their gradients. Average pooling spreads each output cell's gradient
# over its window, divided by the window's divisor: dx[h, w] = sum over windows covering (h, w) of dout / divisor.


def _max_backward(self: MaxPoolTrace, g: np.ndarray) -> BackwardTrace:
    g4 = g if self.batched else g[None]
    n_samples, channels, height, width = (self.input if self.batched else self.input[None]).shape
    plane = height * width
    keys = ((np.arange(n_samples * channels) * plane).reshape(n_samples, channels, 1, 1) + self.indices4).ravel()
    dx4 = np.bincount(keys, weights=g4.ravel(), minlength=n_samples * channels * plane).reshape(
        n_samples, channels, height, width)
    dx = dx4 if self.batched else dx4[0]
    order = np.argsort(keys, kind="stable")  # the output cells routed to each input cell, together
    starts = np.searchsorted(keys[order], np.arange(n_samples * channels * plane + 1))
    out_shape = g4.shape

    def explain(index):
        flat = int(np.ravel_multi_index(index, dx.shape))
        cells = order[starts[flat] : starts[flat + 1]]
        values = g4.ravel()[cells]
        outs = [np.unravel_index(c, out_shape) for c in cells[:4]]
        names = ", ".join(grad_name("out", o if self.batched else o[1:]) for o in outs)
        names += ", …" if len(cells) > 4 else ""
        x_name, label = grad_name("x", index), grad_name("dx", index)
        if not len(cells):
            return values, f"{x_name} was no window's max, so it takes no gradient: {label} = 0.00", None
        text, ask = sum_of(label, values, float(dx[index]),
                           before=f"{x_name} was the max of {names}, so it takes their dout: ")
        return values, text, ask

    section = Section("input", "dx", "dL/dx (each dout routed to its window's max)", dx, explain)
    return BackwardTrace(self, g, [section], {"input": dx})


def _spread(self, g: np.ndarray, row_lo, row_hi, col_lo, col_hi, top: int, left: int) -> BackwardTrace:
    """Average pooling backward: each window's ``dout / divisor`` added over the window's cells."""
    g4 = g if self.batched else g[None]
    height, width = self.input.shape[-2:]
    share = g4 / self.divisors
    ext_h, ext_w = max(int(row_hi.max()), top + height), max(int(col_hi.max()), left + width)
    rows = ((np.arange(ext_h) >= row_lo[:, None]) & (np.arange(ext_h) < row_hi[:, None])).astype(np.float64)
    cols = ((np.arange(ext_w) >= col_lo[:, None]) & (np.arange(ext_w) < col_hi[:, None])).astype(np.float64)
    rows, cols = rows[:, top : top + height], cols[:, left : left + width]
    dx4 = np.einsum("ih,ncij,jw->nchw", rows, share, cols, optimize=True)
    dx = dx4 if self.batched else dx4[0]

    def explain(index):
        n, c, h, w = index if self.batched else (0, *index)
        ii, jj = np.nonzero(rows[:, h])[0], np.nonzero(cols[:, w])[0]
        ii, jj = np.repeat(ii, len(jj)), np.tile(jj, len(ii))
        values, divisors = g4[n, c, ii, jj], self.divisors[ii, jj].astype(np.float64)
        label, x_name = grad_name("dx", index), grad_name("x", index)
        if len(values) == 0:
            return [], f"no window covered {x_name}: {label} = 0.00", None
        before = f"dout / divisor from every window that covered {x_name}: "
        m, result = len(values), float(dx[index])
        if m <= 9:
            shown = redoable([*values, *divisors], [result], lambda o, _: [(o[:m] / o[m:]).sum()])
            terms = " + ".join(f"{paren(a)}/{int(b)}" for a, b in zip(shown.operands[:m], divisors))
            head = f"{label} = {terms}"
            return [*values, *divisors], f"{before}{head} = {shown.results[0]}", Ask(f"{head} = ?", shown.results[0], result)
        terms = [f"{paren(_number(a))}/{int(b)}" for a, b in zip(values[[0, 1, -1]], divisors[[0, 1, -1]])]
        text = f"{before}{label} = {terms[0]} + {terms[1]} + … ({m} windows) + {terms[2]} = {_number(result)}"
        return [*values, *divisors], text, None

    section = Section("input", "dx", "dL/dx (dout / divisor spread over each window)", dx, explain)
    return BackwardTrace(self, g, [section], {"input": dx})


def _avg_backward(self: AvgPoolTrace, g: np.ndarray) -> BackwardTrace:
    layer = self.layer
    (kh, kw), (sh, sw), (ph, pw) = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
    oh, ow = self.output4.shape[2:]
    row_lo, col_lo = np.arange(oh) * sh, np.arange(ow) * sw
    return _spread(self, g, row_lo, row_lo + kh, col_lo, col_lo + kw, ph, pw)


def _adaptive_backward(self: AdaptiveAvgPoolTrace, g: np.ndarray) -> BackwardTrace:
    return _spread(self, g, self.row_start, self.row_end, self.col_start, self.col_end, 0, 0)


MaxPoolTrace._backward = _max_backward
AvgPoolTrace._backward = _avg_backward
AdaptiveAvgPoolTrace._backward = _adaptive_backward
