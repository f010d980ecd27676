"""The batch-normalization explorer: a batch, its per-channel statistics, the normalized output.

Also the notebook's helpers: :func:`batchnorm_input` (a random or digit batch), :func:`warm_up`
(train the running statistics on a few batches), :func:`distribution_figure` (histograms before
and after normalization) and :func:`refusal` (the message a layer gives for an input it refuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from layerviz import data
from layerviz.figure_store import StoredFigure
from layerviz.layers.batchnorm import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNormTrace,
    _BatchNorm,
)
from layerviz.ui.explorer import Explorer, Upstream, fixed_gradient

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn: a kernel that draws none saves ~30 MB
    from layerviz.mpl import PngFigure

LAYERS = {"BatchNorm1d": BatchNorm1d, "BatchNorm2d": BatchNorm2d}
INPUTS = ("random", "digits")
MODES = ("train", "eval")
EPS_CHOICES = (("1e-05", 1e-5), ("0.001", 1e-3), ("0.1", 0.1), ("1", 1.0))
#: Dropdown values are strings: ipywidgets reads a None value as "nothing selected".
MOMENTUM_CHOICES = (("0.1", "0.1"), ("0.5", "0.5"), ("1", "1"), ("None (average)", "None"))

#: The backward switch's upstream gradient: varied numbers. With dL/dout = 1 everywhere a training batch would get
#: dL/dx = 0 and dL/dγ = 0: a normalized channel always sums to the same, whatever x and γ.
UPSTREAM = Upstream("dL/dout: fixed numbers between −1 and 1 (with 1 everywhere, training mode would give "
                    "dL/dx = 0: a normalized channel always sums to the same)", fixed_gradient)

#: Okabe-Ito colours, one per channel (colour-blind safe, as the player's highlights).
CHANNEL_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _per_channel(name: str, value, channels: int) -> np.ndarray:
    """``value`` (a number or one per channel) as a finite ``(channels,)`` array."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1 or array.size not in (1, channels):
        raise ValueError(f"{name} must be a number or {channels} numbers (one per channel), got {value!r}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return np.broadcast_to(array.ravel(), (channels,))


def input_shape(layer: str, batch_size: int, channels: int, size: int) -> tuple[int, ...]:
    """The input shape for the explorer's settings.

    BatchNorm1d: ``(N, C)`` for ``size == 0``, else ``(N, C, L)`` with ``L = size``;
    BatchNorm2d: ``(N, C, size, size)``.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {sorted(LAYERS)}, got {layer!r}")
    if layer == "BatchNorm1d":
        return (batch_size, channels) if size == 0 else (batch_size, channels, size)
    if size < 1:
        raise ValueError(f"size must be >= 1 for BatchNorm2d (images of size × size), got {size}")
    return (batch_size, channels, size, size)


def batchnorm_input(layer: str = "BatchNorm2d", batch_size: int = 4, channels: int = 2, size: int = 4,
                    source: str = "random", mean: float | Sequence[float] = 3.0,
                    scale: float | Sequence[float] = 2.0, seed: int = 0) -> np.ndarray:
    """A batch for the layer: normal noise of the given ``mean`` and ``scale`` (standard deviation), or digits.

    Parameters
    ----------
    layer : {'BatchNorm1d', 'BatchNorm2d'}
    batch_size, channels, size : int
        See :func:`input_shape`.
    source : {'random', 'digits'}
        ``'digits'`` (BatchNorm2d only): sample ``n`` shows the digit ``n % 10`` (channel ``c``
        the digit ``n + c``), values in ``[0, 1]``; ``mean`` and ``scale`` are not used.
    mean, scale : float or sequence of float
        Mean and standard deviation of the random values, one for all channels or one per channel:
        far from 0 and 1 so that the normalization visibly moves them.
    seed : int

    Returns
    -------
    ndarray, shape (N, C), (N, C, L) or (N, C, size, size)
    """
    shape = input_shape(layer, batch_size, channels, size)
    if source == "random":
        per_channel = (channels, *(1,) * (len(shape) - 2))
        loc, spread = (_per_channel(name, value, channels).reshape(per_channel)
                       for name, value in (("mean", mean), ("scale", scale)))
        if (spread < 0).any():
            raise ValueError(f"scale must be >= 0, got {scale}")
        return np.random.default_rng(seed).normal(loc, spread, shape)
    if source == "digits":
        if layer != "BatchNorm2d":
            raise ValueError("input 'digits' are images: choose BatchNorm2d, or the input 'random' for BatchNorm1d")
        return np.stack([data.digit(n % 10, size, channels) for n in range(batch_size)])
    raise ValueError(f"input must be one of {INPUTS}, got {source!r}")


def warm_up(layer: _BatchNorm, count: int, *, batch_size: int = 4, size: int = 4, source: str = "random",
            mean: float | Sequence[float] = 3.0, scale: float | Sequence[float] = 2.0, seed: int = 0) -> _BatchNorm:
    """Train ``layer`` on ``count`` batches, as a training loop would; returns it, in its former mode.

    The batches are :func:`batchnorm_input` of the layer's kind and channels with seeds
    ``seed + 1``, ..., ``seed + count`` (the batch of seed ``seed`` itself is left for the trace),
    and at least 2 samples (training needs more than one value per channel; a batch of 1 can still
    be traced in eval mode afterwards). The running statistics move from (0, 1) towards the data's
    mean and variance.
    """
    training = layer.training
    layer.train()
    for i in range(1, count + 1):
        layer(batchnorm_input(type(layer).__name__, max(batch_size, 2), layer.num_features, size, source, mean,
                              scale, seed + i))
    return layer.train(training)


def _momentum(text: str) -> float | None:
    return None if text == "None" else float(text)


def build_batchnorm(values: dict[str, Any]) -> BatchNormTrace:
    """The trace of the layer the controls describe, on the batch they describe.

    Before the traced batch the layer is trained on ``values['warmup']`` other batches of the same
    kind (seeds ``seed + 1``, ...), so its running statistics are no longer the initial 0 and 1.
    """
    cls = LAYERS.get(values["layer"])
    if cls is None:
        raise ValueError(f"layer must be one of {sorted(LAYERS)}, got {values['layer']!r}")
    layer = cls(values["channels"], eps=values["eps"], momentum=_momentum(values["momentum"]),
                affine=values["affine"], track_running_stats=values["track_running_stats"])
    if layer.affine:
        layer.weight = np.full(layer.num_features, values["gamma"], dtype=float)
        layer.bias = np.full(layer.num_features, values["beta"], dtype=float)

    batch = dict(batch_size=values["batch_size"], size=values["size"], source=values["input"], mean=values["mean"],
                 scale=values["scale"], seed=values["seed"])
    x = batchnorm_input(values["layer"], channels=values["channels"], **batch)
    if layer.track_running_stats:
        warm_up(layer, values["warmup"], **batch)
    layer.train(values["mode"] == "train")
    return layer.frames(x)


def _fmt(value: float) -> str:
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def describe_batchnorm(trace: BatchNormTrace) -> str:
    """One HTML line: the layer, its mode, the shapes, the counts and the effect on the values."""
    layer, x = trace.layer, trace.input
    mode = "training" if trace.training else "eval"
    if trace.uses_batch_stats:
        stats = f"batch statistics over {trace.count} values per channel ({' × '.join(map(str, x.shape[:1] + x.shape[2:]))})"
    else:
        stats = "running statistics"
    updated = ", running statistics updated" if trace.updates_running_stats else ""
    step = "one row" if trace.by_row else "one value"
    return (
        f"<code>{layer!r}</code>, {mode} mode: input {x.shape} → output {trace.output.shape}, {stats}{updated}; "
        f"{len(trace)} frames ({step} per normalize frame). Values: mean {_fmt(x.mean())}, std {_fmt(x.std())} "
        f"→ mean {_fmt(trace.output.mean())}, std {_fmt(trace.output.std())}."
    )


def batchnorm_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of BatchNorm1d / BatchNorm2d; keyword arguments set the controls' first values."""
    style = {"description_width": "initial"}
    narrow = widgets.Layout(width="190px")

    def box(name: str) -> widgets.Checkbox:
        return widgets.Checkbox(value=True, description=name, indent=False, layout=widgets.Layout(width="150px"))

    controls = {
        "layer": widgets.Dropdown(options=tuple(LAYERS), value="BatchNorm2d", description="layer", style=style,
                                  layout=widgets.Layout(width="210px")),
        "batch_size": widgets.BoundedIntText(value=4, min=1, max=8, description="batch size", style=style,
                                             layout=narrow),
        "channels": widgets.BoundedIntText(value=2, min=1, max=4, description="channels", style=style, layout=narrow),
        "size": widgets.BoundedIntText(value=4, min=0, max=8, description="size", style=style, layout=narrow),
        "input": widgets.Dropdown(options=INPUTS, value="random", description="input", style=style, layout=narrow),
        "mean": widgets.FloatText(value=3.0, step=0.5, description="input mean", style=style, layout=narrow),
        "scale": widgets.FloatText(value=2.0, step=0.5, description="input scale", style=style, layout=narrow),
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed", style=style, layout=narrow),
        "mode": widgets.Dropdown(options=MODES, value="train", description="mode", style=style, layout=narrow),
        "warmup": widgets.BoundedIntText(value=5, min=0, max=100, description="batches before", style=style,
                                         layout=narrow),
        "momentum": widgets.Dropdown(options=MOMENTUM_CHOICES, value="0.1", description="momentum", style=style,
                                     layout=narrow),
        "track_running_stats": box("track_running_stats"),
        "eps": widgets.Dropdown(options=EPS_CHOICES, value=1e-5, description="eps", style=style, layout=narrow),
        "affine": box("affine"),
        "gamma": widgets.FloatText(value=1.0, step=0.5, description="γ (weight)", style=style, layout=narrow),
        "beta": widgets.FloatText(value=0.0, step=0.5, description="β (bias)", style=style, layout=narrow),
    }
    controls["track_running_stats"].layout.width = "190px"
    for name, value in initial.items():
        controls[name].value = value
    layout = [["layer", "batch_size", "channels", "size"],
              ["input", "mean", "scale", "seed"],
              ["mode", "warmup", "momentum", "track_running_stats"],
              ["eps", "affine", "gamma", "beta"]]
    return Explorer(controls, build_batchnorm, describe_batchnorm, layout, backward=UPSTREAM)


# -- notebook helpers ----------------------------------------------------------------------------


def distribution_figure(trace: BatchNormTrace, bins: int = 24) -> StoredFigure:
    """Histograms of each channel's values before (the input) and after (the output) normalization.

    Both panels share the horizontal axis, so the shift to mean ``beta`` and the rescaling to
    standard deviation ``gamma`` (0 and 1 by default) are seen at once. Dashed lines mark each
    channel's mean.

    Parameters
    ----------
    trace : BatchNormTrace
    bins : int

    Returns
    -------
    StoredFigure
        Its ``.figure`` is a :class:`matplotlib.figure.Figure` with two axes (``axes[0]`` before, ``[1]`` after).
    """
    x, out = trace.input, trace.output
    channels = x.shape[1]
    before = np.moveaxis(x, 1, 0).reshape(channels, -1)
    after = np.moveaxis(out, 1, 0).reshape(channels, -1)
    low, high = min(before.min(), after.min()), max(before.max(), after.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    return StoredFigure(_draw_distributions, before=before, after=after, edges=edges)


def _draw_distributions(before: np.ndarray, after: np.ndarray, edges: np.ndarray) -> PngFigure:
    """``before`` and ``after`` ``(C, n)``: a histogram per channel over ``edges``, one panel each."""
    from layerviz.mpl import PngFigure

    fig = PngFigure(figsize=(9, 3.2), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax, values, title in ((axes[0], before, "before (input x)"), (axes[1], after, "after (output)")):
        for c in range(values.shape[0]):
            color = CHANNEL_COLORS[c % len(CHANNEL_COLORS)]
            ax.hist(values[c], bins=edges, color=color, alpha=0.45, label=f"channel {c}")
            ax.axvline(values[c].mean(), color=color, linestyle="--", linewidth=1.5)
        ax.axvline(0.0, color="#555555", linewidth=0.8)
        ax.set_title(f"{title}: mean {_fmt(values.mean())}, std {_fmt(values.std())}", fontsize=11)
        ax.set_xlabel("value")
    axes[0].set_ylabel("count")
    axes[1].legend(fontsize=9, frameon=False)
    return fig


def refusal(layer: _BatchNorm, x) -> str:
    """The message of the ValueError ``layer(x)`` raises, or ``'accepted'``; the layer is left unchanged."""
    try:
        layer.frames(x)
    except ValueError as error:
        return str(error)
    return "accepted"
