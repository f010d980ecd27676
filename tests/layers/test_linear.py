"""Linear against torch.nn.Linear, the plain-loop definition, a hand-worked example, its checks and its trace.

The oracles are independent of layerviz: torch's output, numbers worked out by hand, and sums
recomputed here from each frame's own terms.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerviz import Linear, Trace, from_torch
from layerviz.layers.linear import linear_naive


@st.composite
def linear_configs(draw):
    in_f, out_f = draw(st.integers(1, 9)), draw(st.integers(1, 7))
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    return in_f, out_f, draw(st.booleans()), (*lead, in_f), draw(st.integers(0, 2**31 - 1))


def torch_linear(in_f, out_f, bias, seed):
    torch.manual_seed(seed)
    return torch.nn.Linear(in_f, out_f, bias=bias).double()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=linear_configs())
def test_forward_matches_torch(cfg):
    in_f, out_f, bias, shape, seed = cfg
    module = torch_linear(in_f, out_f, bias, seed)
    x = np.random.default_rng(seed).standard_normal(shape)
    layer = from_torch(module)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    got = layer(x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    trace = layer.frames(x)
    np.testing.assert_allclose(trace.output, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(linear_naive(layer.weight, layer.bias, x.reshape(-1, in_f)),
                               expected.reshape(-1, out_f), rtol=1e-10, atol=1e-12)


def test_hand_worked_example():
    layer = Linear(3, 1)
    layer.weight = [[0.5, -1.0, 0.25]]
    layer.bias = [0.5]
    # 1*0.5 + 2*(-1) + 3*0.25 + 0.5 = 0.5 - 2 + 0.75 + 0.5 = -0.25
    assert layer(np.array([1.0, 2.0, 3.0])) == pytest.approx([-0.25])
    frame = layer.frames([1.0, 2.0, 3.0])[0]
    assert frame.narration == "out[0] = 0.50×1.00 + (-1.00)×2.00 + 0.25×3.00 + 0.50 (bias) = -0.25"


def test_brief_example_narration():
    layer = Linear(2, 3, bias=True)
    layer.weight = np.zeros((3, 2))
    layer.weight = [[0, 0], [0, 0], [0.5, -0.2]]
    layer.bias = [0, 0, 0.1]
    trace = layer.frames([[1.0, 0.3]])
    assert trace[2].narration == "out[0,2] = 0.50×1.00 + (-0.20)×0.30 + 0.10 (bias) = 0.54"


def test_init_is_torch_like_and_seeded():
    a, b = Linear(16, 4, rng=3), Linear(16, 4, rng=3)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert np.abs(a.weight).max() <= 1 / 4 and np.abs(a.bias).max() <= 1 / 4
    assert a.weight.shape == (4, 16) and a.bias.shape == (4,)
    assert Linear(2, 2, bias=False).bias is None
    assert repr(Linear(3, 2)) == "Linear(3, 2)" and repr(Linear(3, 2, bias=False)) == "Linear(3, 2, bias=False)"


def test_from_torch_copies():
    module = torch_linear(3, 2, True, 0)
    layer = from_torch(module)
    with torch.no_grad():
        module.weight.zero_()
    assert np.abs(layer.weight).sum() > 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Linear(0, 2), "in_features must be >= 1, got 0"),
        (lambda: Linear(2, 0), "out_features must be >= 1, got 0"),
        (lambda: Linear(2.5, 2), "in_features must be an integer, got 2.5"),
        (lambda: Linear(2, 2, bias="yes"), "bias must be True or False"),
        (lambda: Linear(2, 2)(np.ones(3)), "x must have in_features=2 values on its last axis, got 3"),
        (lambda: Linear(2, 2)(np.float64(1.0)), "x must have shape (..., in_features), got shape ()"),
        (lambda: Linear(2, 2)([1.0, np.nan]), "x must be finite, got nan at index (1,)"),
        (lambda: Linear(2, 2)(np.ones((0, 2))), "x must not be empty"),
        (lambda: setattr(Linear(2, 2), "weight", np.ones((2, 3))), "weight must have shape (2, 2), got shape (2, 3)"),
        (lambda: setattr(Linear(2, 2), "bias", [1.0]), "bias must have shape (2,), got shape (1,)"),
        (lambda: Linear(2, 2).frames(np.ones(2), view="table"), "view must be one of ['matrix', 'neurons']"),
    ],
)
def test_errors_name_the_rule(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


# -- the trace ----------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(cfg=linear_configs())
def test_frames_add_up(cfg):
    in_f, out_f, bias, shape, seed = cfg
    layer = Linear(in_f, out_f, bias, rng=seed)
    x = np.random.default_rng(seed).standard_normal(shape)
    trace = layer.frames(x)
    assert isinstance(trace, Trace)
    n = int(np.prod(shape[:-1]))
    assert len(trace) == n * out_f
    frames = list(trace)
    for k, frame in enumerate(frames):
        sample, o = divmod(k, out_f)
        assert frame.cell == (*np.unravel_index(sample, shape[:-1]), o)
        np.testing.assert_array_equal(frame.x, x.reshape(-1, in_f)[sample])
        np.testing.assert_array_equal(frame.weights, layer.weight[o])
        total = sum(w * v for w, v in zip(frame.weights, frame.x)) + (layer.bias[o] if bias else 0.0)
        assert frame.z == pytest.approx(total, rel=1e-10, abs=1e-12)
        assert frame.result == trace.output[frame.cell]
        assert frame.narration.endswith(f"= {frame.result:.2f}".replace("-0.00", "0.00"))
        same = trace[k]
        assert same.narration == frame.narration and same.cell == frame.cell
        assert trace[k - len(trace)].cell == frame.cell


def test_trace_keeps_its_own_copies():
    layer = Linear(2, 2, rng=0)
    x = np.ones(2)
    trace = layer.frames(x)
    before = trace.output.copy()
    layer.weight = np.zeros((2, 2))
    x[:] = 5
    np.testing.assert_array_equal(trace.output, before)
    with pytest.raises(ValueError):
        trace[0].weights[0] = 1.0


def test_long_sums_are_shortened():
    layer = Linear(40, 1, rng=0)
    narration = layer.frames(np.ones(40))[0].narration
    assert "… (40 products)" in narration and narration.count("×") == 8


def test_index_errors():
    trace = Linear(2, 3, rng=0).frames(np.ones(2))
    with pytest.raises(IndexError):
        trace[3]
    with pytest.raises(IndexError):
        trace[-4]
    assert [f.cell for f in trace[1:]] == [(1,), (2,)]


def test_random_access_is_constant_time():
    layer = Linear(8, 50, rng=0)
    trace = layer.frames(np.random.default_rng(0).standard_normal((20_000, 8)))  # one million frames
    assert len(trace) == 1_000_000
    start = time.perf_counter()
    for _ in range(200):
        trace[0]
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(200):
        trace[999_999]
    last = time.perf_counter() - start
    assert last < 5 * first + 0.05


def test_matrix_scene_highlights_match_the_frames():
    layer = Linear(3, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3))
    trace = layer.frames(x)
    scene = trace.scene()
    assert [g.name for g in scene.panels] == ["weight", "input", "bias", "output"]
    by_panel = {h.panel: h for h in scene.highlights}
    for k, frame in enumerate(trace):
        rows = {tuple(c) for c in by_panel["weight"].cells(k)}
        assert rows == {(0, frame.neuron, i) for i in range(3)}
        sample = k // 2
        assert scene.panel("input").page_at(k) == sample
        np.testing.assert_array_equal(scene.panel("input").values[sample, :, 0], frame.x)
        (s, r, c), = by_panel["output"].cells(k)
        assert scene.panel("output").values[s, r, c] == frame.result
        assert scene.panel("output").reveal[s, r, c] == k
    assert scene.captions[3] == trace[3].narration


def test_neuron_scene_lights_the_neuron_of_each_frame():
    layer = Linear(3, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3))
    trace = layer.frames(x, view="neurons")
    scene = trace.scene()
    assert scene.panels == () and len(scene.networks) == 1
    net = scene.networks[0]
    assert net.sizes == (3, 2)
    np.testing.assert_array_equal(net.weights[0], layer.weight)
    for k, frame in enumerate(trace):
        assert net.active_at(k) == 3 + frame.neuron
        page = net.page_at(k)
        assert net.values[page, 3 + frame.neuron] == frame.result
        assert net.shown(k)[3 + frame.neuron] and not net.shown(k)[3:][frame.neuron + 1 :].any()
    assert trace.scene("matrix").panels
