"""The convolution explorer: choose an input and the Conv2d settings, watch the kernel slide."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from layerviz import data
from layerviz.layers import Conv2d
from layerviz.layers.conv import ConvTrace
from layerviz.ui.explorer import ONES, Explorer

INPUTS = data.SOURCES
PADDINGS = (0, 1, 2, 3, "same", "valid")


def conv_input(values: dict[str, Any]) -> Any:
    """The ``(in_channels, size, size)`` input the controls ask for."""
    return data.from_source(values["input"], values["size"], values["in_channels"], digit_value=values["digit"],
                            seed=values["seed"], uploads=values.get("upload"))


def build_conv(values: dict[str, Any]) -> ConvTrace:
    """The trace of ``Conv2d(**settings)`` on the chosen input."""
    conv = Conv2d(
        values["in_channels"],
        values["out_channels"],
        values["kernel_size"],
        stride=values["stride"],
        padding=values["padding"],
        dilation=values["dilation"],
        groups=values["groups"],
        bias=values["bias"],
        rng=values["seed"],
    )
    return conv.frames(conv_input(values))


def follow_upload(controls: dict[str, widgets.ValueWidget]) -> None:
    """A picture uploaded becomes the input at once: the input menu moves to "upload" by itself."""

    def select(change: dict) -> None:
        if change["new"]:
            controls["input"].value = "upload"

    controls["upload"].observe(select, names="value")


def describe_conv(trace: ConvTrace) -> str:
    conv = trace.layer
    h, oh = trace.input.shape[-2], trace.output.shape[-2]
    top, bottom, _, _ = conv.pads()
    (k, _), (s, _), (d, _) = conv.kernel_size, conv.stride, conv.dilation
    return (
        f"<code>{conv!r}</code>: input {trace.input.shape} → output {trace.output.shape}, "
        f"{len(trace)} frames. Rows: ⌊({h} + {top} + {bottom} − {d}·({k} − 1) − 1) / {s}⌋ + 1 = {oh}"
    )


def conv_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of :class:`~layerviz.Conv2d`; keyword arguments set the controls' first values.

    Its forward | backward switch shows the gradients for dL/dout = 1 everywhere (:data:`~layerviz.ui.explorer.ONES`).
    """
    style = {"description_width": "initial"}
    narrow = widgets.Layout(width="190px")
    controls = {
        "input": widgets.Dropdown(options=INPUTS, value="digit", description="input", style=style, layout=narrow),
        "digit": widgets.BoundedIntText(value=7, min=0, max=9, description="digit", style=style, layout=narrow),
        "size": widgets.BoundedIntText(value=8, min=2, max=32, description="size", style=style, layout=narrow),
        "upload": widgets.FileUpload(accept="image/*", multiple=False, description="Upload"),
        "in_channels": widgets.BoundedIntText(value=1, min=1, max=3, description="in channels", style=style, layout=narrow),
        "out_channels": widgets.BoundedIntText(value=1, min=1, max=4, description="out channels", style=style, layout=narrow),
        "kernel_size": widgets.BoundedIntText(value=3, min=1, max=7, description="kernel size", style=style, layout=narrow),
        "stride": widgets.BoundedIntText(value=1, min=1, max=4, description="stride", style=style, layout=narrow),
        "padding": widgets.Dropdown(options=PADDINGS, value=0, description="padding", style=style, layout=narrow),
        "dilation": widgets.BoundedIntText(value=1, min=1, max=3, description="dilation", style=style, layout=narrow),
        "groups": widgets.BoundedIntText(value=1, min=1, max=3, description="groups", style=style, layout=narrow),
        "bias": widgets.Checkbox(value=True, description="bias", indent=False, layout=widgets.Layout(width="80px")),
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed", style=style, layout=narrow),
    }
    for name, value in initial.items():
        controls[name].value = value
    follow_upload(controls)  # before the explorer's observers: the upload is drawn once, as the input
    layout = [["input", "digit", "size", "upload"],
              ["in_channels", "out_channels", "kernel_size", "stride"],
              ["padding", "dilation", "groups", "bias", "seed"]]
    return Explorer(controls, build_conv, describe_conv, layout, backward=ONES)
