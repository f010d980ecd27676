"""The explorer's export buttons: a GIF of the animation, a PNG of the frame shown, as download links."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from layerviz import mpl as lv_mpl
from layerviz.ui import export
from layerviz.ui.conv import conv_explorer


def downloaded(link_html: str) -> tuple[str, bytes]:
    match = re.search(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', link_html)
    assert match, link_html
    return match.group(1), base64.b64decode(match.group(2))


@pytest.fixture
def explorer():
    return conv_explorer(size=5)  # 3x3 output: 9 frames


def test_png_is_the_frame_shown(explorer):
    explorer.player.frame = 4
    assert explorer.export.save(".png") == "layerviz-conv2d-5.png"
    name, content = downloaded(explorer.export.link.value)
    assert name == "layerviz-conv2d-5.png"
    assert Image.open(io.BytesIO(content)).format == "PNG"


def test_gif_holds_every_frame_and_the_progress_bar_ran(explorer):
    assert explorer.export.save(".gif") == "layerviz-conv2d-1-9.gif"
    _, content = downloaded(explorer.export.link.value)
    gif = Image.open(io.BytesIO(content))
    assert gif.format == "GIF" and gif.n_frames == 9
    assert explorer.export.progress.value == explorer.export.progress.max == 9
    assert explorer.export.progress.layout.visibility == "hidden"
    assert not explorer.export.buttons[".gif"].disabled


def test_long_animations_are_cut_from_the_current_frame(explorer, monkeypatch):
    monkeypatch.setattr(export, "MAX_ANIMATION_FRAMES", 4)
    explorer.player.frame = 2
    assert explorer.export.frames() == range(2, 6)
    explorer.player.frame = 8  # near the end: the last 4 frames
    assert explorer.export.frames() == range(5, 9)


def test_mp4_button_follows_ffmpeg(explorer):
    assert explorer.export.buttons[".mp4"].disabled is not export.ffmpeg_available()


def test_a_failed_drawing_is_a_message_not_a_traceback(explorer, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(lv_mpl, "save", broken)
    assert explorer.export.save(".gif") is None
    assert 'role="alert"' in explorer.export.link.value and "boom" not in explorer.export.link.value
    assert not explorer.export.buttons[".gif"].disabled


def test_ffmpeg_check_agrees_with_matplotlibs_writer():
    from matplotlib import animation

    assert export.ffmpeg_available() is animation.writers.is_available("ffmpeg")
