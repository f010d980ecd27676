"""GELU against torch (both forms, outputs and gradients), its erf against :mod:`math`, by hand, its checks, its frames.

The oracles are independent of layerviz: ``torch.nn.GELU`` and autograd in float64, :func:`math.erf`, values of Φ
worked out with :mod:`math`, and the narrations redone from their text (``tests/narration_redo.py``).
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import layerviz as lv
from layerviz.layers.activation import activation_naive
from layerviz.layers.gelu import GELU, erf, normal_cdf, normal_pdf
from tests.layers.test_backward import assert_grads_equal, check_frames, torch_grads
from tests.narration_redo import redo
from tests.test_narration import check_question

FORMS = ("none", "tanh")
values = st.floats(-12, 12, allow_nan=False, allow_infinity=False)


# -- erf --------------------------------------------------------------------------------------------


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_erf_is_within_a_few_units_in_the_last_place_of_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 140_001), np.geomspace(1e-300, 1e-2, 500), -np.geomspace(1e-300, 1e-2, 500),
                        [0.99999999, 1.0, 1.49999999, 1.5, 5.9, 6.0, 27.0]])
    want = np.array([math.erf(v) for v in x])
    got = erf(x)
    assert _ulps(got, want).max() <= 5, x[np.argmax(_ulps(got, want))]
    nonzero = want != 0
    assert (np.abs(got - want)[nonzero] / np.abs(want[nonzero])).max() < 1e-15


@settings(max_examples=300, deadline=None)
@given(v=st.floats(-40, 40, allow_nan=False))
def test_erf_of_any_number(v):
    got = float(erf(v))
    assert abs(got - math.erf(v)) <= 5 * math.ulp(math.erf(v)) or got == math.erf(v)


def test_erf_special_values_and_speed():
    assert erf(0.0) == 0.0 and math.copysign(1, erf(-0.0)) == -1
    assert erf(30.0) == 1.0 and erf(-30.0) == -1.0
    assert float(erf(1e-310)) == pytest.approx(2 / math.sqrt(math.pi) * 1e-310, rel=1e-15)
    x = np.random.default_rng(0).standard_normal(1_000_000) * 3
    start = time.perf_counter()
    erf(x)
    assert time.perf_counter() - start < 3.0  # ~0.15 s: numpy-fast, not a Python loop per value


def test_phi_and_its_density_by_hand():
    assert float(normal_cdf(0.0)) == 0.5
    assert float(normal_cdf(1.0)) == pytest.approx(0.8413447460685429, rel=1e-15)  # tables: Φ(1) = 0.84134
    assert float(normal_cdf(-1.96)) == pytest.approx(0.024997895148220435, rel=1e-13)  # the 2.5% tail
    assert float(normal_pdf(0.0)) == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-15)


# -- torch ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(approximate=st.sampled_from(FORMS),
       x=arrays(np.float64, array_shapes(min_dims=0, max_dims=3, max_side=4), elements=values),
       seed=st.integers(0, 2**31 - 1))
def test_matches_torch_forward_and_backward(approximate, x, seed):
    module = torch.nn.GELU(approximate=approximate)
    layer = lv.from_torch(module)
    assert type(layer) is GELU and layer.approximate == approximate
    expected = module(torch.from_numpy(x)).numpy()
    # 1e-12 relative; torch's 1 + erf(x/√2) itself cancels for x << 0, where only ~1e-16 absolute is meaningful
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(activation_naive(layer, x), expected, rtol=1e-12, atol=1e-15)
    trace = layer.frames(x)
    assert len(trace) == x.size
    g = np.random.default_rng(seed).standard_normal(x.shape)
    assert_grads_equal(trace.backward(g).grads, torch_grads(module, x, g))


def test_a_bad_approximate_is_refused_naming_it():
    with pytest.raises(ValueError, match=re.escape("approximate must be 'none' or 'tanh', got 'x'")):
        GELU("x")
    layer = GELU()
    with pytest.raises(ValueError, match=re.escape("approximate must be 'none' or 'tanh', got None")):
        layer.approximate = None
    assert layer.approximate == "none"
    # torch takes any string when the module is made, and refuses it when it runs
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        torch.nn.GELU(approximate="x")(torch.ones(2))
    with pytest.raises(ValueError, match="approximate must be"):
        lv.from_torch(torch.nn.GELU(approximate="TANH"))


def test_repr_is_torchs():
    for form in FORMS:
        assert repr(GELU(form)) == repr(torch.nn.GELU(approximate=form))
    assert repr(GELU()) == "GELU(approximate='none')"


def test_hand_worked_values():
    exact = GELU()([-1.0, 0.0, 1.0, 3.0])
    # gelu(x) = x Φ(x): Φ(1) = 0.841345 (tables), Φ(3) = 0.998650
    np.testing.assert_allclose(exact, [-0.15865525393145707, 0.0, 0.8413447460685429, 2.99595030590511], rtol=1e-13)
    # tanh form at 1: 0.5 (1 + tanh(0.7978845608 × 1.044715)) = 0.5 (1 + tanh(0.8335625)) = 0.8411920
    assert float(GELU("tanh")([1.0])[0]) == pytest.approx(0.8411919906082768, rel=1e-13)
    # the minimum of gelu, about -0.17 at x ≈ -0.752: the slope Φ(x) + x φ(x) is 0 there
    assert float(GELU()([-0.7517916])[0]) == pytest.approx(-0.16997, abs=1e-5)
    assert abs(GELU().frames([-0.7517916]).backward([1.0]).grads["input"][0]) < 1e-6
    # the slopes at 0: Φ(0) + 0 = 1/2 (both forms)
    for form in FORMS:
        assert lv.GELU(form).frames([0.0]).backward([1.0]).grads["input"][0] == 0.5


# -- frames -----------------------------------------------------------------------------------------


def test_narrations_by_hand():
    trace = GELU().frames([0.5, -1.0])
    assert trace[0].narration == "out[0] = gelu(0.50) = 0.50 × Φ(0.50) = 0.50 × 0.691 = 0.35"  # 0.345 would be a tie
    assert trace[1].narration == "out[1] = gelu(-1.00) = (-1.00) × Φ(-1.00) = (-1.00) × 0.16 = -0.16"
    assert trace[1].question.prompt == "out[1] = gelu(-1.00) = ?"
    text = GELU("tanh").frames([1.0])[0].narration
    assert text == ("out[0] = gelu_tanh(1.00) = 1.00 × ½(1 + tanh(√(2/π) × (1.00 + 0.044715 × 1.00³))) "
                    "= 1.00 × 0.84 = 0.84")
    back = GELU().frames([1.0]).backward([1.0])[0].narration
    assert back == "dx[0] = dout × gelu′(x) = 1.00 × (Φ(1.00) + 1.00 × φ(1.00)) = 1.00 × 1.08 = 1.08"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(approximate=st.sampled_from(FORMS), seed=st.integers(0, 2**31 - 1),
       shape=st.sampled_from([(3,), (2, 3), (1, 2, 2)]))
def test_every_narration_adds_up_and_every_question_is_answerable(approximate, seed, shape):
    x = np.random.default_rng(seed).standard_normal(shape) * 2.5
    trace = GELU(approximate).frames(x)
    frames = list(trace)
    for k, frame in enumerate(frames):
        assert trace[k].narration == frame.narration and trace[k - len(trace)].narration == frame.narration
        done = redo(frame.narration)
        # gelu(x), x × Φ(x) and x × Φ shown each give the result shown; Φ(x) gives Φ shown (exact form)
        assert len(done.compared) >= (3 if approximate == "none" else 2), frame.narration
        check_question(frame)
        assert float(frame.result) == trace.output[frame.where]
    bt = trace.backward(np.random.default_rng(seed + 1).standard_normal(shape))
    check_frames(bt)  # bt[k] equals iterating, each narration redone, each question answerable


def test_scene_highlights_follow_the_frames():
    trace = GELU("tanh").frames(np.linspace(-2, 2, 6).reshape(2, 3))
    scene = trace.scene()
    out = scene.panel("output")
    for k, frame in enumerate(trace):
        (s, r, c), = scene.highlights[1].cells(k)
        assert out.values[s, r, c] == frame.result and out.reveal[s, r, c] == k
    assert scene.title == "GELU(approximate='tanh')"


def test_gelu_in_a_torch_sequential_converts_and_learns_as_torch():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU(), torch.nn.Linear(4, 2),
                                torch.nn.GELU(approximate="tanh"))
    layer = lv.from_torch(model)
    assert [type(l).__name__ for l in layer.layers] == ["Linear", "GELU", "Linear", "GELU"]
    x = np.random.default_rng(1).standard_normal((5, 3))
    np.testing.assert_allclose(layer(x), model.double()(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-15)
    g = np.random.default_rng(2).standard_normal((5, 2))
    assert_grads_equal(layer.frames(x).backward(g).grads, torch_grads(model, x, g))
