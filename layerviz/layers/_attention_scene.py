"""Attention drawn: Q · K = scores → weights · V = output, one batch item per page.

A score frame lights row ``i`` of Q, row ``j`` of K and the score it writes; a softmax frame the row of scores it
reads and the row of weights it writes; an output frame the row of weights, the values and the output row. Masked
scores are drawn as padding (hatched, no number: their score is ``-inf``). With dropout the weights drawn are the
ones the values are averaged with, after dropout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions

if TYPE_CHECKING:
    from layerviz.layers.attention import AttentionTrace

#: Highlight origin row that puts a highlight outside its grid: it is not drawn at that frame.
_HIDDEN = -(2**30)


def _row(n: int) -> np.ndarray:
    """A stencil of ``n`` cells along a row."""
    stencil = np.zeros((n, 3), dtype=np.int32)
    stencil[:, 2] = np.arange(n)
    return stencil


def _block(rows: int, cols: int) -> np.ndarray:
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.stack([np.zeros_like(r), r, c], axis=1).astype(np.int32)


def attention_scene(trace: AttentionTrace) -> Scene:
    """The scene of ``trace`` (see :meth:`AttentionTrace.scene <layerviz.layers.attention.AttentionTrace.scene>`)."""
    c = trace._pass
    n, B, L, S, E, Ev = trace.n_frames, trace.n_batch, trace.L, trace.S, trace.E, trace.Ev
    k = np.arange(n)
    b, local = np.divmod(k, L * (S + 2))
    i, t = np.divmod(local, S + 2)
    j = np.where(t < S, t, 0)
    zero = np.zeros_like(k)
    phase = {"score": t < S, "softmax": t == S, "output": t == S + 1}

    def origins(active: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        out = np.zeros((n, 3), dtype=np.int32)
        out[:, 1] = _HIDDEN
        where = np.stack([b, rows, cols], axis=1)
        out[active] = where[active]
        return out

    labels = tuple(f"batch item {tuple(trace.batch_index(x))}" if trace.batch_shape else "" for x in range(B))
    page = b.astype(np.int32) if B > 1 else None
    scores = np.where(c.allowed, c.raw, np.nan)
    reveal_scores = trace.score_frame.reshape(B, L, S).astype(np.int32)
    reveal_rows = trace.softmax_frame.reshape(B, L, 1).astype(np.int32)
    reveal_out = trace.output_frame.reshape(B, L, 1).astype(np.int32)
    scale = "/ √E" if c.call.scale is None else "× scale"
    drop = c.kept is not None

    def grid(name, title, values, op="", **more):
        return Grid(name, title, np.asarray(values, dtype=np.float64), labels, page_size=1, page=page, op=op, **more)

    panels = (
        grid("query", f"query Q ({L}×{E})", c.q),
        grid("key", f"key K ({S}×{E})", c.k, "·"),
        grid("scores", f"scores S = Q·Kᵀ {scale}" + (" + mask" if c.call.mask == "float" else ""), scores, "=",
             padding=~c.allowed, reveal=reveal_scores),
        grid("weights", "weights Ã (softmax, then dropout)" if drop else "weights A = softmax(S), by rows", c.dropped,
             "→", reveal=np.broadcast_to(reveal_rows, (B, L, S)).copy()),
        grid("value", f"value V ({S}×{Ev})", c.v, "·"),
        grid("output", f"output ({L}×{Ev})", c.out, "=", reveal=np.broadcast_to(reveal_out, (B, L, Ev)).copy()),
    )
    one = np.zeros((1, 3), dtype=np.int32)
    highlights = (
        Highlight("query", origins(phase["score"], i, zero), _row(E), "window", "query row q_i"),
        Highlight("key", origins(phase["score"], j, zero), _row(E), "kernel", "key row k_j"),
        Highlight("scores", origins(phase["score"], i, j), one, "output", "score written"),
        Highlight("scores", origins(phase["softmax"], i, zero), _row(S), "window", "row of scores read"),
        Highlight("weights", origins(phase["softmax"], i, zero), _row(S), "output", "row of weights written"),
        Highlight("weights", origins(phase["output"], i, zero), _row(S), "window", "row of weights read"),
        Highlight("value", origins(phase["output"], zero, zero), _block(S, Ev), "kernel", "values V"),
        Highlight("output", origins(phase["output"], i, zero), _row(Ev), "output", "output row written"),
    )
    finite = [np.abs(a[np.isfinite(a)]) for a in (c.q, c.k, scores, c.dropped, c.v, c.out)]
    vmax = max(float(a.max(initial=0.0)) for a in finite) or 1.0
    return Scene(repr(trace.layer), n, panels, highlights, LazyCaptions(trace), vmax)
