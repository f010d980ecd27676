"""GELU: the Gaussian Error Linear Unit, an element-wise activation (transformers' feed-forward layers use it).

For an input ``x`` of any shape ``(*)`` the output has the same shape::

    approximate='none':  out = x · Φ(x) = 0.5 · x · (1 + erf(x / √2))
    approximate='tanh':  out = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))

``Φ`` is the standard normal's cumulative distribution: ``x`` is let through in proportion to the chance that
a standard normal number is below it, so large positives pass (``Φ ≈ 1``), large negatives become 0, and
small negatives dip slightly below 0 (the minimum, about -0.17, at ``x ≈ -0.75``). The tanh form is the
older, cheaper approximation (within 0.0005 of the exact form).

The gradients, as torch computes them::

    exact:  gelu'(x) = Φ(x) + x · φ(x),     φ(x) = exp(-x²/2) / √(2π)
    tanh:   gelu_tanh'(x) = 0.5 (1 + t) + 0.5 x (1 − t²) √(2/π) (1 + 3 · 0.044715 x²),
            t = tanh(√(2/π) (x + 0.044715 x³))

numpy has no ``erf``: :func:`erf` is computed here, vectorized, within a few units in the last place of
:func:`math.erf`. Frames: one per element, as the other activations (``out[0] = gelu(0.50) = 0.50 × Φ(0.50) =
0.50 × 0.69 = 0.35``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from layerviz._format import Ask, paren, redoable
from layerviz.layers._module import Setting
from layerviz.layers.activation import _Activation

#: The forms torch's ``approximate`` takes.
APPROXIMATIONS = ("none", "tanh")

_SQRT_PI = math.sqrt(math.pi)
_SQRT1_2 = math.sqrt(0.5)
#: √(2/π), as torch writes it (M_SQRT2 * M_2_SQRTPI * 0.5).
_BETA_TANH = math.sqrt(2.0) * (2.0 / _SQRT_PI) * 0.5
#: 1/√(2π), as torch writes it (M_2_SQRTPI * M_SQRT1_2 * 0.5).
_BETA_PDF = (2.0 / _SQRT_PI) * _SQRT1_2 * 0.5
_KAPPA = 0.044715

#: The Maclaurin coefficients of erf(t)·√π/2 / t in t²: (-1)^n / (n! (2n + 1)), enough for |t| < 1.
_MACLAURIN = tuple((-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(25))
#: Terms of the positive series on [1, 1.5), levels of the continued fraction from 1.5 on.
_SERIES_TERMS, _FRACTION_DEPTH = 36, 90


def _erf_small(t: np.ndarray) -> np.ndarray:
    """|t| < 1: the alternating Maclaurin series, nested; its terms fall fast, nothing cancels."""
    s = t * t
    acc = np.full_like(t, _MACLAURIN[-1])
    for c in reversed(_MACLAURIN[:-1]):
        acc = acc * s + c
    return 2.0 / _SQRT_PI * t * acc


def _erf_middle(t: np.ndarray) -> np.ndarray:
    """1 <= t < 1.5: ``erf(t) = 2/√π · t · e^(-t²) · Σ (2t²)^n / (1·3·…·(2n+1))``, all terms positive."""
    s = t * t
    acc = np.ones_like(t)
    for n in range(_SERIES_TERMS - 1, 0, -1):
        acc = 1.0 + acc * (2.0 * s) / (2 * n + 1)
    return 2.0 / _SQRT_PI * t * np.exp(-s) * acc


def _erfc_large(t: np.ndarray) -> np.ndarray:
    """t >= 1.5: ``erfc(t) = e^(-t²)/√π / (t + (1/2)/(t + 1/(t + (3/2)/(t + …))))``, from the deepest level up."""
    f = t.copy()
    for k in range(_FRACTION_DEPTH, 0, -1):
        f = t + (k / 2.0) / f
    return np.exp(-t * t) / _SQRT_PI / f


def erf(x: ArrayLike) -> np.ndarray:
    """The error function ``2/√π ∫₀ˣ e^(-t²) dt``, element-wise, within 5 units in the last place of
    :func:`math.erf` (relative error below 1e-15), as fast as numpy's own functions on large arrays.

    Examples
    --------
    >>> float(erf(0.5))
    0.5204998778130465
    """
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    out = np.empty_like(a)
    small, large = a < 1.0, a >= 1.5
    middle = ~(small | large)
    out[small] = _erf_small(a[small])
    out[middle] = _erf_middle(a[middle])
    out[large] = 1.0 - _erfc_large(a[large])
    return np.copysign(out, x)


def normal_cdf(x: ArrayLike) -> np.ndarray:
    """``Φ(x) = 0.5 (1 + erf(x / √2))``, the standard normal's cumulative distribution, as torch's GELU computes it."""
    return 0.5 * (1.0 + erf(np.asarray(x, dtype=np.float64) * _SQRT1_2))


def normal_pdf(x: ArrayLike) -> np.ndarray:
    """``φ(x) = exp(-x²/2) / √(2π)``, the standard normal's density."""
    x = np.asarray(x, dtype=np.float64)
    return _BETA_PDF * np.exp(x * x * -0.5)


def _tanh_gate(x: np.ndarray) -> np.ndarray:
    """``0.5 (1 + tanh(√(2/π) (x + 0.044715 x³)))``: the tanh form's stand-in for Φ(x)."""
    return 0.5 * (1.0 + np.tanh(_BETA_TANH * (x + _KAPPA * (x * x * x))))


def _check_approximate(name: str, value: object) -> str:
    if not isinstance(value, str) or value not in APPROXIMATIONS:
        raise ValueError(f"{name} must be 'none' or 'tanh', got {value!r}")
    return value


class GELU(_Activation):
    """``out = x · Φ(x)`` (``torch.nn.GELU``): the input weighted by the chance a standard normal is below it.

    Parameters
    ----------
    approximate : {'none', 'tanh'}, default 'none'
        ``'none'``: the exact form with ``erf``; ``'tanh'``: ``0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))``.
        Anything else raises ValueError here (torch accepts any string when the layer is made and refuses it
        when it runs).

    Examples
    --------
    >>> GELU()(np.array([-1.0, 0.0, 1.0])).round(4)
    array([-0.1587,  0.    ,  0.8413])
    """

    approximate = Setting(_check_approximate, doc="'none' (the exact form, with erf) or 'tanh'.")

    def __init__(self, approximate: str = "none") -> None:
        self.approximate = approximate

    @property
    def name(self) -> str:
        """``gelu`` or ``gelu_tanh``: the function's name in narrations."""
        return "gelu" if self.approximate == "none" else "gelu_tanh"

    @classmethod
    def _from_torch(cls, module) -> GELU:
        """The layer equal to a ``torch.nn.GELU`` (see :func:`layerviz.from_torch`)."""
        return cls(module.approximate)

    def gate(self, x: ArrayLike) -> np.ndarray:
        """What multiplies ``x``: ``Φ(x)``, or the tanh form's ``0.5 (1 + tanh(…))``."""
        x = np.asarray(x, dtype=np.float64)
        return normal_cdf(x) if self.approximate == "none" else _tanh_gate(x)

    def _apply(self, x: np.ndarray) -> np.ndarray:
        if self.approximate == "none":
            return x * 0.5 * (1.0 + erf(x * _SQRT1_2))  # torch's order of operations
        return 0.5 * x * (1.0 + np.tanh(_BETA_TANH * (x + _KAPPA * (x * x * x))))

    def _gate_text(self, x: str) -> str:
        if self.approximate == "none":
            return f"Φ({x})"
        return f"½(1 + tanh(√(2/π) × ({x} + 0.044715 × {paren(x)}³)))"

    def narrate(self, name: str, x: float, result: float) -> tuple[str, Ask]:
        """``out[0] = gelu(0.50) = 0.50 × Φ(0.50) = 0.50 × 0.69 = 0.35``; asks ``out[0] = gelu(0.50) = ?``."""
        gate = float(self.gate(x))
        # the gate from x as shown; the output from the gate as shown (the narration's step) and from x (the question's)
        shown = redoable([x], [gate, result, result],
                         lambda o, r: [self.gate(o[0]), o[0] * r[0], o[0] * self.gate(o[0])], intermediate=(0,))
        value, (gate_text, out, _) = shown.operands[0], shown.results
        narration = (f"{name} = {self.name}({value}) = {paren(value)} × {self._gate_text(value)} = "
                     f"{paren(value)} × {gate_text} = {out}")
        return narration, Ask(f"{name} = {self.name}({value}) = ?", out, result)

    def slope(self, x: ArrayLike) -> np.ndarray:
        """``gelu'(x)``, element-wise, as torch's backward computes it."""
        x = np.asarray(x, dtype=np.float64)
        if self.approximate == "none":
            return normal_cdf(x) + x * normal_pdf(x)
        t = np.tanh(_BETA_TANH * (x + _KAPPA * (x * x * x)))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _BETA_TANH * (1.0 + 3.0 * _KAPPA * x * x)

    def derivative(self, g: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``g × gelu'(x)`` (the output is not needed: gelu' is not a function of it)."""
        return g * self.slope(x)

    def derivative_step(self, label: str, x_label: str, g: float, x: float, out: float, result: float
                        ) -> tuple[list, str, Ask]:
        """``dx[0] = dout × gelu′(x) = 1.00 × (Φ(0.50) + 0.50 × φ(0.50)) = 1.00 × 0.87 = 0.87``."""
        slope = float(self.slope(x))
        shown = redoable([g, x], [slope, result, result],
                         lambda o, r: [self.slope(o[1]), o[0] * r[0], o[0] * self.slope(o[1])], intermediate=(0,))
        (g_text, x_text), (slope_text, dx_text, _) = shown.operands, shown.results
        if self.approximate == "none":
            arithmetic = f"{paren(g_text)} × (Φ({x_text}) + {paren(x_text)} × φ({x_text}))"
        else:
            arithmetic = f"{paren(g_text)} × gelu_tanh′({x_text})"
        text = f"{label} = dout × {self.name}′(x) = {arithmetic} = {paren(g_text)} × {paren(slope_text)} = {dx_text}"
        return [g, x], text, Ask(f"{label} = {arithmetic} = ?", dx_text, result)

    def __repr__(self) -> str:
        return f"GELU(approximate={self.approximate!r})"
