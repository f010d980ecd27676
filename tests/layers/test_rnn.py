"""RNN against torch.nn.RNN, the plain-loop definition, a hand-worked example, its frames and its checks.

Oracles independent of layerviz: torch's outputs and autograd, numbers worked out by hand, and the
formula of torch's documentation (tests/recurrent_reference.py) applied to each frame's vectors.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

import layerviz as lv
from layerviz.layers.rnn import hidden_gradient_norms, rnn_naive
from tests.recurrent_reference import check_trace, close, compare_with_torch, configs

pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout after all but last recurrent layer")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs("RNN"))
def test_matches_torch(cfg):
    compare_with_torch(cfg, naive=rnn_naive)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs("RNN", max_size=3, max_layers=2, max_seq=4, max_batch=2))
def test_every_frame_adds_up(cfg):
    check_trace(cfg)


def test_hand_worked_scalars():
    # h0 = tanh(1*1 + 0.5*0 + 0.1) = tanh(1.1) = 0.800499..., h1 = tanh(1*(-1) + 0.5*h0 + 0.1)
    rnn = lv.RNN(1, 1)
    rnn.weight_ih_l0, rnn.weight_hh_l0 = [[1.0]], [[0.5]]
    rnn.bias_ih_l0, rnn.bias_hh_l0 = [0.1], [0.0]
    out, h_n = rnn(np.array([[1.0], [-1.0]]))
    h0 = math.tanh(1.1)
    h1 = math.tanh(-1 + 0.5 * h0 + 0.1)
    np.testing.assert_allclose(out.ravel(), [h0, h1], rtol=1e-15)
    np.testing.assert_allclose(h_n, [[h1]], rtol=1e-15)
    trace = rnn.frames(np.array([[1.0], [-1.0]]))
    assert [f.stage for f in trace[:4]] == ["ih", "hh", "sum", "h"]
    assert trace[0].narration == "W_ih·x[0] + b_ih = 1.00×1.00 + 0.10 = 1.10"
    assert trace[3].narration == "h[0] = tanh(a[0]) = tanh(1.10) = 0.80"
    assert trace[5].narration == "W_hh·h[0] + b_hh = 0.50×0.80 + 0.00 = 0.40"
    assert trace[6].narration == "a[1] = (-0.90) + 0.40 = -0.50"
    assert trace[7].narration == "h[1] = tanh(a[1]) = tanh(-0.50) = -0.46"


def test_relu_and_labels_of_a_batched_bidirectional_stack():
    rnn = lv.RNN(2, 3, num_layers=2, nonlinearity="relu", bidirectional=True, rng=1)
    trace = rnn.frames(np.ones((4, 2, 2)))
    assert trace[-1].narration.startswith("[sample 1, layer 1, backward] h[0] = relu(a[0])")
    assert (trace.output >= 0).all()
    assert repr(rnn) == "RNN(2, 3, num_layers=2, nonlinearity='relu', bidirectional=True)"


def test_access_is_constant_time():
    rnn = lv.RNN(2, 2, rng=0)
    trace = rnn.frames(np.random.default_rng(0).standard_normal((20_000, 8, 2)))
    assert len(trace) == 640_000
    start = time.perf_counter()
    for k in (0, 1, len(trace) // 2, -2, -1):
        trace[k]
    assert time.perf_counter() - start < 0.05


def test_trace_is_read_only_and_independent_of_later_changes():
    rnn = lv.RNN(1, 2, rng=0)
    trace = rnn.frames(np.ones((3, 1)))
    before = trace.output.copy()
    rnn.weight_hh_l0 = np.zeros((2, 2))
    np.testing.assert_array_equal(trace.output, before)
    with pytest.raises(ValueError):
        trace[0].result[0] = 1.0
    with pytest.raises(TypeError):
        trace[0].vectors["x"] = np.zeros(1)


def test_dropout_applies_between_layers_in_training_only():
    rnn = lv.RNN(2, 3, num_layers=2, dropout=0.5, rng=3)
    x = np.random.default_rng(0).standard_normal((5, 2))
    evaluated = rnn.eval()(x)[0]
    trained = lv.RNN(2, 3, num_layers=2, dropout=0.5, rng=3)
    trained_out = trained(x)[0]  # training mode by default, like torch
    assert not np.allclose(evaluated, trained_out)
    # what layer 1 read: layer 0's output, zeroed where the mask says, the rest doubled
    again = lv.RNN(2, 3, num_layers=2, dropout=0.5, rng=3)
    trace = again.frames(x)
    layer0 = np.array([f.result for f in trace if f.layer == 0 and f.stage == "h"])
    layer1_in = np.array([f.vectors["x"] for f in trace if f.layer == 1 and f.stage == "ih"])
    assert set(np.round(layer1_in / layer0, 12).ravel()) <= {0.0, 2.0}
    close(trace.output, trained_out)  # same seed, same mask as the call


def test_vanishing_gradient_norms_match_torch_autograd():
    torch.manual_seed(0)
    module = torch.nn.RNN(2, 4).double()
    rnn = lv.from_torch(module)
    x = np.random.default_rng(0).standard_normal((12, 2))
    norms = hidden_gradient_norms(rnn, x)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        states = module(xt)[0]
    for t in (0, 5, 10, 11):
        def run_from(h, t=t):
            out, _ = module(xt[t + 1:], h[None]) if t + 1 < len(x) else (h[None], None)
            return out[-1]
        jac = torch.autograd.functional.jacobian(run_from, states[t]).numpy()
        np.testing.assert_allclose(norms[t], np.linalg.norm(jac, 2), rtol=1e-9)
    assert norms[-1] == 1.0
    assert norms[0] < norms[-2]  # it shrinks with the distance
    with pytest.raises(ValueError, match="num_layers=1"):
        hidden_gradient_norms(lv.RNN(1, 1, num_layers=2), np.ones((3, 1)))


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(input_size=2, hidden_size=0), "hidden_size must be >= 1, got 0"),
    (dict(input_size=0, hidden_size=2), "input_size must be >= 1, got 0"),
    (dict(input_size=2, hidden_size=2, num_layers=0), "num_layers must be >= 1, got 0"),
    (dict(input_size=2, hidden_size=2, nonlinearity="sigmoid"), "nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"),
    (dict(input_size=2, hidden_size=2, dropout=1.5), "dropout must be a number in [0, 1], got 1.5"),
    (dict(input_size=2, hidden_size=2, bias="yes"), "bias must be True or False"),
    (dict(input_size=2.5, hidden_size=2), "input_size must be an integer, got 2.5"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError) as error:
        lv.RNN(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(("x", "h0", "message"), [
    (np.ones((3, 3)), None, "x must have input_size=2 features (last axis), got 3 (shape (3, 3))"),
    (np.ones(3), None, "x must have shape (L, H_in) or (L, N, H_in), got shape (3,)"),
    (np.ones((0, 2)), None, "x must not be empty, got shape (0, 2)"),
    (np.array([[1.0, np.nan]]), None, "x must be finite, got nan at index (0, 1)"),
    (np.ones((3, 2)), np.ones((1, 4)), "h0 must have shape (1, 3)"),
    (np.ones((3, 4, 2)), np.ones((1, 3)), "h0 must have shape (1, 4, 3)"),
    (np.ones((3, 2)), np.array([[0.0, np.inf, 0.0]]), "h0 must be finite"),
])
def test_bad_inputs(x, h0, message):
    rnn = lv.RNN(2, 3)
    for call in (rnn, rnn.frames):
        with pytest.raises(ValueError) as error:
            call(x, h0)
        assert message in str(error.value)


def test_parameters_are_checked():
    rnn = lv.RNN(2, 3)
    with pytest.raises(ValueError, match=r"weight_hh_l0 must have shape \(3, 3\), got shape \(2, 2\)"):
        rnn.weight_hh_l0 = np.zeros((2, 2))
    with pytest.raises(ValueError, match="force is an LSTM teaching device"):
        rnn._check_force({"f": 1.0})


def test_from_torch_round_trip_and_copy():
    module = torch.nn.RNN(3, 2, num_layers=2, bidirectional=True, batch_first=True)  # float32
    rnn = lv.from_torch(module)
    assert rnn.weight_ih_l1_reverse.shape == (2, 4) and rnn.weight_ih_l1_reverse.dtype == np.float64
    rnn.weight_hh_l0[0, 0] = 99.0
    assert module.weight_hh_l0[0, 0].item() != 99.0  # a copy, not a view
    back = torch.nn.RNN(3, 2, num_layers=2, bidirectional=True, batch_first=True).double()
    for name, value in rnn.named_parameters():
        getattr(back, name).data = torch.from_numpy(value.copy())
    again = lv.from_torch(back)
    for (name, a), (_, b) in zip(rnn.named_parameters(), again.named_parameters()):
        np.testing.assert_array_equal(a, b)
