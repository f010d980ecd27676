"""What to draw, as data.

A :class:`Scene` describes a layer's animation with a few generic primitives,
so that the browser player and the matplotlib view can draw any layer without
knowing what a layer is:

- :class:`Grid`: a panel of ``S`` stacked 2-D grids of numbers (``values: (S, H, W)``),
  drawn with a shared diverging colormap. Optional per-cell arrays mark padding
  cells and the frame at which a cell's value appears (an output filling up).
  Slices may be split into *pages* (``page_size`` slices each); a per-frame
  ``page`` array says which page is shown (the kernel of the current output
  channel, the current sample of a batch).
- :class:`Highlight`: a per-frame set of outlined cells in one panel: an anchor
  ``origin[k] = (slice, row, col)`` plus a fixed ``stencil`` of offsets.
- ``captions``: the narration of every frame, as text.

Frame ``k`` of a scene is drawn as: every panel shows page ``page[k]``; cells
whose ``reveal`` is greater than ``k`` are drawn empty; each highlight outlines
``origin[k] + stencil``; the caption is ``captions[k]``. Highlight cells that fall outside
their grid are not drawn: a layer hides a highlight on a frame by moving its origin off the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Colour-blind-safe diverging colormap (ColorBrewer RdBu, reversed: red > 0, blue < 0).
CMAP_NAME = "RdBu_r"

#: Highlight roles and their colours, shared by the browser and matplotlib views.
#: Chosen from the Okabe-Ito palette, which stays distinct under colour blindness.
HIGHLIGHT_COLORS = {
    "window": "#E69F00",  # orange: the input cells being read
    "kernel": "#009E73",  # green: the weights being used
    "output": "#000000",  # black: the cell being written
    "max": "#D55E00",  # vermillion: the winning cell (max pooling)
    "stat": "#56B4E9",  # sky blue: a statistic being computed or used (mean, variance)
}


def colormap_lut(n: int = 256) -> np.ndarray:
    """Return the scene colormap as an ``(n, 3)`` uint8 lookup table (low to high)."""
    from matplotlib import colormaps  # matplotlib is a runtime dependency; the lookup is tiny

    rgba = colormaps[CMAP_NAME](np.linspace(0.0, 1.0, n))
    return np.round(rgba[:, :3] * 255).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class Grid:
    """A panel of ``S`` stacked 2-D grids of numbers.

    Parameters
    ----------
    name : str
        Identifier, referenced by :class:`Highlight`.
    title : str
        Heading drawn above the panel.
    values : ndarray, shape (S, H, W)
        The numbers. Drawn coloured by value, with the number printed when cells are large enough.
    labels : tuple of str, length S
        One label per slice (e.g. ``"channel 0"``).
    padding : ndarray of bool, shape (S, H, W), optional
        True where a cell is padding (drawn hatched; its value is what the padding put there, 0 for zero padding).
    reveal : ndarray of int32, shape (S, H, W), optional
        First frame at which the cell's value is shown; before it the cell is drawn empty.
    page_size : int
        Slices shown at once. ``S`` must be a multiple of it.
    page : ndarray of int32, shape (n_frames,), optional
        Page shown at each frame (slices ``page*page_size`` to ``(page+1)*page_size - 1``).
        None means page 0 at every frame.
    op : str
        Operator drawn to the left of the panel (``"∗"``, ``"="``, or ``""``).
    """

    name: str
    title: str
    values: np.ndarray
    labels: tuple[str, ...]
    padding: np.ndarray | None = None
    reveal: np.ndarray | None = None
    page_size: int = 0
    page: np.ndarray | None = None
    op: str = ""

    def __post_init__(self) -> None:
        if self.values.ndim != 3:
            raise ValueError(f"Grid values must be (S, H, W), got shape {self.values.shape}")
        if self.page_size == 0:
            object.__setattr__(self, "page_size", self.values.shape[0])
        if self.values.shape[0] % self.page_size:
            raise ValueError("Grid page_size must divide the number of slices")
        if len(self.labels) != self.values.shape[0]:
            raise ValueError("Grid needs one label per slice")

    @property
    def n_pages(self) -> int:
        return self.values.shape[0] // self.page_size

    def page_at(self, k: int) -> int:
        """The page shown at frame ``k``."""
        return 0 if self.page is None else int(self.page[k])


@dataclass(frozen=True, eq=False)
class Highlight:
    """Outlined cells in one panel: ``origin[k] + stencil`` at frame ``k``.

    Parameters
    ----------
    panel : str
        Name of the :class:`Grid` it outlines.
    origin : ndarray of int32, shape (n_frames, 3)
        Anchor ``(slice, row, col)`` per frame. Slices are absolute (not page-relative);
        cells on slices not on the current page are not drawn.
    stencil : ndarray of int32, shape (m, 3)
        Offsets ``(dslice, drow, dcol)`` added to the anchor.
    role : str
        A key of :data:`HIGHLIGHT_COLORS`.
    """

    panel: str
    origin: np.ndarray
    stencil: np.ndarray
    role: str = "window"

    def cells(self, k: int) -> np.ndarray:
        """The ``(m, 3)`` cells outlined at frame ``k``."""
        return self.origin[k] + self.stencil


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything needed to draw every frame of a trace.

    Parameters
    ----------
    title : str
        What is being animated, e.g. ``"Conv2d(1, 1, kernel_size=(3, 3))"``.
    n_frames : int
    panels : tuple of Grid
        Drawn left to right.
    highlights : tuple of Highlight
    captions : sequence of str, length n_frames
        Narration per frame; may be lazy (any object with ``len`` and ``[k]``).
    vmax : float
        The colormap spans ``[-vmax, vmax]`` (a diverging map centred on 0).
    """

    title: str
    n_frames: int
    panels: tuple[Grid, ...]
    highlights: tuple[Highlight, ...]
    captions: Sequence[str]
    vmax: float
    lut: np.ndarray = field(default_factory=colormap_lut)

    def panel(self, name: str) -> Grid:
        for grid in self.panels:
            if grid.name == name:
                return grid
        raise KeyError(name)
