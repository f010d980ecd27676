"""``torch.cat``: tensors joined along an axis (the branches of an inception block); its frames and its backward."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerviz.backward import BackwardTrace, HasBackward, copy_section
from layerviz.graph.ops.base import Op, OpFrame, simple_scene, tensor_arg
from layerviz.scene import Scene
from layerviz.trace import Trace


class Cat(Op):
    """``torch.cat(tensors, dim)``: tensors joined along ``dim`` (the branches of an inception block).

    Frames: one per tensor, copied unchanged into its block of the output. Backward: each tensor gets its
    block of the output's gradient.
    """

    def __init__(self, dim: int = 0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise ValueError(f"dim must be an integer, got {dim!r}")
        self.dim = int(dim)

    def frames(self, *tensors: Any) -> CatTrace:
        """One frame per tensor joined."""
        return CatTrace(self, tensors)

    def __repr__(self) -> str:
        return f"Cat(dim={self.dim})"


class CatTrace(HasBackward, Trace):
    """The frames of ``torch.cat``: one per tensor joined.

    Attributes
    ----------
    tensors : tuple of ndarray
    input : ndarray
        The first tensor.
    axis : int
    bounds : ndarray of int
        Where each tensor's block starts along ``axis``, and the end.
    output : ndarray
    """

    def __init__(self, layer: Cat, tensors: Sequence[Any]) -> None:
        self.layer = layer
        if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
            tensors = tensors[0]
        if not tensors:
            raise ValueError("torch.cat needs at least one tensor")
        self.tensors = tuple(tensor_arg(f"tensor {j}", t) for j, t in enumerate(tensors))
        self.axis = _check_joinable(self.tensors, layer.dim)
        self.input = self.tensors[0]
        self.output = np.concatenate(self.tensors, axis=self.axis)
        self.bounds = np.concatenate([[0], np.cumsum([t.shape[self.axis] for t in self.tensors])]).astype(np.int64)
        self.n_frames = len(self.tensors)
        for array in (*self.tensors, self.output):
            array.flags.writeable = False

    def _block(self, j: int) -> str:
        parts = [":"] * self.output.ndim
        parts[self.axis] = f"{self.bounds[j]}:{self.bounds[j + 1]}"
        return f"out[{','.join(parts)}]"

    def _frame(self, k: int) -> OpFrame:
        t = self.tensors[k]
        narration = (f"{self._block(k)} = tensor {k} of shape {t.shape}: its {t.size} numbers copied unchanged "
                     f"(torch.cat along dim {self.axis}: {' + '.join(str(x.shape[self.axis]) for x in self.tensors)} "
                     f"= {self.output.shape[self.axis]})")
        return OpFrame(k, (), t.ravel(), t, narration)

    def scene(self) -> Scene:
        index = np.zeros(self.output.shape[self.axis], dtype=np.int64)
        for j in range(len(self.tensors)):
            index[self.bounds[j] : self.bounds[j + 1]] = j
        shape = [1] * self.output.ndim
        shape[self.axis] = -1
        reveal = np.broadcast_to(index.reshape(shape), self.output.shape)
        inputs = [(f"t{j}", f"tensor {j}", t) for j, t in enumerate(self.tensors)]
        return simple_scene(self, inputs, f"cat(dim={self.axis})", reveal=reveal)

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        sections, grads = [], {}
        for j in range(len(self.tensors)):
            lo = int(self.bounds[j])
            block = [slice(None)] * g.ndim
            block[self.axis] = slice(lo, int(self.bounds[j + 1]))
            values = np.ascontiguousarray(g[tuple(block)])
            key = "input" if j == 0 else f"input{j}"
            axis = self.axis

            def source(index, lo=lo, axis=axis):
                index = list(index)
                index[axis] += lo
                return tuple(index)

            sections.append(copy_section(key, f"dx{j}", f"dL/d(tensor {j}): its block of dout", values, "dout", source,
                                         f"torch.cat copied tensor {j} into this block"))
            grads[key] = values
        return BackwardTrace(self, g, sections, grads)


def _check_joinable(tensors: tuple[np.ndarray, ...], dim: int) -> int:
    """The axis ``dim`` names for ``tensors`` of one shape but along it; ValueError as torch's otherwise."""
    ndim = tensors[0].ndim
    if not -ndim <= dim < ndim:
        raise ValueError(f"dim must be in [{-ndim}, {ndim - 1}] for tensors of {ndim} dimensions, got {dim}")
    axis = dim % ndim
    first = tensors[0].shape[:axis] + tensors[0].shape[axis + 1 :]
    for j, t in enumerate(tensors):
        if t.ndim != ndim or t.shape[:axis] + t.shape[axis + 1 :] != first:
            raise ValueError(f"torch.cat needs tensors of one shape except along dim {dim}: tensor 0 has "
                             f"shape {tensors[0].shape}, tensor {j} shape {t.shape}")
    return axis
