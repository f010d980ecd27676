"""LayerNorm against torch.nn.LayerNorm and autograd, by hand, against BatchNorm on the other axis, its checks, its
frames and its scene.

The oracles are independent of layerviz: torch in float64 (outputs, ``.grad`` of the input, weight and bias for a
random ``grad_output``), numbers worked out by hand, numpy's mean and var over the last axes, and the narrations
redone from their text (``tests/narration_redo.py``).
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

import layerviz as lv
from layerviz.layers.layernorm import (PHASES, LayerNorm, LayerNormFrame, LayerNormTrace, layernorm_backward_naive,
                                       layernorm_naive)
from tests.access_time import median_access_time
from tests.layers.test_backward import assert_grads_equal, check_frames, torch_grads
from tests.narration_redo import redo
from tests.test_narration import check_question


@st.composite
def configs(draw):
    normalized = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    return dict(
        normalized_shape=normalized if draw(st.booleans()) or len(normalized) > 1 else normalized[0],
        lead=lead,
        eps=draw(st.one_of(st.sampled_from([1e-5, 1e-3, 0.1, 1.0]), st.floats(1e-6, 2.0))),
        elementwise_affine=draw(st.booleans()),
        bias=draw(st.booleans()),
        randomize=draw(st.booleans()),
        mean=draw(st.floats(-5, 5)),
        scale=draw(st.floats(0.1, 3)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def make_pair(cfg):
    """A torch module (float64, weights random or not) and the layerviz layer built from it, and an input."""
    module = torch.nn.LayerNorm(cfg["normalized_shape"], eps=cfg["eps"], elementwise_affine=cfg["elementwise_affine"],
                                bias=cfg["bias"]).double()
    rng = np.random.default_rng(cfg["seed"])
    if cfg["randomize"]:
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.from_numpy(rng.normal(0.5, 1.0, tuple(p.shape))))
    shape = (*cfg["lead"], *module.normalized_shape)
    return module, lv.from_torch(module), rng.normal(cfg["mean"], cfg["scale"], shape), rng


def _torch_out(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


# -- torch ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs())
def test_matches_torch_forward_and_every_gradient(cfg):
    module, layer, x, rng = make_pair(cfg)
    assert type(layer) is LayerNorm and repr(layer) == repr(module)
    expected = _torch_out(module, x)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layernorm_naive(layer, x), expected, rtol=1e-9, atol=1e-12)
    trace = layer.frames(x)
    n = int(np.prod(module.normalized_shape))
    assert len(trace) == (x.size // n) * (n + 2)
    g = rng.standard_normal(x.shape)
    btrace = trace.backward(g)
    assert_grads_equal(btrace.grads, torch_grads(module, x, g))
    gamma = None if layer.weight is None else layer.weight
    dgamma, dbeta, dx = layernorm_backward_naive(x, layer.normalized_shape, gamma, layer.eps, g)
    np.testing.assert_allclose(btrace.grads["input"], dx, rtol=1e-9, atol=1e-12)
    if layer.weight is not None:
        np.testing.assert_allclose(btrace.grads["weight"], dgamma, rtol=1e-9, atol=1e-12)
    if layer.bias is not None:
        np.testing.assert_allclose(btrace.grads["bias"], dbeta, rtol=1e-9, atol=1e-12)


def test_statistics_are_numpys_over_the_last_axes():
    x = np.random.default_rng(0).normal(2, 3, (2, 3, 4, 5))
    trace = LayerNorm((4, 5)).frames(x)
    np.testing.assert_allclose(trace.mean, x.mean(axis=(2, 3)), rtol=1e-12)
    np.testing.assert_allclose(trace.var, x.var(axis=(2, 3), ddof=0), rtol=1e-12)  # biased, as torch's


def test_the_same_in_training_and_in_eval_mode():
    layer = LayerNorm(3)
    x = np.random.default_rng(1).standard_normal((4, 3))
    train = layer(x)
    np.testing.assert_array_equal(layer.eval()(x), train)
    assert layer.training is False and lv.from_torch(torch.nn.LayerNorm(3).eval()).training is False


def test_a_torch_sequential_with_layer_norm_and_gelu_converts_and_learns_as_torch():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.GELU(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.normal_()
        model[1].bias.normal_()
    layer = lv.from_torch(model)
    assert [type(part).__name__ for part in layer.layers] == ["Linear", "LayerNorm", "GELU", "Linear"]
    x = np.random.default_rng(3).standard_normal((5, 3))
    np.testing.assert_allclose(layer(x), _torch_out(model.double(), x), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(4).standard_normal((5, 2))
    btrace = layer.frames(x).backward(g)
    assert_grads_equal(btrace.grads, torch_grads(model, x, g))
    assert "layer norm step LayerNorm((4,)" in layer.frames(x)[5 * 4 + 1].narration  # after Linear's 20 frames


# -- by hand ----------------------------------------------------------------------------------------


def test_one_token_by_hand():
    # x = [1, 2, 3, 4]: mean 10/4 = 2.5; var ((-1.5)² + (-0.5)² + 0.5² + 1.5²)/4 = 5/4 = 1.25
    trace = LayerNorm(4).frames([1.0, 2.0, 3.0, 4.0])
    assert [f.phase for f in trace] == ["mean", "variance"] + ["normalize"] * 4
    assert trace[0].result == 2.5 and trace[1].result == 1.25
    assert trace[0].narration == "mean = (1.00 + 2.00 + 3.00 + 4.00) / 4 = 10.00 / 4 = 2.50"
    assert trace[1].narration == ("var = ((1.00 − 2.50)² + (2.00 − 2.50)² + (3.00 − 2.50)² + (4.00 − 2.50)²) / 4 "
                                  "= 5.00 / 4 = 1.25")
    assert trace[2].narration == ("out[0] = (1.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = (-1.34) × 1.00 + 0.00 "
                                  "= -1.34")
    std = math.sqrt(1.25 + 1e-5)
    np.testing.assert_allclose(trace.output, [-1.5 / std, -0.5 / std, 0.5 / std, 1.5 / std], rtol=1e-15)
    assert trace[0].question.prompt == "mean = (1.00 + 2.00 + 3.00 + 4.00) / 4 = ?"


def test_two_tokens_with_a_weight_and_a_bias_by_hand():
    layer = LayerNorm(2, eps=0.0)  # torch takes eps = 0; each token here has a variance
    layer.weight, layer.bias = [2.0, 3.0], [0.5, -0.5]
    # token 0 = [1, 3]: mean 2, var 1, x̂ = [-1, 1], out = [2·(-1) + 0.5, 3·1 − 0.5] = [-1.5, 2.5]
    # token 1 = [5, 4]: mean 4.5, var 0.25, x̂ = [1, -1], out = [2.5, -3.5]
    trace = layer.frames([[1.0, 3.0], [5.0, 4.0]])
    np.testing.assert_array_equal(trace.output, [[-1.5, 2.5], [2.5, -3.5]])
    assert trace.mean.tolist() == [2.0, 4.5] and trace.var.tolist() == [1.0, 0.25]
    assert [trace[k].narration.split(" = ")[0] for k in (0, 1, 2, 4, 5, 6)] == [
        "mean[0]", "var[0]", "out[0,0]", "mean[1]", "var[1]", "out[1,0]"]
    assert trace[3].narration == ("out[0,1] = (3.00 − 2.00) / √(1.00 + 0) × 3.00 + (-0.50) = 1.00 × 3.00 + (-0.50) "
                                  "= 2.50")
    frame = trace[3]
    assert (frame.gamma, frame.beta, frame.normalized, frame.std) == (3.0, -0.5, 1.0, 1.0)


def test_a_constant_token_becomes_its_bias():
    layer = LayerNorm(3)
    layer.bias = [0.1, 0.2, 0.3]
    np.testing.assert_allclose(layer([7.0, 7.0, 7.0]), [0.1, 0.2, 0.3])  # x̂ = 0 / √(0 + eps) = 0


def test_it_normalizes_the_axis_batch_norm_does_not():
    # LayerNorm over the features of each row = BatchNorm1d over the rows of the transpose (its "batch" axis)
    x = np.random.default_rng(5).normal(1, 2, (3, 6))
    ours = LayerNorm(6, elementwise_affine=False)(x)
    theirs = lv.BatchNorm1d(3, affine=False, track_running_stats=False)(x.T).T
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    batch = lv.BatchNorm1d(6, affine=False, track_running_stats=False)(x)
    assert not np.allclose(ours, batch)  # and not what batch norm does on the same x
    np.testing.assert_allclose(ours.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(batch.mean(axis=0), 0, atol=1e-12)


# -- frames -----------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs())
def test_every_frame_adds_up_and_random_access_equals_iterating(cfg):
    module, layer, x, rng = make_pair(cfg)
    trace = layer.frames(x)
    frames = list(trace)
    n = trace.count
    for k, frame in enumerate(frames):
        again = trace[k]
        assert again.narration == frame.narration and again.result == frame.result
        assert trace[k - len(trace)].narration == frame.narration
        assert frame.phase == PHASES[min(k % (n + 2), 2)] == trace.phase_of(k)
        done = redo(frame.narration)
        check_question(frame)
        listed = (frame.phase == "mean" and n <= 6) or (frame.phase == "variance" and n <= 4)
        if frame.phase == "normalize":
            assert done.compared and frame.question is not None  # every operand is shown
            (cell,) = frame.cells
            assert frame.result == trace.output[tuple(cell)] and trace.output_frame[tuple(cell)] == k
        else:
            assert (frame.question is not None) == listed
            np.testing.assert_array_equal(frame.values, x[tuple(frame.cells.T)])
            expected = frame.values.mean() if frame.phase == "mean" else frame.values.var()
            assert frame.result == pytest.approx(expected, rel=1e-12, abs=1e-15)
    check_frames(trace.backward(rng.standard_normal(x.shape)))


def test_a_long_group_abridges_its_statistics_and_asks_nothing_of_them():
    trace = LayerNorm(12).frames(np.arange(12.0))
    assert "…" in trace[0].narration and trace[0].question is None
    assert redo(trace[0].narration).compared  # "… = 66.00 / 12 = 5.50": the division can be redone
    assert trace[1].question is None and trace[2].question is not None
    bt = trace.backward(np.linspace(-1, 1, 12))
    m2 = next(f for f in bt if f.grad == "m2")
    assert "(12 products)" in m2.narration and m2.question is None
    redo(m2.narration)


def test_frames_are_read_only_and_do_not_follow_the_layer():
    layer = LayerNorm(3)
    trace = layer.frames([[1.0, 2.0, 4.0]])
    layer.weight = [5.0, 5.0, 5.0]
    assert trace.weight.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError):
        trace.output[0, 0] = 1.0
    frame = trace[2]
    assert isinstance(frame, LayerNormFrame) and np.isnan(frame.output_so_far[0, 1:]).all()
    assert isinstance(trace, LayerNormTrace)


def test_random_access_is_constant_time_on_a_large_input():
    x = np.random.default_rng(0).standard_normal((64, 768))
    start = time.perf_counter()
    trace = LayerNorm(768).frames(x)
    assert time.perf_counter() - start < 1.0
    assert len(trace) == 64 * 770

    for k in (2, 771, len(trace) // 2, len(trace) - 1):
        assert median_access_time(trace, k) < 5e-3, k
    last = trace[-1]
    std = math.sqrt(x[63].var() + 1e-5)
    assert last.result == pytest.approx((x[63, 767] - x[63].mean()) / std, rel=1e-10)
    scene = trace.scene()
    assert scene.panel("input").page_size == 1 and scene.panel("input").page_at(len(trace) - 1) == 63


def test_scene_highlights_follow_the_frames():
    layer = LayerNorm((2, 3))
    layer.weight = np.arange(6.0).reshape(2, 3)
    x = np.random.default_rng(7).standard_normal((2, 2, 3))
    trace = layer.frames(x)
    scene = trace.scene()
    names = [p.name for p in scene.panels]
    assert names == ["input", "mean", "var", "gamma", "beta", "output"]
    by_name = {p.name: p for p in scene.panels}
    light = {(h.panel, h.role): h for h in scene.highlights if not (h.panel == "input" and h.stencil.shape[0] == 1)}
    one_cell_input = next(h for h in scene.highlights if h.panel == "input" and h.stencil.shape[0] == 1)

    def drawn(panel, cells):
        grid = by_name[panel]
        inside = [tuple(c) for c in cells if 0 <= c[0] < grid.values.shape[0] and 0 <= c[1] < grid.values.shape[1]]
        return [grid.values[c] for c in inside]

    for k, frame in enumerate(trace):
        g = k // 8
        assert drawn("mean", light["mean", "stat"].cells(k)) == [frame.mean]
        if frame.phase == "normalize":
            (cell,) = frame.cells
            assert drawn("output", light["output", "output"].cells(k)) == [frame.result]
            assert drawn("input", one_cell_input.cells(k)) == [x[tuple(cell)]]
            assert drawn("gamma", light["gamma", "kernel"].cells(k)) == [layer.weight[tuple(cell[1:])]]
            assert by_name["output"].reveal[(g, *cell[1:])] == k
            assert drawn("var", light["var", "stat"].cells(k)) == [frame.var]
        else:
            assert sorted(drawn("input", light["input", "window"].cells(k))) == sorted(frame.values)
            assert drawn("output", light["output", "output"].cells(k)) == []
    assert by_name["mean"].reveal.ravel().tolist() == [0, 8] and by_name["var"].reveal.ravel().tolist() == [1, 9]


# -- checks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "message"), [
    (lambda: LayerNorm(4)(np.ones((2, 3))),
     "x must end with normalized_shape=(4,) (its last 1 axes), got shape (2, 3)"),
    (lambda: LayerNorm((2, 3)).frames(np.ones((3, 2))), "x must end with normalized_shape=(2, 3)"),
    (lambda: LayerNorm((2, 3))(np.ones(3)), "x must have shape (*, 2, 3), got shape (3,)"),
    (lambda: LayerNorm(4)(np.ones((0, 4))), "x must not be empty, got shape (0, 4)"),
    (lambda: LayerNorm(2)([1.0, np.nan]), "x must be finite, got nan at index (1,)"),
    (lambda: LayerNorm(()), "normalized_shape must hold at least one size, got ()"),
    (lambda: LayerNorm(0), "normalized_shape must hold integers >= 1, got 0"),
    (lambda: LayerNorm((2, -1)), "normalized_shape must hold integers >= 1, got (2, -1)"),
    (lambda: LayerNorm(2.5), "normalized_shape must be an int or a tuple of ints, got 2.5"),
    (lambda: LayerNorm("a"), "normalized_shape must be an int or a tuple of ints, got 'a'"),
    (lambda: LayerNorm(True), "normalized_shape must be an int or a tuple of ints, got True"),
    (lambda: LayerNorm(2, eps=float("nan")), "eps must be a finite number, got nan"),
    (lambda: LayerNorm(2, eps="1e-5"), "eps must be a finite number, got '1e-5'"),
    (lambda: LayerNorm(2, elementwise_affine=1), "elementwise_affine must be True or False, got 1"),
    (lambda: LayerNorm(2, bias="no"), "bias must be True or False, got 'no'"),
    (lambda: setattr(LayerNorm(2), "weight", np.ones(3)), "weight must have shape (2,), got shape (3,)"),
    (lambda: setattr(LayerNorm(2, elementwise_affine=False), "weight", np.ones(2)),
     "weight must be None when elementwise_affine=False, got ndarray"),
    (lambda: setattr(LayerNorm(2, bias=False), "bias", np.ones(2)),
     "bias must be None when elementwise_affine=False or bias=False, got ndarray"),
    (lambda: LayerNorm(2, eps=0.0)([3.0, 3.0]), "eps must make var + eps > 0 to take its square root, got eps=0.0"),
])
def test_errors_name_the_parameter_and_the_rule(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_a_setting_changed_later_is_checked_when_it_runs():
    layer = LayerNorm(3)
    layer.normalized_shape = 4  # normalised as the constructor does
    assert layer.normalized_shape == (4,)
    with pytest.raises(ValueError, match=re.escape("weight must have shape (4,) for the layer's normalized_shape")):
        layer(np.ones(4))
    layer = LayerNorm(3)
    layer.elementwise_affine = False
    with pytest.raises(ValueError, match="weight must be None when elementwise_affine=False"):
        layer(np.ones(3))
    with pytest.raises(ValueError, match="normalized_shape must hold integers >= 1"):
        layer.normalized_shape = (3, 0)


def test_eps_as_torch_takes_it():
    # torch refuses no eps: 0 and negatives are taken, and computed with while var + eps > 0
    x = np.array([1.0, 2.0, 3.0, 4.0])
    for eps in (0.0, -1.0):
        module = torch.nn.LayerNorm(4, eps=eps).double()
        np.testing.assert_allclose(LayerNorm(4, eps=eps)(x), _torch_out(module, x), rtol=1e-12)
    # where var + eps <= 0 torch returns NaN; layerviz names eps instead
    assert np.isnan(_torch_out(torch.nn.LayerNorm(4, eps=-10.0).double(), x)).all()
    with pytest.raises(ValueError, match=r"eps must make var \+ eps > 0 .*eps=-10.0 with var = 1.25 for group 0"):
        LayerNorm(4, eps=-10.0)(x)


def test_normalized_shape_as_torch_takes_it():
    for shape in (4, [4], (4,), torch.Size([4]), np.int64(4)):
        assert LayerNorm(shape).normalized_shape == torch.nn.LayerNorm(shape).normalized_shape == (4,)
    assert repr(LayerNorm((2, 3), eps=0.1, bias=False)) == repr(torch.nn.LayerNorm((2, 3), eps=0.1, bias=False))
    assert repr(LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    layer = LayerNorm(3, elementwise_affine=False)
    assert layer.weight is None and layer.bias is None
    assert lv.LayerNorm is LayerNorm and lv.layers.LayerNorm is LayerNorm
