"""Backpropagation through time (BPTT) for RNN, LSTM and GRU: ``RecurrentTrace.backward``.

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

Frames: BPTT as a student does it by hand, layer after layer from the top, for each direction and
sample, newest step first; each frame computes one small vector and writes its arithmetic with the
numbers shown (``dh[4] = dout[4] + dh_n = [0.10, -0.20] + [0.00, 0.00] = [0.10, -0.20]``). Per step:
RNN ``dh, da, dh_prev, dx``; LSTM ``dh, (dh_cell), do, dc, di, df, dg, dc_prev, dh_prev, dx``; GRU ``dh, dn,
dz, dr, dh_prev, dx``. Then each layer's parameter gradients, one frame per row of a matrix (a sum over
time of a gradient entry times a vector) and one per gate block of a bias; then, with two directions or
dropout, the gradient handed to the layer below (or the input's), one frame per step.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz.backward import KEEP_TERMS, BackwardTrace, check_grad_output
from layerviz.layers._recurrent_gates import GATES, GRU_GATE_NAMES, LSTM_GATE_NAMES, operand, vector
from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions

if TYPE_CHECKING:
    from layerviz.layers._recurrent import RecurrentTrace

__all__ = ["BPTT", "RecurrentBackwardTrace", "RecurrentGradFrame", "backward", "bptt", "recurrent_backward_naive",
           "BACKWARD_STAGES"]

#: The stages of one backward time step, in frame order (an LSTM with a projection adds ``'dh_cell'`` after ``'dh'``).
BACKWARD_STAGES = {"RNN": ("dh", "da", "dh_prev", "dx"),
                   "LSTM": ("dh", "do", "dc", "di", "df", "dg", "dc_prev", "dh_prev", "dx"),
                   "GRU": ("dh", "dn", "dz", "dr", "dh_prev", "dx")}

#: The gate block (in torch's storage order) of each stage giving a pre-activation gradient.
_BLOCK = {"RNN": {"da": 0}, "LSTM": {"di": 0, "df": 1, "dg": 2, "do": 3}, "GRU": {"dr": 0, "dz": 1, "dn": 2}}

#: Entries of a vector listed in a narration (as the forward frames: ``_vector`` shows at most 6).
_KEEP_ENTRIES = 6

#: Highlight row that puts a highlight off its grid: it is not drawn at that frame.
_HIDDEN = -(2**30)


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


def _dropout_scale(trace: RecurrentTrace) -> float:
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
    p, kind = trace.pass_, trace.kind
    seq, n = trace.seq_len, trace.n_samples
    big_d, layers = trace.num_directions, trace.num_layers
    hid, h_out = trace.hidden_size, trace.output_hidden
    n_ld, width = layers * big_d, p.x_part.shape[-1]
    lstm, gru = kind == "LSTM", kind == "GRU"
    proj = lstm and h_out != hid
    dup, dh_next, dh, dh_prev = (np.zeros((n_ld, seq, n, h_out)) for _ in range(4))
    da, da_h = np.zeros((n_ld, seq, n, width)), np.zeros((n_ld, seq, n, width))
    dh0 = np.zeros((n_ld, n, h_out))
    cell = (lambda: np.zeros((n_ld, seq, n, hid))) if lstm else (lambda: None)
    dc_next, dc, dc_prev, dh_cell = cell(), cell(), cell(), (cell() if proj else None)
    dc0 = np.zeros((n_ld, n, hid)) if lstm else None
    if g_cn is None and lstm:
        g_cn = np.zeros((n_ld, n, hid))
    scale = _dropout_scale(trace)
    forced = [ "ifgo".index(q) for q in trace.force]
    grads: dict[str, np.ndarray] = {}
    dx_dir, dx, ddown = [None] * layers, [None] * layers, [None] * layers
    upper = g3
    for layer in reversed(range(layers)):
        for d in range(big_d):
            ld = layer * big_d + d
            s = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = trace.weights[f"weight_ih{s}"], trace.weights[f"weight_hh{s}"]
            w_hr = trace.weights.get(f"weight_hr{s}")
            dup[ld] = upper[..., d * h_out:(d + 1) * h_out]
            nxt_h = g_hn[ld]
            nxt_c = g_cn[ld] if lstm else None
            for t in range(seq - 1, -1, -1) if d == 0 else range(seq):
                dh_next[ld, t] = nxt_h
                dht = dup[ld, t] + nxt_h
                dh[ld, t] = dht
                act = p.gates[ld, t]
                if lstm:
                    dm = dht
                    if proj:
                        dm = dht @ w_hr
                        dh_cell[ld, t] = dm
                    i, f, g, o = (act[:, j * hid:(j + 1) * hid] for j in range(4))
                    tc = np.tanh(p.c[ld, t])
                    dc_next[ld, t] = nxt_c
                    dct = dm * o * (1.0 - tc**2) + nxt_c
                    dc[ld, t] = dct
                    blocks = [dct * g * i * (1.0 - i), dct * p.c_prev[ld, t] * f * (1.0 - f), dct * i * (1.0 - g**2),
                              dm * tc * o * (1.0 - o)]
                    for j in forced:
                        blocks[j] = np.zeros_like(blocks[j])
                    dat = np.concatenate(blocks, axis=1)
                    daht = dat
                    nxt_c = dct * f
                    dc_prev[ld, t] = nxt_c
                elif gru:
                    r, z, nn = (act[:, j * hid:(j + 1) * hid] for j in range(3))
                    d_n = dht * (1.0 - z) * (1.0 - nn**2)
                    d_z = dht * (p.h_prev[ld, t] - nn) * z * (1.0 - z)
                    d_r = d_n * p.h_part[ld, t, :, 2 * hid:] * r * (1.0 - r)
                    dat = np.concatenate([d_r, d_z, d_n], axis=1)
                    daht = np.concatenate([d_r, d_z, r * d_n], axis=1)
                elif trace.mode == "RNN_TANH":
                    dat = daht = dht * (1.0 - p.h[ld, t] ** 2)
                else:
                    dat = daht = dht * (p.pre[ld, t] > 0)
                da[ld, t], da_h[ld, t] = dat, daht
                nxt_h = daht @ w_hh
                if gru:
                    nxt_h = nxt_h + dht * act[:, hid:2 * hid]
                dh_prev[ld, t] = nxt_h
            dh0[ld] = nxt_h
            if lstm:
                dc0[ld] = nxt_c
            # the parameters: sums over time and samples of outer products
            x_in = p.inputs[layer]
            grads[f"weight_ih{s}"] = np.einsum("tnj,tni->ji", da[ld], x_in)
            grads[f"weight_hh{s}"] = np.einsum("tnj,tni->ji", da_h[ld], p.h_prev[ld])
            if trace.has_bias:
                grads[f"bias_ih{s}"] = da[ld].sum(axis=(0, 1))
                grads[f"bias_hh{s}"] = da_h[ld].sum(axis=(0, 1))
            if w_hr is not None:
                grads[f"weight_hr{s}"] = np.einsum("tnp,tnh->ph", dh[ld], p.h_cell[ld])
        w_ihs = [trace.weights[f"weight_ih_l{layer}" + ("_reverse" if d else "")] for d in range(big_d)]
        dx_dir[layer] = np.stack([da[layer * big_d + d] @ w_ihs[d] for d in range(big_d)])
        dx[layer] = dx_dir[layer].sum(axis=0)
        if layer:
            masks = p.dropout_masks
            ddown[layer] = dx[layer] * masks[layer - 1] * scale if masks else dx[layer]
            upper = ddown[layer]
    ordered = {name: grads[name] for name in trace.weights}  # torch's order
    return BPTT(dup=dup, dh_next=dh_next, dh=dh, da=da, da_h=da_h, dh_prev=dh_prev, dx_dir=dx_dir, dx=dx, ddown=ddown,
                params=ordered, dh0=dh0, dc0=dc0, dh_cell=dh_cell, dc_next=dc_next, dc=dc, dc_prev=dc_prev)


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
    n_gates = p.x_part.shape[-1] // hid
    masks = p.dropout_masks
    scale = _dropout_scale(trace)
    out: dict[str, np.ndarray] = {name: np.zeros(w.shape) for name, w in trace.weights.items()}
    h0 = np.zeros((trace.num_layers * big_d, n_samples, h_out))
    c0 = np.zeros((trace.num_layers * big_d, n_samples, hid))
    upper = [[[float(g3[t, n, k]) for k in range(g3.shape[2])] for n in range(n_samples)] for t in range(seq)]
    for layer in range(trace.num_layers - 1, -1, -1):
        in_l = p.inputs[layer].shape[2]
        dx = [[[0.0] * in_l for _ in range(n_samples)] for _ in range(seq)]
        for d in range(big_d):
            ld = layer * big_d + d
            s = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = trace.weights[f"weight_ih{s}"], trace.weights[f"weight_hh{s}"]
            w_hr = trace.weights.get(f"weight_hr{s}")
            for n in range(n_samples):
                dh_next = [float(v) for v in g_hn[ld, n]]
                dc_next = [float(v) for v in g_cn[ld, n]] if (kind == "LSTM" and g_cn is not None) else [0.0] * hid
                for t in (range(seq - 1, -1, -1) if d == 0 else range(seq)):
                    gate = [float(v) for v in p.gates[ld, t, n]]
                    x = [float(v) for v in p.inputs[layer][t, n]]
                    h_prev = [float(v) for v in p.h_prev[ld, t, n]]
                    dh = [upper[t][n][d * h_out + k] + dh_next[k] for k in range(h_out)]
                    da = [0.0] * (n_gates * hid)
                    da_h = [0.0] * (n_gates * hid)
                    direct = [0.0] * h_out
                    if kind == "RNN":
                        for k in range(hid):
                            h = float(p.h[ld, t, n, k])
                            positive = 1.0 if p.pre[ld, t, n, k] > 0 else 0.0
                            slope = 1.0 - h * h if trace.mode == "RNN_TANH" else positive
                            da[k] = da_h[k] = dh[k] * slope
                    elif kind == "LSTM":
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
                        dc_next = new_c
                    else:  # GRU
                        for k in range(hid):
                            r, z, nn = gate[k], gate[hid + k], gate[2 * hid + k]
                            d_n = dh[k] * (1 - z) * (1 - nn * nn)
                            d_z = dh[k] * (h_prev[k] - nn) * z * (1 - z)
                            d_r = d_n * float(p.h_part[ld, t, n, 2 * hid + k]) * r * (1 - r)
                            da[k], da[hid + k], da[2 * hid + k] = d_r, d_z, d_n
                            da_h[k], da_h[hid + k], da_h[2 * hid + k] = d_r, d_z, r * d_n
                            direct[k] = dh[k] * z
                    for row in range(n_gates * hid):
                        for i in range(in_l):
                            out[f"weight_ih{s}"][row, i] += da[row] * x[i]
                            dx[t][n][i] += da[row] * w_ih[row, i]
                        for q in range(h_out):
                            out[f"weight_hh{s}"][row, q] += da_h[row] * h_prev[q]
                        if trace.has_bias:
                            out[f"bias_ih{s}"][row] += da[row]
                            out[f"bias_hh{s}"][row] += da_h[row]
                    dh_next = [direct[q] + sum(da_h[row] * w_hh[row, q] for row in range(n_gates * hid))
                               for q in range(h_out)]
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


# -- the public entry point -----------------------------------------------------------------------------


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


def backward(trace: RecurrentTrace, grad_output=None, *, grad_h_n=None, grad_c_n=None) -> RecurrentBackwardTrace:
    """BPTT of ``trace`` (see :meth:`RecurrentTrace.backward <layerviz.layers._recurrent.RecurrentTrace.backward>`)."""
    g = np.array(check_grad_output(grad_output, np.shape(trace.output)))  # a copy: the trace freezes its arrays
    g_hn = np.array(_state_grad("grad_h_n", grad_h_n, np.shape(trace.h_n), "h_n"))
    if trace.kind != "LSTM":
        if grad_c_n is not None:
            raise ValueError(f"grad_c_n is for an LSTM's cell state c_n: {type(trace.layer).__name__} has none "
                             f"(leave grad_c_n None)")
        g_cn = None
    else:
        g_cn = np.array(_state_grad("grad_c_n", grad_c_n, np.shape(trace.c_n), "c_n"))
    bf = _batch_first(trace)
    if not trace.batched:
        g3, g_hn3 = g[:, None, :], g_hn[:, None, :]
        g_cn3 = None if g_cn is None else g_cn[:, None, :]
    else:
        g3 = np.swapaxes(g, 0, 1) if bf else g
        g_hn3, g_cn3 = g_hn, g_cn
    result = bptt(trace, np.ascontiguousarray(g3), g_hn3, g_cn3)
    dx = result.dx[0]
    dx = dx[:, 0] if not trace.batched else (np.swapaxes(dx, 0, 1) if bf else dx)
    grads = dict(result.params)
    grads["input"] = np.ascontiguousarray(dx)
    grads["h0"] = result.dh0[:, 0] if not trace.batched else result.dh0
    if result.dc0 is not None:
        grads["c0"] = result.dc0[:, 0] if not trace.batched else result.dc0
    return RecurrentBackwardTrace(trace, g, result, grads, (g3, g_hn3, g_cn3))


# -- narrations --------------------------------------------------------------------------------------------


def _elementwise(label: str, symbolic: str, groups: list, result: np.ndarray, redo, text, *, ints=()
                 ) -> tuple[str, Ask | None]:
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


def _combination(label: str, symbolic: str, coeffs: np.ndarray | None, vectors: np.ndarray, result: np.ndarray,
                 noun: str, *, before=None, before_ops=(), before_redo=None) -> tuple[str, Ask | None]:
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
    start: int
    size: int
    kind: str  # "steps", "param" or "down"
    layer: int
    direction: int = 0
    name: str = ""  # a parameter's torch name


class RecurrentBackwardTrace(BackwardTrace):
    """The frames of backpropagation through time for a recurrent layer.

    Frame order: layer after layer from the top; within a layer, for each direction and sample, the time steps
    newest first (the reverse direction from ``t = 0`` up), each step's stages (:data:`BACKWARD_STAGES`); then
    the layer's parameter gradients in torch's order (one frame per row of a matrix, one per gate block of a
    bias); then, with two directions or dropout, the gradient handed down (one frame per sample and step).
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
        Every intermediate of the backward pass.
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
        f = forward
        stages = BACKWARD_STAGES[f.kind]
        if f.kind == "LSTM" and f.output_hidden != f.hidden_size:
            stages = ("dh", "dh_cell") + stages[1:]
        self.stages = stages
        big_d, seq, n = f.num_directions, f.seq_len, f.n_samples
        self._masks = f.pass_.dropout_masks
        self._scale = _dropout_scale(f) if self._masks else 1.0
        segments, start = [], 0
        n_gates = len(GATES[f.mode])
        for layer in reversed(range(f.num_layers)):
            size = big_d * n * seq * len(stages)
            segments.append(_Segment(start, size, "steps", layer))
            start += size
            for d in range(big_d):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                for name in (nm for nm in f.weights if nm.endswith(suffix)):  # torch's order
                    size = f.weights[name].shape[0] if name.startswith("weight") else n_gates
                    segments.append(_Segment(start, size, "param", layer, d, name))
                    start += size
            if self._hands_down(layer):
                segments.append(_Segment(start, n * seq, "down", layer))
                start += n * seq
        self.segments = tuple(segments)
        self.offsets = tuple(s.start for s in segments) + (start,)
        self._steps_start = {s.layer: s.start for s in segments if s.kind == "steps"}
        self.n_frames = start
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
        if seg.kind == "steps":
            grad, ops, result, why, text, question = self._explain_step(seg.layer, d, n, t, self.stages[s])
            rows = slice(0)
        elif seg.kind == "down":
            grad, ops, result, why, text, question = self._explain_down(seg.layer, n, t)
            rows = slice(0)
        else:
            grad, (rows, ops, result, why, text, question) = seg.name, self._explain_param(seg, s)
        where = self._where(seg.layer, d, n)
        if question is not None:
            question = question._replace(prompt=where + why + question.prompt)
        return RecurrentGradFrame(k, grad, n, seg.layer, d, t, rows, np.asarray(ops, dtype=np.float64),
                                  np.asarray(result, dtype=np.float64), where + why + text, question)

    def _names(self, d: int, t: int) -> tuple[bool, bool, int, int]:
        """``(first, last, t_next, t_prev)``: whether ``t`` is the first (newest) or last step BPTT visits in
        direction ``d``, the step after ``t`` in the forward's order (whose gradient reaches ``t``) and the one
        before."""
        seq = self.forward.seq_len
        first = t == (seq - 1 if d == 0 else 0)
        last = t == (0 if d == 0 else seq - 1)
        return first, last, (t + 1 if d == 0 else t - 1), (t - 1 if d == 0 else t + 1)

    def _explain_step(self, layer: int, d: int, n: int, t: int, stage: str):
        f, b = self.forward, self.bptt
        p, kind, hid = f.pass_, f.kind, f.hidden_size
        big_d = f.num_directions
        ld = layer * big_d + d
        first, last, t_next, t_prev = self._names(d, t)
        top = layer == f.num_layers - 1
        h_prev_name = "h0" if last else f"h[{t_prev}]"
        c_prev_name = "c0" if last else f"c[{t_prev}]"
        s = f"_l{layer}" + ("_reverse" if d else "")

        def gate(j):
            return p.gates[ld, t, n, j * hid:(j + 1) * hid]

        dh = b.dh[ld, t, n]
        if stage == "dh":
            up, nxt = b.dup[ld, t, n], b.dh_next[ld, t, n]
            up_name = "dout" if top else "dup"
            nxt_name = "dh_n" if first else f"dh_next[{t}]"
            if top:
                source = "the output" + (f" (its {'reverse' if d else 'forward'} half)" if big_d == 2 else "")
            else:
                source = f"the layer above (layer {layer + 1}"
                source += (", its dx" if not self._hands_down(layer + 1) else ", through dup") + ")"
            if first:
                why = (f"BPTT starts where the forward pass ended, t={t}: the gradient reaching h[{t}] comes from "
                       f"{source}, and from h_n (the gradient given for h_n): ")
            else:
                why = f"the gradient reaching h[{t}] comes from {source}, and back from step {t_next}: "
            text, ask = _elementwise(f"dh[{t}]", f"{up_name}[{t}] + {nxt_name}", [up, nxt], dh,
                                     lambda a, c: a + c, lambda a, c: f"{a} + {c}")
            return "dh", [*up, *nxt], dh, why, text, ask
        if stage == "dh_cell":
            w_hr = f.weights[f"weight_hr{s}"]
            result = b.dh_cell[ld, t, n]
            text, ask = _combination(f"dh_cell[{t}]", f"W_hrᵀ·dh[{t}]", dh, w_hr, result, "rows of W_hr")
            why = "back through the projection h = W_hr·(o⊙tanh(c)): the rows of W_hr weighted by dh: "
            return "dh_cell", [*dh, *w_hr.ravel()], result, why, text, ask
        if stage in _BLOCK[kind]:
            j = _BLOCK[kind][stage]
            result = b.da[ld, t, n, j * hid:(j + 1) * hid]
            if kind == "RNN":
                if f.mode == "RNN_TANH":
                    h = p.h[ld, t, n]
                    text, ask = _elementwise(f"da[{t}]", f"dh[{t}]⊙(1 − h[{t}]²)", [dh, h], result,
                                             lambda a, c: a * (1 - c**2), lambda a, c: f"{a}⊙(1 − {c}²)")
                    return "da", [*dh, *h], result, "back through tanh (its slope is 1 − h²): ", text, ask
                mask = (p.pre[ld, t, n] > 0).astype(np.float64)
                text, ask = _elementwise(f"da[{t}]", f"dh[{t}]⊙relu'(a[{t}])", [dh, mask], result,
                                         lambda a, c: a * c, lambda a, c: f"{a}⊙{c}", ints=(1,))
                return "da", [*dh, *mask], result, f"back through relu (slope 1 where a[{t}] > 0, else 0): ", text, ask
            q = stage[1]
            names = LSTM_GATE_NAMES if kind == "LSTM" else GRU_GATE_NAMES
            if kind == "LSTM" and q in f.force:
                why = (f"the {names[q]} is forced to {_number(f.force[q])}, a constant (teaching override: not torch), "
                       f"so no gradient flows into its weights: ")
                return stage, [], result, why, f"{stage}[{t}] = {vector(result)}", None
            if kind == "LSTM":
                dm = b.dh_cell[ld, t, n] if b.dh_cell is not None else dh
                dm_name = f"dh_cell[{t}]" if b.dh_cell is not None else f"dh[{t}]"
                i, fg, g, o = (gate(jj) for jj in range(4))
                dc = b.dc[ld, t, n]
                if q == "o":
                    c = p.c[ld, t, n]
                    groups = [dm, c, o]
                    symbolic, redo = f"{dm_name}⊙tanh(c[{t}])⊙o[{t}]⊙(1 − o[{t}])", \
                        (lambda a, cc, oo: a * np.tanh(cc) * oo * (1 - oo))
                    text_fn = lambda a, cc, oo: f"{a}⊙tanh({cc})⊙{oo}⊙(1 − {oo})"  # noqa: E731
                    why = "back through the output gate (h = o⊙tanh(c), σ' = o(1 − o)): "
                elif q == "i":
                    groups = [dc, g, i]
                    symbolic = f"dc[{t}]⊙g[{t}]⊙i[{t}]⊙(1 − i[{t}])"
                    redo, text_fn = (lambda a, gg, ii: a * gg * ii * (1 - ii)), \
                        (lambda a, gg, ii: f"{a}⊙{gg}⊙{ii}⊙(1 − {ii})")
                    why = "back through the input gate (c gets i⊙g): "
                elif q == "f":
                    groups = [dc, p.c_prev[ld, t, n], fg]
                    symbolic = f"dc[{t}]⊙{c_prev_name}⊙f[{t}]⊙(1 − f[{t}])"
                    redo, text_fn = (lambda a, cc, ff: a * cc * ff * (1 - ff)), \
                        (lambda a, cc, ff: f"{a}⊙{cc}⊙{ff}⊙(1 − {ff})")
                    why = f"back through the forget gate (c gets f⊙{c_prev_name}): "
                else:  # g
                    groups = [dc, i, g]
                    symbolic = f"dc[{t}]⊙i[{t}]⊙(1 − g[{t}]²)"
                    redo, text_fn = (lambda a, ii, gg: a * ii * (1 - gg**2)), \
                        (lambda a, ii, gg: f"{a}⊙{ii}⊙(1 − {gg}²)")
                    why = "back through the candidate (c gets i⊙g, tanh' = 1 − g²): "
            else:  # GRU
                r, z, nn = (gate(jj) for jj in range(3))
                if q == "n":
                    groups = [dh, z, nn]
                    symbolic = f"dh[{t}]⊙(1 − z[{t}])⊙(1 − n[{t}]²)"
                    redo, text_fn = (lambda a, zz, m: a * (1 - zz) * (1 - m**2)), \
                        (lambda a, zz, m: f"{a}⊙(1 − {zz})⊙(1 − {m}²)")
                    why = "back through the new gate (h gets (1 − z)⊙n, tanh' = 1 − n²): "
                elif q == "z":
                    groups = [dh, p.h_prev[ld, t, n], nn, z]
                    symbolic = f"dh[{t}]⊙({h_prev_name} − n[{t}])⊙z[{t}]⊙(1 − z[{t}])"
                    redo = lambda a, hp, m, zz: a * (hp - m) * zz * (1 - zz)  # noqa: E731
                    text_fn = lambda a, hp, m, zz: f"{a}⊙({hp} − {m})⊙{zz}⊙(1 − {zz})"  # noqa: E731
                    why = f"back through the update gate (h = n + z⊙({h_prev_name} − n)): "
                else:  # r
                    groups = [b.da[ld, t, n, 2 * hid:], p.h_part[ld, t, n, 2 * hid:], r]
                    bias = " + b_hn" if f.has_bias else ""
                    symbolic = f"dn[{t}]⊙(W_hn·{h_prev_name}{bias})⊙r[{t}]⊙(1 − r[{t}])"
                    redo, text_fn = (lambda a, hn, rr: a * hn * rr * (1 - rr)), \
                        (lambda a, hn, rr: f"{a}⊙{hn}⊙{rr}⊙(1 − {rr})")
                    why = "back through the reset gate (n reads r⊙(W_hn·h + b_hn)): "
            text, ask = _elementwise(f"{stage}[{t}]", symbolic, groups, result, redo, text_fn)
            return stage, np.concatenate(groups), result, why, text, ask
        if stage == "dc":
            dm = b.dh_cell[ld, t, n] if b.dh_cell is not None else dh
            dm_name = f"dh_cell[{t}]" if b.dh_cell is not None else f"dh[{t}]"
            o, c, nxt = gate(3), p.c[ld, t, n], b.dc_next[ld, t, n]
            result = b.dc[ld, t, n]
            nxt_name = "dc_n" if first else f"dc_next[{t}]"
            text, ask = _elementwise(f"dc[{t}]", f"{dm_name}⊙o[{t}]⊙(1 − tanh(c[{t}])²) + {nxt_name}", [dm, o, c, nxt],
                                     result, lambda a, oo, cc, e: a * oo * (1 - np.tanh(cc) ** 2) + e,
                                     lambda a, oo, cc, e: f"{a}⊙{oo}⊙(1 − tanh({cc})²) + {e}")
            why = (f"the gradient reaching the cell state c[{t}]: through h = o⊙tanh(c), plus "
                   + ("the gradient given for c_n: " if first else f"what c[{t_next}] sent back along the cell: "))
            return "dc", [*dm, *o, *c, *nxt], result, why, text, ask
        if stage == "dc_prev":
            dc, fg = b.dc[ld, t, n], gate(1)
            result = b.dc_prev[ld, t, n]
            label = "dc0" if last else f"dc_next[{t_prev}]"
            text, ask = _elementwise(label, f"dc[{t}]⊙f[{t}]", [dc, fg], result, lambda a, ff: a * ff,
                                     lambda a, ff: f"{a}⊙{ff}")
            why = (f"along the cell state, back to {c_prev_name}: c[{t}] = f⊙{c_prev_name} + i⊙g, so the gradient is "
                   f"kept as much as the forget gate keeps: ")
            return "dc_prev", [*dc, *fg], result, why, text, ask
        label = ("dh0" if last else f"dh_next[{t_prev}]") if stage == "dh_prev" else \
            (f"dx[{t}]" if big_d == 1 else f"dx_{'rev' if d else 'fwd'}[{t}]")
        da_sym = {"RNN": "da", "LSTM": "[di, df, dg, do]", "GRU": "[dr, dz, dn]"}[kind]
        if stage == "dh_prev":
            w = f.weights[f"weight_hh{s}"]
            result = b.dh_prev[ld, t, n]
            coeffs = b.da_h[ld, t, n]
            target = "h0" if last else f"h[{t_prev}]"
            if kind == "GRU":
                text, ask = self._gru_dh_prev(label, t, dh, gate(0), gate(1), b.da[ld, t, n], coeffs, w, result)
                dn = b.da[ld, t, n, 2 * hid:]
                r, z = gate(0), gate(1)
                why = (f"back to {target}: directly (h = n + z⊙({target} − n)) and through the three gates, "
                       f"the rows of W_hh weighted by their gradients (the n gate's by r⊙dn, as n reads r⊙(W_hn·h)): ")
                return "dh_prev", [*dh, *z, *r, *dn, *w.ravel()], result, why, text, ask
            text, ask = _combination(label, f"W_hhᵀ·{da_sym}[{t}]", coeffs, w, result, "rows of W_hh")
            why = f"step {t} sends the gradient back to {target}: the rows of W_hh weighted by {da_sym}[{t}]: "
            return "dh_prev", [*coeffs, *w.ravel()], result, why, text, ask
        # dx
        w = f.weights[f"weight_ih{s}"]
        result = b.dx_dir[layer][d, t, n]
        coeffs = b.da[ld, t, n]
        text, ask = _combination(label, f"W_ihᵀ·{da_sym}[{t}]", coeffs, w, result, "rows of W_ih")
        what = "the input" if layer == 0 else f"the layer's input (layer {layer - 1}'s output)"
        why = f"and to {what} x[{t}]: the rows of W_ih weighted by {da_sym}[{t}]: "
        return "dx", [*coeffs, *w.ravel()], result, why, text, ask

    @staticmethod
    def _gru_dh_prev(label: str, t: int, dh, r, z, da, coeffs, w, result) -> tuple[str, Ask | None]:
        """``r⊙dn = …; dh_next[t-1] = dh⊙z + W_hhᵀ·[dr, dz, r⊙dn] = …``: two steps, one set of shown numbers
        (the second step's n-block weights are the first step's result as shown)."""
        hid, h_out = len(r), w.shape[1]
        dn, rdn = da[2 * hid:], coeffs[2 * hid:]
        symbolic = f"dh[{t}]⊙z[{t}] + W_hhᵀ·[dr, dz, r⊙dn]"
        k = 3 * hid
        if k <= KEEP_TERMS and h_out <= _KEEP_ENTRIES:
            ops = [*r, *dn, *dh, *z, *da[:2 * hid], *w.ravel()]

            def redo(o, shown):
                first = o[:hid] * o[hid:2 * hid]
                base = 2 * hid + 2 * h_out
                weights = np.concatenate([o[base:base + 2 * hid], shown[:hid]])
                rows = o[base + 2 * hid:].reshape(k, h_out)
                return np.concatenate([first, o[2 * hid:2 * hid + h_out] * o[2 * hid + h_out:base] + weights @ rows])

            shown = redoable(ops, [*rdn, *result], redo, intermediate=range(hid))
            o = shown.operands
            base = 2 * hid + 2 * h_out
            pre = f"r⊙dn = {operand(o[:hid])}⊙{operand(o[hid:2 * hid])} = {vector(shown.results[:hid])}"
            weights = [*o[base:base + 2 * hid], *shown.results[:hid]]
            rows = o[base + 2 * hid:]
            terms = [f"{operand(o[2 * hid:2 * hid + h_out])}⊙{operand(o[2 * hid + h_out:base])}"]
            terms += [f"{paren(weights[i])}×{operand(rows[i * h_out:(i + 1) * h_out])}" for i in range(k)]
            head = f"{label} = {symbolic} = {' + '.join(terms)}"
            final = shown.results[hid:]
            return (f"{pre}; {head} = {vector(final)}",
                    Ask(f"{pre}; {head} = ?", final[0], float(result[0]), entry=h_out > 1))
        first = redoable([*r, *dn], rdn, lambda o, _: o[:hid] * o[hid:])
        pre = f"r⊙dn = {operand(first.operands[:hid])}⊙{operand(first.operands[hid:])} = {vector(first.results)}"
        text, _ = _combination(label, symbolic, coeffs, w, result, "rows of W_hh",
                               before=lambda texts: f"{operand(texts[:len(dh)])}⊙{operand(texts[len(dh):])}",
                               before_ops=[*dh, *z])
        return f"{pre}; {text}", None

    def _explain_down(self, layer: int, n: int, t: int):
        f, b = self.forward, self.bptt
        parts = [b.dx_dir[layer][d, t, n] for d in range(f.num_directions)]
        two = len(parts) == 2
        label = f"dx[{t}]" if layer == 0 else f"dup[{t}]"
        masked = layer > 0 and bool(self._masks)
        result = b.dx[layer][t, n] if layer == 0 else b.ddown[layer][t, n]
        symbolic = f"dx_fwd[{t}] + dx_rev[{t}]" if two else f"dx[{t}]"
        groups = list(parts)
        if masked:
            symbolic = (f"({symbolic})" if two else symbolic) + f"⊙mask[{t}] × 1/(1 − p)"
            groups += [self._masks[layer - 1][t, n].astype(np.float64), np.array([self._scale])]

        def redo(*g):
            total = g[0] + g[1] if two else g[0]
            return total * g[-2] * g[-1][0] if masked else total

        def text(*texts):
            total = f"{texts[0]} + {texts[1]}" if two else texts[0]
            return (f"({total})" if two else total) + f"⊙{texts[-2]} × {texts[-1]}" if masked else total

        text_, ask = _elementwise(label, symbolic, groups, result, redo, text, ints=(len(parts),) if masked else ())
        if layer == 0:
            why = f"the gradient of the input x[{t}]: the two directions' parts add up: "
        else:
            why = f"handed down to layer {layer - 1}'s h[{t}]" + (": the two directions' parts add up" if two else "")
            why += (", through the forward's dropout mask" if masked else "") + ": "
        return "dup", np.concatenate(groups), result, why, text_, ask

    def _explain_param(self, seg: _Segment, local: int):
        f, b = self.forward, self.bptt
        p, kind, hid = f.pass_, f.kind, f.hidden_size
        ld = seg.layer * f.num_directions + seg.direction
        name = seg.name
        base = name.split("_l")[0]  # weight_ih, weight_hh, bias_ih, bias_hh, weight_hr
        side = base[-2:]  # "ih", "hh", "hr"
        grad = self.grads[name]
        seq, n = f.seq_len, f.n_samples
        over = "Σ_t" if n == 1 else "Σ_n,t"
        every = "every step" if n == 1 else "every step of every sample"
        gate_names = GATES[f.mode]
        if base == "weight_hr":
            rows = slice(local, local + 1)
            coeffs = b.dh[ld, :, :, local].ravel()
            vectors = p.h_cell[ld].reshape(seq * n, -1)
            text, ask = _combination(f"dW_hr[{local}]", f"{over} dh[t][{local}]×(o⊙tanh(c))[t]", coeffs, vectors,
                                     grad[local], "products")
            why = (f"W_hr learns from {every}: row {local} adds up dh[t][{local}] × o⊙tanh(c[t]) "
                   f"(the vector it projected): ")
            return rows, [*coeffs, *vectors.ravel()], grad[local], why, text, ask
        if kind == "RNN":
            sym = ["da"]
        elif kind == "LSTM":
            sym = ["di", "df", "dg", "do"]
        else:
            sym = ["dr", "dz", "(r⊙dn)" if side == "hh" else "dn"]
        source = b.da if side == "ih" else b.da_h
        if base.startswith("bias"):
            block = local
            rows = slice(block * hid, (block + 1) * hid)
            vectors = source[ld, :, :, rows].reshape(seq * n, hid)
            label = f"db_{side}" if kind == "RNN" else f"db_{side[0]}{gate_names[block]}"
            text, ask = _combination(label, f"{over} {sym[block]}[t]", None, vectors, grad[rows], "terms")
            why = f"the bias b_{side} gets the gradient of its gate at {every}, added up: "
            return rows, vectors.ravel(), grad[rows], why, text, ask
        row = local
        block, unit = divmod(row, hid)
        coeffs = source[ld, :, :, row].ravel()
        if side == "ih":
            vectors, vname = p.inputs[seg.layer].reshape(seq * n, -1), "x[t]"
        else:
            vectors, vname = p.h_prev[ld].reshape(seq * n, -1), "h[t−1]"
        entry = f"{sym[block]}[t][{unit}]"
        text, ask = _combination(f"dW_{side}[{row}]", f"{over} {entry}×{vname}", coeffs, vectors, grad[row],
                                 "products")
        gate_name = (LSTM_GATE_NAMES if kind == "LSTM" else GRU_GATE_NAMES).get(gate_names[block], "")
        what = "" if kind == "RNN" else f" ({gate_name} {gate_names[block]}, unit {unit})"
        why = f"W_{side} learns from {every}: row {row}{what} adds up {entry} × {vname}: "
        return slice(row, row + 1), [*coeffs, *vectors.ravel()], grad[row], why, text, ask

    # -- the picture ------------------------------------------------------------------------------------

    def _table(self) -> dict[str, np.ndarray]:
        """Per frame: ``kind`` (0 steps, 1 param, 2 down), ``layer``, ``direction``, ``sample`` (-1), ``t`` (-1),
        ``stage`` (index into :attr:`stages`, -1), ``segment``, ``local`` (index within the segment)."""
        f = self.forward
        k = self.n_frames
        table = {key: np.full(k, -1, dtype=np.int64) for key in ("kind", "layer", "direction", "sample", "t", "stage",
                                                                  "segment", "local")}
        for i, seg in enumerate(self.segments):
            sl = slice(seg.start, seg.start + seg.size)
            local = np.arange(seg.size)
            table["segment"][sl], table["local"][sl], table["layer"][sl] = i, local, seg.layer
            if seg.kind == "steps":
                d, n, step, s = np.unravel_index(local, (f.num_directions, f.n_samples, f.seq_len, len(self.stages)))
                table["kind"][sl], table["direction"][sl], table["sample"][sl], table["stage"][sl] = 0, d, n, s
                table["t"][sl] = np.where(d == 0, f.seq_len - 1 - step, step)
            elif seg.kind == "down":
                n, step = np.divmod(local, f.seq_len)
                table["kind"][sl], table["direction"][sl], table["sample"][sl] = 2, 0, n
                table["t"][sl] = f.seq_len - 1 - step
            else:
                table["kind"][sl], table["direction"][sl] = 1, seg.direction
        return table

    def scene(self) -> Scene:
        """BPTT drawn: the upstream gradient, ``dL/dh`` (and ``dL/dc``) filling up from the newest step back,
        the gates' gradients, the input's gradient, and each layer's parameter gradients filling up row by row.

        Panels (time steps as columns, one slice per layer and direction, one page per sample): ``dout``,
        ``dh``, ``dc`` (LSTM), ``da`` (every gate's pre-activation gradient), ``dx``; then per layer ``dW_ih``,
        ``dW_hh``, ``db`` (``b_ih`` and ``b_hh`` side by side), ``dW_hr`` (projection). Highlights: what a frame
        writes (output) and the gradient it reads (window).
        """
        f, b = self.forward, self.bptt
        tab = self._table()
        n_frames = self.n_frames
        seq, n_s, big_d, layers = f.seq_len, f.n_samples, f.num_directions, f.num_layers
        n_ld, hid, h_out = layers * big_d, f.hidden_size, f.output_hidden
        width = b.da.shape[-1]
        frames = np.arange(n_frames)
        has_sample = tab["sample"] >= 0
        last = np.maximum.accumulate(np.where(has_sample, frames, 0))
        page = np.maximum(tab["sample"][last], 0).astype(np.int32)
        ld = tab["layer"] * big_d + tab["direction"]
        slice_ld = (np.maximum(tab["sample"], 0) * n_ld + ld).astype(np.int64)
        stage_name = np.array(self.stages + ("",))[tab["stage"]]  # -1 picks ""
        is_step = tab["kind"] == 0

        def origins(active, slice_, row, col) -> np.ndarray:
            out = np.zeros((n_frames, 3), dtype=np.int32)
            out[:, 0] = np.where(active, slice_, 0)
            out[:, 1] = np.where(active, row, _HIDDEN)
            out[:, 2] = np.where(active, col, 0)
            return out

        def column(rows: int) -> np.ndarray:
            return np.array([(0, r, 0) for r in range(rows)], dtype=np.int32).reshape(-1, 3)

        def strip(a: np.ndarray) -> np.ndarray:
            """``(n_LD, L, N, X)`` -> ``(N*n_LD, X, L)``."""
            return np.ascontiguousarray(np.moveaxis(a, 2, 0).reshape(n_s * n_ld, seq, -1).swapaxes(1, 2))

        def reveal_of(stage: str, rows: int) -> np.ndarray:
            out = np.zeros((n_s, n_ld, rows, seq), dtype=np.int64)
            for layer in range(layers):
                for d in range(big_d):
                    for n in range(n_s):
                        out[n, layer * big_d + d] = np.array([self.frame_of(layer, d, n, t, stage)
                                                              for t in range(seq)])[None, :]
            return out.reshape(n_s * n_ld, rows, seq).astype(np.int32)

        labels = tuple((f"sample {i}: " if f.batched else "") + (f"layer {ll}" if layers > 1 else "")
                       + (" ←" if dd else (" →" if big_d > 1 else "")) for i in range(n_s) for ll in range(layers)
                       for dd in range(big_d))
        times = tuple(str(tt) for tt in range(seq))  # the columns of every strip: the time steps
        g_vals = np.ascontiguousarray(np.moveaxis(self._g3, 1, 0).swapaxes(1, 2))  # (N, D*H_out, L)
        panels = [Grid("dout", "upstream gradient dL/d output (columns: t)", g_vals,
                       tuple(f"dout (sample {i})" if f.batched else "dout" for i in range(n_s)), page_size=1, page=page,
                       col_labels=times)]
        top = (tab["layer"] == layers - 1) & (stage_name == "dh")
        highlights = [Highlight("dout", origins(top, tab["sample"], tab["direction"] * h_out, tab["t"]), column(h_out),
                                "window", "dout[t] read")]
        panels.append(Grid("dh", "dL/dh, back through time", strip(b.dh), tuple(f"dh {lab}".rstrip() for lab in labels),
                           reveal=reveal_of("dh", h_out), page_size=n_ld, page=page, op="←", col_labels=times))
        highlights.append(Highlight("dh", origins(stage_name == "dh", slice_ld, 0, tab["t"]), column(h_out), "output",
                                    "dh[t] computed"))
        if b.dc is not None:
            panels.append(Grid("dc", "dL/dc, back along the cell state", strip(b.dc),
                               tuple(f"dc {lab}".rstrip() for lab in labels), reveal=reveal_of("dc", hid),
                               page_size=n_ld, page=page, op="←", col_labels=times))
            highlights.append(Highlight("dc", origins(stage_name == "dc", slice_ld, 0, tab["t"]), column(hid),
                                        "output", "dc[t] computed"))
        gates = GATES[f.mode]
        reveal = np.zeros((n_s * n_ld, width, seq), dtype=np.int32)
        block_of = np.full(n_frames, -1)
        for stage, j in _BLOCK[f.kind].items():
            reveal[:, j * hid:(j + 1) * hid] = reveal_of(stage, hid)
            block_of[stage_name == stage] = j
        title = {"RNN": "dL/da (pre-activation)", "LSTM": "dL/d gates i, f, g, o (pre-activation)",
                 "GRU": "dL/d gates r, z, n (pre-activation)"}[f.kind]
        gate_rows = tuple(f"{gates[r // hid]}{r % hid}" for r in range(width)) if len(gates) > 1 else ()
        prefix = "".join(gates) if len(gates) > 1 else "da"
        panels.append(Grid("da", title, strip(b.da), tuple(f"{prefix} {lab}".rstrip() for lab in labels),
                           reveal=reveal, page_size=n_ld, page=page, op="←", row_labels=gate_rows, col_labels=times))
        highlights.append(Highlight("da", origins(block_of >= 0, slice_ld, np.maximum(block_of, 0) * hid, tab["t"]),
                                    column(hid), "output", "gate gradient computed"))
        reads = is_step & np.isin(stage_name, ["dh_prev", "dx"])
        highlights.append(Highlight("da", origins(reads, slice_ld, 0, tab["t"]), column(width), "window",
                                    "gate gradients sent back"))
        # the input's gradient
        in0 = f.pass_.inputs[0].shape[2]
        dx_vals = np.ascontiguousarray(np.moveaxis(b.dx[0], 1, 0).swapaxes(1, 2))  # (N, in0, L)
        down0 = next((i for i, s in enumerate(self.segments) if s.kind == "down" and s.layer == 0), None)
        if down0 is None:
            dx_frame = (tab["layer"] == 0) & (stage_name == "dx")
            reveal = reveal_of("dx", 1)[::n_ld]  # layer 0, direction 0: (N, 1, L)
        else:
            dx_frame = tab["segment"] == down0
            seg = self.segments[down0]
            steps = np.arange(seq)
            reveal = seg.start + np.arange(n_s)[:, None, None] * seq + (seq - 1 - steps)[None, None, :]
        panels.append(Grid("dx", "dL/dx, the input's gradient", dx_vals,
                           tuple(f"dx (sample {i})" if f.batched else "dx" for i in range(n_s)),
                           reveal=np.broadcast_to(reveal, dx_vals.shape).astype(np.int32).copy(), page_size=1,
                           page=page, op="←", col_labels=times))
        highlights.append(Highlight("dx", origins(dx_frame, tab["sample"], 0, tab["t"]), column(in0), "output",
                                    "dx[t] computed"))
        # the parameters, per layer: rows revealed at their frames
        for layer in range(layers):
            dirs = ("forward", "reverse") if big_d == 2 else ("",)
            kinds = ["weight_ih", "weight_hh"] + (["weight_hr"] if h_out != hid else [])
            for base in kinds:
                names = [f"{base}_l{layer}" + ("_reverse" if d else "") for d in range(big_d)]
                values = np.stack([self.grads[nm] for nm in names])
                rev = np.zeros(values.shape, dtype=np.int32)
                active = np.zeros(n_frames, dtype=bool)
                which = np.zeros(n_frames, dtype=np.int64)
                for d, nm in enumerate(names):
                    i = next(i for i, s in enumerate(self.segments) if s.name == nm)
                    seg = self.segments[i]
                    rev[d] = (seg.start + np.arange(seg.size))[:, None]
                    mine = tab["segment"] == i
                    active |= mine
                    which[mine] = d
                label = {"weight_ih": "dW_ih", "weight_hh": "dW_hh", "weight_hr": "dW_hr"}[base]
                grid_name = f"{label}_l{layer}"
                layer_text = f", layer {layer}" if layers > 1 else ""
                panels.append(Grid(grid_name, f"dL/d{label[1:]}{layer_text}",
                                   values, tuple(f"{label} {dd}".rstrip() for dd in dirs), reveal=rev))
                stencil = np.array([(0, 0, c) for c in range(values.shape[2])], dtype=np.int32)
                highlights.append(Highlight(grid_name, origins(active, which, tab["local"], 0), stencil, "output",
                                            "row computed"))
            if f.has_bias:
                values, rev, labs = [], [], []
                active = np.zeros(n_frames, dtype=bool)
                which = np.zeros(n_frames, dtype=np.int64)
                for d in range(big_d):
                    for j, base in enumerate(("bias_ih", "bias_hh")):
                        nm = f"{base}_l{layer}" + ("_reverse" if d else "")
                        i = next(i for i, s in enumerate(self.segments) if s.name == nm)
                        seg = self.segments[i]
                        values.append(self.grads[nm][:, None])
                        rev.append(np.repeat(seg.start + np.arange(seg.size), hid)[:, None])
                        labs.append(f"d{base[0]}_{base[-2:]} {dirs[d]}".rstrip())
                        mine = tab["segment"] == i
                        active |= mine
                        which[mine] = 2 * d + j
                grid_name = f"db_l{layer}"
                panels.append(Grid(grid_name, "dL/db" + (f", layer {layer}" if layers > 1 else ""), np.stack(values),
                                   tuple(labs), reveal=np.stack(rev).astype(np.int32)))
                highlights.append(Highlight(grid_name, origins(active, which, tab["local"] * hid, 0), column(hid),
                                            "output", "bias block computed"))
        vmax = max(float(np.abs(g.values).max(initial=0.0)) for g in panels) or 1.0
        layer_text = self.layer.short_repr() if hasattr(self.layer, "short_repr") else repr(self.layer)
        return Scene(f"backpropagation through time: {layer_text}", n_frames, tuple(panels), tuple(highlights),
                     LazyCaptions(self), vmax)
