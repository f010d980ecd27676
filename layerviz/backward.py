"""The backward pass as frames: how a layer learns, one gradient entry per frame.

``trace = layer.frames(x)`` holds the forward pass; ``trace.backward(grad_output)`` returns a
:class:`BackwardTrace`, built from what the forward trace saved (its input, masks, statistics), never by
running the forward again. As torch's ``output.backward(grad_output)``, it computes the gradients of the
scalar ``L = (output * grad_output).sum()``:

- ``btrace.grads["input"]``: ``dL/dx``, shaped like ``x``, the gradient handed to the layer before;
- ``btrace.grads["weight"]``, ``["bias"]``, ...: one entry per parameter, named as torch's
  ``dict(module.named_parameters())`` names them (``"0.weight"`` in a Sequential).

Every gradient is computed once, vectorized; frame ``k`` is one entry of one gradient and shows the
arithmetic that gives it (``dw[0,0,1,1] = 0.50×1.00 + (-0.20)×0.30 = 0.44``), built on demand in O(1)
(per entry) as a forward frame is. The scene draws the upstream gradient and the gradients filling up,
with the grids and highlights every other trace uses.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from layerviz import _checks
from layerviz._format import Ask, number, paren, redoable
from layerviz.scene import Grid, Highlight, Scene
from layerviz.tensor_grid import grid_cells, grid_layout, tensor_grid
from layerviz.trace import LazyCaptions, Trace

#: Terms of a sum listed in a narration before it is abridged with "…" (a listed sum asks a question).
KEEP_TERMS = 9

#: A highlight origin far off every grid: the highlight is not drawn on that frame.
_OFF = -(1 << 30)


def check_grad_output(value: object, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a float64 array of the output's ``shape`` (ones when None); ValueError naming ``grad_output``."""
    if value is None:
        return np.ones(shape)
    array = _checks.finite_array("grad_output", value, (len(shape),), f"{shape} (the output's shape)")
    if array.shape != tuple(shape):
        raise ValueError(f"grad_output must have the output's shape {tuple(shape)}, got shape {array.shape}")
    return array


class HasBackward:
    """Mixin of a forward :class:`~layerviz.trace.Trace` whose layer can run backward.

    The trace implements ``_backward(grad_output) -> BackwardTrace`` for a checked ``grad_output``.
    """

    def backward(self, grad_output=None) -> BackwardTrace:
        """The backward pass of this forward pass for ``grad_output`` (dL/d output; ones if None), as frames."""
        return self._backward(check_grad_output(grad_output, np.shape(self.output)))


@dataclass(frozen=True, eq=False)
class Section:
    """One gradient computed entry by entry: ``values`` and the arithmetic of each entry.

    ``explain(index) -> (operands, narration, question)`` for an index tuple into ``values``.
    """

    key: str  # the grads entry ("weight", "0.bias", "input") or a step's own name ("z")
    symbol: str  # how the narration names an entry: "dw", "db", "dx", "dz"
    title: str
    values: np.ndarray
    explain: Callable[[tuple[int, ...]], tuple[np.ndarray, str, Ask | None]]
    prefix: str = ""  # said before the narration (the layer in a Sequential)
    #: True when entry ``i`` is computed from entry ``i`` of the upstream gradient and of the forward's input
    #: (an activation, dropout): the scene outlines those cells too.
    elementwise: bool = False


@dataclass(frozen=True, eq=False)
class GradFrame:
    """One entry of one gradient and the arithmetic that gives it.

    Attributes
    ----------
    index : int
        Position in the backward trace.
    grad : str
        The gradient it belongs to (``"weight"``, ``"input"``, ``"0.bias"``, or a step such as ``"z"``).
    cell : tuple of int
        The entry's index in that gradient.
    operands : ndarray
        The numbers it is computed from (upstream gradients, saved inputs, weights), flat.
    result : float
    narration : str
    question : Ask or None
        Asked when the narration lists every operand.
    """

    index: int
    grad: str
    cell: tuple[int, ...]
    operands: np.ndarray
    result: float
    narration: str
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"GradFrame({self.index}: {self.narration})"


def name(symbol: str, index: tuple) -> str:
    return f"{symbol}[{','.join(str(int(i)) for i in index)}]" if len(index) else symbol


class BackwardTrace(Trace):
    """The frames of a backward pass: the entries of each gradient, section after section.

    Attributes
    ----------
    layer : the layer
    forward : Trace
        The forward trace it was built from.
    input : ndarray
        ``grad_output``: the gradient coming in (dL/d output).
    output : ndarray
        ``grads[output_key]``: the gradient going out (dL/d input).
    grads : dict of str to ndarray
        ``"input"`` and every parameter's gradient under torch's name (a function of several inputs, such as
        attention, names each input as torch's argument: ``"query"``, ``"key"``, ``"value"``).
    sections : tuple of Section
        The gradients shown, in frame order.
    """

    def __init__(self, forward: Trace, grad_output: np.ndarray, sections, grads: dict[str, np.ndarray], *,
                 output_key: str = "input") -> None:
        self.layer = forward.layer
        self.forward = forward
        self.input = np.asarray(grad_output, dtype=np.float64)
        self.grads = {key: _array(value) for key, value in grads.items()}
        self.output = self.grads[output_key]
        self.sections = tuple(s if isinstance(s.values, np.ndarray) else dataclasses.replace(s, values=_array(s.values))
                              for s in sections)
        sizes = [int(s.values.size) for s in self.sections]
        self.offsets = tuple(int(v) for v in np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]))
        self.n_frames = self.offsets[-1]
        for array in (self.input, *self.grads.values(), *(s.values for s in self.sections)):
            array.flags.writeable = False

    def section_of(self, k: int) -> int:
        return bisect.bisect_right(self.offsets, k) - 1

    def _frame(self, k: int) -> GradFrame:
        s = self.section_of(k)
        section = self.sections[s]
        flat = k - self.offsets[s]
        index = tuple(int(i) for i in np.unravel_index(flat, section.values.shape)) if section.values.ndim else ()
        operands, narration, question = section.explain(index)
        return GradFrame(k, section.key, index, np.asarray(operands, dtype=np.float64), float(section.values[index]),
                         section.prefix + narration, question)

    def __repr__(self) -> str:
        return (f"<BackwardTrace of {self.layer!r}: {self.n_frames} frames, "
                f"grad_output {self.input.shape} -> grads {sorted(self.grads)}>")

    def scene(self) -> Scene:
        """The upstream gradient, then each gradient filling up entry by entry (the entry computed outlined)."""
        panels, highlights = [], []
        saved = getattr(self.forward, "input", None)
        single = not hasattr(self.forward, "traces")  # one layer: its saved input is drawn too
        show_saved = single and isinstance(saved, np.ndarray) and saved.size > 0
        dout_page = np.zeros(self.n_frames, dtype=np.int32)  # follows an element-wise gradient's page
        for s, section in enumerate(self.sections):
            start, stop = self.offsets[s], self.offsets[s + 1]
            shape = section.values.shape
            reveal = (start + np.arange(section.values.size, dtype=np.int64)).reshape(shape)
            op = "←" if s else "→"
            if section.symbol == "dw" and section.values.ndim == 2:  # a weight matrix, drawn as the matrix
                grid = Grid(f"g{s}", section.title, section.values[None], (f"{shape[0]}×{shape[1]}",),
                            reveal=reveal.astype(np.int32)[None], op=op)
                rows, cols = np.divmod(np.arange(section.values.size), shape[1])
                cells = np.stack([np.zeros_like(rows), rows, cols], axis=1).astype(np.int32)
            else:
                cells = grid_cells(shape, np.arange(section.values.size))
                _, page_size = grid_layout(shape)
                # the page of this gradient shown at each frame: the entry's own page while it is computed
                page = np.zeros(self.n_frames, dtype=np.int32)
                page[start:stop] = cells[:, 0] // page_size
                page[stop:] = page[stop - 1] if stop > start else 0
                grid = tensor_grid(f"g{s}", section.title, section.values, section.symbol, reveal=reveal,
                                   page=page, op=op)
            panels.append(grid)
            origin = np.full((self.n_frames, 3), _OFF, dtype=np.int32)
            origin[start:stop] = cells
            highlights.append(Highlight(grid.name, origin, np.zeros((1, 3), dtype=np.int32), "output"))
            if single and section.elementwise and shape == self.input.shape:
                dout_page[start:stop] = grid.page[start:stop] if grid.page is not None else 0
                highlights.append(Highlight("dout", origin, np.zeros((1, 3), dtype=np.int32), "window"))
                if show_saved and saved.shape == shape:
                    highlights.append(Highlight("saved", origin, np.zeros((1, 3), dtype=np.int32), "stat"))
        first = [tensor_grid("dout", "upstream gradient dL/dout", self.input, "dout", page=dout_page)]
        if show_saved:
            first.append(tensor_grid("saved", "input x (saved by the forward)", saved, "x",
                                     page=dout_page if saved.shape == self.input.shape else None))
        panels = first + panels
        arrays = [self.input, *(s.values for s in self.sections)] + ([saved] if show_saved else [])
        vmax = max(float(np.abs(a).max(initial=0.0)) for a in arrays) or 1.0
        layer = self.layer.short_repr() if hasattr(self.layer, "short_repr") else repr(self.layer)
        return Scene(f"backward of {layer}", self.n_frames, tuple(panels), tuple(highlights),
                     LazyCaptions(self), vmax)


def _array(value) -> np.ndarray:
    """A gradient as an ndarray (a 0-d one for a number), so that it can be made read-only."""
    return value if isinstance(value, np.ndarray) else np.array(value, dtype=np.float64)


# -- narrations -----------------------------------------------------------------------------------


def sum_of_products(label: str, a: np.ndarray, b: np.ndarray, result: float, *, before: str = "",
                    empty: str = "") -> tuple[str, Ask | None]:
    """``label = a0×b0 + a1×b1 + … = result``; listed in full (and asked) up to :data:`KEEP_TERMS` terms.

    Only the terms shown are formatted, so an abridged frame costs the same whatever the number of terms.
    ``before`` is said first (``"… : "``); ``empty`` explains a sum of no terms.
    """
    n = len(a)
    if n == 0:
        return f"{before}{empty or 'no term'}: {label} = {number(0.0)}", None
    if n <= KEEP_TERMS:
        shown = redoable([*a, *b], [result], lambda o, _: [o[:n] @ o[n:]])
        terms = [f"{paren(x)}×{paren(y)}" for x, y in zip(shown.operands[:n], shown.operands[n:])]
        head = f"{label} = {' + '.join(terms)}"
        return f"{before}{head} = {shown.results[0]}", Ask(f"{head} = ?", shown.results[0], result)
    idx = [0, 1, 2, n - 2, n - 1]
    terms = [f"{paren(number(a[i]))}×{paren(number(b[i]))}" for i in idx]
    terms = terms[:3] + [f"… ({n} products)"] + terms[3:]
    return f"{before}{label} = {' + '.join(terms)} = {number(result)}", None


def sum_of(label: str, values: np.ndarray, result: float, *, before: str = "", empty: str = "") -> tuple[str, Ask | None]:
    """``label = v0 + v1 + … = result``; listed in full (and asked) up to :data:`KEEP_TERMS` terms."""
    n = len(values)
    if n == 0:
        return f"{before}{empty or 'no term'}: {label} = {number(0.0)}", None
    if n <= KEEP_TERMS:
        shown = redoable(list(values), [result], lambda o, _: [o.sum()])
        head = f"{label} = {' + '.join(paren(t) for t in shown.operands)}"
        return f"{before}{head} = {shown.results[0]}", Ask(f"{head} = ?", shown.results[0], result)
    terms = [paren(number(values[i])) for i in (0, 1, 2, n - 2, n - 1)]
    terms = terms[:3] + [f"… ({n} terms)"] + terms[3:]
    return f"{before}{label} = {' + '.join(terms)} = {number(result)}", None


def product_step(label: str, formula: str, operands, result: float, redo, text) -> tuple[str, Ask]:
    """``label = formula = <text of the shown operands> = result``, e.g. an activation's derivative.

    ``redo(ops)`` recomputes the result from the operands as shown; ``text(ops_texts)`` writes the arithmetic.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # an operand shown as 0.00 may divide: more decimals
        shown = redoable(list(operands), [result], lambda o, _: [redo(o)])
    arithmetic = text(shown.operands)
    head = f"{label} = {formula} = {arithmetic}"
    return f"{head} = {shown.results[0]}", Ask(f"{label} = {arithmetic} = ?", shown.results[0], result)


def copy_section(key: str, symbol: str, title: str, values: np.ndarray, source: str, source_index, why: str) -> Section:
    """A gradient that is the upstream gradient moved (Flatten, Identity): ``dx[0,1,2] = dout[0,5] = 0.50``."""

    def explain(index):
        src = source_index(index)
        value = float(values[index])
        return [value], f"{why}: {name(symbol, index)} = {name(source, src)} = {number(value)}", None

    return Section(key, symbol, title, values, explain)
