"""GRU against torch.nn.GRU, the plain-loop definition, a hand-worked example, its frames and its checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

import layerviz as lv
from layerviz.layers.gru import gru_naive
from tests.recurrent_reference import check_trace, compare_with_torch, configs

pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout after all but last recurrent layer")


def sig(v):
    return 1 / (1 + math.exp(-v))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs("GRU"))
def test_matches_torch(cfg):
    compare_with_torch(cfg, naive=gru_naive)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs("GRU", max_size=3, max_layers=2, max_seq=4, max_batch=2))
def test_every_frame_adds_up(cfg):
    check_trace(cfg)


def test_hand_worked_scalars():
    gru = lv.GRU(1, 1)
    gru.weight_ih_l0 = [[1.0], [-1.0], [2.0]]   # r, z, n
    gru.weight_hh_l0 = [[0.5], [0.5], [1.0]]
    gru.bias_ih_l0, gru.bias_hh_l0 = [0.0, 0.0, 0.0], [0.0, 0.0, 0.5]
    x, h_prev = 1.0, 0.5
    r, z = sig(1 + 0.25), sig(-1 + 0.25)
    n = math.tanh(2 + r * (0.5 + 0.5))
    h = (1 - z) * n + z * h_prev
    out, h_n = gru(np.array([[x]]), np.array([[h_prev]]))
    assert out[0, 0] == pytest.approx(h, rel=1e-14)
    trace = gru.frames(np.array([[x]]), np.array([[h_prev]]))
    assert [f.stage for f in trace] == ["r", "z", "n", "h"]
    assert trace[2].narration == (f"new gate n[0] = tanh(W_in·x[0] + b_in + r[0]⊙(W_hn·h0 + b_hn)) = "
                                  f"tanh(2.00 + {r:.2f}⊙1.00) = tanh({2 + r:.2f}) = {n:.2f}")
    assert trace[3].narration == f"h[0] = (1−z)⊙n + z⊙h0 = (1−{z:.2f})⊙{n:.2f} + {z:.2f}⊙0.50 = {h:.2f}"


def test_bad_settings_and_inputs():
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        lv.GRU(1, 0)
    with pytest.raises(TypeError):
        lv.GRU(1, 2, proj_size=1)  # torch's GRU has no projection either
    gru = lv.GRU(2, 3, batch_first=True)
    with pytest.raises(ValueError, match=r"x must have shape \(L, H_in\) or \(N, L, H_in\)"):
        gru(np.ones((1, 1, 1, 2)))
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 4, 3\)"):
        gru(np.ones((4, 5, 2)), np.zeros((1, 5, 3)))


def test_from_torch_and_repr():
    module = torch.nn.GRU(2, 3, num_layers=2, bias=False, dropout=0.2)
    gru = lv.from_torch(module)
    assert repr(gru) == "GRU(2, 3, num_layers=2, bias=False, dropout=0.2)"
    assert gru.training and [n for n, _ in gru.named_parameters()] == [n for n, _ in module.named_parameters()]
