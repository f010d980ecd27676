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

from layerviz.layers._module import Module
from layerviz.layers.activation import activation_named
from layerviz.layers.linear import Linear, LinearTrace


class Dense(Module):
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

    def _children(self) -> tuple:
        return (self.linear, self.act)

    @property
    def activation(self) -> str:
        """The activation's name (``'relu'``, ...); set it to change the activation, as the constructor's argument."""
        return self.act.name

    @activation.setter
    def activation(self, value: str | None) -> None:
        act = activation_named(value)
        act.training = self.training
        self.act = act

    @property
    def in_features(self) -> int:
        """The linear part's ``in_features`` (checked when set; the weight's shape when the layer runs)."""
        return self.linear.in_features

    @in_features.setter
    def in_features(self, value: int) -> None:
        self.linear.in_features = value

    @property
    def out_features(self) -> int:
        """The linear part's ``out_features`` (checked when set; the weight's shape when the layer runs)."""
        return self.linear.out_features

    @out_features.setter
    def out_features(self, value: int) -> None:
        self.linear.out_features = value

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
