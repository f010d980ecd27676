"""The player widget's Python side: scene encoding and traits (no browser)."""

import numpy as np
import pytest

from layerviz.player import Player, encode_scene
from layerviz.scene import HIGHLIGHT_COLORS, ROLE_LABELS, Grid, Highlight, Scene


def make_scene(n_frames: int = 12, out_w: int = 4) -> Scene:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, out_w + 1)).astype(np.float32)
    padding = np.zeros(x.shape, dtype=bool)
    padding[:, 0, :] = True
    y = rng.normal(size=(1, 3, out_w)).astype(np.float32)
    reveal = np.arange(y.size, dtype=np.int32).reshape(y.shape)
    page = (np.arange(n_frames) % 2).astype(np.int32)
    origin = np.stack([page, np.arange(n_frames) % 2, np.arange(n_frames) % out_w], axis=1).astype(np.int32)
    stencil = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1]], dtype=np.int32)
    captions = [f"frame {k}: y = Σ wᵢ·xᵢ ≈ {k / 3:.2f} — ünïcode" for k in range(n_frames)]
    captions[3] = ""  # an empty caption must survive the round trip
    return Scene(
        title="hand-made",
        n_frames=n_frames,
        panels=(
            Grid("x", "input", x, ("c0", "c1"), padding=padding, page_size=1, page=page),
            Grid("y", "output", y, ("out",), reveal=reveal, op="=", row_labels=("a", "b", "c"),
                 col_labels=tuple(f"t{j}" for j in range(out_w))),
        ),
        highlights=(
            Highlight("x", origin, stencil, role="window", label="values read"),
            Highlight("y", np.zeros((n_frames, 3), np.int32), np.zeros((1, 3), np.int32), role="output"),
        ),
        captions=captions,
        vmax=2.5,
    )


def test_encode_scene_round_trip():
    scene = make_scene()
    enc = encode_scene(scene)
    assert enc["n_frames"] == scene.n_frames
    assert enc["vmax"] == pytest.approx(2.5)
    assert enc["title"] == "hand-made"
    lut = np.frombuffer(enc["lut"], dtype="<u1").reshape(enc["lut_size"], 3)
    np.testing.assert_array_equal(lut, scene.lut)
    for grid, p in zip(scene.panels, enc["panels"]):
        assert p["shape"] == list(grid.values.shape)
        assert p["labels"] == list(grid.labels)
        assert p["page_size"] == grid.page_size
        assert p["op"] == grid.op and p["title"] == grid.title
        assert p["cmap"] == grid.cmap == "diverging"
        assert p["row_labels"] == list(grid.row_labels) and p["col_labels"] == list(grid.col_labels)
        values = np.frombuffer(p["values"], dtype="<f4").reshape(p["shape"])
        np.testing.assert_array_equal(values, grid.values)
        for key, dtype, ref in (("padding", "<u1", grid.padding), ("reveal", "<i4", grid.reveal)):
            if ref is None:
                assert p[key] is None
            else:
                got = np.frombuffer(p[key], dtype=dtype).reshape(p["shape"])
                np.testing.assert_array_equal(got, ref.astype(got.dtype))
        if grid.page is None:
            assert p["page"] is None
        else:
            np.testing.assert_array_equal(np.frombuffer(p["page"], dtype="<i4"), grid.page)
    for hl, h in zip(scene.highlights, enc["highlights"]):
        assert h["panel"] == hl.panel and h["role"] == hl.role
        assert h["color"] == HIGHLIGHT_COLORS[hl.role]
        assert h["label"] == hl.legend == (hl.label or ROLE_LABELS[hl.role])
        assert [g.name for g in scene.panels][h["panel_index"]] == hl.panel
        np.testing.assert_array_equal(np.frombuffer(h["origin"], "<i4").reshape(-1, 3), hl.origin)
        np.testing.assert_array_equal(np.frombuffer(h["stencil"], "<i4").reshape(-1, 3), hl.stencil)
        assert h["n_stencil"] == len(hl.stencil)
    off = np.frombuffer(enc["caption_offsets"], dtype="<i4")
    assert off.shape == (scene.n_frames + 1,) and off[0] == 0
    blob = enc["captions"]
    decoded = [blob[off[k] : off[k + 1]].decode("utf-8") for k in range(scene.n_frames)]
    assert decoded == list(scene.captions)


def test_encode_scene_is_bytes_and_json():
    """Arrays are raw bytes (sent as binary buffers); everything else is plain JSON."""
    import json

    enc = encode_scene(make_scene())

    def strip(obj):
        if isinstance(obj, bytes):
            return None
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    json.dumps(strip(enc))
    assert isinstance(enc["panels"][0]["values"], bytes)
    assert isinstance(enc["captions"], bytes)


def test_encode_scene_lazy_captions():
    class Lazy:
        def __len__(self):
            return 5

        def __getitem__(self, k):
            return f"caption {k}"

    scene = make_scene(n_frames=5)
    scene = Scene(scene.title, 5, scene.panels[1:], (), Lazy(), 1.0)
    enc = encode_scene(scene)
    off = np.frombuffer(enc["caption_offsets"], "<i4")
    assert enc["captions"][off[4] : off[5]] == b"caption 4"


def test_player_traits_and_scene():
    scene = make_scene()
    player = Player(scene)
    assert player.scene is scene
    assert player.n_frames == scene.n_frames
    assert player.frame == 0 and player.playing is False and player.fps == 8
    assert player._scene["n_frames"] == scene.n_frames
    player.frame = 5
    assert player.frame == 5
    player.frame = 1000  # clamped
    assert player.frame == scene.n_frames - 1
    player.frame = -3
    assert player.frame == 0
    player.fps = 100
    assert player.fps == 60
    player.playing = True
    assert player.playing

    player.frame = 7
    other = make_scene(n_frames=20, out_w=6)
    player.scene = other
    assert player.scene is other
    assert player.n_frames == 20 and player.frame == 0
    assert player._scene["panels"][1]["shape"] == [1, 3, 6]
    player.show(scene, frame=4)
    assert player.frame == 4 and player.n_frames == scene.n_frames


def test_player_kwargs_and_empty():
    player = Player(make_scene(), frame=3, fps=12)
    assert player.frame == 3 and player.fps == 12
    empty = Player()
    assert empty.scene is None and empty.n_frames == 0 and empty._scene is None
    empty.frame = 4
    assert empty.frame == 0


def test_scene_change_is_one_message():
    """A new scene, its frame count and the frame reset reach the browser together."""
    player = Player(make_scene())
    player.frame = 6
    sent = []
    player._send = lambda msg, buffers=None: sent.append((msg, buffers))
    player.scene = make_scene(n_frames=9)
    assert len(sent) == 1
    msg, buffers = sent[0]
    assert {"_scene", "n_frames", "frame"} <= set(msg["state"])
    assert buffers and all(isinstance(b, (bytes, memoryview)) for b in buffers)
    assert any("values" in path for path in msg["buffer_paths"])
