"""Backpropagation through time told with its numbers: the arithmetic of every frame, and why it is done.

A frame explains one small vector: a stage of a time step (:func:`explain_step`: ``dh``, ``dh_cell``, a gate's
gradient, ``dc``, ``dc_prev``, ``dh_prev``, ``dx``: one small function per stage), the gradient handed to the layer
below (:func:`explain_down`), or rows of a parameter's gradient (:func:`explain_param`: a row of a weight or of the
projection, a gate block of a bias). Each returns an :class:`Explained`: the gradient's name, the operands, the
result, why (the chain rule in words) and the arithmetic (``dh[4] = dout[4] + dh_n = [0.10, -0.20] + [0.00, 0.00]
= [0.10, -0.20]``), with its question. :func:`elementwise` and :func:`combination` write the arithmetic.
The numbers are written with the decimals with which the arithmetic, redone from them, gives the result shown
(:func:`layerviz._format.redoable`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz.backward import KEEP_TERMS
from layerviz.layers._recurrent_bptt import BLOCK
from layerviz.layers._recurrent_gates import GATES, GRU_GATE_NAMES, LSTM_GATE_NAMES, operand, vector

if TYPE_CHECKING:
    from layerviz.layers._recurrent_backward import RecurrentBackwardTrace, _Segment

#: Entries of a vector listed in a narration (as the forward frames: ``vector`` shows at most 6).
_KEEP_ENTRIES = 6


class Explained(NamedTuple):
    """What a frame computes (``grad``), from what (``operands``, flat), its ``result``, ``why`` (the reason, in
    words, before the arithmetic), ``text`` (the arithmetic), its ``question``, and (a parameter frame) the
    ``rows`` of the parameter's gradient it computes."""

    grad: str
    operands: object
    result: np.ndarray
    why: str
    text: str
    question: Ask | None
    rows: slice = slice(0)


#: What a gate's gradient is made of: ``(groups, symbolic, redo, text, why)``, as :func:`elementwise` takes them.
_Rule = tuple[list, str, Callable[..., np.ndarray], Callable[..., str], str]


# -- the arithmetic, written --------------------------------------------------------------------------------


def elementwise(label: str, symbolic: str, groups: list, result: np.ndarray, redo: Callable[..., np.ndarray],
                text: Callable[..., str], *, ints: tuple[int, ...] = ()) -> tuple[str, Ask | None]:
    """``label = symbolic = <text of the groups as shown> = result``, element-wise on vectors of one length.

    ``redo(*groups)`` recomputes the result from the groups' values; ``text(*texts)`` writes the arithmetic from
    the groups' texts (each an operand: a number, or a vector, a lone negative in parentheses). Groups listed in
    ``ints`` are 0/1 masks, written ``1``/``0``. A question is asked when no vector is cut short.
    """
    sizes = np.cumsum([len(g) for g in groups])[:-1]
    flat = np.concatenate([np.ravel(g) for g in groups]).astype(np.float64)
    shown = redoable(flat, result, lambda o, _: redo(*np.split(o, sizes)))
    parts = []
    for j, texts in enumerate(np.split(np.array(shown.operands, dtype=object), sizes)):
        texts = [str(v) for v in texts]
        if j in ints:
            texts = ["1" if float(v) else "0" for v in texts]
        parts.append(operand(texts))
    head = f"{label} = {symbolic} = {text(*parts)}"
    listed = len(result) <= _KEEP_ENTRIES
    question = Ask(f"{head} = ?", shown.results[0], float(result[0]), entry=len(result) > 1) if listed else None
    return f"{head} = {vector(shown.results)}", question


def combination(label: str, symbolic: str, coeffs: np.ndarray | None, vectors: np.ndarray, result: np.ndarray,
                noun: str, *, before: Callable[[list], str] | None = None, before_ops: list | tuple = (),
                before_redo: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[str, Ask | None]:
    """``label = symbolic = c0×v0 + c1×v1 + … = result``: the rows ``vectors (K, M)`` weighted by ``coeffs (K,)``
    (a plain sum when None), ``before`` (text) added first: a transposed matrix times a vector as a sum of the
    matrix's rows, or a sum over time. Listed in full (and asked) up to :data:`~layerviz.backward.KEEP_TERMS` terms
    of at most 6 entries; ``before_ops`` are the operands of ``before``, ``before_redo(ops)`` its value and
    ``before`` a function of their texts."""
    k, m = vectors.shape
    n_c = 0 if coeffs is None else k
    n_b = len(before_ops)
    if 0 < k <= KEEP_TERMS and m <= _KEEP_ENTRIES:
        ops = [*before_ops, *([] if coeffs is None else coeffs), *vectors.ravel()]

        def redo(o, _):
            rows = o[n_b + n_c:].reshape(k, m)
            total = o[n_b:n_b + n_c] @ rows if n_c else rows.sum(axis=0)
            return total + (before_redo(o[:n_b]) if n_b else 0.0)

        shown = redoable(ops, result, redo)
        cs, vs = shown.operands[n_b:n_b + n_c], shown.operands[n_b + n_c:]
        terms = [(f"{paren(cs[i])}×" if n_c else "") + operand(vs[i * m:(i + 1) * m]) for i in range(k)]
        if n_b:
            terms.insert(0, before(shown.operands[:n_b]))
        head = f"{label} = {symbolic} = {' + '.join(terms)}"
        return f"{head} = {vector(shown.results)}", Ask(f"{head} = ?", shown.results[0], float(result[0]),
                                                        entry=m > 1)
    idx = list(range(k)) if k <= 5 else [0, 1, 2, k - 2, k - 1]
    terms = [(f"{paren(_number(coeffs[i]))}×" if n_c else "") + operand(vectors[i]) for i in idx]
    if k > 5:
        terms = terms[:3] + [f"… ({k} {noun})"] + terms[3:]
    if n_b:
        terms.insert(0, before([_number(v) for v in before_ops]))
    return f"{label} = {symbolic} = {' + '.join(terms) or '0'} = {vector(result)}", None


# -- a stage of a time step ---------------------------------------------------------------------------------


class _At:
    """A step of BPTT: its trace, layer, direction ``d``, sample ``n`` and time ``t``, and the names around it
    (``first``/``last``: the newest/oldest step BPTT visits in direction ``d``; ``t_next``: the step after ``t`` in
    the forward's order, whose gradient reaches ``t``; ``t_prev`` the one before)."""

    def __init__(self, bt: RecurrentBackwardTrace, layer: int, d: int, n: int, t: int) -> None:
        f = bt.forward
        self.bt, self.f, self.b, self.p = bt, f, bt.bptt, f.pass_
        self.kind, self.hid = f.kind, f.hidden_size
        self.layer, self.d, self.n, self.t = layer, d, n, t
        self.ld = layer * f.num_directions + d
        seq = f.seq_len
        self.first = t == (seq - 1 if d == 0 else 0)
        self.last = t == (0 if d == 0 else seq - 1)
        self.t_next, self.t_prev = (t + 1 if d == 0 else t - 1), (t - 1 if d == 0 else t + 1)
        self.h_prev_name = "h0" if self.last else f"h[{self.t_prev}]"
        self.c_prev_name = "c0" if self.last else f"c[{self.t_prev}]"
        self.suffix = f"_l{layer}" + ("_reverse" if d else "")
        self.dh = self.b.dh[self.ld, t, n]

    def gate(self, j: int) -> np.ndarray:
        """Gate block ``j`` (torch's order) of the forward's activations at this step."""
        return self.p.gates[self.ld, self.t, self.n, j * self.hid:(j + 1) * self.hid]

    def at(self, array: np.ndarray) -> np.ndarray:
        """``array[ld, t, n]``: this step's vector of a time-major array."""
        return array[self.ld, self.t, self.n]

    def dm(self) -> tuple[np.ndarray, str]:
        """The gradient of ``o⊙tanh(c)`` (LSTM) and its name: ``dh_cell`` with a projection, else ``dh``."""
        if self.b.dh_cell is not None:
            return self.at(self.b.dh_cell), f"dh_cell[{self.t}]"
        return self.dh, f"dh[{self.t}]"


def explain_step(bt: RecurrentBackwardTrace, layer: int, d: int, n: int, t: int, stage: str) -> Explained:
    """A stage of step ``t`` of BPTT (see :data:`~layerviz.layers._recurrent_bptt.BACKWARD_STAGES`)."""
    a = _At(bt, layer, d, n, t)
    if stage in BLOCK[a.kind]:
        return _gate_grad(a, stage)
    return {"dh": _dh, "dh_cell": _dh_cell, "dc": _dc, "dc_prev": _dc_prev, "dh_prev": _dh_prev, "dx": _dx}[stage](a)


def _dh(a: _At) -> Explained:
    """``dh[t] = dout[t] + dh_next[t]``: from the output (or the layer above), and from the step after."""
    f, t, layer, d = a.f, a.t, a.layer, a.d
    up, nxt = a.at(a.b.dup), a.at(a.b.dh_next)
    top = layer == f.num_layers - 1
    up_name = "dout" if top else "dup"
    nxt_name = "dh_n" if a.first else f"dh_next[{t}]"
    if top:
        source = "the output" + (f" (its {'reverse' if d else 'forward'} half)" if f.num_directions == 2 else "")
    else:
        source = f"the layer above (layer {layer + 1}"
        source += (", its dx" if not a.bt._hands_down(layer + 1) else ", through dup") + ")"
    if a.first:
        why = (f"BPTT starts where the forward pass ended, t={t}: the gradient reaching h[{t}] comes from "
               f"{source}, and from h_n (the gradient given for h_n): ")
    else:
        why = f"the gradient reaching h[{t}] comes from {source}, and back from step {a.t_next}: "
    text, ask = elementwise(f"dh[{t}]", f"{up_name}[{t}] + {nxt_name}", [up, nxt], a.dh,
                            lambda x, y: x + y, lambda x, y: f"{x} + {y}")
    return Explained("dh", [*up, *nxt], a.dh, why, text, ask)


def _dh_cell(a: _At) -> Explained:
    """``dh_cell[t] = W_hrᵀ·dh[t]``: back through the LSTM's projection."""
    w_hr = a.f.weights[f"weight_hr{a.suffix}"]
    result = a.at(a.b.dh_cell)
    text, ask = combination(f"dh_cell[{a.t}]", f"W_hrᵀ·dh[{a.t}]", a.dh, w_hr, result, "rows of W_hr")
    why = "back through the projection h = W_hr·(o⊙tanh(c)): the rows of W_hr weighted by dh: "
    return Explained("dh_cell", [*a.dh, *w_hr.ravel()], result, why, text, ask)


def _gate_grad(a: _At, stage: str) -> Explained:
    """A pre-activation gradient: the RNN's ``da``, an LSTM gate's (a forced gate: none), a GRU gate's."""
    j = BLOCK[a.kind][stage]
    result = a.b.da[a.ld, a.t, a.n, j * a.hid:(j + 1) * a.hid]
    if a.kind == "RNN":
        return _rnn_da(a, result)
    q = stage[1]
    if a.kind == "LSTM" and q in a.f.force:
        why = (f"the {LSTM_GATE_NAMES[q]} is forced to {_number(a.f.force[q])}, a constant (teaching override: not "
               f"torch), so no gradient flows into its weights: ")
        return Explained(stage, [], result, why, f"{stage}[{a.t}] = {vector(result)}", None)
    groups, symbolic, redo, text_fn, why = (_lstm_gate if a.kind == "LSTM" else _gru_gate)(a, q)
    text, ask = elementwise(f"{stage}[{a.t}]", symbolic, groups, result, redo, text_fn)
    return Explained(stage, np.concatenate(groups), result, why, text, ask)


def _rnn_da(a: _At, result: np.ndarray) -> Explained:
    """``da[t] = dh[t]⊙(1 − h[t]²)`` (tanh), or ``dh[t]⊙relu'(a[t])``."""
    t, dh = a.t, a.dh
    if a.f.mode == "RNN_TANH":
        h = a.at(a.p.h)
        text, ask = elementwise(f"da[{t}]", f"dh[{t}]⊙(1 − h[{t}]²)", [dh, h], result,
                                lambda x, y: x * (1 - y**2), lambda x, y: f"{x}⊙(1 − {y}²)")
        return Explained("da", [*dh, *h], result, "back through tanh (its slope is 1 − h²): ", text, ask)
    mask = (a.at(a.p.pre) > 0).astype(np.float64)
    text, ask = elementwise(f"da[{t}]", f"dh[{t}]⊙relu'(a[{t}])", [dh, mask], result,
                            lambda x, y: x * y, lambda x, y: f"{x}⊙{y}", ints=(1,))
    return Explained("da", [*dh, *mask], result, f"back through relu (slope 1 where a[{t}] > 0, else 0): ", text, ask)


def _lstm_gate(a: _At, q: str) -> _Rule:
    """``(groups, symbolic, redo, text, why)`` of the LSTM gate ``q``'s pre-activation gradient."""
    t = a.t
    i, fg, g, o = (a.gate(jj) for jj in range(4))
    dc = a.at(a.b.dc)
    if q == "o":
        dm, dm_name = a.dm()
        return ([dm, a.at(a.p.c), o], f"{dm_name}⊙tanh(c[{t}])⊙o[{t}]⊙(1 − o[{t}])",
                lambda x, cc, oo: x * np.tanh(cc) * oo * (1 - oo), lambda x, cc, oo: f"{x}⊙tanh({cc})⊙{oo}⊙(1 − {oo})",
                "back through the output gate (h = o⊙tanh(c), σ' = o(1 − o)): ")
    if q == "i":
        return ([dc, g, i], f"dc[{t}]⊙g[{t}]⊙i[{t}]⊙(1 − i[{t}])",
                lambda x, gg, ii: x * gg * ii * (1 - ii), lambda x, gg, ii: f"{x}⊙{gg}⊙{ii}⊙(1 − {ii})",
                "back through the input gate (c gets i⊙g): ")
    if q == "f":
        return ([dc, a.at(a.p.c_prev), fg], f"dc[{t}]⊙{a.c_prev_name}⊙f[{t}]⊙(1 − f[{t}])",
                lambda x, cc, ff: x * cc * ff * (1 - ff), lambda x, cc, ff: f"{x}⊙{cc}⊙{ff}⊙(1 − {ff})",
                f"back through the forget gate (c gets f⊙{a.c_prev_name}): ")
    return ([dc, i, g], f"dc[{t}]⊙i[{t}]⊙(1 − g[{t}]²)",
            lambda x, ii, gg: x * ii * (1 - gg**2), lambda x, ii, gg: f"{x}⊙{ii}⊙(1 − {gg}²)",
            "back through the candidate (c gets i⊙g, tanh' = 1 − g²): ")


def _gru_gate(a: _At, q: str) -> _Rule:
    """``(groups, symbolic, redo, text, why)`` of the GRU gate ``q``'s pre-activation gradient."""
    t, hid, name = a.t, a.hid, a.h_prev_name
    r, z, nn = (a.gate(jj) for jj in range(3))
    if q == "n":
        return ([a.dh, z, nn], f"dh[{t}]⊙(1 − z[{t}])⊙(1 − n[{t}]²)",
                lambda x, zz, m: x * (1 - zz) * (1 - m**2), lambda x, zz, m: f"{x}⊙(1 − {zz})⊙(1 − {m}²)",
                "back through the new gate (h gets (1 − z)⊙n, tanh' = 1 − n²): ")
    if q == "z":
        return ([a.dh, a.at(a.p.h_prev), nn, z], f"dh[{t}]⊙({name} − n[{t}])⊙z[{t}]⊙(1 − z[{t}])",
                lambda x, hp, m, zz: x * (hp - m) * zz * (1 - zz),
                lambda x, hp, m, zz: f"{x}⊙({hp} − {m})⊙{zz}⊙(1 − {zz})",
                f"back through the update gate (h = n + z⊙({name} − n)): ")
    bias = " + b_hn" if a.f.has_bias else ""
    return ([a.b.da[a.ld, t, a.n, 2 * hid:], a.p.h_part[a.ld, t, a.n, 2 * hid:], r],
            f"dn[{t}]⊙(W_hn·{name}{bias})⊙r[{t}]⊙(1 − r[{t}])",
            lambda x, hn, rr: x * hn * rr * (1 - rr), lambda x, hn, rr: f"{x}⊙{hn}⊙{rr}⊙(1 − {rr})",
            "back through the reset gate (n reads r⊙(W_hn·h + b_hn)): ")


def _dc(a: _At) -> Explained:
    """``dc[t] = dm⊙o⊙(1 − tanh(c)²) + dc_next[t]``: the gradient reaching the LSTM's cell state."""
    t = a.t
    dm, dm_name = a.dm()
    o, c, nxt = a.gate(3), a.at(a.p.c), a.at(a.b.dc_next)
    result = a.at(a.b.dc)
    nxt_name = "dc_n" if a.first else f"dc_next[{t}]"
    text, ask = elementwise(f"dc[{t}]", f"{dm_name}⊙o[{t}]⊙(1 − tanh(c[{t}])²) + {nxt_name}", [dm, o, c, nxt],
                            result, lambda x, oo, cc, e: x * oo * (1 - np.tanh(cc) ** 2) + e,
                            lambda x, oo, cc, e: f"{x}⊙{oo}⊙(1 − tanh({cc})²) + {e}")
    why = (f"the gradient reaching the cell state c[{t}]: through h = o⊙tanh(c), plus "
           + ("the gradient given for c_n: " if a.first else f"what c[{a.t_next}] sent back along the cell: "))
    return Explained("dc", [*dm, *o, *c, *nxt], result, why, text, ask)


def _dc_prev(a: _At) -> Explained:
    """``dc_next[t−1] = dc[t]⊙f[t]``: back along the cell state."""
    t, name = a.t, a.c_prev_name
    dc, fg = a.at(a.b.dc), a.gate(1)
    result = a.at(a.b.dc_prev)
    label = "dc0" if a.last else f"dc_next[{a.t_prev}]"
    text, ask = elementwise(label, f"dc[{t}]⊙f[{t}]", [dc, fg], result, lambda x, ff: x * ff,
                            lambda x, ff: f"{x}⊙{ff}")
    why = (f"along the cell state, back to {name}: c[{t}] = f⊙{name} + i⊙g, so the gradient is "
           f"kept as much as the forget gate keeps: ")
    return Explained("dc_prev", [*dc, *fg], result, why, text, ask)


#: How a stage's gates' gradients are named in the narration of dh_prev and dx.
_DA_SYMBOL = {"RNN": "da", "LSTM": "[di, df, dg, do]", "GRU": "[dr, dz, dn]"}


def _dh_prev(a: _At) -> Explained:
    """``dh_next[t−1] = W_hhᵀ·da[t]`` (GRU: ``+ dh⊙z``): what step ``t`` sends back to ``h[t−1]``."""
    t = a.t
    label = "dh0" if a.last else f"dh_next[{a.t_prev}]"
    w = a.f.weights[f"weight_hh{a.suffix}"]
    result = a.at(a.b.dh_prev)
    coeffs = a.at(a.b.da_h)
    target = "h0" if a.last else f"h[{a.t_prev}]"
    if a.kind == "GRU":
        r, z = a.gate(0), a.gate(1)
        text, ask = _gru_dh_prev(label, t, a.dh, r, z, a.at(a.b.da), coeffs, w, result)
        dn = a.b.da[a.ld, t, a.n, 2 * a.hid:]
        why = (f"back to {target}: directly (h = n + z⊙({target} − n)) and through the three gates, "
               f"the rows of W_hh weighted by their gradients (the n gate's by r⊙dn, as n reads r⊙(W_hn·h)): ")
        return Explained("dh_prev", [*a.dh, *z, *r, *dn, *w.ravel()], result, why, text, ask)
    da_sym = _DA_SYMBOL[a.kind]
    text, ask = combination(label, f"W_hhᵀ·{da_sym}[{t}]", coeffs, w, result, "rows of W_hh")
    why = f"step {t} sends the gradient back to {target}: the rows of W_hh weighted by {da_sym}[{t}]: "
    return Explained("dh_prev", [*coeffs, *w.ravel()], result, why, text, ask)


def _dx(a: _At) -> Explained:
    """``dx[t] = W_ihᵀ·da[t]``: the gradient of the layer's input at step ``t`` (this direction's part)."""
    t, layer, d = a.t, a.layer, a.d
    label = f"dx[{t}]" if a.f.num_directions == 1 else f"dx_{'rev' if d else 'fwd'}[{t}]"
    da_sym = _DA_SYMBOL[a.kind]
    w = a.f.weights[f"weight_ih{a.suffix}"]
    result = a.b.dx_dir[layer][d, t, a.n]
    coeffs = a.at(a.b.da)
    text, ask = combination(label, f"W_ihᵀ·{da_sym}[{t}]", coeffs, w, result, "rows of W_ih")
    what = "the input" if layer == 0 else f"the layer's input (layer {layer - 1}'s output)"
    why = f"and to {what} x[{t}]: the rows of W_ih weighted by {da_sym}[{t}]: "
    return Explained("dx", [*coeffs, *w.ravel()], result, why, text, ask)


def _gru_dh_prev(label: str, t: int, dh: np.ndarray, r: np.ndarray, z: np.ndarray, da: np.ndarray,
                 coeffs: np.ndarray, w: np.ndarray, result: np.ndarray) -> tuple[str, Ask | None]:
    """``r⊙dn = …; dh_next[t-1] = dh⊙z + W_hhᵀ·[dr, dz, r⊙dn] = …``: two steps, one set of shown numbers
    (the second step's n-block weights are the first step's result as shown)."""
    hid, h_out = len(r), w.shape[1]
    dn, rdn = da[2 * hid:], coeffs[2 * hid:]
    symbolic = f"dh[{t}]⊙z[{t}] + W_hhᵀ·[dr, dz, r⊙dn]"
    k = 3 * hid
    if k <= KEEP_TERMS and h_out <= _KEEP_ENTRIES:
        return _gru_dh_prev_listed(label, symbolic, dh, r, z, da, dn, rdn, w, result)
    first = redoable([*r, *dn], rdn, lambda o, _: o[:hid] * o[hid:])
    pre = f"r⊙dn = {operand(first.operands[:hid])}⊙{operand(first.operands[hid:])} = {vector(first.results)}"
    text, _ = combination(label, symbolic, coeffs, w, result, "rows of W_hh",
                          before=lambda texts: f"{operand(texts[:len(dh)])}⊙{operand(texts[len(dh):])}",
                          before_ops=[*dh, *z])
    return f"{pre}; {text}", None


def _gru_dh_prev_listed(label: str, symbolic: str, dh: np.ndarray, r: np.ndarray, z: np.ndarray, da: np.ndarray,
                        dn: np.ndarray, rdn: np.ndarray, w: np.ndarray, result: np.ndarray) -> tuple[str, Ask]:
    """:func:`_gru_dh_prev` with every term listed, and asked."""
    hid, h_out = len(r), w.shape[1]
    k = 3 * hid
    ops = [*r, *dn, *dh, *z, *da[:2 * hid], *w.ravel()]
    base = 2 * hid + 2 * h_out

    def redo(o, shown):
        first = o[:hid] * o[hid:2 * hid]
        weights = np.concatenate([o[base:base + 2 * hid], shown[:hid]])
        rows = o[base + 2 * hid:].reshape(k, h_out)
        return np.concatenate([first, o[2 * hid:2 * hid + h_out] * o[2 * hid + h_out:base] + weights @ rows])

    shown = redoable(ops, [*rdn, *result], redo, intermediate=range(hid))
    o = shown.operands
    pre = f"r⊙dn = {operand(o[:hid])}⊙{operand(o[hid:2 * hid])} = {vector(shown.results[:hid])}"
    weights = [*o[base:base + 2 * hid], *shown.results[:hid]]
    rows = o[base + 2 * hid:]
    terms = [f"{operand(o[2 * hid:2 * hid + h_out])}⊙{operand(o[2 * hid + h_out:base])}"]
    terms += [f"{paren(weights[i])}×{operand(rows[i * h_out:(i + 1) * h_out])}" for i in range(k)]
    head = f"{label} = {symbolic} = {' + '.join(terms)}"
    final = shown.results[hid:]
    return f"{pre}; {head} = {vector(final)}", Ask(f"{pre}; {head} = ?", final[0], float(result[0]), entry=h_out > 1)


# -- the gradient handed down, and the parameters -------------------------------------------------------------


def explain_down(bt: RecurrentBackwardTrace, layer: int, n: int, t: int) -> Explained:
    """The gradient of the layer's input at step ``t``: both directions' parts added, through the forward's
    dropout mask above layer 0 (``dup`` of the layer below), or the input's ``dx[t]``."""
    f, b = bt.forward, bt.bptt
    parts = [b.dx_dir[layer][d, t, n] for d in range(f.num_directions)]
    two = len(parts) == 2
    label = f"dx[{t}]" if layer == 0 else f"dup[{t}]"
    masked = layer > 0 and bool(bt._masks)
    result = b.dx[layer][t, n] if layer == 0 else b.ddown[layer][t, n]
    symbolic = f"dx_fwd[{t}] + dx_rev[{t}]" if two else f"dx[{t}]"
    groups = list(parts)
    if masked:
        symbolic = (f"({symbolic})" if two else symbolic) + f"⊙mask[{t}] × 1/(1 − p)"
        groups += [bt._masks[layer - 1][t, n].astype(np.float64), np.array([bt._scale])]

    def redo(*g):
        total = g[0] + g[1] if two else g[0]
        return total * g[-2] * g[-1][0] if masked else total

    def text(*texts):
        total = f"{texts[0]} + {texts[1]}" if two else texts[0]
        return (f"({total})" if two else total) + f"⊙{texts[-2]} × {texts[-1]}" if masked else total

    text_, ask = elementwise(label, symbolic, groups, result, redo, text, ints=(len(parts),) if masked else ())
    if layer == 0:
        why = f"the gradient of the input x[{t}]: the two directions' parts add up: "
    else:
        why = f"handed down to layer {layer - 1}'s h[{t}]" + (": the two directions' parts add up" if two else "")
        why += (", through the forward's dropout mask" if masked else "") + ": "
    return Explained("dup", np.concatenate(groups), result, why, text_, ask)


class _Param:
    """A parameter's gradient, a sum over time (and samples): its trace, segment, ``ld``, ``base`` (``weight_ih``,
    ``weight_hh``, ``bias_ih``, ``bias_hh``, ``weight_hr``), ``side`` (``ih``, ``hh``, ``hr``), gradient, the number
    of terms of its sums, and the words for them."""

    def __init__(self, bt: RecurrentBackwardTrace, seg: _Segment) -> None:
        f = bt.forward
        self.f, self.b, self.p, self.seg = f, bt.bptt, f.pass_, seg
        self.kind, self.hid = f.kind, f.hidden_size
        self.ld = seg.layer * f.num_directions + seg.direction
        self.base = seg.name.split("_l")[0]
        self.side = self.base[-2:]
        self.grad = bt.grads[seg.name]
        self.terms = f.seq_len * f.n_samples
        self.over = "Σ_t" if f.n_samples == 1 else "Σ_n,t"
        self.every = "every step" if f.n_samples == 1 else "every step of every sample"

    def source(self) -> np.ndarray:
        """The gate gradients it sums: ``da`` for ``W_ih`` and ``b_ih``, ``da_h`` for ``W_hh`` and ``b_hh``."""
        return self.b.da if self.side == "ih" else self.b.da_h

    def symbol(self, block: int) -> str:
        """The name of gate block ``block``'s gradient (the GRU's h side reads ``r⊙dn``, not ``dn``)."""
        if self.kind == "GRU" and self.side == "hh" and block == 2:
            return "(r⊙dn)"
        return _GATE_SYMBOLS[self.kind][block]


#: The gate gradients' names, per kind, in torch's gate order.
_GATE_SYMBOLS = {"RNN": ("da",), "LSTM": ("di", "df", "dg", "do"), "GRU": ("dr", "dz", "dn")}


def explain_param(bt: RecurrentBackwardTrace, seg: _Segment, local: int) -> Explained:
    """Row ``local`` of a weight's gradient (a sum over time of a gradient entry times a vector), or gate block
    ``local`` of a bias's."""
    q = _Param(bt, seg)
    if q.base == "weight_hr":
        return _projection_row(q, local)
    if q.base.startswith("bias"):
        return _bias_block(q, local)
    return _weight_row(q, local)


def _projection_row(q: _Param, row: int) -> Explained:
    """``dW_hr[row] = Σ_t dh[t][row]×(o⊙tanh(c))[t]``."""
    coeffs = q.b.dh[q.ld, :, :, row].ravel()
    vectors = q.p.h_cell[q.ld].reshape(q.terms, -1)
    text, ask = combination(f"dW_hr[{row}]", f"{q.over} dh[t][{row}]×(o⊙tanh(c))[t]", coeffs, vectors,
                            q.grad[row], "products")
    why = (f"W_hr learns from {q.every}: row {row} adds up dh[t][{row}] × o⊙tanh(c[t]) "
           f"(the vector it projected): ")
    return Explained(q.seg.name, [*coeffs, *vectors.ravel()], q.grad[row], why, text, ask, slice(row, row + 1))


def _bias_block(q: _Param, block: int) -> Explained:
    """``db[block] = Σ_t da[t]`` of the gate block ``block``."""
    rows = slice(block * q.hid, (block + 1) * q.hid)
    vectors = q.source()[q.ld, :, :, rows].reshape(q.terms, q.hid)
    label = f"db_{q.side}" if q.kind == "RNN" else f"db_{q.side[0]}{GATES[q.f.mode][block]}"
    text, ask = combination(label, f"{q.over} {q.symbol(block)}[t]", None, vectors, q.grad[rows], "terms")
    why = f"the bias b_{q.side} gets the gradient of its gate at {q.every}, added up: "
    return Explained(q.seg.name, vectors.ravel(), q.grad[rows], why, text, ask, rows)


def _weight_row(q: _Param, row: int) -> Explained:
    """``dW[row] = Σ_t da[t][row]×x[t]`` (``W_ih``) or ``×h[t−1]`` (``W_hh``)."""
    gate_names = GATES[q.f.mode]
    block, unit = divmod(row, q.hid)
    coeffs = q.source()[q.ld, :, :, row].ravel()
    if q.side == "ih":
        vectors, vname = q.p.inputs[q.seg.layer].reshape(q.terms, -1), "x[t]"
    else:
        vectors, vname = q.p.h_prev[q.ld].reshape(q.terms, -1), "h[t−1]"
    entry = f"{q.symbol(block)}[t][{unit}]"
    text, ask = combination(f"dW_{q.side}[{row}]", f"{q.over} {entry}×{vname}", coeffs, vectors, q.grad[row],
                            "products")
    gate_name = (LSTM_GATE_NAMES if q.kind == "LSTM" else GRU_GATE_NAMES).get(gate_names[block], "")
    what = "" if q.kind == "RNN" else f" ({gate_name} {gate_names[block]}, unit {unit})"
    why = f"W_{q.side} learns from {q.every}: row {row}{what} adds up {entry} × {vname}: "
    return Explained(q.seg.name, [*coeffs, *vectors.ravel()], q.grad[row], why, text, ask, slice(row, row + 1))
