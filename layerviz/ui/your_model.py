"""The page "Your own model": a ready model's torch code, its flow node by node, and any node's own player.

:func:`your_model_explorer` is an :class:`~layerviz.ui.explorer.Explorer` whose controls are the ready model
(:mod:`layerviz.zoo`), the seed of its weights and the node to open. Above the explorer's player, the *flow*
player steps through the whole model, one frame per node (:func:`layerviz.flow.model_flow`): a map of the graph
on top, the node computed lit; a click on a node's box opens that node (``flow.clicked_node`` sets the ``node``
control, as the node buttons do, which stay the keyboard's way). The explorer's own player is the chosen node's: ``explorer.trace`` is that node's trace (its "predict the next value" and its
"show me the code" are the node's), ``explorer.graph_trace`` the whole model's. The forward | backward switch
shows the model's backward pass from dL/dout = 1 (:func:`layerviz.flow.backward_flow`) and the chosen node's
part of it.

Only ready models: the served app never loads a model file a student uploads (unpickling runs its code).
"""

from __future__ import annotations

import functools
import html
from typing import Any

import ipywidgets as widgets
import numpy as np

from layerviz import flow, zoo
from layerviz.graph.trace import GraphTrace
from layerviz.player import Player
from layerviz.trace import Trace
from layerviz.ui import prose
from layerviz.ui.copyable import CodeBlock
from layerviz.ui.explorer import Explorer

#: What the model picker offers: (label, zoo name).
MODEL_CHOICES = (("CIFAR-10 Net", "cifar"), ("LeNet on a digit", "lenet"), ("ResNet (2 blocks)", "resnet"),
                 ("LSTM tagger", "tagger"))

#: The node each model opens on: a layer with weights whose player draws at once (the CIFAR and LeNet first
#: convolutions have 4704 steps: about a second to send).
FIRST_NODE = {"cifar": "conv2", "lenet": "conv2", "resnet": "conv1", "tagger": "lstm"}


@functools.lru_cache(maxsize=8)
def _model(name: str, seed: int) -> zoo.ZooModel:
    return zoo.model(name, seed)


@functools.lru_cache(maxsize=8)
def graph_trace(name: str, seed: int) -> GraphTrace:
    """The forward trace of ready model ``name`` (weights of ``seed``) on its input (cached: same settings, same trace)."""
    entry = _model(name, seed)
    trace = entry.graph.frames(entry.input)
    trace.picture = entry.input.dtype.kind == "f"
    return trace


@functools.lru_cache(maxsize=8)
def _graph_backward(name: str, seed: int):
    return graph_trace(name, seed).backward()


def residual_sum(seed: int = 0, node: str = "relu"):
    """The ResNet's backward part where the gradients of both paths from ``node`` (a block's input: its
    convolutions, and the shortcut) are summed, from dL/dout = 1."""
    for name, kind, part in _graph_backward("resnet", seed).parts:
        if name == node and kind == "sum":
            return part
    raise ValueError(f"node must be a node that feeds several paths of the ResNet, got {node!r}")


def residual_table(seed: int = 0, node: str = "relu", entries: int = 4) -> prose.Table:
    """``entries`` entries of :func:`residual_sum` (those where both paths' gradients are largest): each path's
    gradient and their sum, as the engine computed them."""
    part = residual_sum(seed, node)
    rows = []
    stack = np.abs(np.stack([np.asarray(part[k].operands, dtype=np.float64) for k in range(len(part))]))
    for k in sorted(np.argsort(stack.min(axis=1))[::-1][:entries]):  # the entries where both paths weigh most
        frame = part[k]
        values = list(np.asarray(frame.operands, dtype=np.float64))
        rows.append([f"d{node}{list(frame.cell)}", *values, float(frame.result)])
    header = ["entry", *(f"path {j + 1}: {p}" for j, p in enumerate(part.paths)), "sum"]
    return prose.table(rows, header, digits=4, fixed=True)


def node_names(name: str) -> tuple[str, ...]:
    """The layer nodes of ready model ``name``, in forward order: what the node chooser suggests."""
    return graph_trace(name, 0).names


def three_lines(entry: zoo.ZooModel) -> str:
    """What a student types in JupyterLab after the model's source: build it, convert it, step through it."""
    mode = ".eval()" if entry.eval else ""
    return (f"import layerviz as lv\n\nmodel = {entry.construct}{mode}\n{entry.example}\n"
            f"graph = lv.from_torch(model, x)      # the model's forward as a layerviz graph, weights included\n"
            f"graph.frames(x).player()           # step through it\n")


def describe(trace: Trace) -> str:
    """The line above the node's player: the model's output as its labels, then the node chosen."""
    entry, whole = trace.zoo, trace.graph_trace
    out = np.asarray(whole.output)
    if entry.name == "tagger":
        tags = [entry.labels[int(i)] for i in out.argmax(axis=1)]
        words = " ".join(f"{w}/<b>{t}</b>" for w, t in zip(zoo.SENTENCE, tags))
        result = f"Tags read (the largest log-probability of each word): {words}."
    else:
        scores = out[0]
        top = np.argsort(scores)[::-1][:3]
        result = ("Highest scores: " + ", ".join(f"{html.escape(entry.labels[i])} {scores[i]:.2f}" for i in top)
                  + " (untrained weights: the answer means nothing yet).")
    node = trace.node_name
    return (f"{html.escape(whole.layer.short_repr())}: input {tuple(np.shape(whole.input))} → output "
            f"{tuple(out.shape)}. {result}<br>Node <code>{html.escape(whole.layer.node(node).code)}</code>: "
            f"{len(trace)} steps, in the player below.")


class ModelExplorer(Explorer):
    """The explorer of :func:`your_model_explorer`, with the flow player and the model's code above its player.

    Attributes
    ----------
    graph_trace : GraphTrace
        The whole model's forward trace (``trace`` is the chosen node's).
    flow : Player
        One frame per node: the forward flow, or the backward one when the switch shows it.
    source : CodeBlock
        The model's torch source and the three lines that convert it.
    """

    def __init__(self, controls: dict[str, widgets.ValueWidget], **kwargs: Any) -> None:
        self.graph_trace: GraphTrace | None = None
        self.graph_backward = None
        self.flow = Player()
        self.about = widgets.HTML()
        self.source = CodeBlock()
        self.nodes = widgets.ToggleButtons(options=node_names(controls["model"].value), value=None,
                                           description="open a node", style={"description_width": "initial",
                                                                             "button_width": "auto"})
        self.nodes.add_class("layerviz-nodes")
        controls["model"].observe(self._on_model, names="value")
        super().__init__(controls, self._build_node, describe, [["model"], ["seed", "node"], ["nodes"]],
                         extras={"nodes": self.nodes}, backward=self._node_backward,
                         describe_backward=self._describe_backward, **kwargs)
        self.nodes.observe(self.guard(self._on_node_button), names="value")
        self.flow.observe(self.guard(self._on_clicked_node), names="clicked_node")
        code_fold = widgets.Accordion(children=[self.source], selected_index=0)
        code_fold.set_title(0, "The model's code (torch), and the three lines that step through it")
        children = [c for c in self.widget.children if self.nodes not in getattr(c, "children", ())]
        at = children.index(self.summary)
        flow_title = widgets.HTML("<b>The whole model, one step per node</b> (click a node's box, or choose it "
                                  "below, to step through its own computation)")
        node_title = widgets.HTML("<b>The node chosen, step by step</b>")
        self.widget.children = (*children[:at], self.about, code_fold, flow_title, self.flow, self.nodes,
                                node_title, *children[at:])
        self.widget.add_class("layerviz-your-model")

    def _on_model(self, change: dict) -> None:
        """New model: its nodes in the chooser, on its first node (one redraw, by the explorer)."""
        holding, self._holding = getattr(self, "_holding", False), True
        try:
            self.nodes.options = node_names(change["new"])
            self.controls["node"].value = FIRST_NODE[change["new"]]
        finally:
            self._holding = holding

    def _on_node_button(self, change: dict) -> None:
        if change["new"] is not None and change["new"] != self.controls["node"].value:
            self.controls["node"].value = change["new"]

    def _on_clicked_node(self, change: dict) -> None:
        """A box of the flow's map clicked: open its node (an input has no computation of its own: nothing).
        The trait is set back to "" so that a second click on the same box is heard."""
        name = change["new"]
        if not name:
            return
        self.flow.clicked_node = ""
        names = self.graph_trace.names if self.graph_trace is not None else ()
        if name in names and name != self.controls["node"].value:
            self.controls["node"].value = name

    def _build_node(self, values: dict[str, Any]) -> Trace:
        name, seed, node = values["model"], values["seed"], values["node"]
        whole = graph_trace(name, seed)
        if node not in whole.traces:
            raise ValueError(f"node must be one of {', '.join(whole.names)}, got {node!r}")
        trace = whole.traces[node]
        trace.zoo, trace.graph_trace, trace.node_name = _model(name, seed), whole, node
        return trace

    def _node_backward(self, trace: Trace) -> Trace:
        backward = _graph_backward(trace.zoo.name, int(self.controls["seed"].value))
        for node, kind, part in backward.parts:
            if node == trace.node_name and kind == "node":
                return part
        raise ValueError(f"{trace.node_name} does not feed the output: it has no gradient")

    def _describe_backward(self, part: Trace) -> str:
        node = self.trace.node_name if self.trace is not None else ""
        return (f"Backward pass of the model from dL/dout = 1 for every output (the loss is the sum of the "
                f"outputs); node <code>{html.escape(node)}</code>: {len(part)} steps, in the player below.")

    def _show(self, trace: Trace, values: dict[str, Any] | None = None) -> None:
        whole = trace.graph_trace
        backward = _graph_backward(trace.zoo.name, int(self.controls["seed"].value)) if self.backward_shown else None
        scene = flow.model_flow(whole) if backward is None else flow.backward_flow(backward)
        super()._show(trace, values)
        self.graph_trace, self.graph_backward = whole, backward
        entry = trace.zoo
        self.about.value = f"<p>{html.escape(entry.about)}</p>"
        self.source.value = entry.source + "\n\n" + three_lines(entry)
        self.flow.scene = scene
        self.nodes.value = trace.node_name


def your_model_explorer(**initial: Any) -> ModelExplorer:
    """A :class:`ModelExplorer` of the ready models: which model, the seed of its weights, which node to open."""
    style = {"description_width": "initial"}
    controls: dict[str, widgets.ValueWidget] = {
        "model": widgets.ToggleButtons(options=MODEL_CHOICES, value="cifar", description="model", style=style),
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed of the weights", style=style,
                                       layout=widgets.Layout(width="230px")),
        "node": widgets.Text(value=FIRST_NODE["cifar"], continuous_update=False, description="node",
                             placeholder="a node, e.g. conv1", style=style, layout=widgets.Layout(width="300px")),
    }
    if "model" in initial:
        controls["model"].value = initial["model"]
        controls["node"].value = FIRST_NODE[initial["model"]]
    for name, value in initial.items():
        controls[name].value = value
    return ModelExplorer(controls)
