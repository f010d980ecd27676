"""Activations against torch, their definitions with :mod:`math`, hand-worked values, checks and traces."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from layerviz import Identity, ReLU, Sigmoid, Softmax, Tanh, from_torch
from layerviz.layers.activation import activation_naive

PAIRS = [(Identity, torch.nn.Identity), (ReLU, torch.nn.ReLU), (Sigmoid, torch.nn.Sigmoid), (Tanh, torch.nn.Tanh)]
finite = st.floats(-40, 40, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(x=arrays(np.float64, array_shapes(min_dims=0, max_dims=4, max_side=4), elements=finite))
def test_elementwise_match_torch(ours, theirs, x):
    layer = from_torch(theirs())
    assert type(layer) is ours
    expected = theirs()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(activation_naive(layer, x), expected, rtol=1e-12, atol=1e-15)
    trace = layer.frames(x)
    assert len(trace) == x.size
    np.testing.assert_allclose(trace.output, expected, rtol=1e-12, atol=1e-15)


@settings(max_examples=100, deadline=None)
@given(x=arrays(np.float64, array_shapes(min_dims=1, max_dims=4, max_side=4), elements=finite), data=st.data())
def test_softmax_matches_torch(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    module = torch.nn.Softmax(dim=dim)
    layer = from_torch(module)
    expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(activation_naive(layer, x), expected, rtol=1e-12, atol=1e-15)
    trace = layer.frames(x)
    assert len(trace) == x.size // x.shape[dim]
    for k, frame in enumerate(trace):
        assert frame.result.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(frame.exps / frame.exps.sum(), frame.result, rtol=1e-12)
        assert trace[k].narration == frame.narration


def test_softmax_is_stable_and_legacy_dim():
    assert np.isfinite(Softmax()(np.array([1000.0, 0.0]))).all()
    np.testing.assert_allclose(Softmax()([0.0, math.log(3.0)]), [0.25, 0.75])
    x = np.random.default_rng(0).standard_normal((2, 3))
    with pytest.warns(UserWarning):
        expected = torch.nn.Softmax(dim=None)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(Softmax(dim=None)(x), expected)


def test_hand_worked_values():
    assert ReLU()([-2.0, 0.0, 3.0]).tolist() == [0.0, 0.0, 3.0]
    assert Sigmoid()([0.0]).tolist() == [0.5]
    assert Tanh()([0.0]).tolist() == [0.0]
    assert Sigmoid()([math.log(3.0)])[0] == pytest.approx(0.75)  # 1 / (1 + 1/3)
    assert Sigmoid()([-800.0])[0] == 0.0 and Sigmoid()([800.0])[0] == 1.0


def test_narrations():
    assert ReLU().frames([[0.5, -0.3]])[1].narration == "out[0,1] = relu(-0.30) = max(0, -0.30) = 0.00"
    assert Sigmoid().frames([0.0])[0].narration == "out[0] = sigmoid(0.00) = 1/(1 + e^0.00) = 0.50"
    assert Tanh().frames(np.float64(0.5))[0].narration == "out = tanh(0.50) = 0.46"
    text = Softmax().frames([[0.0, 0.0]])[0].narration
    assert text.startswith("out[0,:] = softmax(x[0,:]): max m = 0.00") and "out = e^(x−m)/sum = 0.50, 0.50" in text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ReLU()([1.0, np.nan]), "x must be finite, got nan at index (1,)"),
        (lambda: Sigmoid()(np.array([np.inf])), "x must be finite, got inf at index (0,)"),
        (lambda: Tanh()(np.ones((2, 0))), "x must not be empty, got shape (2, 0)"),
        (lambda: ReLU()("abc"), "x must be an array of numbers"),
        (lambda: Softmax(dim=2)(np.ones((2, 2))), "dim must be in [-2, 1] for x of 2 dimensions, got 2"),
        (lambda: Softmax(dim=1.5), "dim must be an integer or None, got 1.5"),
    ],
)
def test_errors_name_the_rule(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_trace_indexing_and_scene():
    x = np.arange(-3.0, 3.0).reshape(2, 3)
    trace = ReLU().frames(x)
    assert [f.where for f in trace] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert trace[-1].where == (1, 2)
    with pytest.raises(IndexError):
        trace[6]
    scene = trace.scene()
    out = scene.panel("output")
    assert out.values.shape == (2, 3, 1) and out.page_size == 1
    for k, frame in enumerate(trace):
        (s, r, c), = scene.highlights[1].cells(k)
        assert out.values[s, r, c] == frame.result and out.reveal[s, r, c] == k
        assert out.page_at(k) == frame.where[0]
    srow = Softmax().frames(x).scene()
    assert {tuple(c) for c in srow.highlights[1].cells(1)} == {(1, 0, 0), (1, 1, 0), (1, 2, 0)}
