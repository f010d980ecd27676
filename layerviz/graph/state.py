"""A graph's parameters and buffers under torch's ``state_dict`` keys: listing them, and loading a ``state_dict``.

An entry is ``(torch key, layer, attribute, is_parameter)``: ``("layer1.0.bn1.weight", <BatchNorm2d>, "weight",
True)``; the key is the module's name in the model, a dot, and the attribute (see :meth:`~layerviz.Graph.layers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from layerviz import _checks
from layerviz.graph.nodes import Node

#: What :func:`state_entries` lists: ``(torch key, layer, attribute, is_parameter)``.
Entry = tuple[str, Any, str, bool]


class LoadResult(NamedTuple):
    """What :meth:`Graph.load_state_dict` returns, as torch's: the keys it missed and the keys it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def layer_state(layer: Any) -> list[tuple[str, Any, bool]]:
    """``(name, value, is_parameter)`` of a layer's parameters then buffers, in torch's order."""
    if callable(getattr(layer, "named_parameters", None)):
        params = [(name, value) for name, value in layer.named_parameters()]
    else:
        params = [(name, getattr(layer, name, None)) for name in ("weight", "bias")]
        params = [(name, value) for name, value in params if isinstance(value, np.ndarray)]
    buffers = [(name, getattr(layer, name, None)) for name in ("running_mean", "running_var", "num_batches_tracked")]
    return [(n, v, True) for n, v in params] + [(n, v, False) for n, v in buffers if v is not None]


def parameter_names(node: Node) -> set[str]:
    """The names of the parameters of a node's layer (``{"weight", "bias"}``) when it is converted from a module;
    empty for a function's layer (``F.relu``), whose gradients are no parameter's."""
    return {attr for attr, _, is_param in layer_state(node.op) if is_param} if node.module else set()


def state_entries(layers: Mapping[str, Any], order: Sequence[str]) -> list[Entry]:
    """Every parameter and buffer of ``layers`` (``{module name: layer}``) as entries, in ``order`` (torch's
    ``state_dict`` keys; keys it does not name come last, in the layers' order)."""
    entries = [(f"{module}.{attr}", layer, attr, is_param)
               for module, layer in layers.items() for attr, _, is_param in layer_state(layer)]
    rank = {key: i for i, key in enumerate(order)}
    return sorted(entries, key=lambda e: rank.get(e[0], len(rank)))


def compare_keys(entries: Mapping[str, Any], state_dict: Mapping[str, Any], strict: bool) -> LoadResult:
    """The keys of ``entries`` that ``state_dict`` misses, and its keys that no entry takes; with ``strict``,
    ValueError naming them."""
    missing = [key for key in entries if key not in state_dict]
    unexpected = [key for key in state_dict if key not in entries]
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"Missing key(s) in state_dict: {', '.join(repr(k) for k in missing)}")
        if unexpected:
            parts.append(f"Unexpected key(s) in state_dict: {', '.join(repr(k) for k in unexpected)}")
        raise ValueError("Error(s) in loading state_dict for Graph: " + ". ".join(parts))
    return LoadResult(missing, unexpected)


def read_values(entries: Mapping[str, tuple[Any, str]], state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``state_dict`` for the entries (``{key: (layer, attribute)}``) it holds, as they will be set:
    float64 copies of the current values' shapes (an int for ``num_batches_tracked``); ValueError naming the key
    of a value that is not an array of numbers or not of that shape."""
    values = {}
    for key, (layer, attr) in entries.items():
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
    return values


def store_values(entries: Mapping[str, tuple[Any, str]], values: Mapping[str, Any]) -> None:
    """Set each of ``values`` on its layer's attribute; a layer's ValueError names the key."""
    for key, value in values.items():
        layer, attr = entries[key]
        try:
            setattr(layer, attr, value)
        except ValueError as error:
            raise ValueError(f"state_dict[{key!r}]: {error}") from error
