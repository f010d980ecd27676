"""The player's JavaScript, tested with Node's own runner (``node --test tests/js/``), and its bundle.

Python writes the fixtures the JavaScript tests read, so that both ends of the wire format are held together:
scenes as :func:`~layerviz.player.encode_scene` sends them (their bytes as base64, which the JS tests turn into
DataViews as the browser gets them) with what decoding them must give, the scene of every course explorer at its
defaults, the zoo's graph scenes, and numbers as the narrations print them. The GIF encoder's bytes are decoded by
Pillow here. The committed bundle (layerviz/player/player.bundle.js) must be what its sources build.

Without Node these tests are skipped, unless LAYERVIZ_REQUIRE_NODE=1 (as in CI), which makes a missing Node a
failure. esbuild comes from npm: ``npm ci`` is run once when node_modules/ lacks it.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from layerviz._format import fixed
from layerviz.player import Player, encode_scene
from layerviz.scene import GraphLayout, Grid, Highlight, Network, Scene

REPO = Path(__file__).resolve().parents[1]
JS_TESTS = REPO / "tests" / "js"
BUNDLE = REPO / "layerviz" / "player" / "player.bundle.js"
#: Arrays longer than this are summarised in the expectations (length, first and last values, sum).
FULL = 4096
REBUILD = "rebuild it with `npm ci && npm run build` (see docs/player.md) and commit it"


# ---------------------------------------------------------------------------------------------- node, npm


@pytest.fixture(scope="module")
def node() -> str:
    """The path of ``node`` (20 or later); skips without it, fails with LAYERVIZ_REQUIRE_NODE=1."""
    found = shutil.which("node")
    problem = None if found else "no node on PATH"
    if found:
        version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout.strip()
        if int(version.lstrip("v").split(".")[0]) < 20:
            problem = f"node {version} is older than 20"
    if problem:
        if os.environ.get("LAYERVIZ_REQUIRE_NODE") == "1":
            pytest.fail(f"LAYERVIZ_REQUIRE_NODE=1 but {problem}")
        pytest.skip(problem)
    return found


@pytest.fixture(scope="module")
def esbuild(node) -> Path:
    """node_modules/ with the pinned esbuild (package-lock.json), installed by ``npm ci`` if missing."""
    package = REPO / "node_modules" / "esbuild" / "package.json"
    expected = json.loads((REPO / "package.json").read_text())["devDependencies"]["esbuild"]
    if not package.exists() or json.loads(package.read_text())["version"] != expected:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("esbuild is not installed (node_modules/) and there is no npm to run `npm ci`")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return REPO / "node_modules"


def run_node(node: str, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([node, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# ---------------------------------------------------------------------------------------------- fixtures


def wire(value):
    """``encode_scene``'s dict as JSON: bytes as ``{"$bytes": base64}`` (the JS tests make DataViews of them)."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [wire(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    return value


def numbers(array) -> list | dict | None:
    """What a typed array decoded from ``array`` must hold: every value (NaN as null), or a summary of a long one."""
    if array is None:
        return None
    flat = np.asarray(array).ravel()
    as_list = lambda a: [None if isinstance(v, float) and math.isnan(v) else v for v in a.tolist()]  # noqa: E731
    if flat.size <= FULL:
        return as_list(flat)
    finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
    return {"length": int(flat.size), "head": as_list(flat[:8]), "tail": as_list(flat[-8:]),
            "sum": float(np.sum(finite, dtype=np.float64))}


def expected(scene: Scene) -> dict:
    """What decodeScene must make of ``encode_scene(scene)``, field by field, from the scene itself."""
    top = float(np.finfo(np.float32).max)  # a larger float64 arrives as the largest float32 (encode_scene)
    f32 = lambda a: (None if a is None  # noqa: E731
                     else np.clip(np.asarray(a, dtype=np.float64), -top, top).astype(np.float32))
    i32 = lambda a: None if a is None else np.asarray(a, dtype=np.int32)  # noqa: E731
    u8 = lambda a: None if a is None else np.asarray(a, dtype=np.uint8)  # noqa: E731
    return {
        "title": scene.title, "n": int(scene.n_frames), "vmax": float(scene.vmax) if scene.vmax > 0 else 1,
        "lut": numbers(u8(scene.lut)), "lutN": int(np.asarray(scene.lut).shape[0]),
        "captions": [str(scene.captions[k]) for k in range(scene.n_frames)],
        "panels": [{
            "name": g.name, "title": g.title, "op": g.op, "labels": [str(v) for v in g.labels],
            "S": int(g.values.shape[0]), "H": int(g.values.shape[1]), "W": int(g.values.shape[2]),
            "ps": int(g.page_size), "nPages": int(g.n_pages), "values": numbers(f32(g.values)),
            "padding": numbers(u8(g.padding)), "reveal": numbers(i32(g.reveal)), "page": numbers(i32(g.page)),
            "vmax": float(g.vmax) if g.vmax is not None and g.vmax > 0 else 0, "cmap": g.cmap,
            "rowLabels": list(g.row_labels), "colLabels": list(g.col_labels), "shown": numbers(u8(g.shown)),
        } for g in scene.panels],
        "highlights": [{
            "panel": h.panel, "role": h.role, "label": h.legend,
            "origin": numbers(i32(np.asarray(h.origin).reshape(-1, 3))),
            "stencil": numbers(i32(np.asarray(h.stencil).reshape(-1, 3))),
            "m": int(np.asarray(h.stencil).reshape(-1, 3).shape[0]),
        } for h in scene.highlights],
        "networks": [{
            "title": w.title, "sizes": list(w.sizes), "T": int(sum(w.sizes)), "nPages": int(w.values.shape[0]),
            "values": numbers(f32(w.values)),
            "weights": numbers(f32(np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in w.weights]))),
            "maxW": w.max_weight(), "labels": [str(v) for v in w.column_labels], "reveal": numbers(i32(w.reveal)),
            "page": numbers(i32(w.page)), "active": numbers(i32(w.active)), "note": w.note,
        } for w in scene.networks],
        "graphs": [{
            "title": g.title, "nodes": list(g.nodes), "labels": list(g.labels), "edgeLabels": list(g.edge_labels),
            "N": len(g.nodes), "E": int(len(g.edges)), "nColumns": int(np.max(g.column)) + 1,
            "column": numbers(g.column), "row": numbers(g.row), "edges": numbers(g.edges),
            "bendRows": numbers(g.bend_rows), "reveal": numbers(i32(g.reveal)), "active": numbers(i32(g.active)),
            "note": g.note,
        } for g in scene.graphs],
    }


def hand_made_scene() -> Scene:
    """A small scene with every field the wire format has: NaN, padding, reveal, pages, a panel shown on some
    frames only, labels, a highlight that leaves the grid, captions in several scripts (one empty), a network, a
    graph with an arrow that skips a column."""
    n = 4
    values = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4) / 7 - 1.5
    values[0, 1, 2] = np.nan
    values[1, 2, 3] = 1e300  # beyond float32: the largest float32
    padding = np.zeros((2, 3, 4), dtype=bool)
    padding[:, 0, :] = True
    grid = Grid("x", "input x", values, ("channel 0", "channel 1"), padding=padding,
                reveal=np.arange(24, dtype=np.int32).reshape(2, 3, 4) % n, page_size=1,
                page=np.array([0, 1, 1, 0], dtype=np.int32), vmax=2.5, row_labels=("a", "b", "c"),
                col_labels=("t0", "t1", "t2", "t3"))
    picture = Grid("img", "a picture", np.linspace(0, 1, 9).reshape(1, 3, 3), ("digit",), op="∗", cmap="grey",
                   shown=np.array([True, False, True, True]))
    window = Highlight("x", np.array([[0, 0, 0], [1, 1, 1], [1, 2, 2], [0, 9, 9]], dtype=np.int32),
                       np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=np.int32), role="window", label="values read")
    out = Highlight("img", np.array([[0, k % 3, k % 3] for k in range(n)]), np.zeros((1, 3)), role="output")
    net = Network("net", "a network", (2, 3, 1), np.arange(12.0).reshape(2, 6) / 10,
                  (np.array([[0.5, -1.0], [np.nan, 2.0], [0.25, 0.0]]), np.array([[1.0, -0.5, 3.0]])),
                  ("in", "hidden", "out"), reveal=np.array([[0, 0, 1, 1, 2, 3]] * 2), page=np.array([0, 0, 1, 1]),
                  active=np.array([2, 3, 4, 5]), note="ReLU after the hidden layer")
    graph = GraphLayout("g", "a graph", ("x", "conv", "relu", "add"), ("input · (1, 3, 3)", "conv", "relu", "add"),
                        column=[0, 1, 2, 3], row=[0, 0, 0, 1], edges=[[0, 1], [1, 2], [2, 3], [0, 3]],
                        edge_labels=["(1, 3, 3)", "(2, 3, 3)", "", "(1, 3, 3)"], bend_rows=[1, 1],
                        reveal=[0, 1, 2, 3], active=[1, 2, 3, -1], note="a note")
    captions = ["out[0,0] = 1.00×0.50 + (−2.00)×1.25", "", "ünïcødé · 中文 · 😀", "last"]
    return Scene("Conv2d hand-made", n, (grid, picture), (window, out), captions, 3.0, networks=(net,), graphs=(graph,))


def players(widget):
    """Every Player in an ipywidgets tree."""
    if isinstance(widget, Player):
        yield widget
    for child in getattr(widget, "children", ()):
        yield from players(child)


def explorer_scenes() -> dict[str, Scene]:
    """The scene of every player of every course explorer, at the explorer's defaults."""
    import layerviz.ui as ui

    out = {}
    for name in ui.__all__:
        if not name.endswith("_explorer"):
            continue
        explorer = getattr(ui, name)()
        for i, player in enumerate(dict.fromkeys(players(explorer.widget))):
            if player.scene is not None:
                out[f"{name}[{i}]"] = player.scene
    return out


def zoo_graph_scenes() -> dict[str, Scene]:
    """The flow of each ready model of "Your own model", forward and backward."""
    from layerviz import flow, zoo
    from layerviz.ui.your_model import graph_trace

    out = {}
    for name in zoo.NAMES:
        trace = graph_trace(name, 0)
        out[f"{name} forward"] = flow.model_flow(trace)
        out[f"{name} backward"] = flow.backward_flow(trace.backward())
    return out


def number_cases() -> list[list]:
    """[value, decimals, text]: numbers as the narrations print them (layerviz._format.fixed)."""
    rng = np.random.default_rng(0)
    values = [0.0, -0.0, 0.125, -0.125, 0.375, 2.5, -0.5, 0.005, -0.005, 1.005, 2.675, 0.045, -1e-9, 1e-9, 0.994999,
              0.995, 123456.785, -7.25, 1 / 3, -2 / 3, 1e6 + 0.5, 0.015625, -0.0078125]
    values += rng.normal(0, 3, 200).tolist() + (rng.integers(-4000, 4000, 100) / 8).tolist()
    return [[v, d, fixed(v, d)] for v in values for d in (0, 1, 2, 3)]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    """The folder of the JS tests' fixtures (LAYERVIZ_JS_FIXTURES), written once for the module."""
    folder = tmp_path_factory.mktemp("js-fixtures")

    def write(name: str, scenes: dict[str, Scene]) -> None:
        entries = [{"name": key, "wire": wire(encode_scene(scene)), "expect": wire(expected(scene))}
                   for key, scene in scenes.items()]
        (folder / name).write_text(json.dumps(entries, allow_nan=False))

    explorers = explorer_scenes()
    zoo_scenes = zoo_graph_scenes()
    write("scenes.json", {"hand-made": hand_made_scene(), "conv_explorer": explorers["conv_explorer[0]"],
                          "network_explorer": explorers["network_explorer[0]"],
                          "lenet forward": zoo_scenes["lenet forward"]})
    write("explorers.json", explorers)
    write("graphs.json", zoo_scenes)
    (folder / "numbers.json").write_text(json.dumps(number_cases(), allow_nan=False))
    return folder


# ---------------------------------------------------------------------------------------------- tests


def test_the_javascript_unit_tests_pass(node, fixtures):
    """``node --test tests/js/``: decoding, panel and graph layout, formatting, export ranges, palettes, GIF."""
    done = run_node(node, "--test", "--test-reporter=spec", *sorted(str(p) for p in JS_TESTS.glob("*.test.mjs")),
                    env={"LAYERVIZ_JS_FIXTURES": str(fixtures)})
    assert done.returncode == 0, f"node --test failed:\n{done.stdout}\n{done.stderr}"
    assert "# fail 0" in done.stdout or "ℹ fail 0" in done.stdout, done.stdout


def test_the_committed_bundle_is_built_from_its_sources(node, esbuild, tmp_path):
    out = tmp_path / "player.bundle.js"
    done = run_node(node, "scripts/build_player.mjs", "--outfile", str(out))
    assert done.returncode == 0, f"the bundle did not build:\n{done.stdout}\n{done.stderr}"
    built = out.read_text(encoding="utf-8")
    assert str(REPO) not in built and "/home/" not in built and "/tmp/" not in built  # the same bytes anywhere
    assert BUNDLE.read_text(encoding="utf-8") == built, (
        f"{BUNDLE.relative_to(REPO)} is not what layerviz/player/src/ builds: {REBUILD}")
    assert Player._esm == built


def test_the_gif_encoder_writes_the_frames_it_is_given(node, tmp_path):
    """Frames of known pixels through the export's encoder (encodeGif, gif.js) in Node, decoded by Pillow."""
    from PIL import Image

    width, height, n = 40, 30, 6
    rng = np.random.default_rng(1)
    colours = rng.integers(0, 256, (12, 3))
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    frames[:] = (255, 255, 255)
    for k in range(n):
        if k:
            frames[k] = frames[k - 1]
        if k != 3:  # frame 3 repeats frame 2: a GIF frame of one unchanged pixel
            y, x = (5 * k) % (height - 6), (7 * k) % (width - 8)
            frames[k, y:y + 6, x:x + 8] = colours[k]
            frames[k, k, :] = colours[(k + 5) % 12]  # a line across
    # more colours than a palette holds: the frame is approximated (median cut), not exact
    many = np.stack(np.meshgrid(np.arange(width) * 6, np.arange(height) * 8), -1)
    gradient = np.concatenate([many, (many.sum(-1, keepdims=True) // 3)], -1).astype(np.uint8)
    source = tmp_path / "frames.bin"
    rgba = np.concatenate([frames, np.full((n, height, width, 1), 255, np.uint8)], -1)
    source.write_bytes(rgba.tobytes())
    out = tmp_path / "out.gif"
    done = run_node(node, "tests/js/encode_gif.mjs", str(source), str(width), str(height), str(n), "7", str(out))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    with Image.open(out) as gif:
        assert gif.n_frames == n and gif.size == (width, height) and gif.info.get("loop") == 0
        for k in range(n):
            gif.seek(k)
            assert gif.info["duration"] == 70
            assert np.array_equal(np.asarray(gif.convert("RGB")), frames[k]), f"frame {k} differs"
    opaque = np.full((height, width, 1), 255, np.uint8)
    (tmp_path / "many.bin").write_bytes(np.concatenate([gradient, opaque], -1).tobytes())
    done = run_node(node, "tests/js/encode_gif.mjs", str(tmp_path / "many.bin"), str(width), str(height), "1", "10",
                    str(tmp_path / "many.gif"))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    with Image.open(tmp_path / "many.gif") as gif:
        error = np.abs(np.asarray(gif.convert("RGB"), dtype=int) - gradient).max(-1)
    assert len(np.unique(gradient.reshape(-1, 3), axis=0)) > 255
    # 1200 colours, one pixel each: 191 kept exact, the rest median-cut into 64 boxes (8 levels a channel, about)
    assert error.mean() < 12 and error.max() < 32, (error.mean(), error.max())
