"""The backward pass of a :class:`~layerviz.Graph`: the chain rule in reverse topological order, as frames.

Each node's backward runs on the gradient of its output; a node whose output feeds several paths gets the *sum*
of the paths' gradients, shown as frames of its own (:mod:`layerviz.graph.path_sum`) before its own backward.
Parameter gradients are keyed by torch's names (``"layer1.0.conv1.weight"``), a layer used twice summing the
gradients of its uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from layerviz._format import count
from layerviz.backward import BackwardTrace
from layerviz.graph.flow_scene import FlowPart, flow_scene
from layerviz.graph.nodes import Node, Ref, where
from layerviz.graph.path_sum import path_sum
from layerviz.graph.state import parameter_names
from layerviz.layers._chain import ChainFrame, chain_offsets, part_of
from layerviz.scene import Scene
from layerviz.tensor_grid import tensor_grid
from layerviz.trace import Trace

if TYPE_CHECKING:
    from layerviz.graph.trace import GraphTrace


@dataclass(frozen=True, eq=False, repr=False)  # keeps ChainFrame's repr
class GraphGradFrame(ChainFrame):
    """A frame of the backward of one node (or of a sum of paths' gradients): a
    :class:`~layerviz.layers._chain.ChainFrame` (``index``, ``inner``, ``narration``, ``result``, ``question``);
    ``inner`` is the node's own backward frame, ``cell`` the gradient entry it computes there.

    Attributes
    ----------
    node : str
        The node whose backward (or whose paths' sum) it belongs to.
    grad : str
        The gradient computed: a parameter's torch name (``"conv1.weight"``); for a sum of paths, the node's name
        (the gradient of its output); else ``"node:step"``, the node's own name of it (``"conv1:input"``, the
        gradient conv1 hands back; ``"lstm:dh"``).
    """

    node: str
    grad: str

    @property
    def cell(self):
        return getattr(self.inner, "cell", None)


class GraphBackwardTrace(BackwardTrace):
    """The backward pass of a :class:`~layerviz.Graph`: node after node in reverse topological order.

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
        self.offsets = chain_offsets([len(t) for _, _, t in parts])
        self.n_frames = self.offsets[-1]
        graph = forward.layer
        self._parameters = tuple(parameter_names(graph.node(node)) if kind == "node" else set()
                                 for node, kind, _ in self.parts)
        self.prefixes = tuple(("" if kind == "sum" else f"backward of {graph.node(node).code}: ")
                              for node, kind, _ in self.parts)
        for array in (self.input, *self.grads.values(), *self.node_grads.values()):
            array.flags.writeable = False

    def section_of(self, k: int) -> int:
        """The part (a node's backward, or a sum of paths) frame ``k`` belongs to."""
        return part_of(self.offsets, k)

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
        return GraphGradFrame(index=k, inner=inner, narration=self.prefixes[i] + inner.narration, node=node,
                              grad=grad)

    def __repr__(self) -> str:
        return (f"<GraphBackwardTrace of {self.layer.short_repr()}: {self.n_frames} frames over "
                f"{count(len(self.parts), 'part')}, grad_output {self.input.shape} -> grads {list(self.grads)}>")

    def scene(self) -> Scene:
        """The upstream gradient, then the gradient each part hands back, filling up as its frames compute it."""
        parts = []
        for i, (node, kind, trace) in enumerate(self.parts):
            panel = next((f"g{s}" for s, section in enumerate(trace.sections) if section.key in ("input", "sum")),
                         None)
            title = f"d{node} (sum of {len(trace.paths)} paths)" if kind == "sum" else f"backward of {node}"
            fallback = trace.grads.get("input", np.zeros(0))
            parts.append(FlowPart(f"b{i}", title, trace, self.offsets[i], panel, fallback))
        first = [tensor_grid("dout", "upstream gradient dL/dout", self.input, "dout")]
        return flow_scene(f"backward of {self.layer.short_repr()}", self, parts, first)


def graph_backward(forward: GraphTrace, g: np.ndarray) -> GraphBackwardTrace:
    """The chain rule over the graph of ``forward``, newest node first, for ``g`` (dL/d output, checked)."""
    output = forward.layer.output
    if not isinstance(output, Ref):
        raise ValueError("backward needs a graph whose output is one node")
    return _ChainRule(forward).run(output.name, g)


class _ChainRule:
    """One backward pass over a graph: the gradients handed to each node by the nodes that read it, gathered as
    the nodes are visited newest first, and what each node's backward gives."""

    def __init__(self, forward: GraphTrace) -> None:
        self.forward = forward
        # contributions[name]: (consumer, gradient) pairs; a gradient of a tuple output is a dict {path: array}
        self.contributions: dict[str, list] = {}
        self.parts: list[tuple[str, str, BackwardTrace]] = []
        self.param_grads: dict[str, np.ndarray] = {}
        self.node_grads: dict[str, np.ndarray] = {}
        self.input_grads: dict[str, np.ndarray] = {}

    def run(self, output: str, g: np.ndarray) -> GraphBackwardTrace:
        self._hand(output, "output", g)
        for node in reversed(self.forward.layer.nodes):
            self._visit(node)
        return GraphBackwardTrace(self.forward, g, self.parts, self._grads(), self.node_grads)

    def _hand(self, name: str, consumer: str, grad: Any) -> None:
        """Node ``consumer`` hands ``grad``, the gradient of node ``name``'s output along its path, back to it."""
        self.contributions.setdefault(name, []).append((consumer, grad))

    def _visit(self, node: Node) -> None:
        contribs = self.contributions.pop(node.name, None)
        if contribs is None or node.kind == "value":
            if node.kind == "input":
                self.input_grads[node.name] = np.zeros(np.shape(self.forward.values[node.name]))
            return
        total = self._output_grad(node, contribs)
        if isinstance(total, np.ndarray):
            self.node_grads[node.name] = total
        if node.kind == "input":
            self.input_grads[node.name] = total
        elif node.kind == "item":
            self._item_backward(node, total)
        else:
            self._layer_backward(node, total)

    def _output_grad(self, node: Node, contribs: list) -> Any:
        """The gradient of the node's output: its paths' gradients summed (as frames of their own for a tensor
        read by several nodes; by path, ``{path: array}``, for a tuple output)."""
        if isinstance(self.forward.values[node.name], tuple):
            total: Any = {}
            for _, grad in contribs:
                for path, array in (grad.items() if isinstance(grad, dict) else [((), grad)]):
                    total[path] = total[path] + array if path in total else array
            return total
        if len(contribs) > 1:
            trace = path_sum(node.name, [(c, np.asarray(v, dtype=np.float64)) for c, v in contribs])
            self.parts.append((node.name, "sum", trace))
            return trace.grads["input"]
        return np.asarray(contribs[0][1], dtype=np.float64)

    def _item_backward(self, node: Node, total: Any) -> None:
        """An item of a tuple hands its gradient back under its path in the tuple; the tensor itself, unchanged."""
        parent = node.args[0]
        if not isinstance(parent, Ref):
            return
        index = node.op.index
        grad = total if index is None else {
            (index, *path): array for path, array in (total.items() if isinstance(total, dict) else [((), total)])}
        self._hand(parent.name, node.name, grad)

    def _layer_backward(self, node: Node, total: Any) -> None:
        """The layer's backward: its frames, its parameters' gradients (summed over the layer's uses), and the
        gradients it hands back to the nodes it read."""
        try:
            btrace = node_backward(self.forward.traces[node.name], self.forward.values[node.name], total)
        except (ValueError, TypeError, AttributeError) as error:
            raise ValueError(f"backward of node {node.name} ({where(node)}): {error}") from error
        self.parts.append((node.name, "node", btrace))
        names = parameter_names(node)
        for key, array in btrace.grads.items():
            if key in names:
                full = f"{node.module}.{key}"
                self.param_grads[full] = self.param_grads[full] + array if full in self.param_grads else np.array(array)
        for j, position in enumerate(node.grad_args):
            key = "input" if j == 0 else f"input{j}"
            arg = node.args[position]
            if isinstance(arg, Ref) and key in btrace.grads:
                self._hand(arg.name, node.name, btrace.grads[key])

    def _grads(self) -> dict[str, np.ndarray]:
        """The parameters' gradients in torch's order, then the inputs' (``"input"``, ``"input1"``, …)."""
        graph = self.forward.layer
        grads = {key: self.param_grads[key] for key, _ in graph.named_parameters() if key in self.param_grads}
        for j, name in enumerate(graph.inputs):
            grads["input" if j == 0 else f"input{j}"] = self.input_grads.get(
                name, np.zeros(np.shape(self.forward.values[name])))
        return grads


def node_backward(trace: Trace, value: Any, total: Any) -> BackwardTrace:
    """A node's backward for the gradient of its output (a dict by path for a tuple output)."""
    if hasattr(trace, "h_n"):
        return _recurrent_backward(trace, total)
    if isinstance(total, dict):  # max pooling's (values, indices): only the values carry a gradient
        total = total.get((0,), np.zeros(np.shape(value[0])))
    if not callable(getattr(trace, "backward", None)):
        raise TypeError(f"{trace.layer!r} has no backward pass in layerviz yet")
    return trace.backward(total)


def _recurrent_backward(trace: Trace, total: Any) -> BackwardTrace:
    """A recurrent layer's backward: its output is ``(output, h_n)``, or ``(output, (h_n, c_n))`` for an LSTM."""
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
