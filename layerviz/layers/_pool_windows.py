"""The windows of max and average pooling: torch's window settings, checked, and where every window lies.

For input ``x: (N, C, H, W)`` (or ``(C, H, W)``), every channel is pooled on its own; the output is
``(N, C, OH, OW)``. With kernel ``(kH, kW)``, stride ``(sH, sW)`` (default: the kernel size),
padding ``(pH, pW)`` and, for max pooling, dilation ``(dH, dW)``, window ``(i, j)`` reads the cells
``xpad[n, c, i*sH + p*dH, j*sW + q*dW]`` for ``p < kH``, ``q < kW``.

The output has ``OH = floor((H + 2*pH - dH*(kH - 1) - 1) / sH) + 1`` rows (likewise ``OW``). With
``ceil_mode`` the division rounds up, so the last window may run past the padded input (the cells
past it are ignored), but a window that would start in the bottom padding is dropped, as in torch.
Padding must be at most half the kernel size (``p <= k // 2``).

The layers are in :mod:`~layerviz.layers.max_pool`, :mod:`~layerviz.layers.avg_pool` and
:mod:`~layerviz.layers.adaptive_pool`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from layerviz import _checks
from layerviz.layers._module import Module, Setting

IntOrPair = int | tuple[int, int]


def torch_form(name: str, value: object, minimum: int) -> IntOrPair:
    """``value`` checked, in torch's form: an int stays an int, a pair becomes a tuple."""
    pair_ = _checks.int_pair(name, value, minimum)
    return pair_ if isinstance(value, (tuple, list)) else pair_[0]


def torch_form_of(minimum: int):
    """The check of a window setting: ``check(name, value)`` gives :func:`torch_form`'s value."""

    def check(name: str, value: object) -> IntOrPair:
        return torch_form(name, value, minimum)

    return check


def pair(value: IntOrPair) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def pooled_length(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape``: windows along one axis (may be < 1 if the kernel does not fit)."""
    room = size + 2 * pad - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return room // stride + 1
    length = (room + stride - 1) // stride + 1
    if (length - 1) * stride >= size + pad:  # the last window would start in the bottom/right padding
        length -= 1
    return length


def torch_stride(stride):
    """torch stores ``stride=[]`` for "the kernel size"; layerviz says None."""
    return None if isinstance(stride, (tuple, list)) and len(stride) == 0 else stride


def check_pool_input(x) -> np.ndarray:
    """``x`` as a finite, non-empty ``(N, C, H, W)`` float64 array (a ``(C, H, W)`` input gets ``N = 1``)."""
    x = _checks.finite_array("x", x, (3, 4), "(C, H, W) or (N, C, H, W)")
    if 0 in x.shape:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    return x if x.ndim == 4 else x[None]


class _WindowPool2d(Module):
    """What MaxPool2d and AvgPool2d share: kernel, stride, padding, ceil_mode, output size, input checks.

    The settings are checked whenever they are set (``pool.stride = 0`` raises there), as the
    constructor checks them; padding against the kernel size is checked when the layer runs.
    """

    _dilation: tuple[int, int] = (1, 1)

    kernel_size = Setting(torch_form_of(1))
    padding = Setting(torch_form_of(0))
    ceil_mode = Setting(_checks.flag)

    @property
    def stride(self) -> IntOrPair:
        """The step between windows. The constructor's ``stride=None`` is the kernel size then (as torch
        stores it); ``pool.stride = None`` later means the kernel size, whatever it becomes."""
        stride = self.__dict__.get("_stride")
        return self.kernel_size if stride is None else stride

    @stride.setter
    def stride(self, value: IntOrPair | None) -> None:
        self.__dict__["_stride"] = None if value is None else torch_form("stride", value, 1)

    def _set_window(self, kernel_size, stride, padding, ceil_mode) -> None:
        self.kernel_size = kernel_size
        self.stride = self.kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self._check_settings()

    def _check_settings(self) -> None:
        """Padding at most half the kernel size (torch's rule)."""
        (kh, kw), (ph, pw) = pair(self.kernel_size), pair(self.padding)
        if ph > kh // 2 or pw > kw // 2:
            raise ValueError(
                f"padding must be at most half the kernel size, got padding={self.padding} "
                f"for kernel_size={self.kernel_size}"
            )

    def _geometry(self) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
        """``(kernel, stride, padding, dilation)``, each a ``(rows, cols)`` pair."""
        return pair(self.kernel_size), pair(self.stride), pair(self.padding), self._dilation

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Output ``(OH, OW)`` for an input of ``height x width``; ValueError if the kernel does not fit."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self._geometry()
        oh = pooled_length(height, kh, sh, ph, dh, self.ceil_mode)
        ow = pooled_length(width, kw, sw, pw, dw, self.ceil_mode)
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
        batched = check_pool_input(x)
        self.output_size(*batched.shape[2:])
        return batched

    def _extended(self, batched: np.ndarray, fill: float) -> tuple[np.ndarray, int, int]:
        """The padded input, grown with ``fill`` until every window fits (ceil_mode); and ``(OH, OW)``."""
        n, c, h, w = batched.shape
        oh, ow = self.output_size(h, w)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self._geometry()
        ext_h = max(h + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1)
        ext_w = max(w + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1)
        ext = np.full((n, c, ext_h, ext_w), fill)
        ext[:, :, ph : ph + h, pw : pw + w] = batched
        return ext, oh, ow

    def _windows(self, ext: np.ndarray, oh: int, ow: int) -> np.ndarray:
        """View of every window: ``(N, C, OH, OW, kH, kW)``."""
        (kh, kw), (sh, sw), _, (dh, dw) = self._geometry()
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        return sliding_window_view(ext, span, axis=(2, 3))[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw,
                                                           ::dh, ::dw]

    def _padding_mask(self, height: int, width: int) -> np.ndarray:
        """``(H + 2pH, W + 2pW)`` bool, True on padding."""
        ph, pw = pair(self.padding)
        mask = np.ones((height + 2 * ph, width + 2 * pw), dtype=bool)
        mask[ph : ph + height, pw : pw + width] = False
        return mask


def windows_naive(layer: _WindowPool2d, x: np.ndarray):
    """Yield ``(n, c, i, j, cells)`` with ``cells`` the ``(row, col)`` input cells of each window, by loops."""
    n_samples, channels, h, w = x.shape
    oh, ow = layer.output_size(h, w)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (pair(layer.kernel_size), pair(layer.stride), pair(layer.padding),
                                              layer._dilation)
    for n in range(n_samples):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    cells = [(i * sh - ph + p * dh, j * sw - pw + q * dw) for p in range(kh) for q in range(kw)]
                    yield n, c, i, j, cells
