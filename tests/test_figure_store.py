"""The pages' static figures: drawn once, then shown from the stored PNG without matplotlib, redrawn when
anything they show changes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from layerviz import figure_store
from layerviz.figure_store import StoredFigure, fingerprint

DRAWN: list[dict] = []


class _Picture:
    def __init__(self, data: dict) -> None:
        self.data = data

    def _repr_png_(self) -> bytes:
        return b"\x89PNG " + repr(sorted(self.data.items(), key=str)).encode()


def draw(**data) -> _Picture:
    DRAWN.append(data)
    return _Picture(data)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERVIZ_FIGURES", str(tmp_path / "figures"))
    DRAWN.clear()
    return tmp_path / "figures"


def test_the_fingerprint_tells_apart_what_differs():
    same = fingerprint(draw, {"values": np.arange(6.0).reshape(2, 3), "title": "h"})
    assert same == fingerprint(draw, {"values": np.arange(6.0).reshape(2, 3), "title": "h"})
    for other in ({"values": np.arange(6.0).reshape(3, 2), "title": "h"},  # the same bytes, another shape
                  {"values": np.arange(6).reshape(2, 3), "title": "h"},  # another dtype
                  {"values": np.arange(6.0).reshape(2, 3), "title": "c"},
                  {"values": np.arange(6.0).reshape(2, 3) + 1e-15, "title": "h"},
                  {"values": [np.arange(6.0).reshape(2, 3)], "title": "h"}):
        assert fingerprint(draw, other) != same
    assert len({fingerprint(draw, {"n": v}) for v in (1, 1.0, "1", True, None)}) == 5
    with pytest.raises(TypeError, match="arrays, numbers, strings"):
        fingerprint(draw, {"model": object()})


def test_a_figure_is_drawn_once_then_read_back(folder):
    first = StoredFigure(draw, values=np.ones(3), title="x")
    png = first._repr_png_()
    assert len(DRAWN) == 1 and list(folder.glob("*.png")) == [folder / f"{first.key}.png"]
    again = StoredFigure(draw, values=np.ones(3), title="x")
    assert again._repr_png_() == png and len(DRAWN) == 1  # not drawn again
    StoredFigure(draw, values=np.ones(3), title="y")._repr_png_()
    assert len(DRAWN) == 2 and len(list(folder.glob("*.png"))) == 2
    assert again.figure.data == {"values": again.data["values"], "title": "x"} and len(DRAWN) == 3  # asked for


def test_off_or_unwritable_draws_every_time(folder, monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERVIZ_FIGURES", "off")
    for _ in range(2):
        assert StoredFigure(draw, n=1)._repr_png_().startswith(b"\x89PNG")
    assert len(DRAWN) == 2
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("LAYERVIZ_FIGURES", str(blocked / "figures"))
    assert StoredFigure(draw, n=2)._repr_png_().startswith(b"\x89PNG") and len(DRAWN) == 3


def test_the_folder_stays_bounded(folder, monkeypatch):
    monkeypatch.setattr(figure_store, "MAX_FILES", 4)
    for n in range(5):
        StoredFigure(draw, n=n)._repr_png_()
    assert len(list(folder.glob("*.png"))) == 3  # the older half of five went
    assert not list(folder.glob("*.part"))


def test_a_page_shows_a_stored_figure_without_importing_matplotlib(tmp_path):
    """Two kernels of one page, one after the other: the first draws the heat map, the second shows the same PNG
    and never imports matplotlib."""
    script = textwrap.dedent("""
        import sys
        import layerviz as lv
        trace = lv.LSTM(1, 3, rng=0).frames(lv.ui.rnn.sequence("sine", 8))
        png = lv.ui.rnn.hidden_heatmap(trace)._repr_png_()
        sys.stdout.buffer.write(png[:8] + (b"mpl" if "matplotlib" in sys.modules else b"---") + png)
    """)
    env = {**__import__("os").environ, "LAYERVIZ_FIGURES": str(tmp_path)}
    first, second = (subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, check=True).stdout
                     for _ in range(2))
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and first[8:11] == b"mpl"
    assert second[8:11] == b"---" and second[11:] == first[11:]
