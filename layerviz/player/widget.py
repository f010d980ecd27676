"""The browser player: a scene is sent once, its frames are animated in the browser.

The scene travels as one synced dict (``_scene``) whose arrays are raw little-endian
``bytes``; ipywidgets moves bytes nested in widget state into binary websocket
buffers, and the JavaScript side (``src/decode.js``) receives them as ``DataView``.
The clock runs in the browser: the kernel hears about the current frame only when
Python may need it, on pause (and at the end), step, first / last, scrub release
and keyboard steps (a held arrow key: at most 4 times a second), never while playing
or while the slider is dragged. Saving a GIF, a WebM video or a PNG of a frame is
done in the browser too (``src/gif.js`` encodes GIFs): the kernel computes nothing for it. The JavaScript
is ES modules in ``src/``, bundled into ``player.bundle.js`` (see docs/player.md).
"""

from __future__ import annotations

import pathlib

import anywidget
import numpy as np
import traitlets

from layerviz.scene import HIGHLIGHT_COLORS, HIGHLIGHT_DASHES, Scene

_HERE = pathlib.Path(__file__).parent

#: Version of the wire format produced by :func:`encode_scene`.
FORMAT_VERSION = 1


def _le(array, dtype: str) -> bytes:
    """Raw little-endian bytes of ``array`` as ``dtype`` (C order)."""
    target = np.dtype(dtype)
    if target.kind == "f":  # a huge float64 would become inf in float32: the browser shows the largest instead
        limit = np.finfo(target).max
        array = np.clip(array, -limit, limit)
    return np.ascontiguousarray(array, dtype=target.newbyteorder("<")).tobytes()


def encode_scene(scene: Scene) -> dict:
    """Serialise ``scene`` to the JSON-and-bytes dict the browser player reads.

    Numeric arrays become raw little-endian ``bytes`` (values float32, padding uint8,
    reveal int32, page int32, highlight origin ``(n, 3)`` and stencil ``(m, 3)`` int32,
    LUT ``(256, 3)`` uint8); captions become one UTF-8 blob plus ``n + 1`` int32 byte
    offsets (caption ``k`` is ``blob[off[k]:off[k + 1]]``). Absent optional arrays are
    ``None``. Shapes and text are plain JSON: a panel's ``cmap`` (``diverging`` or ``grey``), ``row_labels``
    and ``col_labels``, a highlight's ``label`` (the legend's words for it). ``networks`` (an empty list for scenes without
    any; a reader treats a missing key the same) holds each :class:`~layerviz.scene.Network`:
    values ``(P, T)`` float32, every weight matrix flattened row-major one after the other
    (float32, NaN: no line), reveal ``(P, T)``, page and active ``(n_frames,)`` int32. A panel's ``shown`` is
    ``(n_frames,)`` uint8 (None: every frame). ``graphs`` (an empty list, or missing, for scenes without any)
    holds each :class:`~layerviz.scene.GraphLayout`: ``nodes``, ``labels`` and ``edge_labels`` as JSON lists,
    column and row ``(N,)``, edges ``(E, 2)``, bend_rows ``(B,)``, reveal ``(N,)`` and active ``(n_frames,)`` int32.
    """
    n = int(scene.n_frames)
    panels = []
    for grid in scene.panels:
        s, h, w = (int(d) for d in grid.values.shape)
        panels.append(
            {
                "name": grid.name,
                "title": grid.title,
                "op": grid.op,
                "labels": [str(label) for label in grid.labels],
                "shape": [s, h, w],
                "page_size": int(grid.page_size),
                "values": _le(grid.values, "f4"),
                "padding": None if grid.padding is None else _le(grid.padding, "u1"),
                "reveal": None if grid.reveal is None else _le(grid.reveal, "i4"),
                "page": None if grid.page is None else _le(grid.page, "i4"),
                "vmax": None if grid.vmax is None else float(grid.vmax),
                "cmap": grid.cmap,
                "row_labels": list(grid.row_labels),
                "col_labels": list(grid.col_labels),
                "shown": None if grid.shown is None else _le(grid.shown, "u1"),
            }
        )
    names = [grid.name for grid in scene.panels]
    highlights = []
    for hl in scene.highlights:
        origin = np.asarray(hl.origin).reshape(-1, 3)
        stencil = np.asarray(hl.stencil).reshape(-1, 3)
        highlights.append(
            {
                "panel": hl.panel,
                "panel_index": names.index(hl.panel),
                "role": hl.role,
                "label": hl.legend,
                "color": HIGHLIGHT_COLORS.get(hl.role, "#000000"),
                "dash": list(HIGHLIGHT_DASHES.get(hl.role, ())),
                "origin": _le(origin, "i4"),
                "stencil": _le(stencil, "i4"),
                "n_stencil": int(stencil.shape[0]),
            }
        )
    networks = []
    for net in scene.networks:
        networks.append(
            {
                "name": net.name,
                "title": net.title,
                "sizes": [int(v) for v in net.sizes],
                "n_pages": int(net.values.shape[0]),
                "values": _le(net.values, "f4"),
                "weights": _le(np.concatenate([np.asarray(w, dtype=np.float64).ravel() for w in net.weights])
                               if net.weights else np.zeros(0), "f4"),
                "max_weight": net.max_weight(),
                "column_labels": [str(label) for label in net.column_labels],
                "reveal": None if net.reveal is None else _le(net.reveal, "i4"),
                "page": None if net.page is None else _le(net.page, "i4"),
                "active": None if net.active is None else _le(net.active, "i4"),
                "note": net.note,
            }
        )
    graphs = []
    for graph in scene.graphs:
        graphs.append(
            {
                "name": graph.name,
                "title": graph.title,
                "nodes": list(graph.nodes),
                "labels": list(graph.labels),
                "column": _le(graph.column, "i4"),
                "row": _le(graph.row, "i4"),
                "edges": _le(graph.edges, "i4"),
                "n_edges": int(len(graph.edges)),
                "edge_labels": list(graph.edge_labels),
                "bend_rows": _le(graph.bend_rows, "i4"),
                "reveal": None if graph.reveal is None else _le(graph.reveal, "i4"),
                "active": None if graph.active is None else _le(graph.active, "i4"),
                "note": graph.note,
            }
        )
    encoded = [str(scene.captions[k]).encode("utf-8") for k in range(n)]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(c) for c in encoded], out=offsets[1:])
    lut = np.asarray(scene.lut)
    return {
        "version": FORMAT_VERSION,
        "title": scene.title,
        "n_frames": n,
        "vmax": float(scene.vmax),
        "lut": _le(lut, "u1"),
        "lut_size": int(lut.shape[0]),
        "panels": panels,
        "highlights": highlights,
        "captions": b"".join(encoded),
        "caption_offsets": _le(offsets, "i4"),
        "colors": dict(HIGHLIGHT_COLORS),
        "networks": networks,
        "graphs": graphs,
    }


class Player(anywidget.AnyWidget):
    """Plays a :class:`~layerviz.scene.Scene` in the browser.

    Traits (synced both ways): ``frame`` (current index, 0-based), ``playing``,
    ``fps`` (1 to 60). ``n_frames`` is set from the scene. Assign ``player.scene``
    (or call ``player.show(scene)``) to send a new scene; the frame goes back to 0.
    ``frame`` reaches Python when the browser's player pauses, steps or is scrubbed
    (rapid steps: within a quarter of a second); while it plays, Python keeps the
    frame it last heard.
    """

    # anywidget loads one module: the sources in src/ bundled by esbuild (docs/player.md), committed so that
    # installing and serving need no Node.
    _esm = (_HERE / "player.bundle.js").read_text(encoding="utf-8")
    _css = _HERE / "player.css"

    _scene = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    n_frames = traitlets.Int(0).tag(sync=True)
    # No echo for ``frame``: the browser is the clock, an echo would only be noise.
    frame = traitlets.Int(0).tag(sync=True, echo_update=False)
    playing = traitlets.Bool(False).tag(sync=True)
    fps = traitlets.Int(8).tag(sync=True)
    clicked_node = traitlets.Unicode("").tag(sync=True)

    def __init__(self, scene: Scene | None = None, **kwargs) -> None:
        if scene is not None:
            kwargs = {"n_frames": int(scene.n_frames), "_scene": encode_scene(scene), **kwargs}
        super().__init__(**kwargs)
        self._scene_obj = scene

    @traitlets.validate("frame")
    def _valid_frame(self, proposal) -> int:
        return int(min(max(proposal["value"], 0), max(self.n_frames - 1, 0)))

    @traitlets.validate("fps")
    def _valid_fps(self, proposal) -> int:
        return int(min(max(proposal["value"], 1), 60))

    @property
    def scene(self) -> Scene | None:
        """The scene being played; assigning sends it to the browser (frame back to 0)."""
        return self._scene_obj

    @scene.setter
    def scene(self, scene: Scene | None) -> None:
        self.show(scene)

    def show(self, scene: Scene | None, frame: int = 0) -> None:
        """Send ``scene`` to the browser and go to ``frame`` (clamped)."""
        self._scene_obj = scene
        with self.hold_sync():
            self.n_frames = 0 if scene is None else int(scene.n_frames)
            self._scene = None if scene is None else encode_scene(scene)
            self.frame = frame
