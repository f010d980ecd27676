"""Backpropagation through time as frames: the trace that ``RecurrentTrace.backward`` returns.

``trace = layer.frames(x)`` holds the forward pass (every intermediate, in its ``pass_``);
``trace.backward(grad_output, grad_h_n=..., grad_c_n=...)`` (:func:`backward`) returns a
:class:`RecurrentBackwardTrace` built from those saved numbers (the forward is never run again): the gradients
of ``L = (output * grad_output).sum() + (h_n * grad_h_n).sum() + (c_n * grad_c_n).sum()``, as torch's autograd.

Frames: BPTT as a student does it by hand, layer after layer from the top, for each direction and
sample, newest step first; each frame computes one small vector and writes its arithmetic with the
numbers shown (``dh[4] = dout[4] + dh_n = [0.10, -0.20] + [0.00, 0.00] = [0.10, -0.20]``). Per step:
RNN ``dh, da, dh_prev, dx``; LSTM ``dh, (dh_cell), do, dc, di, df, dg, dc_prev, dh_prev, dx``; GRU ``dh, dn,
dz, dr, dh_prev, dx``. Then each layer's parameter gradients, one frame per row of a matrix (a sum over
time of a gradient entry times a vector) and one per gate block of a bias; then, with two directions or
dropout, the gradient handed to the layer below (or the input's), one frame per step.

This module holds the trace: where each frame is (its segments: a layer's steps, a parameter, the gradient handed
down) and the frame built there. The numbers are computed in :mod:`~layerviz.layers._recurrent_bptt` (the chain
rule, step by step, and the same as plain loops), told in :mod:`~layerviz.layers._recurrent_backward_narration`
and drawn in :mod:`~layerviz.layers._recurrent_backward_scene`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from layerviz import _checks
from layerviz._format import Ask
from layerviz.backward import BackwardTrace, check_grad_output
from layerviz.layers._recurrent_backward_narration import Explained, explain_down, explain_param, explain_step
from layerviz.layers._recurrent_backward_scene import backward_scene
from layerviz.layers._recurrent_bptt import BACKWARD_STAGES, BPTT, bptt, dropout_scale
from layerviz.layers._recurrent_gates import GATES
from layerviz.scene import Scene

if TYPE_CHECKING:
    from layerviz.layers._recurrent import RecurrentTrace

__all__ = ["RecurrentBackwardTrace", "RecurrentGradFrame", "backward"]


# -- the public entry point -----------------------------------------------------------------------------


def backward(trace: RecurrentTrace, grad_output=None, *, grad_h_n=None, grad_c_n=None) -> RecurrentBackwardTrace:
    """BPTT of ``trace`` (see :meth:`RecurrentTrace.backward <layerviz.layers._recurrent.RecurrentTrace.backward>`)."""
    g = np.array(check_grad_output(grad_output, np.shape(trace.output)))  # a copy: the trace freezes its arrays
    g_hn, g_cn = _state_grads(trace, grad_h_n, grad_c_n)
    bf = _batch_first(trace)
    upstream = _time_major(trace, bf, g, g_hn, g_cn)
    result = bptt(trace, np.ascontiguousarray(upstream[0]), *upstream[1:])
    return RecurrentBackwardTrace(trace, g, result, _shaped_grads(trace, bf, result), upstream)


def _state_grads(trace: RecurrentTrace, grad_h_n, grad_c_n) -> tuple[np.ndarray, np.ndarray | None]:
    """``grad_h_n`` and (LSTM) ``grad_c_n`` checked, as copies shaped like ``h_n`` and ``c_n`` (zeros when None)."""
    g_hn = np.array(_state_grad("grad_h_n", grad_h_n, np.shape(trace.h_n), "h_n"))
    if trace.kind != "LSTM":
        if grad_c_n is not None:
            raise ValueError(f"grad_c_n is for an LSTM's cell state c_n: {type(trace.layer).__name__} has none "
                             f"(leave grad_c_n None)")
        return g_hn, None
    return g_hn, np.array(_state_grad("grad_c_n", grad_c_n, np.shape(trace.c_n), "c_n"))


def _state_grad(name: str, value: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (zeros when None); ValueError naming ``name``."""
    if value is None:
        return np.zeros(shape)
    array = _checks.finite_array(name, value, (len(shape),), f"{shape} ({what}'s shape)")
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have {what}'s shape {tuple(shape)}, got shape {array.shape}")
    return array


def _batch_first(trace: RecurrentTrace) -> bool:
    """Whether the forward read (and returned) a batch as ``(N, L, ·)``: the saved input tells."""
    if not trace.batched:
        return False
    x3 = trace.pass_.inputs[0]
    time_major = trace.input.shape == x3.shape and np.array_equal(trace.input, x3)
    batch_major = trace.input.shape == x3.shape[1::-1] + x3.shape[2:] and np.array_equal(trace.input,
                                                                                         np.swapaxes(x3, 0, 1))
    return trace.layer.batch_first if time_major == batch_major else batch_major


def _time_major(trace: RecurrentTrace, bf: bool, g: np.ndarray, g_hn: np.ndarray, g_cn: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The upstream gradients as :func:`~layerviz.layers._recurrent_bptt.bptt` reads them, batched and time-major:
    ``(L, N, D*H_out)``, ``(n_LD, N, H_out)``, ``(n_LD, N, H)`` or None."""
    if not trace.batched:
        return g[:, None, :], g_hn[:, None, :], None if g_cn is None else g_cn[:, None, :]
    return (np.swapaxes(g, 0, 1) if bf else g), g_hn, g_cn


def _shaped_grads(trace: RecurrentTrace, bf: bool, result: BPTT) -> dict[str, np.ndarray]:
    """Every parameter's gradient, then ``"input"``, ``"h0"`` (and ``"c0"``) shaped like the forward's."""
    dx = result.dx[0]
    dx = dx[:, 0] if not trace.batched else (np.swapaxes(dx, 0, 1) if bf else dx)
    grads = dict(result.params)
    grads["input"] = np.ascontiguousarray(dx)
    grads["h0"] = result.dh0[:, 0] if not trace.batched else result.dh0
    if result.dc0 is not None:
        grads["c0"] = result.dc0[:, 0] if not trace.batched else result.dc0
    return grads


# -- the trace ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RecurrentGradFrame:
    """One small vector of backpropagation through time, and the arithmetic that gives it.

    Attributes
    ----------
    index : int
        Position in the backward trace.
    grad : str
        What it computes: a stage of a time step (``'dh'``, ``'da'``, ``'do'``, ``'dc'``, ..., ``'dh_prev'``,
        ``'dc_prev'``, ``'dx'``), ``'dup'`` (the gradient handed to the layer below, or the input's with two
        directions), or a parameter's torch name (``'weight_hh_l0'``).
    sample, layer, direction : int
        ``sample`` is -1 for a parameter frame (a sum over the samples).
    t : int
        The time step (-1 for a parameter frame).
    rows : slice
        A parameter frame: the rows of the parameter's gradient it computes (``grads[grad][rows]``); else ``slice(0)``.
    operands : ndarray
        The numbers it is computed from, flat.
    result : ndarray
        The vector computed.
    narration : str
    question : Ask or None
        Asked when the narration lists every operand.
    """

    index: int
    grad: str
    sample: int
    layer: int
    direction: int
    t: int
    rows: slice
    operands: np.ndarray
    result: np.ndarray
    narration: str
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"RecurrentGradFrame({self.index}: {self.narration})"


@dataclass(frozen=True)
class _Segment:
    """A run of frames: a layer's steps, a parameter's rows (or gate blocks), or the gradient a layer hands down."""

    start: int
    size: int
    kind: str  # "steps", "param" or "down"
    layer: int
    direction: int = 0
    name: str = ""  # a parameter's torch name


class RecurrentBackwardTrace(BackwardTrace):
    """The frames of backpropagation through time for a recurrent layer.

    Frame order: layer after layer from the top; within a layer, for each direction and sample, the time steps
    newest first (the reverse direction from ``t = 0`` up), each step's stages
    (:data:`~layerviz.layers._recurrent_bptt.BACKWARD_STAGES`); then the layer's parameter gradients in torch's
    order (one frame per row of a matrix, one per gate block of a bias); then, with two directions or dropout, the
    gradient handed down (one frame per sample and step).
    ``btrace[k]`` is built in O(1) (a bisection over a few segments, then slices of the stored arrays).

    Attributes
    ----------
    forward : RecurrentTrace
    input : ndarray
        ``grad_output`` (shaped like ``output``).
    grads : dict of str to ndarray
        Every parameter's gradient under torch's names, in torch's order, then ``"input"`` (shaped like ``x``),
        ``"h0"`` (and ``"c0"``), shaped like the forward's ``h0`` (``c0``).
    grad_h : ndarray, shape (num_layers*D, L, N, H_out)
        ``dL/dh[t]`` of every layer and direction (index ``layer*D + direction``), time step and sample: the
        gradient as it travels back through time (its norm shrinks step after step: the vanishing gradient).
    grad_c : ndarray, shape (num_layers*D, L, N, H), or None
        LSTM: ``dL/dc[t]``.
    grad_pre : ndarray, shape (num_layers*D, L, N, G*H)
        The pre-activation gradients of every gate (torch's gate order).
    bptt : BPTT
        Every intermediate of the backward pass (:class:`~layerviz.layers._recurrent_bptt.BPTT`).
    stages : tuple of str
        The stages of one backward time step.
    """

    def __init__(self, forward: RecurrentTrace, grad_output: np.ndarray, result: BPTT, grads: dict, upstream) -> None:
        self.layer = forward.layer
        self.forward = forward
        self.input = np.asarray(grad_output, dtype=np.float64)
        self.grads = {key: np.asarray(value, dtype=np.float64) for key, value in grads.items()}
        self.output = self.grads["input"]
        self.bptt = result
        self.grad_h, self.grad_c, self.grad_pre = result.dh, result.dc, result.da
        self.sections = ()
        self._g3, self._g_hn, self._g_cn = upstream
        self.stages = _stages(forward)
        self._masks = forward.pass_.dropout_masks
        self._scale = dropout_scale(forward) if self._masks else 1.0
        self.segments = self._segments()
        last = self.segments[-1]
        self.offsets = tuple(s.start for s in self.segments) + (last.start + last.size,)
        self._steps_start = {s.layer: s.start for s in self.segments if s.kind == "steps"}
        self.n_frames = last.start + last.size
        self._freeze(result)

    def _segments(self) -> tuple[_Segment, ...]:
        """Layer after layer from the top: its steps, its parameters (per direction, torch's order), and the
        gradient it hands down when that gets frames of its own."""
        pieces = []  # (size, kind, layer, direction, name)
        f = self.forward
        n_gates = len(GATES[f.mode])
        for layer in reversed(range(f.num_layers)):
            pieces.append((f.num_directions * f.n_samples * f.seq_len * len(self.stages), "steps", layer, 0, ""))
            for d in range(f.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                for name in (nm for nm in f.weights if nm.endswith(suffix)):  # torch's order
                    size = f.weights[name].shape[0] if name.startswith("weight") else n_gates
                    pieces.append((size, "param", layer, d, name))
            if self._hands_down(layer):
                pieces.append((f.n_samples * f.seq_len, "down", layer, 0, ""))
        segments, start = [], 0
        for size, kind, layer, d, name in pieces:
            segments.append(_Segment(start, size, kind, layer, d, name))
            start += size
        return tuple(segments)

    def _freeze(self, result: BPTT) -> None:
        """Every array the trace holds, read-only: the frames are views of them."""
        arrays = [self.input, *self.grads.values(), *(a for a in vars(result).values() if isinstance(a, np.ndarray))]
        arrays += [a for key in ("dx_dir", "dx", "ddown") for a in getattr(result, key) if a is not None]
        for array in arrays:
            array.flags.writeable = False

    def _hands_down(self, layer: int) -> bool:
        """Whether the gradient of the layer's input gets frames of its own (two directions add up, or dropout)."""
        return self.forward.num_directions == 2 or (layer > 0 and bool(self._masks))

    def section_of(self, k: int) -> int:
        """The segment (steps of a layer, a parameter, the gradient handed down) of frame ``k``."""
        return bisect.bisect_right(self.offsets, k) - 1

    def __repr__(self) -> str:
        return (f"<RecurrentBackwardTrace of {self.layer!r}: {self.n_frames} frames, "
                f"grad_output {self.input.shape} -> grads {list(self.grads)}>")

    # -- frames -----------------------------------------------------------------------------------------

    def locate(self, k: int) -> tuple[_Segment, int, int, int, int]:
        """``(segment, direction, sample, t, stage index or row)`` of frame ``k`` (non-negative)."""
        seg = self.segments[self.section_of(k)]
        local = k - seg.start
        f = self.forward
        if seg.kind == "steps":
            d, n, step, s = (int(v) for v in np.unravel_index(local, (f.num_directions, f.n_samples, f.seq_len,
                                                                      len(self.stages))))
            return seg, d, n, (f.seq_len - 1 - step if d == 0 else step), s
        if seg.kind == "down":
            n, step = divmod(local, f.seq_len)
            return seg, 0, n, f.seq_len - 1 - step, 0
        return seg, seg.direction, -1, -1, local

    def frame_of(self, layer: int, direction: int, sample: int, t: int, stage: str) -> int:
        """The index of the frame of ``stage`` at step ``t`` (the inverse of :meth:`locate` for step frames)."""
        f = self.forward
        step = f.seq_len - 1 - t if direction == 0 else t
        return self._steps_start[layer] + ((direction * f.n_samples + sample) * f.seq_len + step) * len(self.stages) + \
            self.stages.index(stage)

    def _where(self, layer: int, d: int, n: int) -> str:
        f, parts = self.forward, []
        if f.num_layers > 1:
            parts.append(f"layer {layer}")
        if f.num_directions > 1:
            parts.append("reverse" if d else "forward")
        if f.batched and n >= 0:
            parts.append(f"sample {n}")
        return f"[{', '.join(parts)}] " if parts else ""

    def _frame(self, k: int) -> RecurrentGradFrame:
        seg, d, n, t, s = self.locate(k)
        told = self._explain(seg, d, n, t, s)
        where = self._where(seg.layer, d, n)
        question = told.question
        if question is not None:
            question = question._replace(prompt=where + told.why + question.prompt)
        operands = np.asarray(told.operands, dtype=np.float64)
        return RecurrentGradFrame(k, told.grad, n, seg.layer, d, t, told.rows, operands,
                                  np.asarray(told.result, dtype=np.float64), where + told.why + told.text, question)

    def _explain(self, seg: _Segment, d: int, n: int, t: int, s: int) -> Explained:
        """The narration of a frame: a stage of a step, the gradient handed down, or rows of a parameter's."""
        if seg.kind == "steps":
            return explain_step(self, seg.layer, d, n, t, self.stages[s])
        if seg.kind == "down":
            return explain_down(self, seg.layer, n, t)
        return explain_param(self, seg, s)

    # -- the picture ------------------------------------------------------------------------------------

    def scene(self) -> Scene:
        """BPTT drawn: the upstream gradient, ``dL/dh`` (and ``dL/dc``) filling up from the newest step back,
        the gates' gradients, the input's gradient, and each layer's parameter gradients filling up row by row.

        Panels (time steps as columns, one slice per layer and direction, one page per sample): ``dout``,
        ``dh``, ``dc`` (LSTM), ``da`` (every gate's pre-activation gradient), ``dx``; then per layer ``dW_ih``,
        ``dW_hh``, ``db`` (``b_ih`` and ``b_hh`` side by side), ``dW_hr`` (projection). Highlights: what a frame
        writes (output) and the gradient it reads (window).
        """
        return backward_scene(self)


def _stages(forward: RecurrentTrace) -> tuple[str, ...]:
    """The stages of one backward time step of ``forward``: an LSTM with a projection adds ``'dh_cell'``."""
    stages = BACKWARD_STAGES[forward.kind]
    if forward.kind == "LSTM" and forward.output_hidden != forward.hidden_size:
        stages = ("dh", "dh_cell") + stages[1:]
    return stages
