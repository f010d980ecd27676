"""The code of a pooling trace: ``torch.nn.MaxPool2d``, ``AvgPool2d`` or ``AdaptiveAvgPool2d``, and the loops over
its windows."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerviz.layers.max_pool import MaxPool2d


def write(trace: Any) -> tuple[list[str], str, str]:
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


def write_adaptive(trace: Any) -> tuple[list[str], str, str]:
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
