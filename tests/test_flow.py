"""The whole-model flow (:mod:`layerviz.flow`): the map of a graph as a GraphLayout, one node's panels a frame, and a
click on a map's box opening its node in "Your own model" (the trait set from Python, no browser)."""

from __future__ import annotations

import numpy as np
import pytest

from layerviz import flow
from layerviz.graph import refs
from layerviz.player.widget import encode_scene
from layerviz.scene import GraphLayout
from layerviz.ui import your_model
from layerviz.ui.your_model import your_model_explorer


@pytest.fixture(scope="module")
def resnet():
    return your_model.graph_trace("resnet", 0)


@pytest.fixture(scope="module")
def resnet_flow(resnet):
    return flow.model_flow(resnet)


def place(layout: GraphLayout) -> dict[str, tuple[int, int]]:
    return {name: (int(c), int(r)) for name, c, r in zip(layout.nodes, layout.column, layout.row)}


def test_the_resnet_map_puts_each_block_on_a_row_and_its_shortcut_on_another(resnet, resnet_flow):
    (layout,) = resnet_flow.graphs
    at = place(layout)
    assert layout.nodes == ("x", *resnet.names)
    assert layout.labels[layout.nodes.index("conv1")] == "conv1 · Conv2d"
    assert layout.labels[0] == "x · input"
    assert at["x"] == (0, 0) and at["conv1"] == (1, 0) and at["fc"][0] == max(at[n][0] for n in at)
    # block 1: its layers on row 0 between relu and add; the identity shortcut relu -> add runs along row 1
    block = ("layer1_conv1", "layer1_bn1", "relu_1", "layer1_conv2", "layer1_bn2")
    assert [at[n] for n in block] == [(at["relu"][0] + 1 + i, 0) for i in range(5)]
    assert at["add"] == (at["relu"][0] + 6, 0)
    shortcut = [e for e, (s, t) in enumerate(layout.edges.tolist())
                if (layout.nodes[s], layout.nodes[t]) == ("relu", "add")]
    assert len(shortcut) == 1 and layout.bends(shortcut[0]).tolist() == [1] * 5
    # block 2: the downsampling shortcut's layers on row 1, beside the block's first layers
    assert at["layer2_downsample_0"] == (at["layer2_conv1"][0], 1)
    assert at["layer2_downsample_1"] == (at["layer2_bn1"][0], 1)
    assert len(set(at.values())) == len(at)  # no two boxes in one place


def test_every_arrow_carries_the_shape_of_the_tensor_it_passes(resnet, resnet_flow):
    (layout,) = resnet_flow.graphs
    wanted = {}
    for name in resnet.names:
        for parent in flow.tensor_parents(resnet, name):
            wanted[(parent, name)] = str(tuple(np.shape(resnet.values[parent])))
    found = {(layout.nodes[s], layout.nodes[t]): label for (s, t), label in zip(layout.edges.tolist(),
                                                                              layout.edge_labels)}
    assert found == wanted
    assert found[("x", "conv1")] == "(1, 3, 16, 16)" and found[("relu", "add")] == "(1, 4, 16, 16)"
    assert found[("flatten", "fc")] == "(1, 8)"


def test_an_arrow_through_an_item_carries_the_part_read():
    tagger = your_model.graph_trace("tagger", 0)
    (layout,) = flow.model_flow(tagger).graphs
    found = {(layout.nodes[s], layout.nodes[t]): label for (s, t), label in zip(layout.edges.tolist(),
                                                                              layout.edge_labels)}
    assert found[("lstm", "view_1")] == "(5, 1, 6)"  # lstm[0], not the whole (output, (h, c)) tuple
    assert "len_1" not in layout.nodes  # a value node (len(x)) is not a tensor passed on


def test_each_frame_lights_its_node_and_shows_only_its_panels(resnet, resnet_flow):
    (layout,) = resnet_flow.graphs
    assert resnet_flow.n_frames == len(resnet.names) == 22
    for k, name in enumerate(resnet.names):
        assert layout.nodes[layout.active_at(k)] == name
        computed = layout.computed(k)
        assert computed[: 1 + k + 1].all() and not computed[1 + k + 1:].any()  # x and nodes up to k; later faded
        shown = {p.name for p in resnet_flow.panels if p.shown_at(k)}
        assert shown == {name, *flow.tensor_parents(resnet, name)}
    add = resnet.names.index("add")
    assert {p.name for p in resnet_flow.panels if p.shown_at(add)} == {"add", "layer1_bn2", "relu"}


def test_the_backward_flow_lights_the_nodes_newest_first():
    backward = your_model._graph_backward("resnet", 0)
    scene = flow.backward_flow(backward)
    (layout,) = scene.graphs
    assert scene.n_frames == len(backward.parts)
    assert [layout.nodes[layout.active_at(i)] for i in range(scene.n_frames)] == [n for n, _, _ in backward.parts]
    assert layout.computed(0).sum() == 1 and layout.computed(scene.n_frames - 1).all()
    for i in range(scene.n_frames):
        assert 1 <= sum(p.shown_at(i) for p in scene.panels) <= 2  # that part's gradient (and dL/dout first)


def test_the_map_travels_in_the_scene_wire_format(resnet_flow):
    encoded = encode_scene(resnet_flow)
    (graph,) = encoded["graphs"]
    layout = resnet_flow.graphs[0]
    assert graph["nodes"] == list(layout.nodes) and graph["edge_labels"] == list(layout.edge_labels)
    assert np.frombuffer(graph["edges"], "<i4").reshape(-1, 2).tolist() == layout.edges.tolist()
    assert np.frombuffer(graph["active"], "<i4").tolist() == layout.active.tolist()
    assert np.frombuffer(graph["bend_rows"], "<i4").tolist() == layout.bend_rows.tolist()
    shown = [np.frombuffer(p["shown"], "u1") for p in encoded["panels"]]
    assert all(len(s) == resnet_flow.n_frames for s in shown)


def test_a_graph_layout_refuses_what_it_cannot_draw():
    base = dict(name="g", title="", nodes=("a", "b"), labels=("a", "b"), column=[0, 1], row=[0, 0],
                edges=[[0, 1]], edge_labels=("(1,)",), bend_rows=[])
    GraphLayout(**base)
    with pytest.raises(ValueError, match="later column"):
        GraphLayout(**{**base, "column": [1, 0]})
    with pytest.raises(ValueError, match="share"):
        GraphLayout(**{**base, "column": [0, 0], "edges": np.zeros((0, 2)), "edge_labels": ()})
    with pytest.raises(ValueError, match="bend_rows"):
        GraphLayout(**{**base, "column": [0, 2]})
    with pytest.raises(ValueError, match="one label per edge"):
        GraphLayout(**{**base, "edge_labels": ()})


def test_the_map_is_linear_in_the_nodes():
    """A chain of many nodes places its boxes one column each, on one row, without trying combinations."""
    lenet = your_model.graph_trace("lenet", 0)
    (layout,) = flow.model_flow(lenet).graphs
    assert layout.row.tolist() == [0] * len(layout.nodes)
    assert layout.column.tolist() == list(range(len(layout.nodes)))


def test_a_click_on_a_box_opens_its_node():
    explorer = your_model_explorer(model="resnet")
    assert explorer.trace.node_name == "conv1"
    explorer.flow.clicked_node = "add"  # what the browser sends when the box of "add" is clicked
    assert explorer.controls["node"].value == "add" and explorer.trace.node_name == "add"
    assert explorer.nodes.value == "add"  # the node buttons follow
    assert explorer.flow.clicked_node == ""  # ready for the next click, even on the same box
    explorer.nodes.value = "fc"
    explorer.flow.clicked_node = "add"
    assert explorer.trace.node_name == "add"
    explorer.flow.clicked_node = "x"  # an input has no computation of its own: nothing changes
    assert explorer.trace.node_name == "add" and explorer.flow.clicked_node == ""
    assert explorer.error.value == ""  # no error shown
