"""ConvTrace: a Sequence of frames with O(1) random access, each frame's arithmetic, and the Scene built from it.

Independent references: the padded input is rebuilt with torch.nn.functional.pad, the padding
cells and window coordinates from torch's documented formulas, the output with torch.nn.Conv2d.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerviz import Conv2d, Trace, from_torch
from tests.access_time import median_access_time
from tests.conv_reference import MODES, expected_pads
from tests.conv_reference import pair as _pair

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")

TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}




def int_or_pair(lo, hi):
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


@st.composite
def traced_convs(draw):
    """A torch Conv2d (double) and an input the kernel fits, small enough to walk every frame."""
    groups = draw(st.integers(1, 2))
    in_channels, out_channels = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel_size, dilation = draw(int_or_pair(1, 3)), draw(int_or_pair(1, 2))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.sampled_from(["same", "valid"])))
    stride = 1 if padding == "same" else draw(int_or_pair(1, 2))
    mode = draw(st.sampled_from(MODES))
    top, bottom, left, right = expected_pads(kernel_size, dilation, padding)
    (kh, kw), (dh, dw) = _pair(kernel_size), _pair(dilation)
    min_h, min_w = max(1, dh * (kh - 1) + 1 - top - bottom), max(1, dw * (kw - 1) + 1 - left - right)
    if mode in ("reflect", "circular"):  # reflect needs pad < size; torch's circular, pad <= size
        extra = mode == "reflect"
        min_h, min_w = max(min_h, max(top, bottom) + extra), max(min_w, max(left, right) + extra)
    h, w = min_h + draw(st.integers(0, 3)), min_w + draw(st.integers(0, 3))
    batch = draw(st.one_of(st.none(), st.integers(1, 2)))
    seed = draw(st.integers(0, 2**31 - 1))
    torch.manual_seed(seed)
    module = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                             dilation=dilation, groups=groups, bias=draw(st.booleans()), padding_mode=mode).double()
    shape = (in_channels, h, w) if batch is None else (batch, in_channels, h, w)
    x = np.random.default_rng(seed).standard_normal(shape)
    return module, x


def torch_padded(module, x4):
    """The padded input (N, C, H', W'), built by torch."""
    top, bottom, left, right = expected_pads(module.kernel_size, module.dilation, module.padding)
    return F.pad(torch.from_numpy(x4), (left, right, top, bottom), mode=TORCH_PAD_MODES[module.padding_mode]).numpy()


def same_frame(a, b):
    assert a.index == b.index
    assert a.cell == b.cell
    np.testing.assert_array_equal(a.window, b.window)
    np.testing.assert_array_equal(a.is_padding, b.is_padding)
    assert a.result == b.result
    assert a.narration == b.narration


# -- the sequence and each frame's arithmetic ---------------------------------------------------


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=traced_convs())
def test_frames_add_up(case):
    module, x = case
    conv = from_torch(module)
    trace = conv.frames(x)
    with torch.no_grad():
        expected_output = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(trace.output, expected_output, rtol=1e-10, atol=1e-12)
    assert isinstance(trace, Trace)

    batched = x.ndim == 4
    x4 = x if batched else x[None]
    out4 = expected_output if batched else expected_output[None]
    n_samples, out_channels, oh, ow = out4.shape
    assert len(trace) == expected_output.size

    padded = torch_padded(module, x4)
    np.testing.assert_array_equal(trace.padded, padded)
    top, bottom, left, right = expected_pads(module.kernel_size, module.dilation, module.padding)
    h, w = x4.shape[2:]
    (kh, kw), (sh, sw), (dh, dw) = module.kernel_size, module.stride, module.dilation
    cg, og = module.in_channels // module.groups, out_channels // module.groups
    weight = module.weight.detach().numpy()
    bias = None if module.bias is None else module.bias.detach().numpy()

    frames = list(trace)
    assert len(frames) == len(trace)
    cells = []
    per_sample = out_channels * oh * ow
    for k, frame in enumerate(frames):
        same_frame(frame, trace[k])
        same_frame(frame, trace[k - len(trace)])
        assert frame.index == k
        n, o, i, j = np.unravel_index(k, out4.shape)  # row-major order of the output
        assert frame.cell == ((n, o, i, j) if batched else (o, i, j))
        cells.append(frame.cell)

        # which input cells the window reads
        group = o // og
        np.testing.assert_array_equal(frame.channels, np.arange(group * cg, (group + 1) * cg))
        np.testing.assert_array_equal(frame.rows, i * sh + dh * np.arange(kh))
        np.testing.assert_array_equal(frame.cols, j * sw + dw * np.arange(kw))
        np.testing.assert_array_equal(frame.window, padded[n][np.ix_(frame.channels, frame.rows, frame.cols)])
        rows_pad = (frame.rows < top) | (frame.rows >= top + h)
        cols_pad = (frame.cols < left) | (frame.cols >= left + w)
        expected_is_padding = np.broadcast_to(rows_pad[:, None] | cols_pad[None, :], (cg, kh, kw))
        np.testing.assert_array_equal(frame.is_padding, expected_is_padding)
        assert frame.is_padding.dtype == bool

        # the arithmetic
        np.testing.assert_array_equal(frame.kernel, weight[o])
        np.testing.assert_allclose(frame.products, frame.window * weight[o], rtol=1e-12, atol=0)
        np.testing.assert_allclose(frame.partial_sums, frame.products.sum(axis=(1, 2)), rtol=1e-12, atol=1e-15)
        assert frame.partial_sums.shape == (cg,)
        assert frame.bias == (0.0 if bias is None else bias[o])
        assert frame.partial_sums.sum() + frame.bias == pytest.approx(frame.result, rel=1e-10, abs=1e-12)
        assert frame.result == trace.output[frame.cell]
        assert frame.result == pytest.approx(out4[n, o, i, j], rel=1e-10, abs=1e-12)
        assert frame.narration.startswith(f"out[{','.join(map(str, frame.cell))}] = ")
        assert frame.narration.endswith(f"= {frame.result:.2f}".replace("-0.00", "0.00"))

        # the output filling up, one cell per frame within the sample
        so_far = frame.output_so_far
        assert so_far.shape == (out_channels, oh, ow)
        done = ~np.isnan(so_far)
        assert done.sum() == k % per_sample + 1
        np.testing.assert_array_equal(done.ravel(), np.arange(per_sample) <= k % per_sample)
        np.testing.assert_array_equal(so_far[done], trace.output4[n][done])
        assert so_far[o, i, j] == frame.result

    assert cells == sorted(cells) and len(set(cells)) == len(cells)

    # indexing rules of a Sequence
    for bad in (len(trace), len(trace) + 5, -len(trace) - 1):
        with pytest.raises(IndexError):
            trace[bad]
    for sl in (slice(None), slice(1, None, 2), slice(-3, None), slice(None, None, -1), slice(5, 2), slice(0, 10**6)):
        got = trace[sl]
        expected = [frames[i] for i in range(len(frames))[sl]]
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            same_frame(a, b)
    same_frame(trace[np.int64(len(trace) - 1)], frames[-1])


def test_index_type_errors():
    trace = Conv2d(1, 1, 2, rng=0).frames(np.ones((1, 3, 3)))
    for bad in (1.0, "1", True, None):
        with pytest.raises(TypeError):
            trace[bad]


# -- the scene ---------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=traced_convs(), picks=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8))
def test_scene_matches_frames(case, picks):
    module, x = case
    conv = from_torch(module)
    trace = conv.frames(x)
    scene = trace.scene()
    assert scene.n_frames == len(trace)
    assert len(scene.captions) == len(trace)
    assert scene.title == repr(conv)

    batched = x.ndim == 4
    x4 = x if batched else x[None]
    n_samples, channels = x4.shape[:2]
    out4 = trace.output4
    out_channels, oh, ow = out4.shape[1:]
    cg = conv.in_channels // conv.groups
    kh, kw = conv.kernel_size

    inp, kernel, output = scene.panel("input"), scene.panel("kernel"), scene.panel("output")
    assert inp.page_size == channels and inp.n_pages == n_samples
    np.testing.assert_array_equal(inp.values, torch_padded(module, x4).reshape(-1, *inp.values.shape[1:]))
    assert kernel.page_size == cg and kernel.n_pages == out_channels
    np.testing.assert_array_equal(kernel.values, conv.weight.reshape(-1, kh, kw))
    assert output.page_size == out_channels and output.n_pages == n_samples
    np.testing.assert_array_equal(output.values, out4.reshape(-1, oh, ow))
    if conv.bias is None:
        with pytest.raises(KeyError):
            scene.panel("bias")
    else:
        np.testing.assert_array_equal(scene.panel("bias").values.ravel(), conv.bias)
    highlights = {h.panel: h for h in scene.highlights}
    assert set(highlights) == {"input", "kernel", "output"}

    every = np.concatenate([x4.ravel(), conv.weight.ravel(), out4.ravel()]
                           + ([] if conv.bias is None else [conv.bias]))
    assert scene.vmax >= np.abs(every).max() and scene.vmax > 0
    for panel in scene.panels:
        assert np.abs(panel.values).max() <= scene.vmax

    ks = sorted({0, len(trace) - 1, *(int(p * len(trace)) for p in picks)})
    for k in ks:
        frame = trace[k]
        n, o = (frame.cell[0], frame.cell[1]) if batched else (0, frame.cell[0])
        i, j = frame.cell[-2:]

        # pages: the current sample's input and output, the current output channel's kernel and bias
        assert inp.page_at(k) == n and output.page_at(k) == n
        assert kernel.page_at(k) == o
        if conv.bias is not None:
            assert scene.panel("bias").page_at(k) == o

        # input highlight: exactly the window, on the shown page
        cells = highlights["input"].cells(k)
        assert (cells[:, 0] // inp.page_size == inp.page_at(k)).all()
        lit = {(int(s) % channels, int(r), int(c)) for s, r, c in cells}
        window = {(int(c), int(r), int(q)) for c in frame.channels for r in frame.rows for q in frame.cols}
        assert lit == window and len(cells) == frame.window.size
        assert sorted(inp.values[s, r, c] for s, r, c in cells) == sorted(frame.window.ravel())
        padding_lit = {(int(s) % channels, int(r), int(c)) for s, r, c in cells if inp.padding[s, r, c]}
        padding_frame = {(int(frame.channels[a]), int(frame.rows[b]), int(frame.cols[c]))
                         for a, b, c in zip(*np.nonzero(frame.is_padding))}
        assert padding_lit == padding_frame

        # kernel highlight: all of weight[o], on the shown page
        kcells = highlights["kernel"].cells(k)
        assert (kcells[:, 0] // kernel.page_size == o).all()
        assert len({tuple(c) for c in kcells}) == cg * kh * kw
        np.testing.assert_array_equal(np.sort(kernel.values[tuple(kcells.T)]), np.sort(frame.kernel.ravel()))

        # output highlight: frame k's cell
        ocells = highlights["output"].cells(k)
        assert len(ocells) == 1
        s, r, c = (int(v) for v in ocells[0])
        assert s // output.page_size == output.page_at(k)
        assert (s % out_channels, r, c) == (o, i, j) and output.values[s, r, c] == frame.result

        # reveal: cells of frame <= k are shown, exactly the first k+1 cells in row-major order
        shown = output.reveal <= k
        assert shown.sum() == k + 1
        np.testing.assert_array_equal(shown.ravel(), np.arange(len(trace)) <= k)
        page = slice(n * out_channels, (n + 1) * out_channels)
        np.testing.assert_array_equal(shown[page], ~np.isnan(frame.output_so_far))

        assert scene.captions[k] == frame.narration
    assert scene.captions[-1] == trace[-1].narration
    assert scene.captions[:3] == [f.narration for f in trace[:3]]


def test_scene_vmax_without_values_is_positive():
    conv = Conv2d(1, 1, 2, bias=False)
    conv.weight = np.zeros((1, 1, 2, 2))
    assert conv.frames(np.zeros((1, 3, 3))).scene().vmax > 0


# -- cost of random access ---------------------------------------------------------------------


def test_random_access_is_constant_time():
    conv = Conv2d(3, 16, 3, rng=0)
    x = np.random.default_rng(0).standard_normal((3, 224, 224))
    start = time.perf_counter()
    trace = conv.frames(x)
    built = time.perf_counter() - start
    assert len(trace) == 16 * 222 * 222
    assert built < 1.0, f"building the trace took {built:.3f} s"

    trace[0]  # warm up
    for k in (len(trace) - 1, len(trace) - 12345, len(trace) // 2):
        elapsed = median_access_time(trace, k)
        assert elapsed < 5e-3, f"trace[{k}] took {elapsed * 1e3:.2f} ms"
    frame = trace[-1]
    assert frame.cell == (15, 221, 221)
    assert frame.result == pytest.approx(float((x[:, 221:, 221:] * conv.weight[15]).sum() + conv.bias[15]))


def test_repr_names_layer_and_frame_count():
    conv = Conv2d(2, 3, kernel_size=2, stride=2, rng=0)
    trace = conv.frames(np.ones((4, 2, 6, 8)))
    text = repr(trace)
    assert repr(conv) in text and "Conv2d(2, 3" in text
    assert f"{4 * 3 * 3 * 4} frames" in text
    assert "ConvTrace" in text


def test_trace_is_a_snapshot_of_the_weights_it_was_built_with():
    conv = Conv2d(1, 2, 2, rng=0)
    trace = conv.frames(np.arange(9.0).reshape(1, 3, 3))
    weight_then = conv.weight.copy()
    conv.weight = np.zeros((2, 1, 2, 2))
    conv.bias = np.zeros(2)
    frame = trace[0]
    assert frame.partial_sums.sum() + frame.bias == pytest.approx(frame.result)
    np.testing.assert_array_equal(trace.scene().panel("kernel").values, weight_then.reshape(-1, 2, 2))


def test_frames_cannot_change_their_trace():
    conv = Conv2d(1, 1, 2, rng=0)
    x = np.arange(9.0).reshape(1, 3, 3)
    trace = conv.frames(x)
    frame = trace[0]
    for array in (frame.kernel, trace.output, trace.padded, trace.input):
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0
    x[0, 0, 0] = 100.0  # the caller's array stays theirs
    assert trace.input[0, 0, 0] == 0.0
    assert np.isclose(trace[0].products.sum() + trace[0].bias, trace[0].result)
