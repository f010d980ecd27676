"""Trace: the frames of one forward pass, as a sequence with O(1) random access.

A layer's ``frames(x)`` returns a :class:`Trace`. It holds the whole forward
pass computed once, vectorized; ``trace[k]`` builds frame ``k``'s record from
those arrays on demand, so jumping to frame 50 000 costs the same as frame 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from layerviz.views import view

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from layerviz.scene import Scene

class Trace(Sequence):
    """Base class: a layer's frames for one input.

    Subclasses set ``layer``, ``input``, ``output`` and ``n_frames`` and implement
    ``_frame(k)`` (the record for a valid, non-negative ``k``) and ``scene()``.
    """

    layer: Any
    input: np.ndarray
    output: np.ndarray
    n_frames: int

    def _frame(self, k: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def scene(self) -> Scene:  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self) -> int:
        return self.n_frames

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self._frame(i) for i in range(*k.indices(self.n_frames))]
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise TypeError(f"trace indices must be integers or slices, not {type(k).__name__}")
        index = int(k) + self.n_frames if k < 0 else int(k)
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame {k} out of range for a trace of {self.n_frames} frames")
        return self._frame(index)

    def __iter__(self) -> Iterator:
        return (self._frame(k) for k in range(self.n_frames))

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} of {self.layer!r}: {self.n_frames} frames, "
            f"input {self.input.shape} -> output {self.output.shape}>"
        )

    def show(self, k: int = 0) -> Figure:
        """Draw frame ``k`` as a matplotlib figure (:func:`layerviz.mpl.draw_frame`)."""
        return view("figure")(self.scene(), range(self.n_frames)[k])

    def save(self, path: str, frames=None, fps: float = 4, progress=None) -> None:
        """Export the animation (``.gif``, ``.mp4``) or one frame (``.png``) with matplotlib (:func:`layerviz.mpl.save`)."""
        view("file")(self.scene(), path, frames=frames, fps=fps, progress=progress)

    def player(self, **kwargs):
        """A browser :class:`~layerviz.player.Player` of this trace."""
        return view("player")(self.scene(), **kwargs)


class LazyCaptions(Sequence):
    """The narration of every frame, built only for the frames asked for."""

    def __init__(self, trace: Trace):
        self._trace = trace

    def __len__(self) -> int:
        return len(self._trace)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self._trace[i].narration for i in range(*k.indices(len(self)))]
        return self._trace[k].narration
