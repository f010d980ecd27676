"""Conv2d against torch.nn.Conv2d, the plain-loop definition, hand-worked examples and its argument checks.

The oracles here are independent of layerviz: torch's output, numbers worked out by hand,
and the output-size / padding formulas written out again from torch's documentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from layerviz import Conv2d, from_torch
from layerviz.layers.conv import conv2d_naive
from tests.conv_reference import MODES, expected_pads
from tests.conv_reference import pair as _pair

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")





def expected_out_size(h, w, kernel_size, stride, padding, dilation):
    (kh, kw), (sh, sw), (dh, dw) = _pair(kernel_size), _pair(stride), _pair(dilation)
    top, bottom, left, right = expected_pads(kernel_size, dilation, padding)
    oh = math.floor((h + top + bottom - dh * (kh - 1) - 1) / sh) + 1
    ow = math.floor((w + left + right - dw * (kw - 1) - 1) / sw) + 1
    return oh, ow


# -- random configurations ---------------------------------------------------------------------


@dataclass
class Config:
    kwargs: dict
    shape: tuple  # input shape, (C, H, W) or (N, C, H, W)
    seed: int

    @property
    def hw(self):
        return self.shape[-2:]

    @property
    def pads(self):
        k = self.kwargs
        return expected_pads(k["kernel_size"], k.get("dilation", 1), k.get("padding", 0))

    @property
    def should_fail(self) -> bool:
        """True when torch must refuse the input: kernel larger than the padded input, reflect pad >= size,
        or circular pad > size."""
        k = self.kwargs
        (h, w), (kh, kw), (dh, dw) = self.hw, _pair(k["kernel_size"]), _pair(k.get("dilation", 1))
        top, bottom, left, right = self.pads
        fits = h + top + bottom >= dh * (kh - 1) + 1 and w + left + right >= dw * (kw - 1) + 1
        if k.get("padding_mode", "zeros") == "reflect":
            fits = fits and max(top, bottom) < h and max(left, right) < w
        if k.get("padding_mode", "zeros") == "circular":
            fits = fits and max(top, bottom) <= h and max(left, right) <= w
        return not fits


def int_or_pair(lo, hi):
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


@st.composite
def conv_configs(draw, max_groups=3, max_per_group=3, max_kernel=4, max_stride=3, max_dilation=3, max_pad=3,
                 max_batch=3, max_extra=4, min_extra=-2):
    groups = draw(st.integers(1, max_groups))
    in_channels = groups * draw(st.integers(1, max_per_group))
    out_channels = groups * draw(st.integers(1, max_per_group))
    kernel_size = draw(int_or_pair(1, max_kernel))
    dilation = draw(int_or_pair(1, max_dilation))
    padding = draw(st.one_of(st.integers(0, max_pad), st.tuples(st.integers(0, max_pad), st.integers(0, max_pad)),
                             st.sampled_from(["same", "valid"])))
    stride = draw(st.sampled_from([1, (1, 1)])) if padding == "same" else draw(int_or_pair(1, max_stride))
    mode = draw(st.sampled_from(MODES))
    bias = draw(st.booleans())
    batch = draw(st.one_of(st.none(), st.integers(1, max_batch)))
    top, bottom, left, right = expected_pads(kernel_size, dilation, padding)
    (kh, kw), (dh, dw) = _pair(kernel_size), _pair(dilation)
    # smallest input the kernel fits (and that reflect / circular accept), then a few cells more or fewer
    need_h = max(1, dh * (kh - 1) + 1 - top - bottom)
    need_w = max(1, dw * (kw - 1) + 1 - left - right)
    if mode == "reflect":
        need_h, need_w = max(need_h, max(top, bottom) + 1), max(need_w, max(left, right) + 1)
    if mode == "circular":
        need_h, need_w = max(need_h, max(top, bottom)), max(need_w, max(left, right))
    h = max(1, need_h + draw(st.integers(min_extra, max_extra)))
    w = max(1, need_w + draw(st.integers(min_extra, max_extra)))
    channels_hw = (in_channels, h, w)
    shape = channels_hw if batch is None else (batch, *channels_hw)
    kwargs = dict(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size, stride=stride,
                  padding=padding, dilation=dilation, groups=groups, bias=bias, padding_mode=mode)
    return Config(kwargs, shape, draw(st.integers(0, 2**31 - 1)))


def _torch_out(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def _close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


# -- torch comparison --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=conv_configs())
def test_forward_matches_torch(cfg):
    torch.manual_seed(cfg.seed)
    module = torch.nn.Conv2d(**cfg.kwargs).double()
    conv = from_torch(module)
    x = np.random.default_rng(cfg.seed).standard_normal(cfg.shape)

    if cfg.should_fail:
        event("input too small (kernel, reflect or circular pad): torch and layerviz both refuse")
        with pytest.raises(Exception):
            _torch_out(module, x)
        with pytest.raises(ValueError):
            conv(x)
        with pytest.raises(ValueError):
            conv.frames(x)
        return

    expected = _torch_out(module, x)
    x_before = x.copy()
    got = conv(x)
    np.testing.assert_array_equal(x, x_before)  # the input is not modified
    oh, ow = expected_out_size(*cfg.hw, cfg.kwargs["kernel_size"], cfg.kwargs["stride"], cfg.kwargs["padding"],
                               cfg.kwargs["dilation"])
    out_shape = (cfg.kwargs["out_channels"], oh, ow)
    assert got.shape == expected.shape == (out_shape if len(cfg.shape) == 3 else (cfg.shape[0], *out_shape))
    assert conv.output_size(*cfg.hw) == (oh, ow)
    _close(got, expected)

    # the plain-loop definition, on the cheaper configurations
    x4 = x if x.ndim == 4 else x[None]
    kh, kw = _pair(cfg.kwargs["kernel_size"])
    cost = got.size * kh * kw * cfg.kwargs["in_channels"] // cfg.kwargs["groups"]
    if cost <= 20_000:
        event("also checked against conv2d_naive")
        naive = conv2d_naive(conv, x4)
        _close(naive, expected if x.ndim == 4 else expected[None])

    # the other way round: layerviz's own initial weights, copied into torch
    own = Conv2d(**cfg.kwargs, rng=cfg.seed)
    twin = torch.nn.Conv2d(**cfg.kwargs).double()
    twin.weight.data = torch.from_numpy(own.weight)
    if cfg.kwargs["bias"]:
        assert own.bias is not None
        twin.bias.data = torch.from_numpy(own.bias)
    else:
        assert own.bias is None
    _close(own(x), _torch_out(twin, x))


def test_circular_padding_wider_than_input_is_refused_like_torch():
    module = torch.nn.Conv2d(1, 1, 1, padding=3, padding_mode="circular").double()
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        _torch_out(module, x)
    with pytest.raises(ValueError, match="padding"):
        from_torch(module)(x)


def test_circular_padding_equal_to_input_size_matches_torch():
    module = torch.nn.Conv2d(2, 3, 3, padding=(2, 3), padding_mode="circular").double()
    x = np.random.default_rng(1).standard_normal((2, 2, 2, 3))
    _close(from_torch(module)(x), _torch_out(module, x))


def test_float32_module_gives_the_float64_conv_of_its_weights():
    torch.manual_seed(0)
    module = torch.nn.Conv2d(2, 4, 3, padding=1, groups=2)
    conv = from_torch(module)
    assert conv.weight.dtype == np.float64
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    _close(conv(x), _torch_out(module.double(), x))


# -- hand-worked examples ----------------------------------------------------------------------


def test_d2l_worked_example():
    """d2l.ai 7.2: [[0,1,2],[3,4,5],[6,7,8]] cross-correlated with [[0,1],[2,3]]."""
    conv = Conv2d(1, 1, kernel_size=2, bias=False)
    conv.weight = [[[[0.0, 1.0], [2.0, 3.0]]]]
    x = np.array([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]])
    np.testing.assert_array_equal(conv(x), [[[19.0, 25.0], [37.0, 43.0]]])
    np.testing.assert_array_equal(conv(x[None]), [[[[19.0, 25.0], [37.0, 43.0]]]])

    trace = conv.frames(x)
    assert len(trace) == 4
    narration = trace[0].narration
    assert "0.00×0.00 + 1.00×1.00 + 3.00×2.00 + 4.00×3.00" in narration
    assert "= 19.00" in narration
    assert "bias" not in narration
    assert "= 43.00" in trace[3].narration
    assert "4.00×0.00 + 5.00×1.00 + 7.00×2.00 + 8.00×3.00" in trace[3].narration


def test_hand_worked_stride_2_padding_1_with_bias():
    # zero-padded input (5x5):    kernel [[1, 2], [3, 4]], bias 10, stride 2 -> windows at rows/cols {0,1} and {2,3}
    #   0 0 0 0 0                 out[0,0] = 4*1                     + 10 = 14
    #   0 1 2 3 0                 out[0,1] = 3*2 + 4*3               + 10 = 28
    #   0 4 5 6 0                 out[1,0] = 2*4 + 4*7               + 10 = 46
    #   0 7 8 9 0                 out[1,1] = 1*5 + 2*6 + 3*8 + 4*9   + 10 = 87
    #   0 0 0 0 0
    conv = Conv2d(1, 1, kernel_size=2, stride=2, padding=1)
    conv.weight = [[[[1.0, 2.0], [3.0, 4.0]]]]
    conv.bias = [10.0]
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(conv(x), [[[[14.0, 28.0], [46.0, 87.0]]]])

    trace = conv.frames(x)
    np.testing.assert_array_equal(trace[0].is_padding[0], [[True, True], [True, False]])
    np.testing.assert_array_equal(trace[1].is_padding[0], [[True, True], [False, False]])
    np.testing.assert_array_equal(trace[3].is_padding[0], [[False, False], [False, False]])
    assert trace[3].narration == "out[0,0,1,1] = 5.00×1.00 + 6.00×2.00 + 8.00×3.00 + 9.00×4.00 + 10.00 (bias) = 87.00"
    assert "(bias) = 14.00" in trace[0].narration


def test_hand_worked_negative_numbers_are_parenthesised():
    conv = Conv2d(1, 1, kernel_size=1, bias=False)
    conv.weight = [[[[-2.0]]]]
    trace = conv.frames(np.array([[[3.0]]]))
    assert trace[0].narration == "out[0,0,0] = 3.00×(-2.00) = -6.00"


def test_hand_worked_groups_keep_channels_apart():
    # groups=2: output 0 reads input channel 0 only, output 1 reads channel 1 only
    conv = Conv2d(2, 2, kernel_size=1, groups=2, bias=False)
    conv.weight = [[[[2.0]]], [[[-1.0]]]]
    x = np.array([[[1.0, 2.0]], [[10.0, 20.0]]])
    np.testing.assert_array_equal(conv(x), [[[2.0, 4.0]], [[-10.0, -20.0]]])


def test_hand_worked_dilation_and_replicate_padding():
    # 1x3 kernel [1, 1, 1] with dilation 2 on a row [1, 2, 3], replicate padding 2 -> padded [1 1 1 2 3 3 3]
    # windows read padded cols {0,2,4}, {1,3,5}, {2,4,6}: 1+1+3 = 5, 1+2+3 = 6, 1+3+3 = 7
    conv = Conv2d(1, 1, kernel_size=(1, 3), dilation=(1, 2), padding=(0, 2), padding_mode="replicate", bias=False)
    conv.weight = np.ones((1, 1, 1, 3))
    np.testing.assert_array_equal(conv(np.array([[[1.0, 2.0, 3.0]]])), [[[5.0, 6.0, 7.0]]])


# -- weight initialisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs",
    [((1, 1, 3), {}), ((3, 16, 3), {}), ((4, 6, (2, 5)), {"groups": 2}), ((6, 6, 1), {"groups": 6}), ((64, 64, 3), {})],
)
def test_init_within_torch_bound(args, kwargs):
    in_channels, _, kernel_size = args
    kh, kw = _pair(kernel_size)
    bound = 1.0 / math.sqrt(in_channels // kwargs.get("groups", 1) * kh * kw)
    conv = Conv2d(*args, **kwargs, rng=0)
    assert np.abs(conv.weight).max() <= bound
    assert np.abs(conv.bias).max() <= bound
    # torch draws from the same interval
    torch.manual_seed(0)
    module = torch.nn.Conv2d(*args, **kwargs)
    assert module.weight.abs().max().item() <= bound * (1 + 1e-6)


@pytest.mark.parametrize("in_channels, groups, kernel_size", [(64, 1, 3), (64, 8, 3), (32, 32, (2, 5))])
def test_init_uses_the_whole_interval(in_channels, groups, kernel_size):
    """Uniform on [-b, b], b = 1/sqrt(fan_in), fan_in = in_channels/groups * kH * kW: not a narrower interval."""
    conv = Conv2d(in_channels, 256, kernel_size, groups=groups, rng=0)
    kh, kw = _pair(kernel_size)
    bound = 1.0 / math.sqrt(in_channels // groups * kh * kw)
    w = conv.weight
    n = w.size
    # tolerances of ~5-10 standard errors: a correct uniform draw passes whatever the seed
    assert w.max() > bound * (1 - 20 / n) and w.min() < -bound * (1 - 20 / n)
    assert abs(w.mean()) < 5 * bound / math.sqrt(3 * n)
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=5 * math.sqrt(0.2 / n))
    assert len(np.unique(w)) == n


def test_seeded_init_is_reproducible_and_seeds_differ():
    a, b, c = Conv2d(3, 4, 3, rng=7), Conv2d(3, 4, 3, rng=7), Conv2d(3, 4, 3, rng=8)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.bias, b.bias)
    assert not np.allclose(a.weight, c.weight)
    assert not np.allclose(a.bias, c.bias)
    g1, g2 = Conv2d(3, 4, 3, rng=np.random.default_rng(7)), Conv2d(3, 4, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(g1.weight, g2.weight)
    assert a.weight.shape == (4, 3, 3, 3) and a.bias.shape == (4,)
    assert Conv2d(3, 4, 3, bias=False, rng=7).bias is None


# -- shapes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, hw",
    [
        (dict(kernel_size=3), (5, 5)),
        (dict(kernel_size=3, padding=1), (5, 7)),
        (dict(kernel_size=(2, 4), stride=(2, 3), padding=(1, 2)), (9, 10)),
        (dict(kernel_size=3, stride=2, padding=1), (224, 224)),
        (dict(kernel_size=3, dilation=2), (7, 8)),
        (dict(kernel_size=(3, 1), dilation=(3, 1), stride=(1, 2), padding=(0, 1)), (11, 6)),
        (dict(kernel_size=5, stride=3, padding="valid"), (16, 17)),
        (dict(kernel_size=7, stride=2, padding=3), (224, 224)),
        (dict(kernel_size=1, stride=4), (10, 10)),
    ],
)
def test_output_size_matches_torch_and_formula(kwargs, hw):
    conv = Conv2d(2, 3, **kwargs)
    module = torch.nn.Conv2d(2, 3, **kwargs).double()
    x = np.zeros((1, 2, *hw))
    assert conv.output_size(*hw) == _torch_out(module, x).shape[2:]
    full = {"stride": 1, "padding": 0, "dilation": 1, **kwargs}
    assert conv.output_size(*hw) == expected_out_size(*hw, full["kernel_size"], full["stride"], full["padding"],
                                                      full["dilation"])
    assert conv(x).shape[2:] == conv.output_size(*hw)


@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, (2, 3), (4, 1), (5, 2)])
@pytest.mark.parametrize("dilation", [1, 2, (1, 3)])
@pytest.mark.parametrize("mode", MODES)
def test_same_padding_keeps_size(kernel_size, dilation, mode):
    torch.manual_seed(0)
    module = torch.nn.Conv2d(2, 2, kernel_size, padding="same", dilation=dilation, padding_mode=mode).double()
    conv = from_torch(module)
    x = np.random.default_rng(0).standard_normal((2, 7, 6))
    got = conv(x)
    assert got.shape == (2, 7, 6)
    assert conv.output_size(7, 6) == (7, 6)
    _close(got, _torch_out(module, x))


def test_same_padding_even_kernel_pads_extra_bottom_right():
    conv = Conv2d(1, 1, kernel_size=2, padding="same", bias=False)
    assert conv.pads() == (0, 1, 0, 1)
    conv.weight = [[[[1.0, 0.0], [0.0, 0.0]]]]  # picks the window's top-left cell: the output is the input itself
    x = np.arange(9.0).reshape(1, 3, 3)
    np.testing.assert_array_equal(conv(x), x)
    conv.weight = [[[[0.0, 0.0], [0.0, 1.0]]]]  # bottom-right cell: shifted up-left, zeros at the bottom/right
    np.testing.assert_array_equal(conv(x), [[[4.0, 5.0, 0.0], [7.0, 8.0, 0.0], [0.0, 0.0, 0.0]]])


# -- argument checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((1, 1, 3), dict(stride=0), r"stride must be >= 1, got 0"),
        ((1, 1, 3), dict(stride=(1, 0)), r"stride must be >= 1, got 0"),
        ((1, 1, 3), dict(padding=-1), r"padding must be >= 0, got -1"),
        ((1, 1, 3), dict(padding=(0, -2)), r"padding must be >= 0, got -2"),
        ((1, 1, 3), dict(dilation=0), r"dilation must be >= 1, got 0"),
        ((1, 1, 0), {}, r"kernel_size must be >= 1, got 0"),
        ((1, 1, (3, 0)), {}, r"kernel_size must be >= 1, got 0"),
        ((1, 1, (3, 3, 3)), {}, r"kernel_size must be an int or a pair"),
        ((1, 1, 2.5), {}, r"kernel_size must be an integer, got 2.5"),
        ((1, 1, True), {}, r"kernel_size must be an integer, got True"),
        ((1, 1, 3), dict(stride=True), r"stride must be an integer, got True"),
        ((1, 1, 3), dict(padding=1.5), r"padding must be an integer, got 1.5"),
        ((True, 1, 3), {}, r"in_channels must be an integer, got True"),
        ((0, 1, 3), {}, r"in_channels must be >= 1, got 0"),
        ((1, 0, 3), {}, r"out_channels must be >= 1, got 0"),
        ((2, 2, 3), dict(groups=0), r"groups must be >= 1, got 0"),
        ((3, 4, 3), dict(groups=2), r"in_channels must be divisible by groups"),
        ((4, 3, 3), dict(groups=2), r"out_channels must be divisible by groups"),
        ((1, 1, 3), dict(padding="same", stride=2), r"padding='same' needs stride 1"),
        ((1, 1, 3), dict(padding="same", stride=(1, 2)), r"padding='same' needs stride 1"),
        ((1, 1, 3), dict(padding="full"), r"padding must be .*'full'"),
        ((1, 1, 3), dict(padding_mode="mirror"), r"padding_mode must be one of .*'mirror'"),
    ],
)
def test_bad_settings_raise_naming_the_parameter(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2d(*args, **kwargs)


@pytest.mark.parametrize(
    "conv_kwargs, shape, match",
    [
        (dict(kernel_size=4), (1, 3, 3), r"kernel_size .* larger than the padded input"),
        (dict(kernel_size=3, dilation=2), (1, 4, 9), r"kernel_size .* larger than the padded input"),
        (dict(kernel_size=(1, 5), padding=(0, 1)), (1, 6, 2), r"kernel_size .* larger than the padded input"),
        (dict(kernel_size=3), (9, 9), r"x must have shape \(C, H, W\) or \(N, C, H, W\), got shape \(9, 9\)"),
        (dict(kernel_size=3), (1, 1, 1, 9, 9), r"x must have shape"),
        (dict(kernel_size=3), (2, 9, 9), r"x must have in_channels=1 channels, got 2"),
        (dict(kernel_size=3), (4, 3, 9, 9), r"x must have in_channels=1 channels, got 3"),
        (dict(kernel_size=1, padding=3, padding_mode="reflect"), (1, 3, 9), r"padding .*reflect"),
    ],
)
def test_bad_inputs_raise(conv_kwargs, shape, match):
    conv = Conv2d(1, 1, **conv_kwargs)
    x = np.ones(shape)
    with pytest.raises(ValueError, match=match):
        conv(x)
    with pytest.raises(ValueError, match=match):
        conv.frames(x)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad):
    conv = Conv2d(1, 1, 2)
    x = np.zeros((1, 4, 4))
    x[0, 2, 1] = bad
    with pytest.raises(ValueError, match=r"x must be finite.*\(0, 2, 1\)"):
        conv(x)
    with pytest.raises(ValueError, match=r"x must be finite"):
        conv.frames(x)


def test_non_numeric_input_raises():
    with pytest.raises(ValueError, match=r"x must be an array of numbers"):
        Conv2d(1, 1, 2)([["a", "b"], ["c", "d"]])


def test_weight_and_bias_shape_and_values_checked():
    conv = Conv2d(2, 4, (2, 3), groups=2)
    before = conv.weight.copy()
    with pytest.raises(ValueError, match=r"weight must have shape \(4, 1, 2, 3\), got shape \(4, 2, 2, 3\)"):
        conv.weight = np.zeros((4, 2, 2, 3))
    with pytest.raises(ValueError, match=r"weight must have shape"):
        conv.weight = np.zeros((4, 1, 2))
    with pytest.raises(ValueError, match=r"weight must be finite"):
        conv.weight = np.full((4, 1, 2, 3), np.nan)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        conv.bias = np.zeros(3)
    np.testing.assert_array_equal(conv.weight, before)  # a refused weight leaves the old one in place
    conv.weight = np.ones((4, 1, 2, 3), dtype=int)
    assert conv.weight.dtype == np.float64
    conv.bias = None
    assert conv.bias is None
