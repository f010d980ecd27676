"""A recurrent layer drawn: the sequence unrolled over time, the weights, and the cell of the current step.

Panels, left to right: ``x`` (the input sequence, one column per time step ``t``, one page per sample), ``W_ih``
and ``W_hh`` (the weights on ``x`` and on ``h``: one page per layer, direction and gate, torch's ``W_ii``,
``W_if``, … blocks of rows; the page of the gate being computed, lit while it is used), the cell (the current
step's vectors as columns, labelled: :meth:`RecurrentTrace.cell_columns
<layerviz.layers._recurrent.RecurrentTrace.cell_columns>`), ``c`` (LSTM: the cell state, a strip filling up over
time) and ``h`` (one slice per layer and direction, filling up over time; layer ``l``'s slices are layer
``l+1``'s input). Each panel comes with the highlights of what a stage reads (window: ``x[t]`` or the lower
layer's ``h[t]``, ``h[t-1]``, ``c[t-1]``; kernel: the weights and the cell columns used) and writes (output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from layerviz.layers._recurrent_gates import GATES
from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions

if TYPE_CHECKING:
    from layerviz.layers._recurrent import RecurrentTrace

#: Highlight row that puts a highlight off its grid: it is not drawn at that frame.
_HIDDEN = -(2**30)

Drawn = tuple[list[Grid], list[Highlight]]

#: The cell columns a stage combines, per kind (up to three).
_READS = {"RNN": {"sum": ["ih", "hh"], "h": ["sum"]},
          "LSTM": {"c": ["f", "i", "g"], "h": ["o"]},
          "GRU": {"n": ["r"], "h": ["z", "n"]}}


def column(rows: int, slices: int = 1) -> np.ndarray:
    """A stencil of ``rows`` cells down one column, in each of ``slices`` slices."""
    return np.array([(ds, r, 0) for ds in range(slices) for r in range(rows)], dtype=np.int32).reshape(-1, 3)


class _Frames:
    """Every frame's sample ``n``, layer, direction ``d``, step, time ``t`` (and ``t_prev``), stage and step index
    ``sid``; what it reads (``uses_x``, ``uses_h``); and the anchors and reveals built from them."""

    def __init__(self, trace: RecurrentTrace) -> None:
        self.trace = trace
        self.n_frames, stages = trace.n_frames, trace.stages
        self.n_samples, self.n_layers, self.big_d, self.seq, self.n_st = trace.shape5
        self.n_ld = self.n_layers * self.big_d
        k = np.arange(self.n_frames)
        self.n, self.layer, self.d, self.step, s = np.unravel_index(k, trace.shape5)
        self.t = np.where(self.d == 0, self.step, self.seq - 1 - self.step)
        self.t_prev = np.where(self.d == 0, self.t - 1, self.t + 1)
        self.first = self.step == 0
        self.sid = k // self.n_st
        self.stage = np.asarray(stages)[s]
        self.slice_ld = self.n * self.n_ld + self.layer * self.big_d + self.d
        self.uses_x = np.isin(self.stage, [q for q in stages if q not in ("hh", "sum", "h", "c")]
                              if trace.kind != "RNN" else ["ih"])
        self.uses_h = np.isin(self.stage, {"RNN": ["hh"], "LSTM": ["f", "i", "g", "o"],
                                           "GRU": ["r", "z", "n", "h"]}[trace.kind])
        self.times = tuple(str(tt) for tt in range(self.seq))  # the columns of every strip: the time steps, unrolled
        self.strip_labels = tuple((f"sample {i}: " if trace.batched else "") +
                                  (f"layer {ll}" if self.n_layers > 1 else "") +
                                  (" ←" if dd else (" →" if self.big_d > 1 else ""))
                                  for i in range(self.n_samples) for ll in range(self.n_layers)
                                  for dd in range(self.big_d))

    def origins(self, active, slice_, row, col) -> np.ndarray:
        """Per-frame anchors ``(slice_, row, col)``, off the grid (not drawn) where not ``active``."""
        out = np.zeros((self.n_frames, 3), dtype=np.int32)
        out[:, 0], out[:, 1], out[:, 2] = slice_, np.where(active, row, _HIDDEN), col
        return out

    def strip_reveal(self, stage_name: str) -> np.ndarray:
        """``(N*n_LD, 1, L)``: the frame at which each step's value of that stage appears."""
        j = self.trace.stages.index(stage_name)
        steps = np.arange(self.seq)
        out = np.zeros((self.n_samples, self.n_layers, self.big_d, self.seq), dtype=np.int64)
        for dd in range(self.big_d):
            step_of_t = steps if dd == 0 else self.seq - 1 - steps
            base = ((np.arange(self.n_samples)[:, None, None] * self.n_layers + np.arange(self.n_layers)[None, :, None])
                    * self.big_d + dd) * self.seq
            out[:, :, dd, :] = (base + step_of_t[None, None, :]) * self.n_st + j
        return out.reshape(self.n_samples * self.n_ld, 1, self.seq).astype(np.int32)


def _input(f: _Frames) -> Drawn:
    """The input sequence, ``x[t]`` lit while layer 0 reads it."""
    trace = f.trace
    x_seq = np.moveaxis(trace.pass_.inputs[0], 1, 0)  # (N, L, H_in)
    panels = [Grid("x", "input x", np.ascontiguousarray(np.swapaxes(x_seq, 1, 2)),
                   tuple(f"x (sample {i})" if trace.batched else "x" for i in range(f.n_samples)),
                   page_size=1, page=f.n.astype(np.int32), col_labels=f.times)]
    highlights = [Highlight("x", f.origins(f.uses_x & (f.layer == 0), f.n, 0, f.t), column(x_seq.shape[2]), "window",
                            "x[t] read")]
    return panels, highlights


def _weight_pages(f: _Frames) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The page of ``W_ih`` and ``W_hh`` each frame shows (its layer, direction and gate: the c and h stages keep
    the page of the gate before them) and, per matrix, the frames that use it."""
    trace, stage = f.trace, f.stage
    gates = GATES[trace.mode]
    block = np.array([gates.index(q) if q in gates else -1 for q in stage])
    if trace.kind == "RNN":  # one block: W_ih at the stage "ih", W_hh at "hh"
        uses_w = {"ih": stage == "ih", "hh": stage == "hh"}
        block = np.zeros_like(block)
    else:
        uses_w = {"ih": block >= 0, "hh": block >= 0}
        for j in range(1, f.n_frames):
            if block[j] < 0:
                block[j] = block[j - 1]
        block = np.maximum(block, 0)
    return ((f.layer * f.big_d + f.d) * len(gates) + block).astype(np.int32), uses_w


def _weights(f: _Frames) -> Drawn:
    """The weights of each layer, direction and gate, one page each (torch's W_ii, W_if, … are blocks of rows of
    weight_ih_l0): the page of the gate being computed is shown, and lit while the stage uses it."""
    trace, hid = f.trace, f.trace.hidden_size
    gates = GATES[trace.mode]
    n_gates = len(gates)
    page_w, uses_w = _weight_pages(f)
    panels, highlights = [], []
    for which, title in (("ih", "weights on x"), ("hh", "weights on h")):
        mats = [trace.weights[f"weight_{which}_l{ll}" + ("_reverse" if dd else "")]
                for ll in range(f.n_layers) for dd in range(f.big_d)]
        width = max(m.shape[1] for m in mats)
        stack = np.full((len(mats) * n_gates, hid, width), np.nan)
        names_w = []
        for j, m in enumerate(mats):
            ll, dd = divmod(j, f.big_d)
            where = (f" l{ll}" if f.n_layers > 1 else "") + (" ←" if dd else "")
            for q in range(n_gates):
                stack[j * n_gates + q, :, : m.shape[1]] = m[q * hid : (q + 1) * hid]
                names_w.append((f"W_{which}" if n_gates == 1 else f"W_{which[0]}{gates[q]}") + where)
        panels.append(Grid(f"W_{which}", title, stack, tuple(names_w), page_size=1, page=page_w))
        stencil = np.array([(0, r, cc) for r in range(hid) for cc in range(width)], dtype=np.int32).reshape(-1, 3)
        highlights.append(Highlight(f"W_{which}", f.origins(uses_w[which], page_w, 0, 0), stencil,
                                    "kernel", "weights used"))
    return panels, highlights


def _cell_labels(f: _Frames) -> list[str]:
    """A name per step of the cell panel: ``t=3``, ``l1 ← t=0``, …"""
    labels = []
    for _ in range(f.n_samples):
        for ll in range(f.n_layers):
            for dd in range(f.big_d):
                for st in range(f.seq):
                    tt = st if dd == 0 else f.seq - 1 - st
                    where = (f"l{ll} " if f.n_layers > 1 else "") + ("← " if dd else "")
                    labels.append(f"{where}t={tt}")
    return labels


def _cell(f: _Frames) -> Drawn:
    """The current step's vectors as columns, each appearing at its stage, the one computed lit (output) and
    the ones it combines lit (kernel)."""
    trace, hid = f.trace, f.trace.hidden_size
    cells, names = trace.cell_columns()
    col_map = {"ih": 0, "hh": 1, "sum": 2} if trace.kind == "RNN" else {q: j for j, q in enumerate(names)}
    reveal = np.zeros(cells.shape, dtype=np.int32)
    step_base = (np.arange(cells.shape[0]) * f.n_st)[:, None, None]
    for name, j in col_map.items():
        reveal[:, :, j] = (step_base[:, :, 0] + trace.stages.index(name))
    title = {"RNN": "cell: Wx+b, Wh+b, a", "LSTM": "gates f, i, g, o", "GRU": "gates r, z, n"}[trace.kind]
    panels = [Grid("cell", title, cells, tuple(_cell_labels(f)), reveal=reveal, page_size=1,
                   page=f.sid.astype(np.int32), op="→", col_labels=names)]
    out_col = np.array([col_map.get(q, -1) for q in f.stage])
    highlights = [Highlight("cell", f.origins(out_col >= 0, f.sid, 0, out_col), column(hid), "output",
                            "value computed")]
    reads = _READS[trace.kind]
    for slot in range(3):
        col = np.array([col_map[reads[q][slot]] if len(reads.get(q, ())) > slot else -1 for q in f.stage])
        highlights.append(Highlight("cell", f.origins(col >= 0, f.sid, 0, col), column(hid), "kernel",
                                    "values combined"))
    return panels, highlights


def _strip(f: _Frames, values: np.ndarray, size: int) -> np.ndarray:
    """``(n_LD, L, N, size)`` time-major values as ``(N*n_LD, size, L)`` strips: time steps as columns."""
    return np.moveaxis(values, 2, 0).reshape(f.n_samples * f.n_ld, f.seq, size).swapaxes(1, 2)


def _cell_state(f: _Frames) -> Drawn:
    """The LSTM's cell state filling up over time: ``c[t−1]`` read by the c stage, ``c[t]`` by the h stage."""
    trace, hid = f.trace, f.trace.hidden_size
    if trace.kind != "LSTM":
        return [], []
    c_vals = _strip(f, trace.pass_.c, hid)
    panels = [Grid("c", "cell state c", np.ascontiguousarray(c_vals), tuple(f"c {lab}".rstrip() for lab in f.strip_labels),
                   reveal=np.broadcast_to(f.strip_reveal("c"), c_vals.shape).copy(), page_size=f.n_ld,
                   page=f.n.astype(np.int32), col_labels=f.times)]
    is_c, is_h = f.stage == "c", f.stage == "h"
    highlights = [
        Highlight("c", f.origins(is_c & ~f.first, f.slice_ld, 0, f.t_prev), column(hid), "window", "c read"),
        Highlight("c", f.origins(is_h, f.slice_ld, 0, f.t), column(hid), "window", "c read"),
        Highlight("c", f.origins(is_c, f.slice_ld, 0, f.t), column(hid), "output", "c[t] written"),
    ]
    return panels, highlights


def _hidden(f: _Frames) -> Drawn:
    """The hidden state filling up over time: ``h[t−1]`` read, the lower layer's ``h[t]`` read, ``h[t]`` written."""
    trace, h_out = f.trace, f.trace.output_hidden
    h_vals = _strip(f, trace.pass_.h, h_out)
    h_title = {"RNN": f"hidden state h = {'tanh' if trace.mode == 'RNN_TANH' else 'relu'}(a)",
               "LSTM": "hidden state h = o⊙tanh(c)", "GRU": "hidden state h = (1−z)⊙n + z⊙h"}[trace.kind]
    panels = [Grid("h", h_title, np.ascontiguousarray(h_vals), tuple(f"h {lab}".rstrip() for lab in f.strip_labels),
                   reveal=np.broadcast_to(f.strip_reveal("h"), h_vals.shape).copy(), page_size=f.n_ld,
                   page=f.n.astype(np.int32), op="→", col_labels=f.times)]
    lower = f.n * f.n_ld + np.maximum(f.layer - 1, 0) * f.big_d
    highlights = [
        Highlight("h", f.origins(f.uses_h & ~f.first, f.slice_ld, 0, f.t_prev), column(h_out), "window", "h[t−1] read"),
        # layer l > 0 reads layer l-1's h at t, both directions
        Highlight("h", f.origins(f.uses_x & (f.layer > 0), lower, 0, f.t), column(h_out, f.big_d), "window",
                  "lower layer's h[t] read"),
        Highlight("h", f.origins(f.stage == "h", f.slice_ld, 0, f.t), column(h_out), "output", "h[t] written"),
    ]
    return panels, highlights


def recurrent_scene(trace: RecurrentTrace) -> Scene:
    """The scene of ``trace`` (see :meth:`RecurrentTrace.scene <layerviz.layers._recurrent.RecurrentTrace.scene>`)."""
    f = _Frames(trace)
    panels, highlights = [], []
    for part in (_input, _weights, _cell, _cell_state, _hidden):
        more_panels, more_highlights = part(f)
        panels += more_panels
        highlights += more_highlights
    vmax = max(float(np.nanmax(np.abs(g.values))) if np.isfinite(g.values).any() else 0.0 for g in panels) or 1.0
    return Scene(trace._title(), f.n_frames, tuple(panels), tuple(highlights), LazyCaptions(trace), vmax)
