"""The pooling explorer: choose an input and a pooling layer, watch the window summarise the input.

Also :func:`pool_comparison`: max and average pooling of the same input, side by side, one window
per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np

from layerviz import data
from layerviz.layers._pool_average import AvgPoolFrame
from layerviz.layers.adaptive_pool import AdaptiveAvgPool2d, AdaptiveAvgPoolTrace
from layerviz.layers.avg_pool import AvgPool2d, AvgPoolTrace
from layerviz.layers.max_pool import MaxPool2d, MaxPoolFrame, MaxPoolTrace
from layerviz.scene import Grid, Scene
from layerviz.trace import LazyCaptions, Trace
from layerviz.ui.conv import follow_upload
from layerviz.ui.explorer import ONES, Explorer

INPUTS = data.SOURCES
KINDS = ("max", "average", "adaptive average", "max vs average")
#: The stride control's choices; "default" is torch's stride=None, the kernel size.
STRIDES = (("default = kernel size", "default"), ("1", 1), ("2", 2), ("3", 3), ("4", 4))
#: Controls each kind of pooling reads (the others are greyed out).
USED = {
    "max": {"kernel_size", "stride", "padding", "ceil_mode"},
    "average": {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"},
    "adaptive average": {"output_size"},
    "max vs average": {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"},
}
POOL_CONTROLS = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "output_size")


# -- max and average side by side -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ComparisonFrame:
    """Frame ``index`` of a :class:`PoolComparison`: the same window, max-pooled and averaged.

    Attributes
    ----------
    index : int
    max : MaxPoolFrame
    average : AvgPoolFrame
    narration : str
        Both computations.
    """

    index: int
    max: MaxPoolFrame
    average: AvgPoolFrame
    narration: str

    @property
    def question(self):
        """The average's question (the maximum is read off the window): ``out[0,0,1]: average (…) / 4 = ?``."""
        asked = self.average.question
        if asked is None:
            return None
        prefix = self.narration.split(": ", 1)[0]
        return asked._replace(prompt=f"{prefix}: average {asked.prompt[len(prefix) + 3:]}")

    def __repr__(self) -> str:
        return f"ComparisonFrame({self.index}: {self.narration})"


class PoolComparison(Trace):
    """Max pooling and average pooling of the same input with the same windows, frame by frame.

    Attributes
    ----------
    max_trace : MaxPoolTrace
    average_trace : AvgPoolTrace
    layer : (MaxPool2d, AvgPool2d)
    input : ndarray
        ``x`` as given.
    output : ndarray, shape (2, *out_shape)
        The max-pooled output, then the averaged one.
    """

    def __init__(self, max_pool: MaxPool2d, avg_pool: AvgPool2d, x) -> None:
        self.max_trace = max_pool.frames(x)
        self.average_trace = avg_pool.frames(x)
        if self.max_trace.output.shape != self.average_trace.output.shape:
            raise ValueError(f"the two layers must give outputs of the same shape, got {self.max_trace.output.shape} "
                             f"and {self.average_trace.output.shape}")
        self.layer = (max_pool, avg_pool)
        self.input = self.max_trace.input
        self.output = np.stack([self.max_trace.output, self.average_trace.output])
        self.output.flags.writeable = False
        self.n_frames = self.max_trace.n_frames

    def _frame(self, k: int) -> ComparisonFrame:
        top, mean = self.max_trace[k], self.average_trace[k]
        prefix = top.narration.split(" = ", 1)[0]  # "out[n,c,i,j]", the same cell in both
        both = f"{prefix}: {top.narration[len(prefix) + 3:]}   ·   average {mean.narration[len(prefix) + 3:]}"
        return ComparisonFrame(k, top, mean, both)

    def scene(self) -> Scene:
        """Input → max pool and average pool, the same window lit in the input, both output cells lit."""
        max_scene, avg_scene = self.max_trace.scene(), self.average_trace.scene()
        average = avg_scene.panel("output")
        average = Grid("average", average.title, average.values, average.labels, reveal=average.reveal,
                       page_size=average.page_size, page=average.page, op="")
        outlines = [*max_scene.highlights]
        for highlight in avg_scene.highlights:
            if highlight.panel == "output":
                outlines.append(type(highlight)("average", highlight.origin, highlight.stencil, highlight.role))
        return Scene(
            f"{self.layer[0]!r} and {self.layer[1]!r}",
            self.n_frames,
            (*max_scene.panels, average),
            tuple(outlines),
            LazyCaptions(self),
            max(max_scene.vmax, avg_scene.vmax),
        )

    def __repr__(self) -> str:
        return (f"<PoolComparison of {self.layer[0]!r} and {self.layer[1]!r}: {self.n_frames} frames, "
                f"input {self.input.shape} -> outputs {self.output.shape[1:]}>")


def pool_comparison(
    x,
    kernel_size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> PoolComparison:
    """Max and average pooling of ``x: (C, H, W)`` or ``(N, C, H, W)`` with the same windows, side by side.

    Returns a :class:`PoolComparison` trace: ``.output`` holds both outputs, ``.player()`` animates them.
    """
    max_pool = MaxPool2d(kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode)
    avg_pool = AvgPool2d(kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)
    return PoolComparison(max_pool, avg_pool, x)


# -- the explorer ---------------------------------------------------------------------------------


def pooling_input(values: dict[str, Any]) -> np.ndarray:
    """The ``(channels, size, size)`` input the controls ask for."""
    return data.from_source(values["input"], values["size"], values["channels"], digit_value=values["digit"],
                            seed=values["seed"], uploads=values.get("upload"))


def build_pooling(values: dict[str, Any]) -> MaxPoolTrace | AvgPoolTrace | AdaptiveAvgPoolTrace | PoolComparison:
    """The trace of the pooling layer the controls describe, on the chosen input."""
    x = pooling_input(values)
    kind = values["kind"]
    if kind == "adaptive average":
        return AdaptiveAvgPool2d(values["output_size"]).frames(x)
    window = dict(kernel_size=values["kernel_size"], stride=None if values["stride"] == "default" else values["stride"],
                  padding=values["padding"], ceil_mode=values["ceil_mode"])
    if kind == "max":
        return MaxPool2d(**window).frames(x)
    if kind == "average":
        return AvgPool2d(**window, count_include_pad=values["count_include_pad"]).frames(x)
    if kind == "max vs average":
        return pool_comparison(x, **window, count_include_pad=values["count_include_pad"])
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _rows_formula(layer: MaxPool2d | AvgPool2d, height: int, rows: int) -> str:
    """The output-size formula with the layer's numbers, for the rows."""
    k, s, p, d = (v if isinstance(v, int) else v[0]
                  for v in (layer.kernel_size, layer.stride, layer.padding, getattr(layer, "dilation", 1)))
    span = f"{d}·({k} − 1)" if d != 1 else f"({k} − 1)"
    if layer.ceil_mode:
        return (f"Rows: ⌈({height} + 2·{p} − {span} − 1) / {s}⌉ + 1 = {rows} "
                f"(ceil_mode; a window that would start in the padding is dropped)")
    return f"Rows: ⌊({height} + 2·{p} − {span} − 1) / {s}⌋ + 1 = {rows}"


def describe_pooling(trace: Trace) -> str:
    """One line: the layer, the shapes, the number of frames and how the output size comes about."""
    if isinstance(trace, PoolComparison):
        layer = trace.layer[0]
        head = f"<code>{trace.layer[0]!r}</code> and <code>{trace.layer[1]!r}</code>"
        shape = trace.output.shape[1:]
    else:
        layer = trace.layer
        head = f"<code>{layer!r}</code>"
        shape = trace.output.shape
    h, oh = trace.input.shape[-2], shape[-2]
    text = f"{head}: input {trace.input.shape} → output {shape}, {len(trace)} frames. "
    if isinstance(layer, AdaptiveAvgPool2d):
        return text + f"Output row i averages input rows ⌊i·{h}/{oh}⌋ to ⌈(i+1)·{h}/{oh}⌉ − 1."
    return text + _rows_formula(layer, h, oh)


def pooling_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of max, average and adaptive average pooling; keyword arguments set the controls."""
    style = {"description_width": "initial"}
    narrow = widgets.Layout(width="190px")
    controls = {
        "input": widgets.Dropdown(options=INPUTS, value="digit", description="input", style=style, layout=narrow),
        "digit": widgets.BoundedIntText(value=7, min=0, max=9, description="digit", style=style, layout=narrow),
        "size": widgets.BoundedIntText(value=8, min=2, max=32, description="size", style=style, layout=narrow),
        "upload": widgets.FileUpload(accept="image/*", multiple=False, description="Upload"),
        "channels": widgets.BoundedIntText(value=1, min=1, max=3, description="channels", style=style, layout=narrow),
        "kind": widgets.Dropdown(options=KINDS, value="max", description="pooling", style=style,
                                 layout=widgets.Layout(width="230px")),
        "kernel_size": widgets.BoundedIntText(value=2, min=1, max=8, description="kernel size", style=style,
                                              layout=narrow),
        "stride": widgets.Dropdown(options=STRIDES, value="default", description="stride", style=style,
                                   layout=widgets.Layout(width="240px")),
        "padding": widgets.BoundedIntText(value=0, min=0, max=4, description="padding", style=style, layout=narrow),
        "ceil_mode": widgets.Checkbox(value=False, description="ceil_mode", indent=False,
                                      layout=widgets.Layout(width="110px")),
        "count_include_pad": widgets.Checkbox(value=True, description="count_include_pad", indent=False,
                                              layout=widgets.Layout(width="170px")),
        "output_size": widgets.BoundedIntText(value=3, min=1, max=16, description="output size", style=style,
                                              layout=narrow),
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed", style=style, layout=narrow),
    }
    for name, value in initial.items():
        if name not in controls:
            raise ValueError(f"pooling_explorer has no control {name!r}; the controls are {sorted(controls)}")
        controls[name].value = value

    def grey_out_unused(_change: Any = None) -> None:
        used = USED[controls["kind"].value]
        for name in POOL_CONTROLS:
            controls[name].disabled = name not in used

    grey_out_unused()
    follow_upload(controls)
    layout = [["input", "digit", "size", "upload", "channels", "seed"],
              ["kind", "kernel_size", "stride", "padding"],
              ["ceil_mode", "count_include_pad", "output_size"]]
    explorer = Explorer(controls, build_pooling, describe_pooling, layout, backward=ONES)
    controls["kind"].observe(explorer.guard(grey_out_unused), names="value")
    grey_out_unused()  # the page's address may have chosen another kind
    return explorer
