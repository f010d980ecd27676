"""The graph operations: what a model's forward does to tensors besides calling its layers.

One module per operation family, each with the operation (callable, with ``frames(*args)``), its trace (frames
and ``scene()``) and its backward (``trace.backward(g)``):

- :mod:`~layerviz.graph.ops.add`: :class:`Add` (``+``, a residual connection);
- :mod:`~layerviz.graph.ops.cat`: :class:`Cat` (``torch.cat``);
- :mod:`~layerviz.graph.ops.reshape`: :class:`Reshape` (``x.view``, ``x.reshape``, ``x.squeeze``,
  ``x.unsqueeze``) and :class:`Permute` (``x.permute``, ``x.transpose``);
- :mod:`~layerviz.graph.ops.index`: :class:`Index` (``x[:, -1]``);
- :mod:`~layerviz.graph.ops.mean`: :class:`Mean` (``x.mean(dim)``);
- :mod:`~layerviz.graph.ops.log_softmax`: :class:`LogSoftmax` (``F.log_softmax``);

and :mod:`~layerviz.graph.ops.base`, what they share (:class:`Op`, :class:`OpFrame`, the one-frame trace of a
move, :class:`~layerviz.graph.ops.base.MovedTrace`).
"""

from __future__ import annotations

from layerviz.graph.ops.add import Add
from layerviz.graph.ops.base import Op, OpFrame
from layerviz.graph.ops.cat import Cat
from layerviz.graph.ops.index import Index
from layerviz.graph.ops.log_softmax import LogSoftmax
from layerviz.graph.ops.mean import Mean
from layerviz.graph.ops.reshape import Permute, Reshape

#: The graph operations, by name.
OPS = {cls.__name__: cls for cls in (Add, Cat, Reshape, Permute, Index, Mean, LogSoftmax)}

__all__ = ["OPS", "Add", "Cat", "Index", "LogSoftmax", "Mean", "Op", "OpFrame", "Permute", "Reshape"]
