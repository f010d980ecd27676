"""``F.log_softmax(x, dim)``: ``log(softmax(x))`` along an axis, computed stably; its frames and its backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten
from layerviz.backward import BackwardTrace, HasBackward, Section
from layerviz.backward import name as grad_name
from layerviz.graph.ops.base import Op, OpFrame, cell_of, simple_scene, tensor_arg
from layerviz.layers.activation import _softmax_dim
from layerviz.scene import Scene
from layerviz.tensor_grid import index_name
from layerviz.trace import Trace

#: Entries of a row listed in a narration before "…".
_KEEP = 4


class LogSoftmax(Op):
    """``F.log_softmax(x, dim)``: ``log(softmax(x))`` along ``dim``, computed stably as torch does::

        out = x - m - log(sum_j exp(x_j - m)),     m = max_j x_j

    Frames: one per row along ``dim``. Backward: ``dx = dout - softmax(x) × sum(dout)`` along ``dim``.
    """

    name = "log_softmax"

    def __init__(self, dim: int | None = None) -> None:
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))):
            raise ValueError(f"dim must be an integer or None, got {dim!r}")
        self.dim = None if dim is None else int(dim)

    def frames(self, x: Any) -> LogSoftmaxTrace:
        return LogSoftmaxTrace(self, x)

    def __repr__(self) -> str:
        return f"LogSoftmax(dim={self.dim})"


class LogSoftmaxTrace(HasBackward, Trace):
    """The frames of a log-softmax: one per row along ``dim``.

    Attributes
    ----------
    input, output : ndarray
    axis : int
    """

    def __init__(self, layer: LogSoftmax, x: Any) -> None:
        self.layer = layer
        self.input = tensor_arg("x", x).copy()
        self.axis = _softmax_dim(layer.dim, self.input.ndim) if self.input.ndim else 0
        if self.input.ndim == 0:
            self._moved = self.input.reshape(1)
        else:
            self._moved = np.moveaxis(self.input, self.axis, -1)
        m = self._moved.max(axis=-1, keepdims=True)
        self._exps = np.exp(self._moved - m)
        self._lse = np.log(self._exps.sum(axis=-1))
        moved_out = self._moved - m - self._lse[..., None]
        self.output = moved_out.reshape(()) if self.input.ndim == 0 else np.moveaxis(moved_out, -1, self.axis)
        self.rows_shape = self._moved.shape[:-1]
        self.n_frames = int(np.prod(self.rows_shape, dtype=np.int64))
        for array in (self.input, self.output, self._exps, self._lse):
            array.flags.writeable = False

    def _where(self, row: tuple) -> tuple:
        where = list(row)
        if self.input.ndim:
            where.insert(self.axis, ":")
        return tuple(where)

    def _frame(self, k: int) -> OpFrame:
        row = cell_of(self.rows_shape, k)
        x = self._moved[row]
        exps = self._exps[row]
        out = np.moveaxis(self.output, self.axis, -1)[row] if self.input.ndim else self.output.reshape(1)
        where = self._where(row)
        top, total = float(x.max()), float(exps.sum())
        text = lambda values: ", ".join(_shorten(list(values), _KEEP, _number))  # noqa: E731
        narration = (f"{index_name('out', where)} = log_softmax({index_name('x', where)}) = x − m − log(Σ e^(x−m)): "
                     f"m = {_number(top)}, e^(x−m) = {text(exps)}; Σ = {_number(total)}, log Σ = "
                     f"{_number(float(self._lse[row]))}; out = {text(out)} (e^out adds up to 1)")
        return OpFrame(k, where, x, out, narration)

    def scene(self) -> Scene:
        rows = np.arange(self.n_frames, dtype=np.int64).reshape(self.rows_shape)
        reveal = np.broadcast_to(np.expand_dims(rows, self.axis), self.output.shape) if self.input.ndim else None
        return simple_scene(self, [("input", "input", self.input)], "log_softmax(x)", reveal=reveal)

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        s = np.exp(self.output)
        if self.input.ndim == 0:
            dx = g - s * g
            total = g
        else:
            total = g.sum(axis=self.axis, keepdims=True)
            dx = g - s * total
        total_b = np.broadcast_to(total, g.shape)

        def explain(index):
            ops = [float(g[index]), float(s[index]), float(total_b[index])]
            result = float(dx[index])
            shown = redoable(ops, [result], lambda o, _: [o[0] - o[1] * o[2]])
            gt, st, tt = shown.operands
            label = grad_name("dx", index)
            head = f"{label} = dout − softmax × Σ dout = {paren(gt)} − {paren(st)} × {paren(tt)}"
            return ops, f"{head} = {shown.results[0]}", Ask(f"{label} = {paren(gt)} − {paren(st)} × {paren(tt)} = ?",
                                                          shown.results[0], result)

        section = Section("input", "dx", "dL/dx = dout − softmax(x) × Σ dout", np.ascontiguousarray(dx), explain)
        return BackwardTrace(self, g, [section], {"input": np.ascontiguousarray(dx)})
