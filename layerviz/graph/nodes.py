"""The nodes of a :class:`~layerviz.Graph` and their arguments: what a node reads, and its value once computed.

A node's arguments are constants and :class:`Ref` to earlier nodes' outputs, nested in tuples, lists, dicts and
slices as the forward wrote them (``x.view(x.size(0), -1)``: ``(Ref("x"), Ref("size"), -1)``); :func:`refs`
lists the nodes they read, :func:`resolve` puts the nodes' outputs in their place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The kinds of node (see :mod:`layerviz.graph`).
NODE_KINDS = ("input", "layer", "value", "item")


@dataclass(frozen=True)
class Ref:
    """An argument of a node that is the output of the node called ``name``."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=False)
class Node:
    """One step of a :class:`~layerviz.Graph`.

    Parameters
    ----------
    name : str
        Unique in the graph; what later nodes' :class:`Ref` arguments name.
    kind : {'input', 'layer', 'value', 'item'}
        See :mod:`layerviz.graph`.
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
            object.__setattr__(self, "code", f"{self.name} = {call}({', '.join(code_of(a) for a in self.args)})"
                               if self.kind != "input" else f"{self.name}: input")

    def __repr__(self) -> str:
        return f"Node({self.code})"


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


def code_of(arg: Any) -> str:
    """An argument as the forward would write it: ``(x, 1)``, ``[a, b]``, ``-1``."""
    if isinstance(arg, Ref):
        return arg.name
    if isinstance(arg, tuple):
        return "(" + ", ".join(code_of(a) for a in arg) + ("," if len(arg) == 1 else "") + ")"
    if isinstance(arg, list):
        return "[" + ", ".join(code_of(a) for a in arg) + "]"
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


def resolve(arg: Any, values: Mapping[str, Any]) -> Any:
    """``arg`` with each :class:`Ref` replaced by the output of the node it names (``values[name]``)."""
    if isinstance(arg, Ref):
        return values[arg.name]
    if isinstance(arg, tuple):
        return tuple(resolve(a, values) for a in arg)
    if isinstance(arg, list):
        return [resolve(a, values) for a in arg]
    if isinstance(arg, Mapping):
        return {k: resolve(a, values) for k, a in arg.items()}
    if isinstance(arg, slice):
        return slice(*(resolve(a, values) for a in (arg.start, arg.stop, arg.step)))
    return arg


def where(node: Node) -> str:
    """``conv1 = self.conv1(x), at model.py, line 14, in forward: …``: the node's code and its line."""
    return node.code + (f", at {node.line}" if node.line else "")


def value_shape(value: Any) -> Any:
    """The shape of a node's output: a tuple of ints, or for a tuple output a tuple of its items' shapes."""
    if isinstance(value, tuple):
        return tuple(value_shape(v) for v in value)
    return tuple(np.shape(value))
