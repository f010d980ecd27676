"""The code of a :class:`~layerviz.Conv2d` trace: ``torch.nn.Conv2d`` and the six loops of its definition."""

from __future__ import annotations

from typing import Any

from layerviz.code._literal import literal


def write(trace: Any) -> tuple[list[str], str, str]:
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
