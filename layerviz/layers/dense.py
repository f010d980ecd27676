"""Dense: a fully connected layer followed by an activation, the hidden layer of a classic network.

For input ``x: (..., in_features)``::

    z = x @ W.T + b             (a Linear layer: one weighted sum per output neuron)
    a = activation(z)           (applied to each neuron's z on its own)

with ``W: (out_features, in_features)`` and ``b: (out_features,)``. Keras calls this layer ``Dense``;
in torch it is ``nn.Linear`` followed by ``nn.ReLU`` (or another activation). Without the
activation, a stack of layers would collapse into one linear map: ``W2 (W1 x + b1) + b2`` is again
``W x + b``. The activation is what lets a deeper network draw curved boundaries.

Frames: one per output neuron, sample after sample, each with the weighted sum and the activation:
``z[2] = 0.50×1.00 + (-0.20)×0.30 + 0.10 (bias) = 0.54; a[2] = relu(0.54) = max(0, 0.54) = 0.54``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from layerviz.layers.activation import activation_named
from layerviz.layers.linear import Linear, LinearTrace


class Dense:
    """``Linear(in_features, out_features, bias)`` followed by an element-wise activation.

    Parameters
    ----------
    in_features, out_features : int
    activation : {'relu', 'sigmoid', 'tanh', 'identity'} or None, default 'relu'
        ``None`` and ``'identity'`` mean no activation (``a = z``). Softmax is not element-wise:
        put a :class:`~layerviz.Softmax` layer after the last layer instead.
    bias : bool, default True
    rng : numpy.random.Generator or int, optional
        Initial weights, drawn as :class:`~layerviz.Linear` draws them.

    Attributes
    ----------
    linear : Linear
        The weighted sums; ``weight`` and ``bias`` are its parameters.
    act : activation layer
        ``ReLU()``, ``Sigmoid()``, ``Tanh()`` or ``Identity()``.

    Examples
    --------
    >>> dense = Dense(2, 1, activation="relu")
    >>> dense.weight, dense.bias = [[1.0, -1.0]], [0.5]
    >>> dense(np.array([[1.0, 3.0], [3.0, 1.0]]))
    array([[0. ],
           [2.5]])
    """

    def __init__(self, in_features: int, out_features: int, activation: str | None = "relu", bias: bool = True, *,
                 rng: np.random.Generator | int | None = None) -> None:
        self.act = activation_named(activation)
        self.linear = Linear(in_features, out_features, bias, rng=rng)

    activation = property(lambda self: self.act.name, doc="The activation's name ('relu', ...).")
    in_features = property(lambda self: self.linear.in_features)
    out_features = property(lambda self: self.linear.out_features)

    @property
    def weight(self) -> np.ndarray:
        """``(out_features, in_features)``."""
        return self.linear.weight

    @weight.setter
    def weight(self, value: ArrayLike) -> None:
        self.linear.weight = value

    @property
    def bias(self) -> np.ndarray | None:
        """``(out_features,)`` or None."""
        return self.linear.bias

    @bias.setter
    def bias(self, value: ArrayLike | None) -> None:
        self.linear.bias = value

    def forward(self, x: ArrayLike) -> np.ndarray:
        """``activation(x @ weight.T + bias)`` for ``x: (..., in_features)``; returns ``(..., out_features)``."""
        return self.act.forward(self.linear.forward(x))

    __call__ = forward

    def frames(self, x: ArrayLike, *, view: str = "matrix") -> LinearTrace:
        """One frame per output neuron: its weighted sum ``z`` and its activation ``a``."""
        return LinearTrace(self, x, view=view, activation=self.act)

    def __repr__(self) -> str:
        extra = ", bias=False" if self.bias is None else ""
        return f"Dense({self.in_features}, {self.out_features}, activation={self.activation!r}{extra})"
