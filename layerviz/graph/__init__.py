"""Graph: a model's layers wired as its ``forward`` wires them: branches, residual connections, shared layers.

A :class:`Graph` is a list of :class:`Node` in topological order (every node after the nodes it reads).
A node is one of:

- ``input``: an argument of the forward (``x``);
- ``layer``: a layer applied to earlier nodes' outputs: a layerviz layer converted from a ``torch.nn`` module
  (``conv1 = self.conv1(x)``; its ``module`` is the module's name in the model, the prefix of its parameters
  in torch's ``state_dict``), a layer standing for a function (``F.relu`` is a :class:`~layerviz.ReLU`,
  ``torch.flatten`` a :class:`~layerviz.Flatten`), or a graph operation (:mod:`layerviz.graph.ops`):
  :class:`Add` (``+``, a residual connection), :class:`Cat` (``torch.cat``), :class:`Reshape` (``x.view``,
  ``x.reshape``, ``x.squeeze``, ``x.unsqueeze``), :class:`Permute`, :class:`Mean`, :class:`LogSoftmax`,
  :class:`Index` (``x[:, -1]``). Every one has frames and a backward pass;
- ``value``: a number about a tensor's shape (``x.size(0)``, ``len(x)``, ``x.shape[1]``), computed at run
  time, no frames;
- ``item``: an item of a layer's tuple output (an LSTM's ``(output, (h_n, c_n))``), or the tensor itself
  (``x.contiguous()``), no frames.

:func:`layerviz.from_torch` builds a Graph from any ``torch.nn.Module`` (see there).

Frames: each ``layer`` node's own frames, node after node in topological order, each captioned with the node's
line of the forward (``[3/11] pool = self.pool(relu): out[0,0,0,0] = max(…) = 0.52``). ``trace[k]`` finds the
node by bisection over the cumulative frame counts and asks that node's trace (built once): O(log nodes).

Backward (``trace.backward(grad_output)``): the chain rule in reverse topological order. Each node's backward
runs on the gradient of its output; a node whose output feeds several paths (the input of a residual block:
the block's layers, and the shortcut) gets the *sum* of the paths' gradients, shown as frames of its own
(``dx[0,1,2,3] = d_path1 + d_path2 = 0.10 + (-0.05) = 0.05``) before its own backward. Parameter gradients
are keyed by torch's names (``"layer1.0.conv1.weight"``), a layer used twice summing the gradients of its uses.

The modules, bottom up: :mod:`~layerviz.graph.nodes` (:class:`Node`, :class:`Ref`, :class:`Item`, what a node's
arguments read), :mod:`~layerviz.graph.ops` (the graph operations), :mod:`~layerviz.graph.state` (parameters and
buffers under torch's keys), :mod:`~layerviz.graph.flow_scene` (the flow drawn by both traces),
:mod:`~layerviz.graph.path_sum` and :mod:`~layerviz.graph.backward` (the backward pass),
:mod:`~layerviz.graph.trace` (the forward trace), :mod:`~layerviz.graph.model` (the :class:`Graph` module).
"""

from __future__ import annotations

from layerviz.graph.backward import GraphBackwardTrace, GraphGradFrame
from layerviz.graph.model import Graph
from layerviz.graph.nodes import Item, Node, Ref, refs
from layerviz.graph.ops import OPS, Add, Cat, Index, LogSoftmax, Mean, OpFrame, Permute, Reshape
from layerviz.graph.state import LoadResult
from layerviz.graph.trace import GraphFrame, GraphTrace

__all__ = ["Graph", "GraphTrace", "GraphFrame", "GraphBackwardTrace", "GraphGradFrame", "Node", "Ref", "Item",
           "LoadResult", "Add", "Cat", "Reshape", "Permute", "Index", "Mean", "LogSoftmax", "OpFrame", "OPS", "refs"]
