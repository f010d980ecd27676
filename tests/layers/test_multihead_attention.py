"""MultiheadAttention against torch.nn.MultiheadAttention (float64, the same parameters), plain loops, its
parameters under torch's names, its masks, and its checks."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz.layers.multihead_attention import MultiheadAttention, multihead_attention_naive


@st.composite
def configs(draw):
    heads = draw(st.integers(1, 3))
    return dict(embed_dim=heads * draw(st.integers(1, 2)), num_heads=heads, bias=draw(st.booleans()),
                add_bias_kv=draw(st.booleans()), add_zero_attn=draw(st.booleans()),
                kdim=draw(st.sampled_from([None, 1, 3])), vdim=draw(st.sampled_from([None, 2])),
                batch_first=draw(st.booleans()), batched=draw(st.booleans()), L=draw(st.integers(1, 3)),
                S=draw(st.integers(1, 3)), N=draw(st.integers(1, 2)),
                masks=draw(st.sampled_from(["none", "attn bool", "attn float", "attn 3d", "padding", "both"])),
                need_weights=draw(st.booleans()), average=draw(st.booleans()), causal=draw(st.booleans()),
                seed=draw(st.integers(0, 2**31 - 1)))


def make(cfg):
    """A torch module with random parameters (float64), the layerviz layer from it, inputs and torch's kwargs."""
    torch.manual_seed(cfg["seed"] % 10_000)
    module = torch.nn.MultiheadAttention(cfg["embed_dim"], cfg["num_heads"], bias=cfg["bias"],
                                         add_bias_kv=cfg["add_bias_kv"], add_zero_attn=cfg["add_zero_attn"],
                                         kdim=cfg["kdim"], vdim=cfg["vdim"], batch_first=cfg["batch_first"]).double()
    with torch.no_grad():
        for p in module.parameters():
            p.normal_()
    rng = np.random.default_rng(cfg["seed"])
    E, L, S, N = cfg["embed_dim"], cfg["L"], cfg["S"], cfg["N"]

    def shape(length, width):
        if not cfg["batched"]:
            return (length, width)
        return (N, length, width) if cfg["batch_first"] else (length, N, width)

    q = rng.standard_normal(shape(L, E))
    k = rng.standard_normal(shape(S, cfg["kdim"] or E))
    v = rng.standard_normal(shape(S, cfg["vdim"] or E))
    kwargs = {"need_weights": cfg["need_weights"], "average_attn_weights": cfg["average"]}
    left_out = rng.random((L, S)) < 0.4
    left_out[:, 0] = False  # every query keeps a key: torch's need_weights=True gives NaN otherwise
    batch = cfg["N"] if cfg["batched"] else 1
    if cfg["masks"] in ("attn bool", "both"):
        kwargs["attn_mask"] = left_out
    elif cfg["masks"] == "attn float":
        kwargs["attn_mask"] = np.where(left_out, -np.inf, rng.normal(0, 1, (L, S)))
    elif cfg["masks"] == "attn 3d":
        kwargs["attn_mask"] = rng.normal(0, 1, (batch * cfg["num_heads"], L, S))
    if cfg["masks"] in ("padding", "both"):
        padding = rng.random((batch, S)) < 0.4
        padding[:, 0] = False
        kwargs["key_padding_mask"] = padding if cfg["batched"] else padding[0]
    if cfg["causal"] and "attn_mask" in kwargs:
        kwargs["is_causal"] = True
    return module, lv.from_torch(module), (q, k, v), kwargs


def torch_forward(module, inputs, kwargs):
    extra = {name: torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value
             for name, value in kwargs.items()}
    with torch.no_grad():
        out, weights = module(*(torch.from_numpy(a) for a in inputs), **extra)
    return out.numpy(), None if weights is None else weights.numpy()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), train=st.booleans())
def test_matches_torch(cfg, train):
    module, layer, inputs, kwargs = make(cfg)
    module.train(train)
    layer.train(train)
    out, weights = layer(*inputs, **kwargs)
    expected, expected_weights = torch_forward(module, inputs, kwargs)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)
    assert (weights is None) == (expected_weights is None)
    if weights is not None:
        np.testing.assert_allclose(weights, expected_weights, rtol=1e-9, atol=1e-12)
    assert list(layer.named_parameters()) == [name for name, _ in module.named_parameters()]
    for name, p in module.named_parameters():
        np.testing.assert_array_equal(layer.named_parameters()[name], p.detach().numpy())
    assert repr(layer) == repr(module)


def test_the_plain_loops_give_the_same():
    rng = np.random.default_rng(0)
    for kwargs in ({}, {"add_bias_kv": True, "add_zero_attn": True}, {"kdim": 3, "vdim": 5, "bias": False}):
        layer = MultiheadAttention(6, 3, rng=1, **kwargs)
        if layer.in_proj_bias is not None:
            layer.in_proj_bias = rng.standard_normal(18)
        q = rng.standard_normal((4, 2, 6))
        k, v = rng.standard_normal((5, 2, layer.kdim)), rng.standard_normal((5, 2, layer.vdim))
        np.testing.assert_allclose(layer(q, k, v)[0], multihead_attention_naive(layer, q, k, v), rtol=1e-12)


def test_one_head_of_width_e_is_attention_between_projections_by_hand():
    # one head, identity projections, no biases: out = softmax(q kᵀ / √E) v, as scaled_dot_product_attention
    layer = MultiheadAttention(2, 1, bias=False)
    layer.in_proj_weight = np.vstack([np.eye(2)] * 3)
    layer.out_proj.weight = np.eye(2)
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    out, weights = layer(x, x, x)
    # scores [[1, 0], [0, 1]] / √2: e^(0.7071) : e^0 = 2.028 : 1, so the weights are 0.67 and 0.33
    expected = 1 / (1 + np.exp(-1 / np.sqrt(2)))
    np.testing.assert_allclose(weights, [[expected, 1 - expected], [1 - expected, expected]], rtol=1e-14)
    np.testing.assert_allclose(out, lv.scaled_dot_product_attention(x, x, x), rtol=1e-14)


def test_its_bool_masks_leave_out_where_true_unlike_scaled_dot_product_attention():
    layer = MultiheadAttention(2, 1, rng=0)
    x = np.random.default_rng(1).standard_normal((3, 2))
    mask = np.array([[False, True, True], [False, False, True], [False, False, False]])  # True: left out
    _, weights = layer(x, x, x, attn_mask=mask)
    assert (weights[mask] == 0).all() and (weights[~mask] > 0).all()
    _, padded = layer(x, x, x, key_padding_mask=np.array([False, False, True]))
    assert (padded[:, 2] == 0).all()


def test_a_query_masked_everywhere():
    module = torch.nn.MultiheadAttention(4, 2).double()
    layer = lv.from_torch(module)
    x = np.random.default_rng(2).standard_normal((3, 4))
    mask = np.zeros((3, 3), dtype=bool)
    mask[1] = True
    # torch: NaN with need_weights=True (a plain softmax), zeros before out_proj with need_weights=False
    assert np.isnan(torch_forward(module, (x, x, x), {"attn_mask": mask})[0][1]).all()
    expected, _ = torch_forward(module, (x, x, x), {"attn_mask": mask, "need_weights": False})
    out, weights = layer(x, x, x, attn_mask=mask, need_weights=False)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out[1], module.out_proj.bias.detach().numpy(), atol=1e-15)
    assert weights is None
    with pytest.raises(ValueError, match=r"must leave each query a key, got every key masked for query 1 of batch "
                                         r"item 0 \(head 0\): torch returns NaN there with need_weights=True"):
        layer(x, x, x, attn_mask=mask)


def test_dropout_in_training_only_with_the_layers_rng():
    x = np.random.default_rng(3).standard_normal((4, 4))
    first = MultiheadAttention(4, 2, dropout=0.5, rng=5)
    second = MultiheadAttention(4, 2, dropout=0.5, rng=5)
    out, weights = first(x, x, x, average_attn_weights=False)
    np.testing.assert_array_equal(out, second(x, x, x)[0])  # the same seed: the same weights and the same masks
    assert ((weights == 0) | (weights > 0)).all() and (weights == 0).any()
    assert np.allclose(first.eval()(x, x, x, average_attn_weights=False)[1].sum(axis=-1), 1.0)


def test_initial_parameters_follow_torchs_rules():
    layer = MultiheadAttention(64, 4, add_bias_kv=True, rng=0)
    bound = np.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ of (3E, E)
    assert np.abs(layer.in_proj_weight).max() <= bound and np.abs(layer.in_proj_weight).max() > 0.95 * bound
    assert (layer.in_proj_bias == 0).all() and (layer.out_proj.bias == 0).all()
    assert np.abs(layer.out_proj.weight).max() <= 1 / 8  # Linear's: uniform in ±1/√in_features
    assert layer.bias_k.shape == (1, 1, 64) and 0.08 < layer.bias_k.std() < 0.18  # xavier_normal_: std 1/√64
    separate = MultiheadAttention(4, 2, kdim=3, vdim=5, rng=0)
    assert separate.in_proj_weight is None and separate.k_proj_weight.shape == (4, 3)
    assert separate.v_proj_weight.shape == (4, 5) and separate.q_proj_weight.shape == (4, 4)
    assert lv.MultiheadAttention is MultiheadAttention


X = np.ones((2, 4))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: MultiheadAttention(4, 3), "num_heads must divide embed_dim"),
    (lambda: MultiheadAttention(0, 1), "embed_dim must be >= 1, got 0"),
    (lambda: MultiheadAttention(4, 2, dropout=2), "dropout must be a number between 0 and 1, got 2"),
    (lambda: MultiheadAttention(4, 2, kdim=0), "kdim must be >= 1, got 0"),
    (lambda: MultiheadAttention(4, 2, bias="yes"), "bias must be True or False"),
    (lambda: MultiheadAttention(4, 2)(np.ones((2, 3)), X, X), "query must have embed_dim=4 features"),
    (lambda: MultiheadAttention(4, 2, kdim=3)(X, X, X), "key must have kdim=3 features"),
    (lambda: MultiheadAttention(4, 2)(X, np.ones((3, 4)), X), "value must have the key's sequence length"),
    (lambda: MultiheadAttention(4, 2)(np.ones((2, 1, 4)), X, X), "key must have shape (S, N, kdim), as query has 3"),
    (lambda: MultiheadAttention(4, 2)(np.ones(4), X, X), "query must have shape (L, E) or (L, N, E)"),
    (lambda: MultiheadAttention(4, 2)(X, X, X, attn_mask=np.ones((2, 3), dtype=bool)),
     "attn_mask must have shape (2, 2) or (2, 2, 2), got shape (2, 3)"),
    (lambda: MultiheadAttention(4, 2)(X, X, X, key_padding_mask=np.ones(3, dtype=bool)),
     "key_padding_mask must have shape (2,), got shape (3,)"),
    (lambda: MultiheadAttention(4, 2)(X, X, X, attn_mask=np.ones((2, 2), dtype=int)), "attn_mask must be bool"),
    (lambda: MultiheadAttention(4, 2)(X, X, X, is_causal=True), "attn_mask must be given with is_causal=True"),
    (lambda: setattr(MultiheadAttention(4, 2), "in_proj_weight", np.ones((4, 4))),
     "in_proj_weight must have shape (12, 4), got shape (4, 4)"),
    (lambda: setattr(MultiheadAttention(4, 2, kdim=3), "in_proj_weight", np.ones((12, 4))),
     "in_proj_weight must be None when kdim and vdim differ from embed_dim"),
    (lambda: setattr(MultiheadAttention(4, 2, bias=False), "in_proj_bias", np.ones(12)),
     "in_proj_bias must be None when bias=False"),
])
def test_bad_arguments_are_refused_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
