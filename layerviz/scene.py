"""What to draw, as data.

A :class:`Scene` describes a layer's animation with a few generic primitives,
so that the browser player and the matplotlib view can draw any layer without
knowing what a layer is:

- :class:`Grid`: a panel of ``S`` stacked 2-D grids of numbers (``values: (S, H, W)``),
  drawn with a shared diverging colormap (``cmap="diverging"``: signed numbers, weights, activations) or in
  greys (``cmap="grey"``: an input that is a picture, drawn as one). Optional per-cell arrays mark padding
  cells and the frame at which a cell's value appears (an output filling up).
  Slices may be split into *pages* (``page_size`` slices each); a per-frame
  ``page`` array says which page is shown (the kernel of the current output
  channel, the current sample of a batch).
- :class:`Highlight`: a per-frame set of outlined cells in one panel: an anchor
  ``origin[k] = (slice, row, col)`` plus a fixed ``stencil`` of offsets. Its ``role`` gives its colour and
  line pattern; its ``label`` is the words the legend uses for it, the layer's own words (Linear: "weights
  row", Dropout: "mask entry"); without one the legend says the role's plain default (:data:`ROLE_LABELS`).
- :class:`Network`: columns of neurons (circles coloured by value) wired by lines whose colour
  and width show the weights; per frame, one neuron may be lit (its incoming lines stand out).
  Drawn below the grids, or alone when a scene has no grids.
- :class:`GraphLayout`: a model's graph as boxes (one per node, placed at a column and a row) and arrows
  labelled with the tensors' shapes; per frame, one node is lit and the nodes not computed yet are faded.
  Drawn above the grids (the map of the model); a click on a box sends its node's name to Python.
- ``captions``: the narration of every frame, as text.

Frame ``k`` of a scene is drawn as: the panels whose ``shown[k]`` is true (all of them, for panels without
``shown``) are laid out, each showing page ``page[k]``; cells
whose ``reveal`` is greater than ``k`` are drawn empty; each highlight outlines
``origin[k] + stencil``; the caption is ``captions[k]``. Highlight cells that fall outside
their grid are not drawn: a layer hides a highlight on a frame by moving its origin off the grid.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Colour-blind-safe diverging colormap (ColorBrewer RdBu, reversed: red > 0, blue < 0).
CMAP_NAME = "RdBu_r"

#: Highlight roles and their colours, shared by the browser and matplotlib views.
#: Chosen from the Okabe-Ito palette, which stays distinct under colour blindness.
HIGHLIGHT_COLORS = {
    "window": "#E69F00",  # orange: the input cells being read
    "kernel": "#009E73",  # green: the weights being used
    "output": "#000000",  # black: the cell being written
    "max": "#C8102E",  # dark red: the winning cell (max pooling), never mistaken for the light orange window
    "stat": "#56B4E9",  # sky blue: a statistic being computed or used (mean, variance)
}

#: Highlight roles and their line patterns (dash, gap, ... in CSS pixels; empty: solid), so that no role
#: is told from another by colour alone: the legend shows each role's colour, pattern and name.
HIGHLIGHT_DASHES = {
    "window": (6, 3),  # dashed
    "kernel": (),  # solid
    "output": (),  # solid, and black: told from the kernel by its lightness
    "max": (2, 2),  # dotted, and dark red: told from the dashed light-orange window by pattern and lightness
    "stat": (8, 3, 2, 3),  # dash-dot
}

#: The legend's words for a role when a highlight brings no ``label`` of its own: plain words that fit
#: any layer. A layer says its own words with ``Highlight(..., label=...)`` (a convolution: "window", "kernel").
ROLE_LABELS = {
    "window": "input read",
    "kernel": "weights used",
    "output": "output written",
    "max": "maximum (kept)",
    "stat": "statistic",
}

#: Colormaps a :class:`Grid` may ask for: ``diverging`` (signed values: blue < 0 < red, the scene's scale) and
#: ``grey`` (a picture: 0 black to its ``vmax``, default 1, white).
GRID_CMAPS = ("diverging", "grey")


_COLORMAP_FILE = Path(__file__).parent / "assets" / "colormap_lut.npy"


def matplotlib_colormap_lut() -> np.ndarray:
    """The scene colormap as matplotlib defines it, ``(256, 3)`` uint8 (what ``colormap_lut.npy`` holds)."""
    from matplotlib import colormaps

    rgba = colormaps[CMAP_NAME](np.linspace(0.0, 1.0, 256))
    return np.round(rgba[:, :3] * 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _stored_lut() -> np.ndarray:
    lut = np.load(_COLORMAP_FILE)
    lut.flags.writeable = False
    return lut


def colormap_lut(n: int = 256) -> np.ndarray:
    """Return the scene colormap as an ``(n, 3)`` uint8 lookup table (low to high).

    It samples the stored 256 colours as matplotlib samples its own: ``x`` in [0, 1] picks colour
    ``min(floor(256 x), 255)``; importing matplotlib would cost every kernel ~15 MB.
    """
    index = np.minimum((np.linspace(0.0, 1.0, n) * 256).astype(int), 255)
    return _stored_lut()[index]


def looks_like_picture(values: np.ndarray, min_side: int = 6) -> bool:
    """True for numbers that read as a picture's intensities: slices at least ``min_side`` square, every value in
    [0, 1] (a digit's ink, a photo or an upload as :mod:`layerviz.data` makes them; noise, weights and a
    hand-made example of a few numbers are not). Layers draw such an input in greys (``Grid(cmap="grey")``)."""
    values = np.asarray(values)
    if values.ndim < 2 or min(values.shape[-2:]) < min_side or not values.size:
        return False
    finite = values[np.isfinite(values)]
    return bool(finite.size) and float(finite.min()) >= 0.0 and float(finite.max()) <= 1.0


def picture_cmap(trace, values: np.ndarray) -> str:
    """The colormap of a trace's input: ``trace.picture`` when an explorer set it (True: ``grey``, False:
    ``diverging``), else ``grey`` if the values :func:`looks_like_picture`."""
    chosen = getattr(trace, "picture", None)
    if chosen is None:
        chosen = looks_like_picture(values)
    return "grey" if chosen else "diverging"


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
    vmax : float, optional
        This panel's own colour scale ``[-vmax, vmax]``, for numbers of a very different size from the
        other panels' (the player writes it under the panel); None: the scene's. For a ``grey`` panel,
        the value drawn white (None: 1).
    cmap : {'diverging', 'grey'}
        ``grey`` for an input that is a picture (a digit, a photo, an upload): drawn in greys, 0 black;
        ``diverging`` (the default) for signed values.
    row_labels : tuple of str, optional
        One label per row, drawn left of the rows (the digit of each class score); empty: none.
    col_labels : tuple of str, optional
        One label per column, drawn above the columns (the gates ``f, i, g, o``, the time steps); empty: none.
    shown : ndarray of bool, shape (n_frames,), optional
        The frames on which the panel is drawn; None: every frame. The panels shown together on a frame are laid
        out together (a model's flow shows only the node being computed).
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
    vmax: float | None = None
    cmap: str = "diverging"
    row_labels: tuple[str, ...] = ()
    col_labels: tuple[str, ...] = ()
    shown: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.shown is not None:
            shown = np.asarray(self.shown, dtype=bool)
            if shown.ndim != 1:
                raise ValueError(f"Grid shown must be one bool per frame, got shape {shown.shape}")
            object.__setattr__(self, "shown", shown)
        if self.cmap not in GRID_CMAPS:
            raise ValueError(f"Grid cmap must be one of {list(GRID_CMAPS)}, got {self.cmap!r}")
        object.__setattr__(self, "row_labels", tuple(str(v) for v in self.row_labels))
        object.__setattr__(self, "col_labels", tuple(str(v) for v in self.col_labels))
        if self.values.ndim != 3:
            raise ValueError(f"Grid values must be (S, H, W), got shape {self.values.shape}")
        if self.page_size == 0:
            object.__setattr__(self, "page_size", self.values.shape[0])
        if self.values.shape[0] % self.page_size:
            raise ValueError("Grid page_size must divide the number of slices")
        if len(self.labels) != self.values.shape[0]:
            raise ValueError("Grid needs one label per slice")
        if self.row_labels and len(self.row_labels) != self.values.shape[1]:
            raise ValueError(f"Grid row_labels needs one label per row ({self.values.shape[1]}), "
                             f"got {len(self.row_labels)}")
        if self.col_labels and len(self.col_labels) != self.values.shape[2]:
            raise ValueError(f"Grid col_labels needs one label per column ({self.values.shape[2]}), "
                             f"got {len(self.col_labels)}")

    @property
    def n_pages(self) -> int:
        return self.values.shape[0] // self.page_size

    def page_at(self, k: int) -> int:
        """The page shown at frame ``k``."""
        return 0 if self.page is None else int(self.page[k])

    def shown_at(self, k: int) -> bool:
        """Whether the panel is drawn at frame ``k``."""
        return self.shown is None or bool(self.shown[k])


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
        A key of :data:`HIGHLIGHT_COLORS`: the outline's colour and line pattern.
    label : str
        The legend's words for these cells, in the layer's own vocabulary (``"weights row"``, ``"mask entry"``,
        ``"batch statistic"``); empty: :data:`ROLE_LABELS` of the role.
    """

    panel: str
    origin: np.ndarray
    stencil: np.ndarray
    role: str = "window"
    label: str = ""

    @property
    def legend(self) -> str:
        """The words the legend shows for this highlight: its ``label``, else its role's default."""
        return self.label or ROLE_LABELS.get(self.role, self.role)

    def cells(self, k: int) -> np.ndarray:
        """The ``(m, 3)`` cells outlined at frame ``k``."""
        return self.origin[k] + self.stencil


@dataclass(frozen=True, eq=False)
class Network:
    """Columns of neurons wired column to column: a neural network drawn as circles and lines.

    Neurons are numbered column after column (column 0 first), ``T = sum(sizes)`` in all.

    Parameters
    ----------
    name : str
        Identifier.
    title : str
        Heading drawn above the network.
    sizes : tuple of int, length L
        Neurons per column, left to right.
    values : ndarray, shape (P, T)
        Each neuron's value on each page (one page per sample of a batch); circles are coloured by it.
    weights : tuple of ndarray, length L - 1
        ``weights[l]: (sizes[l + 1], sizes[l])``: the line from neuron ``i`` of column ``l`` to neuron
        ``j`` of column ``l + 1`` is drawn with colour and width from ``weights[l][j, i]``; NaN: no line.
    column_labels : tuple of str, length L
        Drawn under each column (``"input layer (2)"``, ``"hidden layer 1 (8)"``).
    reveal : ndarray of int32, shape (P, T), optional
        First frame at which a neuron's value is shown; before it the circle is drawn empty.
    page : ndarray of int32, shape (n_frames,), optional
        The row of ``values`` shown at each frame; None means row 0 throughout.
    active : ndarray of int32, shape (n_frames,), optional
        The neuron lit at each frame (its lines from the previous column drawn strongly); -1: none.
    note : str
        A line of text drawn under the network (e.g. the count of layers).
    """

    name: str
    title: str
    sizes: tuple[int, ...]
    values: np.ndarray
    weights: tuple[np.ndarray, ...]
    column_labels: tuple[str, ...]
    reveal: np.ndarray | None = None
    page: np.ndarray | None = None
    active: np.ndarray | None = None
    note: str = ""

    def __post_init__(self) -> None:
        sizes = tuple(int(s) for s in self.sizes)
        object.__setattr__(self, "sizes", sizes)
        if not sizes or min(sizes) < 1:
            raise ValueError(f"Network sizes must be at least one positive count, got {sizes}")
        total = sum(sizes)
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None]
        object.__setattr__(self, "values", values)
        if values.ndim != 2 or values.shape[1] != total:
            raise ValueError(f"Network values must be (pages, {total}), got shape {values.shape}")
        if len(self.weights) != len(sizes) - 1:
            raise ValueError(f"Network needs {len(sizes) - 1} weight matrices, got {len(self.weights)}")
        for l, w in enumerate(self.weights):
            if np.shape(w) != (sizes[l + 1], sizes[l]):
                raise ValueError(f"Network weights[{l}] must be {(sizes[l + 1], sizes[l])}, got {np.shape(w)}")
        if len(self.column_labels) != len(sizes):
            raise ValueError("Network needs one label per column")
        if self.reveal is not None and np.shape(self.reveal) != values.shape:
            raise ValueError(f"Network reveal must have the shape of values {values.shape}, got {np.shape(self.reveal)}")

    @property
    def offsets(self) -> np.ndarray:
        """Index of the first neuron of each column, and the total: ``(L + 1,)``."""
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    def page_at(self, k: int) -> int:
        return 0 if self.page is None else int(self.page[k])

    def active_at(self, k: int) -> int:
        return -1 if self.active is None else int(self.active[k])

    def shown(self, k: int) -> np.ndarray:
        """``(T,)`` bool: the neurons whose value is shown at frame ``k``."""
        if self.reveal is None:
            return np.ones(self.values.shape[1], dtype=bool)
        return self.reveal[self.page_at(k)] <= k

    def max_weight(self) -> float:
        finite = [np.abs(w[np.isfinite(w)]).max(initial=0.0) for w in self.weights]
        return float(max(finite, default=0.0)) or 1.0


@dataclass(frozen=True, eq=False)
class GraphLayout:
    """A graph drawn as boxes and arrows: the map of a model, one box per node.

    Boxes sit on a grid of *columns* (left to right: the order data flows) and *rows* (parallel branches on
    different rows). The player wraps the columns into bands when they do not fit its width. An arrow goes
    from a box to a box of a later column; through the columns between, it runs along its own row
    (``bend_rows``), so that a shortcut passes beside the boxes it skips, never through them.

    Parameters
    ----------
    name : str
        Identifier.
    title : str
        Heading drawn above the graph.
    nodes : tuple of str, length N
        Each box's node name: what a click on the box sends to Python (``Player.clicked_node``).
    labels : tuple of str, length N
        The words in each box (``"conv1 · Conv2d"``); drawn on two lines, split at ``" · "``, when one is too
        narrow.
    column, row : ndarray of int32, shape (N,)
        Each box's place. Two boxes never share a place.
    edges : ndarray of int32, shape (E, 2)
        ``(source, target)`` box indices of each arrow; the target's column is after the source's.
    edge_labels : tuple of str, length E
        The words on each arrow (the shape of the tensor it carries).
    bend_rows : ndarray of int32, shape (B,)
        For each arrow in turn, the row it runs along in each column strictly between its source's and its
        target's (``column[target] - column[source] - 1`` rows per arrow), all arrows' rows one after the other.
    reveal : ndarray of int32, shape (N,), optional
        First frame at which a box is drawn as computed; before it, faded. None: every box computed.
    active : ndarray of int32, shape (n_frames,), optional
        The box lit at each frame (its incoming arrows stand out); -1: none.
    note : str
        A line of text drawn under the graph.
    """

    name: str
    title: str
    nodes: tuple[str, ...]
    labels: tuple[str, ...]
    column: np.ndarray
    row: np.ndarray
    edges: np.ndarray
    edge_labels: tuple[str, ...]
    bend_rows: np.ndarray
    reveal: np.ndarray | None = None
    active: np.ndarray | None = None
    note: str = ""

    def __post_init__(self) -> None:
        n = len(self.nodes)
        if not n or len(self.labels) != n:
            raise ValueError(f"GraphLayout needs one label per node, got {len(self.labels)} for {n} nodes")
        column = np.asarray(self.column, dtype=np.int32)
        row = np.asarray(self.row, dtype=np.int32)
        edges = np.asarray(self.edges, dtype=np.int32).reshape(-1, 2)
        bend_rows = np.asarray(self.bend_rows, dtype=np.int32).reshape(-1)
        for name, value in (("column", column), ("row", row)):
            if value.shape != (n,) or (value < 0).any():
                raise ValueError(f"GraphLayout {name} must be ({n},) non-negative, got {value.shape}")
        if len({(int(c), int(r)) for c, r in zip(column, row)}) != n:
            raise ValueError("GraphLayout boxes must not share a (column, row)")
        if len(self.edge_labels) != len(edges):
            raise ValueError(f"GraphLayout needs one label per edge, got {len(self.edge_labels)} for {len(edges)}")
        if len(edges) and ((edges < 0).any() or (edges >= n).any()):
            raise ValueError("GraphLayout edges must join boxes 0 to N - 1")
        spans = column[edges[:, 1]] - column[edges[:, 0]] if len(edges) else np.zeros(0, dtype=np.int32)
        if (spans < 1).any():
            raise ValueError("GraphLayout edges must go to a later column")
        if len(bend_rows) != int(np.sum(spans - 1)):
            raise ValueError(f"GraphLayout bend_rows must hold {int(np.sum(spans - 1))} rows, got {len(bend_rows)}")
        for name, value in (("column", column), ("row", row), ("edges", edges), ("bend_rows", bend_rows)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "nodes", tuple(str(v) for v in self.nodes))
        object.__setattr__(self, "labels", tuple(str(v) for v in self.labels))
        object.__setattr__(self, "edge_labels", tuple(str(v) for v in self.edge_labels))
        if self.reveal is not None:
            object.__setattr__(self, "reveal", np.asarray(self.reveal, dtype=np.int32).reshape(n))
        if self.active is not None:
            object.__setattr__(self, "active", np.asarray(self.active, dtype=np.int32).reshape(-1))

    def bends(self, edge: int) -> np.ndarray:
        """The rows arrow ``edge`` runs along in the columns between its ends (empty for neighbours)."""
        spans = self.column[self.edges[:, 1]] - self.column[self.edges[:, 0]] - 1
        start = int(spans[:edge].sum())
        return self.bend_rows[start:start + int(spans[edge])]

    def active_at(self, k: int) -> int:
        """The box lit at frame ``k`` (-1: none)."""
        return -1 if self.active is None else int(self.active[k])

    def computed(self, k: int) -> np.ndarray:
        """``(N,)`` bool: the boxes drawn as computed at frame ``k`` (the others faded)."""
        if self.reveal is None:
            return np.ones(len(self.nodes), dtype=bool)
        return self.reveal <= k


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
    networks : tuple of Network, optional
        Drawn below the panels (alone if there are no panels).
    graphs : tuple of GraphLayout, optional
        Drawn above the panels: the map of a model.
    """

    title: str
    n_frames: int
    panels: tuple[Grid, ...]
    highlights: tuple[Highlight, ...]
    captions: Sequence[str]
    vmax: float
    lut: np.ndarray = field(default_factory=colormap_lut)
    networks: tuple[Network, ...] = ()
    graphs: tuple[GraphLayout, ...] = ()

    def __post_init__(self) -> None:
        if not self.panels and not self.networks and not self.graphs:
            raise ValueError("a Scene needs at least one Grid panel or one Network (or a GraphLayout)")

    def panel(self, name: str) -> Grid:
        for grid in self.panels:
            if grid.name == name:
                return grid
        raise KeyError(name)
