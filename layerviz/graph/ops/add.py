"""``a + b``: a residual connection, or a tensor and a number; its frames and its backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz.backward import BackwardTrace, HasBackward, Section
from layerviz.backward import name as grad_name
from layerviz.graph.ops.base import Op, OpFrame, cell_of, simple_scene, tensor_arg
from layerviz.scene import Scene
from layerviz.tensor_grid import index_name
from layerviz.trace import Trace


class Add(Op):
    """``a + b`` (``+``, ``torch.add``): two tensors of one shape (a residual connection), or a tensor and a number.

    Frames: one per output element, ``out[0,1,2,3] = 0.40 + (-0.10) = 0.30``. Backward: the addition hands
    the gradient of its output, unchanged, to both of its inputs (``da = db = dout``).
    """

    def frames(self, a: Any, b: Any) -> AddTrace:
        """One frame per output element."""
        return AddTrace(self, a, b)

    def __repr__(self) -> str:
        return "Add()"


def _operand(name: str, value: Any) -> np.ndarray | float:
    """An operand of ``+``: a finite number as a float, else a tensor (see :func:`tensor_arg`)."""
    value = _checks.plain(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
        return float(value)
    return tensor_arg(name, value)


class AddTrace(HasBackward, Trace):
    """The frames of ``a + b``: one per output element.

    Attributes
    ----------
    a, b : ndarray or float
    input : ndarray
        The first tensor operand.
    output : ndarray
    """

    def __init__(self, layer: Add, a: Any, b: Any) -> None:
        self.layer = layer
        self.a, self.b = _operand("a", a), _operand("b", b)
        arrays = [v for v in (self.a, self.b) if isinstance(v, np.ndarray)]
        if not arrays:
            raise ValueError("a + b needs a tensor: got two numbers")
        if len(arrays) == 2 and self.a.shape != self.b.shape:
            raise ValueError(f"a + b adds two tensors of one shape (a residual connection): got shapes {self.a.shape} "
                             f"and {self.b.shape} (layerviz does not broadcast them)")
        self.input = arrays[0]
        self.output = np.asarray(self.a + self.b, dtype=np.float64)
        self.n_frames = int(self.output.size)
        for array in (*arrays, self.output):
            array.flags.writeable = False

    def _operand_at(self, value, cell):
        return float(value[cell]) if isinstance(value, np.ndarray) else float(value)

    def _frame(self, k: int) -> OpFrame:
        cell = cell_of(self.output.shape, k)
        a, b, result = self._operand_at(self.a, cell), self._operand_at(self.b, cell), float(self.output[cell])
        shown = redoable([a, b], [result], lambda o, _: [o[0] + o[1]])
        head = f"{index_name('out', cell)} = {paren(shown.operands[0])} + {paren(shown.operands[1])}"
        return OpFrame(k, cell, np.array([a, b]), result, f"{head} = {shown.results[0]}",
                       Ask(f"{head} = ?", shown.results[0], result))

    def scene(self) -> Scene:
        inputs = [(name, name, v) for name, v in (("a", self.a), ("b", self.b)) if isinstance(v, np.ndarray)]
        reveal = np.arange(self.n_frames, dtype=np.int64).reshape(self.output.shape)
        return simple_scene(self, inputs, "a + b", reveal=reveal, elementwise=True)

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        both = isinstance(self.a, np.ndarray) and isinstance(self.b, np.ndarray)
        gets = "both of its inputs: da = db = dout" if both else "its tensor input: dx = dout"
        symbols = ("da", "db") if both else ("dx",)

        def explain(index):
            value = float(g[index])
            names = " = ".join(grad_name(s, index) for s in symbols)
            return [value], (f"an addition hands dout unchanged to {gets}: {names} = {grad_name('dout', index)} = "
                             f"{_number(value)}"), None

        section = Section("input", symbols[0], f"dL/d({'a, b' if both else 'x'}) = dout", g, explain, elementwise=True)
        grads = {"input": g}
        if both:
            grads["input1"] = g
        return BackwardTrace(self, g, [section], grads)
