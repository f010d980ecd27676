"""Backpropagation through time drawn: the upstream gradient, ``dL/dh`` (and ``dL/dc``) filling up from the newest
step back, the gates' gradients, the input's gradient, and each layer's parameter gradients filling up row by row.

Panels (time steps as columns, one slice per layer and direction, one page per sample): ``dout``, ``dh``, ``dc``
(LSTM), ``da`` (every gate's pre-activation gradient), ``dx``; then per layer ``dW_ih``, ``dW_hh``, ``db``
(``b_ih`` and ``b_hh`` side by side), ``dW_hr`` (projection). Highlights: what a frame writes (output) and the
gradient it reads (window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from layerviz.layers._recurrent_bptt import BLOCK
from layerviz.layers._recurrent_gates import GATES
from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions

if TYPE_CHECKING:
    from layerviz.layers._recurrent_backward import RecurrentBackwardTrace

#: Highlight row that puts a highlight off its grid: it is not drawn at that frame.
_HIDDEN = -(2**30)

Drawn = tuple[list[Grid], list[Highlight]]


def frame_table(bt: RecurrentBackwardTrace) -> dict[str, np.ndarray]:
    """Per frame: ``kind`` (0 steps, 1 param, 2 down), ``layer``, ``direction``, ``sample`` (-1), ``t`` (-1),
    ``stage`` (index into ``bt.stages``, -1), ``segment``, ``local`` (index within the segment)."""
    f = bt.forward
    k = bt.n_frames
    table = {key: np.full(k, -1, dtype=np.int64) for key in ("kind", "layer", "direction", "sample", "t", "stage",
                                                              "segment", "local")}
    for i, seg in enumerate(bt.segments):
        sl = slice(seg.start, seg.start + seg.size)
        local = np.arange(seg.size)
        table["segment"][sl], table["local"][sl], table["layer"][sl] = i, local, seg.layer
        if seg.kind == "steps":
            d, n, step, s = np.unravel_index(local, (f.num_directions, f.n_samples, f.seq_len, len(bt.stages)))
            table["kind"][sl], table["direction"][sl], table["sample"][sl], table["stage"][sl] = 0, d, n, s
            table["t"][sl] = np.where(d == 0, f.seq_len - 1 - step, step)
        elif seg.kind == "down":
            n, step = np.divmod(local, f.seq_len)
            table["kind"][sl], table["direction"][sl], table["sample"][sl] = 2, 0, n
            table["t"][sl] = f.seq_len - 1 - step
        else:
            table["kind"][sl], table["direction"][sl] = 1, seg.direction
    return table


def column(rows: int) -> np.ndarray:
    """A stencil of ``rows`` cells down one column."""
    return np.array([(0, r, 0) for r in range(rows)], dtype=np.int32).reshape(-1, 3)


class _Frames:
    """The frame table (:func:`frame_table`) and what the panels need from it: each frame's page (the sample of
    the last step frame), slice (``sample*n_LD + layer*D + direction``) and stage name ('' for other frames)."""

    def __init__(self, bt: RecurrentBackwardTrace) -> None:
        f = bt.forward
        self.bt, self.f, self.b = bt, f, bt.bptt
        self.tab = tab = frame_table(bt)
        self.n_frames = bt.n_frames
        self.seq, self.n_s, self.big_d, self.layers = f.seq_len, f.n_samples, f.num_directions, f.num_layers
        self.n_ld, self.hid, self.h_out = self.layers * self.big_d, f.hidden_size, f.output_hidden
        frames = np.arange(self.n_frames)
        has_sample = tab["sample"] >= 0
        last = np.maximum.accumulate(np.where(has_sample, frames, 0))
        self.page = np.maximum(tab["sample"][last], 0).astype(np.int32)
        ld = tab["layer"] * self.big_d + tab["direction"]
        self.slice_ld = (np.maximum(tab["sample"], 0) * self.n_ld + ld).astype(np.int64)
        self.stage_name = np.array(bt.stages + ("",))[tab["stage"]]  # -1 picks ""
        self.labels = tuple((f"sample {i}: " if f.batched else "") + (f"layer {ll}" if self.layers > 1 else "")
                            + (" ←" if dd else (" →" if self.big_d > 1 else "")) for i in range(self.n_s)
                            for ll in range(self.layers) for dd in range(self.big_d))
        self.times = tuple(str(tt) for tt in range(self.seq))  # the columns of every strip: the time steps

    def origins(self, active: np.ndarray, slice_: np.ndarray | int, row: np.ndarray | int, col: np.ndarray | int
                ) -> np.ndarray:
        """Per-frame anchors ``(slice_, row, col)``, off the grid (not drawn) where not ``active``."""
        out = np.zeros((self.n_frames, 3), dtype=np.int32)
        out[:, 0] = np.where(active, slice_, 0)
        out[:, 1] = np.where(active, row, _HIDDEN)
        out[:, 2] = np.where(active, col, 0)
        return out

    def strip(self, a: np.ndarray) -> np.ndarray:
        """``(n_LD, L, N, X)`` -> ``(N*n_LD, X, L)``."""
        return np.ascontiguousarray(np.moveaxis(a, 2, 0).reshape(self.n_s * self.n_ld, self.seq, -1).swapaxes(1, 2))

    def reveal_of(self, stage: str, rows: int) -> np.ndarray:
        """``(N*n_LD, rows, L)``: the frame of ``stage`` at each step, for every row of a strip."""
        out = np.zeros((self.n_s, self.n_ld, rows, self.seq), dtype=np.int64)
        for layer in range(self.layers):
            for d in range(self.big_d):
                for n in range(self.n_s):
                    out[n, layer * self.big_d + d] = np.array([self.bt.frame_of(layer, d, n, t, stage)
                                                               for t in range(self.seq)])[None, :]
        return out.reshape(self.n_s * self.n_ld, rows, self.seq).astype(np.int32)

    def strip_grid(self, name: str, title: str, values: np.ndarray, reveal: np.ndarray, prefix: str,
                   **options) -> Grid:
        """A gradient through time: one slice per layer and direction (labelled ``prefix``), filling up at the
        frames ``reveal`` gives."""
        return Grid(name, title, self.strip(values), tuple(f"{prefix} {lab}".rstrip() for lab in self.labels),
                    reveal=reveal, page_size=self.n_ld, page=self.page, op="←", col_labels=self.times, **options)


def _upstream(f: _Frames) -> Drawn:
    """The gradient given for the output, each step's ``dout[t]`` lit when the top layer's ``dh[t]`` reads it."""
    tab, h_out = f.tab, f.h_out
    g_vals = np.ascontiguousarray(np.moveaxis(f.bt._g3, 1, 0).swapaxes(1, 2))  # (N, D*H_out, L)
    panels = [Grid("dout", "upstream gradient dL/d output (columns: t)", g_vals,
                   tuple(f"dout (sample {i})" if f.f.batched else "dout" for i in range(f.n_s)), page_size=1,
                   page=f.page, col_labels=f.times)]
    top = (tab["layer"] == f.layers - 1) & (f.stage_name == "dh")
    highlights = [Highlight("dout", f.origins(top, tab["sample"], tab["direction"] * h_out, tab["t"]), column(h_out),
                            "window", "dout[t] read")]
    return panels, highlights


def _state_grads(f: _Frames) -> Drawn:
    """``dL/dh`` and (LSTM) ``dL/dc`` back through time, each step's vector lit as it is computed."""
    panels = [f.strip_grid("dh", "dL/dh, back through time", f.b.dh, f.reveal_of("dh", f.h_out), "dh")]
    highlights = [Highlight("dh", f.origins(f.stage_name == "dh", f.slice_ld, 0, f.tab["t"]), column(f.h_out),
                            "output", "dh[t] computed")]
    if f.b.dc is not None:
        panels.append(f.strip_grid("dc", "dL/dc, back along the cell state", f.b.dc, f.reveal_of("dc", f.hid),
                                   "dc"))
        highlights.append(Highlight("dc", f.origins(f.stage_name == "dc", f.slice_ld, 0, f.tab["t"]), column(f.hid),
                                    "output", "dc[t] computed"))
    return panels, highlights


def _gate_grads(f: _Frames) -> Drawn:
    """Every gate's pre-activation gradient, a gate's block lit as it is computed, all of them lit while the step
    sends them back (``dh_prev``, ``dx``)."""
    kind, hid = f.f.kind, f.hid
    width = f.b.da.shape[-1]
    gates = GATES[f.f.mode]
    reveal = np.zeros((f.n_s * f.n_ld, width, f.seq), dtype=np.int32)
    block_of = np.full(f.n_frames, -1)
    for stage, j in BLOCK[kind].items():
        reveal[:, j * hid:(j + 1) * hid] = f.reveal_of(stage, hid)
        block_of[f.stage_name == stage] = j
    title = {"RNN": "dL/da (pre-activation)", "LSTM": "dL/d gates i, f, g, o (pre-activation)",
             "GRU": "dL/d gates r, z, n (pre-activation)"}[kind]
    gate_rows = tuple(f"{gates[r // hid]}{r % hid}" for r in range(width)) if len(gates) > 1 else ()
    prefix = "".join(gates) if len(gates) > 1 else "da"
    panels = [f.strip_grid("da", title, f.b.da, reveal, prefix, row_labels=gate_rows)]
    reads = (f.tab["kind"] == 0) & np.isin(f.stage_name, ["dh_prev", "dx"])
    highlights = [Highlight("da", f.origins(block_of >= 0, f.slice_ld, np.maximum(block_of, 0) * hid, f.tab["t"]),
                            column(hid), "output", "gate gradient computed"),
                  Highlight("da", f.origins(reads, f.slice_ld, 0, f.tab["t"]), column(width), "window",
                            "gate gradients sent back")]
    return panels, highlights


def _input_grad(f: _Frames) -> Drawn:
    """The input's gradient, filling up at layer 0's ``dx`` frames (or at the frames handing it down)."""
    bt, tab, seq = f.bt, f.tab, f.seq
    in0 = f.f.pass_.inputs[0].shape[2]
    dx_vals = np.ascontiguousarray(np.moveaxis(f.b.dx[0], 1, 0).swapaxes(1, 2))  # (N, in0, L)
    down0 = next((i for i, s in enumerate(bt.segments) if s.kind == "down" and s.layer == 0), None)
    if down0 is None:
        dx_frame = (tab["layer"] == 0) & (f.stage_name == "dx")
        reveal = f.reveal_of("dx", 1)[::f.n_ld]  # layer 0, direction 0: (N, 1, L)
    else:
        dx_frame = tab["segment"] == down0
        seg = bt.segments[down0]
        steps = np.arange(seq)
        reveal = seg.start + np.arange(f.n_s)[:, None, None] * seq + (seq - 1 - steps)[None, None, :]
    panels = [Grid("dx", "dL/dx, the input's gradient", dx_vals,
                   tuple(f"dx (sample {i})" if f.f.batched else "dx" for i in range(f.n_s)),
                   reveal=np.broadcast_to(reveal, dx_vals.shape).astype(np.int32).copy(), page_size=1,
                   page=f.page, op="←", col_labels=f.times)]
    highlights = [Highlight("dx", f.origins(dx_frame, tab["sample"], 0, tab["t"]), column(in0), "output",
                            "dx[t] computed")]
    return panels, highlights


def _segment_frames(f: _Frames, names: list[str]) -> tuple[list, np.ndarray, np.ndarray]:
    """The segments of the parameters ``names``; the frames of any of them, and which of ``names`` each is."""
    segments, active, which = [], np.zeros(f.n_frames, dtype=bool), np.zeros(f.n_frames, dtype=np.int64)
    for j, nm in enumerate(names):
        i = next(i for i, s in enumerate(f.bt.segments) if s.name == nm)
        segments.append(f.bt.segments[i])
        mine = f.tab["segment"] == i
        active |= mine
        which[mine] = j
    return segments, active, which


def _weight_grads(f: _Frames, layer: int) -> Drawn:
    """The layer's weight gradients, ``dW_ih``, ``dW_hh`` (and ``dW_hr``), both directions side by side, each row
    revealed and lit at its frame."""
    dirs = ("forward", "reverse") if f.big_d == 2 else ("",)
    kinds = ["weight_ih", "weight_hh"] + (["weight_hr"] if f.h_out != f.hid else [])
    panels, highlights = [], []
    for base in kinds:
        names = [f"{base}_l{layer}" + ("_reverse" if d else "") for d in range(f.big_d)]
        values = np.stack([f.bt.grads[nm] for nm in names])
        segments, active, which = _segment_frames(f, names)
        rev = np.zeros(values.shape, dtype=np.int32)
        for d, seg in enumerate(segments):
            rev[d] = (seg.start + np.arange(seg.size))[:, None]
        label = {"weight_ih": "dW_ih", "weight_hh": "dW_hh", "weight_hr": "dW_hr"}[base]
        grid_name = f"{label}_l{layer}"
        layer_text = f", layer {layer}" if f.layers > 1 else ""
        panels.append(Grid(grid_name, f"dL/d{label[1:]}{layer_text}", values,
                           tuple(f"{label} {dd}".rstrip() for dd in dirs), reveal=rev))
        stencil = np.array([(0, 0, c) for c in range(values.shape[2])], dtype=np.int32)
        highlights.append(Highlight(grid_name, f.origins(active, which, f.tab["local"], 0), stencil, "output",
                                    "row computed"))
    return panels, highlights


def _bias_grads(f: _Frames, layer: int) -> Drawn:
    """The layer's bias gradients, ``b_ih`` and ``b_hh`` of each direction side by side, a gate block at a frame."""
    if not f.f.has_bias:
        return [], []
    dirs = ("forward", "reverse") if f.big_d == 2 else ("",)
    slices = [(d, base) for d in range(f.big_d) for base in ("bias_ih", "bias_hh")]
    names = [f"{base}_l{layer}" + ("_reverse" if d else "") for d, base in slices]
    segments, active, which = _segment_frames(f, names)
    values = [f.bt.grads[nm][:, None] for nm in names]
    rev = [np.repeat(seg.start + np.arange(seg.size), f.hid)[:, None] for seg in segments]
    labs = [f"d{base[0]}_{base[-2:]} {dirs[d]}".rstrip() for d, base in slices]
    grid_name = f"db_l{layer}"
    panels = [Grid(grid_name, "dL/db" + (f", layer {layer}" if f.layers > 1 else ""), np.stack(values),
                   tuple(labs), reveal=np.stack(rev).astype(np.int32))]
    highlights = [Highlight(grid_name, f.origins(active, which, f.tab["local"] * f.hid, 0), column(f.hid), "output",
                            "bias block computed")]
    return panels, highlights


def backward_scene(bt: RecurrentBackwardTrace) -> Scene:
    """The scene of ``bt`` (see :meth:`RecurrentBackwardTrace.scene
    <layerviz.layers._recurrent_backward.RecurrentBackwardTrace.scene>`)."""
    f = _Frames(bt)
    drawn = [_upstream(f), _state_grads(f), _gate_grads(f), _input_grad(f)]
    for layer in range(f.layers):
        drawn += [_weight_grads(f, layer), _bias_grads(f, layer)]
    panels = [grid for grids, _ in drawn for grid in grids]
    highlights = [highlight for _, lit in drawn for highlight in lit]
    vmax = max(float(np.abs(g.values).max(initial=0.0)) for g in panels) or 1.0
    layer_text = bt.layer.short_repr() if hasattr(bt.layer, "short_repr") else repr(bt.layer)
    return Scene(f"backpropagation through time: {layer_text}", f.n_frames, tuple(panels), tuple(highlights),
                 LazyCaptions(bt), vmax)
