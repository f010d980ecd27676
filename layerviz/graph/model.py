"""The :class:`Graph` module: its nodes, its parameters under torch's names, train and eval, and its forward."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks
from layerviz._format import count
from layerviz._format import shorten as _shorten
from layerviz.graph.nodes import Node, code_of, refs, resolve, where
from layerviz.graph.state import (
    Entry,
    LoadResult,
    compare_keys,
    read_values,
    state_entries,
    store_values,
)
from layerviz.graph.trace import GraphTrace
from layerviz.layers._module import Module
from layerviz.layers.activation import check_x
from layerviz.trace import Trace


class Graph(Module):
    """Layers wired as a model's ``forward`` wires them, in topological order.

    Usually built by :func:`layerviz.from_torch` from a ``torch.nn.Module``; see :mod:`layerviz.graph` for
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
        _check_nodes(nodes)
        _check_output(output, {node.name for node in nodes})
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

    def _entries(self) -> list[Entry]:
        """``(torch key, layer, attribute, is_parameter)`` of every parameter and buffer, in torch's order."""
        return state_entries(self.layers(), self._order)

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
        result = compare_keys(entries, state_dict, strict)
        store_values(entries, read_values(entries, state_dict))  # every value read and checked before any is set
        return result

    # -- running ------------------------------------------------------------------------------------

    def _inputs(self, xs: tuple) -> list[np.ndarray]:
        if len(xs) != len(self.inputs):
            raise ValueError(f"the graph takes {len(self.inputs)} input(s) ({', '.join(self.inputs)}), got {len(xs)}")
        return [_input_array(name, x) for name, x in zip(self.inputs, xs)]

    def _run(self, xs: tuple, traces: dict | None) -> dict[str, Any]:
        """Every node's output; with ``traces`` (a dict), each layer node's trace is built and stored there."""
        values: dict[str, Any] = {}
        inputs = iter(self._inputs(xs))
        for node in self.nodes:
            if node.kind == "input":
                values[node.name] = next(inputs)
                continue
            args = resolve(node.args, values)
            try:
                if node.kind == "layer" and traces is not None:
                    trace = node.op.frames(*args)
                    traces[node.name] = trace
                    values[node.name] = _trace_value(node.op, trace)
                else:
                    values[node.name] = node.op(*args)
            except ValueError as error:
                raise ValueError(f"node {node.name} ({where(node)}): {error}") from error
        return values

    def forward(self, *xs: ArrayLike) -> Any:
        """The model's output for the inputs ``xs`` (one per input node; a torch tensor is read as a copy).

        Batch norm layers in training mode update their running statistics, as torch's do.
        """
        return resolve(self.output, self._run(xs, None))

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
        lines.append(f"  return {code_of(self.output)}")
        return "Graph(\n" + "\n".join(lines) + "\n)"

    def short_repr(self) -> str:
        """``Graph: Conv2d → ReLU → MaxPool2d → … (11 layer nodes)``."""
        kinds = [type(node.op).__name__ for node in self.nodes if node.kind == "layer"]
        shown = " → ".join(_shorten(kinds, 8, lambda t: t))
        return f"Graph: {shown} ({count(len(kinds), 'layer node')})"

    def _tuple_output(self) -> tuple[str, str] | None:
        return None


def _check_nodes(nodes: tuple) -> None:
    """Nodes, with unique names, in topological order, each layer node's op a layer, one input at least;
    ValueError naming the first node that is not."""
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


def _check_output(output: Any, names: set[str]) -> None:
    """``output`` names at least one node, and only nodes of ``names``; ValueError if not."""
    missing = [name for name in refs(output) if name not in names]
    if missing or not refs(output):
        raise ValueError(f"output must name nodes of the graph, got {output!r}")


def _input_array(name: str, x: ArrayLike) -> np.ndarray:
    """Input ``name`` as a read-only copy: numbers as finite float64, integers (token ids) kept as integers."""
    value = _checks.plain(x)
    array = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if array.dtype.kind in "fb" or array.dtype.kind == "O":
        array = check_x(array)  # numbers as float64, finite
    elif array.dtype.kind not in "iu":
        raise ValueError(f"input {name} must be an array of numbers, got dtype {array.dtype}")
    array = array.copy()
    array.flags.writeable = False
    return array


def _trace_value(layer: Any, trace: Trace) -> Any:
    """What the layer's forward returns, from its trace: a recurrent layer's ``(output, (h_n, c_n))``."""
    if hasattr(trace, "h_n"):
        return (trace.output, (trace.h_n, trace.c_n)) if getattr(trace, "c_n", None) is not None \
            else (trace.output, trace.h_n)
    if getattr(layer, "return_indices", False):
        return trace.output, trace.indices
    return trace.output
