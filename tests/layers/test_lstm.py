"""LSTM against torch.nn.LSTM (projections included), the plain-loop definition, a hand-worked example,
its frames, the force-a-gate teaching device and its checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz.layers.lstm import lstm_naive
from tests.recurrent_reference import check_trace, close, compare_with_torch, configs

pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout after all but last recurrent layer")


def sig(v):
    return 1 / (1 + math.exp(-v))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs("LSTM"))
def test_matches_torch(cfg):
    compare_with_torch(cfg, naive=lstm_naive)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs("LSTM", max_size=3, max_layers=2, max_seq=4, max_batch=2),
       force=st.one_of(st.none(), st.dictionaries(st.sampled_from("ifo"), st.sampled_from([0.0, 1.0]), max_size=2),
                       st.just({"g": -1.0})))
def test_every_frame_adds_up(cfg, force):
    check_trace(cfg, force)


def test_hand_worked_scalars():
    # weights 1 everywhere but the gates' hidden weights, no bias; x = [1, 2]
    lstm = lv.LSTM(1, 1, bias=False)
    lstm.weight_ih_l0 = [[1.0], [0.5], [1.0], [-1.0]]   # i, f, g, o
    lstm.weight_hh_l0 = [[0.0], [0.0], [2.0], [0.0]]
    x = np.array([[1.0], [2.0]])
    i0, f0, g0, o0 = sig(1), sig(0.5), math.tanh(1), sig(-1)
    c0 = i0 * g0
    h0 = o0 * math.tanh(c0)
    i1, f1, g1, o1 = sig(2), sig(1), math.tanh(2 + 2 * h0), sig(-2)
    c1 = f1 * c0 + i1 * g1
    h1 = o1 * math.tanh(c1)
    out, (h_n, c_n) = lstm(x)
    np.testing.assert_allclose(out.ravel(), [h0, h1], rtol=1e-14)
    np.testing.assert_allclose(c_n, [[c1]], rtol=1e-14)
    trace = lstm.frames(x)
    assert [f.stage for f in trace[:6]] == ["f", "i", "g", "o", "c", "h"]
    assert trace[0].narration == "forget gate f[0] = σ(W_if·x[0] + W_hf·h0) = σ(0.50 + 0.00) = σ(0.50) = 0.62"
    # 0.73×0.76 = 0.5548 would round to 0.55, not c0 = 0.557: the gates are shown with a third decimal
    assert trace[4].narration == f"c[0] = f⊙c0 + i⊙g = 0.622⊙0.00 + 0.731⊙0.762 = {c0:.2f}"
    assert trace[5].narration == f"h[0] = o⊙tanh(c[0]) = 0.27⊙tanh(0.56) = {h0:.2f}"
    assert trace[10].narration == f"c[1] = f⊙c[0] + i⊙g = 0.73⊙0.56 + 0.88⊙{g1:.2f} = {c1:.2f}"


def test_forcing_the_forget_gate_to_one_keeps_everything():
    lstm = lv.LSTM(2, 3, rng=0)
    x = np.random.default_rng(1).standard_normal((6, 2))
    trace = lstm.frames(x, force={"f": 1.0})
    c_steps = np.array([f.result for f in trace if f.stage == "c"])
    ig = np.array([f.vectors["i"] * f.vectors["g"] for f in trace if f.stage == "c"])
    close(c_steps, np.cumsum(ig, axis=0))  # c_t = c_{t-1} + i⊙g: nothing is forgotten
    forced = [f for f in trace if f.stage == "f"]
    assert all(f.forced == 1.0 and "forced to 1.00 (teaching override: not torch)" in f.narration for f in forced)
    assert "forced: f = 1" in trace.scene().title
    # forward with the same force equals the trace; without force it is torch's LSTM again
    close(lstm(x, force={"f": 1.0})[0], trace.output)
    assert not np.allclose(lstm(x)[0], trace.output)
    # f = 0: the cell forgets everything, c_t = i⊙g
    zero = lstm.frames(x, force={"f": 0.0})
    close(np.array([f.result for f in zero if f.stage == "c"]),
          np.array([f.vectors["i"] * f.vectors["g"] for f in zero if f.stage == "c"]))


@pytest.mark.parametrize(("force", "message"), [
    ({"x": 1.0}, "force keys must be among 'i', 'f', 'g', 'o', got 'x'"),
    ({"f": 2.0}, "force['f'] must be a number in [0, 1] (sigmoid range), got 2.0"),
    ({"g": -2.0}, "force['g'] must be a number in [-1, 1] (tanh range), got -2.0"),
    ("f", "force must be a dict such as {'f': 1.0}, got 'f'"),
])
def test_bad_force(force, message):
    lstm = lv.LSTM(1, 2)
    for call in (lambda: lstm.frames(np.ones((2, 1)), force=force), lambda: lstm(np.ones((2, 1)), force=force)):
        with pytest.raises(ValueError) as error:
            call()
        assert message in str(error.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(input_size=2, hidden_size=3, proj_size=3), "proj_size must be < hidden_size, got proj_size=3, hidden_size=3"),
    (dict(input_size=2, hidden_size=3, proj_size=-1), "proj_size must be >= 0, got -1"),
    (dict(input_size=2, hidden_size=0), "hidden_size must be >= 1, got 0"),
    (dict(input_size=2, hidden_size=2, dropout=-0.1), "dropout must be a number in [0, 1], got -0.1"),
    (dict(input_size=2, hidden_size=2, bidirectional=1), "bidirectional must be True or False, got 1"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError) as error:
        lv.LSTM(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(("hx", "message"), [
    ((np.zeros((1, 2)), np.zeros((1, 2))), "h0 must have shape (1, 1)"),     # proj_size 1: h is (1, 1)
    ((np.zeros((1, 1)), np.zeros((1, 1))), "c0 must have shape (1, 2)"),
    ((np.zeros((1, 1)), np.array([[np.nan, 0.0]])), "c0 must be finite"),
    (np.zeros((1, 1)), "hx must be a pair (h0, c0), like torch's, got ndarray"),
])
def test_bad_states(hx, message):
    lstm = lv.LSTM(1, 2, proj_size=1)
    with pytest.raises(ValueError) as error:
        lstm.frames(np.ones((2, 1)), hx)
    assert message in str(error.value)


def test_projection_narration_and_repr():
    lstm = lv.LSTM(2, 3, num_layers=2, proj_size=2, batch_first=True, rng=0)
    assert repr(lstm) == "LSTM(2, 3, num_layers=2, batch_first=True, proj_size=2)"
    assert lstm.weight_hr_l1.shape == (2, 3) and lstm.weight_hh_l1.shape == (12, 2) and lstm.weight_ih_l1.shape == (12, 2)
    trace = lstm.frames(np.ones((1, 2, 2)))
    assert "W_hr·(o⊙tanh(c[1]))" in trace[-1].narration
    assert trace.output.shape == (1, 2, 2) and trace.c_n.shape == (2, 1, 3)


def test_from_torch_copies():
    module = torch.nn.LSTM(2, 4, proj_size=3, bidirectional=True)
    lstm = lv.from_torch(module)
    assert lstm.weight_hr_l0_reverse.shape == (3, 4)
    np.testing.assert_allclose(lstm.weight_hr_l0_reverse, module.weight_hr_l0_reverse.detach().double().numpy())
    lstm.weight_hr_l0[0, 0] = 99.0
    assert module.weight_hr_l0[0, 0].item() != 99.0
