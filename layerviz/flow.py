"""The whole-model flow of a :class:`~layerviz.graph.GraphTrace`: one frame per node, the graph drawn as a map.

:func:`model_flow` draws any graph with the scene's primitives, no layer in it:

- on top, a :class:`~layerviz.scene.GraphLayout` of the graph (:func:`graph_layout`): one box per input and per
  layer node ("conv1 · Conv2d"), placed in *topological columns* (a node's column is one more than the deepest
  node it reads) and in rows that keep parallel branches apart: a residual block's layers on one row, its
  shortcut (an arrow, or its own layers) on another. Each arrow is labelled with the shape of the tensor it
  carries. At each frame the node computed is lit, the nodes after it faded; a click on a box opens that node;
- under it, only the panels of the node computed at that frame: what it reads and what it gives
  (``Grid.shown``), not every node's at once;
- a caption per frame: the node's line of the forward, the shapes it reads and gives, its number of steps.

It is the map of the model: each node's own frames (``trace.traces[name]``) are stepped through in its own
player. One frame per node keeps the map as light as the model is small, whatever its number of steps.
"""

from __future__ import annotations

import numpy as np

from layerviz.graph.backward import GraphBackwardTrace
from layerviz.graph.nodes import refs
from layerviz.graph.trace import GraphTrace
from layerviz.tensor_grid import tensor_grid
from layerviz.scene import GraphLayout, Grid, Network, Scene, picture_cmap

#: What the note under the map says.
MAP_NOTE = ("A box per node, in the order the forward computes them; an arrow: a tensor and its shape. "
            "Click a box to open its node below.")

#: What the network's note says under :func:`graph_network`'s drawing.
NOTE = ("one circle per node, in the order the forward computes them (left to right); a line: a tensor passed on; "
        "a small circle: a tensor carried past the nodes between (a shortcut). Lit: the node computed now.")


def tensor_parents(trace: GraphTrace, name: str) -> list[str]:
    """The input and layer nodes whose output node ``name`` reads, through ``item`` nodes (``lstm[0]``), without
    ``value`` nodes (``len(x)``: a shape, not a tensor passed on); each once, in order."""
    return list(tensor_reads(trace, name))


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


def tensor_reads(trace: GraphTrace, name: str) -> dict[str, str]:
    """For each tensor parent of node ``name`` (:func:`tensor_parents`), the ref it reads: the parent itself, or
    the ``item`` node that picks a part of the parent's output (``lstm[0]``)."""
    graph = trace.layer
    reads: dict[str, str] = {}
    for ref in refs(graph.node(name).args):
        node = graph.node(ref)
        if node.kind == "value":
            continue
        while node.kind == "item":
            node = graph.node(refs(node.args)[0])
        reads.setdefault(node.name, ref)
    return reads


def box_label(trace: GraphTrace, name: str) -> str:
    """``conv1 · Conv2d``; an input: ``x · input``."""
    if name in trace.layer.inputs:
        return f"{name} · input"
    return f"{name} · {type(trace.layer.node(name).op).__name__}"


def place_rows(trace: GraphTrace) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
    """Each node's row, and the row of each *carry* ``(source, column)``: where an arrow from ``source`` skipping
    columns runs through ``column``.

    Column by column, nodes first (in forward order), then carries: each takes the row of what it continues (a
    node: its first parent's; a carry: its source's row in the column before) if free, else the next free row
    below. A residual block's layers continue the main row, its shortcut gets the row under it. Linear in the
    number of nodes and carries.
    """
    column = columns(trace)
    order = (*trace.layer.inputs, *trace.names)
    depth = max(column.values()) + 1
    nodes_at: list[list[str]] = [[] for _ in range(depth)]
    for name in order:
        nodes_at[column[name]].append(name)
    carries_at: list[list[str]] = [[] for _ in range(depth)]
    for name in trace.names:
        for parent in tensor_parents(trace, name):
            for c in range(column[parent] + 1, column[name]):
                if parent not in carries_at[c]:
                    carries_at[c].append(parent)
    row: dict[str, int] = {}
    carry_row: dict[tuple[str, int], int] = {}
    for c in range(depth):
        taken: set[int] = set()

        def free_from(wanted: int) -> int:
            while wanted in taken:
                wanted += 1
            taken.add(wanted)
            return wanted

        for name in nodes_at[c]:
            parents = tensor_parents(trace, name) if name in trace.traces else []
            wanted = 0
            if parents:
                first = parents[0]
                wanted = row[first] if column[first] == c - 1 else carry_row[(first, c - 1)]
            row[name] = free_from(wanted)
        for source in carries_at[c]:
            wanted = row[source] if column[source] == c - 1 else carry_row[(source, c - 1)]
            carry_row[(source, c)] = free_from(wanted)
    return row, carry_row


def graph_layout(trace: GraphTrace, reveal: np.ndarray, active: np.ndarray, title: str) -> GraphLayout:
    """The map of ``trace``'s graph: a box per input and layer node at its :func:`columns` column and
    :func:`place_rows` row, an arrow per tensor read, labelled with its shape.

    Parameters
    ----------
    trace : GraphTrace
        The model's forward trace (its values give the arrows' shapes).
    reveal : ndarray of int32, shape (N,)
        First frame at which each box (inputs first, then ``trace.names``) is drawn as computed.
    active : ndarray of int32, shape (n_frames,)
        The box lit at each frame.
    title : str
        The map's heading.
    """
    column = columns(trace)
    row, carry_row = place_rows(trace)
    order = (*trace.layer.inputs, *trace.names)
    index = {name: i for i, name in enumerate(order)}
    edges, edge_labels, bend_rows = [], [], []
    for name in trace.names:
        for parent, ref in tensor_reads(trace, name).items():
            edges.append((index[parent], index[name]))
            edge_labels.append(shape_text(trace.values[ref]))
            bend_rows.extend(carry_row[(parent, c)] for c in range(column[parent] + 1, column[name]))
    return GraphLayout("graph", title, order, tuple(box_label(trace, name) for name in order),
                       np.array([column[name] for name in order], dtype=np.int32),
                       np.array([row[name] for name in order], dtype=np.int32),
                       np.array(edges, dtype=np.int32).reshape(-1, 2), tuple(edge_labels),
                       np.array(bend_rows, dtype=np.int32), reveal=reveal, active=active, note=MAP_NOTE)


def node_panel(trace: GraphTrace, name: str, shown: np.ndarray, op: str = "") -> Grid | None:
    """The panel of node ``name``'s output (an input's values), drawn on the frames where ``shown``; None for an
    output with no numbers."""
    if name in trace.layer.inputs:
        values = np.asarray(trace.inputs[trace.layer.inputs.index(name)], dtype=np.float64)
        grid = tensor_grid(name, f"input {name} {values.shape}", values, "x")
        return Grid(grid.name, grid.title, grid.values, grid.labels, page_size=grid.page_size,
                    cmap=picture_cmap(trace, values), vmax=float(np.abs(values).max(initial=0.0)) or 1.0, shown=shown)
    values = np.asarray(trace.traces[name].output, dtype=np.float64)
    if values.size == 0:
        return None
    grid = wrap_long_columns(tensor_grid(name, f"{name} {values.shape}", values, "out"))  # its op: on its box
    finite = np.abs(values[np.isfinite(values)])
    return Grid(grid.name, grid.title, grid.values, grid.labels, page_size=grid.page_size, op=op,
                vmax=float(finite.max(initial=0.0)) or 1.0, shown=shown)


#: A panel's column of numbers longer than this is wrapped into rows (a flattened (1, 400): 20 rows of 20).
LONG_COLUMN = 32


def wrap_long_columns(grid: Grid) -> Grid:
    """``grid`` with each slice that is one column longer than :data:`LONG_COLUMN` wrapped into rows of about
    its square root (read row by row; the cells after the last number are NaN, drawn blank), so that a long vector
    is a compact block rather than a column taller than a screen."""
    s, h, w = grid.values.shape
    if w != 1 or h <= LONG_COLUMN:
        return grid
    width = int(np.ceil(np.sqrt(h)))
    rows = -(-h // width)
    values = np.full((s, rows * width), np.nan)
    values[:, :h] = grid.values[:, :, 0]
    return Grid(grid.name, f"{grid.title} in rows of {width}", values.reshape(s, rows, width), grid.labels,
                page_size=grid.page_size, op=grid.op, vmax=grid.vmax, cmap=grid.cmap)


def _vmax(panels: list[Grid]) -> float:
    return max((float(np.abs(p.values[np.isfinite(p.values)]).max(initial=0.0)) for p in panels), default=1.0) or 1.0


def model_flow(trace: GraphTrace) -> Scene:
    """The flow scene of ``trace``: one frame per layer node (see the module docstring).

    Frame ``k`` lights node ``trace.names[k]`` on the map and shows, under the map, the panels of the tensors it
    reads and of its output, nothing else.
    """
    n = len(trace.names)
    order = (*trace.layer.inputs, *trace.names)
    shown = {name: np.zeros(n, dtype=bool) for name in order}
    for k, name in enumerate(trace.names):
        shown[name][k] = True
        for parent in tensor_parents(trace, name):
            shown[parent][k] = True
    panels = [panel for name in order
              if (panel := node_panel(trace, name, shown[name], op="" if name in trace.layer.inputs else "→"))]
    inputs = len(trace.layer.inputs)
    reveal = np.array([0] * inputs + list(range(n)), dtype=np.int32)
    active = np.arange(inputs, inputs + n, dtype=np.int32)
    layout = graph_layout(trace, reveal, active, "the model's graph: the node computed is lit")
    captions = [caption(trace, name) for name in trace.names]
    return Scene(f"{trace.layer.short_repr()}: one step per node", n, tuple(panels), (), captions, _vmax(panels),
                 graphs=(layout,))


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
    node first. The map lights the part's node (the nodes whose gradient is not reached yet faded); under it,
    only the gradient the part hands back (the sum, for a sum), after dL/dout on the first frame."""
    forward = backward.forward
    n = len(backward.parts)
    first = np.zeros(n, dtype=bool)
    first[0] = True
    given = wrap_long_columns(tensor_grid("dout", f"dL/d{_output_name(forward)} (given)", backward.input, "dout"))
    panels = [Grid(**{**_grid_fields(given), "shown": first})]
    for i, (node, kind, part) in enumerate(backward.parts):
        values = np.asarray(part.grads.get("input", np.zeros(0)), dtype=np.float64)
        if values.size == 0:
            continue
        title = f"dL/d{node}: sum of {len(part.paths)} paths" if kind == "sum" else f"from {node}: {values.shape}"
        grid = wrap_long_columns(tensor_grid(f"b{i}", title, values, "d", op="←"))
        finite = np.abs(values[np.isfinite(values)])
        only_i = np.zeros(n, dtype=bool)
        only_i[i] = True
        panels.append(Grid(grid.name, grid.title, grid.values, grid.labels, page_size=grid.page_size, op=grid.op,
                           vmax=float(finite.max(initial=0.0)) or 1.0, shown=only_i))
    order = (*forward.layer.inputs, *forward.names)
    index = {name: i for i, name in enumerate(order)}
    reached = {}
    for i, (node, _, _) in enumerate(backward.parts):
        reached.setdefault(node, i)
    reveal = np.array([reached.get(name, n - 1) for name in order], dtype=np.int32)
    active = np.array([index.get(node, -1) for node, _, _ in backward.parts], dtype=np.int32)
    layout = graph_layout(forward, reveal, active, "the model's graph, backward: newest node first, the node lit")
    captions = [backward_caption(backward, i) for i in range(n)]
    return Scene(f"backward of {forward.layer.short_repr()}: one step per node", n, tuple(panels), (), captions,
                 _vmax(panels), graphs=(layout,))


def _grid_fields(grid: Grid) -> dict:
    return {name: getattr(grid, name) for name in Grid.__dataclass_fields__}


def _output_name(trace: GraphTrace) -> str:
    names = refs(trace.layer.output)
    return names[0] if names else "out"
