"""The code of a :class:`~layerviz.Linear` or :class:`~layerviz.Dense` trace: ``torch.nn.Linear`` (and its
activation), and the loops."""

from __future__ import annotations

from typing import Any

from layerviz.code._literal import literal


#: Dense activations: the torch module and the loop's expression of ``total`` (sigmoid via tanh: no overflow).
_ACTIVATION_CODE = {
    "relu": ("torch.nn.ReLU()", "max(0.0, total)"),
    "sigmoid": ("torch.nn.Sigmoid()", "0.5 * (1.0 + math.tanh(total / 2))   # = 1 / (1 + e^(-total))"),
    "tanh": ("torch.nn.Tanh()", "math.tanh(total)"),
    "identity": ("torch.nn.Identity()", "total"),
}


def write(trace: Any) -> tuple[list[str], str, str]:
    weight, bias, activation = trace.weight, trace.bias, trace.activation
    out_f, in_f = weight.shape
    data = [literal("weight", weight)] + ([literal("bias", bias)] if bias is not None else [])
    call = "layer(torch.from_numpy(x))"
    value = "total"
    if activation is not None:
        module, value = _ACTIVATION_CODE[activation.name]
        call = f"{module}({call})"
    torch_part = f"""layer = torch.nn.Linear({in_f}, {out_f}, bias={bias is not None}, dtype=torch.float64)
with torch.no_grad():
    layer.weight.copy_(torch.from_numpy(weight))
{"    layer.bias.copy_(torch.from_numpy(bias))" if bias is not None else ""}
    out_torch = {call}.numpy()"""
    name = "linear" if activation is None else "dense"
    numpy_part = f"""def {name}(x):
    \"\"\"x: (..., in_features) -> (..., out_features): out[o] = {activation.name + "(" if activation is not None else ""}bias[o] + sum of weight[o, i] * x[i]{")" if activation is not None else ""}.\"\"\"
    rows = x.reshape(-1, x.shape[-1])        # every input vector, one per row
    out = np.zeros((rows.shape[0], weight.shape[0]))
    for n in range(rows.shape[0]):
        for o in range(weight.shape[0]):     # one output neuron: a dot product plus the bias
            total = {"bias[o]" if bias is not None else "0.0"}
            for i in range(weight.shape[1]):
                total += weight[o, i] * rows[n, i]
            out[n, o] = {value}
    return out.reshape(*x.shape[:-1], weight.shape[0])"""
    return data, torch_part, ("import math\n\n\n" if activation is not None else "") + numpy_part
