"""Toy problems and small trained networks for the notebooks.

- :func:`two_moons` draws a 2-D problem: two interleaved half circles, one class each.
- :func:`train_mlp` trains a small multilayer perceptron (Dense layers, softmax output) on it in numpy,
  full-batch gradient descent with Adam, in well under a second.
- :func:`decision_regions` draws which class the network predicts everywhere in the plane.
- :func:`digit_cnn` loads a tiny convolutional network trained on :func:`layerviz.data.digit` images
  (weights made by ``scripts/train_digit_cnn.py``, shipped in ``layerviz/weights/digit_cnn.npz``).

Randomness comes only from an explicit ``numpy.random.Generator`` (or an int seed).
"""

from __future__ import annotations

import functools
import pathlib
from typing import TYPE_CHECKING

import numpy as np

from layerviz import _checks
from layerviz.figure_store import StoredFigure
from layerviz.layers import Conv2d, Dense, Flatten, Linear, MaxPool2d, ReLU, Sequential, Softmax

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_WEIGHTS = pathlib.Path(__file__).parent / "weights"

#: Derivative of each Dense activation, from its output ``a`` and input ``z``.
_GRADIENTS = {
    "relu": lambda a, z: (z > 0).astype(float),
    "tanh": lambda a, z: 1.0 - a**2,
    "sigmoid": lambda a, z: a * (1.0 - a),
    "identity": lambda a, z: np.ones_like(z),
}


def two_moons(n: int = 120, noise: float = 0.12, rng: np.random.Generator | int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles.

    Parameters
    ----------
    n : int
        Number of points (half in each class, the odd one in class 1).
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    rng : numpy.random.Generator or int

    Returns
    -------
    points : ndarray, shape (n, 2)
    labels : ndarray of int, shape (n,)
        0 for the upper moon, 1 for the lower one.
    """
    n = _checks.positive_int("n", n, 2)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(rng)
    n0 = n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n - n0)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])
    points = np.concatenate([upper, lower]) + rng.normal(0.0, noise, (n, 2))
    labels = np.concatenate([np.zeros(n0, int), np.ones(n - n0, int)])
    return points, labels


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"8, 8"`` -> ``(8, 8)``; ``""`` -> ``()`` (no hidden layer). ValueError naming the rule."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"hidden sizes must be whole numbers separated by commas, got {text!r}") from None
    for size in sizes:
        if size < 1:
            raise ValueError(f"hidden sizes must be >= 1, got {size}")
    if len(sizes) > 4:
        raise ValueError(f"hidden sizes must list at most 4 hidden layers, got {len(sizes)}")
    return sizes


def mlp(in_features: int, hidden: tuple[int, ...], n_classes: int, activation: str = "relu",
        rng: np.random.Generator | int | None = 0) -> Sequential:
    """``Dense(in, h1, activation) -> ... -> Dense(h_last, n_classes, None) -> Softmax(dim=-1)``, untrained."""
    rng = np.random.default_rng(rng)
    sizes = (in_features, *hidden, n_classes)
    layers = [Dense(a, b, activation=activation if i < len(hidden) else None, rng=rng)
              for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
    return Sequential(*layers, Softmax(dim=-1))


def train_mlp(points: np.ndarray, labels: np.ndarray, hidden: tuple[int, ...] = (8, 8), activation: str = "relu",
              steps: int = 600, learning_rate: float = 0.03, rng: np.random.Generator | int | None = 0) -> Sequential:
    """Train :func:`mlp` on ``points: (n, d)`` and integer ``labels: (n,)`` by full-batch Adam on the cross-entropy.

    Returns the trained :class:`~layerviz.Sequential` (Dense layers then Softmax), a model of its own. With an
    int seed the training is a pure function of the arguments, so its parameters are kept: a page that trains
    the model its explorer trains too (the anatomy of a network) pays for it once.
    """
    points = _checks.finite_array("points", points, (2,), "(n, features)")
    labels = np.asarray(labels)
    if labels.shape != (len(points),) or labels.dtype.kind not in "iu" or labels.min() < 0:
        raise ValueError(f"labels must be non-negative integers, one per point, got shape {labels.shape}")
    if not isinstance(rng, (int, np.integer)) or isinstance(rng, bool):
        return _train(points, labels, tuple(hidden), activation, steps, learning_rate, rng)
    key = (points.shape, points.tobytes(), labels.tobytes(), tuple(hidden), activation, steps, learning_rate, int(rng))
    if key not in _TRAINED:
        if len(_TRAINED) >= _MOST_TRAINED:
            _TRAINED.pop(next(iter(_TRAINED)))
        trained = _train(points, labels, tuple(hidden), activation, steps, learning_rate, int(rng))
        _TRAINED[key] = [p.copy() for layer in _dense(trained) for p in (layer.weight, layer.bias)]
    model = mlp(points.shape[1], tuple(hidden), max(int(labels.max()) + 1, 2), activation, int(rng))
    for layer, (weight, bias) in zip(_dense(model), zip(*[iter(_TRAINED[key])] * 2)):
        layer.weight, layer.bias = weight.copy(), bias.copy()
    return model


#: The parameters of the models trained from an int seed, by their arguments (at most ``_MOST_TRAINED``).
_TRAINED: dict[tuple, list[np.ndarray]] = {}
_MOST_TRAINED = 16


def _dense(model: Sequential) -> list[Dense]:
    return [layer for layer in model.layers if isinstance(layer, Dense)]


def _train(points: np.ndarray, labels: np.ndarray, hidden: tuple[int, ...], activation: str, steps: int,
           learning_rate: float, rng: np.random.Generator | int | None) -> Sequential:
    """The training itself: full-batch Adam from :func:`mlp`'s initial weights."""
    n_classes = int(labels.max()) + 1
    model = mlp(points.shape[1], tuple(hidden), max(n_classes, 2), activation, rng)
    dense = _dense(model)
    params = [p for layer in dense for p in (layer.weight, layer.bias)]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    onehot = np.eye(max(n_classes, 2))[labels]
    for step in range(1, steps + 1):
        activations, pre = [points], []
        for layer in dense:
            z = activations[-1] @ layer.weight.T + layer.bias
            pre.append(z)
            activations.append(layer.act.forward(z))
        logits = activations[-1]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        delta = (exp / exp.sum(axis=1, keepdims=True) - onehot) / len(points)
        grads = []
        for i in range(len(dense) - 1, -1, -1):
            delta = delta * _GRADIENTS[dense[i].activation](activations[i + 1], pre[i])
            grads = [delta.T @ activations[i], delta.sum(axis=0)] + grads
            delta = delta @ dense[i].weight
        for p, g, m, v in zip(params, grads, moments, squares):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g**2
            p -= learning_rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return model


def accuracy(model: Sequential, points: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``points`` whose most probable class is their label."""
    return float((model(points).argmax(axis=-1) == np.asarray(labels)).mean())


def decision_regions(model: Sequential, points: np.ndarray, labels: np.ndarray, highlight: int | None = None,
                     resolution: int = 150) -> StoredFigure:
    """The class the model predicts over the plane (shaded), and the points; ``.figure`` is the matplotlib figure.

    Parameters
    ----------
    model : Sequential
        Maps ``(n, 2)`` points to ``(n, classes)`` probabilities.
    points : ndarray, shape (n, 2)
    labels : ndarray of int, shape (n,)
    highlight : int, optional
        Index of a point to circle (the one stepped through in the player).
    resolution : int
        Grid cells per side.
    """
    points = _checks.finite_array("points", points, (2,), "(n, 2)")
    (x0, y0), (x1, y1) = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    probs = model(np.column_stack([gx.ravel(), gy.ravel()]))
    return StoredFigure(_draw_regions, gx=gx, gy=gy, classes=probs.argmax(axis=1).reshape(gx.shape),
                        n_classes=probs.shape[1], points=points, labels=np.asarray(labels), highlight=highlight,
                        accuracy=accuracy(model, points, labels))


def _draw_regions(gx: np.ndarray, gy: np.ndarray, classes: np.ndarray, n_classes: int, points: np.ndarray,
                  labels: np.ndarray, highlight: int | None, accuracy: float) -> Figure:
    """The plane's grid ``gx, gy`` shaded by ``classes``, the points coloured by their labels."""
    from matplotlib.colors import ListedColormap

    from layerviz.mpl import PngFigure

    colors = ["#E69F00", "#56B4E9", "#009E73", "#CC79A7"]  # Okabe-Ito: readable under colour blindness
    fig = PngFigure(figsize=(5.2, 4.2), dpi=100, facecolor="white")
    ax = fig.add_subplot()
    ax.contourf(gx, gy, classes, levels=np.arange(n_classes + 1) - 0.5, cmap=ListedColormap(colors[:n_classes]),
                alpha=0.35)
    for c in range(n_classes):
        chosen = labels == c
        ax.scatter(points[chosen, 0], points[chosen, 1], s=18, color=colors[c], edgecolors="black", linewidths=0.4,
                   label=f"class {c}")
    if highlight is not None:
        ax.scatter(*points[highlight], s=160, facecolors="none", edgecolors="black", linewidths=2,
                   label=f"point {highlight}")
    ax.set_title(f"decision regions: accuracy {accuracy:.0%}")
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


@functools.lru_cache(maxsize=1)
def _digit_cnn_arrays() -> dict[str, np.ndarray]:
    with np.load(_WEIGHTS / "digit_cnn.npz") as saved:
        return {name: saved[name].astype(np.float64) for name in saved.files}


#: Side of the digit images :func:`digit_cnn` reads.
DIGIT_SIZE = 12


def digit_cnn() -> Sequential:
    """A tiny trained CNN for 12x12 digits: input ``(N, 1, 12, 12)`` -> probabilities ``(N, 10)``.

    ``Conv2d(1, 4, 3) -> ReLU -> MaxPool2d(2) -> Flatten -> Linear(100, 10) -> Softmax``; trained by
    ``scripts/train_digit_cnn.py`` on shifted, dimmed and noisy :func:`layerviz.data.digit` images.
    """
    arrays = _digit_cnn_arrays()
    conv = Conv2d(1, 4, 3)
    conv.weight, conv.bias = arrays["conv_weight"], arrays["conv_bias"]
    linear = Linear(100, 10)
    linear.weight, linear.bias = arrays["linear_weight"], arrays["linear_bias"]
    return Sequential(conv, ReLU(), MaxPool2d(2), Flatten(), linear, Softmax(dim=-1))


def digit_input(digit: int = 7, noise: float = 0.0, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """A batch of one digit for :func:`digit_cnn`: ``(1, 1, 12, 12)``, with Gaussian ``noise`` added."""
    from layerviz import data

    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    image = data.digit(digit, DIGIT_SIZE)[None]
    return image + np.random.default_rng(rng).normal(0.0, noise, image.shape) if noise else image
