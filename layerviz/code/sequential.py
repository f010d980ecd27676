"""The code of a :class:`~layerviz.Sequential` trace: ``torch.nn.Sequential``, and one loop function per kind of
layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerviz.code._literal import literal
from layerviz.layers.activation import Identity, ReLU, Sigmoid, Softmax, Tanh
from layerviz.layers.conv import Conv2d
from layerviz.layers.dense import Dense
from layerviz.layers.linear import Linear
from layerviz.layers.max_pool import MaxPool2d
from layerviz.layers.sequential import Flatten, Sequential


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


def sample_ndim(model: Sequential) -> int:
    """Dimensions of one sample for the model's first layer with a shape of its own: 3 (C, H, W) or 1 (features)."""
    for layer in model.layers:
        if isinstance(layer, (Conv2d, MaxPool2d, Flatten)):
            return 3
        if isinstance(layer, (Linear, Dense)):
            return 1
    return 1


def problem(trace: Any) -> str | None:
    """Why :func:`program` cannot write this Sequential's code, or None."""
    model = trace.layer
    batched = trace.input.ndim == sample_ndim(model) + 1
    if trace.input.ndim not in (sample_ndim(model), sample_ndim(model) + 1):
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


def write(trace: Any) -> tuple[list[str], str, str]:
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
    batched = trace.input.ndim == sample_ndim(model) + 1
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
