"""The flow of a graph's trace, forward or backward: a panel per part (a node, a sum of paths), filling up at the
part's frames."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from layerviz.layers._chain import largest_finite, placed_origin, placed_page, placed_reveal
from layerviz.scene import Grid, Highlight, Scene
from layerviz.tensor_grid import tensor_grid
from layerviz.trace import LazyCaptions, Trace


class FlowPart(NamedTuple):
    """One part of a flow: its panel is the ``panel`` of the part's own scene, else ``fallback`` drawn whole."""

    name: str  # the panel's name in the flow
    title: str
    trace: Trace  # the part's own trace
    start: int  # the part's first frame in the whole trace
    panel: str | None  # the panel of the part's scene to draw; None: draw ``fallback``
    fallback: np.ndarray


def flow_scene(title: str, trace: Trace, parts: list[FlowPart], first: list[Grid]) -> Scene:
    """Panels ``first``, then one per part: the part's own panel (its reveal and highlights moved to the part's
    frames in ``trace``), else its fallback values drawn whole from the part's first frame (a part with neither
    has no panel)."""
    total = len(trace)
    panels, highlights = list(first), []
    for part in parts:
        grid, sub = _own_panel(part)
        if grid is None:
            values = np.asarray(part.fallback, dtype=np.float64)
            if values.size == 0:
                continue
            grid = tensor_grid(part.name, part.title, values, "out")
            reveal = np.full(grid.values.shape, part.start, dtype=np.int32)
        else:
            reveal = placed_reveal(grid, part.start)
        panels.append(Grid(part.name, part.title, grid.values, grid.labels, padding=grid.padding, reveal=reveal,
                           page_size=grid.page_size, page=placed_page(grid.page, part.start, total), op="→",
                           vmax=largest_finite(grid.values) or 1.0, row_labels=grid.row_labels,
                           col_labels=grid.col_labels))
        if sub is not None and part.panel:
            for h in sub.highlights:
                if h.panel == part.panel:
                    origin = placed_origin(h.origin, part.start, len(part.trace), total)
                    highlights.append(Highlight(part.name, origin, h.stencil, h.role, h.label))
    vmax = max((largest_finite(p.values) for p in panels), default=1.0) or 1.0
    return Scene(title, total, tuple(panels), tuple(highlights), LazyCaptions(trace), vmax)


def _own_panel(part: FlowPart) -> tuple[Grid | None, Scene | None]:
    """The part's panel from its own scene, and that scene: ``(None, None)`` where the part's trace draws no
    scene, ``(None, scene)`` where its scene has no such panel."""
    try:
        sub = part.trace.scene()
    except (KeyError, ValueError, TypeError):
        return None, None
    try:
        return (sub.panel(part.panel) if part.panel else None), sub
    except (KeyError, ValueError, TypeError):
        return None, sub
