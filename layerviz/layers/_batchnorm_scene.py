"""A batch normalization drawn: the formula as panels, input x − mean ÷√ variance × γ + β = output, then
the running statistics; each panel with the highlights of the frames that read or write it.

The input and output show one channel at a time (all its samples: what a statistic is taken over), or one
``N × C`` table for an ``(N, C)`` input. The mean and variance (the running ones in eval mode), γ and β are
columns with channel ``c`` on row ``c``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions

if TYPE_CHECKING:
    from layerviz.layers.batchnorm import BatchNormTrace

#: Highlight origin row that puts a highlight outside its grid: it is not drawn at that frame.
_HIDDEN = -(2**30)

#: A highlight of one cell.
_ONE = np.zeros((1, 3), dtype=np.int32)

Drawn = tuple[list[Grid], list[Highlight]]


def _slots(trace: BatchNormTrace) -> tuple[np.ndarray, tuple[int, int, int], int]:
    """Where each value of ``x`` is drawn: ``(C, n, 3)`` cells in channel-major order, the grid
    shape ``(S, H, W)`` and the page size (a page holds one channel, except for ``(N, C)``)."""
    x = trace.input
    channels, n_samples = x.shape[1], x.shape[0]
    index = np.indices(trace._channel_major_shape, dtype=np.int32)
    if x.ndim == 2:  # one N x C table, channels as columns
        c, n = index
        slots = np.stack([np.zeros_like(c), n, c], axis=-1)
        shape, page_size = (1, n_samples, channels), 1
    elif x.ndim == 3:  # one N x L grid per channel
        slots = np.stack(index, axis=-1)
        shape, page_size = (channels, n_samples, x.shape[2]), 1
    else:  # one H x W grid per sample, the N samples of a channel on one page
        c, n, i, j = index
        slots = np.stack([c * n_samples + n, i, j], axis=-1)
        shape, page_size = (channels * n_samples, x.shape[2], x.shape[3]), n_samples
    return slots.reshape(channels, -1, 3), shape, page_size


def _labels(trace: BatchNormTrace, name: str) -> tuple[str, ...]:
    x = trace.input
    if x.ndim == 2:
        return ("n × c",)
    if x.ndim == 3:
        return tuple(f"{name}[:, {c}, :]" for c in range(x.shape[1]))
    return tuple(f"{name}[{n},{c}]" for c in range(x.shape[1]) for n in range(x.shape[0]))


class _Frames:
    """Every frame's phase, local index and channel, where each value is drawn, and the anchors built from them.

    ``phase`` indexes :data:`~layerviz.layers.batchnorm.PHASES`; ``which`` tells an update frame's statistic
    (0 ``running_mean``, 1 ``running_var``).
    """

    def __init__(self, trace: BatchNormTrace) -> None:
        self.n_frames = trace.n_frames
        self.channels = trace.input.shape[1]
        self.starts = trace.phase_starts
        k = np.arange(self.n_frames)
        self.phase = np.searchsorted(trace._phase_ends, k, side="right")
        self.local = k - self.starts[self.phase]
        self.channel = np.select([self.phase < 2, self.phase == 2],
                                 [self.local, self.local * trace.group // trace.count], self.local // 2)
        self.which = self.local % 2
        self.slots, self.shape, self.page_size = _slots(trace)
        self.flat_slots = self.slots.reshape(-1, 3)
        self.page = self.channel.astype(np.int32) if trace.input.ndim > 2 else None
        self.is_stats, self.is_norm, self.is_update = self.phase < 2, self.phase == 2, self.phase == 3
        self.group_start = np.where(self.is_norm, self.local * trace.group, 0)
        self.group_stencil = self.flat_slots[: trace.group] - self.flat_slots[0]

    def origins(self, active: np.ndarray, where: np.ndarray) -> np.ndarray:
        """Per-frame anchors: ``where`` at the active frames, outside the grid (not drawn) elsewhere."""
        out = np.zeros((self.n_frames, 3), dtype=np.int32)
        out[:, 1] = _HIDDEN
        out[active] = where[active]
        return out

    def cell(self, slice_index=0) -> np.ndarray:
        """Anchor ``(slice_index, channel, 0)`` per frame: a per-channel cell."""
        channel = self.channel
        return np.stack([np.broadcast_to(slice_index, channel.shape), channel, np.zeros_like(channel)], axis=1)

    def drawn(self, channel_major: np.ndarray) -> np.ndarray:
        """Values in channel-major order, placed on the grid of the input."""
        values = np.zeros(self.shape)
        values[tuple(self.flat_slots.T)] = channel_major.ravel()
        return values

    def column(self, values: np.ndarray) -> np.ndarray:
        """Per-channel values as ``(S, C, 1)`` columns: channel ``c`` on row ``c``."""
        return np.asarray(values, dtype=np.float64).reshape(-1, self.channels, 1)


def _input(trace: BatchNormTrace, f: _Frames) -> Drawn:
    """The input, and the values a statistic (all of a channel) or a normalize frame (an element or a row) reads."""
    in_channel = f.slots[np.where(f.is_stats, f.channel, 0), 0]
    channel_stencil = f.slots[0] - f.slots[0, 0]
    panels = [Grid("input", "input x", f.drawn(trace.by_channel), _labels(trace, "x"), page_size=f.page_size,
                   page=f.page)]
    highlights = [
        Highlight("input", f.origins(f.is_stats, in_channel), channel_stencil, "window", "values read"),
        Highlight("input", f.origins(f.is_norm, f.flat_slots[f.group_start]), f.group_stencil, "window", "values read"),
    ]
    return panels, highlights


def _statistics(trace: BatchNormTrace, f: _Frames) -> Drawn:
    """The mean and the variance: the batch's, appearing as they are computed (and lit while used: by the
    variance, the normalization, the update), or the running ones, lit while the normalization uses them."""
    if trace.uses_batch_stats:
        reveal_stat = np.arange(f.channels, dtype=np.int32).reshape(1, f.channels, 1)
        panels = [Grid("mean", "mean μ", f.column(trace.batch_mean), ("batch",), reveal=reveal_stat + f.starts[0],
                       op="−"),
                  Grid("var", "variance σ²", f.column(trace.batch_var), ("batch",), reveal=reveal_stat + f.starts[1],
                       op="÷√")]
        mean_used = (f.phase <= 2) | (f.is_update & (f.which == 0))
        var_used = (f.phase == 1) | f.is_norm | (f.is_update & (f.which == 1))
    else:
        panels = [Grid("mean", "running_mean", f.column(trace.running_mean), ("used",), op="−"),
                  Grid("var", "running_var", f.column(trace.running_var), ("used",), op="÷√")]
        mean_used = var_used = f.is_norm
    stat = "batch statistic" if trace.uses_batch_stats else "running statistic"
    highlights = [Highlight("mean", f.origins(mean_used, f.cell()), _ONE, "stat", stat),
                  Highlight("var", f.origins(var_used, f.cell()), _ONE, "stat", stat)]
    return panels, highlights


def _affine(trace: BatchNormTrace, f: _Frames) -> Drawn:
    """γ and β (those the layer has), lit while a normalize frame uses them."""
    panels, highlights = [], []
    for name, title, values, op in (("gamma", "γ weight", trace.weight, "×"), ("beta", "β bias", trace.bias, "+")):
        if values is not None:
            panels.append(Grid(name, title, f.column(values), ("",), op=op))
            highlights.append(Highlight(name, f.origins(f.is_norm, f.cell()), _ONE, "kernel", "γ, β (learned)"))
    return panels, highlights


def _output(trace: BatchNormTrace, f: _Frames) -> Drawn:
    """The output, filling up as the normalize frames write it."""
    reveal = np.zeros(f.shape, dtype=np.int32)
    reveal[tuple(f.flat_slots.T)] = np.moveaxis(trace.output_frame, 1, 0).ravel()
    panels = [Grid("output", "output", f.drawn(np.moveaxis(trace.output, 1, 0)), _labels(trace, "out"),
                   reveal=reveal, page_size=f.page_size, page=f.page, op="=")]
    highlights = [Highlight("output", f.origins(f.is_norm, f.flat_slots[f.group_start]), f.group_stencil, "output",
                            "output written")]
    return panels, highlights


def _running(trace: BatchNormTrace, f: _Frames) -> Drawn:
    """The running statistics updated: two slices, running_mean and running_var, channel ``c`` on row ``c``,
    the old value left, the new right (nothing without an update)."""
    if not trace.updates_running_stats:
        return [], []
    running = np.stack([np.stack([trace.running_mean, trace.new_running_mean], axis=1),
                        np.stack([trace.running_var, trace.new_running_var], axis=1)])
    reveal_new = np.zeros((2, f.channels, 2), dtype=np.int32)
    reveal_new[:, :, 1] = f.starts[3] + 2 * np.arange(f.channels) + np.arange(2)[:, None]
    panels = [Grid("running", "running", running, ("μ: old, new", "σ²: old, new"), reveal=reveal_new)]
    anchor = np.stack([f.which, f.channel, np.zeros_like(f.channel)], axis=1)
    highlights = [Highlight("running", f.origins(f.is_update, anchor), _ONE, "stat", "old running value"),
                  Highlight("running", f.origins(f.is_update, anchor + [0, 0, 1]), _ONE, "output", "output written")]
    return panels, highlights


def batchnorm_scene(trace: BatchNormTrace) -> Scene:
    """The scene of ``trace`` (see :meth:`BatchNormTrace.scene <layerviz.layers.batchnorm.BatchNormTrace.scene>`)."""
    f = _Frames(trace)
    panels, highlights = [], []
    for part in (_input, _statistics, _affine, _output, _running):
        more_panels, more_highlights = part(trace, f)
        panels += more_panels
        highlights += more_highlights
    vmax = max(float(np.abs(p.values).max()) for p in panels) or 1.0
    mode = "training" if trace.training else "eval"
    return Scene(f"{trace.layer!r}, {mode} mode", f.n_frames, tuple(panels), tuple(highlights),
                 LazyCaptions(trace), vmax)
