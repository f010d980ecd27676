"""MaxPool2d, AvgPool2d and AdaptiveAvgPool2d against torch.nn, the plain-loop definitions, hand-worked
examples, their argument checks, their traces and scenes, the side-by-side comparison and the explorer.

The oracles are independent of layerviz: torch's outputs and ``return_indices``, torch.nn.functional.pad,
numbers worked out by hand, and the output-size rules written out again from torch's documentation.
"""

from __future__ import annotations

import html
import math
import re
import time
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from layerviz import mpl
from layerviz._format import fixed
from layerviz.layers.adaptive_pool import AdaptiveAvgPool2d, adaptive_avg_pool2d_naive
from layerviz.layers.avg_pool import AvgPool2d, avg_pool2d_naive
from layerviz.layers.max_pool import MaxPool2d, max_pool2d_naive
from layerviz.player.widget import encode_scene
from layerviz.trace import Trace
from layerviz.ui.pooling import PoolComparison, build_pooling, pool_comparison, pooling_explorer
from tests.access_time import median_access_time


def pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def expected_length(size, kernel, stride, pad, dilation, ceil_mode):
    """Windows along one axis, from torch's MaxPool2d / AvgPool2d documentation."""
    exact = (size + 2 * pad - dilation * (kernel - 1) - 1) / stride
    if not ceil_mode:
        return math.floor(exact) + 1
    length = math.ceil(exact) + 1
    # "sliding windows that would start in the right padded region are ignored"
    if (length - 1) * stride >= size + pad:
        length -= 1
    return length


def expected_shape(hw, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    (kh, kw), (ph, pw), (dh, dw) = pair(kernel_size), pair(padding), pair(dilation)
    sh, sw = pair(kernel_size if stride is None else stride)
    return (expected_length(hw[0], kh, sh, ph, dh, ceil_mode), expected_length(hw[1], kw, sw, pw, dw, ceil_mode))


def torch_run(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(np.ascontiguousarray(x)))


def close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def int_or_pair(lo, hi):
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


@st.composite
def inputs(draw, shape):
    """Normal noise, or small integers (many ties), or a constant (every window a tie)."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["normal", "ties", "constant"]))
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "ties":
        return rng.integers(-2, 3, shape).astype(np.float64)
    return np.full(shape, draw(st.sampled_from([-3.0, 0.0, 1.5])))


@st.composite
def sized_input(draw, spans, max_extra=3, min_extra=-2):
    """An input ``(C, H, W)`` or ``(N, C, H, W)`` around the size the windows need: some too small."""
    (span_h, pad_h), (span_w, pad_w) = spans
    h = max(1, span_h - 2 * pad_h + draw(st.integers(min_extra, max_extra)))
    w = max(1, span_w - 2 * pad_w + draw(st.integers(min_extra, max_extra)))
    channels = draw(st.integers(1, 3))
    batch = draw(st.one_of(st.none(), st.integers(1, 2)))
    shape = (channels, h, w) if batch is None else (batch, channels, h, w)
    return draw(inputs(shape))


@dataclass
class Case:
    kwargs: dict
    x: np.ndarray

    @property
    def hw(self):
        return self.x.shape[-2:]

    @property
    def bad_padding(self) -> bool:
        """torch refuses padding above half the kernel size (``pad <= k // 2``, per axis)."""
        (kh, kw), (ph, pw) = pair(self.kwargs["kernel_size"]), pair(self.kwargs.get("padding", 0))
        return ph > kh // 2 or pw > kw // 2

    @property
    def out_hw(self):
        k = self.kwargs
        return expected_shape(self.hw, k["kernel_size"], k.get("stride"), k.get("padding", 0), k.get("dilation", 1),
                              k.get("ceil_mode", False))

    @property
    def too_small(self) -> bool:
        return min(self.out_hw) < 1


@st.composite
def paddings(draw, kernel_size, allow_invalid):
    """Padding up to half the kernel; with allow_invalid, one case in eight a cell more (torch refuses it)."""
    kh, kw = pair(kernel_size)
    too_much = allow_invalid and draw(st.integers(0, 7)) == 0
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    if too_much:
        ph, pw = draw(st.sampled_from([(kh // 2 + 1, pw), (ph, kw // 2 + 1), (kh // 2 + 1, kw // 2 + 1)]))
    return draw(st.sampled_from([(ph, pw)] if ph != pw else [ph, (ph, pw)]))


@st.composite
def max_cases(draw, allow_invalid=True):
    kernel_size, dilation = draw(int_or_pair(1, 4)), draw(int_or_pair(1, 3))
    padding = draw(paddings(kernel_size, allow_invalid))
    stride = draw(st.one_of(st.none(), int_or_pair(1, 4)))
    kwargs = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                  return_indices=draw(st.booleans()), ceil_mode=draw(st.booleans()))
    (kh, kw), (dh, dw), (ph, pw) = pair(kernel_size), pair(dilation), pair(padding)
    x = draw(sized_input(((dh * (kh - 1) + 1, ph), (dw * (kw - 1) + 1, pw))))
    return Case(kwargs, x)


@st.composite
def avg_cases(draw, allow_invalid=True):
    kernel_size = draw(int_or_pair(1, 4))
    padding = draw(paddings(kernel_size, allow_invalid))
    stride = draw(st.one_of(st.none(), int_or_pair(1, 4)))
    kwargs = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=draw(st.booleans()),
                  count_include_pad=draw(st.booleans()),
                  divisor_override=draw(st.one_of(st.none(), st.sampled_from([-3, -1, 1, 2, 3, 5, 7]))))
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    x = draw(sized_input(((kh, ph), (kw, pw))))
    return Case(kwargs, x)


@st.composite
def adaptive_cases(draw):
    size = st.integers(1, 6)
    output_size = draw(st.one_of(size, st.tuples(st.one_of(st.none(), size), st.one_of(st.none(), size))))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    if draw(st.booleans()):
        shape = (draw(st.integers(1, 2)), *shape)
    return output_size, draw(inputs(shape))


def valid(cases):
    """Only the cases torch accepts (for the trace tests)."""
    return cases.filter(lambda c: not c.too_small)


# -- torch comparison ----------------------------------------------------------------------------


@settings(max_examples=450, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=max_cases())
def test_max_pool_matches_torch(case):
    module = torch.nn.MaxPool2d(**case.kwargs)
    twin = torch.nn.MaxPool2d(**{**case.kwargs, "return_indices": True})
    x = case.x
    if case.bad_padding:
        event("padding above half the kernel: both refuse")
        with pytest.raises(RuntimeError, match="pad should be"):
            torch_run(module, x)
        with pytest.raises(ValueError, match="padding must be at most half the kernel size"):
            MaxPool2d(**case.kwargs)
        return
    pool = MaxPool2d._from_torch(module)
    assert repr(pool) == repr(MaxPool2d(**case.kwargs))
    if not case.kwargs["return_indices"]:
        assert repr(pool) == repr(module)
    if case.too_small:
        event("kernel larger than the padded input: both refuse")
        with pytest.raises(RuntimeError, match="Output size is too small"):
            torch_run(module, x)
        with pytest.raises(ValueError, match="larger than the padded input"):
            pool(x)
        with pytest.raises(ValueError, match="larger than the padded input"):
            pool.frames(x)
        return

    expected, expected_indices = (t.numpy() for t in torch_run(twin, x))
    x_before = x.copy()
    got = pool(x)
    np.testing.assert_array_equal(x, x_before)  # the input is not modified
    if case.kwargs["return_indices"]:
        got, indices = got
        np.testing.assert_array_equal(indices, expected_indices)
        assert indices.dtype == np.int64
    assert got.shape == expected.shape == (*x.shape[:-2], *case.out_hw)
    assert pool.output_size(*case.hw) == case.out_hw
    np.testing.assert_array_equal(got, expected)  # a maximum is exact

    trace = pool.frames(x)
    np.testing.assert_array_equal(trace.output, expected)
    np.testing.assert_array_equal(trace.indices, expected_indices)  # ties: the cell torch picks
    x4 = x if x.ndim == 4 else x[None]
    if expected.size * np.prod(pair(case.kwargs["kernel_size"])) <= 5_000:
        event("also checked against max_pool2d_naive")
        naive, naive_indices = max_pool2d_naive(pool, x4)
        np.testing.assert_array_equal(naive, expected if x.ndim == 4 else expected[None])
        np.testing.assert_array_equal(naive_indices, expected_indices if x.ndim == 4 else expected_indices[None])


@settings(max_examples=450, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=avg_cases())
def test_avg_pool_matches_torch(case):
    module = torch.nn.AvgPool2d(**case.kwargs)
    x = case.x
    if case.bad_padding:
        event("padding above half the kernel: both refuse")
        with pytest.raises(RuntimeError, match="pad should be"):
            torch_run(module, x)
        with pytest.raises(ValueError, match="padding must be at most half the kernel size"):
            AvgPool2d(**case.kwargs)
        return
    pool = AvgPool2d._from_torch(module)
    assert repr(pool) == repr(AvgPool2d(**case.kwargs))
    assert repr(pool).startswith(repr(module)[:-1])  # torch's repr, then what it hides
    if case.too_small:
        event("kernel larger than the padded input: both refuse")
        with pytest.raises(RuntimeError, match="Output size is too small"):
            torch_run(module, x)
        with pytest.raises(ValueError, match="larger than the padded input"):
            pool(x)
        return

    expected = torch_run(module, x).numpy()
    got = pool(x)
    assert got.shape == expected.shape == (*x.shape[:-2], *case.out_hw)
    close(got, expected)
    trace = pool.frames(x)
    close(trace.output, expected)
    close(trace.sums / trace.divisors, expected if x.ndim == 4 else expected[None])
    if expected.size * np.prod(pair(case.kwargs["kernel_size"])) <= 5_000:
        event("also checked against avg_pool2d_naive")
        close(avg_pool2d_naive(pool, x if x.ndim == 4 else x[None]), expected if x.ndim == 4 else expected[None])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=adaptive_cases())
def test_adaptive_avg_pool_matches_torch(case):
    output_size, x = case
    module = torch.nn.AdaptiveAvgPool2d(output_size)
    pool = AdaptiveAvgPool2d._from_torch(module)
    assert repr(pool) == repr(module) == repr(AdaptiveAvgPool2d(output_size))
    expected = torch_run(module, x).numpy()
    oh, ow = pair(output_size)
    assert expected.shape[-2:] == (x.shape[-2] if oh is None else oh, x.shape[-1] if ow is None else ow)
    got = pool(x)
    assert got.shape == expected.shape
    assert pool.output_shape(*x.shape[-2:]) == expected.shape[-2:]
    close(got, expected)
    close(pool.frames(x).output, expected)
    close(adaptive_avg_pool2d_naive(pool, x if x.ndim == 4 else x[None]), expected if x.ndim == 4 else expected[None])


@pytest.mark.parametrize("module", [
    torch.nn.MaxPool2d(2),
    torch.nn.MaxPool2d((3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1), return_indices=True, ceil_mode=True),
    torch.nn.MaxPool2d([2, 3], stride=[2, 1]),
    torch.nn.AvgPool2d(3),
    torch.nn.AvgPool2d((2, 3), stride=1, padding=(1, 1), ceil_mode=True, count_include_pad=False, divisor_override=4),
    torch.nn.AdaptiveAvgPool2d(1),
    torch.nn.AdaptiveAvgPool2d((None, 3)),
])
def test_from_torch_copies_every_argument(module):
    cls = {"MaxPool2d": MaxPool2d, "AvgPool2d": AvgPool2d, "AdaptiveAvgPool2d": AdaptiveAvgPool2d}[type(module).__name__]
    layer = cls._from_torch(module)
    assert type(layer) is cls
    names = {MaxPool2d: ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"],
             AvgPool2d: ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"],
             AdaptiveAvgPool2d: ["output_size"]}[cls]
    for name in names:
        theirs = getattr(module, name)
        assert getattr(layer, name) == (tuple(theirs) if isinstance(theirs, list) else theirs), name
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 6))
    expected = torch_run(module, x)
    got = layer(x)
    if getattr(module, "return_indices", False):
        np.testing.assert_array_equal(got[1], expected[1].numpy())
        got, expected = got[0], expected[0]
    close(got, expected.numpy())


def test_torch_stride_list_empty_means_kernel_size():
    module = torch.nn.AvgPool2d(2, stride=[])  # what F.avg_pool2d does with stride=None
    assert MaxPool2d._from_torch(torch.nn.MaxPool2d(3, stride=[])).stride == 3
    layer = AvgPool2d._from_torch(module)
    assert layer.stride == 2
    x = np.arange(16.0).reshape(1, 4, 4)
    close(layer(x), torch_run(module, x).numpy())


def test_float32_and_integer_inputs_are_pooled_in_float64():
    x = np.arange(16, dtype=np.int32).reshape(1, 4, 4)
    got = AvgPool2d(2)(x)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [[[2.5, 4.5], [10.5, 12.5]]])
    assert MaxPool2d(2)(x.astype(np.float32)).dtype == np.float64


# -- hand-worked examples ------------------------------------------------------------------------

WORKED = np.array([[[1.0, 3.0, 2.0, 0.0], [5.0, 4.0, 1.0, 1.0], [0.0, 2.0, 6.0, 8.0], [1.0, 1.0, 7.0, 3.0]]])


def test_worked_example_four_maxima_and_four_means():
    # windows {1,3,5,4}, {2,0,1,1}, {0,2,1,1}, {6,8,7,3}
    np.testing.assert_array_equal(MaxPool2d(2)(WORKED), [[[5.0, 2.0], [2.0, 8.0]]])
    np.testing.assert_array_equal(AvgPool2d(2)(WORKED), [[[13 / 4, 1.0], [1.0, 6.0]]])
    np.testing.assert_array_equal(MaxPool2d(2)(WORKED[None]), [[[[5.0, 2.0], [2.0, 8.0]]]])
    _, indices = MaxPool2d(2, return_indices=True)(WORKED)
    np.testing.assert_array_equal(indices, [[[4, 2], [9, 11]]])  # 5 at (1,0), 2 at (0,2), 2 at (2,1), 8 at (2,3)

    trace = MaxPool2d(2).frames(WORKED)
    assert [f.narration for f in trace] == [
        "out[0,0,0] = max(1.00, 3.00, 5.00, 4.00) = 5.00",
        "out[0,0,1] = max(2.00, 0.00, 1.00, 1.00) = 2.00",
        "out[0,1,0] = max(0.00, 2.00, 1.00, 1.00) = 2.00",
        "out[0,1,1] = max(6.00, 8.00, 7.00, 3.00) = 8.00",
    ]
    assert [f.position for f in trace] == [(1, 0), (0, 2), (2, 1), (2, 3)]
    assert [f.argmax for f in trace] == [(1, 0), (0, 0), (0, 1), (0, 1)]
    averages = AvgPool2d(2).frames(WORKED)
    assert averages[0].narration == "out[0,0,0] = (1.00 + 3.00 + 5.00 + 4.00) / 4 = 3.25"
    assert averages[-1].narration == "out[0,1,1] = (6.00 + 8.00 + 7.00 + 3.00) / 4 = 6.00"
    assert (averages[0].total, averages[0].divisor) == (13.0, 4)


def test_the_narration_of_the_brief():
    x = np.zeros((2, 4, 6))
    x[0, 2:4, 4:6] = [[0.50, 0.10], [0.30, 0.20]]  # channel 0, output row 1, column 2
    k = 6 + 1 * 3 + 2  # row-major over (c, i, j) with a 2x3 output per channel
    x[1] = 0.0
    assert MaxPool2d(2).frames(x)[k - 6].narration == "out[0,1,2] = max(0.50, 0.10, 0.30, 0.20) = 0.50"
    # 1.10 / 4 = 0.275, a rounding tie at two decimals: shown with its third decimal
    assert AvgPool2d(2).frames(x)[k - 6].narration == "out[0,1,2] = (0.50 + 0.10 + 0.30 + 0.20) / 4 = 0.275"
    assert MaxPool2d(2).frames(x)[k].cell == (1, 1, 2)


def test_max_padding_never_wins_even_over_negative_numbers():
    # padded with -inf, stride 1: each output is the max of the input cells its window covers
    x = np.array([[[-1.0, -2.0], [-3.0, -4.0]]])
    pool = MaxPool2d(2, stride=1, padding=1)
    np.testing.assert_array_equal(pool(x), [[[-1.0, -1.0, -2.0], [-1.0, -1.0, -2.0], [-3.0, -3.0, -4.0]]])
    trace = pool.frames(x)
    assert trace[0].narration == "out[0,0,0] = max(pad, pad, pad, -1.00) = -1.00; padding never wins"
    assert trace[4].narration == "out[0,1,1] = max(-1.00, -2.00, -3.00, -4.00) = -1.00"
    assert np.isneginf(trace[0].window[trace[0].is_padding]).all()
    scene_input = trace.scene().panel("input")
    assert (scene_input.values[scene_input.padding] == 0).all()  # drawn as 0, hatched


def test_avg_padding_counted_or_not_and_divisor_override():
    # padded 4x4 around [[1, 2], [3, 4]], 2x2 windows, stride 2: each window holds one input cell and 3 zeros
    x = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    np.testing.assert_array_equal(AvgPool2d(2, padding=1)(x), [[[0.25, 0.5], [0.75, 1.0]]])
    np.testing.assert_array_equal(AvgPool2d(2, padding=1, count_include_pad=False)(x), x)
    np.testing.assert_array_equal(AvgPool2d(2, padding=1, divisor_override=2)(x), x / 2)
    np.testing.assert_array_equal(AvgPool2d(2, padding=1, divisor_override=-1)(x), -x)
    included = AvgPool2d(2, padding=1).frames(x)[0]
    assert included.narration == "out[0,0,0] = (pad + pad + pad + 1.00) / 4 = 0.25 (padding counts as 0)"
    excluded = AvgPool2d(2, padding=1, count_include_pad=False).frames(x)[3]
    assert excluded.narration == "out[0,1,1] = (4.00) / 1 = 4.00 (padding not counted)"
    overridden = AvgPool2d(2, padding=1, divisor_override=2).frames(x)[1]
    assert overridden.narration == "out[0,0,1] = (pad + pad + 2.00 + pad) / 2 = 1.00 (divisor_override=2)"
    assert overridden.divisor == 2 and overridden.counted.sum() == 4


def test_ceil_mode_keeps_a_cut_window():
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)  # one row 1..5; windows of 2, stride 2
    assert MaxPool2d((1, 2))(x).shape == (1, 1, 2)
    np.testing.assert_array_equal(MaxPool2d((1, 2), ceil_mode=True)(x), [[[2.0, 4.0, 5.0]]])
    # the last window holds only 5: its divisor is 1, count_include_pad or not (it is cut, not padded)
    np.testing.assert_array_equal(AvgPool2d((1, 2), ceil_mode=True)(x), [[[1.5, 3.5, 5.0]]])
    frame = AvgPool2d((1, 2), ceil_mode=True).frames(x)[2]
    assert frame.narration == "out[0,0,2] = (5.00) / 1 = 5.00 (window cut at the edge of the padded input)"
    np.testing.assert_array_equal(frame.cols, [4])


def test_ceil_mode_drops_a_window_that_would_start_in_the_padding():
    # padded row: [pad, 1, 2, 3, 4, 5, pad]; windows of 2, stride 2 start at padded columns 0, 2, 4;
    # a fourth would start at column 6, the right padding: torch drops it
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    pool = MaxPool2d((1, 2), padding=(0, 1), ceil_mode=True)
    np.testing.assert_array_equal(pool(x), [[[1.0, 3.0, 5.0]]])
    assert pool.output_size(1, 5) == (1, 3) != (1, math.ceil((5 + 2 - 2) / 2) + 1)
    assert torch_run(torch.nn.MaxPool2d((1, 2), padding=(0, 1), ceil_mode=True), x).shape[-1] == 3


def test_ceil_mode_accepts_a_kernel_a_little_larger_than_the_input_like_torch():
    x = np.arange(9.0).reshape(1, 3, 3)
    np.testing.assert_array_equal(AvgPool2d(4, stride=2, ceil_mode=True)(x), [[[4.0]]])  # 36 / 9 cells
    np.testing.assert_array_equal(MaxPool2d(4, stride=2, ceil_mode=True)(x), [[[8.0]]])
    with pytest.raises(ValueError, match=r"spans 4x4 cells, larger than the padded input 3x3"):
        MaxPool2d(4, stride=2)(x)
    with pytest.raises(ValueError, match=r"larger than the padded input 3x3 by more than stride - 1 \(ceil_mode\)"):
        MaxPool2d(5, stride=2, ceil_mode=True)(x)


@pytest.mark.parametrize("kwargs, expected_indices", [
    (dict(kernel_size=2), [[0, 2], [8, 10]]),
    (dict(kernel_size=2, padding=1), [[0, 1, 3], [4, 5, 7], [12, 13, 15]]),
    (dict(kernel_size=3, stride=1, padding=1, dilation=2), [[5, 4], [1, 0]]),
    (dict(kernel_size=3, stride=1), [[0, 1], [4, 5]]),
])
def test_ties_go_to_the_first_cell_like_torch(kwargs, expected_indices):
    """An all-equal input: every window is a tie; the index is the window's first input cell in row-major order."""
    x = np.ones((1, 4, 4))
    _, indices = MaxPool2d(**kwargs, return_indices=True)(x)
    np.testing.assert_array_equal(indices[0], expected_indices)
    np.testing.assert_array_equal(torch_run(torch.nn.MaxPool2d(**kwargs, return_indices=True), x)[1][0].numpy(),
                                  expected_indices)
    trace = MaxPool2d(**kwargs).frames(x)
    assert [f.input_index for f in trace] == np.ravel(expected_indices).tolist()
    assert all(f.result == 1.0 for f in trace)


def test_tie_between_two_cells_goes_to_the_first():
    x = np.array([[[1.0, 2.0], [2.0, 1.0]]])
    frame = MaxPool2d(2).frames(x)[0]
    assert (frame.argmax, frame.position, frame.input_index) == ((0, 1), (0, 1), 1)


def test_dilated_window_reads_every_other_cell():
    x = np.arange(25.0).reshape(1, 5, 5)
    pool = MaxPool2d(2, stride=1, dilation=2)  # cells (i, j), (i, j+2), (i+2, j), (i+2, j+2)
    np.testing.assert_array_equal(pool(x), [[[12.0, 13.0, 14.0], [17.0, 18.0, 19.0], [22.0, 23.0, 24.0]]])
    frame = pool.frames(x)[0]
    np.testing.assert_array_equal(frame.window, [[0.0, 2.0], [10.0, 12.0]])
    assert frame.narration == "out[0,0,0] = max(0.00, 2.00, 10.00, 12.00) = 12.00"


def test_adaptive_windows_overlap_and_global_average():
    x = np.arange(5.0).reshape(1, 1, 5)
    pool = AdaptiveAvgPool2d((1, 2))  # columns [0, 3) and [2, 5): 3 cells each, column 2 in both
    np.testing.assert_array_equal(pool(x), [[[1.0, 3.0]]])
    trace = pool.frames(x)
    np.testing.assert_array_equal(trace[1].cols, [2, 3, 4])
    assert trace[1].narration == "out[0,0,1] = (2.00 + 3.00 + 4.00) / 3 = 3.00"
    photo = np.random.default_rng(0).random((3, 6, 7))
    close(AdaptiveAvgPool2d(1)(photo), photo.mean(axis=(1, 2))[:, None, None])
    np.testing.assert_array_equal(AdaptiveAvgPool2d((None, 1))(photo).shape, (3, 6, 1))
    # an output larger than the input repeats cells: 2 rows to 3, windows [0, 1), [0, 2), [1, 2)
    np.testing.assert_array_equal(AdaptiveAvgPool2d((3, 1))(np.array([[[2.0], [4.0]]])), [[[2.0], [3.0], [4.0]]])


def test_big_windows_are_abridged_in_the_narration():
    x = np.arange(16.0).reshape(1, 4, 4)
    frame = MaxPool2d(4).frames(x)[0]
    assert frame.narration == "out[0,0,0] = max(0.00, 1.00, 2.00, …, 14.00, 15.00) = 15.00 (largest of 16, at x[0,3,3])"
    mean = AvgPool2d(4).frames(x)[0]
    assert mean.narration == "out[0,0,0] = (0.00 + 1.00 + 2.00 + … + 14.00 + 15.00) / 16 = 120.00 / 16 = 7.50"


def test_negative_terms_are_parenthesised_in_sums():
    frame = AvgPool2d((1, 2)).frames(np.array([[[0.5, -0.25]]]))[0]
    assert frame.narration == "out[0,0,0] = (0.50 + (-0.25)) / 2 = 0.125"


# -- argument checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls, args, kwargs, match", [
    (MaxPool2d, (0,), {}, r"kernel_size must be >= 1, got 0"),
    (MaxPool2d, ((2, 0),), {}, r"kernel_size must be >= 1, got 0"),
    (MaxPool2d, ((2, 2, 2),), {}, r"kernel_size must be an int or a pair"),
    (MaxPool2d, (2.5,), {}, r"kernel_size must be an integer, got 2.5"),
    (MaxPool2d, (True,), {}, r"kernel_size must be an integer, got True"),
    (MaxPool2d, (2,), dict(stride=0), r"stride must be >= 1, got 0"),
    (MaxPool2d, (2,), dict(stride=(1, -1)), r"stride must be >= 1, got -1"),
    (MaxPool2d, (2,), dict(padding=-1), r"padding must be >= 0, got -1"),
    (MaxPool2d, (2,), dict(dilation=0), r"dilation must be >= 1, got 0"),
    (MaxPool2d, (2,), dict(padding=2), r"padding must be at most half the kernel size, got padding=2 for kernel_size=2"),
    (MaxPool2d, (3,), dict(padding=2), r"padding must be at most half the kernel size"),
    (MaxPool2d, (2,), dict(padding=2, dilation=3), r"padding must be at most half the kernel size"),
    (MaxPool2d, ((4, 2),), dict(padding=(2, 2)), r"got padding=\(2, 2\) for kernel_size=\(4, 2\)"),
    (MaxPool2d, (2,), dict(ceil_mode="yes"), r"ceil_mode must be True or False, got 'yes'"),
    (MaxPool2d, (2,), dict(return_indices=1), r"return_indices must be True or False, got 1"),
    (AvgPool2d, (0,), {}, r"kernel_size must be >= 1, got 0"),
    (AvgPool2d, (2,), dict(stride=0), r"stride must be >= 1, got 0"),
    (AvgPool2d, (2,), dict(padding=-1), r"padding must be >= 0, got -1"),
    (AvgPool2d, (3,), dict(padding=2), r"padding must be at most half the kernel size"),
    (AvgPool2d, (2,), dict(ceil_mode=None), r"ceil_mode must be True or False"),
    (AvgPool2d, (2,), dict(count_include_pad="no"), r"count_include_pad must be True or False"),
    (AvgPool2d, (2,), dict(divisor_override=0), r"divisor_override must not be 0"),
    (AvgPool2d, (2,), dict(divisor_override=1.5), r"divisor_override must be an integer or None, got 1.5"),
    (AvgPool2d, (2,), dict(divisor_override=True), r"divisor_override must be an integer or None, got True"),
    (AdaptiveAvgPool2d, (0,), {}, r"output_size must be >= 1, got 0"),
    (AdaptiveAvgPool2d, (-1,), {}, r"output_size must be >= 1, got -1"),
    (AdaptiveAvgPool2d, ((3,),), {}, r"output_size must be an int or a pair"),
    (AdaptiveAvgPool2d, ((2, 0),), {}, r"output_size must be >= 1, got 0"),
    (AdaptiveAvgPool2d, (2.5,), {}, r"output_size must be an integer, got 2.5"),
    (AdaptiveAvgPool2d, ((None, "a"),), {}, r"output_size must be an integer, got 'a'"),
])
def test_bad_settings_raise_naming_the_parameter(cls, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(*args, **kwargs)


@pytest.mark.parametrize("layer", [MaxPool2d(2), AvgPool2d(2), AdaptiveAvgPool2d(2)], ids=repr)
@pytest.mark.parametrize("x, match", [
    (np.ones((4, 4)), r"x must have shape \(C, H, W\) or \(N, C, H, W\), got shape \(4, 4\)"),
    (np.ones((1, 1, 1, 4, 4)), r"x must have shape"),
    (np.ones((0, 1, 4, 4)), r"x must not be empty, got shape \(0, 1, 4, 4\)"),
    (np.ones((1, 0, 4)), r"x must not be empty"),
    ([["a", "b"], ["c", "d"]], r"x must be an array of numbers"),
])
def test_bad_inputs_raise(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)
    with pytest.raises(ValueError, match=match):
        layer.frames(x)


@pytest.mark.parametrize("layer", [MaxPool2d(2), AvgPool2d(2), AdaptiveAvgPool2d(2)], ids=repr)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(layer, bad):
    x = np.zeros((1, 4, 4))
    x[0, 2, 1] = bad
    with pytest.raises(ValueError, match=r"x must be finite.*\(0, 2, 1\)"):
        layer(x)
    with pytest.raises(ValueError, match=r"x must be finite"):
        layer.frames(x)


@pytest.mark.parametrize("layer, shape, match", [
    (MaxPool2d(4), (1, 3, 3), r"^kernel_size 4 spans 4x4 cells, larger than the padded input 3x3$"),
    (MaxPool2d(3, dilation=2), (1, 4, 9), r"^kernel_size 3 with dilation 2 spans 5x5 cells, larger than the padded input 4x9$"),
    (MaxPool2d((1, 5), padding=(0, 1)), (1, 6, 2), r"spans 1x5 cells, larger than the padded input 6x4$"),
    (AvgPool2d(2), (1, 1, 5), r"^kernel_size 2 spans 2x2 cells, larger than the padded input 1x5$"),
    (AvgPool2d(3, stride=1, padding=1, ceil_mode=True), (2, 2, 0 + 1, 1), None),  # fits: 3 <= 1 + 2
])
def test_kernel_larger_than_the_padded_input_raises(layer, shape, match):
    x = np.ones(shape)
    if match is None:
        assert layer(x).shape == torch_run(torch.nn.AvgPool2d(3, stride=1, padding=1, ceil_mode=True), x).shape
        return
    with pytest.raises(ValueError, match=match):
        layer(x)
    with pytest.raises(ValueError, match=match):
        layer.frames(x)


# -- traces: every frame adds up -----------------------------------------------------------------


def torch_padded(x4, padding, value):
    ph, pw = pair(padding)
    return F.pad(torch.from_numpy(x4), (pw, pw, ph, ph), value=value).numpy()


def check_sequence(trace):
    """len, iteration == random access, negative indices, slices, bad indices."""
    frames = list(trace)
    assert len(frames) == len(trace) == trace.n_frames
    for k, frame in enumerate(frames):
        for other in (trace[k], trace[k - len(trace)], trace[np.int64(k)]):
            assert other.index == frame.index == k
            assert other.cell == frame.cell
            assert other.narration == frame.narration
            assert other.result == frame.result
            np.testing.assert_array_equal(other.window, frame.window)
    for bad in (len(trace), -len(trace) - 1):
        with pytest.raises(IndexError):
            trace[bad]
    for bad in (1.0, "1", True, None):
        with pytest.raises(TypeError):
            trace[bad]
    for sl in (slice(None), slice(1, None, 2), slice(None, None, -1), slice(-3, None)):
        assert [f.index for f in trace[sl]] == list(range(len(frames)))[sl]
    return frames


def check_cell_and_output(trace, frame, k, x):
    batched = x.ndim == 4
    out4 = trace.output if batched else trace.output[None]
    n, c, i, j = np.unravel_index(k, out4.shape)  # row-major order of the output
    assert frame.cell == ((n, c, i, j) if batched else (c, i, j))
    assert frame.result == trace.output[frame.cell]
    assert frame.narration.startswith(f"out[{','.join(map(str, frame.cell))}] = ")
    # the result as a narration shows it: 2 decimals, or more on a rounding tie (0.125)
    if np.isfinite(frame.result):
        shown = re.findall(r"= (-?\d+\.(\d+))", frame.narration)[-1]
        assert len(shown[1]) >= 2 and shown[0] == fixed(frame.result, len(shown[1]))
    else:  # a dilated window of padding only
        assert f"= {frame.result}" in frame.narration
    so_far = frame.output_so_far
    per_sample = out4[0].size
    done = ~np.isnan(so_far)
    np.testing.assert_array_equal(done.ravel(), np.arange(per_sample) <= k % per_sample)
    np.testing.assert_array_equal(so_far[done], out4[n][done])
    return n, c, i, j


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=valid(max_cases(allow_invalid=False)))
def test_max_frames_add_up(case):
    kwargs = {**case.kwargs, "return_indices": True}
    x = case.x
    expected, expected_indices = (t.numpy() for t in torch_run(torch.nn.MaxPool2d(**kwargs), x))
    trace = MaxPool2d(**case.kwargs).frames(x)
    assert isinstance(trace, Trace)
    np.testing.assert_array_equal(trace.output, expected)
    x4 = x if x.ndim == 4 else x[None]
    padded = torch_padded(x4, case.kwargs["padding"], -math.inf)
    np.testing.assert_array_equal(trace.padded, padded)
    (kh, kw), (dh, dw), (ph, pw) = pair(case.kwargs["kernel_size"]), pair(case.kwargs["dilation"]), pair(case.kwargs["padding"])
    sh, sw = pair(case.kwargs["stride"] or case.kwargs["kernel_size"])
    h, w = x4.shape[2:]
    indices4 = expected_indices if x.ndim == 4 else expected_indices[None]
    for k, frame in enumerate(check_sequence(trace)):
        n, c, i, j = check_cell_and_output(trace, frame, k, x)
        rows, cols = i * sh + dh * np.arange(kh), j * sw + dw * np.arange(kw)
        np.testing.assert_array_equal(frame.rows, rows[rows < h + 2 * ph])  # cells past the padded input left out
        np.testing.assert_array_equal(frame.cols, cols[cols < w + 2 * pw])
        np.testing.assert_array_equal(frame.window, padded[n, c][np.ix_(frame.rows, frame.cols)])
        pad_rows = (frame.rows < ph) | (frame.rows >= ph + h)
        pad_cols = (frame.cols < pw) | (frame.cols >= pw + w)
        np.testing.assert_array_equal(frame.is_padding, pad_rows[:, None] | pad_cols[None, :])
        assert frame.input_index == indices4[n, c, i, j]
        if frame.is_padding.all():
            event("a dilated window of padding only: -inf, as torch")
            assert frame.result == -math.inf and frame.argmax is None and frame.position is None
            assert "reads only padding" in frame.narration
            continue
        # the arithmetic: the largest value, at the first place it occurs, where torch says
        assert frame.window.max() == frame.result == frame.window[frame.argmax]
        assert np.argmax(frame.window) == frame.argmax[0] * frame.window.shape[1] + frame.argmax[1]
        assert not frame.is_padding[frame.argmax]
        assert frame.input_index == indices4[n, c, i, j]
        assert frame.position == divmod(frame.input_index, w)
        assert x4[(n, c, *frame.position)] == frame.result
        assert ("padding never wins" in frame.narration) == bool(frame.is_padding.any())
        if frame.window.size <= 9:
            listed = ", ".join("pad" if p else fixed(v, 2) for v, p in zip(frame.window.ravel(), frame.is_padding.ravel()))
            assert f"max({listed}) = " in frame.narration


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=valid(avg_cases(allow_invalid=False)))
def test_avg_frames_add_up(case):
    x = case.x
    expected = torch_run(torch.nn.AvgPool2d(**case.kwargs), x).numpy()
    pool = AvgPool2d(**case.kwargs)
    trace = pool.frames(x)
    close(trace.output, expected)
    x4 = x if x.ndim == 4 else x[None]
    padded = torch_padded(x4, case.kwargs["padding"], 0.0)
    np.testing.assert_array_equal(trace.padded, padded)
    (kh, kw), (ph, pw) = pair(case.kwargs["kernel_size"]), pair(case.kwargs["padding"])
    sh, sw = pair(case.kwargs["stride"] or case.kwargs["kernel_size"])
    h, w = x4.shape[2:]
    override = case.kwargs["divisor_override"]
    for k, frame in enumerate(check_sequence(trace)):
        n, c, i, j = check_cell_and_output(trace, frame, k, x)
        rows, cols = i * sh + np.arange(kh), j * sw + np.arange(kw)
        np.testing.assert_array_equal(frame.rows, rows[rows < h + 2 * ph])
        np.testing.assert_array_equal(frame.cols, cols[cols < w + 2 * pw])
        np.testing.assert_array_equal(frame.window, padded[n, c][np.ix_(frame.rows, frame.cols)])
        pad_rows = (frame.rows < ph) | (frame.rows >= ph + h)
        pad_cols = (frame.cols < pw) | (frame.cols >= pw + w)
        np.testing.assert_array_equal(frame.is_padding, pad_rows[:, None] | pad_cols[None, :])
        # the arithmetic: sum / divisor, the divisor by torch's rules
        np.testing.assert_array_equal(frame.counted, np.ones_like(frame.is_padding) if case.kwargs["count_include_pad"]
                                      else ~frame.is_padding)
        assert frame.divisor == (override if override is not None else frame.counted.sum())
        assert frame.total == pytest.approx(frame.window.sum(), rel=1e-12, abs=1e-12)
        assert frame.total / frame.divisor == pytest.approx(frame.result, rel=1e-12, abs=1e-15)
        assert frame.result == pytest.approx(expected[frame.cell], rel=1e-10, abs=1e-12)
        assert f" / {frame.divisor} = " in frame.narration
        assert ("window cut at the edge" in frame.narration) == (frame.window.shape != (kh, kw))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=adaptive_cases())
def test_adaptive_frames_add_up(case):
    output_size, x = case
    expected = torch_run(torch.nn.AdaptiveAvgPool2d(output_size), x).numpy()
    trace = AdaptiveAvgPool2d(output_size).frames(x)
    close(trace.output, expected)
    x4 = x if x.ndim == 4 else x[None]
    h, w = x4.shape[2:]
    oh, ow = expected.shape[-2:]
    for k, frame in enumerate(check_sequence(trace)):
        n, c, i, j = check_cell_and_output(trace, frame, k, x)
        # torch's documented windows: [floor(i*H/OH), ceil((i+1)*H/OH))
        np.testing.assert_array_equal(frame.rows, np.arange(math.floor(i * h / oh), math.ceil((i + 1) * h / oh)))
        np.testing.assert_array_equal(frame.cols, np.arange(math.floor(j * w / ow), math.ceil((j + 1) * w / ow)))
        np.testing.assert_array_equal(frame.window, x4[n, c][np.ix_(frame.rows, frame.cols)])
        assert not frame.is_padding.any() and frame.counted.all()
        assert frame.divisor == frame.window.size
        assert frame.total == pytest.approx(frame.window.sum(), rel=1e-12, abs=1e-12)
        assert frame.total / frame.divisor == pytest.approx(frame.result, rel=1e-12, abs=1e-15)
        assert frame.result == pytest.approx(expected[frame.cell], rel=1e-10, abs=1e-12)


# -- scenes: the highlights are the frames' cells ------------------------------------------------


def lit(highlight, k, grid):
    """The cells a highlight outlines at frame k that the renderers draw (on the grid and on the page)."""
    first = grid.page_at(k) * grid.page_size
    _, h, w = grid.values.shape
    return {(int(s), int(r), int(c)) for s, r, c in highlight.cells(k)
            if first <= s < first + grid.page_size and 0 <= r < h and 0 <= c < w}


def check_scene(trace, picks, has_max):
    scene = trace.scene()
    assert scene.n_frames == len(trace) == len(scene.captions)
    assert scene.title == repr(trace.layer)
    inp, out = scene.panel("input"), scene.panel("output")
    x4 = trace.input if trace.input.ndim == 4 else trace.input[None]
    n_samples, channels = x4.shape[:2]
    assert inp.page_size == channels and inp.n_pages == n_samples
    assert out.page_size == channels and out.n_pages == n_samples
    mask = trace.padding_mask
    np.testing.assert_array_equal(inp.values, np.where(mask, 0.0, trace.padded).reshape(inp.values.shape))
    if mask.any():
        np.testing.assert_array_equal(inp.padding, np.broadcast_to(mask, inp.values.shape))
    empty = np.isneginf(trace.output)  # max pooling: a dilated window of padding only
    np.testing.assert_array_equal(out.values, np.where(empty, 0.0, trace.output).reshape(out.values.shape))
    if empty.any():
        np.testing.assert_array_equal(out.padding, empty.reshape(out.values.shape))
    assert scene.vmax >= max(np.abs(x4).max(), np.abs(trace.output[~empty]).max(initial=0.0)) and scene.vmax > 0
    assert np.isfinite(scene.vmax) and np.isfinite(inp.values).all() and np.isfinite(out.values).all()
    windows = [h for h in scene.highlights if h.role == "window"]
    assert all(h.panel == "input" for h in windows)
    (outputs,) = [h for h in scene.highlights if h.role == "output"]
    maxima = [h for h in scene.highlights if h.role == "max"]
    assert len(maxima) == (1 if has_max else 0)
    assert {h.role for h in scene.highlights} <= {"window", "max", "output"}

    ks = sorted({0, len(trace) - 1, *(int(p * len(trace)) for p in picks)})
    for k in ks:
        frame = trace[k]
        n, c = (frame.cell[0], frame.cell[1]) if trace.input.ndim == 4 else (0, frame.cell[0])
        slice_ = n * channels + c
        assert inp.page_at(k) == out.page_at(k) == n
        window = {(slice_, int(r), int(q)) for r in frame.rows for q in frame.cols}
        drawn = [lit(h, k, inp) for h in windows]
        assert sum(1 for cells in drawn if cells) == 1  # one window highlight at a time
        assert set().union(*drawn) == window
        assert sorted(inp.values[s, r, q] for s, r, q in window) == sorted(
            np.where(frame.is_padding, 0.0, frame.window).ravel())
        if has_max and frame.position is None:
            assert lit(maxima[0], k, inp) == set()  # no winner in a window of padding only
        elif has_max:
            ph, pw = pair(trace.layer.padding)
            assert lit(maxima[0], k, inp) == {(slice_, frame.position[0] + ph, frame.position[1] + pw)}
            assert inp.values[slice_, frame.position[0] + ph, frame.position[1] + pw] == frame.result
        assert lit(outputs, k, out) == {(slice_, *frame.cell[-2:])}
        assert out.values[(slice_, *frame.cell[-2:])] == (0.0 if frame.result == -math.inf else frame.result)
        shown = out.reveal <= k
        np.testing.assert_array_equal(shown.ravel(), np.arange(len(trace)) <= k)
        assert scene.captions[k] == frame.narration
    return scene


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=valid(max_cases(allow_invalid=False)), picks=st.lists(st.floats(0, 1, exclude_max=True), max_size=6))
def test_max_scene_matches_frames(case, picks):
    check_scene(MaxPool2d(**case.kwargs).frames(case.x), picks, has_max=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=valid(avg_cases(allow_invalid=False)), picks=st.lists(st.floats(0, 1, exclude_max=True), max_size=6))
def test_avg_scene_matches_frames(case, picks):
    check_scene(AvgPool2d(**case.kwargs).frames(case.x), picks, has_max=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=adaptive_cases(), picks=st.lists(st.floats(0, 1, exclude_max=True), max_size=6))
def test_adaptive_scene_matches_frames(case, picks):
    output_size, x = case
    check_scene(AdaptiveAvgPool2d(output_size).frames(x), picks, has_max=False)


@pytest.mark.parametrize("trace", [
    MaxPool2d(3, stride=2, padding=1, ceil_mode=True).frames(np.random.default_rng(0).standard_normal((2, 2, 6, 6))),
    AvgPool2d(2, padding=1, count_include_pad=False).frames(np.random.default_rng(1).standard_normal((3, 5, 5))),
    AdaptiveAvgPool2d((3, 2)).frames(np.random.default_rng(2).standard_normal((1, 7, 5))),
    pool_comparison(np.random.default_rng(3).standard_normal((1, 6, 6)), kernel_size=3, padding=1, ceil_mode=True),
], ids=["max", "avg", "adaptive", "comparison"])
def test_scene_draws_with_matplotlib_and_encodes_for_the_browser(trace):
    scene = trace.scene()
    for k in (0, len(trace) // 2, -1):
        fig = mpl.draw_frame(scene, range(len(trace))[k])
        assert fig.axes
    encoded = encode_scene(scene)
    assert encoded["n_frames"] == len(trace)
    assert {h["role"] for h in encoded["highlights"]} <= {"window", "max", "output"}


# -- the comparison ------------------------------------------------------------------------------


def test_comparison_shows_max_and_average_of_the_same_windows():
    comparison = pool_comparison(WORKED, kernel_size=2)
    assert isinstance(comparison, PoolComparison) and len(comparison) == 4
    np.testing.assert_array_equal(comparison.output, [[[[5.0, 2.0], [2.0, 8.0]]], [[[3.25, 1.0], [1.0, 6.0]]]])
    frame = comparison[0]
    assert frame.narration == ("out[0,0,0]: max(1.00, 3.00, 5.00, 4.00) = 5.00   ·   "
                               "average (1.00 + 3.00 + 5.00 + 4.00) / 4 = 3.25")
    assert frame.max.result == 5.0 and frame.average.result == 3.25
    assert [f.narration for f in comparison] == [comparison[k].narration for k in range(-4, 0)]
    scene = comparison.scene()
    assert [p.name for p in scene.panels] == ["input", "output", "average"]
    np.testing.assert_array_equal(scene.panel("average").values, [[[3.25, 1.0], [1.0, 6.0]]])
    by_panel = {(h.panel, h.role) for h in scene.highlights}
    assert by_panel == {("input", "window"), ("input", "max"), ("output", "output"), ("average", "output")}
    for h in scene.highlights:
        if h.role == "output":
            np.testing.assert_array_equal(h.cells(3), [[0, 1, 1]])
    assert scene.captions[2] == comparison[2].narration
    assert "PoolComparison" in repr(comparison) and "4 frames" in repr(comparison)


def test_comparison_refuses_layers_with_different_outputs():
    with pytest.raises(ValueError, match="outputs of the same shape"):
        PoolComparison(MaxPool2d(2), AvgPool2d(3), np.ones((1, 6, 6)))


# -- cost, snapshots, reprs ----------------------------------------------------------------------


@pytest.mark.parametrize("layer", [MaxPool2d(2), AvgPool2d(3, stride=1, padding=1), AdaptiveAvgPool2d(100)], ids=repr)
def test_random_access_is_constant_time(layer):
    x = np.random.default_rng(0).standard_normal((3, 224, 224))
    start = time.perf_counter()
    trace = layer.frames(x)
    built = time.perf_counter() - start
    assert built < 1.0, f"building the trace took {built:.3f} s"
    assert len(trace) == trace.output.size > 20_000

    trace[0]
    for k in (len(trace) - 1, len(trace) // 2, 12345):
        elapsed = median_access_time(trace, k)
        assert elapsed < 5e-3, f"trace[{k}] took {elapsed * 1e3:.2f} ms"
    frame = trace[-1]
    assert frame.cell == (2, *(size - 1 for size in trace.output.shape[1:]))


def test_frames_cannot_change_their_trace_and_the_input_is_copied():
    x = np.arange(16.0).reshape(1, 4, 4)
    for trace in (MaxPool2d(2).frames(x), AvgPool2d(2).frames(x), AdaptiveAvgPool2d(2).frames(x)):
        frame = trace[0]
        for array in (frame.window, trace.output, trace.padded, trace.input, trace.padding_mask):
            with pytest.raises(ValueError, match="read-only"):
                array[...] = 0
    trace = MaxPool2d(2).frames(x)
    x[0, 1, 1] = 100.0
    assert trace.input[0, 1, 1] == 5.0 and trace[0].result == 5.0


def test_reprs():
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(MaxPool2d((2, 3), stride=1, return_indices=True)) == (
        "MaxPool2d(kernel_size=(2, 3), stride=1, padding=0, dilation=1, ceil_mode=False, return_indices=True)")
    assert repr(AvgPool2d(2)) == repr(torch.nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(AvgPool2d(3, 2, 1, True, False, 5)) == (
        "AvgPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=5)")
    assert repr(AdaptiveAvgPool2d((None, 2))) == "AdaptiveAvgPool2d(output_size=(None, 2))"
    trace = MaxPool2d(2).frames(np.ones((2, 3, 4, 4)))
    assert repr(trace) == ("<MaxPoolTrace of MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False):"
                           " 24 frames, input (2, 3, 4, 4) -> output (2, 3, 2, 2)>")
    assert repr(trace[0]).startswith("MaxPoolFrame(0: out[0,0,0,0] = max(")


# -- the explorer --------------------------------------------------------------------------------


@pytest.fixture
def explorer():
    return pooling_explorer()


def test_explorer_starts_with_max_pooling_of_a_digit(explorer):
    assert explorer.error.value == ""
    assert isinstance(explorer.trace.layer, MaxPool2d)
    assert explorer.player.n_frames == len(explorer.trace) == 16  # 8x8 digit, 2x2 windows, stride 2
    assert "→ output (1, 4, 4)" in explorer.summary.value
    assert explorer.controls["output_size"].disabled and explorer.controls["count_include_pad"].disabled
    assert not explorer.controls["kernel_size"].disabled


@pytest.mark.parametrize("kind, cls", [("max", MaxPool2d), ("average", AvgPool2d)])
def test_explorer_output_equals_the_layer_with_the_same_settings(explorer, kind, cls):
    from layerviz import data

    explorer.controls["kind"].value = kind
    explorer.controls["input"].value = "photo"
    explorer.controls["size"].value = 9
    explorer.controls["kernel_size"].value = 3
    explorer.controls["stride"].value = 2
    explorer.controls["padding"].value = 1
    explorer.controls["ceil_mode"].value = True
    layer = cls(3, stride=2, padding=1, ceil_mode=True)
    np.testing.assert_array_equal(explorer.trace.output, layer(data.photo(9)))
    assert explorer.player.n_frames == layer(data.photo(9)).size
    explorer.controls["stride"].value = "default"
    assert explorer.trace.layer.stride == 3


def test_explorer_adaptive_and_comparison(explorer):
    explorer.controls["kind"].value = "adaptive average"
    explorer.controls["output_size"].value = 3
    assert isinstance(explorer.trace.layer, AdaptiveAvgPool2d) and explorer.trace.output.shape == (1, 3, 3)
    assert explorer.controls["kernel_size"].disabled and not explorer.controls["output_size"].disabled
    assert "⌊i·8/3⌋" in explorer.summary.value
    explorer.controls["kind"].value = "max vs average"
    assert isinstance(explorer.trace, PoolComparison)
    assert explorer.player.n_frames == 16
    explorer.controls["count_include_pad"].value = False
    assert explorer.trace.layer[1].count_include_pad is False


@pytest.mark.parametrize("changes, message", [
    ({"padding": 2}, "padding must be at most half the kernel size, got padding=2 for kernel_size=2"),
    ({"size": 2, "kernel_size": 3}, "larger than the padded input"),
    ({"input": "upload"}, "choose an image file"),
])
def test_invalid_settings_show_the_message_and_keep_the_last_trace(explorer, changes, message):
    *first, (last_name, last_value) = changes.items()
    for name, value in first:
        explorer.controls[name].value = value
    before = explorer.trace
    explorer.controls[last_name].value = last_value
    assert html.escape(message) in explorer.error.value
    assert 'role="alert"' in explorer.error.value
    assert explorer.trace is before
    assert "Traceback" not in explorer.error.value


def test_explorer_refuses_unknown_controls_and_kinds():
    with pytest.raises(ValueError, match="no control 'dilation'"):
        pooling_explorer(dilation=2)
    values = dict(pooling_explorer().values(), kind="median")
    with pytest.raises(ValueError, match="kind must be one of"):
        build_pooling(values)
