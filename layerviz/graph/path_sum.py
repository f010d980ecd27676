"""The gradient of a node whose output feeds several paths (the input of a residual block: the block's layers and
the shortcut): the sum of the paths' gradients, entry by entry, as frames of its own.

``dx[0,1,2,3] = d_path1 + d_path2 = 0.10 + (-0.05) = 0.05``.
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np

from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten
from layerviz.backward import KEEP_TERMS, BackwardTrace, Section
from layerviz.backward import name as grad_name


class PathSumTrace(BackwardTrace):
    """The gradient of a node's output that feeds several paths: the sum of the paths' gradients, entry by entry.

    Attributes
    ----------
    paths : tuple of str
        The nodes that read the node, one per path, in the order their gradients arrived.
    grads : dict
        ``{"input": the sum}``, shaped like the node's output.
    """

    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Paths:
    """What a sum of paths' gradients belongs to: node ``name`` and the nodes that read it."""

    name: str
    paths: tuple[str, ...]

    def short_repr(self) -> str:
        return f"the {len(self.paths)} paths from {self.name} ({', '.join(self.paths)})"

    def __repr__(self) -> str:
        return self.short_repr()


def path_sum(name: str, contributions: list[tuple[str, np.ndarray]]) -> PathSumTrace:
    """The sum of the gradients ``contributions`` (``(path, gradient)``, each shaped like node ``name``'s output)."""
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
    trace = PathSumTrace(stub, stack[0], [section], {"input": total})
    trace.paths = paths
    return trace
