"""The stages of a recurrent time step told with their numbers: one small function per kind of stage.

RNN: ``W_ih·x[t] + b_ih`` and ``W_hh·h[t−1] + b_hh`` (:func:`_rnn_part`), their sum ``a[t]`` (:func:`_rnn_sum`) and
``h[t] = tanh(a[t])`` (:func:`_rnn_hidden`); a gate of the LSTM or the GRU (:func:`_gate`), the GRU's new gate
(:func:`_gru_new_gate`), the LSTM's cell state and hidden state (:func:`_lstm_cell_state`, :func:`_lstm_hidden`),
the GRU's hidden state (:func:`_gru_hidden`).

Every narration's numbers have the decimals with which its steps, redone from them, give the results shown
(:func:`layerviz._format.redoable`), entry by entry; a question asks for the first entry of the result when
every operand of it is shown (not when a weight matrix multiplies a vector).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz.layers._recurrent_gates import GATES, GRU_GATE_NAMES, LSTM_GATE_NAMES, operand, relu, sigmoid, vector

if TYPE_CHECKING:
    from layerviz.layers._recurrent import RecurrentTrace


@dataclass(frozen=True)
class Step:
    """Where a frame is: the trace, the sample ``n``, the layer, the direction ``d``, the step of that direction,
    the time ``t`` and ``ld = layer*D + d`` (the index of the pass's arrays)."""

    trace: RecurrentTrace
    n: int
    layer: int
    d: int
    step: int
    t: int
    ld: int

    def block(self, array: np.ndarray, gate: str) -> np.ndarray:
        """The gate's block of an all-gates array of the pass (``x_part``, ``pre``, ``gates``, ...) at this step."""
        hid = self.trace.hidden_size
        j = GATES[self.trace.mode].index(gate)
        return array[self.ld, self.t, self.n, j * hid:(j + 1) * hid]

    def previous(self, state: str = "h") -> str:
        """The name of the state this step reads: ``h0`` at the first step, else ``h[t−1]`` (``h[t+1]`` backwards)."""
        if self.step == 0:
            return f"{state}0"
        return f"{state}[{self.t + 1 if self.d else self.t - 1}]"


class Told(NamedTuple):
    """What a stage computes, its arithmetic in words, its question, and the value a forced gate was pinned to."""

    result: np.ndarray
    text: str
    question: Ask | None = None
    forced: float | None = None


def tell(s: Step, stage: str, vec: dict) -> Told:
    """The stage's result and narration; adds the vectors it reads and makes to ``vec``."""
    kind = s.trace.kind
    if kind == "RNN":
        return {"ih": _rnn_part, "hh": _rnn_part, "sum": _rnn_sum, "h": _rnn_hidden}[stage](s, stage, vec)
    if kind == "GRU" and stage == "n":
        return _gru_new_gate(s, vec)
    if stage in GATES[s.trace.mode]:
        return _gate(s, stage, vec)
    if kind == "LSTM":
        return _lstm_cell_state(s, vec) if stage == "c" else _lstm_hidden(s, vec)
    return _gru_hidden(s, vec)


def _affine(trace: RecurrentTrace, which: str, s: Step, v: np.ndarray, result: np.ndarray) -> tuple[str, list[str]]:
    """``W_ih·[0.50, 1.00] + [0.10]`` and the result's texts; with one weight and one input, ``0.80×0.50 + 0.10``,
    with the decimals that make it, redone, give the result shown."""
    suffix = f"_l{s.layer}" + ("_reverse" if s.d else "")
    w, b = trace.weights[f"weight_{which}{suffix}"], trace.weights.get(f"bias_{which}{suffix}")
    if w.size == 1:
        extra = [] if b is None else [float(b[0])]
        shown = redoable([float(w[0, 0]), float(np.ravel(v)[0]), *extra], result,
                         lambda o, _: [o[0] * o[1] + o[2:].sum()])
        text = f"{paren(shown.operands[0])}×{paren(shown.operands[1])}"
        if b is not None:
            text += f" + {paren(shown.operands[2])}"
        return text, shown.results
    text = f"W_{which}·{vector(v)}"
    if b is not None:
        text += f" + {operand(b)}"
    return text, [_number(float(r)) for r in np.ravel(result)]


def _rnn_vectors(s: Step, vec: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The RNN's ``x_part``, ``h_part`` (added to ``vec``) and ``pre`` at this step."""
    p = s.trace.pass_
    x_part, h_part, pre = s.block(p.x_part, "h"), s.block(p.h_part, "h"), s.block(p.pre, "h")
    vec.update(x_part=x_part, h_part=h_part)
    return x_part, h_part, pre


def _rnn_part(s: Step, stage: str, vec: dict) -> Told:
    """``W_ih·x[t] + b_ih = … = [0.10, -0.20]`` (stage ``ih``) or ``W_hh·h[t−1] + b_hh`` (stage ``hh``)."""
    x_part, h_part, _ = _rnn_vectors(s, vec)
    bias = (" + b_ih" if stage == "ih" else " + b_hh") if s.trace.has_bias else ""
    result = x_part if stage == "ih" else h_part
    label = f"W_ih·x[{s.t}]{bias}" if stage == "ih" else f"W_hh·{s.previous()}{bias}"
    arithmetic, shown = _affine(s.trace, stage, s, vec["x" if stage == "ih" else "h_prev"], result)
    question = None
    if not arithmetic.startswith("W_"):  # one weight, shown (a matrix is not: nothing to ask)
        question = Ask(f"{label} = {arithmetic} = ?", shown[0], float(result[0]))
    return Told(result, f"{label} = {arithmetic} = {vector(shown)}", question)


def _rnn_sum(s: Step, stage: str, vec: dict) -> Told:
    """``a[t] = x_part + h_part``."""
    x_part, h_part, pre = _rnn_vectors(s, vec)
    vec["pre"] = pre
    hid_ = len(pre)
    shown = redoable([*x_part, *h_part], pre, lambda o, _: o[:hid_] + o[hid_:])
    head = f"a[{s.t}] = {operand(shown.operands[:hid_])} + {operand(shown.operands[hid_:])}"
    return Told(pre, f"{head} = {vector(shown.results)}",
                Ask(f"{head} = ?", shown.results[0], float(pre[0]), entry=len(pre) > 1))


def _rnn_hidden(s: Step, stage: str, vec: dict) -> Told:
    """``h[t] = tanh(a[t])`` (or relu)."""
    _, _, pre = _rnn_vectors(s, vec)
    h = s.trace.pass_.h[s.ld, s.t, s.n]
    vec["pre"] = pre
    fn = "tanh" if s.trace.mode == "RNN_TANH" else "relu"
    f = np.tanh if fn == "tanh" else relu
    shown = redoable(pre, h, lambda o, _: f(o))
    head = f"h[{s.t}] = {fn}(a[{s.t}]) = {fn}({vector(shown.operands)})"
    return Told(h, f"{head} = {vector(shown.results)}",
                Ask(f"{head} = ?", shown.results[0], float(h[0]), entry=len(h) > 1))


def _gate(s: Step, stage: str, vec: dict) -> Told:
    """A gate of the LSTM (``f``, ``i``, ``g``, ``o``) or the GRU (``r``, ``z``):
    ``σ(W_i·x[t] + b_i· + W_h·h[t−1] + b_h·)``; a forced gate says so and asks nothing."""
    trace, t = s.trace, s.t
    p = trace.pass_
    x_part, h_part, pre, gate = (s.block(a, stage) for a in (p.x_part, p.h_part, p.pre, p.gates))
    vec.update(x_part=x_part, h_part=h_part, pre=pre, gate=gate)
    fn = "tanh" if stage == "g" else "σ"
    f = np.tanh if stage == "g" else sigmoid
    names = LSTM_GATE_NAMES if trace.kind == "LSTM" else GRU_GATE_NAMES
    b1 = f" + b_i{stage}" if trace.has_bias else ""
    b2 = f" + b_h{stage}" if trace.has_bias else ""
    natural = gate if stage not in trace.force else f(pre)
    hid_ = len(pre)
    # pre = x_part + h_part; the gate from pre as shown (the narration's step) and as computed (the question's)
    shown = redoable([*x_part, *h_part], [*pre, *natural, *natural],
                     lambda o, r: np.concatenate([o[:hid_] + o[hid_:], f(r[:hid_]), f(o[:hid_] + o[hid_:])]),
                     intermediate=range(hid_))
    head = (f"{names[stage]} {stage}[{t}] = {fn}(W_i{stage}·x[{t}]{b1} + W_h{stage}·{s.previous()}{b2}) = "
            f"{fn}({operand(shown.operands[:hid_])} + {operand(shown.operands[hid_:])})")
    text = f"{head} = {fn}({vector(shown.results[:hid_])}) = {vector(shown.results[hid_:2 * hid_])}"
    if stage in trace.force:
        forced = trace.force[stage]
        return Told(gate, text + f", forced to {_number(forced)} (teaching override: not torch)", None, forced)
    return Told(gate, text, Ask(f"{head} = ?", shown.results[hid_], float(gate[0]), entry=hid_ > 1))


def _gru_new_gate(s: Step, vec: dict) -> Told:
    """``n[t] = tanh(W_in·x[t] + b_in + r[t]⊙(W_hn·h[t−1] + b_hn))``."""
    p, t = s.trace.pass_, s.t
    x_part, h_part, pre, gate = (s.block(a, "n") for a in (p.x_part, p.h_part, p.pre, p.gates))
    r = s.block(p.gates, "r")
    vec.update(x_part=x_part, h_part=h_part, r=r, pre=pre, gate=gate)
    b1, b2 = (" + b_in", " + b_hn") if s.trace.has_bias else ("", "")
    hid_ = len(pre)

    def redo_n(o, shown_results):
        inside = o[:hid_] + o[hid_:2 * hid_] * o[2 * hid_:]
        return np.concatenate([inside, np.tanh(shown_results[:hid_]), np.tanh(inside)])

    shown = redoable([*x_part, *r, *h_part], [*pre, *gate, *gate], redo_n, intermediate=range(hid_))
    xs, rs, hs = shown.operands[:hid_], shown.operands[hid_:2 * hid_], shown.operands[2 * hid_:]
    head = (f"new gate n[{t}] = tanh(W_in·x[{t}]{b1} + r[{t}]⊙(W_hn·{s.previous()}{b2})) = "
            f"tanh({operand(xs)} + {operand(rs)}⊙{operand(hs)})")
    text = f"{head} = tanh({vector(shown.results[:hid_])}) = {vector(shown.results[hid_:2 * hid_])}"
    return Told(gate, text, Ask(f"{head} = ?", shown.results[hid_], float(gate[0]), entry=hid_ > 1))


def _lstm_cell_state(s: Step, vec: dict) -> Told:
    """``c[t] = f⊙c[t−1] + i⊙g``."""
    p, t = s.trace.pass_, s.t
    f, i, g = (s.block(p.gates, q) for q in "fig")
    vec.update(f=f, i=i, g=g)
    result = p.c[s.ld, t, s.n]
    hid_ = len(result)
    shown = redoable([*f, *vec["c_prev"], *i, *g], result,
                     lambda o, _: o[:hid_] * o[hid_:2 * hid_] + o[2 * hid_:3 * hid_] * o[3 * hid_:])
    fs, cs, is_, gs = (shown.operands[j * hid_:(j + 1) * hid_] for j in range(4))
    head = f"c[{t}] = f⊙{s.previous('c')} + i⊙g = {operand(fs)}⊙{operand(cs)} + {operand(is_)}⊙{operand(gs)}"
    return Told(result, f"{head} = {vector(shown.results)}",
                Ask(f"{head} = ?", shown.results[0], float(result[0]), entry=hid_ > 1))


def _lstm_hidden(s: Step, vec: dict) -> Told:
    """``h[t] = o⊙tanh(c[t])``, or ``W_hr·(o⊙tanh(c[t]))`` with a projection (its matrix not shown: not asked)."""
    p, t = s.trace.pass_, s.t
    o, c = s.block(p.gates, "o"), p.c[s.ld, t, s.n]
    tanh_c = np.tanh(c)
    vec.update(o=o, c=c, tanh_c=tanh_c)
    result = p.h[s.ld, t, s.n]
    hid_ = len(c)
    if s.trace.layer.proj_size:
        vec["h_cell"] = p.h_cell[s.ld, t, s.n]
        # the projection's matrix is not shown: o⊙tanh(c) adds up, nothing is asked
        shown = redoable([*o, *c], vec["h_cell"], lambda v, _: v[:hid_] * np.tanh(v[hid_:]))
        text = (f"h[{t}] = W_hr·(o⊙tanh(c[{t}])) = W_hr·({operand(shown.operands[:hid_])}⊙tanh("
                f"{vector(shown.operands[hid_:])})) = W_hr·{vector(shown.results)} = {vector(result)}")
        return Told(result, text)
    shown = redoable([*o, *c], result, lambda v, _: v[:hid_] * np.tanh(v[hid_:]))
    head = f"h[{t}] = o⊙tanh(c[{t}]) = {operand(shown.operands[:hid_])}⊙tanh({vector(shown.operands[hid_:])})"
    return Told(result, f"{head} = {vector(shown.results)}",
                Ask(f"{head} = ?", shown.results[0], float(result[0]), entry=hid_ > 1))


def _gru_hidden(s: Step, vec: dict) -> Told:
    """``h[t] = (1−z)⊙n + z⊙h[t−1]``."""
    p = s.trace.pass_
    z, nn = s.block(p.gates, "z"), s.block(p.gates, "n")
    vec.update(z=z, n=nn)
    result = p.h[s.ld, s.t, s.n]
    hid_ = len(result)
    shown = redoable([*z, *nn, *vec["h_prev"]], result,
                     lambda o, _: (1 - o[:hid_]) * o[hid_:2 * hid_] + o[:hid_] * o[2 * hid_:])
    zs, ns, hs = shown.operands[:hid_], shown.operands[hid_:2 * hid_], shown.operands[2 * hid_:]
    head = (f"h[{s.t}] = (1−z)⊙n + z⊙{s.previous()} = (1−{vector(zs)})⊙{operand(ns)} + "
            f"{operand(zs)}⊙{operand(hs)}")
    return Told(result, f"{head} = {vector(shown.results)}",
                Ask(f"{head} = ?", shown.results[0], float(result[0]), entry=hid_ > 1))
