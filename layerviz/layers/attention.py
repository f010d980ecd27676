"""Scaled dot-product attention: each query takes an average of the values, weighted by how well it matches each key.

For ``query: (..., L, E)``, ``key: (..., S, E)`` and ``value: (..., S, Ev)`` (``L`` queries, ``S`` keys and values;
the leading batch axes ``...`` broadcast together, as torch's do), with ``q_i``, ``k_j``, ``v_j`` their rows::

    s[i, j] = q_i · k_j × scale  (+ attn_mask[i, j], a float mask)       scale = 1/√E unless given
    s[i, j] = -inf where the pair is masked: a bool attn_mask False there, or is_causal and j > i
    a[i, :] = softmax(s[i, :]) = e^(s − max) / Σ e^(s − max)            (a row whose every key is masked: all 0)
    ã[i, j] = a[i, j] × kept[i, j] / (1 − p)                            (dropout_p = p > 0 only)
    out[i]  = Σ_j ã[i, j] v_j                                           out: (..., L, Ev)

as ``torch.nn.functional.scaled_dot_product_attention`` computes it. A bool mask says which pairs take part (True),
a float mask is added to the scores (``-inf``: masked); either broadcasts to the scores' shape ``(..., L, S)``.
``is_causal=True`` masks the keys after each query (the lower-left triangle ``j <= i`` takes part, as torch's
``tril``, also when ``L != S``) and, as in torch, is refused together with a mask. A row whose every key is masked
has weights 0 and an output row 0 in torch (its softmax is a "safe" one: not NaN), and here. (torch 2.13's CPU
kernel for 4-D inputs returns NaN with ``is_causal`` and a ``scale <= 0``, its causal ``-inf`` multiplied by the
scale; its 2-D and 3-D inputs give numbers there, and layerviz gives those. That kernel also refuses a 1-D
``attn_mask``, which its other paths broadcast, as layerviz does.)

Dropout on the weights needs an explicit ``rng`` (a ``numpy.random.Generator`` or an int seed): torch's own draws
cannot be reproduced, so layerviz draws its own, ``kept = u >= p`` for uniform ``u``, as :class:`~layerviz.Dropout`.

Frames (:func:`attention_frames`): for each batch item and each query ``i``, its ``S`` scores ``s[i, j]`` (the pair
of tokens lit), the softmax of its row (max, exponentials, sum, weights), then its output row as the weighted sum of
the values. The backward pass (``trace.backward(grad_output)``): ``dV = Ãᵀ·dO``, ``dA = dO·Vᵀ`` (× the dropout's
``kept / (1 − p)``), the softmax's Jacobian-vector product ``dS = A ⊙ (dA − rowsum(dA ⊙ A))``,
``dQ = dS·K × scale``, ``dK = dSᵀ·Q × scale``, summed over the batch axes an input was broadcast along.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks
from layerviz._format import Ask
from layerviz.backward import BackwardTrace, HasBackward, Section, sum_of_products
from layerviz.backward import name as grad_name
from layerviz.layers._attention_narration import (Factor, narrate_output, narrate_score, narrate_softmax,
                                                  narrate_softmax_grad, scaled_sum_of_products)
from layerviz.layers._attention_scene import attention_scene
from layerviz.scene import Scene
from layerviz.trace import Trace

#: The kinds of frames, in the order they come for each query: ``S`` scores, its softmax, its output row.
PHASES = ("score", "softmax", "output")

#: query, key and value have 2 axes at least (torch's rule) and at most numpy's 64.
_NDIMS = tuple(range(2, 65))


# -- checks -----------------------------------------------------------------------------------------


def _tensor(name: str, value: object, rows: str, cols: str) -> np.ndarray:
    array = _checks.finite_array(name, value, _NDIMS, f"(..., {rows}, {cols}) with 2 axes at least")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    return array


def _check_inputs(query, key, value) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """The three tensors as float64 arrays, and the batch shape they broadcast to."""
    q = _tensor("query", query, "L", "E")
    k = _tensor("key", key, "S", "E")
    v = _tensor("value", value, "S", "Ev")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"key must have the query's width E = {q.shape[-1]} on its last axis (each score is a dot "
                         f"product q_i·k_j), got key of shape {k.shape} for query of shape {q.shape}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"value must have one row per key, S = {k.shape[-2]} rows (its axis -2), got value of shape "
                         f"{v.shape} for key of shape {k.shape}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"key and value must have leading (batch) axes that broadcast with the query's, got query "
                         f"{q.shape}, key {k.shape}, value {v.shape}") from None
    return q, k, v, tuple(int(n) for n in batch)


def _check_mask(attn_mask: object, scores_shape: tuple[int, ...]) -> tuple[str, np.ndarray | None]:
    """``('none' | 'bool' | 'float', mask broadcast to the scores' shape)``; ValueError naming attn_mask."""
    if attn_mask is None:
        return "none", None
    raw = _checks.plain(attn_mask)
    try:
        array = np.asarray(raw)
    except (TypeError, ValueError) as error:
        raise ValueError(f"attn_mask must be an array of bools or floats, got {type(attn_mask).__name__}") from error
    if array.dtype == bool:
        kind = "bool"
    elif array.dtype.kind == "f":
        kind = "float"
        array = array.astype(np.float64)
        if np.isnan(array).any() or (array == np.inf).any():
            bad = tuple(int(i) for i in np.argwhere(np.isnan(array) | (array == np.inf))[0])
            raise ValueError(f"attn_mask must not hold NaN or +inf (torch returns NaN for the whole row), got "
                             f"{array[bad]} at index {bad}")
    else:
        raise ValueError(f"attn_mask must be bool (True: the pair takes part) or float (added to the scores, -inf: "
                         f"masked), got dtype {array.dtype}")
    try:
        fits = np.broadcast_shapes(array.shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"attn_mask must broadcast to the scores' shape (..., L, S) = {scores_shape}, got shape "
                         f"{array.shape}")
    return kind, np.broadcast_to(array, scores_shape)


def _check_dropout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"dropout_p must be a number between 0 and 1, got {value!r}")
    return float(value)


def _check_scale(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"scale must be None (1/√E) or a finite number, got {value!r}")
    return float(value)


def _check_rng(rng: object, dropout_p: float) -> np.random.Generator | None:
    if dropout_p == 0:
        return None if rng is None else _checks.generator("rng", rng)
    if rng is None:
        raise ValueError(f"rng must be given (a numpy.random.Generator or an int seed) when dropout_p > 0, got None "
                         f"with dropout_p={dropout_p}: layerviz draws dropout masks only from an explicit generator")
    return _checks.generator("rng", rng)


@dataclass(frozen=True)
class AttentionCall:
    """What a trace computed: ``scaled_dot_product_attention`` with these settings (the trace's ``layer``)."""

    mask: str  # 'none', 'bool' or 'float'
    dropout_p: float
    is_causal: bool
    scale: float | None

    def __repr__(self) -> str:
        mask = "None" if self.mask == "none" else f"<{self.mask} mask>"
        return (f"scaled_dot_product_attention(attn_mask={mask}, dropout_p={self.dropout_p}, "
                f"is_causal={self.is_causal}, scale={self.scale})")

    def short_repr(self) -> str:
        return "scaled_dot_product_attention"


# -- the pass ---------------------------------------------------------------------------------------


@dataclass
class _Pass:
    """Every number of one pass, batch items flattened: ``(B, L, S)`` scores and weights, ``(B, L, Ev)`` output."""

    call: AttentionCall
    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    batch: tuple[int, ...]
    mask: np.ndarray | None  # the mask as given (not broadcast), for its indices
    q: np.ndarray  # (B, L, E)
    k: np.ndarray  # (B, S, E)
    v: np.ndarray  # (B, S, Ev)
    scale: float
    dots: np.ndarray  # q_i · k_j
    raw: np.ndarray  # q_i · k_j × scale (+ a float mask where it is finite): finite everywhere
    allowed: np.ndarray  # True where the pair takes part
    scores: np.ndarray  # raw, -inf where masked
    row_max: np.ndarray  # (B, L); 0 for a row masked everywhere
    exps: np.ndarray
    totals: np.ndarray  # (B, L)
    weights: np.ndarray
    kept: np.ndarray | None
    drop_scale: float
    dropped: np.ndarray  # the weights the values are averaged with (ã; a without dropout)
    out: np.ndarray  # (B, L, Ev)
    output: np.ndarray  # (..., L, Ev)


def _attend(query, key, value, attn_mask, dropout_p, is_causal, scale, rng) -> _Pass:
    q, k, v, batch = _check_inputs(query, key, value)
    (L, E), S, Ev = q.shape[-2:], k.shape[-2], v.shape[-1]
    kind, mask = _check_mask(attn_mask, (*batch, L, S))
    is_causal = _checks.flag("is_causal", is_causal)
    if is_causal and kind != "none":
        raise ValueError("attn_mask must be None when is_causal=True: torch refuses the two together (put the causal "
                         "pattern in attn_mask, or leave attn_mask out)")
    dropout_p, scale = _check_dropout(dropout_p), _check_scale(scale)
    generator = _check_rng(rng, dropout_p)
    B = int(np.prod(batch, dtype=np.int64))
    q3 = np.broadcast_to(q, (*batch, L, E)).reshape(B, L, E).copy()
    k3 = np.broadcast_to(k, (*batch, S, E)).reshape(B, S, E).copy()
    v3 = np.broadcast_to(v, (*batch, S, Ev)).reshape(B, S, Ev).copy()
    factor = 1.0 / math.sqrt(E) if scale is None else scale
    dots = q3 @ k3.transpose(0, 2, 1)
    raw = dots * factor
    allowed = np.ones((B, L, S), dtype=bool)
    if kind == "bool":
        allowed = mask.reshape(B, L, S).copy()
    elif kind == "float":
        added = mask.reshape(B, L, S)
        allowed = added != -np.inf
        raw = raw + np.where(allowed, added, 0.0)
    elif is_causal:
        allowed = np.broadcast_to(np.tri(L, S, dtype=bool), (B, L, S)).copy()
    scores = np.where(allowed, raw, -np.inf)
    anything = allowed.any(axis=-1)
    row_max = np.where(anything, np.where(allowed, raw, -np.inf).max(axis=-1, initial=-np.inf), 0.0)
    exps = np.where(allowed, np.exp(np.where(allowed, raw, 0.0) - row_max[..., None]), 0.0)
    totals = exps.sum(axis=-1)
    weights = np.where(anything[..., None], exps / np.where(anything, totals, 1.0)[..., None], 0.0)
    kept, drop_scale, dropped = None, 1.0, weights
    if dropout_p > 0:
        kept = np.asarray(generator.random((*batch, L, S)) >= dropout_p).reshape(B, L, S)
        drop_scale = 0.0 if dropout_p == 1 else 1.0 / (1.0 - dropout_p)
        dropped = np.where(kept, weights * drop_scale, 0.0)
    out = dropped @ v3
    call = AttentionCall(kind, dropout_p, is_causal, scale)
    given = None if kind == "none" else np.asarray(_checks.plain(attn_mask))
    return _Pass(call, q, k, v, batch, given, q3, k3, v3, factor, dots, raw, allowed, scores, row_max, exps, totals,
                 weights, kept, drop_scale, dropped, out, out.reshape(*batch, L, Ev))


def scaled_dot_product_attention(query: ArrayLike, key: ArrayLike, value: ArrayLike, attn_mask: ArrayLike | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, *, scale: float | None = None,
                                 rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Attention as ``torch.nn.functional.scaled_dot_product_attention`` computes it (formulas: module docstring).

    Parameters
    ----------
    query : array_like, shape (..., L, E)
    key : array_like, shape (..., S, E)
    value : array_like, shape (..., S, Ev)
        The leading batch axes of the three broadcast together.
    attn_mask : array_like of bool or float, optional
        Broadcasts to ``(..., L, S)``. Bool: True where the query may look at the key. Float: added to the scores
        (``-inf`` masks). A row whose every key is masked gets weights 0 and an output row 0, as in torch.
    dropout_p : float, default 0.0
        Probability of zeroing each weight (the others are scaled by ``1/(1 − p)``); needs ``rng``.
    is_causal : bool, default False
        Mask every key after the query (``j > i``); refused with an ``attn_mask``, as in torch.
    scale : float, optional
        Multiplies the dot products; ``1/√E`` when None. Keyword-only, as in torch.
    rng : numpy.random.Generator or int, optional
        The source of the dropout mask; required when ``dropout_p > 0``.

    Returns
    -------
    ndarray, shape (..., L, Ev)

    Examples
    --------
    >>> q = np.array([[1.0, 0.0]]); k = np.array([[1.0, 0.0], [0.0, 1.0]]); v = np.array([[10.0], [20.0]])
    >>> scaled_dot_product_attention(q, k, v, scale=np.log(3)).round(6)     # weights e^ln3 : e^0 = 3 : 1
    array([[12.5]])
    """
    return _attend(query, key, value, attn_mask, dropout_p, is_causal, scale, rng).output


def attention_frames(query: ArrayLike, key: ArrayLike, value: ArrayLike, attn_mask: ArrayLike | None = None,
                     dropout_p: float = 0.0, is_causal: bool = False, *, scale: float | None = None,
                     rng: np.random.Generator | int | None = None) -> AttentionTrace:
    """:func:`scaled_dot_product_attention` step by step: each score, each row's softmax, each output row.

    Takes the arguments of :func:`scaled_dot_product_attention`; returns an :class:`AttentionTrace`.
    """
    return AttentionTrace(_attend(query, key, value, attn_mask, dropout_p, is_causal, scale, rng))


def scaled_dot_product_attention_naive(query: np.ndarray, key: np.ndarray, value: np.ndarray,
                                       allowed: np.ndarray | None = None, added: np.ndarray | None = None,
                                       scale: float | None = None, keep: np.ndarray | None = None) -> np.ndarray:
    """The definition as plain loops, for one item: ``query (L, E)``, ``key (S, E)``, ``value (S, Ev)``.

    ``allowed (L, S)``: False where masked; ``added (L, S)``: a float mask's finite values; ``keep (L, S)``: the
    dropout's ``kept / (1 − p)`` factor of each weight. Returns ``(L, Ev)``.
    """
    n_queries, width = query.shape
    n_keys, out_width = value.shape
    factor = 1.0 / math.sqrt(width) if scale is None else scale
    out = np.zeros((n_queries, out_width))
    for i in range(n_queries):
        scores = []
        for j in range(n_keys):
            if allowed is not None and not allowed[i, j]:
                scores.append(None)
                continue
            s = sum(query[i, e] * key[j, e] for e in range(width)) * factor
            scores.append(s + (0.0 if added is None else added[i, j]))
        taking_part = [s for s in scores if s is not None]
        if not taking_part:
            continue  # every key masked: torch's weights are 0, so is the output row
        top = max(taking_part)
        exps = [0.0 if s is None else math.exp(s - top) for s in scores]
        total = sum(exps)
        for j in range(n_keys):
            weight = exps[j] / total * (1.0 if keep is None else keep[i, j])
            for c in range(out_width):
                out[i, c] += weight * value[j, c]
    return out


# -- frames ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AttentionFrame:
    """One step of attention: a score, the softmax of a row of scores, or an output row.

    Attributes
    ----------
    index : int
        Position in the trace.
    phase : {'score', 'softmax', 'output'}
    batch : tuple of int
        The batch item (``()`` without batch axes).
    row : int
        ``i``, the query.
    col : int or None
        ``j``, the key of a score frame; else None.
    q, k : ndarray or None
        A score frame's ``q_i`` and ``k_j``, shape ``(E,)``.
    scores : ndarray or None
        A softmax frame's row of scores ``s[i, :]`` (``-inf`` where masked).
    weights : ndarray or None
        A softmax frame's ``a[i, :]``; an output frame's weights the values are averaged with (``ã[i, :]``).
    values : ndarray or None
        An output frame's ``V``, shape ``(S, Ev)``.
    masked : bool or ndarray of bool
        A score frame: whether the pair is masked; else the row's masked keys.
    result : float or ndarray
        ``s[i, j]`` (``-inf`` when masked), ``a[i, :]``, or ``out[i, :]``.
    narration : str
    question : Ask or None
    """

    index: int
    phase: str
    batch: tuple[int, ...]
    row: int
    col: int | None
    q: np.ndarray | None
    k: np.ndarray | None
    scores: np.ndarray | None
    weights: np.ndarray | None
    values: np.ndarray | None
    masked: bool | np.ndarray
    result: float | np.ndarray
    narration: str
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"AttentionFrame({self.index}, {self.phase}: {self.narration})"


def _index(symbol: str, *parts) -> str:
    return f"{symbol}[{','.join(str(p) for p in parts)}]"


def _own(batch: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The batch item ``batch`` (of the broadcast batch) in an input whose batch axes are ``shape``: the axes it
    lacks dropped, those it is broadcast along (size 1) at 0."""
    lead = batch[len(batch) - len(shape):] if shape else ()
    return tuple(0 if n == 1 else i for n, i in zip(shape, lead))


class AttentionTrace(HasBackward, Trace):
    """The frames of scaled dot-product attention: for each batch item and query ``i``, its ``S`` scores, the
    softmax of its row, its output row.

    Frame ``k`` is, with ``b, r = divmod(k, L × (S + 2))`` and ``i, t = divmod(r, S + 2)``: batch item ``b``, query
    ``i``; score ``s[i, t]`` for ``t < S``, the softmax for ``t = S``, the output row for ``t = S + 1``. Everything
    is computed once, vectorized, when the trace is built; a frame is read in O(E + S × Ev).

    Attributes
    ----------
    layer : AttentionCall
        The settings (``repr`` as the call).
    query, key, value : ndarray
        The inputs as given (checked float64 copies); ``input`` is ``query``.
    output : ndarray, shape (..., L, Ev)
    batch_shape : tuple of int
        The broadcast batch axes; ``n_batch`` items of ``L`` queries and ``S`` keys, widths ``E`` and ``Ev``.
    scale : float
        The number the dot products are multiplied by (``1/√E`` by default).
    scores : ndarray, shape (..., L, S)
        ``q_i·k_j × scale`` (+ a float mask), ``-inf`` where masked.
    allowed : ndarray of bool, shape (..., L, S)
        True where the pair takes part.
    weights : ndarray, shape (..., L, S)
        The softmax of each row of scores.
    kept : ndarray of bool, shape (..., L, S), or None
        The dropout's mask (None without dropout); ``dropped_weights`` the weights after it.
    score_frame : ndarray of int, shape (..., L, S); softmax_frame, output_frame : shape (..., L)
        The frame at which each is computed.
    """

    def __init__(self, computed: _Pass) -> None:
        c = computed
        self.layer = c.call
        self._pass = c
        self.query, self.key, self.value = c.query.copy(), c.key.copy(), c.value.copy()
        self.input, self.output = self.query, c.output
        self.batch_shape = c.batch
        self.n_batch, self.L, self.S = c.q.shape[0], c.q.shape[1], c.k.shape[1]
        self.E, self.Ev = c.q.shape[2], c.v.shape[2]
        self.scale = c.scale
        self.n_frames = self.n_batch * self.L * (self.S + 2)
        full = (*self.batch_shape, self.L, self.S)
        self.scores, self.allowed = c.scores.reshape(full), c.allowed.reshape(full)
        self.weights, self.dropped_weights = c.weights.reshape(full), c.dropped.reshape(full)
        self.kept = None if c.kept is None else c.kept.reshape(full)
        per = self.L * (self.S + 2)
        starts = (np.arange(self.n_batch)[:, None] * per + np.arange(self.L)[None, :] * (self.S + 2))
        self.score_frame = (starts[..., None] + np.arange(self.S)).reshape(full)
        self.softmax_frame = (starts + self.S).reshape(*self.batch_shape, self.L)
        self.output_frame = (starts + self.S + 1).reshape(*self.batch_shape, self.L)
        self._factor = Factor.divided_by_root(self.E) if c.call.scale is None else Factor.times(c.scale, "scale")
        for array in (self.query, self.key, self.value, self.output, self.scores, self.allowed, self.weights,
                      self.dropped_weights, self.kept, self.score_frame, self.softmax_frame, self.output_frame,
                      c.q, c.k, c.v, c.dots, c.raw, c.allowed, c.scores, c.row_max, c.exps, c.totals, c.weights,
                      c.kept, c.dropped, c.out):
            if array is not None:
                array.flags.writeable = False

    def batch_index(self, b: int) -> tuple[int, ...]:
        """Batch item ``b``'s index in the batch axes."""
        return tuple(int(i) for i in np.unravel_index(b, self.batch_shape)) if self.batch_shape else ()

    def phase_of(self, k: int) -> str:
        """The phase of frame ``k`` (non-negative)."""
        t = k % (self.S + 2)
        return PHASES[0] if t < self.S else PHASES[t - self.S + 1]

    def _mask_cell(self, batch: tuple[int, ...], i: int, j: int) -> tuple[int, ...]:
        """The index of the pair in attn_mask as given (the axes it is broadcast along read index 0)."""
        shape = self._pass.mask.shape
        full = (*batch, i, j)[len(batch) + 2 - len(shape):]
        return tuple(0 if n == 1 else p for n, p in zip(shape, full))

    def _mask_index(self, batch: tuple[int, ...], i: int, j: int) -> str:
        return ",".join(map(str, self._mask_cell(batch, i, j)))

    def _masked_why(self, batch: tuple[int, ...], i: int, j: int) -> str:
        kind = self.layer.mask
        if kind == "bool":
            return f"attn_mask[{self._mask_index(batch, i, j)}] = False"
        if kind == "float":
            return f"attn_mask[{self._mask_index(batch, i, j)}] = -inf"
        return f"is_causal, and key {j} comes after query {i}"

    def _frame(self, k: int) -> AttentionFrame:
        b, local = divmod(k, self.L * (self.S + 2))
        i, t = divmod(local, self.S + 2)
        batch = self.batch_index(b)
        if t < self.S:
            return self._score_frame(k, b, batch, i, t)
        if t == self.S:
            return self._softmax_frame(k, b, batch, i)
        return self._output_frame(k, b, batch, i)

    def _score_frame(self, k: int, b: int, batch: tuple, i: int, j: int) -> AttentionFrame:
        c = self._pass
        q, key = c.q[b, i], c.k[b, j]
        allowed = bool(c.allowed[b, i, j])
        add, add_symbol = None, ""
        if c.call.mask == "float" and allowed:
            add = float(c.mask[self._mask_cell(batch, i, j)])
            add_symbol = f" + attn_mask[{self._mask_index(batch, i, j)}]"
        # raw: the score as computed, also where masked (a masked pair's mask is not added to it)
        q_at, k_at = _own(batch, self.query.shape[:-2]), _own(batch, self.key.shape[:-2])
        symbolic = f"{_index('q', *q_at, i)}·{_index('k', *k_at, j)}"
        narration, question = narrate_score(_index("s", *batch, i, j), symbolic, q, key, self._factor,
                                            float(c.raw[b, i, j]), add, add_symbol,
                                            None if allowed else self._masked_why(batch, i, j))
        return AttentionFrame(k, "score", batch, i, j, q, key, None, None, None, not allowed,
                              float(c.scores[b, i, j]), narration, question)

    def _softmax_frame(self, k: int, b: int, batch: tuple, i: int) -> AttentionFrame:
        c = self._pass
        drop = c.kept is not None
        narration, question = narrate_softmax(
            _index("a", *batch, i, ":"), _index("s", *batch, i, ":"), c.scores[b, i], c.allowed[b, i], c.exps[b, i],
            float(c.totals[b, i]), c.weights[b, i], c.kept[b, i] if drop else None, c.drop_scale,
            c.dropped[b, i] if drop else None, c.call.dropout_p)
        return AttentionFrame(k, "softmax", batch, i, None, None, None, c.scores[b, i], c.weights[b, i], None,
                              ~c.allowed[b, i], c.weights[b, i], narration, question)

    def _output_frame(self, k: int, b: int, batch: tuple, i: int) -> AttentionFrame:
        c = self._pass
        a = "ã" if c.kept is not None else "a"
        v_at = _own(batch, self.value.shape[:-2])
        symbolic = f"Σ_j {a}[{','.join(map(str, (*batch, i)))},j] × {_index('v', *v_at, 'j')}"
        note = "" if c.allowed[b, i].any() else "every key is masked, so the weights are all 0: "
        narration, question = narrate_output(_index("out", *batch, i, ":"), symbolic, c.dropped[b, i], c.v[b],
                                             c.out[b, i], note)
        return AttentionFrame(k, "output", batch, i, None, None, None, None, c.dropped[b, i], c.v[b],
                              ~c.allowed[b, i], c.out[b, i], narration, question)

    def scene(self) -> Scene:
        """Q, K, the scores, the weights, V and the output, one batch item per page, with each frame's cells lit
        (see :mod:`~layerviz.layers._attention_scene`)."""
        return attention_scene(self)


# -- backward ----------------------------------------------------------------------------------------
#
# out = Ã V, Ã = A ⊙ kept / (1 − p) (Ã = A without dropout), A = softmax(S) by rows, S = Q Kᵀ × scale + mask:
#     dV = Ãᵀ · dO                      dA = (dO · Vᵀ) ⊙ kept / (1 − p)
#     dS = A ⊙ (dA − rowsum(dA ⊙ A))    (softmax's Jacobian-vector product; 0 where masked, as A is)
#     dQ = dS · K × scale               dK = dSᵀ · Q × scale
# each summed over the batch axes its input was broadcast along.


def attention_backward_naive(query: np.ndarray, key: np.ndarray, value: np.ndarray, weights: np.ndarray,
                             grad_output: np.ndarray, scale: float, keep: np.ndarray | None = None
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The backward pass as plain loops, for one item: ``(dq, dk, dv)`` from the forward's ``weights (L, S)``
    (the softmax's ``a``) and the dropout's ``keep`` factor ``(L, S)`` (None: 1)."""
    n_queries, width = query.shape
    n_keys, out_width = value.shape
    dq, dk, dv = np.zeros(query.shape), np.zeros(key.shape), np.zeros(value.shape)
    for i in range(n_queries):
        da = []
        for j in range(n_keys):
            factor = 1.0 if keep is None else keep[i, j]
            for c in range(out_width):
                dv[j, c] += weights[i, j] * factor * grad_output[i, c]
            da.append(sum(grad_output[i, c] * value[j, c] for c in range(out_width)) * factor)
        dot = sum(weights[i, j] * da[j] for j in range(n_keys))
        for j in range(n_keys):
            ds = weights[i, j] * (da[j] - dot)
            for e in range(width):
                dq[i, e] += ds * key[j, e] * scale
                dk[j, e] += ds * query[i, e] * scale
    return dq, dk, dv


def _owners(batch: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """For each flat batch item, the flat index of the batch item of an input of ``shape`` (its batch axes) it
    reads: broadcast axes read index 0."""
    n = int(np.prod(batch, dtype=np.int64))
    if not shape:
        return np.zeros(n, dtype=np.int64)
    grid = np.indices(batch).reshape(len(batch), -1)[len(batch) - len(shape):]
    own = np.where(np.array(shape)[:, None] == 1, 0, grid)
    return np.ravel_multi_index(tuple(own), shape).astype(np.int64)


def _unbroadcast(full: np.ndarray, batch: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """``full: (B, rows, cols)`` summed back onto an input of ``shape``."""
    out = full.reshape(*batch, *full.shape[1:])
    extra = len(batch) - (len(shape) - 2)
    if extra:
        out = out.sum(axis=tuple(range(extra)))
    axes = tuple(a for a, (n, m) in enumerate(zip(shape[:-2], out.shape[:-2])) if n == 1 and m != 1)
    return np.ascontiguousarray(out.sum(axis=axes, keepdims=True) if axes else out)


def _attention_backward(self: AttentionTrace, g: np.ndarray) -> BackwardTrace:
    c = self._pass
    B, L, S, Ev = self.n_batch, self.L, self.S, self.Ev
    g3 = g.reshape(B, L, Ev)
    drop = c.kept is not None
    keep = np.where(c.kept, c.drop_scale, 0.0) if drop else None
    dv3 = c.dropped.transpose(0, 2, 1) @ g3
    da_dropped = g3 @ c.v.transpose(0, 2, 1)
    da3 = da_dropped * keep if drop else da_dropped
    dot = (c.weights * da3).sum(axis=-1)
    ds3 = c.weights * (da3 - dot[..., None])
    dq3 = ds3 @ c.k * c.scale
    dk3 = ds3.transpose(0, 2, 1) @ c.q * c.scale
    batch = self.batch_shape
    dq = _unbroadcast(dq3, batch, self.query.shape)
    dk = _unbroadcast(dk3, batch, self.key.shape)
    dv = _unbroadcast(dv3, batch, self.value.shape)
    full = (*batch, L, S)
    a_name = "ã" if drop else "a"
    qb, kb, vb = self.query.shape[:-2], self.key.shape[:-2], self.value.shape[:-2]

    def members(shape: tuple[int, ...], index: tuple[int, ...]) -> np.ndarray:
        """The flat batch items that read the input's batch item ``index``."""
        if not shape:
            return np.arange(B)
        return np.flatnonzero(_owners(batch, shape) == np.ravel_multi_index(index, shape))

    def where(bs: np.ndarray, *rest, shape: tuple[int, ...] | None = None) -> str:
        """The index in a tensor of batch axes ``shape`` (the output's when None) of batch item ``bs[0]``; ``b``
        for a sum over several items."""
        if len(bs) > 1:
            return ",".join(["b", *map(str, rest)])
        lead = _own(self.batch_index(int(bs[0])), batch if shape is None else shape)
        return ",".join(map(str, (*lead, *rest)))

    def summed(bs: np.ndarray) -> str:
        return f"summed over the {len(bs)} batch items that share it: " if len(bs) > 1 else ""

    def explain_v(index):
        bs, (j, col) = members(vb, index[:-2]), index[-2:]
        a, d = c.dropped[bs, :, j].ravel(), g3[bs, :, col].ravel()
        text, ask = sum_of_products(grad_name("dv", index), a, d, float(dv[index]),
                                    before=f"{a_name} × dout over the {L} queries, {summed(bs)}"
                                           f"Σ_i {a_name}[{where(bs, 'i', j)}] × dout[{where(bs, 'i', col)}]: ")
        return [*a, *d], text, ask

    def explain_a(index):
        b = int(np.ravel_multi_index(index[:-2], batch)) if batch else 0
        i, j = index[-2:]
        label, symbolic = grad_name("da", index), f"dout[{where([b], i)}]·v[{where([b], j, shape=vb)}]"
        if drop:
            factor = Factor.times(float(keep[b, i, j]), "kept × 1/(1 − p)")
            text, ask = scaled_sum_of_products(label, symbolic, g3[b, i], c.v[b, j], factor, float(da3[b, i, j]))
        else:
            text, ask = sum_of_products(label, g3[b, i], c.v[b, j], float(da3[b, i, j]),
                                        before=f"{label} = {symbolic}: ")
        return [*g3[b, i], *c.v[b, j]], text, ask

    def explain_s(index):
        b = int(np.ravel_multi_index(index[:-2], batch)) if batch else 0
        i, j = index[-2:]
        text, ask = narrate_softmax_grad(grad_name("ds", index), c.weights[b, i], da3[b, i], j, float(ds3[b, i, j]))
        return [*c.weights[b, i], *da3[b, i]], text, ask

    def explain_q(index):
        bs, (i, e) = members(qb, index[:-2]), index[-2:]
        a, kk = ds3[bs, i, :].ravel(), c.k[bs, :, e].ravel()
        symbolic = f"ds[{where(bs, i, ':')}]·k[{where(bs, ':', e, shape=kb)}]"
        text, ask = scaled_sum_of_products(grad_name("dq", index), symbolic, a, kk, self._factor, float(dq[index]),
                                           before=summed(bs))
        return [*a, *kk], text, ask

    def explain_k(index):
        bs, (j, e) = members(kb, index[:-2]), index[-2:]
        a, qq = ds3[bs, :, j].ravel(), c.q[bs, :, e].ravel()
        symbolic = f"ds[{where(bs, ':', j)}]·q[{where(bs, ':', e, shape=qb)}]"
        text, ask = scaled_sum_of_products(grad_name("dk", index), symbolic, a, qq, self._factor, float(dk[index]),
                                           before=summed(bs))
        return [*a, *qq], text, ask

    scale = "/ √E" if c.call.scale is None else "× scale"
    dropout = " ⊙ kept / (1 − p)" if drop else ""
    sections = [
        Section("value", "dv", f"dL/dV = {a_name}ᵀ · dout", dv, explain_v),
        Section("weights", "da", f"dL/da = dout · Vᵀ{dropout}", da3.reshape(full), explain_a),
        Section("scores", "ds", "dL/ds = a ⊙ (da − Σ a ⊙ da)", ds3.reshape(full), explain_s),
        Section("query", "dq", f"dL/dQ = ds · K {scale}", dq, explain_q),
        Section("key", "dk", f"dL/dK = dsᵀ · Q {scale}", dk, explain_k),
    ]
    return BackwardTrace(self, g, sections, {"query": dq, "key": dk, "value": dv}, output_key="query")


AttentionTrace._backward = _attention_backward
