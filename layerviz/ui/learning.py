"""What the lessons' "How it learns" sections show besides the backward player: a network's gradients layer by
layer, and an image's gradient drawn as a picture.

- :func:`gradients_table`: every gradient of a backward pass (torch's names), its layer, shape and size;
- :func:`gradient_step`: a copy of a network moved one step of gradient descent against those gradients;
- :func:`input_gradient_figure`: an image beside dL/dx, the pixels the loss is sensitive to.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from layerviz.figure_store import StoredFigure
from layerviz.ui import prose

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from layerviz.mpl import PngFigure


def _layer_of(btrace: Any, name: str) -> str:
    """``"1. Dense(2, 8, activation='relu')"`` for ``"0.weight"`` in a Sequential; ``""`` otherwise."""
    layers = getattr(btrace.layer, "layers", None)
    head = name.split(".", 1)[0]
    if layers is None or not head.isdigit():
        return "the input" if name == "input" else ""
    return f"{int(head) + 1}. {layers[int(head)]!r}"


def gradients_table(btrace: Any, caption: str = "") -> prose.Table:
    """Each gradient of ``btrace`` (``btrace.grads``, torch's names), with its layer, shape and largest entry.

    The last row is ``input``: dL/dx, what the layer (or network) hands back to the one before it.
    """
    rows = [[name, _layer_of(btrace, name), tuple(int(d) for d in np.shape(grad)),
             float(np.abs(grad).max(initial=0.0))]
            for name, grad in btrace.grads.items()]
    return prose.table(rows, ["gradient", "of", "shape", "largest |entry|"], caption, digits=4)


def gradient_step(model: Any, btrace: Any, learning_rate: float = 0.1) -> Any:
    """A copy of ``model`` (a Sequential), every parameter moved against its gradient: ``p − learning_rate × dL/dp``.

    ``btrace`` is the backward pass of ``model`` or of its first layers (the same layers: ``"0.weight"`` is
    ``model.layers[0].weight``); ``model`` itself is left unchanged.
    """
    number = isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool)
    if not number or not np.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a number > 0, got {learning_rate!r}")
    stepped = copy.deepcopy(model)
    for name, grad in btrace.grads.items():
        if name == "input":
            continue
        index, parameter = name.split(".", 1)
        layer = stepped.layers[int(index)]
        setattr(layer, parameter, getattr(layer, parameter) - learning_rate * np.asarray(grad))
    return stepped


def input_gradient_figure(image: Any, gradient: Any, title: str = "dL/dx") -> StoredFigure:
    """The image (grey) beside its gradient ``dL/dx`` (blue: brightening the pixel lowers the loss, red: raises it).

    Parameters
    ----------
    image, gradient : array of the same shape, ``(H, W)`` or with leading axes of size 1 (``(1, 1, H, W)``)
    title : str
        The gradient panel's title.
    """
    picture = np.asarray(image, dtype=np.float64)
    grad = np.asarray(gradient, dtype=np.float64)
    if picture.shape != grad.shape:
        raise ValueError(f"gradient must have the image's shape {picture.shape}, got shape {grad.shape}")
    picture, grad = picture.squeeze(), grad.squeeze()
    if picture.ndim != 2:
        raise ValueError(f"image must be one picture (H, W), got shape {np.shape(image)}")
    return StoredFigure(_draw_image_and_gradient, picture=picture, grad=grad, title=title)


def _draw_image_and_gradient(picture: np.ndarray, grad: np.ndarray, title: str) -> PngFigure:
    from layerviz.mpl import PngFigure

    fig = PngFigure(figsize=(8, 3.6), dpi=100, facecolor="white", layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(picture, cmap="gray", vmin=min(0.0, picture.min()), vmax=max(1.0, picture.max()))
    left.set_title("the image")
    limit = float(np.abs(grad).max()) or 1.0
    shown = right.imshow(grad, cmap="RdBu_r", vmin=-limit, vmax=limit)
    right.set_title(f"{title}: blue, brighter lowers the loss; red, raises it", fontsize=10)
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=right, shrink=0.85)
    return fig
