"""A trace made of its parts' traces, one after the other: a Sequential's layers, a graph's nodes and its backward.

Such a trace holds each part's trace (built once) and ``offsets``, the index of each part's first frame and the
total. Frame ``k`` is frame ``k - offsets[i]`` of part ``i = part_of(offsets, k)`` (bisection: O(log parts)),
wrapped in a :class:`ChainFrame` whose narration opens with the part's caption. Its scene draws each part's
panels at the part's frames: the reveal, the page and the highlights of the part's own scene moved by the part's
first frame (the ``placed_*`` functions).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from layerviz.scene import Grid
from layerviz.tensor_grid import OFF_GRID


@dataclass(frozen=True, eq=False)
class ChainFrame:
    """A frame of one part of a chained trace: the part's own frame, captioned with the part.

    Subclasses add what names the part (:class:`~layerviz.layers.sequential.SequentialFrame`: the layer;
    :class:`~layerviz.graph.GraphFrame`: the node; :class:`~layerviz.graph.GraphGradFrame`: the node and the
    gradient).

    Attributes
    ----------
    index : int
        Position in the whole trace.
    inner : object
        The part's own frame (``inner.index`` is its position in the part's trace).
    narration : str
        The part's caption (``layer 2/3 (hidden) Linear(4, 3): ``, ``[3/11] pool = self.pool(relu): ``) followed
        by the inner frame's narration.
    """

    index: int
    inner: object
    narration: str

    @property
    def result(self):
        """The inner frame's result (None if it has none)."""
        return getattr(self.inner, "result", None)

    @property
    def question(self):
        """The inner frame's question (see :class:`~layerviz._format.Ask`), its prompt opened by the part's caption;
        or None."""
        asked = getattr(self.inner, "question", None)
        if asked is None:
            return None
        caption = self.narration[: len(self.narration) - len(self.inner.narration)]
        return asked._replace(prompt=caption + asked.prompt)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.index}: {self.narration})"


def chain_offsets(lengths: Sequence[int]) -> tuple[int, ...]:
    """Index of each part's first frame, and the total, for parts of ``lengths`` frames: ``(0, n0, n0 + n1, …)``."""
    return tuple(int(v) for v in np.concatenate([[0], np.cumsum(lengths)]))


def part_of(offsets: Sequence[int], k: int) -> int:
    """The part (0-based) that frame ``k`` (non-negative, below the total) belongs to."""
    return bisect.bisect_right(offsets, k) - 1


def largest_finite(values: np.ndarray) -> float:
    """The largest magnitude among the finite ``values`` (0.0 if none): a panel's colour scale."""
    return float(np.abs(values[np.isfinite(values)]).max(initial=0.0))


def placed_reveal(grid: Grid, start: int) -> np.ndarray:
    """When each cell of a part's panel appears in the whole trace: at the part's first frame ``start``, or when
    the part's own scene reveals it, moved by ``start``. Shaped like ``grid.values``, int32."""
    if grid.reveal is None:
        return np.full(grid.values.shape, start, dtype=np.int32)
    return grid.reveal.astype(np.int32) + start


def placed_page(page: np.ndarray | None, start: int, total: int) -> np.ndarray | None:
    """A part's page per frame, ``(len(page),)``, placed at ``start`` of ``total`` frames and held at its ends
    outside: ``(total,)`` int32 (None without a page)."""
    if page is None or len(page) == 0:
        return None
    out = np.empty(total, dtype=np.int32)
    out[:start] = page[0]
    out[start : start + len(page)] = page
    out[start + len(page) :] = page[-1]
    return out


def placed_origin(origin: np.ndarray, start: int, length: int, total: int) -> np.ndarray:
    """A highlight's origins over a part's ``length`` frames, ``(length, 3)``, placed at ``start`` of ``total``
    frames and off the grid at every other frame: ``(total, 3)`` int32."""
    out = np.zeros((total, 3), dtype=np.int32)
    out[:, 1] = OFF_GRID
    out[start : start + length] = origin
    return out
