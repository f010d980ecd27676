"""LayerNorm: each sample (each token) rescaled by the statistics of its own features.

For ``x: (*, *normalized_shape)``, e.g. ``(N, L, D)`` tokens with ``normalized_shape = (D,)``, every *group* (the
values of one index of the leading axes ``*``: a token's ``D`` features, ``n = prod(normalized_shape)`` values) is
normalized with its own mean and (biased) variance::

    mean[g] = sum(x[g]) / n
    var[g]  = sum((x[g] - mean[g])**2) / n                                  (biased: divided by n)
    x̂[g]    = (x[g] - mean[g]) / sqrt(var[g] + eps)
    out[g]  = weight * x̂[g] + bias                  (γ, β: shape normalized_shape, element by element)

``weight`` (γ, ones) and ``bias`` (β, zeros) have the shape ``normalized_shape`` and exist with
``elementwise_affine=True`` (``bias=False``: a weight and no bias). The output has the shape of ``x``.

Compared with BatchNorm: BatchNorm averages *down* the batch, one mean per channel (axis 0 and the positions, for
each channel of axis 1); LayerNorm averages *across* the last axes, one mean per sample or token, never mixing two
samples. It needs no batch (one token alone is normalized), keeps no running statistics, and computes the same in
training and in eval mode. Its γ and β are per feature, not per channel.

Frames: per group, in row-major order of the leading axes, the mean, the variance, then each of its ``n`` values
normalized, scaled and shifted (``out[0,1] = (2.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = (-0.45) × 1.00 + 0.00 =
-0.45``). The backward pass goes through the mean and the variance (:func:`layernorm_backward_naive`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks
from layerviz._format import Ask, paren
from layerviz.backward import BackwardTrace, HasBackward, Section, product_step, sum_of, sum_of_products
from layerviz.backward import name as grad_name
from layerviz.layers._batchnorm_narration import _Affine, _narrate_element, exact
from layerviz.layers._layernorm_narration import narrate_average, narrate_product_average, narrate_variance
from layerviz.layers._layernorm_scene import layernorm_scene
from layerviz.layers._module import Module, Setting, check_shapes
from layerviz.scene import Scene
from layerviz.trace import Trace

#: The kinds of frames, in the order they come in each group.
PHASES = ("mean", "variance", "normalize")


def _normalized_shape(name: str, value: object) -> tuple[int, ...]:
    """An int or a sequence of ints, each >= 1, as a tuple (torch turns an int ``4`` into ``(4,)``)."""
    if isinstance(value, (str, bytes, bool)) or not (isinstance(value, numbers.Integral) or hasattr(value, "__iter__")):
        raise ValueError(f"{name} must be an int or a tuple of ints, got {value!r}")
    shape = (value,) if isinstance(value, numbers.Integral) else tuple(value)
    if not shape:
        raise ValueError(f"{name} must hold at least one size, got {shape}: there would be nothing to normalize over")
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"{name} must hold integers >= 1, got {value!r}")
    return tuple(int(s) for s in shape)


def _eps(name: str, value: object) -> float:
    """Any finite real number, as torch takes it (0 and negatives too: see :meth:`LayerNorm._statistics`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


class LayerNorm(Module):
    """Layer normalization over the last ``len(normalized_shape)`` axes, with ``torch.nn.LayerNorm``'s arguments.

    The formulas are in the module docstring.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The shape of the last axes of the input, normalized together (``D``, or ``(H, W)``...).
    eps : float, default 1e-5
        Added to the variance before the square root. torch takes any number, 0 and negatives too; where
        ``var + eps <= 0`` it returns NaN, and layerviz raises ValueError naming eps.
    elementwise_affine : bool, default True
        Learnable ``weight`` (γ, ones) and ``bias`` (β, zeros) of shape ``normalized_shape``.
    bias : bool, default True
        With ``elementwise_affine=True`` and ``bias=False``: a weight and no bias.

    Attributes
    ----------
    weight, bias : ndarray of shape normalized_shape, or None
    training : bool
        Set by :meth:`train` and :meth:`eval`; LayerNorm computes the same in both modes.

    Examples
    --------
    >>> LayerNorm(4)(np.array([1.0, 2.0, 3.0, 4.0])).round(4)     # mean 2.5, variance 1.25
    array([-1.3416, -0.4472,  0.4472,  1.3416])
    """

    normalized_shape = Setting(_normalized_shape)
    eps = Setting(_eps)
    elementwise_affine = Setting(_checks.flag)

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True) -> None:
        self.normalized_shape = normalized_shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        use_bias = _checks.flag("bias", bias)
        shape = self.normalized_shape
        self._weight = np.ones(shape) if self.elementwise_affine else None
        self._bias = np.zeros(shape) if self.elementwise_affine and use_bias else None

    @classmethod
    def _from_torch(cls, module) -> LayerNorm:
        """The layer equal to a ``torch.nn.LayerNorm``, with copies of its weight and bias."""
        layer = cls(tuple(module.normalized_shape), eps=module.eps, elementwise_affine=module.elementwise_affine,
                    bias=module.bias is not None)
        if module.weight is not None:
            layer.weight = _checks.torch_array(module.weight)
        if module.bias is not None:
            layer.bias = _checks.torch_array(module.bias)
        return layer

    # -- parameters ------------------------------------------------------------------------------

    def _parameter(self, name: str, value, present: bool, why: str) -> np.ndarray | None:
        if not present:
            if value is not None:
                raise ValueError(f"{name} must be None when {why}, got {type(value).__name__}")
            return None
        if value is None:
            raise ValueError(f"{name} must be an array of shape {self.normalized_shape}, got None")
        return _checks.parameter(name, value, self.normalized_shape)

    @property
    def weight(self) -> np.ndarray | None:
        """γ, shape ``normalized_shape``; None without ``elementwise_affine``."""
        return self._weight

    @weight.setter
    def weight(self, value) -> None:
        self._weight = self._parameter("weight", value, self.elementwise_affine, "elementwise_affine=False")

    @property
    def bias(self) -> np.ndarray | None:
        """β, shape ``normalized_shape``; None without ``elementwise_affine`` or with ``bias=False``."""
        return self._bias

    @bias.setter
    def bias(self, value) -> None:
        present = self.elementwise_affine and self._bias is not None
        self._bias = self._parameter("bias", value, present, "elementwise_affine=False or bias=False")

    def _check_settings(self) -> None:
        """The parameters agree with ``elementwise_affine`` and ``normalized_shape`` (settings may change later)."""
        on = self.elementwise_affine
        if on and self.weight is None:
            raise ValueError("weight must be set when elementwise_affine=True, got None: elementwise_affine was "
                             "changed after construction; assign weight too, or build a new LayerNorm")
        for name in ("weight", "bias"):
            if not on and getattr(self, name) is not None:
                raise ValueError(f"{name} must be None when elementwise_affine=False, got ndarray: elementwise_affine "
                                 f"was changed after construction; set {name} = None too")
        shape = self.normalized_shape
        check_shapes(self, {"weight": shape, "bias": shape}, "normalized_shape")

    # -- the pass --------------------------------------------------------------------------------

    def _check_input(self, x) -> np.ndarray:
        """``x`` as a finite float64 array whose last axes are ``normalized_shape``."""
        self._check_settings()
        shape = self.normalized_shape
        x = _checks.finite_array("x", x, tuple(range(len(shape), 65)), f"(*, {', '.join(map(str, shape))})")
        if x.shape[x.ndim - len(shape):] != shape:
            raise ValueError(f"x must end with normalized_shape={shape} (its last {len(shape)} axes), "
                             f"got shape {x.shape}")
        if x.size == 0:
            raise ValueError(f"x must not be empty, got shape {x.shape}")
        return x

    def _compute(self, x: np.ndarray) -> _Pass:
        """The whole pass on a checked ``x``, vectorized, one row of ``by_group`` per group."""
        n = int(np.prod(self.normalized_shape))
        by_group = x.reshape(-1, n)
        total = by_group.sum(axis=1)
        mean = by_group.mean(axis=1)
        deviations = by_group - mean[:, None]
        squares = (deviations * deviations).sum(axis=1)
        var = squares / n
        shifted = var + self.eps
        if (shifted <= 0).any():
            g = int(np.argmax(shifted <= 0))
            raise ValueError(f"eps must make var + eps > 0 to take its square root, got eps={self.eps} with var = "
                             f"{var[g]} for group {g} (torch returns NaN there); use eps > 0")
        std = np.sqrt(shifted)
        normalized = deviations / std[:, None]
        out = normalized
        if self.weight is not None:
            out = out * self.weight.reshape(-1)
        if self.bias is not None:
            out = out + self.bias.reshape(-1)
        return _Pass(by_group, total, mean, squares, var, std, normalized.reshape(x.shape), out.reshape(x.shape))

    def forward(self, x: ArrayLike) -> np.ndarray:
        """Normalize ``x: (*, *normalized_shape)`` over its last axes; returns an array of the same shape."""
        return self._compute(self._check_input(x)).output

    __call__ = forward

    def frames(self, x: ArrayLike) -> LayerNormTrace:
        """The pass step by step: per group the mean, the variance, and each value (see :class:`LayerNormTrace`)."""
        return LayerNormTrace(self, x)

    def __repr__(self) -> str:
        return (f"LayerNorm({self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None})")


@dataclass
class _Pass:
    """The numbers of one pass: per group ``(G,)`` arrays, and ``x``-shaped ones."""

    by_group: np.ndarray  # (G, n)
    total: np.ndarray
    mean: np.ndarray
    squares: np.ndarray  # the sums of squared deviations
    var: np.ndarray
    std: np.ndarray
    normalized: np.ndarray
    output: np.ndarray


def layernorm_naive(layer: LayerNorm, x: np.ndarray) -> np.ndarray:
    """The definition, as plain loops over the groups and their values: the reference the tests hold the layer to."""
    shape = layer.normalized_shape
    lead = x.shape[: x.ndim - len(shape)]
    cells = list(np.ndindex(*shape))
    out = np.zeros(x.shape)
    for g in np.ndindex(*lead):
        values = [x[g + c] for c in cells]
        n = len(values)
        mean = sum(values) / n
        var = sum((v - mean) ** 2 for v in values) / n
        for c in cells:
            gamma = 1.0 if layer.weight is None else layer.weight[c]
            beta = 0.0 if layer.bias is None else layer.bias[c]
            out[g + c] = (x[g + c] - mean) / (var + layer.eps) ** 0.5 * gamma + beta
    return out


# -- frames ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LayerNormFrame:
    """One step of a layer normalization: a group's mean or variance, or one value normalized.

    Attributes
    ----------
    index : int
        Position in the trace.
    phase : {'mean', 'variance', 'normalize'}
    group : tuple of int
        The group's index in the leading axes (``()`` for an input of ``normalized_shape`` alone).
    cells : ndarray of int, shape (m, x.ndim)
        Indices into ``x`` of the values read: the whole group (``mean``, ``variance``) or one value.
    values : ndarray, shape (m,)
        ``x`` at ``cells``.
    count : int
        ``n``, the values per group.
    mean, var : float or None
        The group's mean and biased variance (``var`` None in a ``mean`` frame: not computed yet).
    total : float or None
        ``mean``: the sum of ``values``; ``variance``: the sum of the squared deviations; else None.
    eps : float
    std : float or None
        ``normalize``: ``sqrt(var + eps)``; else None.
    normalized : float or None
        ``normalize``: ``x̂ = (value - mean) / std``; else None.
    gamma, beta : float or None
        ``normalize``: the value's ``weight`` and ``bias`` entries (1.0 and 0.0 without them); else None.
    result : float
        The mean, the variance, or the output value ``γ x̂ + β``.
    narration : str
    question : Ask or None
        What the frame asks a student to predict (None for a statistic abridged with "…").
    """

    index: int
    phase: str
    group: tuple
    cells: np.ndarray
    values: np.ndarray
    count: int
    mean: float
    var: float | None
    total: float | None
    eps: float
    std: float | None
    normalized: float | None
    gamma: float | None
    beta: float | None
    result: float
    narration: str
    _trace: LayerNormTrace
    question: Ask | None = None

    @property
    def output_so_far(self) -> np.ndarray:
        """The output, shaped like ``x``, NaN where not computed yet at this frame."""
        trace = self._trace
        return np.where(trace.output_frame <= self.index, trace.output, np.nan)

    def __repr__(self) -> str:
        return f"LayerNormFrame({self.index}, {self.phase}: {self.narration})"


class LayerNormTrace(HasBackward, Trace):
    """The frames of a layer normalization: for each group, its mean, its variance, then its ``n`` values.

    Frame ``k`` is frame ``k % (n + 2)`` of group ``k // (n + 2)``: 0 the mean, 1 the variance, ``2 + j`` the
    ``j``-th value of the group (row-major over ``normalized_shape``). The whole pass is computed once,
    vectorized, when the trace is built; a frame is read from read-only copies in O(1) (a statistic's frame holds
    the ``n`` values it reads).

    Attributes
    ----------
    input, output, normalized : ndarray, shape like x
        ``x``, the output and ``x̂``.
    lead_shape : tuple of int
        The leading axes (the groups' shape); ``n_groups`` groups of ``count`` values.
    mean, var, std : ndarray, shape lead_shape
        Each group's mean, biased variance and ``sqrt(var + eps)``.
    weight, bias : ndarray of shape normalized_shape, or None
        Copies of the layer's parameters.
    output_frame : ndarray of int, shape like x
        The frame at which each output value is computed.
    """

    def __init__(self, layer: LayerNorm, x: ArrayLike) -> None:
        checked = layer._check_input(x)
        computed = layer._compute(checked)
        self.layer = layer
        self.eps = layer.eps
        self.normalized_shape = layer.normalized_shape
        self.input = checked.copy()
        self.output = computed.output
        self.normalized = computed.normalized
        self.lead_shape = self.input.shape[: self.input.ndim - len(self.normalized_shape)]
        self.by_group = computed.by_group.copy()
        self.n_groups, self.count = self.by_group.shape
        self._totals, self._squares = computed.total, computed.squares
        self.mean, self.var = computed.mean.reshape(self.lead_shape), computed.var.reshape(self.lead_shape)
        self.std = computed.std.reshape(self.lead_shape)
        self.weight = None if layer.weight is None else layer.weight.copy()
        self.bias = None if layer.bias is None else layer.bias.copy()
        self.n_frames = self.n_groups * (self.count + 2)
        # the cells of a group's values within normalized_shape, (n, len(normalized_shape))
        self._value_cells = np.indices(self.normalized_shape).reshape(len(self.normalized_shape), -1).T
        flat = np.arange(self.input.size).reshape(self.n_groups, self.count)
        groups = np.arange(self.n_groups)[:, None]
        self.output_frame = (groups * (self.count + 2) + 2 + flat % self.count).reshape(self.input.shape)
        for array in (self.input, self.output, self.normalized, self.by_group, self._totals, self._squares,
                      self.mean, self.var, self.std, self.weight, self.bias, self.output_frame):
            if array is not None:
                array.flags.writeable = False

    def phase_of(self, k: int) -> str:
        """The phase of frame ``k`` (non-negative)."""
        return PHASES[min(k % (self.count + 2), 2)]

    def group_index(self, g: int) -> tuple[int, ...]:
        """Group ``g``'s index in the leading axes."""
        return tuple(int(i) for i in np.unravel_index(g, self.lead_shape)) if self.lead_shape else ()

    def _label(self, symbol: str, group: tuple) -> str:
        return f"{symbol}[{','.join(map(str, group))}]" if group else symbol

    def _frame(self, k: int) -> LayerNormFrame:
        g, local = divmod(k, self.count + 2)
        group = self.group_index(g)
        values = self.by_group[g]
        mean = float(self.mean.flat[g])
        if local < 2:
            cells = np.concatenate([np.tile(np.array(group, dtype=np.intp), (self.count, 1)),
                                    self._value_cells], axis=1)
            if local == 0:
                total = float(self._totals[g])
                narration, question = narrate_average(self._label("mean", group), values, total, mean)
                return LayerNormFrame(k, "mean", group, cells, values, self.count, mean, None, total, self.eps, None,
                                      None, None, None, mean, narration, self, question)
            var, total = float(self.var.flat[g]), float(self._squares[g])
            narration, question = narrate_variance(self._label("var", group), values, mean, total, var)
            return LayerNormFrame(k, "variance", group, cells, values, self.count, mean, var, total, self.eps, None,
                                  None, None, None, var, narration, self, question)
        return self._normalize_frame(k, g, group, local - 2)

    def _normalize_frame(self, k: int, g: int, group: tuple, j: int) -> LayerNormFrame:
        cell = (*group, *(int(i) for i in self._value_cells[j]))
        value = float(self.input[cell])
        mean, var, std = float(self.mean.flat[g]), float(self.var.flat[g]), float(self.std.flat[g])
        gamma = 1.0 if self.weight is None else float(self.weight.flat[j])
        beta = 0.0 if self.bias is None else float(self.bias.flat[j])
        normalized, result = float(self.normalized[cell]), float(self.output[cell])
        narration, question = _narrate_element(self._label("out", cell), exact(self.eps), _Affine(self, gamma, beta),
                                               value, mean, var, normalized, result, "")
        return LayerNormFrame(k, "normalize", group, np.array([cell], dtype=np.intp), np.array([value]), self.count,
                              mean, var, None, self.eps, std, normalized, gamma, beta, result, narration, self,
                              question)

    def scene(self) -> Scene:
        """The formula as panels: input x − mean ÷√ variance × γ + β = output (see
        :mod:`~layerviz.layers._layernorm_scene`)."""
        return layernorm_scene(self)


# -- backward ---------------------------------------------------------------------------------------
#
# y = γ x̂ + β, x̂ = (x − μ) / σ with σ = √(var + eps), per group of n values; per feature j, over the groups g:
#     dβ[j] = Σ_g dout          dγ[j] = Σ_g dout × x̂
# per group: dx̂ = dout × γ, m1 = mean(dx̂) (through μ), m2 = mean(dx̂ × x̂) (through the variance), and
#     dx = (dx̂ − m1 − x̂ × m2) / σ


def layernorm_backward_naive(x: np.ndarray, normalized_shape: tuple[int, ...], gamma: np.ndarray | None, eps: float,
                             dout: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dgamma, dbeta, dx)`` as plain loops over the groups, for ``x: (*, *normalized_shape)``."""
    cells = list(np.ndindex(*normalized_shape))
    lead = x.shape[: x.ndim - len(normalized_shape)]
    dgamma, dbeta, dx = np.zeros(normalized_shape), np.zeros(normalized_shape), np.zeros(x.shape)
    for g in np.ndindex(*lead):
        values = [x[g + c] for c in cells]
        n = len(values)
        mean = sum(values) / n
        std = (sum((v - mean) ** 2 for v in values) / n + eps) ** 0.5
        xhat = [(v - mean) / std for v in values]
        dxhat = [dout[g + c] * (1.0 if gamma is None else gamma[c]) for c in cells]
        m1 = sum(dxhat) / n
        m2 = sum(d * h for d, h in zip(dxhat, xhat)) / n
        for c, d, h in zip(cells, dxhat, xhat):
            dbeta[c] += dout[g + c]
            dgamma[c] += dout[g + c] * h
            dx[g + c] = (d - m1 - h * m2) / std
    return dgamma, dbeta, dx


def _parameter_sections(t: LayerNormTrace, g2: np.ndarray, xhat2: np.ndarray) -> tuple[list[Section], dict]:
    """``dγ = Σ dout × x̂`` and ``dβ = Σ dout`` over the groups, for the parameters the layer has."""
    shape = t.normalized_shape
    sections, grads = [], {}
    if t.weight is not None:
        dgamma = (g2 * xhat2).sum(axis=0).reshape(shape)

        def explain_gamma(index):
            j = int(np.ravel_multi_index(index, shape))
            text, ask = sum_of_products(grad_name("dgamma", index), g2[:, j], xhat2[:, j], float(dgamma[index]),
                                        before="dout × x̂ summed over the groups: ")
            return g2[:9, j], text, ask

        sections.append(Section("weight", "dgamma", "dL/dγ = Σ dout × x̂", dgamma, explain_gamma))
        grads["weight"] = dgamma
    if t.bias is not None:
        dbeta = g2.sum(axis=0).reshape(shape)

        def explain_beta(index):
            j = int(np.ravel_multi_index(index, shape))
            text, ask = sum_of(grad_name("dbeta", index), g2[:, j], float(dbeta[index]),
                               before="dout summed over the groups: ")
            return g2[:9, j], text, ask

        sections.append(Section("bias", "dbeta", "dL/dβ = Σ dout", dbeta, explain_beta))
        grads["bias"] = dbeta
    return sections, grads


def _dxhat_section(t: LayerNormTrace, g: np.ndarray) -> tuple[np.ndarray, list[Section]]:
    """``dx̂ = dout × γ`` (a section only when there is a γ: without it, dx̂ is dout)."""
    if t.weight is None:
        return g, []
    n_norm = len(t.normalized_shape)
    dxhat = g * t.weight

    def explain(index):
        ops = [float(g[index]), float(t.weight[index[len(index) - n_norm:]])]
        text, ask = product_step(grad_name("dxhat", index), "dout × γ", ops, float(dxhat[index]),
                                 lambda o: o[0] * o[1], lambda s: f"{paren(s[0])} × {paren(s[1])}")
        return ops, text, ask

    return dxhat, [Section("dxhat", "dxhat", "dL/dx̂ = dout × γ", dxhat, explain, elementwise=True)]


def _layernorm_backward(self: LayerNormTrace, g: np.ndarray) -> BackwardTrace:
    n, lead = self.count, self.lead_shape
    g2 = g.reshape(self.n_groups, n)
    xhat2 = self.normalized.reshape(self.n_groups, n)
    sections, grads = _parameter_sections(self, g2, xhat2)
    dxhat, dxhat_sections = _dxhat_section(self, g)
    sections += dxhat_sections
    d2 = dxhat.reshape(self.n_groups, n)
    sum1, sum2 = d2.sum(axis=1), (d2 * xhat2).sum(axis=1)
    m1, m2 = (sum1 / n).reshape(lead), (sum2 / n).reshape(lead)
    d_name = "dxhat" if self.weight is not None else "dout"

    def explain_m1(index):
        g_ = int(np.ravel_multi_index(index, lead)) if lead else 0
        text, ask = narrate_average(grad_name("m1", index), d2[g_], float(sum1[g_]), float(m1[index]))
        return d2[g_][:9], f"the mean of {d_name} over the group: " + text, ask

    def explain_m2(index):
        g_ = int(np.ravel_multi_index(index, lead)) if lead else 0
        text, ask = narrate_product_average(grad_name("m2", index), d2[g_], xhat2[g_], float(sum2[g_]),
                                            float(m2[index]))
        return d2[g_][:9], f"the mean of {d_name} × x̂ over the group: " + text, ask

    sections.append(Section("m1", "m1", f"m1 = mean of {d_name} (through the mean)", m1, explain_m1))
    sections.append(Section("m2", "m2", f"m2 = mean of {d_name} × x̂ (through the variance)", m2, explain_m2))
    per = lead + (1,) * len(self.normalized_shape)
    std = self.std.reshape(per)
    dx = (dxhat - m1.reshape(per) - self.normalized * m2.reshape(per)) / std

    def explain_x(index):
        group = index[: len(lead)]
        ops = [float(dxhat[index]), float(m1[group]), float(self.normalized[index]), float(m2[group]),
               float(self.std[group])]
        text, ask = product_step(grad_name("dx", index), f"({d_name} − m1 − x̂ × m2) / std", ops, float(dx[index]),
                                 lambda o: (o[0] - o[1] - o[2] * o[3]) / o[4],
                                 lambda s: f"({paren(s[0])} − {paren(s[1])} − {paren(s[2])} × {paren(s[3])}) / {s[4]}")
        return ops, text, ask

    sections.append(Section("input", "dx", f"dL/dx = ({d_name} − m1 − x̂ m2) / std", dx, explain_x, elementwise=True))
    grads["input"] = dx
    return BackwardTrace(self, g, sections, grads)


LayerNormTrace._backward = _layernorm_backward
