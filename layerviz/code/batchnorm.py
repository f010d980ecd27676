"""The code of a batch-normalization trace: ``torch.nn.BatchNorm1d``/``2d`` in its mode, and the loops per channel."""

from __future__ import annotations

from typing import Any

from layerviz.code._literal import literal


def write(trace: Any) -> tuple[list[str], str, str]:
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
