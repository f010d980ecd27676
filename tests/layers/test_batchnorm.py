"""BatchNorm1d / BatchNorm2d against torch.nn over sequences of batches, by hand, their checks, their traces.

The oracles are independent of layerviz: torch's modules (outputs and buffers after each call),
numbers worked out by hand, numpy's mean / var(ddof=0 or 1) for the statistics, and the layout of
the scene written out again here (which display cell shows which value of ``x``).
"""

from __future__ import annotations

import html
import math
import re
import time
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from layerviz._format import fixed
from layerviz.layers.batchnorm import (
    MAX_ELEMENT_FRAMES,
    PHASES,
    BatchNorm1d,
    BatchNorm2d,
    BatchNormFrame,
    BatchNormTrace,
    batchnorm_naive,
)
from layerviz.trace import Trace
from tests.access_time import median_access_time

TORCH = {BatchNorm1d: torch.nn.BatchNorm1d, BatchNorm2d: torch.nn.BatchNorm2d}


def _close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def _torch_call(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def _state(layer) -> dict:
    """Everything a call may change, copied."""
    copy = lambda a: None if a is None else np.array(a)
    return dict(weight=copy(layer.weight), bias=copy(layer.bias), running_mean=copy(layer.running_mean),
                running_var=copy(layer.running_var), num_batches_tracked=layer.num_batches_tracked,
                training=layer.training)


def _same_state(a: dict, b: dict, exact: bool = True) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            (np.testing.assert_array_equal if exact else _close)(a[key], b[key])
        else:
            assert a[key] == b[key], key


def _buffers_equal_torch(layer, module) -> None:
    if module.track_running_stats:
        _close(layer.running_mean, module.running_mean.numpy())
        _close(layer.running_var, module.running_var.numpy())
        assert layer.num_batches_tracked == int(module.num_batches_tracked)
    else:
        assert layer.running_mean is None and layer.running_var is None and layer.num_batches_tracked is None


# -- random configurations ---------------------------------------------------------------------


@dataclass
class Config:
    cls: type
    kwargs: dict
    spatial: tuple  # () for (N, C), (L,) or (H, W)
    batches: list  # [(batch size, training?, mean, scale, seed)]
    randomize: bool  # random weight, bias and initial buffers
    seed: int

    def shape(self, n: int) -> tuple:
        return (n, self.kwargs["num_features"], *self.spatial)


@st.composite
def configs(draw, max_batches=4):
    kind = draw(st.sampled_from(["1d (N, C)", "1d (N, C, L)", "2d"]))
    cls = BatchNorm2d if kind == "2d" else BatchNorm1d
    spatial = {"1d (N, C)": (), "1d (N, C, L)": (draw(st.integers(1, 5)),),
               "2d": (draw(st.integers(1, 4)), draw(st.integers(1, 4)))}[kind]
    kwargs = dict(
        num_features=draw(st.integers(1, 4)),
        eps=draw(st.one_of(st.sampled_from([1e-5, 1e-3, 0.1, 1.0]), st.floats(1e-6, 2.0))),
        momentum=draw(st.one_of(st.none(), st.sampled_from([0.0, 0.1, 1.0]), st.floats(0.0, 1.0))),
        affine=draw(st.booleans()),
        track_running_stats=draw(st.booleans()),
        bias=draw(st.booleans()),
    )
    batches = draw(st.lists(st.tuples(st.integers(1, 4), st.booleans(), st.floats(-5, 5), st.floats(0.1, 3),
                                      st.integers(0, 2**31 - 1)), min_size=1, max_size=max_batches))
    return Config(cls, kwargs, spatial, batches, draw(st.booleans()), draw(st.integers(0, 2**31 - 1)))


def make_pair(cfg: Config):
    """A torch module (float64) and the layerviz layer built from it."""
    module = TORCH[cfg.cls](**cfg.kwargs).double()
    rng = np.random.default_rng(cfg.seed)
    c = cfg.kwargs["num_features"]
    if cfg.randomize:
        with torch.no_grad():
            if module.weight is not None:
                module.weight.copy_(torch.from_numpy(rng.normal(1.0, 0.5, c)))
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(rng.normal(0.0, 1.0, c)))
            if module.track_running_stats:
                module.running_mean.copy_(torch.from_numpy(rng.normal(0.0, 2.0, c)))
                module.running_var.copy_(torch.from_numpy(rng.uniform(0.1, 3.0, c)))
                module.num_batches_tracked.fill_(int(rng.integers(0, 6)))
    return module, cfg.cls._from_torch(module)


# -- torch comparison --------------------------------------------------------------------------


@settings(max_examples=320, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs())
def test_matches_torch_over_several_batches(cfg):
    module, layer = make_pair(cfg)
    event(f"{cfg.cls.__name__}, momentum {'None' if cfg.kwargs['momentum'] is None else 'number'}")
    for n, training, mean, scale, seed in cfg.batches:
        module.train(training)
        layer.train(training)
        assert layer.training == module.training == training
        x = np.random.default_rng(seed).normal(mean, scale, cfg.shape(n))
        values_per_channel = x.size // cfg.kwargs["num_features"]
        uses_batch = training or not cfg.kwargs["track_running_stats"]

        if uses_batch and values_per_channel == 1:
            event("one value per channel with batch statistics: both refuse")
            counted = None if module.num_batches_tracked is None else int(module.num_batches_tracked)
            with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
                _torch_call(module, x)
            if counted is not None:
                # torch counts the batch before refusing it (num_batches_tracked += 1 comes first in
                # _BatchNorm.forward); layerviz leaves a refused call without effect. Undo torch's count.
                module.num_batches_tracked.fill_(counted)
            before = _state(layer)
            with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
                layer(x)
            with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
                layer.frames(x)
            _same_state(_state(layer), before)
            continue

        # frames(x) first: the same numbers as the call, and no change to the layer
        before = _state(layer)
        trace = layer.frames(x)
        _same_state(_state(layer), before)

        x_before = x.copy()
        expected = _torch_call(module, x)
        got = layer(x)
        np.testing.assert_array_equal(x, x_before)  # the input is not modified
        assert got.shape == x.shape == expected.shape
        _close(got, expected)
        _close(trace.output, expected)
        _buffers_equal_torch(layer, module)
        if training and cfg.kwargs["track_running_stats"]:
            _close(trace.new_running_mean, module.running_mean.numpy())
            _close(trace.new_running_var, module.running_var.numpy())
            assert trace.new_num_batches_tracked == int(module.num_batches_tracked)
        else:
            assert trace.new_running_mean is None and trace.new_num_batches_tracked is None

        # the plain-loop definition, from the state before the call
        twin = cfg.cls._from_torch(module)  # after the call; rebuild the state before it
        for key in ("running_mean", "running_var", "num_batches_tracked"):
            if before[key] is not None:
                setattr(twin, key, before[key])
        twin.train(training)
        naive_out, naive_mean, naive_var = batchnorm_naive(twin, x)
        _close(naive_out, expected)
        if training and cfg.kwargs["track_running_stats"]:
            _close(naive_mean, module.running_mean.numpy())
            _close(naive_var, module.running_var.numpy())
        else:
            assert naive_mean is None and naive_var is None

    # what is left after the sequence converts back to the same layer
    again = cfg.cls._from_torch(module)
    _same_state(_state(again), _state(layer), exact=False)


def test_layerviz_defaults_equal_torch_defaults():
    for cls in (BatchNorm1d, BatchNorm2d):
        for kwargs in ({}, dict(affine=False), dict(track_running_stats=False), dict(bias=False)):
            module = TORCH[cls](3, **kwargs)
            layer = cls(3, **kwargs)
            own = _state(layer)
            theirs = _state(cls._from_torch(module))
            _same_state(own, theirs)
            assert repr(layer) == repr(module)
    layer = BatchNorm2d(2)
    np.testing.assert_array_equal(layer.weight, [1.0, 1.0])
    np.testing.assert_array_equal(layer.bias, [0.0, 0.0])
    np.testing.assert_array_equal(layer.running_mean, [0.0, 0.0])
    np.testing.assert_array_equal(layer.running_var, [1.0, 1.0])
    assert layer.num_batches_tracked == 0 and layer.training
    assert (layer.eps, layer.momentum, layer.affine, layer.track_running_stats) == (1e-5, 0.1, True, True)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (BatchNorm1d, dict(num_features=3)),
        (BatchNorm1d, dict(num_features=1, eps=1e-3, momentum=None)),
        (BatchNorm1d, dict(num_features=4, momentum=0.5, affine=False)),
        (BatchNorm2d, dict(num_features=2, eps=0.1, track_running_stats=False)),
        (BatchNorm2d, dict(num_features=5, affine=True, bias=False)),
        (BatchNorm2d, dict(num_features=16, momentum=None, affine=False, track_running_stats=False)),
    ],
)
def test_repr_is_torchs(cls, kwargs):
    assert repr(cls(**kwargs)) == repr(TORCH[cls](**kwargs))


def test_from_torch_copies_everything_and_shares_nothing():
    module = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=None)  # float32
    with torch.no_grad():
        module.weight.copy_(torch.tensor([1.5, -2.0, 0.25]))
        module.bias.copy_(torch.tensor([0.5, 0.0, -1.0]))
        module.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0]))
        module.running_var.copy_(torch.tensor([0.5, 4.0, 9.0]))
        module.num_batches_tracked.fill_(7)
    module.eval()
    layer = BatchNorm2d._from_torch(module)
    assert not layer.training
    assert (layer.eps, layer.momentum, layer.num_batches_tracked) == (1e-3, None, 7)
    assert layer.weight.dtype == np.float64
    np.testing.assert_array_equal(layer.weight, [1.5, -2.0, 0.25])
    np.testing.assert_array_equal(layer.bias, [0.5, 0.0, -1.0])
    np.testing.assert_array_equal(layer.running_mean, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(layer.running_var, [0.5, 4.0, 9.0])
    with torch.no_grad():
        module.weight.fill_(0.0)
        module.running_mean.fill_(0.0)
    np.testing.assert_array_equal(layer.weight, [1.5, -2.0, 0.25])
    np.testing.assert_array_equal(layer.running_mean, [1.0, 2.0, 3.0])

    bare = BatchNorm1d._from_torch(torch.nn.BatchNorm1d(2, affine=False, track_running_stats=False))
    assert bare.weight is None and bare.bias is None and bare.running_mean is None
    assert bare.num_batches_tracked is None and not bare.affine and not bare.track_running_stats
    no_bias = BatchNorm1d._from_torch(torch.nn.BatchNorm1d(2, bias=False))
    assert no_bias.bias is None and no_bias.weight is not None
    assert repr(no_bias) == repr(torch.nn.BatchNorm1d(2, bias=False))


def test_float32_module_gives_the_float64_batchnorm_of_its_numbers():
    torch.manual_seed(0)
    module = torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        module.weight.normal_()
        module.bias.normal_()
    layer = BatchNorm1d._from_torch(module)
    x = np.random.default_rng(0).normal(2.0, 3.0, (5, 3, 4))
    _close(layer(x), _torch_call(module.double(), x))
    _buffers_equal_torch(layer, module)


def test_momentum_none_is_the_average_of_all_batches():
    """Cumulative moving average: after t batches, the plain mean of the t batch means and unbiased variances."""
    layer = BatchNorm1d(2, momentum=None)
    rng = np.random.default_rng(5)
    batches = [rng.normal(loc, 1.0 + i, (4 + i, 2, 3)) for i, loc in enumerate([0.0, 5.0, -3.0, 10.0])]
    for t, x in enumerate(batches, start=1):
        layer(x)
        seen = batches[:t]
        means = [b.mean(axis=(0, 2)) for b in seen]
        variances = [b.transpose(1, 0, 2).reshape(2, -1).var(axis=1, ddof=1) for b in seen]
        _close(layer.running_mean, np.mean(means, axis=0))
        _close(layer.running_var, np.mean(variances, axis=0))
        assert layer.num_batches_tracked == t


def test_momentum_none_counts_from_the_batches_already_tracked():
    layer = BatchNorm1d(1, momentum=None)
    layer.running_mean, layer.running_var, layer.num_batches_tracked = [4.0], [2.0], 3
    trace = layer.frames(np.array([[0.0], [8.0]]))  # mean 4 -> still 4; unbiased var 32
    assert trace.factor == 0.25 and trace.new_num_batches_tracked == 4
    np.testing.assert_allclose(trace.new_running_var, [0.75 * 2.0 + 0.25 * 32.0])
    assert trace[-1].narration.startswith("running_var[0] = 3/4 × 2.00 + 1/4 × 32.00 = 9.50")


def test_momentum_zero_and_one():
    x = np.array([[1.0], [3.0]])  # mean 2, unbiased variance 2
    frozen = BatchNorm1d(1, momentum=0.0)
    frozen(x)
    np.testing.assert_array_equal(frozen.running_mean, [0.0])
    np.testing.assert_array_equal(frozen.running_var, [1.0])
    assert frozen.num_batches_tracked == 1
    latest = BatchNorm1d(1, momentum=1.0)
    latest(x)
    np.testing.assert_array_equal(latest.running_mean, [2.0])
    np.testing.assert_array_equal(latest.running_var, [2.0])


# -- hand-worked examples ----------------------------------------------------------------------


def test_hand_worked_one_channel_1_2_3_4():
    # mean (1+2+3+4)/4 = 2.5; biased variance (2.25+0.25+0.25+2.25)/4 = 1.25; unbiased 5/3
    bn = BatchNorm1d(1)
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    std = math.sqrt(1.25 + 1e-5)
    expected = [[-1.5 / std], [-0.5 / std], [0.5 / std], [1.5 / std]]
    trace = bn.frames(x)
    np.testing.assert_allclose(trace.output, expected, rtol=1e-14)
    np.testing.assert_allclose(trace.output.ravel(), [-1.3416354, -0.4472118, 0.4472118, 1.3416354], atol=1e-7)
    np.testing.assert_allclose(trace.new_running_mean, [0.25], rtol=1e-14)
    np.testing.assert_allclose(trace.new_running_var, [0.9 + 0.1 * 5 / 3], rtol=1e-14)
    assert [f.phase for f in trace] == ["mean", "variance"] + ["normalize"] * 4 + ["update"] * 2
    assert [f.narration for f in trace] == [
        "mean[0] = (1.00 + 2.00 + 3.00 + 4.00) / 4 = 10.00 / 4 = 2.50",
        "var[0] = ((1.00 − 2.50)² + (2.00 − 2.50)² + (3.00 − 2.50)² + (4.00 − 2.50)²) / 4 = 5.00 / 4 = 1.25",
        "out[0,0] = (1.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = (-1.34) × 1.00 + 0.00 = -1.34",
        "out[1,0] = (2.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = (-0.45) × 1.00 + 0.00 = -0.45",
        "out[2,0] = (3.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = 0.45 × 1.00 + 0.00 = 0.45",
        "out[3,0] = (4.00 − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00 = 1.34 × 1.00 + 0.00 = 1.34",
        "running_mean[0] = 0.9 × 0.00 + 0.1 × 2.50 = 0.25   (num_batches_tracked: 0 → 1)",
        "running_var[0] = 0.9 × 1.00 + 0.1 × 1.67 = 1.07   (unbiased: 1.25 × 4/3 = 1.67)",
    ]
    # frames showed the update; the layer only changes when called
    np.testing.assert_array_equal(bn.running_mean, [0.0])
    np.testing.assert_array_equal(bn.running_var, [1.0])
    assert bn.num_batches_tracked == 0
    np.testing.assert_allclose(bn(x), expected, rtol=1e-14)
    np.testing.assert_allclose(bn.running_mean, [0.25], rtol=1e-14)
    np.testing.assert_allclose(bn.running_var, [1.0 + 1 / 15], rtol=1e-14)
    assert bn.num_batches_tracked == 1


def test_hand_worked_2d_gamma_beta_and_eval():
    # channel 0 holds 0, 2 (sample 0) and 4, 6 (sample 1): mean 3, variance (9+1+1+9)/4 = 5
    # channel 1 holds 1, 1, 1, 1: mean 1, variance 0 -> every output is beta
    bn = BatchNorm2d(2, eps=0.25, affine=True)
    bn.weight = [2.0, 3.0]
    bn.bias = [10.0, -1.0]
    x = np.array([[[[0.0, 2.0]], [[1.0, 1.0]]], [[[4.0, 6.0]], [[1.0, 1.0]]]])  # (2, 2, 1, 2)
    out = bn(x)
    std = math.sqrt(5.25)
    np.testing.assert_allclose(out[:, 0, 0, :], [[10 - 6 / std, 10 - 2 / std], [10 + 2 / std, 10 + 6 / std]],
                               rtol=1e-14)
    np.testing.assert_array_equal(out[:, 1], np.full((2, 1, 2), -1.0))
    np.testing.assert_allclose(bn.running_mean, [0.3, 0.9 * 0 + 0.1 * 1.0], rtol=1e-14)
    np.testing.assert_allclose(bn.running_var, [0.9 + 0.1 * 20 / 3, 0.9], rtol=1e-14)

    bn.eval()
    bn.running_mean, bn.running_var = [1.0, -2.0], [3.75, 0.0]  # sqrt(3.75 + 0.25) = 2, sqrt(0.25) = 0.5
    y = bn(np.array([[[[5.0]], [[-1.0]]]]))  # a batch of one is fine in eval mode
    np.testing.assert_allclose(y.ravel(), [(5 - 1) / 2 * 2 + 10, (-1 + 2) / 0.5 * 3 - 1], rtol=1e-14)
    np.testing.assert_allclose(bn.running_mean, [1.0, -2.0])  # eval changes nothing
    trace = bn.frames(np.array([[[[5.0]], [[-1.0]]]]))
    assert [f.phase for f in trace] == ["normalize", "normalize"]
    assert trace[0].narration == ("out[0,0,0,0] = (5.00 − 1.00) / √(3.75 + 0.25) × 2.00 + 10.00 = 2.00 × 2.00 "
                                  "+ 10.00 = 14.00   (eval: running_mean[0], running_var[0])")


def test_hand_worked_without_affine_and_with_negative_numbers():
    bn = BatchNorm1d(1, affine=False, eps=1.0)
    trace = bn.frames(np.array([[-3.0], [-1.0]]))  # mean -2, variance 1, sqrt(1 + 1)
    assert trace[0].narration == "mean[0] = ((-3.00) + (-1.00)) / 2 = -4.00 / 2 = -2.00"
    assert trace[1].narration == "var[0] = ((-3.00 − (-2.00))² + (-1.00 − (-2.00))²) / 2 = 2.00 / 2 = 1.00"
    assert trace[2].narration == "out[0,0] = (-3.00 − (-2.00)) / √(1.00 + 1) = -0.71"
    assert trace[2].result == pytest.approx(-1 / math.sqrt(2), rel=1e-14)
    assert trace[2].gamma == 1.0 and trace[2].beta == 0.0


def test_track_running_stats_false_uses_the_batch_in_eval_mode_too():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    bn = BatchNorm1d(2, track_running_stats=False).eval()
    # channel 0: mean 2, variance 1; channel 1: mean 20, variance 100
    low, high = 1 / math.sqrt(1 + 1e-5), 10 / math.sqrt(100 + 1e-5)
    np.testing.assert_allclose(bn(x), [[-low, -high], [low, high]], rtol=1e-14)
    assert bn.running_mean is None and bn.num_batches_tracked is None
    trace = bn.frames(x)
    assert [f.phase for f in trace] == ["mean", "mean", "variance", "variance"] + ["normalize"] * 4
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when using batch statistics"):
        bn(np.ones((1, 2)))


# -- argument checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((0,), {}, r"num_features must be >= 1, got 0"),
        ((-2,), {}, r"num_features must be >= 1, got -2"),
        ((2.5,), {}, r"num_features must be an integer, got 2.5"),
        ((True,), {}, r"num_features must be an integer, got True"),
        ((2,), dict(eps=0), r"eps must be a number > 0, got 0"),
        ((2,), dict(eps=-1e-5), r"eps must be a number > 0, got -1e-05"),
        ((2,), dict(eps=float("nan")), r"eps must be a number > 0, got nan"),
        ((2,), dict(eps=float("inf")), r"eps must be a number > 0, got inf"),
        ((2,), dict(eps="1e-5"), r"eps must be a number > 0, got '1e-5'"),
        ((2,), dict(eps=True), r"eps must be a number > 0, got True"),
        ((2,), dict(momentum=-0.1), r"momentum must be None or a number in \[0, 1\], got -0.1"),
        ((2,), dict(momentum=1.5), r"momentum must be None or a number in \[0, 1\], got 1.5"),
        ((2,), dict(momentum=float("nan")), r"momentum must be None or a number in \[0, 1\], got nan"),
        ((2,), dict(momentum="0.1"), r"momentum must be None or a number in \[0, 1\], got '0.1'"),
        ((2,), dict(momentum=False), r"momentum must be None or a number in \[0, 1\], got False"),
        ((2,), dict(affine=1), r"affine must be True or False, got 1"),
        ((2,), dict(affine=None), r"affine must be True or False, got None"),
        ((2,), dict(track_running_stats="yes"), r"track_running_stats must be True or False, got 'yes'"),
        ((2,), dict(bias=0), r"bias must be True or False, got 0"),
    ],
)
@pytest.mark.parametrize("cls", [BatchNorm1d, BatchNorm2d])
def test_bad_settings_raise_naming_the_parameter(cls, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(*args, **kwargs)


def test_train_takes_a_bool_and_returns_the_layer():
    bn = BatchNorm1d(2)
    assert bn.eval() is bn and not bn.training
    assert bn.train() is bn and bn.training
    assert bn.train(False) is bn and not bn.training
    with pytest.raises(ValueError, match=r"mode must be True or False, got 'eval'"):
        bn.train("eval")
    assert not bn.training  # unchanged by the refused call


@pytest.mark.parametrize(
    "cls, shape, match",
    [
        (BatchNorm1d, (4,), r"x must have shape \(N, C\) or \(N, C, L\), got shape \(4,\)"),
        (BatchNorm1d, (2, 3, 4, 5), r"x must have shape \(N, C\) or \(N, C, L\), got shape \(2, 3, 4, 5\)"),
        (BatchNorm2d, (2, 3, 4), r"x must have shape \(N, C, H, W\), got shape \(2, 3, 4\)"),
        (BatchNorm2d, (2, 3, 4, 4, 1), r"x must have shape \(N, C, H, W\)"),
        (BatchNorm1d, (4, 2), r"x must have num_features=3 channels \(axis 1\), got 2 \(shape \(4, 2\)\)"),
        (BatchNorm2d, (2, 4, 3, 3), r"x must have num_features=3 channels \(axis 1\), got 4"),
        (BatchNorm1d, (0, 3), r"x must not be empty, got shape \(0, 3\)"),
        (BatchNorm1d, (2, 3, 0), r"x must not be empty, got shape \(2, 3, 0\)"),
        (BatchNorm2d, (2, 3, 0, 4), r"x must not be empty"),
        (BatchNorm1d, (1, 3), r"Expected more than 1 value per channel when training, got input size \(1, 3\)"),
        (BatchNorm1d, (1, 3, 1), r"Expected more than 1 value per channel when training, got input size \(1, 3, 1\)"),
        (BatchNorm2d, (1, 3, 1, 1), r"Expected more than 1 value per channel when training"),
    ],
)
def test_bad_inputs_raise(cls, shape, match):
    bn = cls(3)
    before = _state(bn)
    x = np.ones(shape)
    with pytest.raises(ValueError, match=match):
        bn(x)
    with pytest.raises(ValueError, match=match):
        bn.frames(x)
    _same_state(_state(bn), before)


def test_batch_of_one_message_explains_and_eval_accepts_it():
    bn = BatchNorm1d(3)
    with pytest.raises(ValueError) as info:
        bn(np.ones((1, 3)))
    message = str(info.value)
    assert "variance" in message and "eval()" in message and "batch of at least 2" in message
    assert bn.eval()(np.ones((1, 3))).shape == (1, 3)
    assert BatchNorm1d(3)(np.ones((1, 3, 2))).shape == (1, 3, 2)  # two values per channel: fine
    assert BatchNorm2d(3)(np.ones((1, 3, 2, 1))).shape == (1, 3, 2, 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad):
    bn = BatchNorm2d(2)
    x = np.zeros((2, 2, 3, 3))
    x[1, 0, 2, 1] = bad
    with pytest.raises(ValueError, match=r"x must be finite.*\(1, 0, 2, 1\)"):
        bn(x)
    with pytest.raises(ValueError, match=r"x must be finite"):
        bn.frames(x)


def test_non_numeric_input_raises():
    with pytest.raises(ValueError, match=r"x must be an array of numbers"):
        BatchNorm1d(2)([["a", "b"], ["c", "d"]])


def test_parameters_and_buffers_are_checked():
    bn = BatchNorm1d(3)
    before = _state(bn)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), got shape \(2,\)"):
        bn.weight = [1.0, 2.0]
    with pytest.raises(ValueError, match=r"weight must be finite"):
        bn.weight = [1.0, np.nan, 2.0]
    with pytest.raises(ValueError, match=r"weight must be an array of shape \(3,\), got None"):
        bn.weight = None
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        bn.bias = np.zeros((3, 1))
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        bn.running_mean = np.zeros(4)
    with pytest.raises(ValueError, match=r"running_var must be >= 0, got -1.0 at index \(1,\)"):
        bn.running_var = [1.0, -1.0, 1.0]
    with pytest.raises(ValueError, match=r"running_var must be finite"):
        bn.running_var = [1.0, np.inf, 1.0]
    with pytest.raises(ValueError, match=r"num_batches_tracked must be >= 0, got -1"):
        bn.num_batches_tracked = -1
    with pytest.raises(ValueError, match=r"num_batches_tracked must be an integer, got 1.5"):
        bn.num_batches_tracked = 1.5
    _same_state(_state(bn), before)  # refused values leave the old ones in place
    bn.weight = np.array([1, 2, 3])
    assert bn.weight.dtype == np.float64

    bare = BatchNorm2d(2, affine=False, track_running_stats=False)
    with pytest.raises(ValueError, match=r"weight must be None when affine=False, got list"):
        bare.weight = [1.0, 1.0]
    with pytest.raises(ValueError, match=r"bias must be None when affine=False or bias=False"):
        bare.bias = [1.0, 1.0]
    with pytest.raises(ValueError, match=r"running_mean must be None when track_running_stats=False"):
        bare.running_mean = [0.0, 0.0]
    with pytest.raises(ValueError, match=r"running_var must be None when track_running_stats=False"):
        bare.running_var = [1.0, 1.0]
    with pytest.raises(ValueError, match=r"num_batches_tracked must be None when track_running_stats=False"):
        bare.num_batches_tracked = 0
    with pytest.raises(ValueError, match=r"bias must be None when affine=False or bias=False"):
        BatchNorm2d(2, bias=False).bias = [0.0, 0.0]
    with pytest.raises(ValueError, match=r"by_row must be True or False, got 1"):
        BatchNorm1d(1).frames(np.ones((2, 1)), by_row=1)


# -- the trace ---------------------------------------------------------------------------------


@st.composite
def traced(draw):
    """A layer (built from torch, random numbers) in some mode, its torch twin and an input it accepts."""
    cfg = draw(configs(max_batches=1))
    module, layer = make_pair(cfg)
    n, training, mean, scale, seed = cfg.batches[0]
    spatial_size = int(np.prod(cfg.spatial)) if cfg.spatial else 1
    if (training or not cfg.kwargs["track_running_stats"]) and n * spatial_size == 1:
        n = 2
    module.train(training)
    layer.train(training)
    x = np.random.default_rng(seed).normal(mean, scale, cfg.shape(n))
    by_row = draw(st.sampled_from([None, None, True, False]))
    return module, layer, x, by_row


def same_frame(a: BatchNormFrame, b: BatchNormFrame) -> None:
    assert (a.index, a.phase, a.channel, a.count, a.statistic) == (b.index, b.phase, b.channel, b.count, b.statistic)
    np.testing.assert_array_equal(a.cells, b.cells)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.result, b.result)
    assert a.narration == b.narration


def _shows(text: str, value: float) -> bool:
    """Whether ``text``, ending with a number, ends with ``value`` as a narration shows a result: rounded to
    2 decimals, or more on a rounding tie (the operands' decimals are tested in tests/test_narration.py)."""
    shown = re.search(r"(-?\d+\.(\d+))\]?$", text)
    return shown is not None and len(shown.group(2)) >= 2 and shown.group(1) == fixed(value, len(shown.group(2)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=traced())
def test_frames_add_up(case):
    module, layer, x, by_row = case
    before = _state(layer)
    trace = layer.frames(x, by_row=by_row)
    _same_state(_state(layer), before)
    assert isinstance(trace, Trace) and isinstance(trace, BatchNormTrace)

    expected = _torch_call(module, x)  # now torch has updated its buffers, if it does
    _close(trace.output, expected)
    c_count, n_per = x.shape[1], x.size // x.shape[1]
    by_channel = np.moveaxis(x, 1, 0).reshape(c_count, -1)
    batch = layer.training or not layer.track_running_stats
    updates = layer.training and layer.track_running_stats
    if batch:
        mean, var = by_channel.mean(axis=1), by_channel.var(axis=1)
    else:
        mean, var = before["running_mean"], before["running_var"]
    rows = by_row if by_row is not None else x.size > MAX_ELEMENT_FRAMES
    group = (x.shape[0] if x.ndim == 2 else x.shape[-1]) if rows else 1
    counts = {"mean": c_count * batch, "variance": c_count * batch, "normalize": x.size // group,
              "update": 2 * c_count * updates}
    assert len(trace) == sum(counts.values())
    frames = list(trace)
    assert [f.phase for f in frames] == [p for p in PHASES for _ in range(counts[p])]
    starts = np.cumsum([0] + [counts[p] for p in PHASES])[:-1]
    np.testing.assert_array_equal(trace.phase_starts, starts)
    gamma = np.ones(c_count) if before["weight"] is None else before["weight"]
    beta = np.zeros(c_count) if before["bias"] is None else before["bias"]

    normalized_cells = []
    for k, frame in enumerate(frames):
        same_frame(frame, trace[k])
        same_frame(frame, trace[k - len(trace)])
        assert frame.index == k and frame.count == n_per and frame.eps == layer.eps
        c = frame.channel
        np.testing.assert_array_equal(x[tuple(frame.cells.T)] if len(frame.cells) else frame.values, frame.values)
        narration = frame.narration
        if frame.phase == "normalize" and not batch:
            suffix = f"   (eval: running_mean[{c}], running_var[{c}])"
            assert narration.endswith(suffix)
            narration = narration[: -len(suffix)]
        if frame.phase in ("mean", "variance") or (frame.phase == "normalize" and not rows):
            assert _shows(narration, frame.result) and " = " in narration[-20:]
        elif frame.phase == "normalize":
            assert narration.endswith("]") and _shows(narration, frame.result[-1])
        if frame.phase in ("mean", "variance"):
            assert c == (k - starts[PHASES.index(frame.phase)])
            assert (frame.cells[:, 1] == c).all() and len({tuple(i) for i in frame.cells}) == n_per
            assert sorted(frame.values) == sorted(by_channel[c])
            assert frame.mean == pytest.approx(mean[c], rel=1e-12, abs=1e-12)
            if frame.phase == "mean":
                assert frame.var is None
                assert frame.total == pytest.approx(frame.values.sum(), rel=1e-12, abs=1e-12)
                assert frame.result == pytest.approx(frame.total / n_per, rel=1e-12, abs=1e-12)
                assert frame.narration.startswith(f"mean[{c}] = (")
                assert f"/ {n_per} = " in frame.narration and _shows(frame.narration, mean[c])
            else:
                np.testing.assert_allclose(frame.squared_deviations, (frame.values - mean[c]) ** 2, rtol=1e-12,
                                           atol=1e-12)
                assert frame.total == pytest.approx(frame.squared_deviations.sum(), rel=1e-12, abs=1e-12)
                assert frame.result == pytest.approx(frame.total / n_per, rel=1e-10, abs=1e-12)
                assert frame.result == pytest.approx(var[c], rel=1e-10, abs=1e-12)
                assert frame.narration.startswith(f"var[{c}] = (")
        elif frame.phase == "normalize":
            normalized_cells += [tuple(int(i) for i in cell) for cell in frame.cells]
            assert len(frame.cells) == group and (frame.cells[:, 1] == c).all()
            assert frame.mean == pytest.approx(mean[c], rel=1e-12, abs=1e-12)
            assert frame.var == pytest.approx(var[c], rel=1e-10, abs=1e-12)
            assert frame.std == pytest.approx(math.sqrt(var[c] + layer.eps), rel=1e-10)
            np.testing.assert_allclose(frame.normalized, (frame.values - frame.mean) / frame.std, rtol=1e-12,
                                       atol=1e-12)
            assert frame.gamma == gamma[c] and frame.beta == beta[c]
            outputs = np.atleast_1d(frame.result)
            assert (np.ndim(frame.result) == 1) == rows
            np.testing.assert_allclose(outputs, frame.normalized * frame.gamma + frame.beta, rtol=1e-12, atol=1e-12)
            _close(outputs, expected[tuple(frame.cells.T)])
            assert frame.narration.startswith("out[")
            so_far = frame.output_so_far
            assert so_far.shape == x.shape
            done = ~np.isnan(so_far)
            assert done.sum() == len(normalized_cells)
            assert {tuple(int(i) for i in cell) for cell in np.argwhere(done)} == set(normalized_cells)
        else:
            assert frame.cells.shape == (0, x.ndim) and frame.values.shape == (0,)
            which, c_expected = (k - starts[3]) % 2, (k - starts[3]) // 2
            assert c == c_expected
            assert frame.statistic == ("running_mean", "running_var")[which]
            m = layer.momentum if layer.momentum is not None else 1 / (before["num_batches_tracked"] + 1)
            assert frame.factor == pytest.approx(m, rel=1e-15)
            old = before[frame.statistic][c]
            observed = mean[c] if which == 0 else by_channel[c].var(ddof=1)
            assert frame.old == old
            assert frame.observed == pytest.approx(observed, rel=1e-10, abs=1e-12)
            assert frame.result == pytest.approx((1 - m) * old + m * observed, rel=1e-10, abs=1e-12)
            torch_buffer = getattr(module, frame.statistic).numpy()
            assert frame.result == pytest.approx(torch_buffer[c], rel=1e-10, abs=1e-12)
            assert frame.narration.startswith(f"{frame.statistic}[{c}] = ")
            assert _shows(frame.narration.split("   ")[0], frame.result)

    # every output element is computed once, channel by channel (channel-major order)
    assert len(normalized_cells) == x.size == len(set(normalized_cells))
    c_major = [(cell[1], cell[0], *cell[2:]) for cell in normalized_cells]
    assert c_major == sorted(c_major)
    _same_state(_state(layer), before)  # iterating changed nothing either


def test_sequence_indexing_rules():
    trace = BatchNorm2d(2).frames(np.random.default_rng(0).normal(size=(2, 2, 2, 3)))
    frames = list(trace)
    for bad in (len(trace), len(trace) + 5, -len(trace) - 1):
        with pytest.raises(IndexError):
            trace[bad]
    for sl in (slice(None), slice(1, None, 2), slice(-3, None), slice(None, None, -1), slice(5, 2)):
        got = trace[sl]
        expected = [frames[i] for i in range(len(frames))[sl]]
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            same_frame(a, b)
    same_frame(trace[np.int64(len(trace) - 1)], frames[-1])
    for bad in (1.0, "1", True, None):
        with pytest.raises(TypeError):
            trace[bad]
    assert "BatchNormTrace" in repr(trace) and f"{len(trace)} frames" in repr(trace)
    assert "BatchNormFrame(0, mean: mean[0] = " in repr(frames[0])


def test_row_threshold():
    small = np.random.default_rng(0).normal(size=(2, 2, 8, 16))  # 512 values: one frame per element
    big = np.random.default_rng(0).normal(size=(2, 2, 8, 17))  # 544: one frame per row of 17
    assert small.size == MAX_ELEMENT_FRAMES
    t_small, t_big = BatchNorm2d(2).frames(small), BatchNorm2d(2).frames(big)
    assert not t_small.by_row and len(t_small) == 2 + 2 + 512 + 4
    assert t_big.by_row and len(t_big) == 2 + 2 + 2 * 2 * 8 + 4
    frame = t_big[4 + 3]  # channel 0, sample 0, row 3
    np.testing.assert_array_equal(frame.cells, [[0, 0, 3, j] for j in range(17)])
    assert frame.narration.startswith("out[0,0,3,:] = ([")
    table = BatchNorm1d(3).frames(np.arange(600.0).reshape(200, 3))  # (N, C): a row is a channel's column
    assert table.by_row and len(table) == 3 + 3 + 3 + 6
    assert table[7].narration.startswith("out[:,1] = ([1.00, 4.00, 7.00, ") and table[7].cells.shape == (200, 2)
    np.testing.assert_array_equal(table[7].cells[:, 0], np.arange(200))
    forced = BatchNorm1d(1).frames(np.array([[1.0], [2.0], [3.0], [4.0]]), by_row=True)
    assert len(forced) == 1 + 1 + 1 + 2
    assert forced[2].narration == ("out[:,0] = ([1.00, 2.00, 3.00, 4.00] − 2.50) / √(1.25 + 1e-05) × 1.00 + 0.00"
                                   " = [-1.34, -0.45, 0.45, 1.34]")


def test_random_access_is_constant_time():
    bn = BatchNorm2d(16)
    x = np.random.default_rng(0).standard_normal((32, 16, 32, 32))
    start = time.perf_counter()
    trace = bn.frames(x)
    built = time.perf_counter() - start
    assert built < 1.0, f"building the trace took {built:.3f} s"
    assert trace.by_row and len(trace) == 16 + 16 + 32 * 16 * 32 + 32
    trace[0]

    for k in (5, 40, len(trace) // 2, len(trace) - 40, len(trace) - 1):
        elapsed = median_access_time(trace, k)
        assert elapsed < 5e-3, f"trace[{k}] took {elapsed * 1e3:.2f} ms"
    frame = trace[len(trace) - 33]  # the last normalize frame: channel 15, sample 31, row 31
    np.testing.assert_array_equal(frame.cells[0], [31, 15, 31, 0])
    std = math.sqrt(x[:, 15].var() + 1e-5)
    np.testing.assert_allclose(frame.result, (x[31, 15, 31] - x[:, 15].mean()) / std, rtol=1e-10)


def test_trace_is_a_snapshot_and_read_only():
    bn = BatchNorm1d(2)
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    trace = bn.frames(x)
    again = bn.frames(x)  # building twice: the same update shown, the layer untouched
    np.testing.assert_array_equal(trace.new_running_mean, again.new_running_mean)
    assert trace.new_num_batches_tracked == again.new_num_batches_tracked == 1 and bn.num_batches_tracked == 0
    bn.weight = [5.0, 5.0]
    bn(x)  # the layer moves on; the trace keeps what it showed
    np.testing.assert_array_equal(trace.running_mean, [0.0, 0.0])
    np.testing.assert_array_equal(trace.weight, [1.0, 1.0])
    assert trace[4].gamma == 1.0
    x[0, 0] = 100.0
    assert trace.input[0, 0] == 1.0
    for array in (trace.input, trace.output, trace.mean, trace.var, trace.new_running_var, trace[0].values,
                  trace.batch_mean, trace.running_var):
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0


# -- the scene ---------------------------------------------------------------------------------


def display_cell(x_shape, index) -> tuple[int, int, int]:
    """Where the scene draws x[index] (written out from the documented layout, not from the code)."""
    if len(x_shape) == 2:  # one N x C table
        n, c = index
        return (0, n, c)
    if len(x_shape) == 3:  # one N x L grid per channel
        n, c, pos = index
        return (c, n, pos)
    n, c, i, j = index  # the N samples of channel c on page c
    return (c * x_shape[0] + n, i, j)


def visible(grid, highlight, k) -> set:
    """The highlighted cells drawn at frame k, as the renderers clip them (page, rows, columns)."""
    first = grid.page_at(k) * grid.page_size
    _, h, w = grid.values.shape
    return {(int(s), int(r), int(c)) for s, r, c in highlight.cells(k)
            if first <= s < first + grid.page_size and 0 <= r < h and 0 <= c < w}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=traced(), picks=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8))
def test_scene_matches_frames(case, picks):
    module, layer, x, by_row = case
    before = _state(layer)
    trace = layer.frames(x, by_row=by_row)
    scene = trace.scene()
    expected = _torch_call(module, x)
    assert scene.n_frames == len(trace) == len(scene.captions)
    assert scene.title == f"{layer!r}, {'training' if layer.training else 'eval'} mode"
    channels = x.shape[1]
    batch = layer.training or not layer.track_running_stats
    updates = layer.training and layer.track_running_stats

    names = [p.name for p in scene.panels]
    assert names == (["input", "mean", "var"] + ["gamma"] * layer.affine + ["beta"] * (before["bias"] is not None)
                     + ["output"] + ["running"] * updates)
    inp, out, mean_panel, var_panel = (scene.panel(n) for n in ("input", "output", "mean", "var"))
    for index in np.ndindex(*x.shape):
        cell = display_cell(x.shape, index)
        assert inp.values[cell] == x[index]
        assert out.values[cell] == pytest.approx(expected[index], rel=1e-10, abs=1e-12)
    assert inp.values.size == out.values.size == x.size
    by_channel = np.moveaxis(x, 1, 0).reshape(channels, -1)
    stats = (by_channel.mean(axis=1), by_channel.var(axis=1)) if batch else (before["running_mean"],
                                                                              before["running_var"])
    np.testing.assert_allclose(mean_panel.values[0, :, 0], stats[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var_panel.values[0, :, 0], stats[1], rtol=1e-10, atol=1e-12)
    if layer.affine:
        np.testing.assert_array_equal(scene.panel("gamma").values[0, :, 0], before["weight"])
    if updates:
        running = scene.panel("running")
        np.testing.assert_array_equal(running.values[:, :, 0], [before["running_mean"], before["running_var"]])
        _close(running.values[0, :, 1], module.running_mean.numpy())
        _close(running.values[1, :, 1], module.running_var.numpy())
    assert scene.vmax > 0 and all(np.abs(p.values).max() <= scene.vmax for p in scene.panels)

    lit = {}
    for h in scene.highlights:
        lit.setdefault((h.panel, h.role), []).append(h)
    ks = sorted({0, len(trace) - 1, *(int(p * len(trace)) for p in picks)})
    for k in ks:
        frame = trace[k]
        c = frame.channel
        drawn = {key: set().union(*(visible(scene.panel(key[0]), h, k) for h in hs)) for key, hs in lit.items()}
        if x.ndim > 2:
            assert inp.page_at(k) == out.page_at(k) == c  # one channel per page
        reads = {display_cell(x.shape, tuple(cell)) for cell in frame.cells}
        assert drawn[("input", "window")] == reads
        if frame.phase == "normalize":
            assert drawn[("output", "output")] == reads
            assert drawn[("mean", "stat")] == drawn[("var", "stat")] == {(0, c, 0)}
            for name in ("gamma", "beta"):
                if name in names:
                    assert drawn[(name, "kernel")] == {(0, c, 0)}
            for cell, result in zip(frame.cells, np.atleast_1d(frame.result)):
                assert out.values[display_cell(x.shape, tuple(cell))] == result
        else:
            assert drawn[("output", "output")] == set()
            for name in ("gamma", "beta"):
                if name in names:
                    assert drawn[(name, "kernel")] == set()
        if frame.phase == "mean":
            assert drawn[("mean", "stat")] == {(0, c, 0)} and drawn[("var", "stat")] == set()
        if frame.phase == "variance":
            assert drawn[("mean", "stat")] == drawn[("var", "stat")] == {(0, c, 0)}
        if updates:
            which = 0 if frame.statistic == "running_mean" else 1
            if frame.phase == "update":
                assert drawn[("running", "stat")] == {(which, c, 0)}
                assert drawn[("running", "output")] == {(which, c, 1)}
                assert scene.panel("running").values[which, c, 1] == frame.result
                assert drawn[("mean" if which == 0 else "var", "stat")] == {(0, c, 0)}
            else:
                assert drawn[("running", "stat")] == drawn[("running", "output")] == set()

        # what is shown so far: statistics, outputs, new running statistics
        shown_out = out.reveal <= k
        for index in np.ndindex(*x.shape):
            assert shown_out[display_cell(x.shape, index)] == (not np.isnan(frame.output_so_far[index]))
        if batch:
            n_stats = channels
            np.testing.assert_array_equal(mean_panel.reveal[0, :, 0] <= k, np.arange(channels) <= k)
            np.testing.assert_array_equal(var_panel.reveal[0, :, 0] <= k, np.arange(channels) + n_stats <= k)
        else:
            assert mean_panel.reveal is None and var_panel.reveal is None
        if updates:
            running = scene.panel("running")
            assert (running.reveal[:, :, 0] <= k).all()
            done_updates = max(0, k - trace.phase_starts[3] + 1)
            np.testing.assert_array_equal((running.reveal[:, :, 1] <= k).T.ravel(), np.arange(2 * channels) <
                                          done_updates)
        assert scene.captions[k] == frame.narration
    assert scene.captions[:3] == [f.narration for f in trace[:3]]


def test_scene_of_a_table_shows_channels_as_columns():
    x = np.array([[1.0, 10.0, -1.0], [3.0, 30.0, -3.0]])
    trace = BatchNorm1d(3).frames(x)
    scene = trace.scene()
    inp = scene.panel("input")
    assert inp.values.shape == (1, 2, 3) and inp.page is None
    np.testing.assert_array_equal(inp.values[0], x)
    # frame 1: the mean of channel 1 reads the column of channel 1
    window = next(h for h in scene.highlights if h.panel == "input" and h.stencil.shape[0] == 2)
    assert visible(inp, window, 1) == {(0, 0, 1), (0, 1, 1)}
    np.testing.assert_array_equal(scene.panel("mean").values[0, :, 0], [2.0, 20.0, -2.0])


def test_scene_vmax_without_values_is_positive():
    bn = BatchNorm1d(1, affine=False, track_running_stats=False)
    assert bn.frames(np.zeros((2, 1))).scene().vmax > 0


def test_scene_draws_with_matplotlib():
    from layerviz import mpl

    trace = BatchNorm2d(2).frames(np.random.default_rng(0).normal(3, 2, (2, 2, 3, 3)))
    figure = mpl.draw_frame(trace.scene(), len(trace) - 1)
    assert len(figure.axes) > 5


# -- the explorer and the notebook helpers -----------------------------------------------------


def test_explorer_initial_trace_and_recompute():
    from layerviz.ui.batchnorm import batchnorm_explorer

    explorer = batchnorm_explorer()
    assert explorer.error.value == ""
    trace = explorer.trace
    assert isinstance(trace.layer, BatchNorm2d) and trace.input.shape == (4, 2, 4, 4) and trace.training
    assert explorer.player.n_frames == len(trace) == 2 + 2 + 128 + 4
    assert "training mode" in explorer.summary.value and "64 values per channel" in explorer.summary.value
    explorer.controls["mode"].value = "eval"
    assert not explorer.trace.training and explorer.player.n_frames == 128
    explorer.controls["layer"].value = "BatchNorm1d"
    explorer.controls["size"].value = 0
    assert explorer.trace.input.shape == (4, 2) and isinstance(explorer.trace.layer, BatchNorm1d)
    explorer.controls["momentum"].value = "None"
    assert explorer.trace.layer.momentum is None


def test_explorer_output_equals_the_layer_on_the_same_settings():
    from layerviz.ui.batchnorm import batchnorm_explorer, batchnorm_input

    explorer = batchnorm_explorer(warmup=3, gamma=2.0, beta=-1.0, eps=0.1, seed=4)
    layer = BatchNorm2d(2, eps=0.1)
    layer.weight, layer.bias = [2.0, 2.0], [-1.0, -1.0]
    for seed in (5, 6, 7):
        layer(np.random.default_rng(seed).normal(3.0, 2.0, (4, 2, 4, 4)))
    x = batchnorm_input("BatchNorm2d", 4, 2, 4, "random", 3.0, 2.0, seed=4)
    np.testing.assert_array_equal(x, np.random.default_rng(4).normal(3.0, 2.0, (4, 2, 4, 4)))
    _close(explorer.trace.output, layer.frames(x).output)
    _close(explorer.trace.running_mean, layer.running_mean)
    assert explorer.trace.num_batches_tracked == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"layer": "BatchNorm1d", "size": 0, "batch_size": 1}, "Expected more than 1 value per channel when training"),
        ({"layer": "BatchNorm1d", "input": "digits"}, "input 'digits' are images"),
        ({"size": 0}, "size must be >= 1 for BatchNorm2d"),
        ({"scale": -1.0}, "scale must be >= 0"),
    ],
)
def test_explorer_invalid_settings_show_the_message(changes, message):
    from layerviz.ui.batchnorm import batchnorm_explorer

    explorer = batchnorm_explorer()
    *first, (last_name, last_value) = changes.items()
    for name, value in first:
        explorer.controls[name].value = value
    before = explorer.trace
    explorer.controls[last_name].value = last_value
    assert html.escape(message) in explorer.error.value and 'role="alert"' in explorer.error.value
    assert explorer.trace is before


def test_explorer_batch_of_one_works_in_eval_mode():
    from layerviz.ui.batchnorm import batchnorm_explorer

    explorer = batchnorm_explorer(layer="BatchNorm1d", size=0, batch_size=1)
    assert "Expected more than 1 value per channel" in explorer.error.value
    explorer.controls["mode"].value = "eval"
    assert explorer.error.value == ""
    assert explorer.trace.input.shape == (1, 2) and explorer.trace.num_batches_tracked == 5


def test_warm_up_distribution_figure_and_refusal():
    from layerviz.ui.batchnorm import (
        batchnorm_input,
        distribution_figure,
        refusal,
        warm_up,
    )

    layer = BatchNorm2d(3).eval()
    warm_up(layer, 40, batch_size=8, size=5, mean=[-4, 2, 6], scale=[0.5, 1, 2])
    assert not layer.training and layer.num_batches_tracked == 40
    np.testing.assert_allclose(layer.running_mean, [-4, 2, 6], atol=0.2)
    np.testing.assert_allclose(layer.running_var, [0.25, 1, 4], rtol=0.15)

    x = batchnorm_input("BatchNorm2d", 8, 3, 5, mean=[-4, 2, 6], scale=[0.5, 1, 2])
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), [-4, 2, 6], atol=0.3)
    figure = distribution_figure(BatchNorm2d(3).frames(x), bins=10)
    before_ax, after_ax = figure.figure.axes[:2]
    for ax in (before_ax, after_ax):
        heights = [sum(p.get_height() for p in container) for container in ax.containers]
        assert heights == [8 * 5 * 5] * 3  # one histogram per channel, every value counted
    assert "std 1.00" in after_ax.get_title() and "mean 0.00" in after_ax.get_title()
    assert figure._repr_png_().startswith(b"\x89PNG")

    fresh = BatchNorm1d(3)
    assert refusal(fresh, np.ones((1, 3))).startswith("Expected more than 1 value per channel when training")
    assert refusal(fresh.eval(), np.ones((1, 3))) == "accepted"
    assert fresh.num_batches_tracked == 0
    with pytest.raises(ValueError, match=r"mean must be a number or 3 numbers"):
        batchnorm_input("BatchNorm2d", 2, 3, 2, mean=[1, 2])
