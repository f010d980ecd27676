"""The code of a :class:`~layerviz.Dropout` trace: the mask it drew, applied as torch applies it, and the loop."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerviz.code._literal import literal


def write(trace: Any) -> tuple[list[str], str, str]:
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
