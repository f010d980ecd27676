"""Backpropagation through time (BPTT) for RNN, LSTM and GRU: the numbers of ``RecurrentTrace.backward``.

``trace = layer.frames(x)`` holds the forward pass (every intermediate, in its ``pass_``);
``trace.backward(grad_output, grad_h_n=..., grad_c_n=...)`` returns a :class:`RecurrentBackwardTrace`
built from those saved numbers (the forward is never run again). As torch's autograd, it computes the
gradients of the scalar::

    L = (output * grad_output).sum() + (h_n * grad_h_n).sum() + (c_n * grad_c_n).sum()

(``grad_output`` ones by default, ``grad_h_n`` and ``grad_c_n`` zeros; ``grad_c_n`` for an LSTM only).

The chain rule, one time step at a time, newest step first (``⊙`` the element-wise product; the reverse
direction of a bidirectional layer walks from ``t = 0`` up, as it read the sequence from ``t = L-1`` down)::

    dh[t]   = dup[t] + dh_next[t]     from the output (or the layer above), and from the step after t
    RNN     da[t] = dh[t] ⊙ (1 − h[t]²)            (relu: dh[t] ⊙ 1[a[t] > 0])
    LSTM    do = dh ⊙ tanh(c) ⊙ o(1 − o)            (dh ← W_hrᵀ·dh first, with a projection)
            dc[t] = dh ⊙ o ⊙ (1 − tanh²(c)) + dc_next[t]
            di = dc ⊙ g ⊙ i(1 − i),  df = dc ⊙ c[t−1] ⊙ f(1 − f),  dg = dc ⊙ i ⊙ (1 − g²)
            dc_next[t−1] = dc[t] ⊙ f[t]                    (a forced gate: its d· is 0)
    GRU     dn = dh ⊙ (1 − z) ⊙ (1 − n²),  dz = dh ⊙ (h[t−1] − n) ⊙ z(1 − z),
            dr = dn ⊙ (W_hn h[t−1] + b_hn) ⊙ r(1 − r);  the h side of the n gate gets r ⊙ dn
    dh_next[t−1] = W_hhᵀ·da[t]   (GRU: + dh[t] ⊙ z[t]),     dx[t] = W_ihᵀ·da[t]
    dW_ih = Σ_t da[t] x[t]ᵀ,  dW_hh = Σ_t da[t] h[t−1]ᵀ,  db_ih = Σ_t da[t],  db_hh = Σ_t da[t]

summed over the samples of a batch too. Between layers the gradient handed down goes through the
forward's own dropout mask (``dup = dx ⊙ mask / (1 − p)``). Every step is vectorized over the batch
(the loop over time is inherent); :func:`recurrent_backward_naive` is the same computation as plain
scalar loops, the reference the tests hold it to.

The frames that show these numbers are in :mod:`~layerviz.layers._recurrent_backward`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from layerviz.layers._recurrent import RecurrentTrace

#: The stages of one backward time step, in frame order (an LSTM with a projection adds ``'dh_cell'`` after ``'dh'``).
BACKWARD_STAGES = {"RNN": ("dh", "da", "dh_prev", "dx"),
                   "LSTM": ("dh", "do", "dc", "di", "df", "dg", "dc_prev", "dh_prev", "dx"),
                   "GRU": ("dh", "dn", "dz", "dr", "dh_prev", "dx")}

#: The gate block (in torch's storage order) of each stage giving a pre-activation gradient.
BLOCK = {"RNN": {"da": 0}, "LSTM": {"di": 0, "df": 1, "dg": 2, "do": 3}, "GRU": {"dr": 0, "dz": 1, "dn": 2}}


# -- the numbers ----------------------------------------------------------------------------------------


@dataclass
class BPTT:
    """Every number of one backward pass, time-major like the forward's ``_Pass``: index ``[l*D + d, t, n]``.

    Attributes
    ----------
    dup : ndarray, shape (n_LD, L, N, H_out)
        The gradient reaching ``h[t]`` from above: ``grad_output`` (top layer) or what the layer above hands down.
    dh_next : ndarray, shape (n_LD, L, N, H_out)
        The gradient reaching ``h[t]`` from the next step of its direction (``grad_h_n`` at the last step).
    dh : ndarray, shape (n_LD, L, N, H_out)
        ``dL/dh[t] = dup + dh_next``.
    dh_cell : ndarray, shape (n_LD, L, N, H), or None
        LSTM with a projection: ``W_hrᵀ·dh``, the gradient of ``o ⊙ tanh(c)``.
    dc_next, dc, dc_prev : ndarray, shape (n_LD, L, N, H), or None
        LSTM: the gradient reaching ``c[t]`` from the next step (``grad_c_n`` at the last), ``dL/dc[t]``,
        and what step ``t`` sends back to ``c[t-1]`` (``dc ⊙ f``).
    da : ndarray, shape (n_LD, L, N, G*H)
        The pre-activation gradients (all gates, torch's order): the gradient of ``W_ih x + b_ih``.
    da_h : ndarray, shape (n_LD, L, N, G*H)
        The gradient of ``W_hh h[t-1] + b_hh``: ``da``, but ``r ⊙ dn`` in the GRU's n block.
    dh_prev : ndarray, shape (n_LD, L, N, H_out)
        What step ``t`` sends back to ``h[t-1]`` (to ``h0`` at the first step of the direction).
    dx_dir : list of ndarray, shape (D, L, N, in_l) per layer
        ``W_ihᵀ·da[t]``: each direction's part of the gradient of the layer's input (after dropout).
    dx : list of ndarray, shape (L, N, in_l) per layer
        The gradient of the layer's input, both directions added.
    ddown : list of ndarray or None, shape (L, N, in_l) per layer
        The gradient handed to the layer below (``dx`` through the forward's dropout mask); None for layer 0.
    params : dict of str to ndarray
        Every parameter's gradient under torch's name, in torch's order.
    dh0, dc0 : ndarray, shape (n_LD, N, H_out) / (n_LD, N, H)
        The gradients of the initial states (``dc0`` None but for the LSTM).
    """

    dup: np.ndarray
    dh_next: np.ndarray
    dh: np.ndarray
    da: np.ndarray
    da_h: np.ndarray
    dh_prev: np.ndarray
    dx_dir: list
    dx: list
    ddown: list
    params: dict
    dh0: np.ndarray
    dc0: np.ndarray | None = None
    dh_cell: np.ndarray | None = None
    dc_next: np.ndarray | None = None
    dc: np.ndarray | None = None
    dc_prev: np.ndarray | None = None

    @classmethod
    def zeros(cls, trace: RecurrentTrace) -> BPTT:
        """A backward pass of ``trace`` to fill: zeros of every shape, the per-layer lists empty (None)."""
        seq, n, layers = trace.seq_len, trace.n_samples, trace.num_layers
        n_ld, hid, h_out = layers * trace.num_directions, trace.hidden_size, trace.output_hidden
        width = trace.pass_.x_part.shape[-1]
        lstm = trace.kind == "LSTM"
        cell = (lambda: np.zeros((n_ld, seq, n, hid))) if lstm else (lambda: None)
        return cls(dup=np.zeros((n_ld, seq, n, h_out)), dh_next=np.zeros((n_ld, seq, n, h_out)),
                   dh=np.zeros((n_ld, seq, n, h_out)), da=np.zeros((n_ld, seq, n, width)),
                   da_h=np.zeros((n_ld, seq, n, width)), dh_prev=np.zeros((n_ld, seq, n, h_out)),
                   dx_dir=[None] * layers, dx=[None] * layers, ddown=[None] * layers, params={},
                   dh0=np.zeros((n_ld, n, h_out)), dc0=np.zeros((n_ld, n, hid)) if lstm else None,
                   dh_cell=cell() if lstm and h_out != hid else None, dc_next=cell(), dc=cell(), dc_prev=cell())


def dropout_scale(trace: RecurrentTrace) -> float:
    """``1 / (1 - p)`` (0 for ``p = 1``) of the dropout the forward applied, checked against the saved inputs."""
    p, masks = trace.pass_, trace.pass_.dropout_masks
    if not masks:
        return 1.0
    rate = trace.layer.dropout
    scale = 0.0 if rate >= 1 else 1.0 / (1.0 - rate)
    big_d = trace.num_directions
    for layer in range(1, trace.num_layers):
        below = np.concatenate([p.h[(layer - 1) * big_d + d] for d in range(big_d)], axis=-1)
        if not np.allclose(p.inputs[layer], below * masks[layer - 1] * scale, rtol=1e-12, atol=1e-12):
            raise ValueError("the layer's dropout changed since the forward pass: run layer.frames(x) again "
                             "before trace.backward()")
    return scale


def bptt(trace: RecurrentTrace, g3: np.ndarray, g_hn: np.ndarray, g_cn: np.ndarray | None) -> BPTT:
    """The backward pass of ``trace``, vectorized over the batch.

    Parameters
    ----------
    trace : RecurrentTrace
    g3 : ndarray, shape (L, N, D*H_out)
        ``grad_output``, time-major.
    g_hn : ndarray, shape (n_LD, N, H_out)
    g_cn : ndarray, shape (n_LD, N, H), or None (zeros)
    """
    b = BPTT.zeros(trace)
    if g_cn is None and trace.kind == "LSTM":
        g_cn = np.zeros((trace.num_layers * trace.num_directions, trace.n_samples, trace.hidden_size))
    scale = dropout_scale(trace)
    grads: dict[str, np.ndarray] = {}
    upper = g3
    for layer in reversed(range(trace.num_layers)):
        for d in range(trace.num_directions):
            _back_through_time(trace, b, layer, d, upper, g_hn, g_cn)
            grads.update(_parameter_grads(trace, b, layer, d))
        upper = _input_grad(trace, b, layer, scale)
    b.params = {name: grads[name] for name in trace.weights}  # torch's order
    return b


def _back_through_time(trace: RecurrentTrace, b: BPTT, layer: int, d: int, upper: np.ndarray, g_hn: np.ndarray,
                       g_cn: np.ndarray | None) -> None:
    """One layer and direction, newest step first: ``dh``, the gates' gradients ``da`` and what each step sends
    back to the one before (``dh_prev``, and the LSTM's ``dc_prev``), written into ``b``. ``upper: (L, N, D*H_out)``
    is the gradient reaching the layer's output."""
    p, hid, h_out = trace.pass_, trace.hidden_size, trace.output_hidden
    ld = layer * trace.num_directions + d
    s = f"_l{layer}" + ("_reverse" if d else "")
    w_hh, w_hr = trace.weights[f"weight_hh{s}"], trace.weights.get(f"weight_hr{s}")
    forced = ["ifgo".index(q) for q in trace.force]
    b.dup[ld] = upper[..., d * h_out:(d + 1) * h_out]
    nxt_h = g_hn[ld]
    nxt_c = g_cn[ld] if trace.kind == "LSTM" else None
    for t in range(trace.seq_len - 1, -1, -1) if d == 0 else range(trace.seq_len):
        b.dh_next[ld, t] = nxt_h
        dht = b.dup[ld, t] + nxt_h
        b.dh[ld, t] = dht
        if trace.kind == "LSTM":
            dat, nxt_c = _lstm_step_back(trace, b, ld, t, dht, nxt_c, w_hr, forced)
            daht = dat
        elif trace.kind == "GRU":
            dat, daht = _gru_step_back(trace, ld, t, dht)
        else:
            dat = daht = _rnn_step_back(trace, ld, t, dht)
        b.da[ld, t], b.da_h[ld, t] = dat, daht
        nxt_h = daht @ w_hh
        if trace.kind == "GRU":
            nxt_h = nxt_h + dht * p.gates[ld, t][:, hid:2 * hid]
        b.dh_prev[ld, t] = nxt_h
    b.dh0[ld] = nxt_h
    if trace.kind == "LSTM":
        b.dc0[ld] = nxt_c


def _rnn_step_back(trace: RecurrentTrace, ld: int, t: int, dht: np.ndarray) -> np.ndarray:
    """An RNN step back: ``da = dh[t] ⊙ (1 − h[t]²)`` (tanh), or ``dh[t] ⊙ 1[a[t] > 0]`` (relu)."""
    p = trace.pass_
    if trace.mode == "RNN_TANH":
        return dht * (1.0 - p.h[ld, t] ** 2)
    return dht * (p.pre[ld, t] > 0)


def _lstm_step_back(trace: RecurrentTrace, b: BPTT, ld: int, t: int, dht: np.ndarray, nxt_c: np.ndarray,
                    w_hr: np.ndarray | None, forced: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """An LSTM step back: ``(da, dc_prev)`` for ``dh[t] (N, H_out)`` and ``dc_next[t] (N, H)``; writes ``dh_cell``
    (through the projection), ``dc_next``, ``dc`` and ``dc_prev`` into ``b``. A forced gate's block is 0."""
    p, hid = trace.pass_, trace.hidden_size
    dm = dht
    if b.dh_cell is not None:
        dm = dht @ w_hr
        b.dh_cell[ld, t] = dm
    i, f, g, o = (p.gates[ld, t][:, j * hid:(j + 1) * hid] for j in range(4))
    tc = np.tanh(p.c[ld, t])
    b.dc_next[ld, t] = nxt_c
    dct = dm * o * (1.0 - tc**2) + nxt_c
    b.dc[ld, t] = dct
    blocks = [dct * g * i * (1.0 - i), dct * p.c_prev[ld, t] * f * (1.0 - f), dct * i * (1.0 - g**2),
              dm * tc * o * (1.0 - o)]
    for j in forced:
        blocks[j] = np.zeros_like(blocks[j])
    dc_prev = dct * f
    b.dc_prev[ld, t] = dc_prev
    return np.concatenate(blocks, axis=1), dc_prev


def _gru_step_back(trace: RecurrentTrace, ld: int, t: int, dht: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A GRU step back: ``(da, da_h)`` for ``dh[t] (N, H)``; ``da_h``'s n block is ``r ⊙ dn``, as the n gate reads
    ``r ⊙ (W_hn h + b_hn)``."""
    p, hid = trace.pass_, trace.hidden_size
    r, z, nn = (p.gates[ld, t][:, j * hid:(j + 1) * hid] for j in range(3))
    d_n = dht * (1.0 - z) * (1.0 - nn**2)
    d_z = dht * (p.h_prev[ld, t] - nn) * z * (1.0 - z)
    d_r = d_n * p.h_part[ld, t, :, 2 * hid:] * r * (1.0 - r)
    return np.concatenate([d_r, d_z, d_n], axis=1), np.concatenate([d_r, d_z, r * d_n], axis=1)


def _parameter_grads(trace: RecurrentTrace, b: BPTT, layer: int, d: int) -> dict[str, np.ndarray]:
    """One layer and direction's parameter gradients: sums over time and samples of outer products."""
    p = trace.pass_
    ld = layer * trace.num_directions + d
    s = f"_l{layer}" + ("_reverse" if d else "")
    grads = {f"weight_ih{s}": np.einsum("tnj,tni->ji", b.da[ld], p.inputs[layer]),
             f"weight_hh{s}": np.einsum("tnj,tni->ji", b.da_h[ld], p.h_prev[ld])}
    if trace.has_bias:
        grads[f"bias_ih{s}"] = b.da[ld].sum(axis=(0, 1))
        grads[f"bias_hh{s}"] = b.da_h[ld].sum(axis=(0, 1))
    if f"weight_hr{s}" in trace.weights:
        grads[f"weight_hr{s}"] = np.einsum("tnp,tnh->ph", b.dh[ld], p.h_cell[ld])
    return grads


def _input_grad(trace: RecurrentTrace, b: BPTT, layer: int, scale: float) -> np.ndarray:
    """The gradient of the layer's input, ``W_ihᵀ·da`` of both directions added (``dx_dir``, ``dx``), and what the
    layer below gets (``ddown``: through the forward's dropout mask); returns that (``dx`` for layer 0)."""
    big_d = trace.num_directions
    w_ihs = [trace.weights[f"weight_ih_l{layer}" + ("_reverse" if d else "")] for d in range(big_d)]
    b.dx_dir[layer] = np.stack([b.da[layer * big_d + d] @ w_ihs[d] for d in range(big_d)])
    b.dx[layer] = b.dx_dir[layer].sum(axis=0)
    if not layer:
        return b.dx[layer]
    masks = trace.pass_.dropout_masks
    b.ddown[layer] = b.dx[layer] * masks[layer - 1] * scale if masks else b.dx[layer]
    return b.ddown[layer]


# -- the same, as plain loops -----------------------------------------------------------------------------


def recurrent_backward_naive(trace: RecurrentTrace, g3: np.ndarray, g_hn: np.ndarray, g_cn: np.ndarray | None = None
                             ) -> dict[str, np.ndarray]:
    """BPTT as plain scalar loops, from the forward's saved values: the reference the tests hold :func:`bptt` to.

    Takes ``g3: (L, N, D*H_out)`` time-major, ``g_hn: (n_LD, N, H_out)``, ``g_cn: (n_LD, N, H)`` (LSTM; None: zeros).
    Returns every parameter's gradient (torch's names), ``"x"`` ``(L, N, H_in)`` time-major, ``"h0"`` and
    (LSTM) ``"c0"`` ``(n_LD, N, ·)``.
    """
    p, kind = trace.pass_, trace.kind
    seq, n_samples = trace.seq_len, trace.n_samples
    big_d, hid, h_out = trace.num_directions, trace.hidden_size, trace.output_hidden
    masks = p.dropout_masks
    scale = dropout_scale(trace)
    out: dict[str, np.ndarray] = {name: np.zeros(w.shape) for name, w in trace.weights.items()}
    h0 = np.zeros((trace.num_layers * big_d, n_samples, h_out))
    c0 = np.zeros((trace.num_layers * big_d, n_samples, hid))
    upper = [[[float(g3[t, n, k]) for k in range(g3.shape[2])] for n in range(n_samples)] for t in range(seq)]
    for layer in range(trace.num_layers - 1, -1, -1):
        in_l = p.inputs[layer].shape[2]
        dx = [[[0.0] * in_l for _ in range(n_samples)] for _ in range(seq)]
        for d in range(big_d):
            ld = layer * big_d + d
            for n in range(n_samples):
                dh_next = [float(v) for v in g_hn[ld, n]]
                dc_next = [float(v) for v in g_cn[ld, n]] if (kind == "LSTM" and g_cn is not None) else [0.0] * hid
                for t in (range(seq - 1, -1, -1) if d == 0 else range(seq)):
                    dh = [upper[t][n][d * h_out + k] + dh_next[k] for k in range(h_out)]
                    dh_next, dc_next = _naive_step_back(trace, out, dx, layer, d, n, t, dh, dc_next)
                h0[ld, n] = dh_next
                c0[ld, n] = dc_next
        if layer:
            upper = [[[dx[t][n][i] * (float(masks[layer - 1][t, n, i]) * scale if masks else 1.0) for i in range(in_l)]
                      for n in range(n_samples)] for t in range(seq)]
        else:
            upper = dx
    out["x"] = np.array(upper, dtype=np.float64)
    out["h0"] = h0
    if kind == "LSTM":
        out["c0"] = c0
    return out


def _naive_step_back(trace: RecurrentTrace, out: dict, dx: list, layer: int, d: int, n: int, t: int, dh: list,
                     dc_next: list) -> tuple[list, list]:
    """One step of sample ``n`` back, by loops: the gates' gradients from ``dh`` (and ``dc_next``), added into the
    parameters' gradients ``out`` and the input's ``dx[t][n]``; returns ``(dh_next, dc_next)`` for the step before."""
    p, hid, h_out = trace.pass_, trace.hidden_size, trace.output_hidden
    ld = layer * trace.num_directions + d
    s = f"_l{layer}" + ("_reverse" if d else "")
    w_ih, w_hh = trace.weights[f"weight_ih{s}"], trace.weights[f"weight_hh{s}"]
    n_gates = p.x_part.shape[-1] // hid
    x = [float(v) for v in p.inputs[layer][t, n]]
    h_prev = [float(v) for v in p.h_prev[ld, t, n]]
    direct = [0.0] * h_out
    if trace.kind == "RNN":
        da, da_h = _naive_rnn_gates(trace, ld, t, n, dh)
    elif trace.kind == "LSTM":
        da, da_h, dc_next = _naive_lstm_gates(trace, out, s, ld, t, n, dh, dc_next)
    else:
        da, da_h, direct = _naive_gru_gates(trace, ld, t, n, dh, h_prev)
    for row in range(n_gates * hid):
        for i in range(len(x)):
            out[f"weight_ih{s}"][row, i] += da[row] * x[i]
            dx[t][n][i] += da[row] * w_ih[row, i]
        for q in range(h_out):
            out[f"weight_hh{s}"][row, q] += da_h[row] * h_prev[q]
        if trace.has_bias:
            out[f"bias_ih{s}"][row] += da[row]
            out[f"bias_hh{s}"][row] += da_h[row]
    dh_next = [direct[q] + sum(da_h[row] * w_hh[row, q] for row in range(n_gates * hid)) for q in range(h_out)]
    return dh_next, dc_next


def _naive_rnn_gates(trace: RecurrentTrace, ld: int, t: int, n: int, dh: list) -> tuple[list, list]:
    """``da = dh × tanh'`` (``1 − h²``), or ``× relu'`` (1 where ``a > 0``), entry by entry."""
    p, hid = trace.pass_, trace.hidden_size
    da, da_h = [0.0] * hid, [0.0] * hid
    for k in range(hid):
        h = float(p.h[ld, t, n, k])
        positive = 1.0 if p.pre[ld, t, n, k] > 0 else 0.0
        slope = 1.0 - h * h if trace.mode == "RNN_TANH" else positive
        da[k] = da_h[k] = dh[k] * slope
    return da, da_h


def _naive_lstm_gates(trace: RecurrentTrace, out: dict, s: str, ld: int, t: int, n: int, dh: list, dc_next: list
                      ) -> tuple[list, list, list]:
    """The four gates' gradients and ``dc`` sent back (``dc ⊙ f``), entry by entry; through the projection first
    (its gradient added into ``out``). A forced gate's gradient is 0."""
    p, hid, h_out = trace.pass_, trace.hidden_size, trace.output_hidden
    gate = [float(v) for v in p.gates[ld, t, n]]
    w_hr = trace.weights.get(f"weight_hr{s}")
    da, da_h = [0.0] * (4 * hid), [0.0] * (4 * hid)
    dm = dh
    if w_hr is not None:
        dm = [sum(dh[q] * w_hr[q, k] for q in range(h_out)) for k in range(hid)]
        for q in range(h_out):
            for k in range(hid):
                out[f"weight_hr{s}"][q, k] += dh[q] * p.h_cell[ld, t, n, k]
    new_c = [0.0] * hid
    for k in range(hid):
        i, f, g, o = (gate[j * hid + k] for j in range(4))
        c = float(p.c[ld, t, n, k])
        tc = float(np.tanh(c))
        dct = dm[k] * o * (1 - tc * tc) + dc_next[k]
        parts = [dct * g * i * (1 - i), dct * float(p.c_prev[ld, t, n, k]) * f * (1 - f),
                 dct * i * (1 - g * g), dm[k] * tc * o * (1 - o)]
        for j in range(4):
            value = 0.0 if "ifgo"[j] in trace.force else parts[j]
            da[j * hid + k] = da_h[j * hid + k] = value
        new_c[k] = dct * f
    return da, da_h, new_c


def _naive_gru_gates(trace: RecurrentTrace, ld: int, t: int, n: int, dh: list, h_prev: list
                     ) -> tuple[list, list, list]:
    """The three gates' gradients (the h side's n block ``r × dn``) and the direct path ``dh × z``, entry by entry."""
    p, hid = trace.pass_, trace.hidden_size
    gate = [float(v) for v in p.gates[ld, t, n]]
    da, da_h, direct = [0.0] * (3 * hid), [0.0] * (3 * hid), [0.0] * hid
    for k in range(hid):
        r, z, nn = gate[k], gate[hid + k], gate[2 * hid + k]
        d_n = dh[k] * (1 - z) * (1 - nn * nn)
        d_z = dh[k] * (h_prev[k] - nn) * z * (1 - z)
        d_r = d_n * float(p.h_part[ld, t, n, 2 * hid + k]) * r * (1 - r)
        da[k], da[hid + k], da[2 * hid + k] = d_r, d_z, d_n
        da_h[k], da_h[hid + k], da_h[2 * hid + k] = d_r, d_z, r * d_n
        direct[k] = dh[k] * z
    return da, da_h, direct
