"""Saving an animation is the browser player's (tests/browser/test_export.py): the kernel computes nothing.

Scripts keep ``trace.save()`` / ``layerviz.mpl.save`` (matplotlib), tested in tests/test_mpl.py.
"""

from __future__ import annotations

import re

import ipywidgets as widgets

from layerviz.player import Player
from layerviz.ui.conv import conv_explorer


def all_widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from all_widgets(child)


def test_the_explorer_has_no_export_of_its_own():
    explorer = conv_explorer(size=5)
    assert not hasattr(explorer, "export")
    buttons = [w.description for w in all_widgets(explorer.widget) if isinstance(w, widgets.Button)]
    assert not [d for d in buttons if d.startswith("Save")], buttons


def test_the_player_module_carries_the_gif_encoder():
    # anywidget loads one module: the bundle of layerviz/player/src/ (gif.js among them), with one default export.
    assert "var GifWriter = class" in Player._esm and "Save GIF" in Player._esm
    assert len(re.findall(r"^export \{\s*\w+ as default\s*\};", Player._esm, flags=re.M)) == 1
