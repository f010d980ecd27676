"""``x[key]`` with ints, slices, ``None`` and ``...``: its frame and its backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerviz._format import number as _number
from layerviz.backward import BackwardTrace, Section
from layerviz.backward import name as grad_name
from layerviz.graph.ops.base import MovedTrace, Op, cell_of
from layerviz.tensor_grid import index_name


class Index(Op):
    """``x[key]`` with ints, slices, ``None`` and ``...`` (an LSTM's last step ``out[-1]``, ``out[:, -1, :]``);
    the key may hold numbers computed at run time (``x[:, : x.size(1) // 2]``).

    One frame: the numbers picked. Backward: each number picked gets its gradient back, the others 0.
    """

    def frames(self, x: Any, key: Any) -> IndexTrace:
        return IndexTrace(self, x, key)

    def __repr__(self) -> str:
        return "Index()"


def _check_key(key: Any) -> tuple:
    """``key`` as a tuple of ints, slices of positive steps, ``None`` and ``...``; ValueError otherwise."""
    key = key if isinstance(key, tuple) else (key,)
    for part in key:
        if part is None or part is Ellipsis or isinstance(part, slice):
            continue
        if isinstance(part, bool) or not isinstance(part, (int, np.integer)):
            raise ValueError(f"indexing with {part!r} is not supported: use ints, slices (a:b:c), None and ...")
    for part in key:
        if isinstance(part, slice) and part.step is not None and part.step <= 0:
            raise ValueError("slice steps must be positive")
    return key


def _key_text(key: tuple) -> str:
    """The key as written between the brackets: ``:, -1, 1:3``."""
    def one(part):
        if part is None:
            return "None"
        if part is Ellipsis:
            return "..."
        if isinstance(part, slice):
            text = f"{'' if part.start is None else part.start}:{'' if part.stop is None else part.stop}"
            return text + (f":{part.step}" if part.step not in (None, 1) else "")
        return str(part)

    return ", ".join(one(p) for p in key)


class IndexTrace(MovedTrace):
    """One frame: ``out = x[key]`` (``key``: a tuple, checked)."""

    def __init__(self, layer: Index, x: Any, key: Any) -> None:
        self.key = _check_key(key)
        super().__init__(layer, x)

    def _moved(self) -> np.ndarray:
        try:
            return np.array(self.input[self.key])
        except IndexError as error:
            raise ValueError(f"x[{_key_text(self.key)}] on x of shape {self.input.shape}: {error}") from error

    def _narration(self) -> str:
        return (f"out = x[{_key_text(self.key)}]: {self.input.shape} → {self.output.shape} "
                f"({self.output.size} of the {self.input.size} numbers picked; none changes)")

    def _title(self) -> str:
        return f"x[{_key_text(self.key)}]"

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        dx = np.zeros(self.input.shape)
        dx[self.key] = g
        where = np.full(self.input.shape, -1, dtype=np.int64)
        where[self.key] = np.arange(g.size, dtype=np.int64).reshape(g.shape)
        out_shape = g.shape

        def explain(index):
            flat = int(where[index])
            label = grad_name("dx", index)
            if flat < 0:
                return [], f"{index_name('x', index)} was not picked: {label} = {_number(0.0)}", None
            value = float(dx[index])
            return [value], (f"{index_name('x', index)} was picked: {label} = "
                             f"{grad_name('dout', cell_of(out_shape, flat))} = {_number(value)}"), None

        section = Section("input", "dx", "dL/dx (dout where x was picked, 0 elsewhere)", dx, explain)
        return BackwardTrace(self, g, [section], {"input": dx})
