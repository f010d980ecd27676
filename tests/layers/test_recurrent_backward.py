"""Backpropagation through time (issue 14, the recurrent part): RNN, LSTM and GRU gradients equal torch autograd's.

For random configurations (hypothesis, float64; every mode, layers, directions, batch_first, unbatched input,
given h0/c0, bias=False, LSTM projections) ``trace.backward(grad_output, grad_h_n=..., grad_c_n=...)`` must give
torch's ``.grad`` of every parameter, of ``x``, ``h0`` and ``c0`` for the scalar
``(output * grad_output).sum() + (h_n * grad_h_n).sum() + (c_n * grad_c_n).sum()``, each entry within 1e-9.

Two cases torch's modules cannot run:
- dropout between layers in training mode: torch draws its own masks, so the reference is torch's one-layer
  modules (the same weights, through ``torch.func.functional_call``) stacked by hand, with layerviz's masks applied
  between them as torch's dropout does (``h ⊙ mask / (1 − p)``): torch autograd through the same function;
- LSTM ``force`` (a teaching device): the reference is the LSTM written out in torch operations, the forced gates
  replaced by constants, differentiated by torch autograd (and checked equal to ``torch.nn.LSTM`` unforced).

The vectorized BPTT is also held to plain scalar loops (``recurrent_backward_naive``), and every backward
narration is redone from its text.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz.layers._recurrent_bptt import BACKWARD_STAGES, recurrent_backward_naive
from layerviz.layers.rnn import hidden_gradient_norms
from tests.narration_redo import redo
from tests.recurrent_reference import configs, inputs, torch_module
from tests.test_narration import check_question

#: Configurations per layer type compared with torch autograd, as tests/layers/test_backward.py (>= 300).
N_CONFIGS = int(os.environ.get("LAYERVIZ_BACKWARD_CONFIGS", "300"))
#: Configurations whose every backward frame is redone from its narration, and compared with the naive loops.
N_NARRATED = min(N_CONFIGS, int(os.environ.get("LAYERVIZ_BACKWARD_NARRATED", "10")))
N_NAIVE = min(N_CONFIGS, 15)

SETTINGS = settings(max_examples=N_CONFIGS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NARRATED = settings(max_examples=N_NARRATED, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAIVE = settings(max_examples=N_NAIVE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ["RNN", "LSTM", "GRU"]


# -- torch's side ---------------------------------------------------------------------------------------


def _tensor(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def _states(cfg, h0, c0):
    """h0 (and c0) as numpy, zeros where not given (they are leaves whose gradient torch computes)."""
    h0 = np.zeros(cfg.state_shape(cfg.h_out)) if h0 is None else h0
    c0 = np.zeros(cfg.state_shape(cfg.kwargs["hidden_size"])) if c0 is None else c0
    return h0, c0


def _time_major(cfg, xt):
    if cfg.batch is None:
        return xt[:, None]
    return xt.transpose(0, 1) if cfg.kwargs.get("batch_first") else xt


def _as_given(cfg, out3):
    if cfg.batch is None:
        return out3[:, 0]
    return out3.transpose(0, 1) if cfg.kwargs.get("batch_first") else out3


def _stacked_by_hand(cfg, module, xt, h0t, c0t, masks, scale):
    """torch's one-layer modules, with ``module``'s parameters, stacked with ``masks`` applied between them."""
    kw = dict(cfg.kwargs, num_layers=1, dropout=0.0, batch_first=False)
    big_d, lstm = cfg.directions, cfg.kind == "LSTM"
    layer_in = _time_major(cfg, xt)
    batched = cfg.batch is not None
    h_ns, c_ns = [], []
    for layer in range(cfg.kwargs["num_layers"]):
        if layer:
            mask = torch.tensor(masks[layer - 1], dtype=torch.float64)
            layer_in = layer_in * mask * scale
        kw["input_size"] = layer_in.shape[-1]
        torch.manual_seed(0)
        single = type(module)(**kw).double()
        params = {name: getattr(module, name.replace("_l0", f"_l{layer}")) for name, _ in single.named_parameters()}
        states = slice(layer * big_d, (layer + 1) * big_d)
        h = h0t[states] if batched else h0t[states][:, None]
        hx = (h, c0t[states] if batched else c0t[states][:, None]) if lstm else h
        out, hidden = torch.func.functional_call(single, params, (layer_in, hx))
        if lstm:
            h_ns.append(hidden[0])
            c_ns.append(hidden[1])
        else:
            h_ns.append(hidden)
        layer_in = out
    h_n = torch.cat(h_ns)
    c_n = torch.cat(c_ns) if lstm else None
    if not batched:
        h_n, c_n = h_n[:, 0], (c_n[:, 0] if lstm else None)
    return _as_given(cfg, layer_in), h_n, c_n


def torch_grads(cfg, module, x, h0, c0, g, g_hn, g_cn, masks=None, scale=1.0) -> dict[str, np.ndarray]:
    """torch's gradients of ``(output*g).sum() + (h_n*g_hn).sum() + (c_n*g_cn).sum()``: the parameters in
    ``named_parameters()`` order, then ``input``, ``h0`` (``c0``)."""
    module.zero_grad()
    lstm = cfg.kind == "LSTM"
    h0, c0 = _states(cfg, h0, c0)
    xt, h0t, c0t = _tensor(x, True), _tensor(h0, True), _tensor(c0, True)
    if masks:
        out, h_n, c_n = _stacked_by_hand(cfg, module, xt, h0t, c0t, masks, scale)
    elif lstm:
        out, (h_n, c_n) = module(xt, (h0t, c0t))
    else:
        out, h_n = module(xt, h0t)
    loss = (out * _tensor(g)).sum() + (h_n * _tensor(g_hn)).sum()
    if lstm:
        loss = loss + (c_n * _tensor(g_cn)).sum()
    loss.backward()
    grads = {name: (np.zeros(tuple(p.shape)) if p.grad is None else p.grad.numpy().copy())
             for name, p in module.named_parameters()}
    grads["input"] = xt.grad.numpy().copy()
    grads["h0"] = h0t.grad.numpy().copy()
    if lstm:
        grads["c0"] = c0t.grad.numpy().copy()
    return grads


def assert_grads_equal(ours: dict, theirs: dict) -> None:
    """The same keys in the same order (torch's parameters, then input, h0, c0), every entry within 1e-9."""
    assert list(ours) == list(theirs), (list(ours), list(theirs))
    for key, expected in theirs.items():
        got = ours[key]
        assert got.shape == expected.shape, (key, got.shape, expected.shape)
        scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * scale, err_msg=key)


def upstream(cfg, trace, rng, with_hn: bool, with_cn: bool):
    g = rng.standard_normal(trace.output.shape)
    g_hn = rng.standard_normal(trace.h_n.shape) if with_hn else None
    g_cn = rng.standard_normal(trace.c_n.shape) if (with_cn and cfg.kind == "LSTM") else None
    return g, g_hn, g_cn


def zeros_if_none(value, like):
    return np.zeros(np.shape(like)) if value is None else value


# -- gradients equal torch autograd -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data(), train=st.booleans(), with_hn=st.booleans(), with_cn=st.booleans())
def test_gradients_equal_torch_autograd(kind, data, train, with_hn, with_cn):
    cfg = data.draw(configs(kind, max_size=4, max_layers=3, max_seq=5, max_batch=3))
    module = torch_module(cfg)
    layer = lv.from_torch(module)
    layer.train(train)
    x, h0, c0 = inputs(cfg)
    hx = (None if h0 is None and c0 is None else _states(cfg, h0, c0)) if kind == "LSTM" else h0
    trace = layer.frames(x, hx)
    rng = np.random.default_rng(cfg.seed + 1)
    g, g_hn, g_cn = upstream(cfg, trace, rng, with_hn, with_cn)
    kwargs = {"grad_h_n": g_hn} | ({"grad_c_n": g_cn} if kind == "LSTM" else {})
    btrace = trace.backward(g, **kwargs)
    masks = trace.pass_.dropout_masks
    assert bool(masks) == (train and cfg.kwargs["dropout"] > 0 and cfg.kwargs["num_layers"] > 1)
    scale = 1.0 / (1.0 - cfg.kwargs["dropout"]) if masks else 1.0
    expected = torch_grads(cfg, module, x, h0, c0, g, zeros_if_none(g_hn, trace.h_n),
                           zeros_if_none(g_cn, trace.c_n) if kind == "LSTM" else None, masks, scale)
    assert_grads_equal(btrace.grads, expected)
    assert btrace.grads["input"].shape == x.shape
    assert np.array_equal(btrace.output, btrace.grads["input"])


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=min(N_CONFIGS, 20), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), p=st.sampled_from([0.2, 0.5, 1.0]), layers=st.integers(2, 3), with_hn=st.booleans())
def test_dropout_between_layers_uses_the_forwards_own_masks(kind, data, p, layers, with_hn):
    """Training mode with dropout: torch's one-layer modules stacked by hand with layerviz's masks (torch cannot
    share a mask) give the same gradients; a dropped value passes no gradient down."""
    cfg = data.draw(configs(kind, max_size=3, max_layers=1, max_seq=4, max_batch=3))
    cfg.kwargs.update(num_layers=layers, dropout=p)
    module = torch_module(cfg)
    layer = lv.from_torch(module).train()
    x, h0, c0 = inputs(cfg)
    h0, c0 = _states(cfg, h0, c0)
    trace = layer.frames(x, (h0, c0) if kind == "LSTM" else h0)
    masks = trace.pass_.dropout_masks
    assert len(masks) == layers - 1
    rng = np.random.default_rng(cfg.seed + 2)
    g, g_hn, g_cn = upstream(cfg, trace, rng, with_hn, True)
    btrace = trace.backward(g, grad_h_n=g_hn, **({"grad_c_n": g_cn} if kind == "LSTM" else {}))
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    expected = torch_grads(cfg, module, x, h0, c0, g, zeros_if_none(g_hn, trace.h_n),
                           zeros_if_none(g_cn, trace.c_n) if kind == "LSTM" else None, masks, scale)
    assert_grads_equal(btrace.grads, expected)
    for below in range(layers - 1):  # what layer below+1 hands down is zero where its input was dropped
        assert not btrace.bptt.ddown[below + 1][~masks[below]].any()


def test_the_hand_stacked_reference_is_torch_itself_without_dropout():
    """The dropout reference (one-layer torch modules stacked by hand) equals torch's stacked module when every
    mask keeps everything: it differs from torch only by the masks."""
    from tests.recurrent_reference import Config

    for kind in KINDS:
        kwargs = dict(input_size=3, hidden_size=3, num_layers=3, bias=True, batch_first=True, bidirectional=True,
                      dropout=0.5)
        if kind == "LSTM":
            kwargs["proj_size"] = 2
        cfg = Config(kind, kwargs, seq=4, batch=2, with_h0=True, with_c0=kind == "LSTM", seed=7)
        module = torch_module(cfg)
        x, h0, c0 = inputs(cfg)
        out_shape = (2, 4, 2 * cfg.h_out)
        rng = np.random.default_rng(0)
        g, g_hn = rng.standard_normal(out_shape), rng.standard_normal(cfg.state_shape(cfg.h_out))
        g_cn = rng.standard_normal(cfg.state_shape(3)) if kind == "LSTM" else None
        ones = [np.ones((4, 2, 2 * cfg.h_out), dtype=bool)] * 2
        by_hand = torch_grads(cfg, module, x, h0, c0, g, g_hn, g_cn, masks=ones, scale=1.0)
        assert_grads_equal(by_hand, torch_grads(cfg, module, x, h0, c0, g, g_hn, g_cn))


# -- LSTM with forced gates: torch autograd through the same computation ------------------------------------


def torch_lstm_by_hand(params: dict, x3, h0, c0, force: dict, num_layers: int, big_d: int, proj: bool):
    """The LSTM in torch operations (time-major ``x3: (L, N, H_in)``), the gates of ``force`` pinned to constants."""
    seq = x3.shape[0]
    layer_in = x3
    h_n, c_n = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(big_d):
            s = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = params[f"weight_ih{s}"], params[f"weight_hh{s}"]
            b = params.get(f"bias_ih{s}")
            bh = params.get(f"bias_hh{s}")
            h, c = h0[layer * big_d + d], c0[layer * big_d + d]
            hid = c.shape[-1]
            steps = [None] * seq
            for t in range(seq) if d == 0 else range(seq - 1, -1, -1):
                a = layer_in[t] @ w_ih.T + h @ w_hh.T
                if b is not None:
                    a = a + b + bh
                gates = [torch.sigmoid(a[:, :hid]), torch.sigmoid(a[:, hid:2 * hid]), torch.tanh(a[:, 2 * hid:3 * hid]),
                         torch.sigmoid(a[:, 3 * hid:])]
                for q, value in force.items():
                    gates["ifgo".index(q)] = torch.full_like(gates[0], value)
                i, f, g, o = gates
                c = f * c + i * g
                h = o * torch.tanh(c)
                if proj:
                    h = h @ params[f"weight_hr{s}"].T
                steps[t] = h
            outs.append(torch.stack(steps))
            h_n.append(h)
            c_n.append(c)
        layer_in = torch.cat(outs, dim=-1)
    return layer_in, torch.stack(h_n), torch.stack(c_n)


@pytest.mark.parametrize("force", [{"f": 1.0}, {"f": 0.0}, {"i": 0.5, "o": 1.0}, {"g": -0.5}, {"f": 0.3, "i": 0.7}])
@settings(max_examples=min(N_CONFIGS, 10), deadline=None)
@given(data=st.data())
def test_forced_lstm_gradients_equal_autograd_of_the_same_computation(force, data):
    cfg = data.draw(configs("LSTM", max_size=3, max_layers=2, max_seq=4, max_batch=2))
    cfg.kwargs["dropout"] = 0.0
    module = torch_module(cfg)
    layer = lv.from_torch(module)
    x, h0, c0 = inputs(cfg)
    h0, c0 = _states(cfg, h0, c0)
    trace = layer.frames(x, (h0, c0), force=force)
    rng = np.random.default_rng(cfg.seed)
    g, g_hn, g_cn = (rng.standard_normal(a.shape) for a in (trace.output, trace.h_n, trace.c_n))
    btrace = trace.backward(g, grad_h_n=g_hn, grad_c_n=g_cn)
    params = {name: p.detach().clone().requires_grad_(True) for name, p in module.named_parameters()}
    xt, h0t, c0t = _tensor(x, True), _tensor(h0, True), _tensor(c0, True)
    batched = cfg.batch is not None
    out3, h_n, c_n = torch_lstm_by_hand(params, _time_major(cfg, xt), h0t if batched else h0t[:, None],
                                        c0t if batched else c0t[:, None], force, cfg.kwargs["num_layers"],
                                        cfg.directions, bool(cfg.kwargs.get("proj_size")))
    if not batched:
        h_n, c_n = h_n[:, 0], c_n[:, 0]
    out = _as_given(cfg, out3)
    np.testing.assert_allclose(out.detach().numpy(), trace.output, rtol=1e-12, atol=1e-12)
    ((out * _tensor(g)).sum() + (h_n * _tensor(g_hn)).sum() + (c_n * _tensor(g_cn)).sum()).backward()
    expected = {name: p.grad.numpy() for name, p in params.items()}
    expected |= {"input": xt.grad.numpy(), "h0": h0t.grad.numpy(), "c0": c0t.grad.numpy()}
    assert_grads_equal(btrace.grads, expected)
    hid = cfg.kwargs["hidden_size"]
    for q in force:  # no gradient flows into a forced gate: its pre-activation gradient and weight rows are 0
        j = "ifgo".index(q)
        assert not btrace.grad_pre[..., j * hid:(j + 1) * hid].any()
        assert not btrace.grads["weight_ih_l0"][j * hid:(j + 1) * hid].any()


def test_the_lstm_by_hand_is_torch_when_nothing_is_forced():
    torch.manual_seed(3)
    module = torch.nn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64)
    h0, c0 = torch.randn(4, 2, 2, dtype=torch.float64), torch.randn(4, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        expected = module(x, (h0, c0))
        got = torch_lstm_by_hand(dict(module.named_parameters()), x, h0, c0, {}, 2, 2, True)
    for a, b in zip((expected[0], *expected[1]), got):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


# -- the vectorized BPTT against plain loops -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@NAIVE
@given(data=st.data(), train=st.booleans(), force=st.sampled_from([None, {"f": 1.0}, {"o": 0.2, "g": 0.5}]))
def test_bptt_equals_the_plain_loops(kind, data, train, force):
    cfg = data.draw(configs(kind, max_size=3, max_layers=3, max_seq=4, max_batch=2))
    layer = lv.from_torch(torch_module(cfg))
    layer.train(train)
    x, h0, c0 = inputs(cfg)
    hx = (None if h0 is None and c0 is None else _states(cfg, h0, c0)) if kind == "LSTM" else h0
    trace = layer.frames(x, hx, force=force) if kind == "LSTM" else layer.frames(x, hx)
    rng = np.random.default_rng(cfg.seed)
    g, g_hn, g_cn = upstream(cfg, trace, rng, True, True)
    btrace = trace.backward(g, grad_h_n=g_hn, **({"grad_c_n": g_cn} if kind == "LSTM" else {}))
    # the naive loops read the same upstream gradients, time-major
    g3, g_hn3, g_cn3 = btrace._g3, btrace._g_hn, btrace._g_cn
    naive = recurrent_backward_naive(trace, g3, g_hn3, g_cn3)
    b = btrace.bptt
    for name in trace.weights:
        np.testing.assert_allclose(btrace.grads[name], naive[name], rtol=1e-12, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(b.dx[0], naive["x"], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(b.dh0, naive["h0"], rtol=1e-12, atol=1e-13)
    if kind == "LSTM":
        np.testing.assert_allclose(b.dc0, naive["c0"], rtol=1e-12, atol=1e-13)


# -- frames ------------------------------------------------------------------------------------------------------


def step_value(btrace, frame) -> np.ndarray:
    """What a frame claims, read from the backward pass's stored arrays."""
    b, f = btrace.bptt, btrace.forward
    if frame.sample < 0:
        return btrace.grads[frame.grad][frame.rows].ravel()
    ld = frame.layer * f.num_directions + frame.direction
    t, n, hid = frame.t, frame.sample, f.hidden_size
    if frame.grad == "dup":
        return (b.dx[0] if frame.layer == 0 else b.ddown[frame.layer])[t, n]
    if frame.grad == "dx":
        return b.dx_dir[frame.layer][frame.direction, t, n]
    blocks = {"da": 0, "di": 0, "df": 1, "dg": 2, "do": 3, "dr": 0, "dz": 1, "dn": 2}
    if frame.grad in blocks:
        j = blocks[frame.grad]
        return b.da[ld, t, n, j * hid:(j + 1) * hid]
    stored = {"dh": b.dh, "dh_cell": b.dh_cell, "dc": b.dc, "dc_prev": b.dc_prev, "dh_prev": b.dh_prev}
    return stored[frame.grad][ld, t, n]


def check_frames(btrace, *, sample: int | None = None) -> int:
    """Random access equals iteration; each frame's result is the stored value; narrations add up; questions fair.
    Returns the number of frames that ask a question."""
    n = len(btrace)
    picked = None if sample is None else set(np.random.default_rng(0).integers(0, n, sample).tolist())
    ks = range(n) if sample is None else sorted(picked | {0, n - 1})
    frames = list(btrace) if sample is None else None
    asked = 0
    for k in ks:
        frame = btrace[k]
        if frames is not None:
            assert frames[k].narration == frame.narration and np.array_equal(frames[k].result, frame.result)
        assert btrace[k - n].narration == frame.narration
        np.testing.assert_array_equal(frame.result, step_value(btrace, frame))
        redo(frame.narration)  # AssertionError naming the segment that does not add up
        check_question(frame)
        asked += frame.question is not None
    scene = btrace.scene()
    assert scene.n_frames == n and len(scene.captions) == n
    return asked


@pytest.mark.parametrize("kind", KINDS)
@NARRATED
@given(data=st.data(), train=st.booleans(), force=st.sampled_from([None, None, {"f": 1.0}, {"i": 0.25}]))
def test_backward_frames_add_up(kind, data, train, force):
    cfg = data.draw(configs(kind, max_size=3, max_layers=2, max_seq=3, max_batch=2))
    layer = lv.from_torch(torch_module(cfg))
    layer.train(train)
    x, h0, c0 = inputs(cfg)
    hx = (None if h0 is None and c0 is None else _states(cfg, h0, c0)) if kind == "LSTM" else h0
    trace = layer.frames(x, hx, force=force) if kind == "LSTM" else layer.frames(x, hx)
    rng = np.random.default_rng(cfg.seed)
    g, g_hn, g_cn = upstream(cfg, trace, rng, True, True)
    btrace = trace.backward(g, grad_h_n=g_hn, **({"grad_c_n": g_cn} if kind == "LSTM" else {}))
    check_frames(btrace, sample=None if len(btrace) <= 200 else 150)
    # newest step first: the first frame is dh at the last step of the top layer
    first = btrace[0]
    assert first.grad == "dh" and first.layer == cfg.kwargs["num_layers"] - 1 and first.t == cfg.seq - 1


@pytest.mark.parametrize("kind", KINDS)
def test_frame_counts_follow_the_forward(kind):
    layer = {"RNN": lv.RNN(2, 3, num_layers=2, bidirectional=True, dropout=0.5, rng=0),
             "LSTM": lv.LSTM(2, 3, num_layers=2, bidirectional=True, dropout=0.5, proj_size=2, rng=0),
             "GRU": lv.GRU(2, 3, num_layers=2, bidirectional=True, dropout=0.5, rng=0)}[kind]
    trace = layer.frames(np.random.default_rng(0).standard_normal((4, 2, 2)))
    btrace = trace.backward()
    stages = len(BACKWARD_STAGES[kind]) + (kind == "LSTM")  # the projection's dh_cell
    steps = 2 * 2 * 2 * 4 * stages  # layers × directions × samples × steps × stages
    blocks = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind]  # a bias: one frame per gate block
    params = sum(w.shape[0] if name.startswith("weight") else blocks for name, w in trace.weights.items())
    down = 2 * 2 * 4  # two directions: each layer's input gradient adds both up (and layer 1's goes through dropout)
    assert len(btrace) == steps + params + down
    assert len(btrace) < 3 * len(trace)
    assert [btrace[k].grad for k in range(stages)] == list(("dh",) + (("dh_cell",) if kind == "LSTM" else ())
                                                           + BACKWARD_STAGES[kind][1:])
    check_frames(btrace, sample=60)


def test_a_large_trace_is_random_access():
    layer = lv.LSTM(8, 16, num_layers=2, rng=0)
    trace = layer.frames(np.random.default_rng(0).standard_normal((40, 3, 8)))
    btrace = trace.backward()
    start = time.perf_counter()
    for k in (0, len(btrace) // 2, len(btrace) - 1):
        btrace[k]
    assert time.perf_counter() - start < 0.5
    check_frames(btrace, sample=40)


# -- bad upstream gradients ------------------------------------------------------------------------------------------


def test_bad_upstream_gradients_name_themselves():
    rnn_trace = lv.RNN(2, 3, num_layers=2, rng=0).frames(np.ones((4, 2)))
    lstm_trace = lv.LSTM(2, 3, rng=0).frames(np.ones((4, 5, 2)))
    with pytest.raises(ValueError, match=r"grad_output must have the output's shape \(4, 3\)"):
        rnn_trace.backward(np.ones((4, 2)))
    with pytest.raises(ValueError, match="grad_output must be finite"):
        rnn_trace.backward(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match=r"grad_h_n must have h_n's shape \(2, 3\)"):
        rnn_trace.backward(grad_h_n=np.ones((1, 3)))
    with pytest.raises(ValueError, match="grad_h_n must be finite"):
        rnn_trace.backward(grad_h_n=np.array([[np.nan] * 3] * 2))
    with pytest.raises(ValueError, match="grad_c_n is for an LSTM"):
        rnn_trace.backward(grad_c_n=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"grad_c_n must have .*\(1, 5, 3\)"):
        lstm_trace.backward(grad_c_n=np.ones((1, 3)))
    with pytest.raises(ValueError, match="grad_c_n must be finite"):
        lstm_trace.backward(grad_c_n=np.full((1, 5, 3), np.inf))
    with pytest.raises(ValueError, match="grad_c_n must be an array of numbers"):
        lstm_trace.backward(grad_c_n="zeros")
    given = np.ones((4, 5, 3))
    lstm_trace.backward(given)
    assert given.flags.writeable  # the caller's array is not frozen


# -- a worked example by hand --------------------------------------------------------------------------------------


def test_worked_example_by_hand():
    """A relu RNN with one unit and two steps, numbers exact in binary (d2l's BPTT, section 9.7, by hand):

    forward:  h[0] = relu(1×x[0] + 0.5×h0) = relu(1 + 0.25) = 1.25,  h[1] = relu(2 + 0.5×1.25) = 2.625
    backward, L = h[0] + h[1] (grad_output ones):
        dh[1] = 1 + 0 = 1,    da[1] = 1,   dh_next[0] = 0.5×1 = 0.5,   dx[1] = 1×1 = 1
        dh[0] = 1 + 0.5 = 1.5, da[0] = 1.5, dh0 = 0.5×1.5 = 0.75,       dx[0] = 1×1.5 = 1.5
        dW_ih = 1.5×1 + 1×2 = 3.5,   dW_hh = 1.5×0.5 + 1×1.25 = 2
    """
    rnn = lv.RNN(1, 1, nonlinearity="relu", bias=False)
    rnn.weight_ih_l0, rnn.weight_hh_l0 = [[1.0]], [[0.5]]
    trace = rnn.frames(np.array([[1.0], [2.0]]), np.array([[0.5]]))
    assert trace.output.tolist() == [[1.25], [2.625]]
    bt = trace.backward()
    assert {k: v.tolist() for k, v in bt.grads.items()} == {
        "weight_ih_l0": [[3.5]], "weight_hh_l0": [[2.0]], "input": [[1.5], [1.0]], "h0": [[0.75]]}
    assert bt.grad_h[0, :, 0].tolist() == [[1.5], [1.0]]
    assert len(bt) == 2 * 4 + 2
    assert [f.narration.split(": ")[-1] for f in bt] == [
        "dh[1] = dout[1] + dh_n = 1.00 + 0.00 = 1.00",
        "da[1] = dh[1]⊙relu'(a[1]) = 1.00⊙1 = 1.00",
        "dh_next[0] = W_hhᵀ·da[1] = 1.00×0.50 = 0.50",
        "dx[1] = W_ihᵀ·da[1] = 1.00×1.00 = 1.00",
        "dh[0] = dout[0] + dh_next[0] = 1.00 + 0.50 = 1.50",
        "da[0] = dh[0]⊙relu'(a[0]) = 1.50⊙1 = 1.50",
        "dh0 = W_hhᵀ·da[0] = 1.50×0.50 = 0.75",
        "dx[0] = W_ihᵀ·da[0] = 1.50×1.00 = 1.50",
        "dW_ih[0] = Σ_t da[t][0]×x[t] = 1.50×1.00 + 1.00×2.00 = 3.50",
        "dW_hh[0] = Σ_t da[t][0]×h[t−1] = 1.50×0.50 + 1.00×1.25 = 2.00",
    ]
    assert bt[6].question.prompt.endswith("dh0 = W_hhᵀ·da[0] = 1.50×0.50 = ?")
    assert bt[6].question.shown == "0.75"
    # and torch agrees
    module = torch.nn.RNN(1, 1, nonlinearity="relu", bias=False).double()
    with torch.no_grad():
        module.weight_ih_l0.fill_(1.0)
        module.weight_hh_l0.fill_(0.5)
    xt, h0t = _tensor([[1.0], [2.0]], True), _tensor([[0.5]], True)
    module(xt, h0t)[0].sum().backward()
    assert module.weight_hh_l0.grad.item() == 2.0 and h0t.grad.item() == 0.75 and xt.grad.tolist() == [[1.5], [1.0]]
    check_frames(bt)


def test_lstm_narrations_read_as_bptt():
    lstm = lv.LSTM(1, 1, rng=0)
    bt = lstm.frames(np.array([[1.0], [-1.0], [0.5]])).backward()
    texts = [f.narration for f in bt]
    assert texts[0].startswith("BPTT starts where the forward pass ended, t=2")
    assert "dc[2] = dh[2]⊙o[2]⊙(1 − tanh(c[2])²) + dc_n = " in texts[2]
    assert "dc_next[1] = dc[2]⊙f[2] = " in texts[6]
    assert "dc0 = dc[0]⊙f[0] = " in texts[2 * 9 + 6]
    forced = lstm.frames(np.array([[1.0], [-1.0]]), force={"f": 1.0}).backward()
    assert "forget gate is forced to 1.00" in forced[4].narration and forced[4].result.tolist() == [0.0]
    check_frames(bt)


# -- the vanishing gradient, from the engine's own backward pass ----------------------------------------------------


def test_vanishing_gradient_vector_norms_match_torch_autograd():
    torch.manual_seed(0)
    module = torch.nn.RNN(2, 4).double()
    rnn = lv.from_torch(module)
    x = np.random.default_rng(0).standard_normal((12, 2))
    g = np.array([1.0, -2.0, 0.5, 0.0])
    norms = hidden_gradient_norms(rnn, x, grad=g)
    # torch, one step at a time, keeping every h_t's gradient
    h = torch.zeros(1, 1, 4, dtype=torch.float64)
    states = []
    for t in range(len(x)):
        h = h.detach().requires_grad_(True) if t == 0 else h
        _, h = module(torch.from_numpy(x[t:t + 1, None]), h)
        h.retain_grad()
        states.append(h)
    (states[-1][0, 0] @ torch.from_numpy(g)).backward()
    expected = [float(s.grad.norm()) for s in states]
    np.testing.assert_allclose(norms, expected, rtol=1e-10)
    assert norms[0] < 1e-2 * norms[-1]  # it vanishes
    trace = rnn.frames(x)
    btrace = trace.backward(np.concatenate([np.zeros((11, 4)), g[None]]))
    np.testing.assert_allclose(np.linalg.norm(btrace.grad_h[0, :, 0], axis=1), norms)


def test_spectral_norms_come_from_the_backward_pass_for_batch_first_too():
    rnn = lv.RNN(2, 3, rng=1)
    x = np.random.default_rng(1).standard_normal((6, 2))
    norms = hidden_gradient_norms(rnn, x)
    rnn.batch_first = True
    np.testing.assert_allclose(hidden_gradient_norms(rnn, x), norms, rtol=1e-14)
    assert norms[-1] == 1.0
