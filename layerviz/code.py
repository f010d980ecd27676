"""Show me the code: the ``torch.nn`` call and the plain numpy loops that compute what a trace shows.

:func:`program` writes one runnable Python script for a trace: its input and weights as literals, the
equivalent ``torch.nn`` construction and call (``out_torch``), and the definition as plain loops over
numpy arrays (``out_numpy``). The tests run these scripts and compare both results with the engine, so
the code a student copies is code that works.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

from layerviz.layers import AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, MaxPool2d


def literal(name: str, array: np.ndarray) -> str:
    """``name = np.array([...])`` with every float written so that it reads back exactly."""
    text = np.array2string(np.asarray(array, dtype=np.float64), separator=", ", threshold=np.inf,
                           floatmode="unique", max_line_width=100)
    return f"{name} = np.array({textwrap.indent(text, ' ' * (len(name) + 12)).lstrip()})"


def _conv(trace: Any) -> tuple[list[str], str, str]:
    conv = trace.layer
    top, bottom, left, right = conv.pads()
    data = [literal("weight", trace.weight)] + ([literal("bias", trace.bias)] if trace.bias is not None else [])
    torch_part = f"""\
layer = torch.nn.Conv2d({conv.in_channels}, {conv.out_channels}, kernel_size={conv.kernel_size}, stride={conv.stride},
                        padding={conv.padding!r}, dilation={conv.dilation}, groups={conv.groups}, bias={trace.bias is not None},
                        padding_mode={conv.padding_mode!r}, dtype=torch.float64)
with torch.no_grad():
    layer.weight.copy_(torch.from_numpy(weight))
{"    layer.bias.copy_(torch.from_numpy(bias))" if trace.bias is not None else ""}
    out_torch = layer(torch.from_numpy(x)).numpy()"""
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[conv.padding_mode]
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    numpy_part = f"""\
def conv2d(x):
    \"\"\"x: (C, H, W) -> (O, OH, OW): out[o, i, j] = bias[o] + sum of weight[o, c, p, q] * window[c, p, q].\"\"\"
    xpad = np.pad(x, ((0, 0), ({top}, {bottom}), ({left}, {right})), mode={mode!r})
    O, Cg, kH, kW = weight.shape             # Cg = input channels per group
    OH = (xpad.shape[1] - {dh} * (kH - 1) - 1) // {sh} + 1
    OW = (xpad.shape[2] - {dw} * (kW - 1) - 1) // {sw} + 1
    out = np.zeros((O, OH, OW))
    for o in range(O):
        first = (o // (O // {conv.groups})) * Cg   # first input channel of o's group
        for i in range(OH):
            for j in range(OW):
                total = {"bias[o]" if trace.bias is not None else "0.0"}
                for c in range(Cg):
                    for p in range(kH):
                        for q in range(kW):
                            total += weight[o, c, p, q] * xpad[first + c, i * {sh} + p * {dh}, j * {sw} + q * {dw}]
                out[o, i, j] = total
    return out"""
    return data, torch_part, numpy_part


def _window_pool(trace: Any) -> tuple[list[str], str, str]:
    pool = trace.layer
    is_max = isinstance(pool, MaxPool2d)
    (kh, kw), (sh, sw), (ph, pw) = (np.broadcast_to(v, 2).tolist() for v in (pool.kernel_size, pool.stride, pool.padding))
    dh, dw = np.broadcast_to(pool.dilation, 2).tolist() if is_max else (1, 1)
    if is_max:
        torch_part = (f"layer = torch.nn.MaxPool2d({pool.kernel_size!r}, stride={pool.stride!r}, padding={pool.padding!r}, "
                      f"dilation={pool.dilation!r}, ceil_mode={pool.ceil_mode})")
    else:
        torch_part = (f"layer = torch.nn.AvgPool2d({pool.kernel_size!r}, stride={pool.stride!r}, padding={pool.padding!r}, "
                      f"ceil_mode={pool.ceil_mode}, count_include_pad={pool.count_include_pad}, "
                      f"divisor_override={pool.divisor_override!r})")
    torch_part += "\nout_torch = layer(torch.from_numpy(x)).numpy()"
    rounding = "math.ceil" if pool.ceil_mode else "math.floor"
    if is_max:
        body = f"""\
                values = [x[c, r, s] for r in rows for s in cols if 0 <= r < H and 0 <= s < W]  # padding never wins
                out[c, i, j] = max(values)"""
    else:
        divisor = (str(pool.divisor_override) if pool.divisor_override is not None else
                   "len(rows_in_pad) * len(cols_in_pad)" if pool.count_include_pad else "len(values)")
        body = f"""\
                rows_in_pad = [r for r in rows if r < H + {ph}]          # padding cells count, cells past it do not
                cols_in_pad = [s for s in cols if s < W + {pw}]
                values = [x[c, r, s] for r in rows for s in cols if 0 <= r < H and 0 <= s < W]
                out[c, i, j] = sum(values) / ({divisor})"""
    numpy_part = f"""\
import math


def pool2d(x):
    \"\"\"x: (C, H, W) -> (C, OH, OW), one window per output cell; rows and cols index the unpadded input.\"\"\"
    C, H, W = x.shape
    OH = {rounding}((H + 2 * {ph} - {dh} * ({kh} - 1) - 1) / {sh}) + 1
    OW = {rounding}((W + 2 * {pw} - {dw} * ({kw} - 1) - 1) / {sw}) + 1
    if (OH - 1) * {sh} >= H + {ph}:  # ceil_mode: a last window may not start in the padding
        OH -= 1
    if (OW - 1) * {sw} >= W + {pw}:
        OW -= 1
    out = np.zeros((C, OH, OW))
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                rows = [i * {sh} - {ph} + p * {dh} for p in range({kh})]
                cols = [j * {sw} - {pw} + q * {dw} for q in range({kw})]
{body}
    return out"""
    return [], torch_part, numpy_part


def _adaptive(trace: Any) -> tuple[list[str], str, str]:
    pool = trace.layer
    torch_part = (f"layer = torch.nn.AdaptiveAvgPool2d({pool.output_size!r})\n"
                  "out_torch = layer(torch.from_numpy(x)).numpy()")
    oh, ow = trace.output.shape[-2:]
    numpy_part = f"""\
import math


def pool2d(x):
    \"\"\"x: (C, H, W) -> (C, {oh}, {ow}): the mean of rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1 (likewise columns).\"\"\"
    C, H, W = x.shape
    out = np.zeros((C, {oh}, {ow}))
    for c in range(C):
        for i in range({oh}):
            for j in range({ow}):
                r0, r1 = (i * H) // {oh}, math.ceil((i + 1) * H / {oh})
                c0, c1 = (j * W) // {ow}, math.ceil((j + 1) * W / {ow})
                out[c, i, j] = x[c, r0:r1, c0:c1].sum() / ((r1 - r0) * (c1 - c0))
    return out"""
    return [], torch_part, numpy_part


def _dropout(trace: Any) -> tuple[list[str], str, str]:
    layer = trace.layer
    if trace.mask is None:
        torch_part = (f"layer = torch.nn.Dropout(p={layer.p!r}).eval()   # eval mode: the identity\n"
                      "out_torch = layer(torch.from_numpy(x)).numpy()")
        numpy_part = "def dropout(x):\n    return x.copy()   # eval mode: nothing is dropped, nothing scaled"
        return [], torch_part, numpy_part
    data = [literal("mask", trace.mask.astype(np.float64))]
    torch_part = f"""\
# torch.nn.Dropout(p={layer.p!r}) draws its own mask; with this mask it computes x * mask / (1 - p):
out_torch = (torch.from_numpy(x) * torch.from_numpy(mask) / (1 - {layer.p!r})).numpy()"""
    numpy_part = f"""\
def dropout(x):
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        if mask[index]:                      # kept: scaled by 1 / (1 - p)
            out[index] = x[index] / (1 - {layer.p!r})
    return out"""
    return data, torch_part, numpy_part


def _batchnorm(trace: Any) -> tuple[list[str], str, str]:
    bn = trace.layer
    kind = type(bn).__name__
    weight, bias = bn.weight, bn.bias
    data = []
    if weight is not None:
        data.append(literal("gamma", weight))
    if bias is not None:
        data.append(literal("beta", bias))
    use_batch = bn.training or bn.running_mean is None
    if not use_batch:
        data += [literal("running_mean", bn.running_mean), literal("running_var", bn.running_var)]
    copies = ["layer.weight.copy_(torch.from_numpy(gamma))"] * (weight is not None)
    copies += ["layer.bias.copy_(torch.from_numpy(beta))"] * (bias is not None)
    copies += ["layer.running_mean.copy_(torch.from_numpy(running_mean))",
               "layer.running_var.copy_(torch.from_numpy(running_var))"] * (not use_batch)
    torch_part = (f"layer = torch.nn.{kind}({bn.num_features}, eps={bn.eps!r}, momentum={bn.momentum!r}, "
                  f"affine={bn.affine}, track_running_stats={bn.track_running_stats}, dtype=torch.float64)\n"
                  f"layer.train({bn.training})\nwith torch.no_grad():\n"
                  + "".join(f"    {line}\n" for line in copies)
                  + "    out_torch = layer(torch.from_numpy(x)).numpy()")
    scale = "gamma[c]" if weight is not None else "1.0"
    shift = "beta[c]" if bias is not None else "0.0"
    if use_batch:
        stats = """\
        values = [x[index] for index in np.ndindex(x.shape) if index[1] == c]   # channel c of every sample
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)   # biased: divided by n"""
    else:
        stats = "        mean, var = running_mean[c], running_var[c]   # eval mode: the running statistics"
    numpy_part = f"""\
def batchnorm(x):
    \"\"\"x: (N, C) or (N, C, H, W); channel c is normalized over every value it has in the batch.\"\"\"
    out = np.zeros_like(x)
    for c in range(x.shape[1]):
{stats}
        for index in np.ndindex(x.shape):
            if index[1] == c:
                out[index] = (x[index] - mean) / math.sqrt(var + {bn.eps!r}) * {scale} + {shift}
    return out"""
    return data, torch_part, "import math\n\n\n" + numpy_part


_WRITERS: dict[type, Callable[[Any], tuple[list[str], str, str]]] = {
    Conv2d: _conv, MaxPool2d: _window_pool, AvgPool2d: _window_pool, AdaptiveAvgPool2d: _adaptive,
    Dropout: _dropout, BatchNorm1d: _batchnorm, BatchNorm2d: _batchnorm,
}

#: The function each loop definition defines, by layer type.
_FUNCTION = {Conv2d: "conv2d", MaxPool2d: "pool2d", AvgPool2d: "pool2d", AdaptiveAvgPool2d: "pool2d",
             Dropout: "dropout", BatchNorm1d: "batchnorm", BatchNorm2d: "batchnorm"}

#: Layers whose loops take one sample ``(C, H, W)``; a batch is looped over.
_PER_SAMPLE = (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d)


def supports(trace: Any) -> bool:
    """Whether :func:`program` can write the code of ``trace``'s layer."""
    return type(getattr(trace, "layer", None)) in _WRITERS


def program(trace: Any) -> str:
    """A runnable script computing ``trace.output`` twice: with ``torch.nn`` (``out_torch``) and with loops (``out_numpy``).

    Raises ValueError for a layer it cannot write (see :func:`supports`).
    """
    layer_type = type(getattr(trace, "layer", None))
    if layer_type not in _WRITERS:
        raise ValueError(f"layer must be one of {', '.join(t.__name__ for t in _WRITERS)}, got {layer_type.__name__}")
    data, torch_part, numpy_part = _WRITERS[layer_type](trace)
    function = _FUNCTION[layer_type]
    if layer_type in _PER_SAMPLE and trace.input.ndim == 4:
        call = f"out_numpy = np.stack([{function}(sample) for sample in x])"
    else:
        call = f"out_numpy = {function}(x)"
    shape = f"x: {tuple(trace.input.shape)}"
    return "\n".join([
        "import numpy as np",
        "import torch",
        "",
        f"# {trace.layer!r} on an input of shape {tuple(trace.input.shape)}, as the page shows it",
        literal("x", trace.input) + f"   # {shape}",
        *data,
        "",
        "# 1. with torch.nn",
        torch_part,
        "",
        "# 2. with plain loops over numpy arrays: the definition",
        numpy_part,
        "",
        "",
        call,
        "print(np.abs(out_torch - out_numpy).max())   # 0 up to rounding",
    ]) + "\n"
