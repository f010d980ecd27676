"""What the pooling traces share: the frame of one window, frame ``k``'s cell, the grids and highlights drawn.

A pooling trace has one frame per output cell, ``(n, c, i, j)`` in row-major order; the frame holds the
window that cell summarises. The traces themselves (their arithmetic, narration and backward) are in
:mod:`~layerviz.layers.max_pool`, :mod:`~layerviz.layers.avg_pool` and :mod:`~layerviz.layers.adaptive_pool`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from layerviz import _checks
from layerviz._format import Ask
from layerviz._format import number as _number
from layerviz.scene import Grid, Highlight, picture_cmap
from layerviz.trace import Trace

#: Window cells listed one by one in a narration; bigger windows are abridged with "…".
MAX_TERMS = 9

#: Highlight anchor for a frame where a highlight is not in use: every cell lands outside the grid,
#: and the renderers (browser and matplotlib) draw no cell outside a grid.
OFF_GRID = -(2**30)


@dataclass(frozen=True, eq=False)
class PoolFrame:
    """One output cell of a pooling layer: the window it summarises.

    Attributes
    ----------
    index : int
        Position in the trace.
    cell : tuple of int
        The output cell filled: ``(n, c, i, j)``, or ``(c, i, j)`` for an unbatched input.
    rows, cols : ndarray of int, shape (h,), (w,)
        Rows and columns of the window's cells in the padded input (``trace.padded``); cells a
        ``ceil_mode`` window would have past the padded input are left out.
    window : ndarray, shape (h, w)
        The values in the window: input cells and padding (``-inf`` for max pooling, 0 for average).
    is_padding : ndarray of bool, shape (h, w)
        True where the window reads padding.
    result : float
        The output cell.
    narration : str
        The arithmetic in words and numbers.
    """

    index: int
    cell: tuple[int, ...]
    rows: np.ndarray
    cols: np.ndarray
    window: np.ndarray
    is_padding: np.ndarray
    result: float
    narration: str
    _trace: _PoolTrace
    #: What the frame asks a student to predict (None when the window's values are abridged with "…").
    question: Ask | None = field(default=None, kw_only=True)

    @property
    def output_so_far(self) -> np.ndarray:
        """The output of this frame's sample, ``(C, OH, OW)``, NaN where not yet computed."""
        trace = self._trace
        sample = self.index // trace.frames_per_sample
        computed = np.arange(trace.frames_per_sample).reshape(trace.output4.shape[1:]) <= self.index % trace.frames_per_sample
        return np.where(computed, trace.output4[sample], np.nan)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.index}: {self.narration})"


@dataclass(frozen=True)
class Window:
    """Where frame ``k`` reads: its output cell and the window's cells in the padded input.

    ``n, c, i, j`` index the output (``cell`` is how the frame names it: without ``n`` when unbatched);
    ``rows`` and ``cols`` are the window's rows and columns in ``trace.padded``, ``values`` and ``is_padding``
    read-only views of its numbers and of the padding mask there, each ``(h, w)``.
    """

    n: int
    c: int
    i: int
    j: int
    cell: tuple[int, ...]
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    is_padding: np.ndarray


def cells_text(values, is_padding, number=_number) -> list[str]:
    """Each cell as text, ``"pad"`` for padding."""
    return ["pad" if pad else number(v) for v, pad in zip(np.ravel(values), np.ravel(is_padding))]


def abridged(terms: list[str]) -> list[str]:
    return terms if len(terms) <= MAX_TERMS else terms[:3] + ["…"] + terms[-2:]


def cell_name(cell: tuple[int, ...]) -> str:
    return ",".join(map(str, cell))


class _PoolTrace(Trace):
    """What the pooling traces share: the input, the padded input, the output, frame ``k``'s cell.

    Attributes
    ----------
    input : ndarray
        ``x`` as given, ``(C, H, W)`` or ``(N, C, H, W)``.
    padded : ndarray, shape (N, C, H + 2pH, W + 2pW)
        The input with the padding the layer pools over (``-inf`` for max pooling, 0 for average).
    padding_mask : ndarray of bool, shape (H + 2pH, W + 2pW)
        True on padding.
    output : ndarray
        The layer's output, shaped like torch's (unbatched if ``x`` was).
    output4 : ndarray, shape (N, C, OH, OW)
    """

    def _setup(self, layer, x, padded: np.ndarray, padding_mask: np.ndarray, output4: np.ndarray) -> None:
        self.layer = layer
        self.input = np.array(_checks.plain(x), dtype=np.float64)
        self.batched = self.input.ndim == 4
        self.padded = padded
        self.padding_mask = padding_mask
        self.output4 = output4
        self.output = output4 if self.batched else output4[0]
        self.frames_per_sample = int(np.prod(output4.shape[1:]))
        self.n_frames = int(output4.size)

    def _freeze(self, *arrays: np.ndarray) -> None:
        """Frames hand out views of these arrays: read-only, so a frame cannot change its trace."""
        for array in (self.input, self.padded, self.padding_mask, self.output4, self.output, *arrays):
            array.flags.writeable = False

    def _locate(self, k: int) -> tuple[int, int, int, int, tuple[int, ...]]:
        n, c, i, j = (int(v) for v in np.unravel_index(k, self.output4.shape))
        return n, c, i, j, ((n, c, i, j) if self.batched else (c, i, j))

    def _record(self, frame_type: type, k: int, window: Window, result: float, told: tuple[str, Ask | None],
                **fields) -> PoolFrame:
        """Frame ``k`` of ``frame_type``: the window, its result, ``told = (narration, question)`` and the
        fields of that kind of frame."""
        narration, question = told
        return frame_type(index=k, cell=window.cell, rows=window.rows, cols=window.cols, window=window.values,
                          is_padding=window.is_padding, result=result, narration=narration, _trace=self,
                          question=question, **fields)

    def _frame_origins(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(slice, i, j, sample)`` of every frame, int32, where slice is ``n*C + c``."""
        n, c, i, j = (a.ravel() for a in np.indices(self.output4.shape, dtype=np.int32))
        return n * self.output4.shape[1] + c, i, j, n

    def _grids(self, title: str, output_title: str = "output") -> tuple[Grid, Grid]:
        """The input grid (padding drawn hatched, shown as 0) and the output grid filling up; an input that is a
        picture (a digit, a photo, an upload) is drawn in greys, and so is its pooled output (made of its values)."""
        cmap = picture_cmap(self, self.input)
        n_samples, channels, padded_h, padded_w = self.padded.shape
        oh, ow = self.output4.shape[2:]
        _, _, _, sample = self._frame_origins()
        shown = np.where(self.padding_mask, 0.0, self.padded).reshape(-1, padded_h, padded_w)
        prefix = "{n}," if self.batched else ""
        inp = Grid(
            "input",
            title,
            shown,
            tuple(("x[" + prefix + "{c}]").format(n=n, c=c) for n in range(n_samples) for c in range(channels)),
            padding=np.broadcast_to(self.padding_mask, shown.shape) if self.padding_mask.any() else None,
            page_size=channels,
            page=sample,
            cmap=cmap,
        )
        out = Grid(
            "output",
            output_title,
            self.output4.reshape(-1, oh, ow),
            tuple(("out[" + prefix + "{c}]").format(n=n, c=c) for n in range(n_samples) for c in range(channels)),
            reveal=np.arange(self.n_frames, dtype=np.int32).reshape(-1, oh, ow),
            page_size=channels,
            page=sample,
            op="→",
            cmap=cmap,
        )
        return inp, out

    def _vmax(self) -> float:
        shown = np.where(self.padding_mask, 0.0, self.padded)
        output = self.output4[np.isfinite(self.output4)]  # max pooling: -inf where a window reads only padding
        return max(float(np.abs(shown).max()), float(np.abs(output).max(initial=0.0))) or 1.0

    def _output_highlight(self) -> Highlight:
        slice_, i, j, _ = self._frame_origins()
        return Highlight("output", np.stack([slice_, i, j], axis=1), np.zeros((1, 3), dtype=np.int32), "output",
                         "output cell")


class _WindowPoolTrace(_PoolTrace):
    """Max and average pooling: windows on a grid of fixed stride."""

    def _window(self, k: int) -> Window:
        """Frame ``k``'s output cell and window: its rows and columns in the padded input (cells past it left
        out, rows and columns evenly spaced by the dilation) and read-only views of its values and padding."""
        n, c, i, j, cell = self._locate(k)
        (kh, kw), (sh, sw), _, (dh, dw) = self.layer._geometry()
        rows, cols = i * sh + dh * np.arange(kh), j * sw + dw * np.arange(kw)
        rows, cols = rows[rows < self.padded.shape[2]], cols[cols < self.padded.shape[3]]
        at = (slice(rows[0], rows[-1] + 1, dh), slice(cols[0], cols[-1] + 1, dw))
        return Window(n, c, i, j, cell, rows, cols, self.padded[n, c][at], self.padding_mask[at])

    def _window_highlight(self) -> Highlight:
        """The window's cells; a ``ceil_mode`` window's cells past the padded input fall off the grid."""
        (kh, kw), (sh, sw), _, (dh, dw) = self.layer._geometry()
        slice_, i, j, _ = self._frame_origins()
        stencil = np.stack(np.indices((1, kh, kw), dtype=np.int32), axis=-1).reshape(-1, 3)
        return Highlight("input", np.stack([slice_, i * sh, j * sw], axis=1),
                         stencil * np.array([1, dh, dw], dtype=np.int32), "window", "window")

