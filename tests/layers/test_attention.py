"""Scaled dot-product attention against torch.nn.functional.scaled_dot_product_attention and autograd, by hand, its
checks, its frames and their narrations, its scene, and its backward pass.

The oracles are independent of layerviz: torch in float64 (the output, and ``.grad`` of query, key and value for a
random ``grad_output``), plain loops, numbers worked out by hand, and the narrations redone from their text
(``tests/narration_redo.py``).
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz.layers.attention import (PHASES, AttentionFrame, AttentionTrace, attention_backward_naive,
                                       attention_frames, scaled_dot_product_attention,
                                       scaled_dot_product_attention_naive)
from tests.layers.test_backward import check_frames
from tests.narration_redo import redo
from tests.test_narration import check_question


@st.composite
def configs(draw):
    batch = tuple(draw(st.lists(st.integers(1, 2), min_size=0, max_size=2)))
    L, S, E, Ev = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # key and value may leave out leading batch axes or hold 1 there: they broadcast against the query's
    key_batch = batch[draw(st.integers(0, len(batch))):]
    key_batch = tuple(1 if draw(st.booleans()) else n for n in key_batch)
    mask = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_batch = batch[draw(st.integers(0, len(batch))):]
    mask_shape = draw(st.sampled_from([(*mask_batch, L, S), (L, S), (1, S), (S,)]))
    return dict(batch=batch, key_batch=key_batch, L=L, S=S, E=E, Ev=Ev, mask=mask, mask_shape=mask_shape,
                scale=draw(st.one_of(st.none(), st.floats(-2, 2))), spread=draw(st.sampled_from([0.5, 1.0, 3.0])),
                seed=draw(st.integers(0, 2**31 - 1)))


def make_inputs(cfg):
    """query, key, value and the keyword arguments of one configuration, and a generator for more numbers."""
    rng = np.random.default_rng(cfg["seed"])
    q = rng.normal(0, cfg["spread"], (*cfg["batch"], cfg["L"], cfg["E"]))
    k = rng.normal(0, cfg["spread"], (*cfg["key_batch"], cfg["S"], cfg["E"]))
    v = rng.normal(0, 1, (*cfg["key_batch"], cfg["S"], cfg["Ev"]))
    kwargs = {} if cfg["scale"] is None else {"scale": cfg["scale"]}
    if cfg["mask"] == "bool":
        kwargs["attn_mask"] = rng.random(cfg["mask_shape"]) < 0.6  # rows masked everywhere happen too
    elif cfg["mask"] == "float":
        mask = rng.normal(0, 1, cfg["mask_shape"])
        mask[rng.random(mask.shape) < 0.3] = -np.inf
        kwargs["attn_mask"] = mask
    elif cfg["mask"] == "causal":
        kwargs["is_causal"] = True
    return q, k, v, kwargs, rng


def torch_attention(q, k, v, kwargs, g, *, flat=False):
    """torch's output and the ``.grad`` of query, key and value for ``(out * g).sum()``, in float64; ``flat``: the
    inputs broadcast and their batch axes flattened into one, so that torch takes its 3-D path."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (q, k, v)]
    extra = {name: torch.from_numpy(np.asarray(value)) if name == "attn_mask" else value
             for name, value in kwargs.items()}
    args = tensors
    if flat:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        args = [t.expand(*batch, *t.shape[-2:]).reshape(-1, *t.shape[-2:]) for t in tensors]
    out = F.scaled_dot_product_attention(*args, **extra)
    if flat:
        out = out.reshape(*batch, *out.shape[-2:])
    (out * torch.tensor(g)).sum().backward()
    return out.detach().numpy(), {name: t.grad.numpy() for name, t in zip(("query", "key", "value"), tensors)}


def torch_quirk(q, k, v, kwargs) -> bool:
    """Where torch's 4-D CPU kernel differs from its 2-D and 3-D path (see the tests of it below): is_causal with a
    scale <= 0 (NaN), a 1-D attn_mask (refused: "Dimension out of range")."""
    if max(map(np.ndim, (q, k, v))) < 4:
        return False
    scale = kwargs.get("scale")
    causal = bool(kwargs.get("is_causal")) and scale is not None and scale <= 0
    return causal or np.ndim(kwargs.get("attn_mask", np.zeros((1, 1)))) == 1


def assert_close(ours, theirs, what=""):
    assert ours.shape == theirs.shape, what
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12 * scale, err_msg=what)


def items(trace):
    """Per batch item: its query, key and value rows, the masked pairs' complement and a float mask's values."""
    c = trace._pass
    added = np.where(c.allowed, c.raw - c.dots * c.scale, 0.0) if c.call.mask == "float" else None
    for b in range(trace.n_batch):
        yield b, c.q[b], c.k[b], c.v[b], c.allowed[b], None if added is None else added[b]


# -- torch ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs())
def test_matches_torch_output_and_every_gradient(cfg):
    q, k, v, kwargs, rng = make_inputs(cfg)
    trace = attention_frames(q, k, v, **kwargs)
    g = rng.standard_normal(trace.output.shape)
    expected, grads = torch_attention(q, k, v, kwargs, g, flat=torch_quirk(q, k, v, kwargs))
    assert_close(scaled_dot_product_attention(q, k, v, **kwargs), expected, "output")
    assert_close(trace.output, expected, "trace output")
    btrace = trace.backward(g)
    assert list(btrace.grads) == ["query", "key", "value"]
    for name in grads:
        assert_close(btrace.grads[name], grads[name], name)
    assert btrace.output is btrace.grads["query"]
    # the plain loops, item by item (the inputs broadcast to the batch)
    g3 = g.reshape(trace.n_batch, trace.L, trace.Ev)
    for b, qb, kb, vb, allowed, added in items(trace):
        out = scaled_dot_product_attention_naive(qb, kb, vb, allowed, added, cfg["scale"])
        assert_close(out, trace._pass.out[b], "naive output")
        dq, _, _ = attention_backward_naive(qb, kb, vb, trace._pass.weights[b], g3[b], trace.scale)
        if trace.query.ndim == 2 + len(trace.batch_shape) and trace.query.shape[:-2] == trace.batch_shape:
            assert_close(dq, btrace.grads["query"].reshape(trace.n_batch, trace.L, trace.E)[b], "naive dq")


def test_a_row_masked_everywhere_is_zero_in_torch_and_here_not_nan():
    # torch 2.13 in float64 (its math path, a "safe" softmax) returns 0 for such a row, and gradient 0: not NaN
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    mask = np.array([[True, False, True, True], [False, False, False, False]])
    g = rng.standard_normal((2, 2))
    for given in (mask, np.where(mask, 0.0, -np.inf)):
        expected, grads = torch_attention(q, k, v, {"attn_mask": given}, g)
        assert (expected[1] == 0).all() and (grads["query"][1] == 0).all()
        trace = attention_frames(q, k, v, attn_mask=given)
        assert_close(trace.output, expected)
        assert (trace.weights[1] == 0).all() and not np.isnan(trace.output).any()
        btrace = trace.backward(g)
        for name in grads:
            assert_close(btrace.grads[name], grads[name], name)
        softmax = trace[2 * 6 - 2]  # the second query's softmax frame
        assert softmax.phase == "softmax" and softmax.row == 1
        assert "every key is masked" in softmax.narration and "not NaN" in softmax.narration
        assert softmax.question is None
        assert trace[-1].narration.startswith("every key is masked, so the weights are all 0: out[1,:]")


def test_is_causal_masks_the_keys_after_each_query_from_the_top_left_as_torch():
    rng = np.random.default_rng(1)
    for L, S in ((4, 2), (2, 4), (3, 3)):
        q, k = rng.standard_normal((L, 2)), rng.standard_normal((S, 2))
        trace = attention_frames(q, k, np.eye(S), is_causal=True)
        np.testing.assert_array_equal(trace.allowed, np.tril(np.ones((L, S), dtype=bool)))
        assert_close(trace.output, torch_attention(q, k, np.eye(S), {"is_causal": True}, np.ones((L, S)))[0])
    masked = trace[1]  # s[0,1]: key 1 comes after query 0
    assert masked.masked and masked.result == -math.inf and masked.question is None
    assert masked.narration.startswith("masked (is_causal, and key 1 comes after query 0), so s[0,1] = -inf")


def test_torch_4d_causal_kernel_gives_nan_for_a_scale_of_0_and_layerviz_computes_what_its_3d_path_gives():
    # torch 2.13, CPU, float64: 4-D inputs go to its flash kernel, whose causal mask (-inf) times a scale <= 0 makes
    # NaN; 2-D and 3-D inputs (its math path) give the softmax of 0 × scores: equal weights over the keys allowed
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((1, 1, 3, 2)), rng.standard_normal((1, 1, 4, 2)), rng.standard_normal((1, 1, 4, 2))
    for scale in (0.0, -0.7):
        kwargs = {"is_causal": True, "scale": scale}
        four, _ = torch_attention(q, k, v, kwargs, np.ones((1, 1, 3, 2)))
        three, _ = torch_attention(q[0], k[0], v[0], kwargs, np.ones((1, 3, 2)))
        assert np.isnan(four).all() and np.isfinite(three).all()
        assert_close(scaled_dot_product_attention(q, k, v, **kwargs)[0], three)
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.0)[0, 0, 1],
                               v[0, 0, :2].mean(axis=0), rtol=1e-14)  # query 1 averages keys 0 and 1


def test_a_mask_of_one_axis_broadcasts_also_where_torchs_4d_kernel_refuses_it():
    rng = np.random.default_rng(6)
    q, k, v = rng.standard_normal((2, 1, 2, 2)), rng.standard_normal((2, 1, 3, 2)), rng.standard_normal((2, 1, 3, 2))
    mask = np.array([True, False, True])
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch_attention(q, k, v, {"attn_mask": mask}, np.ones((2, 1, 2, 2)))
    three, _ = torch_attention(q[:, 0], k[:, 0], v[:, 0], {"attn_mask": mask}, np.ones((2, 2, 2)))
    assert_close(scaled_dot_product_attention(q, k, v, attn_mask=mask)[:, 0], three)


def test_torch_refuses_a_mask_with_is_causal_and_so_does_layerviz():
    q = np.ones((2, 3))
    with pytest.raises(RuntimeError, match="attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(*(torch.ones(2, 3, dtype=torch.float64),) * 3,
                                       attn_mask=torch.ones(2, 2, dtype=torch.bool), is_causal=True)
    with pytest.raises(ValueError, match="attn_mask must be None when is_causal=True"):
        scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 2), dtype=bool), is_causal=True)


# -- dropout ------------------------------------------------------------------------------------------


def test_dropout_on_the_weights_with_an_explicit_rng():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 4, 3))
    trace = attention_frames(q, k, v, dropout_p=0.5, rng=7)
    # the mask is u >= p for the generator's uniform draws over (..., L, S), as layerviz's Dropout draws it
    kept = np.random.default_rng(7).random((2, 3, 4)) >= 0.5
    np.testing.assert_array_equal(trace.kept, kept)
    np.testing.assert_array_equal(scaled_dot_product_attention(q, k, v, dropout_p=0.5, rng=7), trace.output)
    # torch's draws cannot be had: its formula on layerviz's mask (torch's autograd for the gradients)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    weights = torch.softmax(tq @ tk.transpose(-1, -2) / math.sqrt(2), dim=-1)
    out = (weights * torch.from_numpy(kept) * 2.0) @ tv
    g = rng.standard_normal(out.shape)
    (out * torch.tensor(g)).sum().backward()
    assert_close(trace.output, out.detach().numpy())
    btrace = trace.backward(g)
    for name, t in zip(("query", "key", "value"), (tq, tk, tv)):
        assert_close(btrace.grads[name], t.grad.numpy(), name)
    for b in range(2):
        keep = np.where(kept[b], 2.0, 0.0)
        assert_close(scaled_dot_product_attention_naive(q[b], k[b], v[b], keep=keep), trace.output[b])
        dq, dk, dv = attention_backward_naive(q[b], k[b], v[b], trace.weights[b], g[b], 1 / math.sqrt(2), keep)
        for ours, theirs in ((dq, "query"), (dk, "key"), (dv, "value")):
            assert_close(ours, btrace.grads[theirs][b], theirs)
    softmax = trace[4]
    assert "dropout (p = 0.5)" in softmax.narration and redo(softmax.narration).compared
    assert all(f.question is not None for f in trace if f.phase == "output")
    check_frames(btrace)
    assert np.array_equal(attention_frames(q, k, v, dropout_p=1.0, rng=0).output, np.zeros((2, 3, 3)))


# -- by hand ------------------------------------------------------------------------------------------


def test_two_tokens_by_hand():
    # E = 4, so the default scale is 1/√4 = 1/2.
    #   q0 = [1, 0, 1, 0], q1 = [0, 2, 0, 0];  k0 = [2, 0, 0, 0], k1 = [0, 1, 0, 1]
    #   s[0,0] = (1×2) / 2 = 1, s[0,1] = 0 / 2 = 0;  s[1,0] = 0, s[1,1] = (2×1) / 2 = 1
    #   softmax([1, 0]): e^(1 − 1) = 1, e^(0 − 1) = 0.3679, sum 1.3679, so a[0] = [0.7311, 0.2689] (σ(1), σ(-1));
    #   a[1] = [0.2689, 0.7311]
    #   v0 = [10, 0], v1 = [0, 10]: out[0] = 0.7311 × v0 + 0.2689 × v1 = [7.311, 2.689], out[1] = [2.689, 7.311]
    q = [[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 0.0]]
    k = [[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
    v = [[10.0, 0.0], [0.0, 10.0]]
    sigma = 1 / (1 + math.exp(-1))
    trace = attention_frames(q, k, v)
    np.testing.assert_allclose(trace.output, [[10 * sigma, 10 * (1 - sigma)], [10 * (1 - sigma), 10 * sigma]],
                               rtol=1e-14)
    np.testing.assert_array_equal(trace.scores, [[1.0, 0.0], [0.0, 1.0]])
    assert len(trace) == 2 * (2 + 2)
    assert [f.phase for f in trace] == ["score", "score", "softmax", "output"] * 2
    products = "(1.00×2.00 + 0.00×0.00 + 1.00×0.00 + 0.00×0.00) / √(4)"
    assert trace[0].narration == f"s[0,0] = q[0]·k[0] / √4 = {products} = 2.00 / √(4) = 1.00"
    assert trace[0].question.prompt == f"s[0,0] = q[0]·k[0] / √4 = {products} = ?"
    assert trace[2].narration == ("a[0,:] = softmax(s[0,:]) = softmax([1.00, 0.00]): max = max(1.00, 0.00) = 1.00; "
                                  "e^(s − max) = e^([1.00, 0.00] − 1.00) = [1.00, 0.37]; sum = 1.00 + 0.37 = 1.37; "
                                  "a[0,:] = [1.00, 0.37] / 1.37 = [0.73, 0.27]")
    assert trace[2].question.prompt == "a[0,:] = softmax([1.00, 0.00]) = ?" and trace[2].question.shown == "0.73"
    assert trace[3].narration.startswith("out[0,:] = Σ_j a[0,j] × v[j] = ")
    assert trace[3].narration.endswith(" = [7.31, 2.69]")
    # backward with dout = ones: dV = Aᵀ·1, the columns of A summed: [0.7311 + 0.2689, 0.2689 + 0.7311] = [1, 1]
    btrace = trace.backward(np.ones((2, 2)))
    np.testing.assert_allclose(btrace.grads["value"], np.ones((2, 2)), rtol=1e-14)
    # dA = dout·Vᵀ = [10, 10] in every row, so dA − rowsum(dA ⊙ A) = 0: dS, dQ and dK are 0
    np.testing.assert_allclose(btrace.grads["query"], 0.0, atol=1e-14)
    np.testing.assert_allclose(btrace.grads["key"], 0.0, atol=1e-14)


def test_a_causal_first_token_attends_only_to_itself():
    trace = attention_frames([[1.0], [2.0]], [[3.0], [4.0]], [[5.0, 6.0], [7.0, 8.0]], is_causal=True)
    np.testing.assert_array_equal(trace.weights[0], [1.0, 0.0])
    np.testing.assert_array_equal(trace.output[0], [5.0, 6.0])
    assert trace[2].narration == ("a[0,:] = softmax(s[0,:]) = softmax([3.00, -inf]): max = max(3.00, -inf) = 3.00; "
                                  "e^(s − max) = e^([3.00, -inf] − 3.00) = [1.00, 0.00]; sum = 1.00 + 0.00 = 1.00; "
                                  "a[0,:] = [1.00, 0.00] / 1.00 = [1.00, 0.00]")


def test_a_float_mask_is_added_to_the_scores():
    # s = q·k / √1 + mask: [2 + ln 3, 2 + 0] → weights 3 : 1
    trace = attention_frames([[1.0]], [[2.0], [2.0]], [[4.0], [8.0]], attn_mask=[[math.log(3), 0.0]])
    np.testing.assert_allclose(trace.weights, [[0.75, 0.25]], rtol=1e-14)
    np.testing.assert_allclose(trace.output, [[5.0]], rtol=1e-14)
    assert trace[0].narration == ("s[0,0] = q[0]·k[0] / √1 + attn_mask[0,0] = (1.00×2.00) / √(1) + 1.10 = "
                                  "2.00 / √(1) + 1.10 = 3.10")


# -- frames -------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), dropout=st.sampled_from([0.0, 0.0, 0.3, 0.5]))
def test_every_narration_adds_up_and_random_access_equals_iterating(cfg, dropout):
    q, k, v, kwargs, rng = make_inputs(cfg)
    trace = attention_frames(q, k, v, dropout_p=dropout, rng=cfg["seed"], **kwargs)
    frames = list(trace)
    assert len(frames) == trace.n_batch * trace.L * (trace.S + 2)
    for n, frame in enumerate(frames):
        again = trace[n]
        assert again.narration == frame.narration and trace[n - len(trace)].narration == frame.narration
        assert frame.phase == trace.phase_of(n) and frame.index == n
        done = redo(frame.narration)
        check_question(frame)
        b = int(np.ravel_multi_index(frame.batch, trace.batch_shape)) if trace.batch_shape else 0
        i = frame.row
        if frame.phase == "score":
            j = frame.col
            assert frame.result == trace._pass.scores[b, i, j] and trace.score_frame.reshape(-1)[
                (b * trace.L + i) * trace.S + j] == n
            assert frame.masked == (not trace._pass.allowed[b, i, j])
            assert (frame.question is None) == frame.masked  # E <= 3: every product listed
            assert done.compared
        elif frame.phase == "softmax":
            np.testing.assert_array_equal(frame.result, trace._pass.weights[b, i])
            assert (frame.question is None) == bool(frame.masked.all())
            if not frame.masked.all():
                assert done.compared
        else:
            np.testing.assert_array_equal(frame.result, trace._pass.out[b, i])
            assert frame.question is not None and done.compared
    btrace = trace.backward(rng.standard_normal(trace.output.shape))
    check_frames(btrace)
    assert [s.key for s in btrace.sections] == ["value", "weights", "scores", "query", "key"]


def test_long_rows_are_abridged_and_ask_nothing():
    rng = np.random.default_rng(3)
    trace = attention_frames(rng.standard_normal((2, 10)), rng.standard_normal((9, 10)), rng.standard_normal((9, 5)))
    score, softmax, output = trace[0], trace[9], trace[10]
    assert "… (10 products)" in score.narration and score.question is None
    assert redo(score.narration).compared  # "… = 1.23 / √(10) = 0.39": the scaling can be redone
    assert "over 9 keys" in softmax.narration and softmax.question is None
    assert "… (9 terms)" in output.narration and output.question is None
    for frame in (score, softmax, output):
        redo(frame.narration)
    check_frames(trace.backward(rng.standard_normal((2, 5))), sample=60)


def test_frames_are_read_only_and_keep_copies():
    q = np.array([[1.0, 2.0]])
    trace = attention_frames(q, q, q)
    q[0, 0] = 5.0
    assert trace.query[0, 0] == 1.0
    with pytest.raises(ValueError):
        trace.output[0, 0] = 1.0
    assert isinstance(trace, AttentionTrace) and isinstance(trace[0], AttentionFrame)
    assert repr(trace.layer) == ("scaled_dot_product_attention(attn_mask=None, dropout_p=0.0, is_causal=False, "
                                 "scale=None)")
    assert PHASES == ("score", "softmax", "output")


def test_random_access_is_constant_time_on_a_large_input():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((4, 64, 32)) for _ in range(3))
    start = time.perf_counter()
    trace = attention_frames(q, k, v, is_causal=True)
    assert time.perf_counter() - start < 1.0
    assert len(trace) == 4 * 64 * 66

    def median_access(n, repeats=5):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            trace[n]
            times.append(time.perf_counter() - t0)
        return sorted(times)[repeats // 2]

    for n in (0, 64, 65, len(trace) // 2, len(trace) - 1):
        assert median_access(n) < 5e-3, n
    assert trace[-1].phase == "output" and trace[-1].batch == (3,) and trace[-1].row == 63


def test_scene_highlights_follow_the_frames():
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 4, 3))
    mask = rng.random((3, 4)) < 0.7
    trace = attention_frames(q, k, v, attn_mask=mask)
    scene = trace.scene()
    by_name = {p.name: p for p in scene.panels}
    assert list(by_name) == ["query", "key", "scores", "weights", "value", "output"]
    assert scene.n_frames == len(trace) and len(scene.captions) == len(trace)
    np.testing.assert_array_equal(by_name["scores"].padding, np.broadcast_to(~mask, (2, 3, 4)))
    assert np.isnan(by_name["scores"].values[:, ~mask]).all() and np.isfinite(scene.vmax)

    def lit(panel, role, k):
        grid = by_name[panel]
        (light,) = [h for h in scene.highlights if h.panel == panel and h.role == role]
        cells = [tuple(c) for c in light.cells(k) if 0 <= c[1] < grid.values.shape[1]]
        return cells

    for n, frame in enumerate(trace):
        b = frame.batch[0]
        assert by_name["query"].page_at(n) == b
        if frame.phase == "score":
            assert lit("query", "window", n) == [(b, frame.row, e) for e in range(2)]
            assert lit("key", "kernel", n) == [(b, frame.col, e) for e in range(2)]
            assert lit("scores", "output", n) == [(b, frame.row, frame.col)]
            assert by_name["scores"].reveal[b, frame.row, frame.col] == n
        elif frame.phase == "softmax":
            assert lit("scores", "window", n) == [(b, frame.row, j) for j in range(4)]
            assert lit("weights", "output", n) == [(b, frame.row, j) for j in range(4)]
            np.testing.assert_array_equal(by_name["weights"].values[b, frame.row], frame.result)
            assert (by_name["weights"].reveal[b, frame.row] == n).all()
        else:
            assert lit("value", "kernel", n) == [(b, j, c) for j in range(4) for c in range(3)]
            assert lit("output", "output", n) == [(b, frame.row, c) for c in range(3)]
            np.testing.assert_array_equal(by_name["output"].values[b, frame.row], frame.result)
        assert lit("output", "output", n) == [] or frame.phase == "output"


# -- checks -------------------------------------------------------------------------------------------


Q, K, V = np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: scaled_dot_product_attention(Q, Q, Q, attn_mask=np.ones((2, 3), dtype=bool)),
     "attn_mask must broadcast to the scores' shape (..., L, S) = (2, 2), got shape (2, 3)"),
    (lambda: scaled_dot_product_attention(Q, K, V, attn_mask=np.ones((3, 2, 4), dtype=bool)),
     "attn_mask must broadcast to the scores' shape (..., L, S) = (2, 4), got shape (3, 2, 4)"),
    (lambda: scaled_dot_product_attention(Q, np.ones((4, 2)), V), "key must have the query's width E = 3"),
    (lambda: scaled_dot_product_attention(Q, K, np.ones((5, 2))), "value must have one row per key, S = 4 rows"),
    (lambda: scaled_dot_product_attention(np.ones((2, 2, 3)), np.ones((3, 4, 3)), V),
     "key and value must have leading (batch) axes that broadcast with the query's"),
    (lambda: scaled_dot_product_attention(np.ones(3), K, V),
     "query must have shape (..., L, E) with 2 axes at least, got shape (3,)"),
    (lambda: scaled_dot_product_attention(Q, np.ones((0, 3)), np.ones((0, 2))), "key must not be empty"),
    (lambda: scaled_dot_product_attention(Q, K, [[1.0, np.nan]] * 4), "value must be finite, got nan at index (0, 1)"),
    (lambda: scaled_dot_product_attention(Q, K, V, attn_mask=np.ones((2, 4), dtype=int)),
     "attn_mask must be bool (True: the pair takes part) or float"),
    (lambda: scaled_dot_product_attention(Q, K, V, attn_mask=np.full((2, 4), np.nan)),
     "attn_mask must not hold NaN or +inf"),
    (lambda: scaled_dot_product_attention(Q, K, V, attn_mask=np.full((2, 4), np.inf)),
     "attn_mask must not hold NaN or +inf"),
    (lambda: scaled_dot_product_attention(Q, K, V, attn_mask="yes"), "attn_mask must be bool"),
    (lambda: scaled_dot_product_attention(Q, K, V, dropout_p=1.5), "dropout_p must be a number between 0 and 1"),
    (lambda: scaled_dot_product_attention(Q, K, V, dropout_p=-0.1), "dropout_p must be a number between 0 and 1"),
    (lambda: scaled_dot_product_attention(Q, K, V, dropout_p="0.1"), "dropout_p must be a number between 0 and 1"),
    (lambda: scaled_dot_product_attention(Q, K, V, dropout_p=0.1), "rng must be given"),
    (lambda: scaled_dot_product_attention(Q, K, V, dropout_p=0.1, rng=-1),
     "rng must be None, an int seed >= 0 or a numpy.random.Generator, got -1"),
    (lambda: scaled_dot_product_attention(Q, K, V, is_causal=1), "is_causal must be True or False, got 1"),
    (lambda: scaled_dot_product_attention(Q, K, V, scale=float("nan")), "scale must be None (1/√E) or a finite"),
    (lambda: scaled_dot_product_attention(Q, K, V, scale="2"), "scale must be None (1/√E) or a finite number"),
    (lambda: attention_frames(Q, K, V).backward(np.ones((2, 3))), "grad_output must have the output's shape (2, 2)"),
])
def test_bad_input_is_refused_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_torch_tensors_and_lists_are_taken_and_the_names_are_public():
    q = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False], [True, True]])
    ours = lv.scaled_dot_product_attention(q, q, q, attn_mask=mask)
    theirs = F.scaled_dot_product_attention(q, q, q, attn_mask=mask).detach().numpy()
    assert_close(ours, theirs)
    assert lv.scaled_dot_product_attention is scaled_dot_product_attention
    assert lv.attention_frames is attention_frames and lv.layers.AttentionTrace is AttentionTrace
    assert_close(scaled_dot_product_attention([[1.0, 2.0]], [[1.0, 2.0]], [[3.0]]), np.array([[3.0]]))
