"""Conv2d: a kernel (filter) sliding over the input.

For input ``x: (N, C, H, W)``, weight ``w: (O, C/groups, kH, kW)`` and bias ``b: (O,)``::

    out[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * xpad[n, g*C/groups + c, i*sH + p*dH, j*sW + q*dW]

where ``g = o // (O/groups)`` is the group of output channel ``o`` and ``xpad`` is the padded input.
The output has ``OH = (H + pad_top + pad_bottom - dH*(kH-1) - 1) // sH + 1`` rows (likewise ``OW``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz._format import number as fixed_number
from layerviz.layers._module import Module, Setting, check_shapes, pair_of
from layerviz.scene import Grid, Highlight, Scene
from layerviz.backward import BackwardTrace, HasBackward, Section, name as grad_name, sum_of, sum_of_products
from layerviz.trace import LazyCaptions, Trace

#: torch's padding_mode names and the numpy.pad modes that compute the same padding.
_NUMPY_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _padding(name: str, value: object) -> str | tuple[int, int]:
    """``'same'``, ``'valid'``, or an ``(h, w)`` pair of ints >= 0 (an int is used for both)."""
    if isinstance(value, str):
        if value not in ("same", "valid"):
            raise ValueError(f"{name} must be 'same', 'valid', an int or a pair of ints, got {value!r}")
        return value
    return _checks.int_pair(name, value, 0)


def _padding_mode(name: str, value: object) -> str:
    if not isinstance(value, str) or value not in _NUMPY_PAD_MODES:
        raise ValueError(f"{name} must be one of {sorted(_NUMPY_PAD_MODES)}, got {value!r}")
    return value


class Conv2d(Module):
    """A 2-D convolution with ``torch.nn.Conv2d``'s arguments and weight shapes.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output; both divisible by ``groups``.
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int, (int, int), 'valid' or 'same', default 0
        Cells added on each side. ``'same'`` keeps the input size (stride 1 only);
        an odd total is split with the extra cell at the bottom/right, as torch does.
    dilation : int or (int, int), default 1
        Spacing between kernel taps.
    groups : int, default 1
        Input and output channels are split into ``groups`` independent convolutions.
    bias : bool, default True
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}, default 'zeros'
    rng : numpy.random.Generator or int, optional
        Source of the initial weights, drawn like torch's: uniform on
        ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` with ``fan_in = C/groups * kH * kW``.

    Attributes
    ----------
    weight : ndarray, shape (out_channels, in_channels // groups, kH, kW)
    bias : ndarray, shape (out_channels,), or None

    Examples
    --------
    >>> conv = Conv2d(1, 1, kernel_size=2, bias=False)
    >>> conv.weight = [[[[0.0, 1.0], [2.0, 3.0]]]]
    >>> conv(np.arange(9.0).reshape(1, 3, 3))
    array([[[19., 25.],
            [37., 43.]]])
    """

    # Settings are checked whenever they are set, as the constructor checks them (``conv.stride = 2``
    # stores ``(2, 2)``); the rules between settings and the weight's shape are checked when the layer runs.
    in_channels = Setting(_checks.positive_int)
    out_channels = Setting(_checks.positive_int)
    kernel_size = Setting(pair_of(1))
    stride = Setting(pair_of(1))
    padding = Setting(_padding)
    dilation = Setting(pair_of(1))
    groups = Setting(_checks.positive_int)
    padding_mode = Setting(_padding_mode)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.groups = groups
        self.kernel_size = kernel_size
        self.stride = stride
        self.dilation = dilation
        self.padding_mode = padding_mode
        self.padding = padding
        self._check_settings()

        rng = _checks.generator("rng", rng)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(self.in_channels // self.groups * kh * kw)
        self.weight = rng.uniform(-bound, bound, self.weight_shape)
        self.bias = rng.uniform(-bound, bound, self.out_channels) if bias else None

    @classmethod
    def _from_torch(cls, module) -> Conv2d:
        """The layer equal to a ``torch.nn.Conv2d``, with a copy of its weights (see :func:`layerviz.from_torch`)."""
        conv = cls(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                   padding=module.padding, dilation=module.dilation, groups=module.groups,
                   bias=module.bias is not None, padding_mode=module.padding_mode)
        conv.weight = _checks.torch_array(module.weight)
        if module.bias is not None:
            conv.bias = _checks.torch_array(module.bias)
        return conv

    def _check_settings(self) -> None:
        """The rules between settings: channels divisible by ``groups``, ``padding='same'`` with stride 1."""
        for name, channels in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if channels % self.groups:
                raise ValueError(f"{name} must be divisible by groups, got {name}={channels}, groups={self.groups}")
        if self.padding == "same" and self.stride != (1, 1):
            raise ValueError(f"padding='same' needs stride 1, got stride={self.stride}")

    # -- parameters ---------------------------------------------------------------------------

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    @property
    def weight(self) -> np.ndarray:
        return self._weight

    @weight.setter
    def weight(self, value) -> None:
        self._weight = _checks.parameter("weight", value, self.weight_shape)

    @property
    def bias(self) -> np.ndarray | None:
        return self._bias

    @bias.setter
    def bias(self, value) -> None:
        self._bias = None if value is None else _checks.parameter("bias", value, (self.out_channels,))

    def pads(self) -> tuple[int, int, int, int]:
        """Cells added ``(top, bottom, left, right)``."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            (kh, kw), (dh, dw) = self.kernel_size, self.dilation
            total_h, total_w = dh * (kh - 1), dw * (kw - 1)
            return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Output ``(OH, OW)`` for an input of ``height x width``; ValueError if the kernel does not fit."""
        top, bottom, left, right = self.pads()
        (kh, kw), (dh, dw), (sh, sw) = self.kernel_size, self.dilation, self.stride
        span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        padded_h, padded_w = height + top + bottom, width + left + right
        if span_h > padded_h or span_w > padded_w:
            raise ValueError(
                f"kernel_size {self.kernel_size} with dilation {self.dilation} spans {span_h}x{span_w} cells, "
                f"larger than the padded input {padded_h}x{padded_w}"
            )
        return (padded_h - span_h) // sh + 1, (padded_w - span_w) // sw + 1

    # -- forward ------------------------------------------------------------------------------

    def _check_input(self, x) -> np.ndarray:
        """Return ``x`` as a finite ``(N, C, H, W)`` float64 array (after the settings and the weights' shapes)."""
        self._check_settings()
        check_shapes(self, {"weight": self.weight_shape, "bias": (self.out_channels,)},
                     "out_channels, in_channels, groups and kernel_size")
        x = _checks.finite_array("x", x, (3, 4), "(C, H, W) or (N, C, H, W)")
        batched = x if x.ndim == 4 else x[None]
        if batched.shape[1] != self.in_channels:
            raise ValueError(f"x must have in_channels={self.in_channels} channels, got {batched.shape[1]} (shape {x.shape})")
        if 0 in batched.shape:
            raise ValueError(f"x must not be empty, got shape {x.shape}")
        self.output_size(*batched.shape[2:])
        top, bottom, left, right = self.pads()
        if self.padding_mode == "circular" and (max(top, bottom) > batched.shape[2] or max(left, right) > batched.shape[3]):
            raise ValueError(f"padding must be at most the input size for padding_mode='circular', got pads {self.pads()} for input {batched.shape[2:]}")
        if self.padding_mode == "reflect" and (max(top, bottom) >= batched.shape[2] or max(left, right) >= batched.shape[3]):
            raise ValueError(f"padding must be smaller than the input for padding_mode='reflect', got pads {self.pads()} for input {batched.shape[2:]}")
        return batched

    def _pad(self, x: np.ndarray) -> np.ndarray:
        top, bottom, left, right = self.pads()
        return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=_NUMPY_PAD_MODES[self.padding_mode])

    def _windows(self, padded: np.ndarray) -> np.ndarray:
        """View of every window: ``(N, C, OH, OW, kH, kW)``."""
        (kh, kw), (dh, dw), (sh, sw) = self.kernel_size, self.dilation, self.stride
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        return sliding_window_view(padded, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]

    def forward(self, x) -> np.ndarray:
        """Convolve ``x: (C, H, W)`` or ``(N, C, H, W)``; returns ``(O, OH, OW)`` or ``(N, O, OH, OW)``."""
        batched = self._check_input(x)
        out = self._forward_padded(self._pad(batched))
        return out if np.ndim(x) == 4 else out[0]

    __call__ = forward

    def _forward_padded(self, padded: np.ndarray) -> np.ndarray:
        windows = self._windows(padded)
        n, _, oh, ow, kh, kw = windows.shape
        g, cg, og = self.groups, self.in_channels // self.groups, self.out_channels // self.groups
        grouped = windows.reshape(n, g, cg, oh, ow, kh, kw)
        out = np.einsum("ngchwpq,gocpq->ngohw", grouped, self.weight.reshape(g, og, cg, kh, kw), optimize=True)
        out = out.reshape(n, self.out_channels, oh, ow)
        if self.bias is not None:
            out += self.bias[:, None, None]
        return out

    def frames(self, x) -> ConvTrace:
        """The forward pass one output cell per frame, in row-major order of the output."""
        return ConvTrace(self, x)

    def __repr__(self) -> str:
        text = f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text + ")"


def conv2d_naive(conv: Conv2d, x: np.ndarray) -> np.ndarray:
    """The definition, as plain loops: the reference the tests hold the vectorized code to.

    ``x: (N, C, H, W)`` already checked; returns ``(N, O, OH, OW)``.
    """
    padded = conv._pad(x)
    n_samples = x.shape[0]
    oh, ow = conv.output_size(*x.shape[2:])
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    cg, og = conv.in_channels // conv.groups, conv.out_channels // conv.groups
    out = np.zeros((n_samples, conv.out_channels, oh, ow))
    for n in range(n_samples):
        for o in range(conv.out_channels):
            first_channel = (o // og) * cg
            for i in range(oh):
                for j in range(ow):
                    total = 0.0 if conv.bias is None else conv.bias[o]
                    for c in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                total += conv.weight[o, c, p, q] * padded[n, first_channel + c, i * sh + p * dh, j * sw + q * dw]
                    out[n, o, i, j] = total
    return out


@dataclass(frozen=True, eq=False)
class ConvFrame:
    """One output cell of a convolution and the arithmetic that fills it.

    Attributes
    ----------
    index : int
        Position in the trace.
    cell : tuple of int
        The output cell filled: ``(n, o, i, j)``, or ``(o, i, j)`` for an unbatched input.
    channels : ndarray of int, shape (Cg,)
        Input channels read (those of the output channel's group).
    rows, cols : ndarray of int, shape (kH,), (kW,)
        Rows and columns of the window in the padded input.
    window : ndarray, shape (Cg, kH, kW)
        Input values under the kernel, padding included.
    is_padding : ndarray of bool, shape (Cg, kH, kW)
        True where the window reads padding.
    kernel : ndarray, shape (Cg, kH, kW)
        ``weight[o]``.
    products : ndarray, shape (Cg, kH, kW)
        ``window * kernel``.
    partial_sums : ndarray, shape (Cg,)
        ``products`` summed per input channel.
    bias : float
        ``bias[o]``, or 0.0 without bias.
    result : float
        The output cell: ``partial_sums.sum() + bias``.
    narration : str
        The arithmetic in words and numbers.
    """

    index: int
    cell: tuple[int, ...]
    channels: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    window: np.ndarray
    is_padding: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    partial_sums: np.ndarray
    bias: float
    result: float
    narration: str
    _trace: ConvTrace
    #: What the frame asks a student to predict (None: a sum of products the narration does not list).
    question: Ask | None = None

    @property
    def output_so_far(self) -> np.ndarray:
        """The output of this frame's sample, ``(O, OH, OW)``, NaN where not yet computed."""
        trace = self._trace
        sample = self.index // trace.frames_per_sample
        computed = np.arange(trace.frames_per_sample).reshape(trace.output4.shape[1:]) <= self.index % trace.frames_per_sample
        return np.where(computed, trace.output4[sample], np.nan)

    def __repr__(self) -> str:
        return f"ConvFrame({self.index}: {self.narration})"


class ConvTrace(HasBackward, Trace):
    """The frames of ``conv(x)``: one per output cell, ``(n, o, i, j)`` in row-major order.

    The forward pass is computed once, vectorized; ``trace[k]`` slices frame ``k``'s
    window out of the padded input, so any frame costs the same.

    Attributes
    ----------
    input : ndarray
        ``x`` as given, ``(C, H, W)`` or ``(N, C, H, W)``.
    padded : ndarray, shape (N, C, H + pads, W + pads)
    output : ndarray
        ``conv(x)``, shaped like torch's (unbatched if ``x`` was).
    weight, bias : ndarray
        Copies of the layer's parameters when the trace was built: changing the layer
        afterwards does not change this trace.
    """

    def __init__(self, conv: Conv2d, x) -> None:
        batched = conv._check_input(x)
        self.layer = conv
        self.weight = conv.weight.copy()
        self.bias = None if conv.bias is None else conv.bias.copy()
        self.input = np.array(_checks.plain(x), dtype=np.float64)
        self.batched = self.input.ndim == 4
        self.padded = conv._pad(batched)
        self.output4 = conv._forward_padded(self.padded)
        self.output = self.output4 if self.batched else self.output4[0]
        self.frames_per_sample = int(np.prod(self.output4.shape[1:]))
        self.n_frames = self.output4.size
        top, bottom, left, right = conv.pads()
        self.padding_mask = np.ones(self.padded.shape[2:], dtype=bool)
        self.padding_mask[top : self.padded.shape[2] - bottom, left : self.padded.shape[3] - right] = False
        # frames hand out views of these arrays: read-only, so a frame cannot change its trace
        for array in (self.input, self.padded, self.output4, self.output, self.weight, self.bias, self.padding_mask):
            if array is not None:
                array.flags.writeable = False

    def _frame(self, k: int) -> ConvFrame:
        conv = self.layer
        n, o, i, j = np.unravel_index(k, self.output4.shape)
        (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
        cg = conv.in_channels // conv.groups
        first = (o // (conv.out_channels // conv.groups)) * cg
        channels = np.arange(first, first + cg)
        rows, cols = i * sh + dh * np.arange(kh), j * sw + dw * np.arange(kw)
        window = self.padded[n, first : first + cg][:, rows][:, :, cols]
        kernel = self.weight[o]
        products = window * kernel
        partial_sums = products.sum(axis=(1, 2))
        bias = 0.0 if self.bias is None else float(self.bias[o])
        cell = (int(n), int(o), int(i), int(j)) if self.batched else (int(o), int(i), int(j))
        result = float(self.output4[n, o, i, j])
        narration, question = self._narrate(cell, window, kernel, partial_sums, bias, result)
        return ConvFrame(
            index=k,
            cell=cell,
            channels=channels,
            rows=rows,
            cols=cols,
            window=window,
            is_padding=np.broadcast_to(self.padding_mask[np.ix_(rows, cols)], window.shape),
            kernel=kernel,
            products=products,
            partial_sums=partial_sums,
            bias=bias,
            result=result,
            narration=narration,
            _trace=self,
            question=question,
        )

    @staticmethod
    def _narrate(cell, window, kernel, partial_sums, bias, result) -> tuple[str, Ask | None]:
        """``out[0,1,2] = 0.50×1.00 + … + 0.10 (bias) = 2.35``; per-channel sums when terms are many.

        The numbers have the decimals with which the sum, redone from them, gives the result shown
        (:func:`~layerviz._format.redoable`). Returns the narration and the question: the products listed,
        the result hidden (None when per-channel sums stand for products not listed).
        """
        listed = window.size <= 9
        extra = [bias] if bias else []
        if listed:
            n = window.size
            shown = redoable([*window.ravel(), *kernel.ravel(), *extra], [result],
                             lambda o, _: [o[:n] @ o[n : 2 * n] + o[2 * n :].sum()])
            terms = [f"{paren(a)}×{paren(b)}" for a, b in zip(shown.operands[:n], shown.operands[n : 2 * n])]
        else:
            n = len(partial_sums)
            shown = redoable([*partial_sums, *extra], [result], lambda o, _: [o.sum()])
            terms = [f"{paren(s)} (channel {c})" if n > 1 else f"{paren(s)} (sum of {window.size} products)"
                     for c, s in enumerate(shown.operands[:n])]
            if len(terms) > 6:
                terms = terms[:3] + ["…"] + terms[-2:]
        if bias:
            terms.append(f"{paren(shown.operands[-1])} (bias)")
        head = f"out[{','.join(map(str, cell))}] = {' + '.join(terms)}"
        question = Ask(f"{head} = ?", shown.results[0], result) if listed else None
        return f"{head} = {shown.results[0]}", question

    def scene(self) -> Scene:
        """Input (padded) ∗ kernel + bias = output, with the window, kernel and cell lit per frame."""
        from layerviz.scene import picture_cmap

        conv = self.layer
        n_samples, channels, padded_h, padded_w = self.padded.shape
        _, out_channels, oh, ow = self.output4.shape
        cg, og = conv.in_channels // conv.groups, out_channels // conv.groups
        (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
        sample, o, i, j = (a.ravel() for a in np.indices(self.output4.shape, dtype=np.int32))
        stencil_cpq = np.stack(np.indices((cg, kh, kw), dtype=np.int32), axis=-1).reshape(-1, 3)

        panels = [
            Grid(
                "input",
                "input (padded)" if self.padding_mask.any() else "input",
                self.padded.reshape(-1, padded_h, padded_w),
                tuple((f"x[{n},{c}]" if self.batched else f"x[{c}]") for n in range(n_samples) for c in range(channels)),
                padding=np.broadcast_to(self.padding_mask, (n_samples * channels, padded_h, padded_w)),
                page_size=channels,
                page=sample,
                cmap=picture_cmap(self, self.input),  # a digit, a photo, an upload: drawn as a picture
            ),
            Grid(
                "kernel",
                "kernel (weight)",
                self.weight.reshape(-1, kh, kw),
                tuple(f"w[{oc},{c}]" for oc in range(out_channels) for c in range(cg)),
                page_size=cg,
                page=o,
                op="∗",
            ),
        ]
        highlights = [
            Highlight("input", np.stack([sample * channels + (o // og) * cg, i * sh, j * sw], axis=1),
                      stencil_cpq * np.array([1, dh, dw], dtype=np.int32), "window", "window"),
            Highlight("kernel", np.stack([o * cg, np.zeros_like(o), np.zeros_like(o)], axis=1), stencil_cpq, "kernel",
                      "kernel"),
        ]
        if self.bias is not None:
            panels.append(Grid("bias", "bias", self.bias.reshape(-1, 1, 1), tuple(f"b[{oc}]" for oc in range(out_channels)),
                               page_size=1, page=o, op="+"))
        out_prefix = "out[" + ("{n}," if self.batched else "")
        panels.append(
            Grid(
                "output",
                "output",
                self.output4.reshape(-1, oh, ow),
                tuple(out_prefix.format(n=n) + f"{oc}]" for n in range(n_samples) for oc in range(out_channels)),
                reveal=np.arange(self.n_frames, dtype=np.int32).reshape(-1, oh, ow),
                page_size=out_channels,
                page=sample,
                op="=",
            )
        )
        highlights.append(Highlight("output", np.stack([sample * out_channels + o, i, j], axis=1),
                                    np.zeros((1, 3), dtype=np.int32), "output", "output cell"))
        arrays = [self.padded, self.weight, self.output4] + ([] if self.bias is None else [self.bias])
        vmax = max(float(np.abs(a).max()) for a in arrays) or 1.0
        return Scene(repr(conv), self.n_frames, tuple(panels), tuple(highlights), LazyCaptions(self), vmax)


# -- backward ---------------------------------------------------------------------------------------
#
# With dout = dL/dout (N, O, OH, OW):
#     db[o]         = sum_{n,i,j} dout[n, o, i, j]
#     dw[o, c, p, q] = sum_{n,i,j} dout[n, o, i, j] × xpad[n, g*Cg + c, i*sH + p*dH, j*sW + q*dW]
#                     (each tap: the upstream gradient times the input cell that tap read, over every window)
#     dxpad[n, g*Cg + c, i*sH + p*dH, j*sW + q*dW] += dout[n, o, i, j] × w[o, c, p, q]
#                     (each input cell gathers gradient × weight from every window that covered it: for stride 1
#                     this is a "full" convolution of dout with the kernel flipped left-right and upside down)
# and dx is dxpad with the padding cells folded back onto the cells they copied (dropped for zero padding).


def conv2d_backward_naive(conv: Conv2d, x: np.ndarray, dout: np.ndarray):
    """The definition as plain loops: ``(dw, db, dx)`` for ``x: (N, C, H, W)`` and ``dout: (N, O, OH, OW)``
    (zero padding)."""
    padded = conv._pad(x)
    (kh, kw), (sh, sw), (dh, dw_) = conv.kernel_size, conv.stride, conv.dilation
    cg, og = conv.in_channels // conv.groups, conv.out_channels // conv.groups
    top, _, left, _ = conv.pads()
    dw, db, dxpad = np.zeros(conv.weight_shape), np.zeros(conv.out_channels), np.zeros(padded.shape)
    n_samples, _, oh, ow = dout.shape
    for n in range(n_samples):
        for o in range(conv.out_channels):
            first = (o // og) * cg
            for i in range(oh):
                for j in range(ow):
                    db[o] += dout[n, o, i, j]
                    for c in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                r, col = i * sh + p * dh, j * sw + q * dw_
                                dw[o, c, p, q] += dout[n, o, i, j] * padded[n, first + c, r, col]
                                dxpad[n, first + c, r, col] += dout[n, o, i, j] * conv.weight[o, c, p, q]
    return dw, db, dxpad[:, :, top : top + x.shape[2], left : left + x.shape[3]]


def _fold(mode: str, size: int, before: int, after: int) -> np.ndarray | None:
    """``(size, size + before + after)`` matrix adding each padded position's gradient onto the input cell it
    copied (None for zero padding: the padding cells are constants, their gradient is dropped)."""
    if mode == "zeros":
        return None
    source = np.pad(np.arange(size), (before, after), mode=_NUMPY_PAD_MODES[mode])
    return (np.arange(size)[:, None] == source[None, :]).astype(np.float64)


def _conv_backward(self: ConvTrace, g: np.ndarray) -> BackwardTrace:
    conv = self.layer
    g4 = g if self.batched else g[None]
    n_samples, out_channels, oh, ow = g4.shape
    (kh, kw), (sh, sw), (dh, dw_) = conv.kernel_size, conv.stride, conv.dilation
    groups, cg, og = conv.groups, conv.in_channels // conv.groups, conv.out_channels // conv.groups
    _, _, ph, pw = self.padded.shape
    top, bottom, left, right = conv.pads()
    height, width = ph - top - bottom, pw - left - right
    windows = conv._windows(self.padded)  # (N, C, OH, OW, kH, kW), a view
    gg = g4.reshape(n_samples, groups, og, oh, ow)
    dw = np.einsum("ngchwpq,ngohw->gocpq", windows.reshape(n_samples, groups, cg, oh, ow, kh, kw), gg,
                   optimize=True).reshape(conv.weight_shape)
    db = g4.sum(axis=(0, 2, 3))
    # every tap's contribution to the input, then each tap's plane added where that tap read
    taps = np.einsum("ngohw,gocpq->pqngchw", gg, self.weight.reshape(groups, og, cg, kh, kw), optimize=True)
    dxpad = np.zeros(self.padded.shape)
    for p in range(kh):
        for q in range(kw):
            dxpad[:, :, p * dh : p * dh + sh * (oh - 1) + 1 : sh, q * dw_ : q * dw_ + sw * (ow - 1) + 1 : sw] += \
                taps[p, q].reshape(n_samples, conv.in_channels, oh, ow)
    fold_h, fold_w = _fold(conv.padding_mode, height, top, bottom), _fold(conv.padding_mode, width, left, right)
    if fold_h is None:
        dx4 = dxpad[:, :, top : top + height, left : left + width].copy()
    else:
        dx4 = np.einsum("hr,ncrs,ws->nchw", fold_h, dxpad, fold_w, optimize=True)
    dx = dx4 if self.batched else dx4[0]
    def explain_w(index):
        o, c, p, q = index
        first = (o // og) * cg
        a = g4[:, o].ravel()
        b = windows[:, first + c, :, :, p, q].ravel()
        text, ask = sum_of_products(grad_name("dw", index), a, b, float(dw[index]),
                                    before=f"dout[{o}] × the input cell tap ({p},{q}) read, over every window: ")
        return [*a[:KEEP_OPERANDS], *b[:KEEP_OPERANDS]], text, ask

    def explain_b(index):
        (o,) = index
        values = g4[:, o].ravel()
        text, ask = sum_of(grad_name("db", index), values, float(db[o]), before=f"dout[{o}] summed over every cell: ")
        return values[:KEEP_OPERANDS], text, ask

    rows_p, cols_q = np.arange(kh) * dh, np.arange(kw) * dw_
    how = ("a full convolution of dout with the flipped kernel" if (sh, sw) == (1, 1)
           else "a full convolution of dout, spread by the stride, with the flipped kernel")

    def explain_x(index):
        n, c, h, w = index if self.batched else (0, *index)
        r, s = h + top, w + left  # in the padded input (the cell itself, not a copy made by the padding)
        i_num, j_num = r - rows_p, s - cols_q
        ok_i = (i_num >= 0) & (i_num % sh == 0) & (i_num // sh < oh)
        ok_j = (j_num >= 0) & (j_num % sw == 0) & (j_num // sw < ow)
        ps, qs = np.nonzero(ok_i[:, None] & ok_j[None, :])
        group = c // cg
        outs = np.arange(group * og, (group + 1) * og)
        oo = np.repeat(outs, len(ps))
        pp, qq = np.tile(ps, og), np.tile(qs, og)
        ii, jj = i_num[pp] // sh, j_num[qq] // sw
        a = g4[n, oo, ii, jj]
        b = self.weight[oo, c - group * cg, pp, qq]
        label = grad_name("dx", index)
        value = float(dx[index])
        if fold_h is not None and not np.isclose(value, float(a @ b), rtol=1e-12, atol=1e-12):
            copies = f" and the {conv.padding_mode} padding cells copied from it"
            text = (f"dout × w from every window that covered x[{','.join(map(str, index))}]{copies}: "
                    f"{label} = {fixed_number(value)}")
            return [*a, *b], text, None
        text, ask = sum_of_products(
            label, a, b, value, empty=f"no window covered x[{','.join(map(str, index))}]",
            before=f"dout × w from every window that covered x[{','.join(map(str, index))}] ({how}): ")
        return [*a, *b], text, ask

    sections = [Section("weight", "dw", "dL/dw", dw, explain_w)]
    grads = {"weight": dw}
    if self.bias is not None:
        sections.append(Section("bias", "db", "dL/db", db, explain_b))
        grads["bias"] = db
    sections.append(Section("input", "dx", "dL/dx", dx, explain_x))
    grads["input"] = dx
    return BackwardTrace(self, g, sections, grads)


#: Operands a weight or bias frame keeps (its sums run over every output cell; the narration shows 5).
KEEP_OPERANDS = 9
ConvTrace._backward = _conv_backward
