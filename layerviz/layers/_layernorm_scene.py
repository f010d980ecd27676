"""A layer normalization drawn: input x − mean ÷√ variance × γ + β = output, each panel with the highlights of the
frames that read or write it.

The input and the output are drawn one slice per group (a token's ``n`` values, as ``normalized_shape`` lays them
out: a row for a vector, the grid itself for ``(H, W)``); all the groups on one page when they are few, else the
group being normalized. The means and the variances are columns with group ``g`` on row ``g``; γ and β are drawn as
one group is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions

if TYPE_CHECKING:
    from layerviz.layers.layernorm import LayerNormTrace

#: Highlight origin row that puts a highlight outside its grid: it is not drawn at that frame.
_HIDDEN = -(2**30)

#: A highlight of one cell.
_ONE = np.zeros((1, 3), dtype=np.int32)

#: Groups are drawn together, on one page, while they hold at most this many values in all.
MAX_CELLS_ON_A_PAGE = 256


def _slice_shape(normalized_shape: tuple[int, ...]) -> tuple[int, int]:
    """How one group is drawn: a row ``(1, n)`` for a vector, ``(H, W)`` as it is, ``(prod(rest), last)`` beyond."""
    if len(normalized_shape) == 1:
        return 1, normalized_shape[0]
    return int(np.prod(normalized_shape[:-1])), normalized_shape[-1]


class _Frames:
    """Every frame's group, phase (0 mean, 1 variance, 2 normalize) and value, and where they are drawn."""

    def __init__(self, trace: LayerNormTrace) -> None:
        self.n_frames, self.groups, self.count = trace.n_frames, trace.n_groups, trace.count
        k = np.arange(self.n_frames)
        self.group, local = np.divmod(k, self.count + 2)
        self.phase = np.minimum(local, 2)
        self.value = np.where(self.phase == 2, local - 2, 0)
        self.rows, self.cols = _slice_shape(trace.normalized_shape)
        self.is_stat, self.is_norm = self.phase < 2, self.phase == 2
        paged = self.groups > 1 and trace.input.size > MAX_CELLS_ON_A_PAGE
        self.page_size = 1 if paged else self.groups
        self.page = self.group.astype(np.int32) if paged else None
        self.value_cell = np.stack([self.group, self.value // self.cols, self.value % self.cols], axis=1)
        r, c = np.divmod(np.arange(self.count), self.cols)
        self.whole_group = np.stack([np.zeros_like(r), r, c], axis=1).astype(np.int32)

    def origins(self, active: np.ndarray, where: np.ndarray) -> np.ndarray:
        """Per-frame anchors: ``where`` at the active frames, outside the grid (not drawn) elsewhere."""
        out = np.zeros((self.n_frames, 3), dtype=np.int32)
        out[:, 1] = _HIDDEN
        out[active] = where[active]
        return out

    def slices(self, values: np.ndarray) -> np.ndarray:
        """``x``-shaped values as ``(G, rows, cols)``: one slice per group."""
        return np.asarray(values, dtype=np.float64).reshape(self.groups, self.rows, self.cols)

    def column(self, values: np.ndarray) -> np.ndarray:
        """Per-group values as a ``(1, G, 1)`` column: group ``g`` on row ``g``."""
        return np.asarray(values, dtype=np.float64).reshape(1, self.groups, 1)


def _labels(trace: LayerNormTrace, symbol: str) -> tuple[str, ...]:
    if not trace.lead_shape:
        return (symbol,)
    return tuple(f"{symbol}[{','.join(map(str, trace.group_index(g)))}]" for g in range(trace.n_groups))


def layernorm_scene(trace: LayerNormTrace) -> Scene:
    """The scene of ``trace`` (see :meth:`LayerNormTrace.scene <layerviz.layers.layernorm.LayerNormTrace.scene>`)."""
    f = _Frames(trace)
    group_origin = np.stack([f.group, np.zeros_like(f.group), np.zeros_like(f.group)], axis=1)
    stat_cell = np.stack([np.zeros_like(f.group), f.group, np.zeros_like(f.group)], axis=1)
    norm_cell = np.stack([np.zeros_like(f.group), f.value // f.cols, f.value % f.cols], axis=1)
    starts = np.arange(f.groups, dtype=np.int32) * (f.count + 2)
    panels = [
        Grid("input", "input x", f.slices(trace.input), _labels(trace, "x"), page_size=f.page_size, page=f.page),
        Grid("mean", "mean μ (per group)", f.column(trace.mean), ("groups",), reveal=f.column(starts).astype(np.int32),
             op="−"),
        Grid("var", "variance σ²", f.column(trace.var), ("groups",), reveal=f.column(starts + 1).astype(np.int32),
             op="÷√"),
    ]
    highlights = [
        Highlight("input", f.origins(f.is_stat, group_origin), f.whole_group, "window", "values read"),
        Highlight("input", f.origins(f.is_norm, f.value_cell), _ONE, "window", "values read"),
        Highlight("mean", f.origins(np.ones(f.n_frames, dtype=bool), stat_cell), _ONE, "stat", "group statistic"),
        Highlight("var", f.origins(f.phase >= 1, stat_cell), _ONE, "stat", "group statistic"),
    ]
    for name, title, values, op in (("gamma", "γ weight", trace.weight, "×"), ("beta", "β bias", trace.bias, "+")):
        if values is not None:
            panels.append(Grid(name, title, values.reshape(1, f.rows, f.cols), ("",), op=op))
            highlights.append(Highlight(name, f.origins(f.is_norm, norm_cell), _ONE, "kernel", "γ, β (learned)"))
    panels.append(Grid("output", "output", f.slices(trace.output), _labels(trace, "out"),
                       reveal=f.slices(trace.output_frame).astype(np.int32), page_size=f.page_size, page=f.page,
                       op="="))
    highlights.append(Highlight("output", f.origins(f.is_norm, f.value_cell), _ONE, "output", "output written"))
    vmax = max(float(np.abs(p.values).max()) for p in panels) or 1.0
    return Scene(repr(trace.layer), f.n_frames, tuple(panels), tuple(highlights), LazyCaptions(trace), vmax)
