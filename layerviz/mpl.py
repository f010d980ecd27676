"""Matplotlib drawing of a :class:`~layerviz.scene.Scene`.

The figure and its artists are built once by :class:`SceneFigure`; moving to
another frame only updates them in place (image data, text strings, rectangle
positions), then asks the canvas for an idle redraw. This keeps stepping through
thousands of frames cheap, in a notebook (``%matplotlib widget``) as well as in
an exported animation.

>>> sf = SceneFigure(trace.scene())
>>> sf.update(5)                    # frame 5, redrawn in place
>>> save(trace.scene(), "conv.gif", frames=range(20))

Everything works with the non-interactive Agg backend: without ``fig`` a bare
:class:`matplotlib.figure.Figure` is created, which pyplot does not track (nothing
to close). Pass ``fig=plt.figure()`` to draw into a pyplot-managed window instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from matplotlib import animation, colormaps, rc_context
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.textpath import TextToPath

from layerviz._format import fixed
from layerviz.scene import CMAP_NAME, HIGHLIGHT_COLORS, HIGHLIGHT_DASHES, Grid, Network, Scene

__all__ = ["PngFigure", "SceneFigure", "animate", "draw_frame", "save"]

#: Numbers are printed in the cells of slices at most this many cells high and wide.
MAX_CELLS_FOR_NUMBERS = 12

_CELL_MAX = 0.5  # inches: the largest cell
_PANEL_MAX = 3.2  # inches: a panel's longest side, before the figure-wide limits
_STACK_MAX = 7.0  # inches: the tallest stack of slices
_CONTENT_MAX = 13.0  # inches: the panels side by side
_MIN_WIDTH = 6.5  # inches: room for the caption and title

_MARGIN = 0.2
_TITLE_H = 0.42
_PANEL_TITLE_H = 0.3
_LABEL_H = 0.22
_SLICE_GAP = 0.08
_OP_GAP = 0.6
_CBAR_GAP = 0.4
_CBAR_W = 0.16
_CBAR_TICKS = 0.55
_CBAR_MIN_H = 1.4
_CBAR_MAX_H = 3.0
_CAPTION_FONT = 11.0
_CAPTION_LINES = 3
_LINE_SPACING = 1.3

_PADDING_FACE = "#e3e3e3"
_PADDING_HATCH = "#a8a8a8"
_PADDING_TEXT = "#5a5a5a"
_GRID_LINE = "#c4c4c4"
_TEXT = "#222222"
_MUTED = "#555555"


@dataclass
class _PanelView:
    """The artists of one panel and what they currently show."""

    grid: Grid
    cell: float
    axes: list[Axes] = field(default_factory=list)
    images: list[AxesImage] = field(default_factory=list)
    labels: list[Text] = field(default_factory=list)
    padding: list[PolyCollection] = field(default_factory=list)
    numbers: list[np.ndarray | None] = field(default_factory=list)
    shown: list[tuple[int, int] | None] = field(default_factory=list)
    fmt: Callable[[float], str] = str
    number_size: float = 0.0
    norm: Normalize | None = None


class _Placer:
    """Maps a layout drawn in ideal inches onto a figure of any size."""

    def __init__(self, fig: Figure, width: float, height: float) -> None:
        fw, fh = fig.get_size_inches()
        self.scale = min(fw / width, fh / height)
        self.x0 = (fw - self.scale * width) / 2
        self.y0 = (fh - self.scale * height) / 2
        self.fw, self.fh = fw, fh

    def point(self, x: float, y: float) -> tuple[float, float]:
        return (self.x0 + self.scale * x) / self.fw, (self.y0 + self.scale * y) / self.fh

    def rect(self, x: float, y: float, w: float, h: float) -> list[float]:
        fx, fy = self.point(x, y)
        return [fx, fy, self.scale * w / self.fw, self.scale * h / self.fh]

    def size(self, points: float) -> float:
        return points * self.scale


def _text_width(text: str, size: float) -> float:
    """Rough width in inches of ``text`` in DejaVu Sans at ``size`` points."""
    return len(text) * size * 0.6 / 72


def _formatter(values: np.ndarray) -> Callable[[float], str]:
    """A short, uniform number format for a panel's values."""
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == np.round(finite)):
        decimals = 0
    else:
        biggest = float(np.abs(finite).max()) if finite.size else 0.0
        decimals = 2 if biggest < 10 else 1 if biggest < 100 else 0

    def fmt(value: float) -> str:
        if value != value:  # NaN: no number (a masked attention score), as the player's grid leaves it
            return ""
        # rounded as the browser's grid and the narrations round (half away from zero: 0.125 is 0.13)
        return fixed(value, decimals)

    return fmt


def _stack_height(grid: Grid, cell: float) -> float:
    _, height, _ = grid.values.shape
    return grid.page_size * (_LABEL_H + height * cell) + (grid.page_size - 1) * _SLICE_GAP


def _cell_sizes(scene: Scene) -> list[float]:
    """Cell size in inches of each panel: big cells, to scale within limits."""
    if not scene.panels:
        return []
    cells = [min(_CELL_MAX, _PANEL_MAX / max(g.values.shape[1:])) for g in scene.panels]
    tallest = max(_stack_height(g, c) for g, c in zip(scene.panels, cells))
    if tallest > _STACK_MAX:
        labels = max(g.page_size * _LABEL_H + (g.page_size - 1) * _SLICE_GAP for g in scene.panels)
        cells_height = max(g.page_size * g.values.shape[1] * c for g, c in zip(scene.panels, cells))
        factor = max(_STACK_MAX - labels, 1.0) / cells_height
        cells = [c * min(factor, 1.0) for c in cells]
    wide = sum(g.values.shape[2] * c for g, c in zip(scene.panels, cells)) + _OP_GAP * len(scene.panels)
    if wide > _CONTENT_MAX:
        cells = [c * _CONTENT_MAX / wide for c in cells]
    return cells


_TEXT_PATHS = TextToPath()


def _widths(texts: list[str]) -> np.ndarray:
    """Widths of ``texts`` in the default font, in points per point of font size."""
    prop = FontProperties(size=100)
    return np.array([_TEXT_PATHS.get_text_width_height_descent(t, prop, ismath=False)[0] / 100 for t in texts])


def _wrap_lines(words: list[str], widths: np.ndarray, space: float, limit: float) -> list[str]:
    lines: list[str] = []
    line, used = [], 0.0
    for word, width in zip(words, widths):
        if line and used + space + width > limit:
            lines.append(" ".join(line))
            line, used = [], 0.0
        used += width + (space if line else 0.0)
        line.append(word)
    return lines + [" ".join(line)]


def _wrap_caption(text: str, width_in: float, size: float) -> tuple[str, float]:
    """Wrap ``text`` to ``width_in`` inches, shrinking the font (then cutting) to fit the caption lines."""
    words = text.split()
    if not words:
        return "", size
    widths = _widths(words)
    space = float(np.diff(_widths(["xx", "x x"]))[0])
    for points in (size, size - 1, size - 2, size - 3):
        limit = width_in * 72 * 0.97 / points
        lines = _wrap_lines(words, widths, space, limit)
        if len(lines) <= _CAPTION_LINES and widths.max() <= limit:
            return "\n".join(lines), points
    kept = lines[: _CAPTION_LINES]
    last = kept[-1].split()
    while len(last) > 1 and _widths([" ".join(last) + " …"])[0] > limit:
        last.pop()
    kept[-1] = " ".join(last) + " …"
    for i, line in enumerate(kept):
        width = _widths([line])[0]
        if width > limit:
            kept[i] = line[: max(int(len(line) * limit / width) - 1, 1)] + "…"
    return "\n".join(kept), points


class SceneFigure:
    """A scene drawn with matplotlib, one frame at a time, updated in place.

    One Axes per visible slice: panels left to right, the slices of a panel's page
    stacked top to bottom, the panel's operator (``∗``, ``=``) between panels, one
    colorbar on the right and the frame's caption at the bottom.

    Parameters
    ----------
    scene : Scene
        What to draw.
    fig : matplotlib.figure.Figure, optional
        An empty figure to draw into, e.g. ``plt.figure()`` for an interactive
        window. By default a new :class:`~matplotlib.figure.Figure`, not tracked
        by pyplot, sized to fit the scene.
    numbers : bool, optional
        Print values in the cells. By default they are printed in panels whose
        slices are at most :data:`MAX_CELLS_FOR_NUMBERS` cells on a side, when
        the cells are large enough to hold them.
    resize : bool, default True
        Resize a given ``fig`` to the size the scene needs. If False the layout
        is scaled to fit the figure as it is.

    Attributes
    ----------
    scene : Scene
    frame : int
        The frame shown.
    axes : dict of str to list of Axes
        Per panel name, the slice Axes from top to bottom.
    images : dict of str to list of AxesImage
        Per panel name, the image of each slice Axes. Its array is a masked
        array: cells not yet revealed are masked.
    highlights : list of list of Rectangle
        Per :class:`~layerviz.scene.Highlight` of the scene, one rectangle per
        stencil cell; hidden when its cell is not on the current page.
    caption : Text
    colorbar : Colorbar

    Examples
    --------
    >>> sf = SceneFigure(scene)
    >>> sf.update(3)
    >>> sf.fig.savefig("frame3.png")
    """

    def __init__(self, scene: Scene, fig: Figure | None = None, *, numbers: bool | None = None,
                 resize: bool = True) -> None:
        if scene.n_frames < 1:
            raise ValueError("the scene has no frames")
        self.scene = scene
        self.frame = -1
        self._cmap: Colormap = colormaps[CMAP_NAME].with_extremes(bad="white")
        vmax = float(scene.vmax) if scene.vmax and np.isfinite(scene.vmax) else 1.0
        self._norm = Normalize(-vmax, vmax)
        self._views = [_PanelView(grid, cell, norm=self._norm if not grid.vmax else Normalize(-grid.vmax, grid.vmax))
                       for grid, cell in zip(scene.panels, _cell_sizes(scene))]
        width, height = self._layout_size(numbers)
        if fig is None:
            fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
        elif resize:
            fig.set_size_inches(width, height)
        self._fig = fig
        self._place = _Placer(fig, width, height)
        self._build(width, height)
        self.update(0, draw=False)

    @property
    def fig(self) -> Figure:
        """The figure drawn into."""
        return self._fig

    @property
    def axes(self) -> dict[str, list[Axes]]:
        return {view.grid.name: view.axes for view in self._views}

    @property
    def images(self) -> dict[str, list[AxesImage]]:
        return {view.grid.name: view.images for view in self._views}

    @property
    def artists(self) -> list:
        """Every artist :meth:`update` may change."""
        changing: list = [self.caption, self._counter]
        for net in getattr(self, "_networks", []):
            changing += net.artists
        for view in self._views:
            changing += view.images + view.labels + view.padding
            changing += [t for texts in view.numbers if texts is not None for t in texts.ravel()]
        changing += [rect for rects in self.highlights for rect in rects]
        return changing

    def _layout_size(self, numbers: bool | None) -> tuple[float, float]:
        """Decide sizes of everything in ideal inches; return the figure size."""
        self._columns = []
        for view in self._views:
            grid = view.grid
            _, h, w = grid.values.shape
            view.fmt = _formatter(grid.values)
            candidate = max(h, w) <= MAX_CELLS_FOR_NUMBERS if numbers is None else numbers
            if candidate:
                longest = max((len(view.fmt(v)) for v in np.unique(grid.values)), default=1)
                cell_pt = view.cell * 72
                size = min(10.5, 0.8 * cell_pt / (0.6 * longest), 0.45 * cell_pt)
                view.number_size = size if size >= 6 or numbers else 0.0
            column = max(w * view.cell, _text_width(grid.title, 11),
                         max((_text_width(label, 8.5) for label in grid.labels), default=0))
            self._columns.append(column)
        self._stacks = [_stack_height(v.grid, v.cell) for v in self._views]
        self._net_boxes = [_network_size(net) for net in self.scene.networks]
        self._nets_h = sum(h + _NET_GAP for _, h in self._net_boxes)
        tallest = max(self._stacks, default=0.0)
        self._cbar_h = min(max(tallest, _CBAR_MIN_H), _CBAR_MAX_H)
        self._area_h = max(tallest, self._cbar_h) + _PANEL_TITLE_H if self._views else 0.0
        left_op = _OP_GAP if self._views and self._views[0].grid.op else 0.0
        content = left_op + sum(self._columns) + _OP_GAP * max(len(self._columns) - 1, 0)
        content = max([content] + [w for w, _ in self._net_boxes])
        right = _CBAR_GAP + _CBAR_W + _CBAR_TICKS
        title = _text_width(self.scene.title, 13) * 1.1 + 2 * 1.2
        width = max(2 * _MARGIN + content + right, _MIN_WIDTH, title)
        panels_w = left_op + sum(self._columns) + _OP_GAP * max(len(self._columns) - 1, 0)
        self._content_x = (width - panels_w - right) / 2 + left_op
        self._nets_x = (width - content - right) / 2
        self._caption_h = _CAPTION_LINES * _CAPTION_FONT * _LINE_SPACING / 72
        height = _MARGIN + _TITLE_H + self._area_h + self._nets_h + 0.25 + self._caption_h + _MARGIN
        return width, height

    def _build(self, width: float, height: float) -> None:
        fig, place, scene = self._fig, self._place, self.scene
        top = height - _MARGIN
        fig.text(*place.point(width / 2, top), scene.title, ha="center", va="top",
                 fontsize=place.size(13), fontweight="bold", color=_TEXT)
        self._counter = fig.text(*place.point(width - _MARGIN, top), "", ha="right", va="top",
                                 fontsize=place.size(9), color=_MUTED)
        nets_bottom = _MARGIN + self._caption_h + 0.25
        area_bottom = nets_bottom + self._nets_h
        middle = area_bottom + (self._area_h - _PANEL_TITLE_H) / 2

        x = self._content_x
        for view, column, stack in zip(self._views, self._columns, self._stacks):
            grid = view.grid
            if grid.op:
                fig.text(*place.point(x - _OP_GAP / 2, middle), grid.op, ha="center", va="center",
                         fontsize=place.size(24), color=_TEXT)
            stack_top = middle + stack / 2
            fig.text(*place.point(x + column / 2, stack_top + 0.06), grid.title, ha="center",
                     va="bottom", fontsize=place.size(11), fontweight="bold", color=_TEXT)
            _, h, w = grid.values.shape
            ax_x = x + (column - w * view.cell) / 2
            y = stack_top
            for _ in range(grid.page_size):
                y -= _LABEL_H + h * view.cell
                self._add_slice(view, place.rect(ax_x, y, w * view.cell, h * view.cell))
                y -= _SLICE_GAP
            x += column + _OP_GAP

        self._networks = []
        y = area_bottom
        for net, (net_w, net_h) in zip(scene.networks, self._net_boxes):
            y -= net_h + _NET_GAP
            self._networks.append(_NetworkView(self, net, place.rect(self._nets_x, y, net_w, net_h)))
        if self._views:
            cbar_x = x - _OP_GAP + _CBAR_GAP
            cbar_y = middle - self._cbar_h / 2
        else:
            cbar_x = self._nets_x + self._net_boxes[0][0] + _CBAR_GAP
            cbar_y = area_bottom - self._net_boxes[0][1] / 2 - self._cbar_h / 2 - _NET_GAP
        cax = fig.add_axes(place.rect(cbar_x, cbar_y, _CBAR_W, self._cbar_h))
        self.colorbar = fig.colorbar(ScalarMappable(self._norm, self._cmap), cax=cax)
        self.colorbar.ax.tick_params(labelsize=place.size(8), length=3, colors=_MUTED)
        self.colorbar.outline.set_edgecolor(_GRID_LINE)
        self.colorbar.ax.set_title("value", fontsize=place.size(8.5), color=_MUTED, pad=place.size(4))

        self._caption_width = width - 2 * _MARGIN
        self.caption = fig.text(*place.point(width / 2, _MARGIN + self._caption_h), "", ha="center",
                                va="top", fontsize=place.size(_CAPTION_FONT), color=_TEXT,
                                linespacing=_LINE_SPACING)

        keys = list(dict.fromkeys((h.role, h.legend) for h in scene.highlights))
        roles = [role for role, _ in keys]
        if keys:  # the key: each role's colour, line pattern and the layer's words for it, never the colour alone
            handles = [Line2D([], [], color=HIGHLIGHT_COLORS.get(role, HIGHLIGHT_COLORS["window"]),
                              linestyle=(0, HIGHLIGHT_DASHES.get(role, ())) if HIGHLIGHT_DASHES.get(role) else "solid",
                              linewidth=place.size(2)) for role in roles]
            fig.legend(handles, [words for _, words in keys], loc="upper left", bbox_to_anchor=place.point(_MARGIN, top), frameon=False,
                       ncol=1, fontsize=place.size(8), handlelength=3.2, borderaxespad=0, labelspacing=0.2)

        by_name = {view.grid.name: view for view in self._views}
        self._highlight_views = [by_name[h.panel] for h in scene.highlights]
        self.highlights = []
        for highlight, view in zip(scene.highlights, self._highlight_views):
            color = HIGHLIGHT_COLORS.get(highlight.role, HIGHLIGHT_COLORS["window"])
            linewidth = place.size(float(np.clip(view.cell * 72 / 11, 0.75, 3.0)))
            rects = []
            for _ in range(len(highlight.stencil)):
                dash = HIGHLIGHT_DASHES.get(highlight.role, ())
                rect = Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor=color, linewidth=linewidth,
                                 linestyle=(0, dash) if dash else "solid", joinstyle="miter", zorder=4,
                                 clip_on=False, visible=False)
                view.axes[0].add_patch(rect)
                rects.append(rect)
            self.highlights.append(rects)

    def _add_slice(self, view: _PanelView, rect: list[float]) -> None:
        _, h, w = view.grid.values.shape
        place = self._place
        ax = self._fig.add_axes(rect)
        image = ax.imshow(np.ma.masked_all((h, w)), cmap=self._cmap, norm=view.norm,
                          interpolation="nearest", aspect="equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if view.cell * 72 >= 6:
            ax.set_xticks(np.arange(w + 1) - 0.5, minor=True)
            ax.set_yticks(np.arange(h + 1) - 0.5, minor=True)
            ax.grid(which="minor", color=_GRID_LINE, linewidth=0.6)
        ax.tick_params(which="both", length=0)
        for spine in ax.spines.values():
            spine.set_edgecolor("#8c8c8c")
            spine.set_linewidth(0.8)
        ax.set_autoscale_on(False)
        label = ax.set_title("", fontsize=place.size(8.5), color=_MUTED, pad=place.size(3))
        hatch_color = {"hatchcolor": _PADDING_HATCH} if hasattr(PolyCollection, "set_hatchcolor") else {}
        with rc_context({"hatch.color": _PADDING_HATCH}):
            padding = PolyCollection([], facecolor=_PADDING_FACE, edgecolor="none", hatch="///",
                                     zorder=1.2, **hatch_color)
        ax.add_collection(padding, autolim=False)
        numbers = None
        if view.number_size:
            numbers = np.empty((h, w), dtype=object)
            for (r, c), _ in np.ndenumerate(numbers):
                numbers[r, c] = ax.text(c, r, "", ha="center", va="center", zorder=3,
                                        fontsize=place.size(view.number_size))
        view.axes.append(ax)
        view.images.append(image)
        view.labels.append(label)
        view.padding.append(padding)
        view.numbers.append(numbers)
        view.shown.append(None)

    def _text_colors(self, values: np.ndarray, norm: Normalize | None = None) -> np.ndarray:
        """Black or white, whichever reads better on each cell's colour."""
        rgb = self._cmap((norm or self._norm)(values))[..., :3]
        luminance = rgb @ np.array([0.299, 0.587, 0.114])
        return np.where(luminance < 0.55, "white", _TEXT)

    def _show_slice(self, view: _PanelView, j: int, s: int, k: int) -> None:
        grid = view.grid
        hidden = grid.reveal[s] > k if grid.reveal is not None else np.zeros(grid.values.shape[1:], bool)
        state = (s, int(hidden.sum()))
        if view.shown[j] == state:
            return
        values = grid.values[s]
        view.images[j].set_data(np.ma.masked_array(values, mask=hidden))
        view.labels[j].set_text(grid.labels[s])
        padding = grid.padding[s] & ~hidden if grid.padding is not None else np.zeros_like(hidden)
        rows, cols = np.nonzero(padding)
        view.padding[j].set_verts([[(c - .5, r - .5), (c + .5, r - .5), (c + .5, r + .5), (c - .5, r + .5)]
                                   for r, c in zip(rows, cols)])
        texts = view.numbers[j]
        if texts is not None:
            page_changed = view.shown[j] is None or view.shown[j][0] != s
            colors = self._text_colors(values, view.norm) if page_changed else None
            for (r, c), text in np.ndenumerate(texts):
                text.set_visible(not hidden[r, c])
                if page_changed:
                    text.set_text(view.fmt(values[r, c]))
                    text.set_color(_PADDING_TEXT if padding[r, c] else colors[r, c])
        view.shown[j] = state

    def _place_highlights(self, k: int) -> None:
        for highlight, view, rects in zip(self.scene.highlights, self._highlight_views, self.highlights):
            grid = view.grid
            first = grid.page_at(k) * grid.page_size
            _, h, w = grid.values.shape
            for rect, (s, r, c) in zip(rects, highlight.cells(k)):
                j = int(s) - first
                if not (0 <= j < grid.page_size and 0 <= r < h and 0 <= c < w):
                    rect.set_visible(False)
                    continue
                ax = view.axes[j]
                if rect.axes is not ax:
                    rect.remove()
                    rect.set_transform(ax.transData)
                    ax.add_patch(rect)
                rect.set_xy((c - 0.5, r - 0.5))
                rect.set_visible(True)

    def update(self, k: int, draw: bool = True) -> list:
        """Show frame ``k``, updating the artists in place.

        Parameters
        ----------
        k : int
            Frame index; negative values count from the end.
        draw : bool, default True
            Ask the canvas for an idle redraw (an animation draws by itself).

        Returns
        -------
        list of Artist
            The artists that may have changed.
        """
        n = self.scene.n_frames
        if not -n <= k < n:
            raise IndexError(f"frame {k} out of range for a scene of {n} frames")
        k = int(k) % n
        for view in self._views:
            first = view.grid.page_at(k) * view.grid.page_size
            for j in range(view.grid.page_size):
                self._show_slice(view, j, first + j, k)
        self._place_highlights(k)
        for net in self._networks:
            net.update(k)
        text, size = _wrap_caption(str(self.scene.captions[k]), self._caption_width, _CAPTION_FONT)
        self.caption.set_text(text)
        self.caption.set_fontsize(self._place.size(size))
        self._counter.set_text(f"frame {k + 1} / {n}")
        self.frame = k
        if draw:
            self._fig.canvas.draw_idle()
        return self.artists


_NET_GAP = 0.2  # inches between networks and what is above them
_NEURON_MAX = 0.34  # inches: the largest neuron circle (diameter)


def _network_size(net: Network) -> tuple[float, float]:
    """``(width, height)`` in inches of a network's Axes."""
    tallest = max(net.sizes)
    height = float(np.clip(0.32 * tallest + 1.3, 2.6, 6.0))
    width = float(np.clip(1.4 + 2.4 * len(net.sizes), 5.0, 12.0))
    return width, height


class _NetworkView:
    """The artists of one :class:`~layerviz.scene.Network`: lines (all, and the lit neuron's), circles, texts.

    Coordinates: column ``c`` at ``x = c``; the neurons of a column evenly spaced in ``y``, centred on 0.
    """

    def __init__(self, owner: SceneFigure, net: Network, rect: list[float]) -> None:
        place = owner._place
        self._place = place
        self.net, self._cmap, self._norm = net, owner._cmap, owner._norm
        ax = owner._fig.add_axes(rect)
        ax.set_axis_off()
        tallest = max(net.sizes)
        columns = len(net.sizes)
        ax.set_xlim(-0.6, columns - 0.4)
        ax.set_ylim(tallest / 2 + 1.4, -tallest / 2 - 0.9)
        ax.set_title(net.title, fontsize=place.size(11), fontweight="bold", color=_TEXT)
        xs, ys = [], []
        for c, n in enumerate(net.sizes):
            xs += [c] * n
            ys += list(np.arange(n) - (n - 1) / 2)
        self.xy = np.column_stack([xs, ys]).astype(float)
        wnorm = Normalize(-net.max_weight(), net.max_weight())
        segments, colors, widths = [], [], []
        offsets = net.offsets
        for l, w in enumerate(net.weights):
            for j in range(w.shape[0]):
                for i in range(w.shape[1]):
                    if np.isfinite(w[j, i]):
                        segments.append([self.xy[offsets[l] + i], self.xy[offsets[l + 1] + j]])
                        colors.append(self._cmap(wnorm(w[j, i])))
                        widths.append(place.size(0.3 + 2.2 * abs(w[j, i]) / net.max_weight()))
        self._wnorm = wnorm
        self.lines = LineCollection(segments, colors=colors, linewidths=widths, alpha=0.35, zorder=1)
        ax.add_collection(self.lines, autolim=False)
        self.lit_lines = LineCollection([], zorder=2)
        ax.add_collection(self.lit_lines, autolim=False)
        fig_w, fig_h = owner._fig.get_size_inches()
        diameter_in = min(_NEURON_MAX, 0.25 * rect[2] * fig_w / (columns + 0.2), 0.7 * rect[3] * fig_h / (tallest + 2.3))
        self._size = (diameter_in * 72) ** 2
        self.neurons = ax.scatter(self.xy[:, 0], self.xy[:, 1], s=self._size, zorder=3, linewidths=place.size(0.8),
                                  edgecolors=_MUTED)
        self.ring = ax.scatter([0], [0], s=self._size * 1.9, facecolors="none", zorder=4,
                               edgecolors=HIGHLIGHT_COLORS["output"], linewidths=place.size(2.2), visible=False)
        self.texts = []
        if diameter_in * 72 >= 16 and net.values.shape[1] <= 64:
            self.texts = [ax.text(x, y, "", ha="center", va="center", zorder=5, fontsize=place.size(6.5))
                          for x, y in self.xy]
        for c, label in enumerate(net.column_labels):
            ax.text(c, tallest / 2 + 0.35, label, ha="center", va="top", fontsize=place.size(9), color=_TEXT)
        if net.note:
            ax.text((columns - 1) / 2, tallest / 2 + 1.0, net.note, ha="center", va="top",
                    fontsize=place.size(10.5), fontweight="bold", color=_TEXT)
        self.ax = ax
        self.shown_state = None

    @property
    def artists(self) -> list:
        return [self.lit_lines, self.neurons, self.ring, *self.texts]

    def update(self, k: int) -> None:
        net = self.net
        page = net.page_at(k)
        shown = net.shown(k)
        values = net.values[page]
        faces = self._cmap(self._norm(values))
        faces[~shown] = (0.985, 0.985, 0.985, 1.0)
        self.neurons.set_facecolors(faces)
        for text, value, visible, face in zip(self.texts, values, shown, faces):
            text.set_text(f"{value:.2f}" if visible else "")
            text.set_color("white" if visible and face[:3] @ np.array([0.299, 0.587, 0.114]) < 0.55 else _TEXT)
        active = net.active_at(k)
        offsets = net.offsets
        if 0 <= active < len(self.xy):
            self.ring.set_offsets(self.xy[active : active + 1])
            self.ring.set_visible(True)
            column = int(np.searchsorted(offsets, active, side="right")) - 1
            if column > 0:
                w = net.weights[column - 1][active - offsets[column]]
                keep = np.isfinite(w)
                sources = self.xy[offsets[column - 1] : offsets[column]][keep]
                self.lit_lines.set_segments([[src, self.xy[active]] for src in sources])
                self.lit_lines.set_colors(self._cmap(self._wnorm(w[keep])))
                self.lit_lines.set_linewidths(self._place.size(1.2 + 3.0 * np.abs(w[keep]) / net.max_weight()))
            else:
                self.lit_lines.set_segments([])
        else:
            self.ring.set_visible(False)
            self.lit_lines.set_segments([])


class PngFigure(Figure):
    """A matplotlib Figure that shows itself as a PNG in a notebook (no pyplot needed)."""

    def _repr_png_(self) -> bytes:
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg

        buffer = io.BytesIO()
        FigureCanvasAgg(self).print_png(buffer)
        return buffer.getvalue()


def draw_frame(scene: Scene, k: int, fig: Figure | None = None) -> Figure:
    """Draw frame ``k`` of ``scene`` as a static figure.

    Parameters
    ----------
    scene : Scene
    k : int
        Frame index.
    fig : matplotlib.figure.Figure, optional
        An empty figure to draw into; by default a new one, not tracked by pyplot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    view = SceneFigure(scene, fig)
    view.update(k, draw=False)
    return view.fig


def _frame_list(scene: Scene, frames: Iterable[int] | int | None) -> list[int]:
    n = scene.n_frames
    if frames is None:
        return list(range(n))
    chosen = [int(frames)] if isinstance(frames, (int, np.integer)) else [int(k) for k in frames]
    if not chosen:
        raise ValueError("no frames to draw")
    for k in chosen:
        if not -n <= k < n:
            raise IndexError(f"frame {k} out of range for a scene of {n} frames")
    return [k % n for k in chosen]


def animate(scene: Scene, frames: Iterable[int] | None = None, fps: float = 4,
            fig: Figure | None = None) -> animation.FuncAnimation:
    """Animate ``scene`` frame by frame.

    Parameters
    ----------
    scene : Scene
    frames : iterable of int, optional
        Frame indices to play, in order; by default every frame.
    fps : float, default 4
        Frames per second.
    fig : matplotlib.figure.Figure, optional
        An empty figure to draw into; pass ``plt.figure()`` to play it in a
        pyplot window. By default a new figure, not tracked by pyplot.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Keep a reference to it while it plays. In a notebook, show it with
        ``IPython.display.HTML(anim.to_jshtml())``.
    """
    chosen = _frame_list(scene, frames)
    view = SceneFigure(scene, fig)
    anim = animation.FuncAnimation(view.fig, lambda k: view.update(k, draw=False), frames=chosen,
                                   interval=1000 / fps, blit=False, cache_frame_data=False)
    anim.scene_figure = view
    return anim


def save(scene: Scene, path: str | os.PathLike, frames: Iterable[int] | int | None = None, fps: float = 4,
         progress: Callable[[int, int], object] | None = None, dpi: float | None = None) -> None:
    """Export ``scene`` as an animation or one frame, chosen by the file extension.

    Parameters
    ----------
    scene : Scene
    path : str or path-like
        ``.gif`` (Pillow), ``.mp4`` (needs ffmpeg) or ``.png`` (one frame).
    frames : iterable of int, or int, optional
        For animations, the frame indices to export (default all). For ``.png``,
        the frame to draw (default 0; of an iterable, its first frame).
    fps : float, default 4
        Frames per second of an animation.
    progress : callable, optional
        Called as ``progress(i, n)`` after frame ``i`` (0-based) of ``n`` is drawn,
        e.g. to drive a progress bar (``Animation.save``'s ``progress_callback``).
    dpi : float, optional
        Resolution; by default 150 for ``.png`` and 100 for animations.

    Raises
    ------
    ValueError
        For an unsupported extension, or ``.mp4`` when ffmpeg is not available.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix == ".png":
        k = _frame_list(scene, frames if frames is not None else 0)[0]
        draw_frame(scene, k).savefig(path, dpi=dpi or 150, facecolor="white")
        if progress is not None:
            progress(0, 1)
        return
    if suffix == ".gif":
        writer: animation.AbstractMovieWriter = animation.PillowWriter(fps=fps)
    elif suffix == ".mp4":
        if not animation.writers.is_available("ffmpeg"):
            raise ValueError("saving .mp4 needs ffmpeg, which was not found: install ffmpeg "
                             "(or set matplotlib.rcParams['animation.ffmpeg_path']), or save a .gif")
        writer = animation.FFMpegWriter(fps=fps)
    else:
        raise ValueError(f"cannot save {os.fspath(path)!r}: use a .gif, .mp4 or .png file name")
    anim = animate(scene, frames, fps)
    anim.save(path, writer=writer, dpi=dpi or 100, progress_callback=progress,
              savefig_kwargs={"facecolor": "white"})
