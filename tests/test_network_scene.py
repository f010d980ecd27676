"""The Network scene primitive: its checks, its wire encoding for the browser, and its matplotlib drawing."""

from __future__ import annotations

import numpy as np
import pytest

from layerviz.mpl import SceneFigure, draw_frame
from layerviz.player import Player, encode_scene
from layerviz.scene import Grid, Network, Scene


def make_network(n_frames: int = 6) -> Network:
    rng = np.random.default_rng(0)
    sizes = (3, 2, 1)
    values = rng.normal(size=(2, 6))
    w1, w2 = rng.normal(size=(2, 3)), rng.normal(size=(1, 2))
    w1[1, 2] = np.nan  # no line
    reveal = np.tile(np.array([0, 0, 0, 0, 1, 2], dtype=np.int32), (2, 1))
    reveal[1] += 3
    page = (np.arange(n_frames) >= 3).astype(np.int32)
    active = np.array([3, 4, 5, 3, 4, -1], dtype=np.int32)
    return Network("net", "a network", sizes, values, (w1, w2), ("in (3)", "hidden (2)", "out (1)"),
                   reveal=reveal, page=page, active=active, note="number of layers = 1 + 1 = 2")


def network_scene(with_grid: bool = False) -> Scene:
    net = make_network()
    panels = (Grid("g", "grid", np.ones((1, 2, 2)), ("g",)),) if with_grid else ()
    return Scene("net scene", 6, panels, (), [f"frame {k}" for k in range(6)], 2.0, networks=(net,))


def test_network_checks_its_shapes():
    net = make_network()
    with pytest.raises(ValueError, match=r"values must be \(pages, 6\)"):
        Network("n", "t", (3, 2, 1), np.zeros((1, 5)), net.weights, net.column_labels)
    with pytest.raises(ValueError, match=r"weights\[0\] must be \(2, 3\)"):
        Network("n", "t", (3, 2, 1), np.zeros(6), (np.zeros((3, 2)), np.zeros((1, 2))), net.column_labels)
    with pytest.raises(ValueError, match="one label per column"):
        Network("n", "t", (3, 2, 1), np.zeros(6), net.weights, ("a",))
    with pytest.raises(ValueError, match="at least one Grid panel or one Network"):
        Scene("empty", 1, (), (), ["x"], 1.0)
    assert net.offsets.tolist() == [0, 3, 5, 6]
    assert net.shown(1).tolist() == [True, True, True, True, True, False]
    assert net.shown(3).tolist() == [True, True, True, True, False, False]  # page 1: 3 frames later


def test_encode_round_trip():
    scene = network_scene()
    enc = encode_scene(scene)
    assert enc["panels"] == []
    (w,) = enc["networks"]
    net = scene.networks[0]
    assert w["sizes"] == [3, 2, 1] and w["n_pages"] == 2 and w["title"] == "a network"
    assert w["column_labels"] == list(net.column_labels) and w["note"] == net.note
    np.testing.assert_array_equal(np.frombuffer(w["values"], "<f4").reshape(2, 6), net.values.astype(np.float32))
    flat = np.frombuffer(w["weights"], "<f4")
    np.testing.assert_array_equal(flat[:6].reshape(2, 3), net.weights[0].astype(np.float32))
    np.testing.assert_array_equal(flat[6:].reshape(1, 2), net.weights[1].astype(np.float32))
    for key, ref in (("reveal", net.reveal), ("page", net.page), ("active", net.active)):
        np.testing.assert_array_equal(np.frombuffer(w[key], "<i4").reshape(np.shape(ref)), ref)
    assert w["max_weight"] == pytest.approx(np.nanmax(np.abs(np.concatenate([net.weights[0].ravel(), net.weights[1].ravel()]))))


def test_scenes_without_networks_send_an_empty_list():
    enc = encode_scene(Scene("g", 1, (Grid("g", "grid", np.ones((1, 1, 1)), ("g",)),), (), ["x"], 1.0))
    assert enc["networks"] == []
    player = Player(network_scene())
    assert player.n_frames == 6 and len(player._scene["networks"]) == 1


@pytest.mark.parametrize("with_grid", [False, True])
def test_matplotlib_draws_the_network(with_grid):
    scene = network_scene(with_grid)
    sf = SceneFigure(scene)
    (view,) = sf._networks
    assert len(view.lines.get_segments()) == 6 + 2 - 1  # every line but the NaN one
    sf.update(0, draw=False)
    faces = view.neurons.get_facecolors()
    assert np.allclose(faces[4], (0.985, 0.985, 0.985, 1.0))  # not computed yet: empty
    assert not np.allclose(faces[3], (0.985, 0.985, 0.985, 1.0))
    assert view.ring.get_visible() and np.allclose(view.ring.get_offsets()[0], view.xy[3])
    assert len(view.lit_lines.get_segments()) == 3  # neuron 3 has 3 inputs
    sf.update(1, draw=False)
    assert len(view.lit_lines.get_segments()) == 2  # neuron 4: the NaN weight draws no line
    sf.update(2, draw=False)
    assert len(view.lit_lines.get_segments()) == 2
    n_artists = len(sf.fig.findobj())
    sf.update(5, draw=False)
    assert not view.ring.get_visible() and len(view.lit_lines.get_segments()) == 0
    assert len(sf.fig.findobj()) == n_artists
    assert sf.caption.get_text() == "frame 5"
    draw_frame(scene, 3).canvas.draw()


def test_a_panel_may_have_its_own_colour_scale():
    panels = (Grid("a", "small", np.full((1, 1, 2), 0.5), ("a",)),
              Grid("b", "large (±20)", np.full((1, 1, 2), 10.0), ("b",), vmax=20.0))
    scene = Scene("scales", 1, panels, (), ["x"], 1.0)
    enc = encode_scene(scene)
    assert [p["vmax"] for p in enc["panels"]] == [None, 20.0]
    sf = SceneFigure(scene)
    small, large = sf.images["a"][0], sf.images["b"][0]
    assert small.norm.vmax == 1.0 and large.norm.vmax == 20.0
    # 10 on a ±20 scale is drawn like 0.5 on the ±1 scale
    np.testing.assert_allclose(large.to_rgba(np.array([[10.0]])), small.to_rgba(np.array([[0.5]])))
