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

from layerviz.layers import (
    GRU,
    LSTM,
    RNN,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dense,
    Dropout,
    Linear,
    MaxPool2d,
)


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


#: Dense activations: the torch module and the loop's expression of ``total`` (sigmoid via tanh: no overflow).
_ACTIVATION_CODE = {
    "relu": ("torch.nn.ReLU()", "max(0.0, total)"),
    "sigmoid": ("torch.nn.Sigmoid()", "0.5 * (1.0 + math.tanh(total / 2))   # = 1 / (1 + e^(-total))"),
    "tanh": ("torch.nn.Tanh()", "math.tanh(total)"),
    "identity": ("torch.nn.Identity()", "total"),
}


def _linear(trace: Any) -> tuple[list[str], str, str]:
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


_RECURRENT_STEP = {
    "RNN": """\
                h = {activation}({x_term}{h_term})""",
    "LSTM": """\
                gates = {x_term}{h_term}   # i, f, g, o stacked
                i, f, g, o = np.split(gates, 4)
                i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
                c = f * c + i * g
                h = o * np.tanh(c){projection}""",
    "GRU": """\
                x_r, x_z, x_n = np.split({x_term}, 3)
                h_r, h_z, h_n = np.split({h_term}, 3)
                r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
                n = np.tanh(x_n + r * h_n)
                h = (1 - z) * n + z * h""",
}


def _initial_states_are_zero(trace: Any) -> bool:
    p, last = trace.pass_, trace.seq_len - 1
    firsts = [p.h_prev[ld, 0 if ld % trace.num_directions == 0 else last] for ld in range(p.h_prev.shape[0])]
    if p.c_prev is not None:
        firsts += [p.c_prev[ld, 0 if ld % trace.num_directions == 0 else last] for ld in range(p.c_prev.shape[0])]
    return not any(np.any(state) for state in firsts)


def _recurrent(trace: Any) -> tuple[list[str], str, str]:
    layer = trace.layer
    kind = type(layer).__name__
    data = ["params = {}"] + [literal(f"params[{name!r}]", value) for name, value in trace.weights.items()]
    arguments = f"{layer.input_size}, {layer.hidden_size}, num_layers={layer.num_layers}"
    if kind == "RNN":
        arguments += f", nonlinearity={layer.nonlinearity!r}"
    arguments += f", bias={layer.bias}, batch_first={layer.batch_first}, bidirectional={layer.bidirectional}"
    if kind == "LSTM" and layer.proj_size:
        arguments += f", proj_size={layer.proj_size}"
    torch_part = f"""\
layer = torch.nn.{kind}({arguments}, dtype=torch.float64).eval()
with torch.no_grad():
    for name, value in params.items():
        getattr(layer, name).copy_(torch.from_numpy(value))
    out_torch = layer(torch.from_numpy(x))[0].numpy()"""
    names = ["W_ih", "W_hh"] + (["b_ih", "b_hh"] if layer.bias else []) + (["W_hr"] if getattr(layer, "proj_size", 0) else [])
    unpack = ", ".join(names) + " = " + ", ".join(
        f'params[f"{("weight" if n[0] == "W" else "bias")}_{n[2:]}_l{{layer}}{{suffix}}"]' for n in names)
    x_term = "W_ih @ layer_in[t]" + (" + b_ih" if layer.bias else "")
    h_term = " + W_hh @ h" + (" + b_hh" if layer.bias else "")
    if kind == "GRU":
        h_term = h_term.removeprefix(" + ")
    step = _RECURRENT_STEP[kind].format(
        activation="np.tanh" if getattr(layer, "nonlinearity", "tanh") == "tanh" else "relu", x_term=x_term,
        h_term=h_term, projection="\n                h = W_hr @ h   # projected down to proj_size" if "W_hr" in names else "")
    directions = '("", "_reverse")' if layer.bidirectional else '("",)'
    cell = f"\n            c = np.zeros({layer.hidden_size})   # the cell state" if kind == "LSTM" else ""
    numpy_part = f"""\
def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def relu(v):
    return np.maximum(v, 0)


def recurrent(sequence):
    \"\"\"sequence: (L, H_in) -> output (L, D*H): each layer reads the one below, one time step at a time.\"\"\"
    layer_in = sequence
    for layer in range({layer.num_layers}):
        outputs = []
        for suffix in {directions}:   # forwards, and backwards for a bidirectional layer
            {unpack}
            h = np.zeros({layer.output_hidden}){cell}
            out = np.zeros((len(layer_in), {layer.output_hidden}))
            steps = range(len(layer_in)) if suffix == "" else reversed(range(len(layer_in)))
            for t in steps:
{step}
                out[t] = h
            outputs.append(out)
        layer_in = np.concatenate(outputs, axis=1)
    return layer_in"""
    return data, torch_part, numpy_part


_WRITERS: dict[type, Callable[[Any], tuple[list[str], str, str]]] = {
    Conv2d: _conv, MaxPool2d: _window_pool, AvgPool2d: _window_pool, AdaptiveAvgPool2d: _adaptive,
    Dropout: _dropout, BatchNorm1d: _batchnorm, BatchNorm2d: _batchnorm,
    Linear: _linear, Dense: _linear, RNN: _recurrent, LSTM: _recurrent, GRU: _recurrent,
}

#: The function each loop definition defines, by layer type.
_FUNCTION = {Conv2d: "conv2d", MaxPool2d: "pool2d", AvgPool2d: "pool2d", AdaptiveAvgPool2d: "pool2d",
             Dropout: "dropout", BatchNorm1d: "batchnorm", BatchNorm2d: "batchnorm", Linear: "linear", Dense: "dense",
             RNN: "recurrent", LSTM: "recurrent", GRU: "recurrent"}

#: Layers whose loops take one sample ``(C, H, W)``; a batch is looped over.
_PER_SAMPLE = (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d)


def supports(trace: Any) -> bool:
    """Whether :func:`program` can write the code of ``trace``: a layer it knows, computed as torch would.

    Not for a recurrent trace with gates forced open or shut (torch has no such thing), dropout drawn
    between layers (torch draws its own), or non-zero initial states.
    """
    layer = getattr(trace, "layer", None)
    if type(layer) not in _WRITERS:
        return False
    if isinstance(layer, (RNN, LSTM, GRU)):
        between_layers_dropout = layer.training and layer.dropout > 0 and layer.num_layers > 1
        return not trace.force and not between_layers_dropout and _initial_states_are_zero(trace)
    return True


def program(trace: Any) -> str:
    """A runnable script computing ``trace.output`` twice: with ``torch.nn`` (``out_torch``) and with loops (``out_numpy``).

    Raises ValueError for a layer it cannot write (see :func:`supports`).
    """
    layer_type = type(getattr(trace, "layer", None))
    if layer_type not in _WRITERS:
        raise ValueError(f"layer must be one of {', '.join(t.__name__ for t in _WRITERS)}, got {layer_type.__name__}")
    if not supports(trace):
        raise ValueError("trace must compute what torch computes: no forced gates, no dropout between layers, "
                         "zero initial states")
    data, torch_part, numpy_part = _WRITERS[layer_type](trace)
    function = _FUNCTION[layer_type]
    if layer_type in _PER_SAMPLE and trace.input.ndim == 4:
        call = f"out_numpy = np.stack([{function}(sample) for sample in x])"
    elif layer_type in (RNN, LSTM, GRU) and trace.input.ndim == 3:
        call = (f"out_numpy = np.stack([{function}(sequence) for sequence in x])" if trace.layer.batch_first else
                f"out_numpy = np.stack([{function}(x[:, n]) for n in range(x.shape[1])], axis=1)")
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
