"""Explorers of whole networks: the anatomy of a small MLP on a 2-D problem, and a tiny CNN on digits
(and :func:`noise_table`, what that CNN reads under noise, for its page)."""

from __future__ import annotations

import functools
from typing import Any

import ipywidgets as widgets
import numpy as np

from layerviz import toy
from layerviz.layers.sequential import Sequential, SequentialTrace
from layerviz.ui import prose
from layerviz.ui.explorer import Explorer
from layerviz.ui.prose import Table

ACTIVATIONS = ("relu", "tanh", "sigmoid")


class TrueClassLoss:
    """The backward pass a network explorer's switch shows: from the loss ``L = −log p[true class]``.

    The trace's ``target`` is the true class (the point's class, the digit drawn). Its gradient at the
    softmax's output is ``−1/p`` at the true class and 0 elsewhere; through the softmax it becomes the
    familiar ``p − onehot`` at the scores, then flows back layer by layer.
    """

    note = "from the loss L = −log p[true class] (dL/dp = −1/p at the true class, 0 elsewhere)"

    def __call__(self, trace: SequentialTrace):
        probs = np.asarray(trace.output, dtype=np.float64)
        target = int(trace.target)
        grad = np.zeros_like(probs)
        grad[..., target] = -1.0 / probs[..., target]
        return trace.backward(grad)


@functools.lru_cache(maxsize=16)
def _moons(seed: int) -> tuple[np.ndarray, np.ndarray]:
    return toy.two_moons(120, rng=seed)


@functools.lru_cache(maxsize=16)
def trained_mlp(hidden: tuple[int, ...], activation: str, seed: int) -> Sequential:
    """The MLP :func:`layerviz.toy.train_mlp` trains on the two moons of ``seed`` (cached: same settings, same model)."""
    points, labels = _moons(seed)
    return toy.train_mlp(points, labels, hidden, activation, rng=seed)


def build_anatomy(values: dict[str, Any]) -> SequentialTrace:
    """The forward pass of point ``values['point']`` through the MLP the controls describe."""
    hidden = toy.parse_sizes(values["hidden"])
    points, _ = _moons(values["seed"])
    if not 0 <= values["point"] < len(points):
        raise ValueError(f"point must be between 0 and {len(points) - 1}, got {values['point']}")
    model = trained_mlp(hidden, values["activation"], values["seed"])
    return model.frames(points[values["point"]], view=values["view"])


def describe_anatomy(trace: SequentialTrace) -> str:
    points, labels = _moons(getattr(trace, "seed", 0))
    anatomy = trace.layer.anatomy()
    probs = trace.output
    point = ", ".join(f"{v:.2f}" for v in trace.input)
    lines = "<br>".join(anatomy.lines()[:-1])
    return (f"{lines}<br><b>{anatomy.statement}</b><br>point ({point}) → probabilities "
            f"{', '.join(f'{p:.2f}' for p in probs)}: predicted class {int(np.argmax(probs))}. "
            f"Accuracy on all {len(points)} points: {toy.accuracy(trace.layer, points, labels):.0%}.")


def network_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of a trained MLP: hidden sizes, activation, which point goes through it, the view."""
    style = {"description_width": "initial"}
    narrow = widgets.Layout(width="190px")
    controls = {
        "hidden": widgets.Text(value="8, 8", description="hidden sizes", continuous_update=False, style=style,
                               layout=widgets.Layout(width="220px")),
        "activation": widgets.Dropdown(options=ACTIVATIONS, value="relu", description="activation", style=style,
                                       layout=narrow),
        "point": widgets.BoundedIntText(value=0, min=0, max=119, description="point", style=style, layout=narrow),
        "view": widgets.Dropdown(options=("neurons", "flow"), value="neurons", description="view", style=style,
                                 layout=narrow),
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed", style=style, layout=narrow),
    }
    for name, value in initial.items():
        controls[name].value = value

    def build(values: dict[str, Any]) -> SequentialTrace:
        trace = build_anatomy(values)
        trace.seed = values["seed"]
        trace.target = int(_moons(values["seed"])[1][values["point"]])
        return trace

    return Explorer(controls, build, describe_anatomy, [list(controls)], backward=TrueClassLoss())


def build_cnn(values: dict[str, Any]) -> SequentialTrace:
    """The tiny digit CNN's forward pass on the chosen digit, with the chosen noise (its input, a picture even
    when noise takes it out of [0, 1], drawn in greys)."""
    trace = toy.digit_cnn().frames(toy.digit_input(values["digit"], values["noise"], values["seed"]))
    trace.picture = True
    trace.target = values["digit"]
    return trace


def describe_cnn(trace: SequentialTrace) -> str:
    probs = trace.output[0]
    best = int(np.argmax(probs))
    top = ", ".join(f"{d}: {probs[d]:.2f}" for d in np.argsort(probs)[::-1][:3])
    return (f"{trace.layer.short_repr()}: input {trace.input.shape} → output {trace.output.shape}, {len(trace)} frames. "
            f"<b>Predicted digit: {best}</b> (most probable: {top}).")


def noise_answers(noise: float, seed: int = 0) -> list[np.ndarray]:
    """The digit CNN's probabilities for the image of each digit 0..9 with ``noise``, as :func:`cnn_explorer` computes them."""
    model = toy.digit_cnn()
    return [model(toy.digit_input(digit, noise, seed))[0] for digit in range(10)]


def noise_table(noise_levels: tuple[float, ...] = (0.0, 0.3, 1.0, 2.0), seed: int = 0) -> Table:
    """A table for the CNN page: for each noise level (rows) and the image of each digit (columns), the digit the
    network reads and its probability, ``"8 (0.69)"``."""
    rows = [[noise, *(f"{p.argmax()} ({p.max():.2f})" for p in noise_answers(noise, seed))] for noise in noise_levels]
    return prose.table(rows, ["noise", *range(10)], digits=1,
                       caption="Columns: the image of each digit. Cells: the digit the network reads (its probability).")


def cnn_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of :func:`layerviz.toy.digit_cnn`: which digit, how much noise."""
    style = {"description_width": "initial"}
    narrow = widgets.Layout(width="190px")
    controls = {
        "digit": widgets.BoundedIntText(value=3, min=0, max=9, description="digit", style=style, layout=narrow),
        "noise": widgets.FloatText(value=0.0, step=0.1, description="noise", style=style, layout=narrow),
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed", style=style, layout=narrow),
    }
    for name, value in initial.items():
        controls[name].value = value
    return Explorer(controls, build_cnn, describe_cnn, [list(controls)], backward=TrueClassLoss())
