"""The whole-model flow of a :class:`~layerviz.graph.GraphTrace`: one frame per node, the graph drawn in columns.

:func:`model_flow` draws any graph with the scene's primitives, no layer in it:

- a :class:`~layerviz.scene.Network` of the graph: one circle per input and per layer node, placed in
  *topological columns* (a node's column is one more than the deepest node it reads), a line per tensor
  passed from a node to a node that reads it. A line skipping columns (a residual connection, a shortcut) goes
  through small carry circles in the columns between, as a layered graph drawing does. At each frame the node
  computed is lit: its incoming lines stand out;
- a panel per input and per layer node's output, each appearing at the frame its node is computed;
- a caption per frame: the node's line of the forward, the shapes it reads and gives, its number of steps.

It is the map of the model: each node's own frames (``trace.traces[name]``) are stepped through in its own
player. One frame per node keeps the map as light as the model is small, whatever its number of steps.
"""

from __future__ import annotations

import numpy as np

from layerviz.graph import GraphBackwardTrace, GraphTrace, refs
from layerviz.layers.activation import tensor_grid
from layerviz.scene import Grid, Network, Scene, picture_cmap

#: What the network's note says under the map.
NOTE = ("one circle per node, in the order the forward computes them (left to right); a line: a tensor passed on; "
        "a small circle: a tensor carried past the nodes between (a shortcut). Lit: the node computed now.")


def tensor_parents(trace: GraphTrace, name: str) -> list[str]:
    """The input and layer nodes whose output node ``name`` reads, through ``item`` nodes (``lstm[0]``), without
    ``value`` nodes (``len(x)``: a shape, not a tensor passed on); each once, in order."""
    graph = trace.layer
    found: list[str] = []
    for ref in refs(graph.node(name).args):
        node = graph.node(ref)
        if node.kind == "value":
            continue
        while node.kind == "item":
            node = graph.node(refs(node.args)[0])
        if node.name not in found:
            found.append(node.name)
    return found


def columns(trace: GraphTrace) -> dict[str, int]:
    """Each input and layer node's topological column: 0 for the inputs, else one more than its deepest parent."""
    column = {name: 0 for name in trace.layer.inputs}
    for name in trace.names:
        column[name] = 1 + max((column[p] for p in tensor_parents(trace, name)), default=-1)
    return column


def shape_text(value: object) -> str:
    """``(1, 6, 28, 28)``; a tuple output (an LSTM's ``(output, (h_n, c_n))``) as the tuple of its shapes."""
    if isinstance(value, tuple):
        return "(" + ", ".join(shape_text(v) for v in value) + ")"
    return str(tuple(np.shape(value)))


def caption(trace: GraphTrace, name: str) -> str:
    """``[3/13] pool = self.pool(relu): reads relu (1, 6, 28, 28) → (1, 6, 14, 14), in 1176 steps``."""
    i = trace.names.index(name)
    node = trace.layer.node(name)
    parents = tensor_parents(trace, name)
    read = dict.fromkeys(r for r in refs(node.args) if trace.layer.node(r).kind != "value")
    reads = ", ".join(f"{r} {shape_text(trace.values[r])}" for r in read)
    steps = len(trace.traces[name])
    joined = f" (the {len(parents)} paths meet here)" if len(parents) > 1 else ""
    return (f"[{i + 1}/{len(trace.names)}] {node.code}: reads {reads}{joined} → {shape_text(trace.values[name])}, in "
            f"{steps} step{'' if steps == 1 else 's'}")


def graph_network(trace: GraphTrace) -> Network:
    """The graph as a :class:`Network`: topological columns, carry circles on the lines that skip columns, the node
    of frame ``k`` lit at frame ``k`` (see the module docstring)."""
    column = columns(trace)
    depth = max(column.values()) + 1
    slots: list[list[tuple[str, str]]] = [[] for _ in range(depth)]  # (kind, node) per column: "node" or "carry"
    for name in (*trace.layer.inputs, *trace.names):
        slots[column[name]].append(("node", name))
    edges: list[tuple[int, tuple[str, str], tuple[str, str]]] = []  # (column of the source, source, target)
    for name in trace.names:
        for parent in tensor_parents(trace, name):
            source = ("node", parent)
            for c in range(column[parent] + 1, column[name]):
                carry = ("carry", parent)
                if carry not in slots[c]:
                    slots[c].append(carry)
                edges.append((c - 1, source, carry))
                source = carry
            edges.append((column[name] - 1, source, ("node", name)))
    sizes = tuple(len(s) for s in slots)
    weights = [np.full((sizes[c + 1], sizes[c]), np.nan) for c in range(depth - 1)]
    for c, source, target in edges:
        weights[c][slots[c + 1].index(target), slots[c].index(source)] = 1.0
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    index = {slot: int(offsets[c] + j) for c, column_slots in enumerate(slots) for j, slot in enumerate(column_slots)}
    at = {name: i for i, name in enumerate(trace.names)}
    reveal = np.array([[0 if slot[1] not in at else at[slot[1]] for c in range(depth) for slot in slots[c]]],
                      dtype=np.int32)
    active = np.array([index[("node", name)] for name in trace.names], dtype=np.int32)
    labels = tuple(" · ".join(name for kind, name in column_slots if kind == "node") for column_slots in slots)
    return Network("graph", "the model's graph", sizes, np.zeros((1, int(offsets[-1]))), tuple(weights), labels,
                   reveal=reveal, active=active, note=NOTE)


def model_flow(trace: GraphTrace) -> Scene:
    """The flow scene of ``trace``: one frame per layer node (see the module docstring)."""
    n = len(trace.names)
    panels: list[Grid] = []
    for name, x in zip(trace.layer.inputs, trace.inputs):
        values = np.asarray(x, dtype=np.float64)
        grid = tensor_grid(name, f"input {name} {values.shape}", values, "x")
        panels.append(Grid(grid.name, grid.title, grid.values, grid.labels, page_size=grid.page_size,
                           cmap=picture_cmap(trace, values), vmax=float(np.abs(values).max(initial=0.0)) or 1.0))
    for k, name in enumerate(trace.names):
        values = np.asarray(trace.traces[name].output, dtype=np.float64)
        if values.size == 0:
            continue
        grid = tensor_grid(name, f"{name}: {type(trace.layer.node(name).op).__name__} {values.shape}", values,
                           "out", reveal=np.full(values.shape, k, dtype=np.int32), op="→")
        finite = np.abs(values[np.isfinite(values)])
        panels.append(Grid(grid.name, grid.title, grid.values, grid.labels, reveal=grid.reveal,
                           page_size=grid.page_size, op=grid.op, vmax=float(finite.max(initial=0.0)) or 1.0))
    captions = [caption(trace, name) for name in trace.names]
    vmax = max((float(np.abs(p.values).max(initial=0.0)) for p in panels), default=1.0) or 1.0
    return Scene(f"{trace.layer.short_repr()}: one step per node", n, tuple(panels), (), captions, vmax,
                 networks=(graph_network(trace),))


def backward_caption(backward: GraphBackwardTrace, i: int) -> str:
    """``[2/20] backward of fc3 = self.fc3(relu_3): dL/dfc3 (1, 10) → dL/drelu_3 (1, 84), in 1690 steps``; for a
    node feeding several paths: the sum of their gradients."""
    node, kind, part = backward.parts[i]
    head = f"[{i + 1}/{len(backward.parts)}] "
    steps = f"in {len(part)} step{'' if len(part) == 1 else 's'}"
    if kind == "sum":
        return (f"{head}{node} feeds {len(part.paths)} paths ({', '.join(part.paths)}): dL/d{node} is the sum of their "
                f"gradients, {tuple(np.shape(part.grads['input']))}, {steps}")
    graph = backward.layer
    parents = [r for r in refs(graph.node(node).args) if graph.node(r).kind != "value"]
    hands = ", ".join(f"dL/d{r}" for r in parents)
    return (f"{head}backward of {graph.node(node).code}: dL/d{node} {shape_text(backward.forward.values[node])} → "
            f"{hands}, {steps}")


def backward_flow(backward: GraphBackwardTrace) -> Scene:
    """The backward pass as a flow: one frame per part (a node's backward, or a sum of paths' gradients), newest
    node first; the panel of each part is the gradient it hands back (the sum, for a sum), the graph's node lit."""
    forward = backward.forward
    network = graph_network(forward)
    node_index = {name: int(network.active[i]) for i, name in enumerate(forward.names)}
    n = len(backward.parts)
    panels = [tensor_grid("dout", f"dL/d{_output_name(forward)} (given)", backward.input, "dout")]
    for i, (node, kind, part) in enumerate(backward.parts):
        values = np.asarray(part.grads.get("input", np.zeros(0)), dtype=np.float64)
        if values.size == 0:
            continue
        title = f"dL/d{node}: sum of {len(part.paths)} paths" if kind == "sum" else f"from {node}: {values.shape}"
        grid = tensor_grid(f"b{i}", title, values, "d", reveal=np.full(values.shape, i, dtype=np.int32), op="←")
        finite = np.abs(values[np.isfinite(values)])
        panels.append(Grid(grid.name, grid.title, grid.values, grid.labels, reveal=grid.reveal,
                           page_size=grid.page_size, op=grid.op, vmax=float(finite.max(initial=0.0)) or 1.0))
    active = np.array([node_index.get(node, -1) for node, _, _ in backward.parts], dtype=np.int32)
    reveal = np.full(network.values.shape, 0, dtype=np.int32)
    lit = Network(network.name, "the model's graph, backward: newest node first", network.sizes, network.values,
                  network.weights, network.column_labels, reveal=reveal, active=active, note=NOTE)
    captions = [backward_caption(backward, i) for i in range(n)]
    vmax = max((float(np.abs(p.values).max(initial=0.0)) for p in panels), default=1.0) or 1.0
    return Scene(f"backward of {forward.layer.short_repr()}: one step per node", n, tuple(panels), (), captions, vmax,
                 networks=(lit,))


def _output_name(trace: GraphTrace) -> str:
    names = refs(trace.layer.output)
    return names[0] if names else "out"
