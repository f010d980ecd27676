"""The code of an RNN, LSTM or GRU trace: the ``torch.nn`` layer and the loop over time steps, layer by layer."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from layerviz.code._literal import LINE_WIDTH, literal


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


def write(trace: Any) -> tuple[list[str], str, str]:
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


def problem(trace: Any) -> str | None:
    """Why the code of this recurrent trace cannot be written (torch has no forced gates, draws its own dropout
    between layers), or None."""
    layer = trace.layer
    between_layers_dropout = layer.training and layer.dropout > 0 and layer.num_layers > 1
    if trace.force or between_layers_dropout or not _initial_states_are_zero(trace):
        return "trace must compute what torch computes: no forced gates, no dropout between layers, zero initial states"
    return None
