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
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)


def literal(name: str, array: np.ndarray) -> str:
    """``name = np.array([...])`` with every float written so that it reads back exactly.

    Numbers that are float32 values (trained weights saved as float32) are written as float32, about half
    as many digits, and converted back to float64 exactly: ``np.array([...], dtype=np.float32).astype(np.float64)``.
    """
    array = np.asarray(array, dtype=np.float64)
    prefix = f"{name} = np.array("
    text = _array_text(array, prefix, ")")
    if array.size and np.array_equal(array.astype(np.float32).astype(np.float64), array):
        suffix = ", dtype=np.float32).astype(np.float64)"
        short = _array_text(array.astype(np.float32), prefix, suffix)
        if len(short) < 0.75 * len(text):
            return f"{prefix}{short}{suffix}"
    return f"{prefix}{text})"


#: The longest line :func:`program` writes (up to a long name): the page shows the code whole, without scrolling.
LINE_WIDTH = 100


def _array_text(array: np.ndarray, prefix: str, suffix: str) -> str:
    return np.array2string(array, separator=", ", threshold=np.inf, floatmode="unique", max_line_width=LINE_WIDTH,
                           prefix=prefix, suffix=suffix)


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
    arguments = "\n".join(textwrap.wrap(arguments + ", dtype=torch.float64", LINE_WIDTH - 30, break_on_hyphens=False))
    torch_part = f"""\
layer = torch.nn.{kind}({textwrap.indent(arguments, " " * (len(kind) + 18)).lstrip()}).eval()
with torch.no_grad():
    for name, value in params.items():
        getattr(layer, name).copy_(torch.from_numpy(value))
    out_torch = layer(torch.from_numpy(x))[0].numpy()"""
    names = ["W_ih", "W_hh"] + (["b_ih", "b_hh"] if layer.bias else []) + (["W_hr"] if getattr(layer, "proj_size", 0) else [])
    unpack = "\n            ".join(
        f'{n} = params[f"{("weight" if n[0] == "W" else "bias")}_{n[2:]}_l{{layer}}{{suffix}}"]' for n in names)
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


# -- a whole network: torch.nn.Sequential, and one loop function per kind of layer ------------------

#: The loops of each kind of layer a Sequential may hold, on one sample; the activations are element-wise.
_LOOPS = {
    "linear": """\
def linear(x, weight, bias):
    \"\"\"x: (in_features,) -> (out_features,): out[o] = bias[o] + sum of weight[o, i] * x[i].\"\"\"
    out = np.zeros(weight.shape[0])
    for o in range(weight.shape[0]):         # one output neuron: a dot product plus the bias
        total = bias[o] if bias is not None else 0.0
        for i in range(weight.shape[1]):
            total += weight[o, i] * x[i]
        out[o] = total
    return out""",
    "conv2d": """\
def conv2d(x, weight, bias, stride, pads, dilation, groups):
    \"\"\"x: (C, H, W) -> (O, OH, OW): out[o, i, j] = bias[o] + sum of weight[o, c, p, q] * window[c, p, q].\"\"\"
    (sh, sw), (dh, dw), (top, bottom, left, right) = stride, dilation, pads
    xpad = np.pad(x, ((0, 0), (top, bottom), (left, right)))   # zeros around the picture
    O, Cg, kH, kW = weight.shape             # Cg = input channels per group
    OH = (xpad.shape[1] - dh * (kH - 1) - 1) // sh + 1
    OW = (xpad.shape[2] - dw * (kW - 1) - 1) // sw + 1
    out = np.zeros((O, OH, OW))
    for o in range(O):
        first = (o // (O // groups)) * Cg    # first input channel of o's group
        for i in range(OH):
            for j in range(OW):
                total = bias[o] if bias is not None else 0.0
                for c in range(Cg):
                    for p in range(kH):
                        for q in range(kW):
                            total += weight[o, c, p, q] * xpad[first + c, i * sh + p * dh, j * sw + q * dw]
                out[o, i, j] = total
    return out""",
    "maxpool2d": """\
def maxpool2d(x, kernel, stride, padding, dilation):
    \"\"\"x: (C, H, W) -> (C, OH, OW): the largest value of each window (padding cells never win).\"\"\"
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    C, H, W = x.shape
    OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((C, OH, OW))
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                rows = [i * sh - ph + p * dh for p in range(kh)]
                cols = [j * sw - pw + q * dw for q in range(kw)]
                out[c, i, j] = max(x[c, r, s] for r in rows for s in cols if 0 <= r < H and 0 <= s < W)
    return out""",
    "flatten": """\
def flatten(x):
    \"\"\"x: (C, H, W) -> (C*H*W,): the numbers read row by row, channel after channel; none changes.\"\"\"
    return np.array([x[index] for index in np.ndindex(x.shape)])""",
    "relu": """\
def relu(x):
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        out[index] = max(0.0, x[index])
    return out""",
    "sigmoid": """\
def sigmoid(x):
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        out[index] = 0.5 * (1.0 + math.tanh(x[index] / 2))   # = 1 / (1 + e^(-x)), without overflow
    return out""",
    "tanh": """\
def tanh(x):
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        out[index] = math.tanh(x[index])
    return out""",
    "softmax": """\
def softmax(x):
    \"\"\"x: (n,) -> (n,): e^(x[i] - m) / sum of e^(x[j] - m), m the largest x (the same, without overflow).\"\"\"
    m = max(x)
    exps = [math.exp(v - m) for v in x]
    total = sum(exps)
    return np.array([e / total for e in exps])""",
}

_ELEMENTWISE = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh", Identity: None}
_TORCH_ACTIVATION = {"relu": "torch.nn.ReLU()", "sigmoid": "torch.nn.Sigmoid()", "tanh": "torch.nn.Tanh()"}


def _pair(value: Any) -> tuple[int, int]:
    return tuple(int(v) for v in np.broadcast_to(value, 2))


def _sample_ndim(model: Sequential) -> int:
    """Dimensions of one sample for the model's first layer with a shape of its own: 3 (C, H, W) or 1 (features)."""
    for layer in model.layers:
        if isinstance(layer, (Conv2d, MaxPool2d, Flatten)):
            return 3
        if isinstance(layer, (Linear, Dense)):
            return 1
    return 1


def _sequential_problem(trace: Any) -> str | None:
    """Why :func:`program` cannot write this Sequential's code, or None."""
    model = trace.layer
    batched = trace.input.ndim == _sample_ndim(model) + 1
    if trace.input.ndim not in (_sample_ndim(model), _sample_ndim(model) + 1):
        return f"the input must be one sample or a batch of samples, got shape {trace.input.shape}"
    for i, (layer, inner) in enumerate(zip(model.layers, trace.traces)):
        where = f"layer {i + 1} {layer!r}"
        if isinstance(layer, Conv2d) and layer.padding_mode != "zeros":
            return f"{where}: only zero padding is written here"
        elif isinstance(layer, MaxPool2d) and (layer.ceil_mode or layer.return_indices):
            return f"{where}: ceil_mode and return_indices are not written here"
        elif isinstance(layer, Flatten):
            if not batched or (layer.start_dim, layer.end_dim) != (1, -1) or inner.input.ndim != 4:
                return f"{where}: only Flatten() of a batch of (C, H, W) samples is written here"
        elif isinstance(layer, Softmax):
            if layer.axis(inner.input.ndim) != inner.input.ndim - 1 or inner.input.ndim != 1 + batched:
                return f"{where}: only a softmax over the last axis of a vector per sample is written here"
        elif isinstance(layer, (Linear, Dense)):
            if inner.input.ndim != 1 + batched:
                return f"{where}: only a vector per sample is written here"
        elif type(layer) not in (Conv2d, MaxPool2d, *_ELEMENTWISE):
            return f"{where}: a {type(layer).__name__} inside a Sequential is not written here"
    return None


def _conv_arguments(layer: Conv2d, has_bias: bool) -> str:
    """torch.nn.Conv2d's arguments that differ from its defaults, after the three it always needs."""
    text = f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}"
    defaults = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1}
    for name, default in defaults.items():
        value = getattr(layer, name)
        if value != default:
            text += f", {name}={value!r}"
    return text + ("" if has_bias else ", bias=False")


def _sequential(trace: Any) -> tuple[list[str], str, str]:
    model = trace.layer
    data: list[str] = []
    modules: list[str] = []   # lines inside torch.nn.Sequential(...)
    n_modules = 0
    copies: list[str] = []
    calls: list[str] = []
    used: list[str] = []

    def use(name: str) -> None:
        if name not in used:
            used.append(name)

    def module(line: str) -> None:
        nonlocal n_modules
        modules.append(line)
        n_modules += 1

    def parameters(number: int, weight: np.ndarray, bias: np.ndarray | None) -> str:
        data.extend([literal(f"weight{number}", weight)] + ([literal(f"bias{number}", bias)] if bias is not None else []))
        copies.append(f"model[{n_modules}].weight.copy_(torch.from_numpy(weight{number}))")
        if bias is not None:
            copies.append(f"model[{n_modules}].bias.copy_(torch.from_numpy(bias{number}))")
        return f"weight{number}, {f'bias{number}' if bias is not None else 'None'}"

    for i, layer in enumerate(model.layers):
        number = i + 1
        comment = f"# layer {number}: {layer!r}"
        modules.append(comment)
        calls.append(comment)
        if isinstance(layer, (Linear, Dense, Conv2d)):
            data.append(comment)
        if isinstance(layer, (Linear, Dense)):
            linear = layer.linear if isinstance(layer, Dense) else layer
            names = parameters(number, linear.weight, linear.bias)
            module(f"torch.nn.Linear({linear.in_features}, {linear.out_features}"
                   f"{'' if linear.bias is not None else ', bias=False'}, dtype=torch.float64),")
            use("linear")
            calls.append(f"x = linear(x, {names})")
            activation = layer.activation if isinstance(layer, Dense) else "identity"
            if activation != "identity":
                module(f"{_TORCH_ACTIVATION[activation]},")
                use(activation)
                calls.append(f"x = {activation}(x)")
        elif isinstance(layer, Conv2d):
            names = parameters(number, layer.weight, layer.bias)
            module(f"torch.nn.Conv2d({_conv_arguments(layer, layer.bias is not None)}, dtype=torch.float64),")
            use("conv2d")
            calls.append(f"x = conv2d(x, {names}, stride={layer.stride}, pads={layer.pads()}, "
                         f"dilation={layer.dilation}, groups={layer.groups})")
        elif isinstance(layer, MaxPool2d):
            kernel, stride, padding, dilation = (_pair(v) for v in (layer.kernel_size, layer.stride, layer.padding,
                                                                    layer.dilation))
            module(f"torch.nn.MaxPool2d({layer.kernel_size!r}, stride={layer.stride!r}, padding={layer.padding!r}, "
                   f"dilation={layer.dilation!r}),")
            use("maxpool2d")
            calls.append(f"x = maxpool2d(x, kernel={kernel}, stride={stride}, padding={padding}, dilation={dilation})")
        elif isinstance(layer, Flatten):
            module("torch.nn.Flatten(),")
            use("flatten")
            calls.append("x = flatten(x)")
        elif isinstance(layer, Softmax):
            module("torch.nn.Softmax(dim=-1),")
            use("softmax")
            calls.append("x = softmax(x)")
        else:  # an element-wise activation
            name = _ELEMENTWISE[type(layer)]
            module(f"{_TORCH_ACTIVATION.get(name, 'torch.nn.Identity()')},")
            if name is None:
                calls[-1] += "   (nothing to do)"
            else:
                use(name)
                calls.append(f"x = {name}(x)")
    torch_part = "\n".join([
        "model = torch.nn.Sequential(",
        *(f"    {line}" for line in modules),
        ")",
        "with torch.no_grad():",
        *(f"    {line}" for line in copies),
        "    out_torch = model(torch.from_numpy(x)).numpy()",
    ])
    batched = trace.input.ndim == _sample_ndim(model) + 1
    sample_in = trace.input.shape[batched:]
    sample_out = np.shape(trace.output)[batched:]
    functions = [_LOOPS[name] for name in ("conv2d", "maxpool2d", "flatten", "linear", "relu", "sigmoid", "tanh",
                                           "softmax") if name in used]
    numpy_part = "\n\n\n".join([
        "import math",
        *functions,
        "\n".join(["def model(x):",
                   f'    """x: one sample {sample_in} -> {sample_out}, through every layer in turn."""',
                   *(f"    {line}" for line in calls),
                   "    return x"]),
    ])
    return data, torch_part, numpy_part


_WRITERS: dict[type, Callable[[Any], tuple[list[str], str, str]]] = {
    Conv2d: _conv, MaxPool2d: _window_pool, AvgPool2d: _window_pool, AdaptiveAvgPool2d: _adaptive,
    Dropout: _dropout, BatchNorm1d: _batchnorm, BatchNorm2d: _batchnorm,
    Linear: _linear, Dense: _linear, RNN: _recurrent, LSTM: _recurrent, GRU: _recurrent, Sequential: _sequential,
}

#: The function each loop definition defines, by layer type.
_FUNCTION = {Conv2d: "conv2d", MaxPool2d: "pool2d", AvgPool2d: "pool2d", AdaptiveAvgPool2d: "pool2d",
             Dropout: "dropout", BatchNorm1d: "batchnorm", BatchNorm2d: "batchnorm", Linear: "linear", Dense: "dense",
             RNN: "recurrent", LSTM: "recurrent", GRU: "recurrent", Sequential: "model"}

#: Layers whose loops take one sample ``(C, H, W)``; a batch is looped over.
_PER_SAMPLE = (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d)


def _title(layer: Any) -> str:
    return f"Sequential: {layer.short_repr()}" if isinstance(layer, Sequential) else repr(layer)


def problem(trace: Any) -> str | None:
    """Why :func:`program` cannot write the code of ``trace``, as a sentence for the page; None when it can.

    Not for a recurrent trace with gates forced open or shut (torch has no such thing), dropout drawn
    between layers (torch draws its own), or non-zero initial states; not for a Sequential holding a layer
    it has no loops for.
    """
    layer = getattr(trace, "layer", None)
    if isinstance(layer, tuple) and all(type(part) in _WRITERS for part in layer):
        return "the code is written for one layer at a time: choose one of these layers to see its code"
    if type(layer) not in _WRITERS:
        return f"layer must be one of {', '.join(t.__name__ for t in _WRITERS)}, got {type(layer).__name__}"
    if isinstance(layer, (RNN, LSTM, GRU)):
        between_layers_dropout = layer.training and layer.dropout > 0 and layer.num_layers > 1
        if trace.force or between_layers_dropout or not _initial_states_are_zero(trace):
            return ("trace must compute what torch computes: no forced gates, no dropout between layers, "
                    "zero initial states")
    if isinstance(layer, Sequential):
        return _sequential_problem(trace)
    return None


def supports(trace: Any) -> bool:
    """Whether :func:`program` can write the code of ``trace``: a layer it knows, computed as torch would
    (see :func:`problem`)."""
    return problem(trace) is None


def program(trace: Any) -> str:
    """A runnable script computing ``trace.output`` twice: with ``torch.nn`` (``out_torch``) and with loops (``out_numpy``).

    Raises ValueError for a layer it cannot write (see :func:`problem`).
    """
    reason = problem(trace)
    if reason is not None:
        raise ValueError(reason)
    layer_type = type(trace.layer)
    data, torch_part, numpy_part = _WRITERS[layer_type](trace)
    function = _FUNCTION[layer_type]
    batched_model = layer_type is Sequential and trace.input.ndim == _sample_ndim(trace.layer) + 1
    if (layer_type in _PER_SAMPLE and trace.input.ndim == 4) or batched_model:
        call = f"out_numpy = np.stack([{function}(sample) for sample in x])"
    elif layer_type in (RNN, LSTM, GRU) and trace.input.ndim == 3:
        call = (f"out_numpy = np.stack([{function}(sequence) for sequence in x])" if trace.layer.batch_first else
                f"out_numpy = np.stack([{function}(x[:, n]) for n in range(x.shape[1])], axis=1)")
    else:
        call = f"out_numpy = {function}(x)"
    shape = f"x: {tuple(trace.input.shape)}"
    title = f"{_title(trace.layer)} on an input of shape {tuple(trace.input.shape)}, as the page shows it"
    return "\n".join([
        "import numpy as np",
        "import torch",
        "",
        *textwrap.wrap(title, LINE_WIDTH, initial_indent="# ", subsequent_indent="# "),
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
