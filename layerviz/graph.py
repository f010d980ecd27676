"""Graph: a model's layers wired as its ``forward`` wires them: branches, residual connections, shared layers.

A :class:`Graph` is a list of :class:`Node` in topological order (every node after the nodes it reads).
A node is one of:

- ``input``: an argument of the forward (``x``);
- ``layer``: a layer applied to earlier nodes' outputs: a layerviz layer converted from a ``torch.nn`` module
  (``conv1 = self.conv1(x)``; its ``module`` is the module's name in the model, the prefix of its parameters
  in torch's ``state_dict``), a layer standing for a function (``F.relu`` is a :class:`~layerviz.ReLU`,
  ``torch.flatten`` a :class:`~layerviz.Flatten`), or a graph operation of this module: :class:`Add`
  (``+``, a residual connection), :class:`Cat` (``torch.cat``), :class:`Reshape` (``x.view``,
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
"""

from __future__ import annotations

import bisect
import dataclasses
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten
from layerviz.backward import (
    KEEP_TERMS,
    BackwardTrace,
    HasBackward,
    Section,
    check_grad_output,
    copy_section,
)
from layerviz.backward import name as grad_name
from layerviz.layers._module import Module
from layerviz.layers.activation import _softmax_dim, check_x
from layerviz.tensor_grid import OFF_GRID, grid_cells, index_name, sample_of, tensor_grid
from layerviz.scene import Grid, Highlight, Scene, picture_cmap
from layerviz.trace import LazyCaptions, Trace

#: The kinds of node (see the module docstring).
NODE_KINDS = ("input", "layer", "value", "item")

#: Entries listed in a row narration (log-softmax) before "…".
_KEEP = 4


# -- nodes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """An argument of a node that is the output of the node called ``name``."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=False)
class Node:
    """One step of a :class:`Graph`.

    Parameters
    ----------
    name : str
        Unique in the graph; what later nodes' :class:`Ref` arguments name.
    kind : {'input', 'layer', 'value', 'item'}
        See the module docstring.
    op : object
        ``layer``: a layer (callable on ``args``, with ``frames(*args)``); ``value``: a function of ``args``;
        ``item``: an :class:`Item`; ``input``: None.
    args : tuple
        The arguments: :class:`Ref` to earlier nodes and constants (tuples and lists of them too).
    grad_args : tuple of int
        ``layer``: the positions in ``args`` of the tensors its backward gives gradients to, in the order its
        backward names them (``"input"``, ``"input1"``, …).
    module : str
        ``layer`` converted from a module: its name in the model (``"layer1.0.conv1"``); ``""`` otherwise.
    code : str
        The step as the forward wrote it (``"conv1 = self.conv1(x)"``).
    line : str
        Where the forward does it (``"model.py, line 14, in forward (`x = self.pool(F.relu(self.conv1(x)))`)"``).
    """

    name: str
    kind: str
    op: Any = None
    args: tuple = ()
    grad_args: tuple[int, ...] = ()
    module: str = ""
    code: str = ""
    line: str = ""

    def __post_init__(self) -> None:
        if self.kind not in NODE_KINDS:
            raise ValueError(f"Node kind must be one of {list(NODE_KINDS)}, got {self.kind!r}")
        if not self.code:
            call = f"self.{self.module}" if self.module else type(self.op).__name__ if self.op is not None else "input"
            object.__setattr__(self, "code", f"{self.name} = {call}({', '.join(_code(a) for a in self.args)})"
                               if self.kind != "input" else f"{self.name}: input")

    def __repr__(self) -> str:
        return f"Node({self.code})"


def _code(arg: Any) -> str:
    if isinstance(arg, Ref):
        return arg.name
    if isinstance(arg, tuple):
        return "(" + ", ".join(_code(a) for a in arg) + ("," if len(arg) == 1 else "") + ")"
    if isinstance(arg, list):
        return "[" + ", ".join(_code(a) for a in arg) + "]"
    return repr(arg)


def refs(arg: Any) -> list[str]:
    """The names of the nodes an argument (possibly nested in tuples, lists and dicts) reads."""
    if isinstance(arg, Ref):
        return [arg.name]
    if isinstance(arg, (tuple, list)):
        return [name for a in arg for name in refs(a)]
    if isinstance(arg, Mapping):
        return [name for a in arg.values() for name in refs(a)]
    if isinstance(arg, slice):
        return refs((arg.start, arg.stop, arg.step))
    return []


def _resolve(arg: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(arg, Ref):
        return values[arg.name]
    if isinstance(arg, tuple):
        return tuple(_resolve(a, values) for a in arg)
    if isinstance(arg, list):
        return [_resolve(a, values) for a in arg]
    if isinstance(arg, Mapping):
        return {k: _resolve(a, values) for k, a in arg.items()}
    if isinstance(arg, slice):
        return slice(*(_resolve(a, values) for a in (arg.start, arg.stop, arg.step)))
    return arg


@dataclass(frozen=True)
class Item:
    """The op of an ``item`` node: item ``index`` of a tuple (an LSTM's output, ``(h_n, c_n)``), or, with
    ``index=None``, the tensor itself (``x.contiguous()``, ``x.float()``: layerviz computes in float64)."""

    index: int | None = None

    def __call__(self, value: Any) -> Any:
        if self.index is None:
            return value
        if not isinstance(value, tuple):
            raise ValueError(f"[{self.index}] needs a tuple (a layer's tuple output), got {type(value).__name__}")
        return value[self.index]


class LoadResult(NamedTuple):
    """What :meth:`Graph.load_state_dict` returns, as torch's: the keys it missed and the keys it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _layer_state(layer: Any) -> list[tuple[str, Any, bool]]:
    """``(name, value, is_parameter)`` of a layer's parameters then buffers, in torch's order."""
    if callable(getattr(layer, "named_parameters", None)):
        params = [(name, value) for name, value in layer.named_parameters()]
    else:
        params = [(name, getattr(layer, name, None)) for name in ("weight", "bias")]
        params = [(name, value) for name, value in params if isinstance(value, np.ndarray)]
    buffers = [(name, getattr(layer, name, None)) for name in ("running_mean", "running_var", "num_batches_tracked")]
    return [(n, v, True) for n, v in params] + [(n, v, False) for n, v in buffers if v is not None]


# -- the graph ----------------------------------------------------------------------------------------


class Graph(Module):
    """Layers wired as a model's ``forward`` wires them, in topological order.

    Usually built by :func:`layerviz.from_torch` from a ``torch.nn.Module``; see the module docstring for
    the nodes.

    Parameters
    ----------
    nodes : sequence of Node
        In topological order: each node reads only nodes before it.
    output : Ref or tuple of Ref
        What :meth:`forward` returns.
    parameter_order : sequence of str, optional
        torch's ``state_dict`` keys in torch's order: :meth:`named_parameters` and :meth:`state_dict` follow it
        (default: node order).

    Attributes
    ----------
    nodes : tuple of Node
    inputs : tuple of str
        The input nodes, in the forward's argument order.
    shapes : dict of str to tuple
        Each node's output shape on the ``example_input`` given to :func:`~layerviz.from_torch` (empty without one).

    Examples
    --------
    >>> import layerviz as lv, torch.nn as nn, torch.nn.functional as F
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(4, 3)
    ...     def forward(self, x):
    ...         return F.relu(self.fc(x)) + x[:, :3]
    >>> graph = lv.from_torch(Net())
    >>> trace = graph.frames(np.ones((2, 4)))
    >>> trace.backward().grads["fc.weight"].shape
    (3, 4)
    """

    def __init__(self, nodes: Sequence[Node], output: Any, *, parameter_order: Sequence[str] = ()) -> None:
        nodes = tuple(nodes)
        seen: set[str] = set()
        for i, node in enumerate(nodes):
            if not isinstance(node, Node):
                raise ValueError(f"nodes[{i}] must be a Node, got {type(node).__name__}")
            if node.name in seen:
                raise ValueError(f"node names must be unique, got {node.name!r} twice")
            for name in refs(node.args):
                if name not in seen:
                    raise ValueError(f"node {node.name!r} reads {name!r}, which is not a node before it: nodes must "
                                     "be in topological order")
            if node.kind == "layer" and not (callable(node.op) and callable(getattr(node.op, "frames", None))):
                raise ValueError(f"node {node.name!r}: a layer node's op must be a layer (callable, with frames()), "
                                 f"got {node.op!r}")
            seen.add(node.name)
        if not any(node.kind == "input" for node in nodes):
            raise ValueError("a Graph needs at least one input node")
        missing = [name for name in refs(output) if name not in seen]
        if missing or not refs(output):
            raise ValueError(f"output must name nodes of the graph, got {output!r}")
        self.nodes = nodes
        self.output = output
        self.inputs = tuple(node.name for node in nodes if node.kind == "input")
        self._by_name = {node.name: node for node in nodes}
        self._order = tuple(parameter_order)
        self.shapes: dict[str, Any] = {}
        self.training = True

    # -- structure ----------------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no node {name!r} in the graph; nodes: {', '.join(self._by_name)}") from None

    def layers(self) -> dict[str, Any]:
        """``{module name: layer}`` of the layers converted from modules, in node order (each once)."""
        found: dict[str, Any] = {}
        for node in self.nodes:
            if node.kind == "layer" and node.module and node.module not in found:
                found[node.module] = node.op
        return found

    def _children(self) -> tuple:
        # the modules' layers: a function's layer (F.dropout(x, p, training=False)) keeps the mode it was called with
        return tuple(self.layers().values())

    def users(self, name: str) -> list[str]:
        """The nodes that read node ``name`` (in order; a node reading it twice is listed twice)."""
        return [node.name for node in self.nodes for r in refs(node.args) if r == name]

    # -- parameters -----------------------------------------------------------------------------------

    def _entries(self) -> list[tuple[str, Any, str, bool]]:
        """``(torch key, layer, attribute, is_parameter)`` of every parameter and buffer, in torch's order."""
        entries = [(f"{module}.{attr}", layer, attr, is_param)
                   for module, layer in self.layers().items() for attr, _, is_param in _layer_state(layer)]
        rank = {key: i for i, key in enumerate(self._order)}
        return sorted(entries, key=lambda e: rank.get(e[0], len(rank)))

    def named_parameters(self) -> list[tuple[str, np.ndarray]]:
        """``[(name, array), ...]``, the names torch's ``named_parameters()`` and ``state_dict()`` give
        (``"conv1.weight"``, ``"layer1.0.bn1.bias"``), in torch's order. The arrays are the layers' own."""
        return [(key, getattr(layer, attr)) for key, layer, attr, is_param in self._entries() if is_param]

    def parameters(self) -> list[np.ndarray]:
        """The arrays of :meth:`named_parameters`."""
        return [value for _, value in self.named_parameters()]

    def state_dict(self) -> dict[str, Any]:
        """Parameters and buffers (batch norm's running statistics) under torch's ``state_dict`` keys: copies."""
        out: dict[str, Any] = {}
        for key, layer, attr, _ in self._entries():
            value = getattr(layer, attr)
            out[key] = value.copy() if isinstance(value, np.ndarray) else value
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy parameters and buffers from ``state_dict`` (a torch model's ``state_dict()``: tensors are read
        as float64 copies), as torch's ``load_state_dict``.

        With ``strict`` (the default) a missing or unexpected key raises ValueError naming them; a value of the wrong
        shape raises ValueError naming its key; either way nothing is loaded. Returns the missing and unexpected keys.
        """
        if not isinstance(state_dict, Mapping):
            raise ValueError(f"state_dict must be a mapping of names to arrays, got {type(state_dict).__name__}")
        entries = {key: (layer, attr) for key, layer, attr, _ in self._entries()}
        missing = [key for key in entries if key not in state_dict]
        unexpected = [key for key in state_dict if key not in entries]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"Missing key(s) in state_dict: {', '.join(repr(k) for k in missing)}")
            if unexpected:
                parts.append(f"Unexpected key(s) in state_dict: {', '.join(repr(k) for k in unexpected)}")
            raise ValueError("Error(s) in loading state_dict for Graph: " + ". ".join(parts))
        values = {}
        for key, (layer, attr) in entries.items():  # every value checked before any is loaded
            if key not in state_dict:
                continue
            value = _checks.plain(state_dict[key])
            current = getattr(layer, attr)
            if attr == "num_batches_tracked":
                values[key] = int(np.asarray(value))
                continue
            try:
                array = np.array(value, dtype=np.float64)
            except (TypeError, ValueError) as error:
                raise ValueError(f"state_dict[{key!r}] must be an array of numbers: {error}") from error
            if array.shape != np.shape(current):
                raise ValueError(f"state_dict[{key!r}]: {attr} must have shape {np.shape(current)}, got shape "
                                 f"{array.shape} (size mismatch, as torch says)")
            values[key] = array
        for key, value in values.items():
            layer, attr = entries[key]
            try:
                setattr(layer, attr, value)
            except ValueError as error:
                raise ValueError(f"state_dict[{key!r}]: {error}") from error
        return LoadResult(missing, unexpected)

    # -- running ------------------------------------------------------------------------------------

    def _inputs(self, xs: tuple) -> list[np.ndarray]:
        if len(xs) != len(self.inputs):
            raise ValueError(f"the graph takes {len(self.inputs)} input(s) ({', '.join(self.inputs)}), got {len(xs)}")
        out = []
        for name, x in zip(self.inputs, xs):
            value = _checks.plain(x)
            array = np.asarray(value) if not isinstance(value, np.ndarray) else value
            if array.dtype.kind in "fb" or array.dtype.kind == "O":
                array = check_x(array)  # numbers as float64, finite
            elif array.dtype.kind not in "iu":
                raise ValueError(f"input {name} must be an array of numbers, got dtype {array.dtype}")
            array = array.copy()
            array.flags.writeable = False
            out.append(array)
        return out

    def _run(self, xs: tuple, traces: dict | None) -> dict[str, Any]:
        """Every node's output; with ``traces`` (a dict), each layer node's trace is built and stored there."""
        values: dict[str, Any] = {}
        inputs = iter(self._inputs(xs))
        for node in self.nodes:
            if node.kind == "input":
                values[node.name] = next(inputs)
                continue
            args = _resolve(node.args, values)
            try:
                if node.kind == "layer" and traces is not None:
                    trace = node.op.frames(*args)
                    traces[node.name] = trace
                    values[node.name] = _trace_value(node.op, trace)
                else:
                    values[node.name] = node.op(*args)
            except ValueError as error:
                raise ValueError(f"node {node.name} ({_where(node)}): {error}") from error
        return values

    def forward(self, *xs: ArrayLike) -> Any:
        """The model's output for the inputs ``xs`` (one per input node; a torch tensor is read as a copy).

        Batch norm layers in training mode update their running statistics, as torch's do.
        """
        return _resolve(self.output, self._run(xs, None))

    __call__ = forward

    def frames(self, *xs: ArrayLike) -> GraphTrace:
        """Every layer node's frames, node after node in topological order (see :class:`GraphTrace`)."""
        return GraphTrace(self, *xs)

    # -- text -----------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        lines = []
        for node in self.nodes:
            line = f"  {node.code}"
            if node.kind == "layer":
                line += f"    # {node.op!r}"
            lines.append(line)
        lines.append(f"  return {_code(self.output)}")
        return "Graph(\n" + "\n".join(lines) + "\n)"

    def short_repr(self) -> str:
        """``Graph: Conv2d → ReLU → MaxPool2d → … (11 layer nodes)``."""
        kinds = [type(node.op).__name__ for node in self.nodes if node.kind == "layer"]
        shown = " → ".join(_shorten(kinds, 8, lambda t: t))
        return f"Graph: {shown} ({_count(len(kinds), 'layer node')})"

    def _tuple_output(self) -> tuple[str, str] | None:
        return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _trace_value(layer: Any, trace: Trace) -> Any:
    """What the layer's forward returns, from its trace: a recurrent layer's ``(output, (h_n, c_n))``."""
    if hasattr(trace, "h_n"):
        return (trace.output, (trace.h_n, trace.c_n)) if getattr(trace, "c_n", None) is not None \
            else (trace.output, trace.h_n)
    if getattr(layer, "return_indices", False):
        return trace.output, trace.indices
    return trace.output


def _where(node: Node) -> str:
    """``conv1 = self.conv1(x), at model.py, line 14, in forward: …``: the node's code and its line."""
    return node.code + (f", at {node.line}" if node.line else "")


# -- the forward trace --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GraphFrame:
    """A frame of one layer node of a :class:`Graph`.

    Attributes
    ----------
    index : int
        Position in the whole trace.
    node : str
        The node's name.
    node_index : int
        Which of the trace's layer nodes (0-based, in topological order).
    layer : object
        The node's layer.
    inner : object
        The layer's own frame.
    narration : str
        ``[3/11] pool = self.pool(relu): `` then the inner frame's narration.
    """

    index: int
    node: str
    node_index: int
    layer: object
    inner: object
    narration: str

    @property
    def result(self):
        """The inner frame's result (None if it has none)."""
        return getattr(self.inner, "result", None)

    @property
    def question(self):
        """The inner frame's question, its prompt naming the node; or None."""
        asked = getattr(self.inner, "question", None)
        if asked is None:
            return None
        prefix = self.narration[: len(self.narration) - len(self.inner.narration)]
        return asked._replace(prompt=prefix + asked.prompt)

    def __repr__(self) -> str:
        return f"GraphFrame({self.index}: {self.narration})"


class GraphTrace(HasBackward, Trace):
    """The frames of a :class:`Graph`: each layer node's frames, in topological order.

    Attributes
    ----------
    input : ndarray
        The (first) input; ``inputs`` all of them.
    output : ndarray or tuple
        What the graph returns.
    values : mapping of str to object
        Every node's output (read-only arrays).
    traces : dict of str to Trace
        Each layer node's trace, in topological order (``trace.traces["conv1"].player()``: one node's player).
    names : tuple of str
        The layer nodes, in frame order.
    offsets : tuple of int
        Index of each layer node's first frame, and the total.
    """

    def __init__(self, graph: Graph, *xs: ArrayLike) -> None:
        self.layer = graph
        traces: dict[str, Trace] = {}
        values = graph._run(xs, traces)
        self.inputs = tuple(values[name] for name in graph.inputs)
        self.input = self.inputs[0]
        self.values = types.MappingProxyType(values)
        self.traces = traces
        self.names = tuple(traces)
        self.output = _resolve(graph.output, values)
        self.offsets = tuple(int(v) for v in np.concatenate([[0], np.cumsum([len(t) for t in traces.values()])]))
        self.n_frames = self.offsets[-1]
        n = len(self.names)
        self.prefixes = tuple(f"[{i + 1}/{n}] {graph.node(name).code}: " for i, name in enumerate(self.names))

    def node_of(self, k: int) -> str:
        """The name of the node frame ``k`` (non-negative) belongs to."""
        return self.names[bisect.bisect_right(self.offsets, k) - 1]

    def frame_range(self, name: str) -> range:
        """The frames of node ``name``."""
        i = self.names.index(name)
        return range(self.offsets[i], self.offsets[i + 1])

    def _frame(self, k: int) -> GraphFrame:
        i = bisect.bisect_right(self.offsets, k) - 1
        name = self.names[i]
        inner = self.traces[name][k - self.offsets[i]]
        return GraphFrame(k, name, i, self.layer.node(name).op, inner, self.prefixes[i] + inner.narration)

    def __repr__(self) -> str:
        return (f"<GraphTrace of {self.layer.short_repr()}: {self.n_frames} frames, "
                f"input {np.shape(self.input)} -> output {_shape(self.output)}>")

    def backward(self, grad_output: ArrayLike | None = None) -> GraphBackwardTrace:
        """The backward pass of this forward pass for ``grad_output`` (dL/d output, shaped like the output;
        ones if None), as frames: see :class:`GraphBackwardTrace`."""
        if not isinstance(self.output, np.ndarray):
            raise ValueError(f"backward needs a graph with one output array, got {_shape(self.output)}: return one "
                             "tensor from the forward")
        return self._backward(np.array(check_grad_output(grad_output, self.output.shape)))

    def _backward(self, g: np.ndarray) -> GraphBackwardTrace:
        return _graph_backward(self, g)

    def scene(self) -> Scene:
        """The flow: the input and every layer node's output, filling up as the nodes compute them."""
        parts = []
        for i, name in enumerate(self.names):
            node = self.layer.node(name)
            title = f"{name}: {type(node.op).__name__}"
            inner = self.traces[name]
            parts.append((name, title, inner, self.offsets[i], "output", np.asarray(inner.output)))
        first = []
        for name, x in zip(self.layer.inputs, self.inputs):
            values = np.asarray(x, dtype=np.float64)
            grid = tensor_grid(name, f"input {name}", values, "x")
            first.append(dataclasses.replace(grid, cmap=picture_cmap(self, values),
                                             vmax=float(np.abs(values).max(initial=0.0)) or 1.0))
        return _flow_scene(f"{self.layer.short_repr()}", self, parts, first)


def _shape(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_shape(v) for v in value)
    return tuple(np.shape(value))


def _extend(page: np.ndarray | None, start: int, total: int) -> np.ndarray | None:
    """A node's per-frame array placed at ``start`` of ``total`` frames, held at its ends outside."""
    if page is None or len(page) == 0:
        return None
    out = np.empty(total, dtype=np.int32)
    out[:start] = page[0]
    out[start : start + len(page)] = page
    out[start + len(page) :] = page[-1]
    return out


def _flow_scene(title: str, trace: Trace, parts: list, first: list[Grid]) -> Scene:
    """Panels ``first``, then one per part ``(name, title, inner trace, start, panel name, fallback values)``:
    the inner scene's panel of that name (its reveal and highlights moved to the part's frames), else the
    fallback values drawn whole from the part's first frame."""
    total = len(trace)
    panels, highlights = list(first), []
    for name, panel_title, inner, start, panel, fallback in parts:
        length = len(inner)
        grid, sub = None, None
        try:
            sub = inner.scene()
            grid = sub.panel(panel) if panel else None
        except (KeyError, ValueError, TypeError):
            grid = None
        if grid is None:
            values = np.asarray(fallback, dtype=np.float64)
            if values.size == 0:
                continue
            grid = tensor_grid(name, panel_title, values, "out")
            reveal = np.full(grid.values.shape, start, dtype=np.int32)
        else:
            reveal = (np.full(grid.values.shape, start, dtype=np.int32) if grid.reveal is None
                      else grid.reveal.astype(np.int32) + start)
        finite = np.abs(grid.values[np.isfinite(grid.values)])
        scale = float(finite.max(initial=0.0)) or 1.0
        panels.append(Grid(name, panel_title, grid.values, grid.labels, padding=grid.padding, reveal=reveal,
                           page_size=grid.page_size, page=_extend(grid.page, start, total), op="→", vmax=scale,
                           row_labels=grid.row_labels, col_labels=grid.col_labels))
        if sub is not None and panel:
            for h in sub.highlights:
                if h.panel != panel:
                    continue
                origin = np.zeros((total, 3), dtype=np.int32)
                origin[:, 1] = OFF_GRID
                origin[start : start + length] = h.origin
                highlights.append(Highlight(name, origin, h.stencil, h.role, h.label))
    vmax = max((float(np.abs(p.values[np.isfinite(p.values)]).max(initial=0.0)) for p in panels), default=1.0) or 1.0
    return Scene(title, total, tuple(panels), tuple(highlights), LazyCaptions(trace), vmax)


# -- the backward trace -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GraphGradFrame:
    """A frame of the backward of one node (or of a sum of paths' gradients).

    Attributes
    ----------
    index : int
    node : str
        The node whose backward (or whose paths' sum) it belongs to.
    inner : object
        The node's own backward frame (``inner.grad``, ``inner.cell``: the gradient entry it computes there).
    grad : str
        The gradient computed: a parameter's torch name (``"conv1.weight"``); for a sum of paths, the node's name
        (the gradient of its output); else ``"node:step"``, the node's own name of it (``"conv1:input"``, the
        gradient conv1 hands back; ``"lstm:dh"``).
    narration : str
    """

    index: int
    node: str
    inner: object
    grad: str
    narration: str

    @property
    def cell(self):
        return getattr(self.inner, "cell", None)

    @property
    def result(self):
        return getattr(self.inner, "result", None)

    @property
    def question(self):
        asked = getattr(self.inner, "question", None)
        if asked is None:
            return None
        prefix = self.narration[: len(self.narration) - len(self.inner.narration)]
        return asked._replace(prompt=prefix + asked.prompt)

    def __repr__(self) -> str:
        return f"GraphGradFrame({self.index}: {self.narration})"


class GraphBackwardTrace(BackwardTrace):
    """The backward pass of a :class:`Graph`: node after node in reverse topological order.

    Its frames are its parts' frames one after the other: each layer node's own backward frames (prefixed by
    the node), preceded, for a node whose output feeds several paths, by the sum of the paths' gradients.

    Attributes
    ----------
    forward : GraphTrace
    input : ndarray
        ``grad_output``.
    output : ndarray
        ``grads["input"]``.
    grads : dict of str to ndarray
        Every parameter the output depends on, under torch's name, in torch's order, then ``"input"``
        (``"input1"``, … for more inputs): zeros for integer inputs (token ids take no gradient).
    node_grads : dict of str to ndarray
        ``dL/d`` (each node's output), for every tensor node the output depends on.
    parts : tuple of (str, str, BackwardTrace)
        ``(node, kind, trace)``, kind ``"sum"`` or ``"node"``, in frame order.
    offsets : tuple of int
    """

    def __init__(self, forward: GraphTrace, grad_output: np.ndarray, parts: list, grads: dict,
                 node_grads: dict) -> None:
        self.layer = forward.layer
        self.forward = forward
        self.input = np.asarray(grad_output, dtype=np.float64)
        self.grads = {key: np.asarray(value, dtype=np.float64) for key, value in grads.items()}
        self.output = self.grads["input"]
        self.node_grads = node_grads
        self.sections = ()
        self.parts = tuple(parts)
        self.offsets = tuple(int(v) for v in np.concatenate([[0], np.cumsum([len(t) for _, _, t in parts])]))
        self.n_frames = self.offsets[-1]
        graph = forward.layer
        self._parameters = tuple(
            {attr for attr, _, is_param in _layer_state(graph.node(node).op) if is_param}
            if kind == "node" and graph.node(node).module else set() for node, kind, _ in self.parts)
        self.prefixes = tuple(
            ("" if kind == "sum" else f"backward of {graph.node(node).code}: ")
            for node, kind, t in self.parts)
        for array in (self.input, *self.grads.values(), *self.node_grads.values()):
            array.flags.writeable = False

    def section_of(self, k: int) -> int:
        """The part (a node's backward, or a sum of paths) frame ``k`` belongs to."""
        return bisect.bisect_right(self.offsets, k) - 1

    def _frame(self, k: int) -> GraphGradFrame:
        i = self.section_of(k)
        node, kind, trace = self.parts[i]
        inner = trace[k - self.offsets[i]]
        grad = str(getattr(inner, "grad", ""))
        if kind == "sum":
            grad = node
        elif grad in self._parameters[i]:
            grad = f"{self.layer.node(node).module}.{grad}"
        else:
            grad = f"{node}:{grad}"
        return GraphGradFrame(k, node, inner, grad, self.prefixes[i] + inner.narration)

    def __repr__(self) -> str:
        return (f"<GraphBackwardTrace of {self.layer.short_repr()}: {self.n_frames} frames over "
                f"{_count(len(self.parts), 'part')}, grad_output {self.input.shape} -> grads {list(self.grads)}>")

    def scene(self) -> Scene:
        """The upstream gradient, then the gradient each part hands back, filling up as its frames compute it."""
        parts = []
        for i, (node, kind, trace) in enumerate(self.parts):
            panel = None
            for s, section in enumerate(trace.sections):
                if section.key in ("input", "sum"):
                    panel = f"g{s}"
                    break
            title = f"d{node} (sum of {len(trace.paths)} paths)" if kind == "sum" else f"backward of {node}"
            fallback = trace.grads.get("input", np.zeros(0))
            parts.append((f"b{i}", title, trace, self.offsets[i], panel, fallback))
        first = [tensor_grid("dout", "upstream gradient dL/dout", self.input, "dout")]
        scene = _flow_scene(f"backward of {self.layer.short_repr()}", self, parts, first)
        return scene


class _SumTrace(BackwardTrace):
    """The gradient of a node's output that feeds several paths: the sum of the paths' gradients, entry by entry."""

    paths: tuple[str, ...] = ()


def _fork_sum(name: str, contributions: list[tuple[str, np.ndarray]]) -> _SumTrace:
    paths = tuple(consumer for consumer, _ in contributions)
    stack = np.stack([np.asarray(g, dtype=np.float64) for _, g in contributions])
    total = stack.sum(axis=0)
    n = len(paths)
    labels = " + ".join(f"d_path{j + 1}" for j in range(n))
    legend = ", ".join(f"path {j + 1}: {p}" for j, p in enumerate(paths))

    def explain(index):
        values = stack[(slice(None), *index)]
        result = float(total[index])
        label = grad_name("dx", index)
        before = f"{name} feeds {n} paths ({legend}), so its gradient is their sum: "
        if n <= KEEP_TERMS:
            shown = redoable(list(values), [result], lambda o, _: [o.sum()])
            terms = " + ".join(paren(t) for t in shown.operands)
            text = f"{before}{label} = {labels} = {terms} = {shown.results[0]}"
            return values, text, Ask(f"{label} = {terms} = ?", shown.results[0], result)
        terms = _shorten(list(values), 5, lambda v: paren(_number(v)))
        return values, f"{before}{label} = {labels} = {' + '.join(terms)} = {_number(result)}", None

    stub = types.SimpleNamespace(layer=_Paths(name, paths), input=None)
    section = Section("sum", "dx", f"d{name} = sum of the {n} paths' gradients", total, explain)
    trace = _SumTrace(stub, stack[0], [section], {"input": total})
    trace.paths = paths
    return trace


@dataclass(frozen=True)
class _Paths:
    """What a sum of paths' gradients belongs to: node ``name`` and the nodes that read it."""

    name: str
    paths: tuple[str, ...]

    def short_repr(self) -> str:
        return f"the {len(self.paths)} paths from {self.name} ({', '.join(self.paths)})"

    def __repr__(self) -> str:
        return self.short_repr()


def _add_into(store: dict, name: str, consumer: str, grad: Any) -> None:
    store.setdefault(name, []).append((consumer, grad))


def _graph_backward(self: GraphTrace, g: np.ndarray) -> GraphBackwardTrace:
    """The chain rule over the graph, newest node first (see :class:`GraphBackwardTrace`)."""
    graph = self.layer
    # contributions[name]: (consumer, gradient) pairs; a gradient of a tuple output is a dict {path: array}
    contributions: dict[str, list] = {}
    output = graph.output
    if not isinstance(output, Ref):
        raise ValueError("backward needs a graph whose output is one node")
    _add_into(contributions, output.name, "output", g)
    parts, param_grads, node_grads = [], {}, {}
    input_grads = {}
    for node in reversed(graph.nodes):
        contribs = contributions.pop(node.name, None)
        if contribs is None or node.kind == "value":
            if node.kind == "input":
                input_grads[node.name] = np.zeros(np.shape(self.values[node.name]))
            continue
        value = self.values[node.name]
        if isinstance(value, tuple):  # a tuple output: merge the items' gradients by path
            total: Any = {}
            for _, grad in contribs:
                for path, array in (grad.items() if isinstance(grad, dict) else [((), grad)]):
                    total[path] = total[path] + array if path in total else array
        elif len(contribs) > 1:
            trace = _fork_sum(node.name, [(c, np.asarray(v, dtype=np.float64)) for c, v in contribs])
            parts.append((node.name, "sum", trace))
            total = trace.grads["input"]
        else:
            total = np.asarray(contribs[0][1], dtype=np.float64)
        if isinstance(total, np.ndarray):
            node_grads[node.name] = total
        if node.kind == "input":
            input_grads[node.name] = total
            continue
        if node.kind == "item":
            parent = node.args[0]
            if isinstance(parent, Ref):
                index = node.op.index
                grad = total if index is None else {
                    (index, *path): array for path, array in (total.items() if isinstance(total, dict)
                                                              else [((), total)])}
                _add_into(contributions, parent.name, node.name, grad)
            continue
        trace = self.traces[node.name]
        try:
            btrace = _node_backward(trace, value, total)
        except (ValueError, TypeError, AttributeError) as error:
            raise ValueError(f"backward of node {node.name} ({_where(node)}): {error}") from error
        parts.append((node.name, "node", btrace))
        names = {attr for attr, _, is_param in _layer_state(node.op) if is_param} if node.module else set()
        for key, array in btrace.grads.items():
            if key in names:
                full = f"{node.module}.{key}"
                param_grads[full] = param_grads[full] + array if full in param_grads else np.array(array)
        for j, position in enumerate(node.grad_args):
            key = "input" if j == 0 else f"input{j}"
            arg = node.args[position]
            if isinstance(arg, Ref) and key in btrace.grads:
                _add_into(contributions, arg.name, node.name, btrace.grads[key])
    grads = {}
    order = [key for key, _ in graph.named_parameters()]
    for key in order:
        if key in param_grads:
            grads[key] = param_grads[key]
    for j, name in enumerate(graph.inputs):
        grads["input" if j == 0 else f"input{j}"] = input_grads.get(name, np.zeros(np.shape(self.values[name])))
    return GraphBackwardTrace(self, g, parts, grads, node_grads)


def _node_backward(trace: Trace, value: Any, total: Any) -> BackwardTrace:
    """A node's backward for the gradient of its output (a dict by path for a tuple output)."""
    if hasattr(trace, "h_n"):  # a recurrent layer: (output, h_n) or (output, (h_n, c_n))
        grads = total if isinstance(total, dict) else {(0,): total}
        lstm = getattr(trace, "c_n", None) is not None
        kwargs = {}
        h_path, c_path = ((1, 0), (1, 1)) if lstm else ((1,), None)
        if (1,) in grads and lstm:
            raise ValueError("the gradient of (h_n, c_n) as one tuple is not supported: use its items")
        if h_path in grads:
            kwargs["grad_h_n"] = grads[h_path]
        if c_path is not None and c_path in grads:
            kwargs["grad_c_n"] = grads[c_path]
        return trace.backward(grads.get((0,), np.zeros(np.shape(trace.output))), **kwargs)
    if isinstance(total, dict):  # max pooling's (values, indices): only the values carry a gradient
        total = total.get((0,), np.zeros(np.shape(value[0])))
    if not callable(getattr(trace, "backward", None)):
        raise TypeError(f"{trace.layer!r} has no backward pass in layerviz yet")
    return trace.backward(total)


# -- graph operations ---------------------------------------------------------------------------------


class _Op(Module):
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


def _array(name: str, value: Any) -> np.ndarray:
    """A tensor argument as a finite float64 array (not empty)."""
    try:
        return check_x(value)
    except ValueError as error:
        raise ValueError(str(error).replace("x ", f"{name} ", 1)) from error


def _cell(shape: tuple, k: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def _simple_scene(trace: Trace, inputs: list[tuple[str, str, np.ndarray]], output_title: str, *,
                  reveal: np.ndarray | None = None, elementwise: bool = False) -> Scene:
    """Input panels, then the output (filling up as ``reveal`` says; whole at frame 0 without it); an element-wise
    operation outlines the element computed in every panel."""
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
    layer = trace.layer
    return Scene(repr(layer), n, tuple(panels), tuple(highlights), LazyCaptions(trace), vmax)


# Add ----------------------------------------------------------------------------------------------------


class Add(_Op):
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
    value = _checks.plain(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
        return float(value)
    return _array(name, value)


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
        cell = _cell(self.output.shape, k)
        a, b, result = self._operand_at(self.a, cell), self._operand_at(self.b, cell), float(self.output[cell])
        shown = redoable([a, b], [result], lambda o, _: [o[0] + o[1]])
        head = f"{index_name('out', cell)} = {paren(shown.operands[0])} + {paren(shown.operands[1])}"
        return OpFrame(k, cell, np.array([a, b]), result, f"{head} = {shown.results[0]}",
                       Ask(f"{head} = ?", shown.results[0], result))

    def scene(self) -> Scene:
        inputs = [(name, name, v) for name, v in (("a", self.a), ("b", self.b)) if isinstance(v, np.ndarray)]
        reveal = np.arange(self.n_frames, dtype=np.int64).reshape(self.output.shape)
        return _simple_scene(self, inputs, "a + b", reveal=reveal, elementwise=True)

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


# Cat ----------------------------------------------------------------------------------------------------


class Cat(_Op):
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
        self.tensors = tuple(_array(f"tensor {j}", t) for j, t in enumerate(tensors))
        ndim = self.tensors[0].ndim
        if not -ndim <= layer.dim < ndim:
            raise ValueError(f"dim must be in [{-ndim}, {ndim - 1}] for tensors of {ndim} dimensions, got {layer.dim}")
        self.axis = layer.dim % ndim
        for j, t in enumerate(self.tensors):
            other = t.shape[: self.axis] + t.shape[self.axis + 1 :]
            first = self.tensors[0].shape[: self.axis] + self.tensors[0].shape[self.axis + 1 :]
            if t.ndim != ndim or other != first:
                raise ValueError(f"torch.cat needs tensors of one shape except along dim {layer.dim}: tensor 0 has "
                                 f"shape {self.tensors[0].shape}, tensor {j} shape {t.shape}")
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
        return _simple_scene(self, inputs, f"cat(dim={self.axis})", reveal=reveal)

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


# Reshape, Permute, Index --------------------------------------------------------------------------------


def _shape_arg(name: str, value: Any) -> int:
    value = _checks.plain(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be integers, got {value!r}")
    return int(value)


class Reshape(_Op):
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
        ndim = len(shape)
        if self.how in ("view", "reshape"):
            if len(args) == 1 and isinstance(args[0], (tuple, list)):
                args = tuple(args[0])
            dims = [_shape_arg("shape", a) for a in args]
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
        if self.how == "squeeze":
            dim = args[0] if args else None
            if dim is None:
                return tuple(d for d in shape if d != 1)
            dims = {(_shape_arg("dim", d) % max(ndim, 1)) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
            return tuple(d for i, d in enumerate(shape) if not (i in dims and d == 1))
        if len(args) != 1:
            raise ValueError(f"unsqueeze takes one dim, got {len(args)} arguments")
        dim = _shape_arg("dim", args[0])
        if not -ndim - 1 <= dim <= ndim:
            raise ValueError(f"dim must be in [{-ndim - 1}, {ndim}] for x of {ndim} dimensions, got {dim}")
        dim %= ndim + 1
        return shape[:dim] + (1,) + shape[dim:]

    def frames(self, x: Any, *args: Any) -> ReshapeTrace:
        """One frame: ``x`` in its new shape."""
        return ReshapeTrace(self, x, args)

    def __repr__(self) -> str:
        return f"Reshape({self.how!r})"


class ReshapeTrace(HasBackward, Trace):
    """One frame: the input's numbers read row by row into the new shape."""

    n_frames = 1

    def __init__(self, layer: Reshape, x: Any, args: tuple) -> None:
        self.layer = layer
        self.input = _array("x", x).copy()
        self.args = args
        self.output = self.input.reshape(layer.output_shape(self.input.shape, *args)).copy()
        for array in (self.input, self.output):
            array.flags.writeable = False

    def _frame(self, k: int) -> OpFrame:
        narration = (f"{self.layer.how}: {self.input.shape} → {self.output.shape} (the same {self.input.size} numbers, "
                     "read row by row; no number changes)")
        return OpFrame(k, (), self.input.ravel(), self.output, narration)

    def element_frames(self) -> np.ndarray:
        return np.zeros(self.output.shape, dtype=np.int64)

    def scene(self) -> Scene:
        return _simple_scene(self, [("input", "input", self.input)], f"{self.layer.how} {self.output.shape}")

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        dx = g.reshape(self.input.shape)
        in_shape, out_shape = self.input.shape, self.output.shape

        def source(index):
            return _cell(out_shape, int(np.ravel_multi_index(index, in_shape)) if in_shape else 0)

        section = copy_section("input", "dx", f"dL/dx (dout in the input's shape {in_shape})", dx, "dout", source,
                               f"{self.layer.how} moved this number unchanged")
        return BackwardTrace(self, g, [section], {"input": dx})


class Permute(_Op):
    """Axes reordered: ``x.permute(*dims)``, or two axes swapped: ``x.transpose(dim0, dim1)``.

    One frame (numbers move, none changes); backward: the gradient moved back.
    """

    def __init__(self, dims: Sequence[int] | None = None, *, swap: tuple[int, int] | None = None) -> None:
        if (dims is None) == (swap is None):
            raise ValueError("give either dims (permute) or swap (transpose)")
        self.dims = None if dims is None else tuple(_shape_arg("dims", d) for d in dims)
        self.swap = None if swap is None else tuple(_shape_arg("dim", d) for d in swap)

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


class PermuteTrace(HasBackward, Trace):
    """One frame: ``out[i0, i1, …] = x[…]`` with the axes reordered."""

    n_frames = 1

    def __init__(self, layer: Permute, x: Any) -> None:
        self.layer = layer
        self.input = _array("x", x).copy()
        self.order = layer.order(self.input.ndim)
        self.output = np.ascontiguousarray(self.input.transpose(self.order))
        for array in (self.input, self.output):
            array.flags.writeable = False

    def _frame(self, k: int) -> OpFrame:
        letters = "ijklmnopqrs"[: self.input.ndim]
        out = ",".join(letters[d] for d in self.order)
        narration = (f"permute{self.order}: {self.input.shape} → {self.output.shape}: "
                     f"out[{out}] = x[{','.join(letters)}] (the numbers move, none changes)")
        return OpFrame(k, (), self.input.ravel(), self.output, narration)

    def scene(self) -> Scene:
        return _simple_scene(self, [("input", "input", self.input)], f"permuted {self.output.shape}")

    def _backward(self, g: np.ndarray) -> BackwardTrace:
        inverse = tuple(int(i) for i in np.argsort(self.order))
        dx = np.ascontiguousarray(g.transpose(inverse))
        order = self.order

        def source(index):
            return tuple(index[d] for d in order)

        section = copy_section("input", "dx", "dL/dx (dout with the axes put back)", dx, "dout", source,
                               "permute moved this number unchanged")
        return BackwardTrace(self, g, [section], {"input": dx})


def _check_key(key: Any) -> tuple:
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


class Index(_Op):
    """``x[key]`` with ints, slices, ``None`` and ``...`` (an LSTM's last step ``out[-1]``, ``out[:, -1, :]``);
    the key may hold numbers computed at run time (``x[:, : x.size(1) // 2]``).

    One frame: the numbers picked. Backward: each number picked gets its gradient back, the others 0.
    """

    def frames(self, x: Any, key: Any) -> IndexTrace:
        return IndexTrace(self, x, key)

    def __repr__(self) -> str:
        return "Index()"


class IndexTrace(HasBackward, Trace):
    """One frame: ``out = x[key]``."""

    n_frames = 1

    def __init__(self, layer: Index, x: Any, key: Any) -> None:
        self.layer = layer
        self.key = _check_key(key)
        self.input = _array("x", x).copy()
        try:
            self.output = np.array(self.input[self.key])
        except IndexError as error:
            raise ValueError(f"x[{_key_text(self.key)}] on x of shape {self.input.shape}: {error}") from error
        for array in (self.input, self.output):
            array.flags.writeable = False

    def _frame(self, k: int) -> OpFrame:
        narration = (f"out = x[{_key_text(self.key)}]: {self.input.shape} → {self.output.shape} "
                     f"({self.output.size} of the {self.input.size} numbers picked; none changes)")
        return OpFrame(k, (), self.input.ravel(), self.output, narration)

    def scene(self) -> Scene:
        return _simple_scene(self, [("input", "input", self.input)], f"x[{_key_text(self.key)}]")

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
                             f"{grad_name('dout', _cell(out_shape, flat))} = {_number(value)}"), None

        section = Section("input", "dx", "dL/dx (dout where x was picked, 0 elsewhere)", dx, explain)
        return BackwardTrace(self, g, [section], {"input": dx})


# Mean ---------------------------------------------------------------------------------------------------


class Mean(_Op):
    """``x.mean(dim, keepdim)``: the mean over the axes ``dim`` (all of them if None), as ``torch.mean``; over
    the spatial axes ``(2, 3)`` of ``(N, C, H, W)`` it is a global average pooling.

    Frames: one per output element, ``out[0,3] = (0.10 + 0.20 + 0.30 + 0.40) / 4 = 0.25``. Backward: each input
    element gets ``dout / count``.
    """

    def __init__(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> None:
        if dim is not None:
            dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
            dim = tuple(_shape_arg("dim", d) for d in dims)
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
        self.input = _array("x", x).copy()
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
        reduced = _cell(self._reduced.shape, k)
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
        return _simple_scene(self, [("input", "input", self.input)], f"mean over dims {self.axes}",
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


# LogSoftmax ---------------------------------------------------------------------------------------------


class LogSoftmax(_Op):
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
        self.input = _array("x", x).copy()
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
        row = _cell(self.rows_shape, k)
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
        return _simple_scene(self, [("input", "input", self.input)], "log_softmax(x)", reveal=reveal)

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


#: The graph operations of this module, by name.
OPS = {cls.__name__: cls for cls in (Add, Cat, Reshape, Permute, Index, Mean, LogSoftmax)}

__all__ = ["Graph", "GraphTrace", "GraphFrame", "GraphBackwardTrace", "GraphGradFrame", "Node", "Ref", "Item",
           "LoadResult", "Add", "Cat", "Reshape", "Permute", "Index", "Mean", "LogSoftmax", "OpFrame", "OPS", "refs"]
