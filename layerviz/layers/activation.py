"""Activation functions: small layers without weights, applied element by element (softmax: row by row).

For an input ``x`` of any shape ``(*)`` the output has the same shape::

    Identity: out = x
    ReLU:     out = max(0, x)
    Sigmoid:  out = 1 / (1 + exp(-x))
    Tanh:     out = tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))
    Softmax:  out[..., i, ...] = exp(x_i - m) / sum_j exp(x_j - m)     along ``dim``, m = max_j x_j

Subtracting the row maximum ``m`` changes nothing mathematically (it cancels) but keeps ``exp`` from
overflowing: the largest exponent is ``exp(0) = 1``. That is the *stable* softmax torch computes.

Frames: one per element, in row-major order (``out[0,2] = relu(-0.30) = max(0, -0.30) = 0.00``); for
softmax one per row along ``dim`` (the exponentials, their sum and the quotients).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks
from layerviz._format import Ask, negated, paren, redoable
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten
from layerviz.layers._module import Module, Setting
from layerviz.scene import Highlight, Scene
from layerviz.backward import BackwardTrace, HasBackward, Section, name as grad_name, product_step
from layerviz.tensor_grid import grid_cells, index_name, sample_of, tensor_grid
from layerviz.trace import LazyCaptions, Trace

#: numpy accepts at most 64 dimensions; activations take any of them.
_ANY_NDIM = tuple(range(65))

#: Terms listed in a softmax narration before "…".
_KEEP = 4

def check_x(x: ArrayLike) -> np.ndarray:
    """``x`` as a finite float64 array of any shape (not empty)."""
    array = _checks.finite_array("x", x, _ANY_NDIM, "(*)")
    if array.size == 0:
        raise ValueError(f"x must not be empty, got shape {array.shape}")
    return array


def _text(value: float | str) -> str:
    """A number as narrations print it; a text (chosen by :func:`~layerviz._format.redoable`) as it is."""
    return value if isinstance(value, str) else _number(value)


# -- the layers -----------------------------------------------------------------------------------


class _Activation(Module):
    """An element-wise activation: ``forward``, ``frames`` and the narration of one element."""

    #: the function's name in narrations (``relu``)
    name = ""

    def _apply(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def explain(self, value: float | str, result: float | str) -> str:
        """``relu(-0.30) = max(0, -0.30) = 0.00`` (numbers, or their texts as a narration shows them)."""
        return f"{self.name}({_text(value)}) = {_text(result)}"

    def narrate(self, name: str, x: float, result: float) -> tuple[str, Ask]:
        """The narration and the question of ``name = f(x) = result``: ``out[0,1] = relu(-0.30) = … = 0.00``."""
        # the input shown with the decimals that make the function of it, redone, give the result shown
        shown = redoable([x], [result], lambda o, _: self._apply(o))
        value, out = shown.operands[0], shown.results[0]
        return f"{name} = {self.explain(value, out)}", Ask(f"{name} = {self.name}({value}) = ?", out, result)

    def derivative(self, g: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``g × f'(x)``, vectorized, with ``out = f(x)`` the forward's output."""
        return activation_derivative(self, g, x, out)

    def derivative_step(self, label: str, x_label: str, g: float, x: float, out: float, result: float
                        ) -> tuple[list, str, Ask]:
        """One entry of :meth:`derivative`: the operands, the narration and the question."""
        return derivative_step(self, label, x_label, g, x, out, result)

    @classmethod
    def _from_torch(cls, module) -> _Activation:
        """The layer equal to its ``torch.nn`` twin (see :func:`layerviz.from_torch`)."""
        return cls()

    def forward(self, x: ArrayLike) -> np.ndarray:
        """Apply the function to every element of ``x: (*)``; returns ``(*)``."""
        return np.asarray(self._apply(check_x(x)), dtype=np.float64)

    __call__ = forward

    def frames(self, x: ArrayLike) -> ActivationTrace:
        """One frame per element of ``x``, in row-major order."""
        return ActivationTrace(self, x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(_Activation):
    """``out = x``: no activation at all (``torch.nn.Identity``); a network of only linear layers stays linear.

    Like ``torch.nn.Identity``, it accepts any positional and keyword arguments and ignores them (so a
    layer can be swapped for an Identity without changing the call).
    """

    name = "identity"

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def explain(self, value: float | str, result: float | str) -> str:
        return f"identity({_text(value)}) = {_text(result)}"


class ReLU(_Activation):
    """``out = max(0, x)`` (``torch.nn.ReLU``): negatives become 0, positives pass unchanged."""

    name = "relu"

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)

    def explain(self, value: float | str, result: float | str) -> str:
        return f"relu({_text(value)}) = max(0, {_text(value)}) = {_text(result)}"


class Sigmoid(_Activation):
    """``out = 1 / (1 + exp(-x))`` (``torch.nn.Sigmoid``): squashes any number into ``(0, 1)``."""

    name = "sigmoid"

    def _apply(self, x: np.ndarray) -> np.ndarray:
        # exp(-log(1 + exp(-x))) never overflows, for large positive or negative x
        return np.exp(-np.logaddexp(0.0, -x))

    def explain(self, value: float | str, result: float | str) -> str:
        return f"sigmoid({_text(value)}) = 1/(1 + e^{paren(negated(_text(value)))}) = {_text(result)}"


class Tanh(_Activation):
    """``out = tanh(x)`` (``torch.nn.Tanh``): squashes any number into ``(-1, 1)``, 0 stays 0."""

    name = "tanh"

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)


#: Element-wise activations by name, as :class:`~layerviz.Dense` accepts them.
ACTIVATIONS = {"identity": Identity, "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def activation_named(name: object) -> _Activation:
    """The element-wise activation called ``name`` (``None`` means identity); ValueError naming the choices."""
    key = "identity" if name is None else name
    if not isinstance(key, str) or key not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or None, got {name!r}")
    return ACTIVATIONS[key]()


def _check_dim(name: str, value: object) -> int | None:
    """``dim`` as an int, or None (torch's implicit choice)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise ValueError(f"{name} must be an integer or None, got {value!r}")
    return None if value is None else int(value)


def _softmax_dim(dim: int | None, ndim: int) -> int:
    """torch's rule for ``dim=None`` (legacy implicit dim): 0 for 0-, 1- and 3-D inputs, else 1."""
    if dim is None:
        return 0 if ndim in (0, 1, 3) else 1
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise ValueError(f"dim must be in [{-size}, {size - 1}] for x of {ndim} dimensions, got {dim}")
    return dim % size


class Softmax(Module):
    """``torch.nn.Softmax``: turns each row of numbers along ``dim`` into probabilities (positive, sum 1).

    Parameters
    ----------
    dim : int or None, default None
        The axis whose entries are normalised together. ``None``, the default as in torch, follows
        torch's implicit rule (``_get_softmax_dim``): axis 0 for inputs of 0, 1 or 3 dimensions, axis 1
        otherwise, so ``(N, F)`` and ``(N, C, H, W)`` batches are normalised over their features or
        channels. torch warns that this choice is deprecated: pass ``dim`` (``dim=-1``: the last axis).

    Examples
    --------
    >>> Softmax()(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """

    name = "softmax"

    dim = Setting(_check_dim, doc="The axis normalised, or None for torch's implicit choice.")

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    @classmethod
    def _from_torch(cls, module) -> Softmax:
        """The layer equal to a ``torch.nn.Softmax`` (see :func:`layerviz.from_torch`)."""
        return cls(module.dim)

    def axis(self, ndim: int) -> int:
        """The non-negative axis normalised for an input of ``ndim`` dimensions."""
        return _softmax_dim(self.dim, ndim)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """Softmax of ``x: (*)`` along ``dim``; returns ``(*)``."""
        x = check_x(x)
        if x.ndim == 0:
            _softmax_dim(self.dim, 0)
            return np.ones(())
        axis = self.axis(x.ndim)
        shifted = np.exp(x - x.max(axis=axis, keepdims=True))
        return shifted / shifted.sum(axis=axis, keepdims=True)

    __call__ = forward

    def frames(self, x: ArrayLike) -> ActivationTrace:
        """One frame per row along ``dim``."""
        return ActivationTrace(self, x)

    def __repr__(self) -> str:
        return f"Softmax(dim={self.dim})"


def activation_naive(layer: _Activation | Softmax, x: np.ndarray) -> np.ndarray:
    """The definitions, one element at a time with :mod:`math`: the reference the tests hold the layers to
    (GELU's two forms too: ``gelu`` with :func:`math.erf`, ``gelu_tanh``)."""
    import math

    x = np.asarray(x, dtype=np.float64)
    if isinstance(layer, Softmax):
        if x.ndim == 0:
            return np.ones(())
        moved = np.moveaxis(x, layer.axis(x.ndim), -1)
        out = np.zeros(moved.shape)
        for index in np.ndindex(*moved.shape[:-1]):
            row = moved[index]
            top = max(row)
            exps = [math.exp(v - top) for v in row]
            total = sum(exps)
            out[index] = [e / total for e in exps]
        return np.moveaxis(out, -1, layer.axis(x.ndim))
    functions = {"identity": lambda v: v, "relu": lambda v: v if v > 0 else 0.0,
                 "sigmoid": lambda v: 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v)),
                 "tanh": math.tanh, "gelu": lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))),
                 "gelu_tanh": lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))}
    f = functions[layer.name]
    out = np.zeros(x.shape)
    for index in np.ndindex(*x.shape):
        out[index] = f(float(x[index]))
    return out


# -- the trace ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ActivationFrame:
    """One element (or, for softmax, one row) through the activation.

    Attributes
    ----------
    index : int
        Position in the trace.
    where : tuple
        Index of the element in ``x`` (for softmax, with ``slice(None)`` at ``dim``: a row).
    x : ndarray
        ``input[where]``: a 0-d array (one element) or ``(D,)`` (a softmax row).
    exps : ndarray or None
        Softmax only: ``exp(x - max(x))``, shape ``(D,)``.
    result : ndarray
        ``output[where]``.
    narration : str
    """

    index: int
    where: tuple
    x: np.ndarray
    exps: np.ndarray | None
    result: np.ndarray
    narration: str
    #: What the frame asks a student to predict (None for a softmax row).
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"ActivationFrame({self.index}: {self.narration})"


class ActivationTrace(HasBackward, Trace):
    """The frames of an activation on ``x``: one per element (row-major), or one per softmax row.

    Attributes
    ----------
    input, output : ndarray, shape (*)
        Read-only copies.
    axis : int or None
        Softmax: the axis normalised; None for element-wise functions.
    """

    def __init__(self, layer: _Activation | Softmax, x: ArrayLike) -> None:
        self.layer = layer
        self.input = check_x(x).copy()
        self.output = np.array(layer.forward(self.input))
        self.axis = None
        if isinstance(layer, Softmax) and self.input.ndim:
            self.axis = layer.axis(self.input.ndim)
            moved = np.moveaxis(self.input, self.axis, -1)
            self.rows_shape = moved.shape[:-1]
            self._exps = np.exp(moved - moved.max(axis=-1, keepdims=True))
            self.n_frames = int(np.prod(self.rows_shape, dtype=np.int64))
        else:
            self.n_frames = int(self.input.size)
        for array in (self.input, self.output):
            array.flags.writeable = False

    def _where(self, k: int) -> tuple:
        if self.axis is None:
            return tuple(int(i) for i in np.unravel_index(k, self.input.shape)) if self.input.ndim else ()
        row = [int(i) for i in np.unravel_index(k, self.rows_shape)] if self.rows_shape else []
        row.insert(self.axis, slice(None))
        return tuple(row)

    def _frame(self, k: int) -> ActivationFrame:
        where = self._where(k)
        x, result = self.input[where], self.output[where]
        if self.axis is None:
            narration, question = self.layer.narrate(index_name("out", where), float(x), float(result))
            return ActivationFrame(k, where, x, None, result, narration, question)
        exps = self._exps[tuple(i for i in where if not isinstance(i, slice))]
        return ActivationFrame(k, where, x, exps, result, self._narrate(where, x, exps, result))

    @staticmethod
    def _narrate(where: tuple, x: np.ndarray, exps: np.ndarray, result: np.ndarray) -> str:
        """``out[0,:] = softmax(x[0,:]): m = 1.00, e^(x−m) = 0.61, 1.00; sum = 1.61; out = 0.38, 0.62``."""
        text = tuple(":" if isinstance(i, slice) else i for i in where)
        top = float(x.max())
        total = float(exps.sum())
        if len(x) <= _KEEP:  # every term listed: the sum and the quotients can be redone from them
            shown = redoable(exps, [total, *result], lambda o, r: [o.sum(), *(o / r[0])], intermediate=(0,))
            total_text = shown.results[0]
            exp_text, out_text = shown.operands.__getitem__, shown.results[1:].__getitem__
        else:  # only the terms shown are formatted: the cost does not grow with the row
            total_text = _number(total)
            exp_text, out_text = (lambda j: _number(exps[j])), (lambda j: _number(result[j]))
        exp_terms = _shorten(range(len(x)), _KEEP, exp_text)
        outs = _shorten(range(len(x)), _KEEP, out_text)
        best = int(np.argmax(result))
        largest = f"; largest: entry {best} = {out_text(best)}" if len(x) > _KEEP else ""
        return (f"{index_name('out', text)} = softmax({index_name('x', text)}): max m = {_number(top)}, "
                f"e^(x−m) = {', '.join(exp_terms)}; sum = {total_text}; "
                f"out = e^(x−m)/sum = {', '.join(outs)} (they add up to 1){largest}")

    def element_frames(self) -> np.ndarray:
        """The frame at which each element of the output is computed, shaped like ``x``."""
        if self.axis is None:
            return np.arange(self.input.size, dtype=np.int64).reshape(self.input.shape)
        rows = np.arange(self.n_frames, dtype=np.int64).reshape(self.rows_shape)
        return np.broadcast_to(np.expand_dims(rows, self.axis), self.input.shape)

    def scene(self) -> Scene:
        """Input → output, the output filling up element by element (row by row for softmax)."""
        shape = self.input.shape
        reveal = self.element_frames()
        first_flat = np.zeros(self.n_frames, dtype=np.int64)
        flat_order = np.argsort(reveal.ravel(), kind="stable")
        counts = np.bincount(reveal.ravel(), minlength=self.n_frames)
        first_flat[:] = flat_order[np.concatenate([[0], np.cumsum(counts)[:-1]])]
        page = sample_of(shape, first_flat)
        name = self.layer.name
        inp = tensor_grid("input", "input x", self.input, "x", page=page)
        out = tensor_grid("output", f"{name}(x)", self.output, "out", reveal=reveal, page=page, op="→")
        stencil = np.zeros((1, 3), dtype=np.int32)
        if self.axis is not None:
            # the grid is a reshape and the softmax axis maps onto one grid axis, so every row has the
            # offsets of row 0 (cells on another page, a softmax across samples, are not drawn)
            cells = grid_cells(shape, np.flatnonzero(reveal.ravel() == 0))
            stencil = cells - cells[0]
        origin = grid_cells(shape, first_flat)
        read = "row read" if self.axis is not None else "input value"
        highlights = (Highlight("input", origin, stencil, "window", read),
                      Highlight("output", origin, stencil, "output", "output written"))
        vmax = max(float(np.abs(self.input).max()), float(np.abs(self.output).max())) or 1.0
        return Scene(repr(self.layer), self.n_frames, (inp, out), highlights, LazyCaptions(self), vmax)


# -- backward ---------------------------------------------------------------------------------------
#
# dL/dx = dL/dout × f'(x), element by element, with f' from what the forward saved: relu's mask (x > 0),
# sigmoid's σ(1 − σ) and tanh's 1 − tanh² from the output (as torch computes them); softmax's
# Jacobian-vector product s ⊙ (dout − s·dout) along its axis.


def activation_derivative(act, g: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``g × act'(z)``, vectorized, with ``a = act(z)`` the forward's output."""
    if act.name == "relu":
        return g * (z > 0)
    if act.name == "sigmoid":
        return g * a * (1.0 - a)
    if act.name == "tanh":
        return g * (1.0 - a * a)
    return g.copy()


def derivative_step(act, label: str, z_label: str, g: float, z: float, a: float, result: float) -> tuple[list, str, Ask]:
    """One element of :func:`activation_derivative`: the operands, the narration and the question."""
    if act.name == "relu":
        slope = 1.0 if z > 0 else 0.0
        why = f"as {z_label} = {_number(z)} {'>' if z > 0 else '<='} 0, relu' = {int(slope)}: "
        text, ask = product_step(label, "dout × relu'", [g, slope], result, lambda o: o[0] * o[1],
                                 lambda t: f"{paren(t[0])} × {t[1]}")
        return [g, slope], why + text, ask
    if act.name == "sigmoid":
        text, ask = product_step(label, "dout × σ × (1 − σ)", [g, a], result, lambda o: o[0] * o[1] * (1 - o[1]),
                                 lambda t: f"{paren(t[0])} × {paren(t[1])} × (1 − {paren(t[1])})")
        return [g, a], text, ask
    if act.name == "tanh":
        text, ask = product_step(label, "dout × (1 − tanh²)", [g, a], result, lambda o: o[0] * (1 - o[1] ** 2),
                                 lambda t: f"{paren(t[0])} × (1 − {paren(t[1])}²)")
        return [g, a], text, ask
    text, ask = product_step(label, "dout × 1", [g], result, lambda o: o[0], lambda t: f"{paren(t[0])} × 1")
    return [g], text, ask


def softmax_backward(s: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
    """``s ⊙ (g − Σ s·g)`` along ``axis``: the softmax's Jacobian-vector product."""
    return s * (g - (s * g).sum(axis=axis, keepdims=True))


def _activation_backward(self: ActivationTrace, g: np.ndarray) -> BackwardTrace:
    x, s = self.input, self.output
    if self.axis is None:
        if not isinstance(self.layer, _Activation):  # the softmax of one number is 1, whatever it is
            dx = s * (g - s * g)

            def explain(index):
                text, ask = product_step("dx", "s × (dout − s × dout)", [float(s), float(g)], float(dx),
                                         lambda o: o[0] * (o[1] - o[0] * o[1]),
                                         lambda t: f"{paren(t[0])} × ({paren(t[1])} − {paren(t[0])} × {paren(t[1])})")
                return [float(s), float(g)], text, ask

            section = Section("input", "dx", "dL/dx", dx, explain)
            return BackwardTrace(self, g, [section], {"input": dx})
        dx = self.layer.derivative(g, x, s)

        def explain(index):
            return self.layer.derivative_step(grad_name("dx", index), grad_name("x", index), float(g[index]),
                                              float(x[index]), float(s[index]), float(dx[index]))

        title = f"dL/dx = dout × {self.layer.name}'(x)"
    else:
        axis = self.axis
        dx = softmax_backward(s, g, axis)

        def explain(index):
            row = list(index)
            row[axis] = slice(None)
            srow, grow = s[tuple(row)], g[tuple(row)]
            n, j = len(srow), index[axis]
            dot = float(srow @ grow)
            label = grad_name("dx", index)
            if n <= 4:
                # dx from dot as shown (the narration's step) and from dot as computed (the question's)
                shown = redoable([*srow, *grow], [dot, float(dx[index]), float(dx[index])],
                                 lambda o, r: [o[:n] @ o[n:], o[j] * (o[n + j] - r[0]),
                                               o[j] * (o[n + j] - o[:n] @ o[n:])], intermediate=(0,))
                st, gt = shown.operands[:n], shown.operands[n:]
                terms = " + ".join(f"{paren(a)}×{paren(b)}" for a, b in zip(st, gt))
                text = (f"dot = s·dout = {terms} = {shown.results[0]}; "
                        f"{label} = s × (dout − dot) = {paren(st[j])} × ({paren(gt[j])} − {paren(shown.results[0])}) "
                        f"= {shown.results[1]}")
                ask = Ask(f"dot = {terms}; {label} = {paren(st[j])} × ({paren(gt[j])} − dot) = ?", shown.results[1],
                          float(dx[index]))
                return [*srow, *grow], text, ask
            shown = redoable([srow[j], grow[j], dot], [float(dx[index])], lambda o, _: [o[0] * (o[1] - o[2])])
            st, gt, dt = shown.operands
            text = (f"dot = s·dout (sum of {n} products) = {dt}; "
                    f"{label} = s × (dout − dot) = {paren(st)} × ({paren(gt)} − {paren(dt)}) = {shown.results[0]}")
            return [srow[j], grow[j], dot], text, None

        title = "dL/dx = s ⊙ (dout − s·dout)"
    section = Section("input", "dx", title, dx, explain, elementwise=self.axis is None)
    return BackwardTrace(self, g, [section], {"input": dx})


ActivationTrace._backward = _activation_backward
