"""Multi-head attention: the inputs projected into ``num_heads`` smaller queries, keys and values, each head's
scaled dot-product attention, the heads side by side, projected out.

For ``query: (L, N, E)``, ``key: (S, N, kdim)``, ``value: (S, N, vdim)`` (``(N, L, E)``... with ``batch_first``;
``(L, E)``... for one sequence), ``E = embed_dim``, ``H = num_heads`` and ``hd = E / H``::

    q = query · W_qᵀ + b_q      k = key · W_kᵀ + b_k      v = value · W_vᵀ + b_v          (each (…, E))
    (W_q; W_k; W_v) = in_proj_weight (3E, E) when kdim = vdim = E, else q_proj_weight (E, E),
    k_proj_weight (E, kdim), v_proj_weight (E, vdim); (b_q; b_k; b_v) = in_proj_bias (3E,)
    add_bias_kv:   k and v get one more row, bias_k and bias_v (1, 1, E)    (S + 1 keys)
    head h takes the features h·hd … (h+1)·hd − 1 of q, k, v; add_zero_attn: one more key and value of zeros
    head_h = scaled_dot_product_attention(q_h, k_h, v_h, mask)                (scale 1/√hd)
    out = concat(head_0, …, head_{H−1}) · out_proj.weightᵀ + out_proj.bias     (L, N, E)
    weights: each head's attention weights (N, H, L, S), averaged over the heads (N, L, S) by default

as ``torch.nn.MultiheadAttention`` computes it, with its parameter names and its masks: here a bool mask is True
where a pair is *left out* (the opposite of :func:`~layerviz.scaled_dot_product_attention`'s), a float mask is
added to the scores; ``attn_mask: (L, S)`` or ``(N·H, L, S)``, ``key_padding_mask: (N, S)`` (True: a padding key
every query ignores). ``is_causal`` is torch's hint that ``attn_mask`` is the causal mask: it needs the mask, and,
as in torch, with ``need_weights=False`` and no ``key_padding_mask`` the causal pattern is used in its place.

A query whose every key is masked: torch returns NaN for it with ``need_weights=True`` (a plain softmax) and a
row of zeros through ``out_proj`` with ``need_weights=False`` (its scaled dot-product attention's safe softmax).
layerviz computes the second, and refuses the first naming the masks (a NaN is no number to show).

Dropout (``dropout > 0``, training mode only) zeroes attention weights with draws from the layer's ``rng``; the
weights returned are those after dropout, as torch's.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks
from layerviz.layers._module import Module, Setting
from layerviz.layers.attention import _attend, scaled_dot_product_attention_naive
from layerviz.layers.linear import Linear


def _probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _dim(name: str, value: object, default: int) -> int:
    return default if value is None else _checks.positive_int(name, value)


def _xavier_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """torch's ``xavier_uniform_``: uniform in ``±√(6 / (fan_in + fan_out))``, for a ``(fan_out, fan_in)`` matrix."""
    bound = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-bound, bound, shape)


class MultiheadAttention(Module):
    """Multi-head attention with ``torch.nn.MultiheadAttention``'s arguments and parameter names.

    The formulas are in the module docstring.

    Parameters
    ----------
    embed_dim : int
        ``E``, the queries' width and the output's.
    num_heads : int
        ``H``; ``embed_dim`` must be a multiple of it (each head has ``E / H`` features).
    dropout : float, default 0.0
        Probability of zeroing an attention weight in training mode.
    bias : bool, default True
        ``in_proj_bias`` and ``out_proj.bias``.
    add_bias_kv : bool, default False
        ``bias_k`` and ``bias_v``, one more key and value row appended to every sequence.
    add_zero_attn : bool, default False
        One more key and value of zeros appended in every head.
    kdim, vdim : int, optional
        The key's and the value's width (``embed_dim`` when None); when either differs, the projections are
        ``q_proj_weight``, ``k_proj_weight`` and ``v_proj_weight`` instead of ``in_proj_weight``.
    batch_first : bool, default False
        Batched inputs as ``(N, L, E)`` rather than ``(L, N, E)``.
    rng : numpy.random.Generator or int, optional
        Draws the initial weights (torch's rules: Xavier-uniform projections, zero biases, ``out_proj`` as a
        ``Linear``, Xavier-normal ``bias_k``, ``bias_v``) and the dropout masks.

    Attributes
    ----------
    in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias, bias_k, bias_v : ndarray or None
    out_proj : Linear
        ``out_proj.weight (E, E)``, ``out_proj.bias (E,)`` (None without ``bias``).
    head_dim : int
    training : bool

    Examples
    --------
    >>> mha = MultiheadAttention(4, 2, rng=0)
    >>> x = np.ones((3, 4))                       # one sequence of 3 tokens
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    ((3, 4), (3, 3))
    """

    embed_dim = Setting(_checks.positive_int)
    num_heads = Setting(_checks.positive_int)
    dropout = Setting(_probability)
    add_zero_attn = Setting(_checks.flag)
    batch_first = Setting(_checks.flag)

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, *,
                 rng: np.random.Generator | int | None = None) -> None:
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self._check_heads()
        self.dropout = dropout
        self.add_zero_attn = add_zero_attn
        self.batch_first = batch_first
        self._kdim, self._vdim = _dim("kdim", kdim, self.embed_dim), _dim("vdim", vdim, self.embed_dim)
        self._bias = _checks.flag("bias", bias)
        self._bias_kv = _checks.flag("add_bias_kv", add_bias_kv)
        self.rng = _checks.generator("rng", rng)
        E = self.embed_dim
        self._params: dict[str, np.ndarray | None] = dict.fromkeys(self._names(), None)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _xavier_uniform(self.rng, (3 * E, E))
        else:
            self.q_proj_weight = _xavier_uniform(self.rng, (E, E))
            self.k_proj_weight = _xavier_uniform(self.rng, (E, self.kdim))
            self.v_proj_weight = _xavier_uniform(self.rng, (E, self.vdim))
        if self._bias:
            self.in_proj_bias = np.zeros(3 * E)
        self.out_proj = Linear(E, E, bias=self._bias, rng=self.rng)
        if self._bias:
            self.out_proj.bias = np.zeros(E)
        if self._bias_kv:
            std = np.sqrt(2.0 / (E + E))  # xavier_normal_ of (1, 1, E): fan_in = fan_out = E
            self.bias_k = self.rng.normal(0.0, std, (1, 1, E))
            self.bias_v = self.rng.normal(0.0, std, (1, 1, E))

    # -- parameters ------------------------------------------------------------------------------

    @property
    def kdim(self) -> int:
        return self._kdim

    @property
    def vdim(self) -> int:
        return self._vdim

    @property
    def _qkv_same_embed_dim(self) -> bool:
        return self.kdim == self.embed_dim and self.vdim == self.embed_dim

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    def _names(self) -> tuple[str, ...]:
        """The parameters, in torch's ``named_parameters()`` order."""
        proj = ("in_proj_weight",) if self._qkv_same_embed_dim else ("q_proj_weight", "k_proj_weight",
                                                                      "v_proj_weight")
        return (*proj, *(("in_proj_bias",) if self._bias else ()), *(("bias_k", "bias_v") if self._bias_kv else ()))

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        E = self.embed_dim
        return {"in_proj_weight": (3 * E, E), "q_proj_weight": (E, E), "k_proj_weight": (E, self.kdim),
                "v_proj_weight": (E, self.vdim), "in_proj_bias": (3 * E,), "bias_k": (1, 1, E), "bias_v": (1, 1, E)}

    def __getattr__(self, name: str):
        params = self.__dict__.get("_params")
        if params is not None and name in self._shapes():
            return params.get(name)
        raise AttributeError(f"'MultiheadAttention' object has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_params")
        if params is not None and name in self._shapes():
            if name not in params:
                if value is None:
                    return
                why = ("kdim and vdim differ from embed_dim" if name == "in_proj_weight" else
                       "kdim = vdim = embed_dim" if name.endswith("proj_weight") else
                       "bias=False" if name == "in_proj_bias" else "add_bias_kv=False")
                raise ValueError(f"{name} must be None when {why}, got {type(value).__name__}")
            params[name] = _checks.parameter(name, value, self._shapes()[name])
            return
        object.__setattr__(self, name, value)

    def named_parameters(self) -> dict[str, np.ndarray]:
        """Every parameter under torch's ``named_parameters()`` name, in torch's order (``out_proj`` last)."""
        named = {name: self._params[name] for name in self._names()}
        named["out_proj.weight"] = self.out_proj.weight
        if self.out_proj.bias is not None:
            named["out_proj.bias"] = self.out_proj.bias
        return named

    @classmethod
    def _from_torch(cls, module) -> MultiheadAttention:
        """The layer equal to a ``torch.nn.MultiheadAttention``, with copies of its parameters."""
        layer = cls(module.embed_dim, module.num_heads, dropout=module.dropout, bias=module.in_proj_bias is not None,
                    add_bias_kv=module.bias_k is not None, add_zero_attn=module.add_zero_attn, kdim=module.kdim,
                    vdim=module.vdim, batch_first=module.batch_first)
        for name in layer._names():
            setattr(layer, name, _checks.torch_array(getattr(module, name)))
        layer.out_proj.weight = _checks.torch_array(module.out_proj.weight)
        if module.out_proj.bias is not None:
            layer.out_proj.bias = _checks.torch_array(module.out_proj.bias)
        layer.training = module.training
        return layer

    def _check_heads(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ValueError(f"num_heads must divide embed_dim (each head takes embed_dim / num_heads features), got "
                             f"embed_dim={self.embed_dim} and num_heads={self.num_heads}")

    def _tuple_output(self) -> tuple[str, str]:
        return ("(attn_output, attn_output_weights)", "take attn_output, the first")

    # -- the pass --------------------------------------------------------------------------------

    def _check_inputs(self, query, key, value):
        """The three inputs as ``(L, N, width)`` arrays, and whether they were batched."""
        q = _checks.finite_array("query", query, (2, 3), "(L, E) or (L, N, E) (batch_first: (N, L, E))")
        batched = q.ndim == 3
        lead = ("N, S" if self.batch_first else "S, N") if batched else "S"
        k = _checks.finite_array("key", key, (q.ndim,), f"({lead}, kdim), as query has {q.ndim} axes")
        v = _checks.finite_array("value", value, (q.ndim,), f"({lead}, vdim), as query has {q.ndim} axes")
        given = {"query": q.shape, "key": k.shape, "value": v.shape}
        arrays = [q, k, v]
        if not batched:
            arrays = [a[:, None] for a in arrays]
        elif self.batch_first:
            arrays = [a.transpose(1, 0, 2) for a in arrays]
        q, k, v = arrays
        for name, array, which, width in (("query", q, "embed_dim", self.embed_dim), ("key", k, "kdim", self.kdim),
                                          ("value", v, "vdim", self.vdim)):
            if array.shape[-1] != width:
                raise ValueError(f"{name} must have {which}={width} features on its last axis, got shape "
                                 f"{given[name]}")
            if 0 in array.shape:
                raise ValueError(f"{name} must not be empty, got shape {given[name]}")
        if k.shape[:2] != v.shape[:2]:
            raise ValueError(f"value must have the key's sequence length and batch size, got key {given['key']} and "
                             f"value {given['value']}")
        if k.shape[1] != q.shape[1]:
            raise ValueError(f"key must have the query's batch size {q.shape[1]}, got shape {given['key']}")
        return q, k, v, batched

    def _masks(self, attn_mask, key_padding_mask, L: int, N: int, S: int, batched: bool):
        """Both masks as float masks (-inf: left out), ``(1 or N·H, L, S)`` and ``(N, S)``, or None."""
        H = self.num_heads

        def canonical(name, mask, shapes):
            if mask is None:
                return None
            array = np.asarray(_checks.plain(mask))
            if array.dtype == bool:
                array = np.where(array, -np.inf, 0.0)
            elif array.dtype.kind == "f":
                array = array.astype(np.float64)
                if np.isnan(array).any() or (array == np.inf).any():
                    raise ValueError(f"{name} must not hold NaN or +inf (torch returns NaN there)")
            else:
                raise ValueError(f"{name} must be bool (True: left out) or float (added to the scores), got dtype "
                                 f"{array.dtype}")
            if array.shape not in shapes:
                raise ValueError(f"{name} must have shape {' or '.join(map(str, shapes))}, got shape {array.shape}")
            return array

        attn = canonical("attn_mask", attn_mask, [(L, S), (N * H, L, S) if batched else (H, L, S)])
        padding = canonical("key_padding_mask", key_padding_mask, [(N, S) if batched else (S,)])
        if attn is not None and attn.ndim == 2:
            attn = attn[None]
        if padding is not None:
            padding = padding.reshape(N, S)
        return attn, padding

    def _compute(self, query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights,
                 is_causal):
        self._check_heads()
        need_weights = _checks.flag("need_weights", need_weights)
        average = _checks.flag("average_attn_weights", average_attn_weights)
        is_causal = _checks.flag("is_causal", is_causal)
        q_in, k_in, v_in, batched = self._check_inputs(query, key, value)
        L, N, E = q_in.shape
        S = k_in.shape[0]
        attn, padding = self._masks(attn_mask, key_padding_mask, L, N, S, batched)
        if is_causal and attn is None:
            raise ValueError("attn_mask must be given with is_causal=True: in torch's MultiheadAttention is_causal is "
                             "a hint that attn_mask is the causal mask, not a mask of its own")
        causal = is_causal and padding is None and not need_weights  # torch's SDPA path: its own causal mask
        if causal:
            attn = None
        H, hd = self.num_heads, self.head_dim
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = np.split(self.in_proj_weight, 3)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b_q, b_k, b_v = np.split(self.in_proj_bias, 3) if self.in_proj_bias is not None else (0.0, 0.0, 0.0)
        q, k, v = q_in @ w_q.T + b_q, k_in @ w_k.T + b_k, v_in @ w_v.T + b_v
        if self.bias_k is not None:
            k = np.concatenate([k, np.broadcast_to(self.bias_k, (1, N, E))])
            v = np.concatenate([v, np.broadcast_to(self.bias_v, (1, N, E))])
        # (L, N, E) -> (N, H, L, hd): head h takes features h·hd … (h+1)·hd − 1
        q4, k4, v4 = (a.reshape(a.shape[0], N, H, hd).transpose(1, 2, 0, 3) for a in (q, k, v))
        if self.add_zero_attn:
            k4 = np.concatenate([k4, np.zeros((N, H, 1, hd))], axis=2)
            v4 = np.concatenate([v4, np.zeros((N, H, 1, hd))], axis=2)
        keys = k4.shape[2]
        mask = None
        if attn is not None:
            mask = np.pad(attn, ((0, 0), (0, 0), (0, keys - S)))
            mask = mask[None] if mask.shape[0] == 1 else mask.reshape(N, H, L, keys)
        if padding is not None:
            pad = np.pad(padding, ((0, 0), (0, keys - S)))[:, None, None, :]
            mask = pad if mask is None else mask + pad
        if need_weights and mask is not None:
            left_out = np.isneginf(np.broadcast_to(mask, (N, H, L, keys))).all(axis=-1)
            if left_out.any():
                n, h, i = (int(x) for x in np.argwhere(left_out)[0])
                raise ValueError(f"attn_mask and key_padding_mask must leave each query a key, got every key masked "
                                 f"for query {i} of batch item {n} (head {h}): torch returns NaN there with "
                                 f"need_weights=True (with need_weights=False, a row of zeros before out_proj)")
        p = self.dropout if self.training else 0.0
        computed = _attend(q4, k4, v4, mask, p, causal, None, self.rng if p > 0 else None)
        heads = computed.output  # (N, H, L, hd)
        joined = heads.transpose(2, 0, 1, 3).reshape(L, N, E)
        out = self.out_proj(joined)
        weights = computed.dropped.reshape(N, H, L, keys) if need_weights else None
        if weights is not None and average:
            weights = weights.mean(axis=1)
        if not batched:
            out = out[:, 0]
            weights = None if weights is None else weights[0]
        elif self.batch_first:
            out = out.transpose(1, 0, 2)
        return out, weights

    def forward(self, query: ArrayLike, key: ArrayLike, value: ArrayLike, key_padding_mask: ArrayLike | None = None,
                need_weights: bool = True, attn_mask: ArrayLike | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """``(attn_output, attn_output_weights)`` as torch's ``forward`` returns them (weights None without
        ``need_weights``): ``(L, N, E)`` and ``(N, L, S)`` (``(N, H, L, S)`` with ``average_attn_weights=False``)."""
        return self._compute(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights,
                             is_causal)

    __call__ = forward

    def __repr__(self) -> str:
        return (f"MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features={self.embed_dim}, "
                f"out_features={self.embed_dim}, bias={self.out_proj.bias is not None})\n)")


def multihead_attention_naive(layer: MultiheadAttention, query: np.ndarray, key: np.ndarray, value: np.ndarray
                              ) -> np.ndarray:
    """The definition as loops over the batch and the heads, without masks or dropout, for ``(L, N, E)`` inputs
    (``batch_first=False``): each head's attention by
    :func:`~layerviz.layers.attention.scaled_dot_product_attention_naive`."""
    E, H, hd = layer.embed_dim, layer.num_heads, layer.head_dim
    if layer._qkv_same_embed_dim:
        w_q, w_k, w_v = np.split(layer.in_proj_weight, 3)
    else:
        w_q, w_k, w_v = layer.q_proj_weight, layer.k_proj_weight, layer.v_proj_weight
    b_q, b_k, b_v = (np.split(layer.in_proj_bias, 3) if layer.in_proj_bias is not None else (np.zeros(E),) * 3)
    L, N, _ = query.shape
    out = np.zeros((L, N, E))
    for n in range(N):
        q, k, v = query[:, n] @ w_q.T + b_q, key[:, n] @ w_k.T + b_k, value[:, n] @ w_v.T + b_v
        if layer.bias_k is not None:
            k, v = np.vstack([k, layer.bias_k[0]]), np.vstack([v, layer.bias_v[0]])
        joined = np.zeros((L, E))
        for h in range(H):
            cols = slice(h * hd, (h + 1) * hd)
            kh, vh = k[:, cols], v[:, cols]
            if layer.add_zero_attn:
                kh, vh = np.vstack([kh, np.zeros((1, hd))]), np.vstack([vh, np.zeros((1, hd))])
            joined[:, cols] = scaled_dot_product_attention_naive(q[:, cols], kh, vh)
        out[:, n] = joined @ layer.out_proj.weight.T + (0.0 if layer.out_proj.bias is None else layer.out_proj.bias)
    return out
