"""Tests of the matplotlib view, on small scenes built by hand."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import animation
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from layerviz import mpl
from layerviz.scene import HIGHLIGHT_COLORS, Grid, Highlight, Scene


def stencil(*shape: int) -> np.ndarray:
    return np.stack(np.indices(shape, dtype=np.int32), axis=-1).reshape(-1, 3)


@pytest.fixture
def scene() -> Scene:
    """A 2x2 kernel over a 4x4 input with a padding ring, giving a 3x3 output in 9 frames."""
    padding = np.ones((1, 4, 4), dtype=bool)
    padding[0, 1:3, 1:3] = False
    inputs = np.zeros((1, 4, 4))
    inputs[0, 1:3, 1:3] = [[-8.0, 1.0], [3.0, 6.0]]
    kernel = np.array([[[1.0, -1.0], [2.0, -2.0]]])
    i, j = (a.ravel() for a in np.indices((3, 3), dtype=np.int32))
    output = np.array([[[(inputs[0, r:r + 2, c:c + 2] * kernel[0]).sum() for c in range(3)] for r in range(3)]])
    zeros = np.zeros_like(i)
    return Scene(
        title="conv",
        n_frames=9,
        panels=(
            Grid("input", "input", inputs, ("x[0]",), padding=padding),
            Grid("kernel", "kernel", kernel, ("w[0]",), op="∗"),
            Grid("output", "output", output, ("y[0]",), reveal=np.arange(9, dtype=np.int32).reshape(1, 3, 3), op="="),
        ),
        highlights=(
            Highlight("input", np.stack([zeros, i, j], axis=1), stencil(1, 2, 2), "window"),
            Highlight("kernel", np.zeros((9, 3), dtype=np.int32), stencil(1, 2, 2), "kernel"),
            Highlight("output", np.stack([zeros, i, j], axis=1), np.zeros((1, 3), dtype=np.int32), "output"),
        ),
        captions=[f"step {k}: y[{k // 3},{k % 3}] is the sum of four products" for k in range(9)],
        vmax=8.0,
    )


@pytest.fixture
def paged() -> Scene:
    """Two input channels, two output channels whose kernels are two pages; 8 frames."""
    rng = np.random.default_rng(0)
    o, i, j = (a.ravel() for a in np.indices((2, 2, 2), dtype=np.int32))
    zeros = np.zeros_like(o)
    return Scene(
        title="paged",
        n_frames=8,
        panels=(
            Grid("input", "input", rng.normal(size=(2, 3, 3)), ("x[0]", "x[1]")),
            Grid("kernel", "kernel", np.arange(16.0).reshape(4, 2, 2), ("w[0,0]", "w[0,1]", "w[1,0]", "w[1,1]"),
                 page_size=2, page=o, op="∗"),
            Grid("output", "output", rng.normal(size=(2, 2, 2)), ("y[0]", "y[1]"),
                 reveal=np.arange(8, dtype=np.int32).reshape(2, 2, 2), op="="),
        ),
        highlights=(
            Highlight("input", np.stack([zeros, i, j], axis=1), stencil(2, 2, 2), "window"),
            Highlight("kernel", np.stack([2 * o, zeros, zeros], axis=1), stencil(2, 2, 2), "kernel"),
            Highlight("kernel", np.tile([3, 1, 1], (8, 1)).astype(np.int32), np.zeros((1, 3), np.int32), "output"),
        ),
        captions=[f"frame {k}" for k in range(8)],
        vmax=15.0,
    )


def revealed(image) -> int:
    return int((~np.ma.getmaskarray(image.get_array())).sum())


def outlined(sf: mpl.SceneFigure, h: int) -> set[tuple[int, int, int]]:
    """The (axes index, row, col) of the visible rectangles of highlight ``h``."""
    name = sf.scene.highlights[h].panel
    cells = set()
    for rect in sf.highlights[h]:
        if rect.get_visible():
            x, y = rect.get_xy()
            cells.add((sf.axes[name].index(rect.axes), round(y + 0.5), round(x + 0.5)))
    return cells


def test_one_axes_per_visible_slice_and_a_colorbar(scene, paged):
    assert len(mpl.SceneFigure(scene).fig.axes) == 1 + 1 + 1 + 1
    sf = mpl.SceneFigure(paged)
    assert len(sf.fig.axes) == 2 + 2 + 2 + 1
    assert [len(sf.axes[name]) for name in ("input", "kernel", "output")] == [2, 2, 2]


def test_update_reveals_one_output_cell_per_frame(scene):
    sf = mpl.SceneFigure(scene)
    image = sf.images["output"][0]
    for k in [0, 4, 8, 2]:
        sf.update(k)
        assert image is sf.images["output"][0]
        assert revealed(image) == k + 1
        shown = ~np.ma.getmaskarray(image.get_array())
        np.testing.assert_array_equal(shown, scene.panels[2].reveal[0] <= k)
    assert revealed(sf.images["input"][0]) == 16


def test_numbers_follow_the_reveal(scene):
    sf = mpl.SceneFigure(scene)
    sf.update(4)
    ax = sf.axes["output"][0]
    visible = sorted(t.get_text() for t in ax.texts if t.get_visible())
    expected = sorted(f"{v:.0f}" for v in scene.panels[2].values[0].ravel()[:5])
    assert visible == expected
    assert not mpl.SceneFigure(scene, numbers=False).axes["output"][0].texts


def test_number_colour_reads_on_the_background(scene):
    sf = mpl.SceneFigure(scene)
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in sf.axes["input"][0].texts}
    assert to_hex(texts[1, 1].get_color()) == "#ffffff"
    assert to_hex(texts[1, 2].get_color()) != "#ffffff"
    assert texts[0, 0].get_text() == "0"
    assert len(sf._views[0].padding[0].get_paths()) == 12


def test_highlights_outline_the_right_cells(scene):
    sf = mpl.SceneFigure(scene)
    for k in range(9):
        sf.update(k)
        r, c = divmod(k, 3)
        assert outlined(sf, 0) == {(0, r + p, c + q) for p in (0, 1) for q in (0, 1)}
        assert outlined(sf, 1) == {(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)}
        assert outlined(sf, 2) == {(0, r, c)}
    for h, role in enumerate(["window", "kernel", "output"]):
        assert to_hex(sf.highlights[h][0].get_edgecolor()) == HIGHLIGHT_COLORS[role].lower()


def test_highlights_across_slices_and_pages(paged):
    sf = mpl.SceneFigure(paged)
    sf.update(7)
    assert outlined(sf, 0) == {(c, 1 + p, 1 + q) for c in (0, 1) for p in (0, 1) for q in (0, 1)}
    assert outlined(sf, 1) == {(c, p, q) for c in (0, 1) for p in (0, 1) for q in (0, 1)}
    assert outlined(sf, 2) == {(1, 1, 1)}
    sf.update(0)
    assert outlined(sf, 0) == {(c, p, q) for c in (0, 1) for p in (0, 1) for q in (0, 1)}
    assert outlined(sf, 2) == set()


def test_page_change_swaps_the_data_in_place(paged):
    sf = mpl.SceneFigure(paged)
    images = list(sf.images["kernel"])
    values = paged.panels[1].values
    for k, page in [(0, 0), (5, 1), (3, 0)]:
        sf.update(k)
        assert sf.images["kernel"] == images
        for j in range(2):
            np.testing.assert_array_equal(images[j].get_array(), values[2 * page + j])
            assert sf.axes["kernel"][j].get_title() == paged.panels[1].labels[2 * page + j]
            texts = [t.get_text() for t in sf.axes["kernel"][j].texts]
            assert sorted(texts) == sorted(f"{v:.0f}" for v in values[2 * page + j].ravel())


def test_update_changes_artists_without_adding_any(scene):
    sf = mpl.SceneFigure(scene)
    count = sum(len(ax.get_children()) for ax in sf.fig.axes) + len(sf.fig.texts)
    for k in range(9):
        sf.update(k)
        assert sf.caption.get_text().replace("\n", " ") == scene.captions[k]
        assert sf.frame == k
    assert sum(len(ax.get_children()) for ax in sf.fig.axes) + len(sf.fig.texts) == count
    with pytest.raises(IndexError):
        sf.update(9)


def test_long_captions_wrap_inside_the_figure(scene):
    long = "out = " + " + ".join(["0.25×(-1.50)"] * 30)
    sf = mpl.SceneFigure(dataclasses.replace(scene, captions=[long] * 9))
    renderer = FigureCanvasAgg(sf.fig).get_renderer()
    box = sf.caption.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= sf.fig.bbox.width and box.y0 >= 0
    assert sf.caption.get_text().count("\n") <= 2


def test_draw_frame_is_a_static_figure_outside_pyplot(scene):
    before = plt.get_fignums()
    fig = mpl.draw_frame(scene, 4)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before
    assert any(t.get_text() == scene.captions[4] for t in fig.texts)


def test_given_figure_is_used(scene):
    fig = Figure(figsize=(5, 3))
    assert mpl.SceneFigure(scene, fig, resize=False).fig is fig
    np.testing.assert_allclose(fig.get_size_inches(), (5, 3))
    assert len(fig.axes) == 4


def test_animate_plays_the_chosen_frames(scene):
    anim = mpl.animate(scene, frames=[2, 5], fps=10)
    assert isinstance(anim, animation.FuncAnimation)
    html = anim.to_jshtml()
    assert html.count("data:image/png;base64") == 2
    assert anim.scene_figure.frame == 5


def test_gif_has_the_requested_frames(scene, tmp_path):
    path = tmp_path / "conv.gif"
    calls = []
    mpl.save(scene, path, frames=range(1, 5), fps=5, progress=lambda i, n: calls.append((i, n)))
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 4
    assert calls == [(i, 4) for i in range(4)]


def test_png_is_one_frame(scene, tmp_path):
    mpl.save(scene, tmp_path / "first.png")
    mpl.save(scene, tmp_path / "five.png", frames=5)
    with Image.open(tmp_path / "five.png") as png:
        assert png.format == "PNG"
        assert getattr(png, "n_frames", 1) == 1
        fig = mpl.draw_frame(scene, 5)
        assert np.allclose(png.size, fig.get_size_inches() * 150, atol=1)
        five = np.asarray(png.convert("RGB"))
    with Image.open(tmp_path / "first.png") as png:
        assert not np.array_equal(np.asarray(png.convert("RGB")), five)


def test_mp4_without_ffmpeg_is_a_clear_error(scene, tmp_path, monkeypatch):
    monkeypatch.setattr(animation.writers, "is_available", lambda name: False)
    with pytest.raises(ValueError, match="ffmpeg"):
        mpl.save(scene, tmp_path / "conv.mp4")
    assert not (tmp_path / "conv.mp4").exists()


def test_unknown_format_is_an_error(scene, tmp_path):
    with pytest.raises(ValueError, match=r"\.gif"):
        mpl.save(scene, tmp_path / "conv.avi")
