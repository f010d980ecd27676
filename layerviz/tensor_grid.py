"""Any tensor drawn as a scene :class:`~layerviz.scene.Grid`: its layout in slices and pages, and its cells.

A vector ``(F,)`` is one column; a batch of vectors ``(N, F)`` is ``N`` columns, one page per sample;
``(C, H, W)`` is ``C`` slices; ``(N, C, H, W)`` is ``N*C`` slices, ``C`` per page. Layers, backward traces,
losses and graphs draw their tensors with these, so one tensor looks the same wherever it appears.
"""

from __future__ import annotations

import numpy as np

from layerviz.scene import Grid

#: Highlight row in frames where a highlight is not in use: off every grid, so no view draws it.
OFF_GRID = -(1 << 20)


def index_name(prefix: str, index: tuple) -> str:
    """``out[0,2]``; ``out`` for a scalar; ``:`` stands for a whole axis."""
    return f"{prefix}[{','.join(str(i) for i in index)}]" if index else prefix


def grid_layout(shape: tuple[int, ...]) -> tuple[tuple[int, int, int], int]:
    """How a tensor of ``shape`` is drawn: ``((S, H, W), slices per sample)``.

    A vector ``(F,)`` is one column ``(1, F, 1)``; a batch of vectors ``(N, F)`` is ``N`` columns, one
    page per sample; ``(C, H, W)`` is ``C`` slices; ``(N, C, H, W)`` is ``N*C`` slices, ``C`` per page.
    """
    if len(shape) == 0:
        return (1, 1, 1), 1
    if len(shape) == 1:
        return (1, shape[0], 1), 1
    if len(shape) == 2:
        return (shape[0], shape[1], 1), 1
    if len(shape) == 3:
        return (shape[0], shape[1], shape[2]), shape[0]
    lead = int(np.prod(shape[:-2], dtype=np.int64))
    return (lead, shape[-2], shape[-1]), int(np.prod(shape[1:-2], dtype=np.int64))


def samples(shape: tuple[int, ...]) -> int:
    """Pages of :func:`grid_layout`: ``N`` for a batch (2 or >= 4 dimensions), else 1."""
    return shape[0] if len(shape) == 2 or len(shape) >= 4 else 1


def tensor_grid(name: str, title: str, array: np.ndarray, prefix: str, *, reveal: np.ndarray | None = None,
                page: np.ndarray | None = None, op: str = "") -> Grid:
    """``array`` drawn as in :func:`grid_layout`; ``reveal`` has ``array``'s shape; ``page`` one entry per frame."""
    (s, h, w), page_size = grid_layout(array.shape)
    if array.ndim <= 1:
        labels = (prefix,)
    elif array.ndim == 2:
        labels = tuple(f"{prefix}[{n}]" for n in range(s))
    else:
        labels = tuple(index_name(prefix, index) for index in np.ndindex(*array.shape[:-2]))
    return Grid(name, title, np.asarray(array, dtype=np.float64).reshape(s, h, w), labels,
                reveal=None if reveal is None else np.asarray(reveal, dtype=np.int32).reshape(s, h, w),
                page_size=page_size, page=page if samples(array.shape) > 1 else None, op=op)


def grid_cells(shape: tuple[int, ...], flat: np.ndarray) -> np.ndarray:
    """``(len(flat), 3)`` int32 grid cells ``(slice, row, col)`` of flat (row-major) element indices."""
    (_, h, w), _ = grid_layout(shape)
    flat = np.asarray(flat, dtype=np.int64)
    return np.stack([flat // (h * w), (flat // w) % h, flat % w], axis=1).astype(np.int32)


def sample_of(shape: tuple[int, ...], flat: np.ndarray) -> np.ndarray:
    """The page (sample) of each flat element index, int32."""
    per_sample = int(np.prod(shape, dtype=np.int64)) // samples(shape)
    return (np.asarray(flat, dtype=np.int64) // per_sample).astype(np.int32)
