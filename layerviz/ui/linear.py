"""The linear / dense explorer: choose the sizes, the activation and the input, watch each neuron's sum."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np

from layerviz.layers import Dense, Linear
from layerviz.layers.linear import LinearTrace
from layerviz.ui.explorer import ONES, Explorer

ACTIVATIONS = ("none (Linear)", "relu", "sigmoid", "tanh")
INPUTS = ("typed", "random", "ones")
VIEWS = ("neurons", "matrix")


def parse_vector(text: str, size: int) -> np.ndarray:
    """``"1, 2, 3"`` -> ``array([1., 2., 3.])``; ValueError unless it is ``size`` numbers."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    try:
        values = np.array([float(p) for p in parts])
    except ValueError:
        raise ValueError(f"x must be numbers separated by commas, got {text!r}") from None
    if len(values) != size:
        raise ValueError(f"x must have in_features={size} values, got {len(values)} ({text!r})")
    if not np.isfinite(values).all():
        raise ValueError(f"x must be finite numbers, got {text!r}")
    return values


def resize_vector(text: str, size: int) -> str:
    """The typed ``x`` made ``size`` numbers long: the first ones kept, zeros added (``"1, 2, 3"``, 4 -> ``"1, 2, 3, 0"``).

    Text that is not numbers separated by commas is returned unchanged (its message is shown as it is).
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 64:
        return text
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    try:
        [float(p) for p in parts]
    except ValueError:
        return text
    return ", ".join(parts[:size] + ["0"] * (size - len(parts)))


def linear_input(values: dict[str, Any]) -> np.ndarray:
    """The ``(in_features,)`` input the controls ask for."""
    size = values["in_features"]
    if values["input"] == "typed":
        return parse_vector(values["x"], size)
    if values["input"] == "ones":
        return np.ones(size)
    return np.round(np.random.default_rng(values["seed"] + 1).standard_normal(size), 2)


def build_linear(values: dict[str, Any]) -> LinearTrace:
    """The trace of ``Linear`` (activation 'none') or ``Dense`` with the chosen settings, on the chosen input."""
    if values["activation"] == ACTIVATIONS[0]:
        layer = Linear(values["in_features"], values["out_features"], bias=values["bias"], rng=values["seed"])
    else:
        layer = Dense(values["in_features"], values["out_features"], activation=values["activation"],
                      bias=values["bias"], rng=values["seed"])
    return layer.frames(linear_input(values), view=values["view"])


def describe_linear(trace: LinearTrace) -> str:
    layer = trace.layer
    out_f, in_f = trace.weight.shape
    formula = "out = W·x + b" if trace.bias is not None else "out = W·x"
    if trace.activation is not None:
        formula = f"z = W·x{' + b' if trace.bias is not None else ''}, a = {trace.activation.name}(z)"
    return (f"<code>{layer!r}</code>: input ({in_f},) → output ({out_f},), {len(trace)} frames (one per output "
            f"neuron). {formula}, W is {out_f}×{in_f}: {out_f * in_f} weights"
            f"{f' + {out_f} biases' if trace.bias is not None else ''}.")


def linear_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of :class:`~layerviz.Linear` and :class:`~layerviz.Dense`; keyword arguments set the controls."""
    style = {"description_width": "initial"}
    narrow = widgets.Layout(width="190px")
    controls = {
        "in_features": widgets.BoundedIntText(value=3, min=1, max=8, description="in features", style=style, layout=narrow),
        "out_features": widgets.BoundedIntText(value=2, min=1, max=6, description="out features", style=style, layout=narrow),
        "activation": widgets.Dropdown(options=ACTIVATIONS, value="relu", description="activation", style=style,
                                       layout=widgets.Layout(width="230px")),
        "bias": widgets.Checkbox(value=True, description="bias", indent=False, layout=widgets.Layout(width="80px")),
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed", style=style, layout=narrow),
        "view": widgets.Dropdown(options=VIEWS, value="neurons", description="view", style=style, layout=narrow),
        "input": widgets.Dropdown(options=INPUTS, value="typed", description="input", style=style, layout=narrow),
        "x": widgets.Text(value="1, 2, 3", description="x", continuous_update=False, style=style,
                          layout=widgets.Layout(width="260px")),
    }
    for name, value in initial.items():
        controls[name].value = value

    def follow_in_features(change: dict) -> None:
        # before the explorer's own observer: the new size is drawn with an x of that size, not refused
        controls["x"].value = resize_vector(controls["x"].value, change["new"])

    controls["in_features"].observe(follow_in_features, names="value")
    layout = [["in_features", "out_features", "activation", "bias"], ["input", "x", "seed", "view"]]
    return Explorer(controls, build_linear, describe_linear, layout, backward=ONES)
