"""Dense = Linear + activation, against torch (nn.Linear followed by the activation), by hand, checks, trace."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerviz import Dense

TORCH_ACT = {"relu": torch.nn.ReLU(), "sigmoid": torch.nn.Sigmoid(), "tanh": torch.nn.Tanh(), "identity": torch.nn.Identity()}


@st.composite
def dense_configs(draw):
    in_f, out_f = draw(st.integers(1, 8)), draw(st.integers(1, 6))
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    return (in_f, out_f, draw(st.sampled_from(sorted(TORCH_ACT))), draw(st.booleans()), (*lead, in_f),
            draw(st.integers(0, 2**31 - 1)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=dense_configs())
def test_matches_torch_linear_then_activation(cfg):
    in_f, out_f, act, bias, shape, seed = cfg
    torch.manual_seed(seed)
    linear = torch.nn.Linear(in_f, out_f, bias=bias).double()
    dense = Dense(in_f, out_f, activation=act, bias=bias)
    dense.weight = linear.weight.detach().numpy()
    if bias:
        dense.bias = linear.bias.detach().numpy()
    x = np.random.default_rng(seed).standard_normal(shape)
    with torch.no_grad():
        expected = TORCH_ACT[act](linear(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(dense(x), expected, rtol=1e-10, atol=1e-12)
    trace = dense.frames(x)
    np.testing.assert_allclose(trace.output, expected, rtol=1e-10, atol=1e-12)
    k = len(trace) - 1
    frame = trace[k]
    z = float(frame.products.sum() + frame.bias)
    assert frame.z == pytest.approx(z, rel=1e-10, abs=1e-12)
    assert frame.result == pytest.approx(float(TORCH_ACT[act](torch.tensor(z, dtype=torch.float64))), rel=1e-10, abs=1e-12)


def test_hand_worked_example():
    dense = Dense(2, 2, activation="relu")
    dense.weight = [[1.0, -1.0], [0.5, 0.5]]
    dense.bias = [0.5, -1.0]
    # z0 = 1*1 - 1*3 + 0.5 = -1.5 -> relu 0;  z1 = 0.5*1 + 0.5*3 - 1 = 1.0 -> relu 1.0
    trace = dense.frames([1.0, 3.0])
    assert trace.output.tolist() == [0.0, 1.0]
    assert trace[0].narration == ("z[0] = 1.00×1.00 + (-1.00)×3.00 + 0.50 (bias) = -1.50; "
                                  "a[0] = relu(-1.50) = max(0, -1.50) = 0.00")
    assert trace[1].z == 1.0 and trace[1].result == 1.0


def test_none_is_identity_and_repr():
    dense = Dense(3, 2, activation=None, rng=0)
    np.testing.assert_array_equal(dense(np.ones(3)), dense.linear(np.ones(3)))
    assert repr(dense) == "Dense(3, 2, activation='identity')"
    assert repr(Dense(3, 2, bias=False)) == "Dense(3, 2, activation='relu', bias=False)"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Dense(0, 2), "in_features must be >= 1, got 0"),
        (lambda: Dense(2, -1), "out_features must be >= 1, got -1"),
        (lambda: Dense(2, 2, activation="softmax"), "activation must be one of ['identity', 'relu', 'sigmoid', 'tanh'] or None, got 'softmax'"),
        (lambda: Dense(2, 2)(np.ones((3, 4))), "x must have in_features=2 values on its last axis, got 4"),
        (lambda: Dense(2, 2)([np.nan, 1.0]), "x must be finite"),
    ],
)
def test_errors_name_the_rule(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_scenes_show_z_and_a():
    dense = Dense(3, 2, activation="tanh", rng=0)
    trace = dense.frames(np.ones((2, 3)))
    scene = trace.scene()
    assert [g.name for g in scene.panels] == ["weight", "input", "bias", "z", "output"]
    np.testing.assert_allclose(np.tanh(scene.panel("z").values), scene.panel("output").values)
    net = trace.scene("neurons").networks[0]
    assert net.column_labels[1].startswith("output neurons, tanh")
