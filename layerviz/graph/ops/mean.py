"""``x.mean(dim, keepdim)``: the mean over some axes (a global average pooling over ``(2, 3)``); its frames and its
backward."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten
from layerviz.backward import KEEP_TERMS, BackwardTrace, HasBackward, Section
from layerviz.backward import name as grad_name
from layerviz.graph.ops.base import Op, OpFrame, cell_of, shape_arg, simple_scene, tensor_arg
from layerviz.scene import Scene
from layerviz.tensor_grid import index_name
from layerviz.trace import Trace


class Mean(Op):
    """``x.mean(dim, keepdim)``: the mean over the axes ``dim`` (all of them if None), as ``torch.mean``; over
    the spatial axes ``(2, 3)`` of ``(N, C, H, W)`` it is a global average pooling.

    Frames: one per output element, ``out[0,3] = (0.10 + 0.20 + 0.30 + 0.40) / 4 = 0.25``. Backward: each input
    element gets ``dout / count``.
    """

    def __init__(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> None:
        if dim is not None:
            dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
            dim = tuple(shape_arg("dim", d) for d in dims)
        self.dim = dim
        self.keepdim = _checks.flag("keepdim", keepdim)

    def axes(self, ndim: int) -> tuple[int, ...]:
        """The axes averaged for an input of ``ndim`` dimensions."""
        if self.dim is None or len(self.dim) == 0:
            return tuple(range(ndim))
        size = max(ndim, 1)
        axes = []
        for d in self.dim:
            if not -size <= d < size:
                raise ValueError(f"dim must be in [{-size}, {size - 1}] for x of {ndim} dimensions, got {d}")
            axes.append(d % size)
        if len(set(axes)) != len(axes):
            raise ValueError(f"dim names an axis twice: {self.dim}")
        return tuple(sorted(axes))

    def frames(self, x: Any) -> MeanTrace:
        return MeanTrace(self, x)

    def __repr__(self) -> str:
        return f"Mean(dim={self.dim}, keepdim={self.keepdim})"


class MeanTrace(HasBackward, Trace):
    """The frames of a mean: one per output element.

    Attributes
    ----------
    input, output : ndarray
    axes : tuple of int
    count : int
        Numbers averaged per output element.
    """

    def __init__(self, layer: Mean, x: Any) -> None:
        self.layer = layer
        self.input = tensor_arg("x", x).copy()
        self.axes = layer.axes(self.input.ndim)
        kept = [a for a in range(self.input.ndim) if a not in self.axes]
        self.kept = tuple(kept)
        self._moved = np.ascontiguousarray(np.transpose(self.input, (*kept, *self.axes))).reshape(
            *(self.input.shape[a] for a in kept), -1)
        self.count = int(self._moved.shape[-1])
        self._reduced = self._moved.mean(axis=-1)
        self.output = self.input.mean(axis=self.axes, keepdims=layer.keepdim) if self.axes else self.input.copy()
        self.n_frames = int(self._reduced.size)
        for array in (self.input, self._moved, self._reduced, self.output):
            array.flags.writeable = False

    def _out_cell(self, reduced: tuple) -> tuple:
        if not self.layer.keepdim:
            return reduced
        cell, it = [], iter(reduced)
        for a in range(self.input.ndim):
            cell.append(0 if a in self.axes else next(it))
        return tuple(cell)

    def _source(self, reduced: tuple) -> str:
        parts, it = [], iter(reduced)
        for a in range(self.input.ndim):
            parts.append(":" if a in self.axes else str(next(it)))
        return f"x[{','.join(parts)}]"

    def _frame(self, k: int) -> OpFrame:
        reduced = cell_of(self._reduced.shape, k)
        values = self._moved[reduced]
        result = float(self._reduced[reduced])
        n = self.count
        label = index_name("out", self._out_cell(reduced))
        if n <= KEEP_TERMS:
            shown = redoable([*values], [result], lambda o, _: [o.sum() / n])
            head = f"{label} = ({' + '.join(paren(t) for t in shown.operands)}) / {n}"
            return OpFrame(k, self._out_cell(reduced), values, result,
                           f"{label} = mean of {self._source(reduced)}: {head[len(label) + 3:]} = {shown.results[0]}",
                           Ask(f"{head} = ?", shown.results[0], result))
        terms = _shorten(list(values), 5, lambda v: paren(_number(v)))
        terms[terms.index("…")] = f"… ({n} terms)"
        return OpFrame(k, self._out_cell(reduced), values, result,
                       f"{label} = mean of {self._source(reduced)} = ({' + '.join(terms)}) / {n} = {_number(result)}")

    def scene(self) -> Scene:
        reveal = np.arange(self.n_frames, dtype=np.int64).reshape(self._reduced.shape)
        if self.layer.keepdim:
            reveal = reveal.reshape(self.output.shape)
        return simple_scene(self, [("input", "input", self.input)], f"mean over dims {self.axes}",
                            reveal=reveal if np.shape(reveal) == np.shape(self.output) else None)

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        n = self.count
        g_reduced = g.reshape(self._reduced.shape)
        shape = [1 if a in self.axes else s for a, s in enumerate(self.input.shape)]
        dx = np.broadcast_to(g_reduced.reshape(shape), self.input.shape) / n

        def explain(index):
            reduced = tuple(i for a, i in enumerate(index) if a not in self.axes)
            value, result = float(g_reduced[reduced]), float(dx[index])
            shown = redoable([value], [result], lambda o, _: [o[0] / n])
            label = grad_name("dx", index)
            head = f"{label} = {grad_name('dout', self._out_cell(reduced))} / {n}"
            operand = paren(shown.operands[0])
            text = (f"{index_name('x', index)} is one of the {n} numbers averaged: {head} = {operand} / {n} = "
                    f"{shown.results[0]}")
            return [value], text, Ask(f"{label} = {operand} / {n} = ?", shown.results[0], result)

        section = Section("input", "dx", f"dL/dx = dout / {n}", np.ascontiguousarray(dx), explain)
        return BackwardTrace(self, g, [section], {"input": np.ascontiguousarray(dx)})
