"""The same numbers in another shape (``x.view``, ``x.reshape``, ``x.squeeze``, ``x.unsqueeze``) or with the axes
reordered (``x.permute``, ``x.transpose``): one frame each, no number changes; the backward moves the gradient
back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerviz.backward import BackwardTrace, copy_section
from layerviz.graph.ops.base import MovedTrace, Op, cell_of, shape_arg


class Reshape(Op):
    """The same numbers in another shape: ``x.view(*shape)``, ``x.reshape(*shape)``, ``x.squeeze(dim)``,
    ``x.unsqueeze(dim)``, as torch computes the new shape (one ``-1`` is inferred).

    The shape may come at run time (``x.view(x.size(0), -1)``, ``x.view(len(x), 1, -1)``): :meth:`frames`
    takes the tensor, then the arguments after it. One frame: no number changes, only the shape.
    """

    HOWS = ("view", "reshape", "squeeze", "unsqueeze")

    def __init__(self, how: str = "reshape") -> None:
        if how not in self.HOWS:
            raise ValueError(f"how must be one of {list(self.HOWS)}, got {how!r}")
        self.how = how

    def output_shape(self, shape: tuple[int, ...], *args: Any) -> tuple[int, ...]:
        """The new shape for an input of ``shape`` and the call's arguments; ValueError as torch's."""
        if self.how in ("view", "reshape"):
            return _viewed_shape(shape, args)
        if self.how == "squeeze":
            return _squeezed_shape(shape, args[0] if args else None)
        if len(args) != 1:
            raise ValueError(f"unsqueeze takes one dim, got {len(args)} arguments")
        return _unsqueezed_shape(shape, shape_arg("dim", args[0]))

    def frames(self, x: Any, *args: Any) -> ReshapeTrace:
        """One frame: ``x`` in its new shape."""
        return ReshapeTrace(self, x, args)

    def __repr__(self) -> str:
        return f"Reshape({self.how!r})"


def _viewed_shape(shape: tuple[int, ...], args: tuple) -> tuple[int, ...]:
    """``x.view(*args)``'s shape for ``x`` of ``shape``: the sizes given, one ``-1`` inferred."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    dims = [shape_arg("shape", a) for a in args]
    size = int(np.prod(shape, dtype=np.int64))
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise ValueError(f"shape {tuple(dims)} is invalid: at most one -1, no other negative size")
    known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
    if -1 in dims:
        if known == 0 or size % known:
            raise ValueError(f"shape {tuple(dims)} is invalid for input of size {size}")
        dims[dims.index(-1)] = size // known
    if int(np.prod(dims, dtype=np.int64)) != size:
        raise ValueError(f"shape {tuple(dims)} is invalid for input of size {size} (shape {shape})")
    return tuple(dims)


def _squeezed_shape(shape: tuple[int, ...], dim: Any) -> tuple[int, ...]:
    """``x.squeeze(dim)``'s shape: the axes of size 1 among ``dim`` (an int, a tuple, or None: all) dropped."""
    if dim is None:
        return tuple(d for d in shape if d != 1)
    ndim = len(shape)
    dims = {(shape_arg("dim", d) % max(ndim, 1)) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
    return tuple(d for i, d in enumerate(shape) if not (i in dims and d == 1))


def _unsqueezed_shape(shape: tuple[int, ...], dim: int) -> tuple[int, ...]:
    """``x.unsqueeze(dim)``'s shape: an axis of size 1 inserted at ``dim``."""
    ndim = len(shape)
    if not -ndim - 1 <= dim <= ndim:
        raise ValueError(f"dim must be in [{-ndim - 1}, {ndim}] for x of {ndim} dimensions, got {dim}")
    dim %= ndim + 1
    return shape[:dim] + (1,) + shape[dim:]


class ReshapeTrace(MovedTrace):
    """One frame: the input's numbers read row by row into the new shape (``args``: the call's, after ``x``)."""

    def __init__(self, layer: Reshape, x: Any, args: tuple) -> None:
        self.args = args
        super().__init__(layer, x)

    def _moved(self) -> np.ndarray:
        return self.input.reshape(self.layer.output_shape(self.input.shape, *self.args)).copy()

    def _narration(self) -> str:
        return (f"{self.layer.how}: {self.input.shape} → {self.output.shape} (the same {self.input.size} numbers, "
                "read row by row; no number changes)")

    def _title(self) -> str:
        return f"{self.layer.how} {self.output.shape}"

    def element_frames(self) -> np.ndarray:
        return np.zeros(self.output.shape, dtype=np.int64)

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        dx = g.reshape(self.input.shape)
        in_shape, out_shape = self.input.shape, self.output.shape

        def source(index):
            return cell_of(out_shape, int(np.ravel_multi_index(index, in_shape)) if in_shape else 0)

        section = copy_section("input", "dx", f"dL/dx (dout in the input's shape {in_shape})", dx, "dout", source,
                               f"{self.layer.how} moved this number unchanged")
        return BackwardTrace(self, g, [section], {"input": dx})


class Permute(Op):
    """Axes reordered: ``x.permute(*dims)``, or two axes swapped: ``x.transpose(dim0, dim1)``.

    One frame (numbers move, none changes); backward: the gradient moved back.
    """

    def __init__(self, dims: Sequence[int] | None = None, *, swap: tuple[int, int] | None = None) -> None:
        if (dims is None) == (swap is None):
            raise ValueError("give either dims (permute) or swap (transpose)")
        self.dims = None if dims is None else tuple(shape_arg("dims", d) for d in dims)
        self.swap = None if swap is None else tuple(shape_arg("dim", d) for d in swap)

    def order(self, ndim: int) -> tuple[int, ...]:
        """The permutation for an input of ``ndim`` dimensions."""
        def axis(d):
            if not -ndim <= d < ndim:
                raise ValueError(f"dim must be in [{-ndim}, {ndim - 1}] for x of {ndim} dimensions, got {d}")
            return d % ndim

        if self.swap is not None:
            order = list(range(ndim))
            i, j = axis(self.swap[0]), axis(self.swap[1])
            order[i], order[j] = order[j], order[i]
            return tuple(order)
        if len(self.dims) != ndim:
            raise ValueError(f"permute needs {ndim} dims for x of {ndim} dimensions, got {self.dims}")
        order = tuple(axis(d) for d in self.dims)
        if sorted(order) != list(range(ndim)):
            raise ValueError(f"permute dims must name each axis once, got {self.dims}")
        return order

    def frames(self, x: Any) -> PermuteTrace:
        return PermuteTrace(self, x)

    def __repr__(self) -> str:
        return f"Permute(dims={self.dims})" if self.swap is None else f"Permute(swap={self.swap})"


class PermuteTrace(MovedTrace):
    """One frame: ``out[i0, i1, …] = x[…]`` with the axes reordered (``order``: the permutation)."""

    def _moved(self) -> np.ndarray:
        self.order = self.layer.order(self.input.ndim)
        return np.ascontiguousarray(self.input.transpose(self.order))

    def _narration(self) -> str:
        letters = "ijklmnopqrs"[: self.input.ndim]
        out = ",".join(letters[d] for d in self.order)
        return (f"permute{self.order}: {self.input.shape} → {self.output.shape}: "
                f"out[{out}] = x[{','.join(letters)}] (the numbers move, none changes)")

    def _title(self) -> str:
        return f"permuted {self.output.shape}"

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        inverse = tuple(int(i) for i in np.argsort(self.order))
        dx = np.ascontiguousarray(g.transpose(inverse))
        order = self.order

        def source(index):
            return tuple(index[d] for d in order)

        section = copy_section("input", "dx", "dL/dx (dout with the axes put back)", dx, "dout", source,
                               "permute moved this number unchanged")
        return BackwardTrace(self, g, [section], {"input": dx})
