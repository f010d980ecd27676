"""No information by colour alone: highlight roles differ in line pattern or lightness, and are named in a key."""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.colors import to_rgb

import layerviz as lv
from layerviz import mpl
from layerviz.player.widget import encode_scene
from layerviz.scene import HIGHLIGHT_COLORS, HIGHLIGHT_DASHES


def luminance(color: str) -> float:
    """WCAG relative luminance."""
    channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(color)]
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def test_roles_with_the_same_line_pattern_differ_in_lightness():
    assert set(HIGHLIGHT_DASHES) == set(HIGHLIGHT_COLORS)
    for a, b in itertools.combinations(HIGHLIGHT_COLORS, 2):
        if HIGHLIGHT_DASHES[a] == HIGHLIGHT_DASHES[b]:
            lighter, darker = sorted((luminance(HIGHLIGHT_COLORS[a]), luminance(HIGHLIGHT_COLORS[b])), reverse=True)
            assert (lighter + 0.05) / (darker + 0.05) >= 3, (a, b)  # WCAG contrast for graphics


def conv_trace():
    return lv.Conv2d(1, 1, 2, rng=0).frames(np.arange(9.0).reshape(1, 3, 3))


def test_the_browser_gets_each_highlight_line_pattern():
    encoded = encode_scene(conv_trace().scene())
    patterns = {h["role"]: h["dash"] for h in encoded["highlights"]}
    assert patterns == {"window": [6, 3], "kernel": [], "output": []}


def test_matplotlib_draws_the_patterns_and_names_them():
    view = mpl.SceneFigure(conv_trace().scene())
    view.update(0, draw=False)
    roles = [h.role for h in view.scene.highlights]
    window = view.highlights[roles.index("window")][0]
    kernel = view.highlights[roles.index("kernel")][0]
    assert kernel.get_linestyle() in ("-", "solid") and window.get_linestyle() not in ("-", "solid")
    legend = view.fig.legends[0]  # the layer's words for each role, as the browser's legend says them
    assert [t.get_text() for t in legend.get_texts()] == [h.legend for h in view.scene.highlights]
    assert [t.get_text() for t in legend.get_texts()] == ["window", "kernel", "output cell"]
