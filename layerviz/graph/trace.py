"""The forward trace of a :class:`~layerviz.Graph`: each layer node's frames, node after node, and its flow."""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from layerviz.backward import HasBackward, check_grad_output
from layerviz.graph.backward import GraphBackwardTrace, graph_backward
from layerviz.graph.flow_scene import FlowPart, flow_scene
from layerviz.graph.nodes import resolve, value_shape
from layerviz.layers._chain import ChainFrame, chain_offsets, part_of
from layerviz.scene import Scene, picture_cmap
from layerviz.tensor_grid import tensor_grid
from layerviz.trace import Trace

if TYPE_CHECKING:
    from layerviz.graph.model import Graph


@dataclass(frozen=True, eq=False, repr=False)  # keeps ChainFrame's repr
class GraphFrame(ChainFrame):
    """A frame of one layer node of a :class:`~layerviz.Graph`: a :class:`~layerviz.layers._chain.ChainFrame`
    (``index``, ``inner``, ``narration``, ``result``, ``question``) whose narration opens with the node
    (``[3/11] pool = self.pool(relu): ``).

    Attributes
    ----------
    node : str
        The node's name.
    node_index : int
        Which of the trace's layer nodes (0-based, in topological order).
    layer : object
        The node's layer.
    """

    node: str
    node_index: int
    layer: object


class GraphTrace(HasBackward, Trace):
    """The frames of a :class:`~layerviz.Graph`: each layer node's frames, in topological order.

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
        self.output = resolve(graph.output, values)
        self.offsets = chain_offsets([len(t) for t in traces.values()])
        self.n_frames = self.offsets[-1]
        n = len(self.names)
        self.prefixes = tuple(f"[{i + 1}/{n}] {graph.node(name).code}: " for i, name in enumerate(self.names))

    def node_of(self, k: int) -> str:
        """The name of the node frame ``k`` (non-negative) belongs to."""
        return self.names[part_of(self.offsets, k)]

    def frame_range(self, name: str) -> range:
        """The frames of node ``name``."""
        i = self.names.index(name)
        return range(self.offsets[i], self.offsets[i + 1])

    def _frame(self, k: int) -> GraphFrame:
        i = part_of(self.offsets, k)
        name = self.names[i]
        inner = self.traces[name][k - self.offsets[i]]
        return GraphFrame(index=k, inner=inner, narration=self.prefixes[i] + inner.narration, node=name, node_index=i,
                          layer=self.layer.node(name).op)

    def __repr__(self) -> str:
        return (f"<GraphTrace of {self.layer.short_repr()}: {self.n_frames} frames, "
                f"input {np.shape(self.input)} -> output {value_shape(self.output)}>")

    def backward(self, grad_output: ArrayLike | None = None) -> GraphBackwardTrace:
        """The backward pass of this forward pass for ``grad_output`` (dL/d output, shaped like the output;
        ones if None), as frames: see :class:`~layerviz.graph.GraphBackwardTrace`."""
        if not isinstance(self.output, np.ndarray):
            raise ValueError(f"backward needs a graph with one output array, got {value_shape(self.output)}: return "
                             "one tensor from the forward")
        return self._backward(np.array(check_grad_output(grad_output, self.output.shape)))

    def _backward(self, g: np.ndarray) -> GraphBackwardTrace:
        return graph_backward(self, g)

    def scene(self) -> Scene:
        """The flow: the input and every layer node's output, filling up as the nodes compute them."""
        parts = []
        for i, name in enumerate(self.names):
            title = f"{name}: {type(self.layer.node(name).op).__name__}"
            inner = self.traces[name]
            parts.append(FlowPart(name, title, inner, self.offsets[i], "output", np.asarray(inner.output)))
        first = []
        for name, x in zip(self.layer.inputs, self.inputs):
            values = np.asarray(x, dtype=np.float64)
            grid = tensor_grid(name, f"input {name}", values, "x")
            first.append(dataclasses.replace(grid, cmap=picture_cmap(self, values),
                                             vmax=float(np.abs(values).max(initial=0.0)) or 1.0))
        return flow_scene(f"{self.layer.short_repr()}", self, parts, first)
