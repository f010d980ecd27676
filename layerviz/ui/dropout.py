"""The dropout explorer: choose an input, p and the mode, watch the mask being drawn and the output scaled."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from layerviz import data
from layerviz.layers.dropout import Dropout, DropoutTrace
from layerviz.ui.explorer import ONES, Explorer

INPUTS = ("digit", "photo", "random")
MODES = ("train", "eval")
#: Seed of the "random" input: fixed, so that a new mask seed changes the mask only, not the input.
INPUT_SEED = 0
MAX_SEED = 2**31 - 1


def dropout_input(values: dict[str, Any]) -> Any:
    """The ``(1, size, size)`` input the controls ask for."""
    if values["input"] not in INPUTS:
        raise ValueError(f"input must be one of {', '.join(INPUTS)}, got {values['input']!r}")
    return data.from_source(values["input"], values["size"], digit_value=values["digit"], seed=INPUT_SEED)


def build_dropout(values: dict[str, Any]) -> DropoutTrace:
    """The trace of ``Dropout(p, rng=seed)`` in the chosen mode on the chosen input."""
    if values["mode"] not in MODES:
        raise ValueError(f"mode must be 'train' or 'eval', got {values['mode']!r}")
    layer = Dropout(values["p"], rng=values["seed"]).train(values["mode"] == "train")
    return layer.frames(dropout_input(values))


def describe_dropout(trace: DropoutTrace) -> str:
    """One HTML line: the layer, the shapes, how many values were kept, the frames."""
    frames = f"{len(trace)} frame{'s' if len(trace) != 1 else ''}"
    head = f"<code>{trace.layer!r}</code>: input {trace.input.shape} → output {trace.output.shape}, {frames}"
    if trace.mask is None:
        return f"{head}. Eval mode: the output is the input (no mask, no scaling)."
    kept, total = int(trace.mask.sum()), trace.mask.size
    unit = "element" if trace.elementwise else "row"
    return (f"{head} (one per {unit}, then the scaling). Kept {kept} of {total} values "
            f"({kept / total:.0%}; expected 1 − p = {1 - trace.p:.0%}), each × {trace.scale:.2f}.")


class DropoutExplorer(Explorer):
    """An :class:`Explorer` with a "resample mask" button, which moves the seed on by one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.resample_button = widgets.Button(description="resample mask", icon="refresh",
                                              tooltip="Draw a new mask: the next seed")
        super().__init__(*args, extras={"resample": self.resample_button}, **kwargs)
        self.resample_button.on_click(self.guard(lambda _button: self.resample()))

    def resample(self) -> None:
        """Draw a new mask: move the seed on by one (the next seed, so the whole class sees the same one)."""
        seed = self.controls["seed"]
        seed.value = (seed.value + 1) % (MAX_SEED + 1)


def dropout_explorer(**initial: Any) -> DropoutExplorer:
    """An explorer of :class:`~layerviz.layers.dropout.Dropout`; keyword arguments set the controls' first values."""
    style = {"description_width": "initial"}
    narrow = widgets.Layout(width="190px")
    controls = {
        "input": widgets.Dropdown(options=INPUTS, value="photo", description="input", style=style, layout=narrow),
        "digit": widgets.BoundedIntText(value=7, min=0, max=9, description="digit", style=style, layout=narrow),
        "size": widgets.BoundedIntText(value=8, min=2, max=32, description="size", style=style, layout=narrow),
        # a plain text box: a p outside [0, 1] reaches the layer, whose message is shown in the page
        "p": widgets.FloatText(value=0.5, step=0.05, description="p", style=style, layout=narrow),
        "mode": widgets.ToggleButtons(options=MODES, value="train", description="mode",
                                      style={"description_width": "initial", "button_width": "64px"},
                                      layout=widgets.Layout(width="auto", display="flex", align_items="center"),
                                      tooltips=["training: draw a mask and scale", "evaluation: the identity"]),
        "seed": widgets.BoundedIntText(value=0, min=0, max=MAX_SEED, description="seed", style=style, layout=narrow),
    }
    for name, value in initial.items():
        controls[name].value = value
    layout = [["input", "digit", "size"], ["p", "mode"], ["seed", "resample"]]
    return DropoutExplorer(controls, build_dropout, describe_dropout, layout, backward=ONES)
