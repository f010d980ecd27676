"""What every graph operation shares: the :class:`Op` base class, the :class:`OpFrame` record, the checks of its
arguments, the scene of an operation's inputs and output, and the one-frame trace of an operation that moves
numbers without changing any (:class:`MovedTrace`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from layerviz import _checks
from layerviz._format import Ask
from layerviz.backward import HasBackward
from layerviz.layers._module import Module
from layerviz.layers.activation import check_x
from layerviz.scene import Highlight, Scene
from layerviz.tensor_grid import grid_cells, sample_of, tensor_grid
from layerviz.trace import LazyCaptions, Trace


class Op(Module):
    """A graph operation: callable on its arguments, with ``frames(*args)``."""

    def frames(self, *args: Any) -> Trace:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, *args: Any) -> Any:
        return self.frames(*args).output

    def __call__(self, *args: Any) -> Any:
        return self.forward(*args)


@dataclass(frozen=True, eq=False)
class OpFrame:
    """One step of a graph operation.

    Attributes
    ----------
    index : int
    cell : tuple
        The output element computed (``()`` for a frame about the whole tensor).
    operands : ndarray
        The numbers it reads.
    result : float or ndarray
    narration : str
    question : Ask or None
    """

    index: int
    cell: tuple
    operands: np.ndarray
    result: Any
    narration: str
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"OpFrame({self.index}: {self.narration})"


def tensor_arg(name: str, value: Any) -> np.ndarray:
    """A tensor argument as a finite float64 array (not empty); ValueError naming it ``name``."""
    try:
        return check_x(value)
    except ValueError as error:
        raise ValueError(str(error).replace("x ", f"{name} ", 1)) from error


def shape_arg(name: str, value: Any) -> int:
    """A size or an axis (a number computed at run time included) as an int; ValueError naming it ``name``."""
    value = _checks.plain(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be integers, got {value!r}")
    return int(value)


def cell_of(shape: tuple, k: int) -> tuple[int, ...]:
    """The index of element ``k`` (row-major) of an array of ``shape``; ``()`` for a number."""
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def simple_scene(trace: Trace, inputs: list[tuple[str, str, np.ndarray]], output_title: str, *,
                 reveal: np.ndarray | None = None, elementwise: bool = False) -> Scene:
    """Input panels (``(name, title, values)``), then the output (filling up as ``reveal`` says, shaped like the
    output; whole at frame 0 without it); an element-wise operation outlines the element computed in every panel."""
    out = np.asarray(trace.output, dtype=np.float64)
    n = len(trace)
    page = None
    if elementwise:
        page = sample_of(out.shape, np.arange(n))
    panels = [tensor_grid(name, title, np.asarray(values, dtype=np.float64), "x", page=page if values.shape == out.shape
                          else None) for name, title, values in inputs]
    panels.append(tensor_grid("output", output_title, out, "out", reveal=reveal, page=page, op="→"))
    highlights = []
    if elementwise:
        origin = grid_cells(out.shape, np.arange(n))
        one = np.zeros((1, 3), dtype=np.int32)
        for name, _, values in inputs:
            if values.shape == out.shape:
                highlights.append(Highlight(name, origin, one, "window", "input value"))
        highlights.append(Highlight("output", origin, one, "output", "output written"))
    arrays = [out] + [np.asarray(v, dtype=np.float64) for _, _, v in inputs]
    vmax = max(float(np.abs(a).max(initial=0.0)) for a in arrays) or 1.0
    return Scene(repr(trace.layer), n, tuple(panels), tuple(highlights), LazyCaptions(trace), vmax)


class MovedTrace(HasBackward, Trace):
    """The one frame of an operation that moves the input's numbers and changes none (a reshape, a permutation,
    an index).

    A subclass computes the output from ``self.input`` (:meth:`_moved`, which may store what it decided, as the
    order of the axes), and says the move (:meth:`_narration`) and the output panel's title (:meth:`_title`).

    Attributes
    ----------
    input, output : ndarray
        Read-only.
    """

    n_frames = 1

    def __init__(self, layer: Op, x: Any) -> None:
        self.layer = layer
        self.input = tensor_arg("x", x).copy()
        self.output = self._moved()
        for array in (self.input, self.output):
            array.flags.writeable = False

    def _moved(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _narration(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _title(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _frame(self, k: int) -> OpFrame:
        return OpFrame(k, (), self.input.ravel(), self.output, self._narration())

    def scene(self) -> Scene:
        return simple_scene(self, [("input", "input", self.input)], self._title())
