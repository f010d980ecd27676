"""Dropout against torch (F.dropout, torch.native_dropout, nn.Dropout), statistics of its masks, its trace and scene.

The oracles are independent of layerviz: torch's outputs and masks, the formula ``x * mask / (1 - p)``
computed with torch, binomial bounds on the kept fraction, numbers worked out by hand, and the frame
order and display coordinates written out again here from the documented rules.
"""

from __future__ import annotations

import math
import re
import time
from decimal import ROUND_HALF_UP, Decimal

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from layerviz import data
from layerviz._format import fixed
from layerviz.layers.dropout import Dropout, DropoutTrace, dropout_naive, mean_over_masks
from layerviz.player import Player
from layerviz.trace import Trace
from layerviz.ui.dropout import build_dropout, dropout_explorer
from tests.access_time import median_access_time

LIMIT = 256  # documented: inputs of more elements get one mask frame per row


# -- strategies ---------------------------------------------------------------------------------


@st.composite
def shapes(draw):
    """Any number of dimensions; small ones (one frame per element) and larger ones (one per row)."""
    if draw(st.booleans()):
        ndim = draw(st.integers(0, 5))
        return tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    leading = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    return (*leading, draw(st.integers(8, 24)), draw(st.integers(20, 40)))


probabilities = st.one_of(st.sampled_from([0, 1, 0.0, 1.0, 0.5]), st.floats(0, 1).filter(lambda v: 0 < v < 1))
seeds = st.integers(0, 2**32 - 1)


def nonzero_normal(shape, seed):
    x = np.asarray(np.random.default_rng(seed).standard_normal(shape))
    x[x == 0] = 1.0  # so that torch's zeros tell its mask
    return x


def torch_formula(x, mask, p):
    """``x * mask / (1 - p)``, computed by torch; all zeros for p = 1 (what torch's dropout returns)."""
    xt, mt = torch.from_numpy(np.array(x, dtype=np.float64)), torch.from_numpy(np.array(mask, dtype=bool))
    if p == 1:
        return torch.zeros_like(xt).numpy()
    return (xt * mt / (1 - p)).numpy()


# -- torch comparison ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes(), p=probabilities, seed=seeds)
def test_matches_torch(shape, p, seed):
    x = nonzero_normal(shape, seed)
    xt = torch.from_numpy(x.copy())
    x_before = x.copy()

    # torch's own mask: native_dropout returns it; the same mask gives the same numbers
    out_t, mask_t = torch.native_dropout(xt, float(p), True)
    got = Dropout(p)(x, mask=mask_t.numpy())
    np.testing.assert_array_equal(got, out_t.numpy())
    assert got.shape == shape

    # F.dropout (what nn.Dropout calls): its zeros are its mask
    torch.manual_seed(seed)
    out_f = F.dropout(xt, p, training=True).numpy()
    np.testing.assert_array_equal(Dropout(p)(x, mask=out_f != 0), out_f)

    # layerviz's own mask, from the seed: the formula computed by torch, and the plain-loop definition
    mask = Dropout(p, rng=seed).sample_mask(shape)
    assert mask.shape == shape and mask.dtype == bool
    layer = Dropout(p, rng=seed)
    out = layer(x)
    np.testing.assert_allclose(out, torch_formula(x, mask, p), rtol=1e-14, atol=0)
    np.testing.assert_allclose(out, dropout_naive(x, p, True, mask), rtol=1e-14, atol=0)
    assert ((out == 0) | mask).all()
    if p == 1:
        event("p = 1: all zeros")
        assert not mask.any() and (out == 0).all()
    if p == 0:
        event("p = 0: everything kept")
        assert mask.all()
        np.testing.assert_array_equal(out, x)

    # the trace draws the same mask from the same seed, and gives the same output
    trace = Dropout(p, rng=seed).frames(x)
    np.testing.assert_array_equal(trace.mask, mask)
    np.testing.assert_array_equal(trace.output, out)
    event("one frame per element" if x.size <= LIMIT else "one frame per row")

    # eval mode: torch's identity
    module = torch.nn.Dropout(p).eval()
    layer_eval = Dropout._from_torch(module)
    assert layer_eval.training is False and layer_eval.p == p
    with torch.no_grad():
        np.testing.assert_array_equal(layer_eval(x), module(xt).numpy())
    np.testing.assert_array_equal(layer_eval(x), x)
    np.testing.assert_array_equal(dropout_naive(x, p, False), x)
    np.testing.assert_array_equal(x, x_before)  # the input is not modified


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4, 5)])
def test_p_zero_and_one_like_torch(shape):
    x = nonzero_normal(shape, 1)
    xt = torch.from_numpy(x)
    np.testing.assert_array_equal(Dropout(0, rng=0)(x), F.dropout(xt, 0.0, training=True).numpy())
    np.testing.assert_array_equal(Dropout(0.0, rng=0)(x), x)
    zeros = Dropout(1.0, rng=0)(x)
    np.testing.assert_array_equal(zeros, F.dropout(xt, 1.0, training=True).numpy())
    assert (zeros == 0).all() and not np.signbit(zeros).any()  # +0.0 everywhere
    # an explicit mask at p = 1: torch's kernel scales by 0, so still all zeros
    np.testing.assert_array_equal(Dropout(1)(x, mask=np.ones(shape)), torch.native_dropout(xt, 1.0, True)[0].numpy())


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_eval_is_identity_like_torch(p):
    x = nonzero_normal((2, 3, 4), 5)
    module = torch.nn.Dropout(p).eval()
    layer = Dropout(p, rng=0).eval()
    with torch.no_grad():
        np.testing.assert_array_equal(layer(x), module(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(layer(x), x)
    assert layer(x) is not x
    trace = layer.frames(x)
    assert len(trace) == 1 and trace.mask is None
    np.testing.assert_array_equal(trace.output, x)
    assert trace[0].stage == "identity" and trace[0].narration == (
        "eval mode: dropout is the identity, out = x (no mask, no scaling)")
    # eval draws nothing from the generator: back in training, the first mask is the seed's first
    layer.train()
    np.testing.assert_array_equal(layer.frames(x).mask, Dropout(p, rng=0).frames(x).mask)


def test_train_eval_return_self_and_set_training_like_torch():
    layer, module = Dropout(0.3), torch.nn.Dropout(0.3)
    assert layer.training is module.training is True
    assert layer.eval() is layer and module.eval() is module
    assert layer.training is module.training is False
    assert layer.train() is layer and layer.training is True
    assert layer.train(False).training is False
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        module.train("yes")
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        layer.train("yes")


@pytest.mark.parametrize("args", [(0.5,), (0.25, True), (1,), (0,), (0.1, False), (1.0,)])
def test_repr_like_torch(args):
    assert repr(Dropout(*args)) == repr(torch.nn.Dropout(*args))


@pytest.mark.parametrize("p, inplace, training", [(0.3, False, True), (0.7, True, True), (0.5, False, False), (1.0, True, False)])
def test_from_torch_copies_p_inplace_and_mode(p, inplace, training):
    module = torch.nn.Dropout(p, inplace=inplace).train(training)
    layer = Dropout._from_torch(module, rng=3)
    assert (layer.p, layer.inplace, layer.training) == (p, inplace, training)
    assert repr(layer) == repr(module)
    np.testing.assert_array_equal(layer.rng.random(3), np.random.default_rng(3).random(3))


def test_inplace_writes_into_x_like_torch():
    x = nonzero_normal((4, 6), 2)
    xt = torch.from_numpy(x.copy())
    torch.manual_seed(0)
    returned = F.dropout(xt, 0.4, training=True, inplace=True)
    assert returned is xt
    target = x.copy()
    got = Dropout(0.4, inplace=True)(target, mask=xt.numpy() != 0)
    assert got is target
    np.testing.assert_array_equal(target, xt.numpy())
    # not in place: x stays
    y = x.copy()
    Dropout(0.4, rng=0)(y)
    np.testing.assert_array_equal(y, x)
    # a trace never changes its input, in place or not
    z = x.copy()
    Dropout(0.4, inplace=True, rng=0).frames(z)
    np.testing.assert_array_equal(z, x)


# -- the masks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_kept_fraction_within_binomial_bound(p, seed):
    n = 200_000
    mask = Dropout(p, rng=seed).frames(np.ones((400, 500))).mask
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(mask.mean() - (1 - p)) < 5 * sigma
    # no position is favoured: each half of the array too, and in the same way along rows and columns
    for part in (mask[:200], mask[200:], mask[:, :250], mask[:, 250:]):
        assert abs(part.mean() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / part.size)
    # neighbours are independent: both kept with probability (1 - p)^2
    pairs = mask[:, :-1] & mask[:, 1:]
    q = (1 - p) ** 2
    assert abs(pairs.mean() - q) < 5 * math.sqrt(q * (1 - q) / pairs.size) * 2  # pairs overlap: wider bound


def test_same_seed_same_mask_different_seed_different_mask():
    x = np.ones((30, 40))
    a, b, c = (Dropout(0.5, rng=s).frames(x).mask for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.4  # independent masks differ at about half the places
    g1, g2 = Dropout(0.5, rng=np.random.default_rng(7)), Dropout(0.5, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(g1(x), g2(x))
    np.testing.assert_array_equal(Dropout(0.5, rng=7)(x) != 0, a)


def test_each_call_draws_the_next_mask_and_a_seed_replays_them():
    x = np.ones((20, 20))
    layer = Dropout(0.5, rng=4)
    first, second = layer(x), layer(x)
    assert (first != second).any()
    replay = Dropout(0.5, rng=4)
    np.testing.assert_array_equal(replay(x), first)
    np.testing.assert_array_equal(replay(x), second)
    trace = Dropout(0.5, rng=4).frames(x)
    again = trace.resample()
    np.testing.assert_array_equal(trace.mask, first != 0)
    np.testing.assert_array_equal(again.mask, second != 0)
    np.testing.assert_array_equal(again.input, trace.input)
    assert isinstance(again, DropoutTrace)


def test_the_generator_is_the_only_source_of_randomness():
    x = np.ones((10, 10))
    np.random.seed(0)
    torch.manual_seed(0)
    a = Dropout(0.5, rng=1)(x)
    np.random.seed(99)
    torch.manual_seed(99)
    np.testing.assert_array_equal(Dropout(0.5, rng=1)(x), a)


def test_mean_over_masks_approaches_x():
    x = np.array([[0.4, -1.2, 2.0], [0.8, 0.1, -0.5]])
    for p in (0.2, 0.5, 0.9):
        n = 50_000
        mean = mean_over_masks(x, p, n, rng=0)
        # the mean of n outputs x*m/(1-p): standard deviation |x| sqrt(p / ((1-p) n)) per element
        sigma = np.abs(x) * math.sqrt(p / ((1 - p) * n))
        assert (np.abs(mean - x) < 5 * sigma).all()
    # it is the mean of the outputs of successive calls of Dropout(p, rng) (chunks of masks included)
    layer = Dropout(0.3, rng=11)
    outputs = np.stack([layer(x) for _ in range(40)])
    np.testing.assert_allclose(mean_over_masks(x, 0.3, 40, rng=11), outputs.mean(axis=0), rtol=1e-12, atol=1e-15)
    big = np.ones(300_000)  # more than one chunk of draws
    layer = Dropout(0.5, rng=2)
    expected = (layer(big) + layer(big) + layer(big) + layer(big) + layer(big)) / 5
    np.testing.assert_allclose(mean_over_masks(big, 0.5, 5, rng=2), expected, rtol=1e-12)
    np.testing.assert_array_equal(mean_over_masks(x, 1, 10, rng=0), np.zeros_like(x))
    np.testing.assert_array_equal(mean_over_masks(x, 0, 3, rng=0), x)
    with pytest.raises(ValueError, match="n_masks must be >= 1, got 0"):
        mean_over_masks(x, 0.5, 0)
    with pytest.raises(ValueError, match="has to be between 0 and 1"):
        mean_over_masks(x, 2.0, 10)


# -- hand-worked examples -----------------------------------------------------------------------


def test_hand_worked_example():
    # x * mask, kept values doubled (p = 0.5):  [[0.4, 0, 2.0], [0, 0.1, -0.5]] * 2
    x = np.array([[0.4, -1.2, 2.0], [0.8, 0.1, -0.5]])
    mask = np.array([[1, 0, 1], [0, 1, 1]])
    expected = np.array([[0.8, 0.0, 4.0], [0.0, 0.2, -1.0]])
    layer = Dropout(p=0.5)
    np.testing.assert_allclose(layer(x, mask=mask), expected, rtol=1e-15)
    np.testing.assert_allclose(layer.forward(x, mask=mask.astype(bool)), expected, rtol=1e-15)
    trace = layer.frames(x, mask=mask)
    assert len(trace) == 7
    assert [f.narration for f in trace[:6]] == [
        "x[0,0] = 0.40 → kept (1)", "x[0,1] = -1.20 → dropped (0)", "x[0,2] = 2.00 → kept (1)",
        "x[1,0] = 0.80 → dropped (0)", "x[1,1] = 0.10 → kept (1)", "x[1,2] = -0.50 → kept (1)",
    ]
    assert trace[6].narration == ("kept values × 1/(1 − p) = 1/(1 − 0.5) = × 2.00: 4 of 6 kept, "
                                  "e.g. out[0,2] = 2.00 × 2.00 = 4.00; the 2 dropped values stay 0")
    np.testing.assert_allclose(trace.output, expected, rtol=1e-15)
    assert not np.signbit(trace.output).any() or (trace.output[np.signbit(trace.output)] != 0).all()


def test_hand_worked_p_three_quarters_scales_by_four():
    trace = Dropout(0.75).frames(np.array([1.5, -2.0, 3.0, 0.25]), mask=[0, 1, 0, 1])
    np.testing.assert_array_equal(trace.output, [0.0, -8.0, 0.0, 1.0])
    assert "1/(1 − 0.75) = × 4.00: 2 of 4 kept, e.g. out[1] = -2.00 × 4.00 = -8.00" in trace[-1].narration


def test_hand_worked_row_frames():
    # 2 x 150 = 300 values > 256: one frame per row, then the scaling
    x = np.arange(300.0).reshape(2, 150) / 100
    mask = np.ones((2, 150), dtype=bool)
    mask[0, [3, 7, 8, 20, 149]] = False
    mask[1] = False
    trace = Dropout(0.5).frames(x, mask=mask)
    assert len(trace) == 3
    assert trace[0].narration == ("x[0,:] (150 values): 145 kept (1), 5 dropped (0): x[0,3] = 0.03, x[0,7] = 0.07, "
                                  "x[0,8] = 0.08, x[0,20] = 0.20, … (1 more)")
    assert trace[1].narration == "x[1,:] (150 values): all dropped (0)"
    assert trace[2].narration.endswith("145 of 300 kept, e.g. out[0,148] = 1.48 × 2.00 = 2.96; the 155 dropped values stay 0")


def test_hand_worked_batch_and_scalar_and_p_one():
    x = np.arange(1.0, 9.0).reshape(2, 1, 2, 2)
    trace = Dropout(0.5).frames(x, mask=np.array([1, 0, 0, 1, 0, 0, 0, 0]).reshape(2, 1, 2, 2))
    # sample 0: 4 mask frames + scaling; sample 1: the same
    assert len(trace) == 10
    assert trace[0].narration == "x[0,0,0,0] = 1.00 → kept (1)"
    assert trace[4].narration == ("sample 0: kept values × 1/(1 − p) = 1/(1 − 0.5) = × 2.00: 2 of 4 kept, "
                                  "e.g. out[0,0,1,1] = 4.00 × 2.00 = 8.00; the 2 dropped values stay 0")
    assert trace[5].narration == "x[1,0,0,0] = 5.00 → dropped (0)"
    assert trace[9].narration == ("sample 1: kept values × 1/(1 − p) = 1/(1 − 0.5) = × 2.00: "
                                  "no value was kept, the output is all 0")
    scalar = Dropout(0.5).frames(3.0, mask=True)
    assert [f.narration for f in scalar] == [
        "x = 3.00 → kept (1)",
        "kept values × 1/(1 − p) = 1/(1 − 0.5) = × 2.00: 1 of 1 kept, e.g. out = 3.00 × 2.00 = 6.00; nothing was dropped"]
    everything = Dropout(1).frames(np.ones(3))
    assert everything[-1].narration.startswith("p = 1: every value is dropped")
    assert Dropout(0.5).eval().frames(x)[1].narration == (
        "sample 1: eval mode: dropout is the identity, out[1] = x[1] (no mask, no scaling)")


# -- argument checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p, match",
    [
        (1.5, r"^dropout probability p has to be between 0 and 1, but got 1.5$"),
        (-0.1, r"has to be between 0 and 1, but got -0.1"),
        (2, r"has to be between 0 and 1, but got 2"),
        (float("nan"), r"has to be between 0 and 1, but got nan"),
        (float("inf"), r"has to be between 0 and 1, but got inf"),
        ("0.5", r"p must be a number, got '0.5'"),
        (True, r"p must be a number, got True"),
        (None, r"p must be a number, got None"),
    ],
)
def test_bad_p_raises_naming_it(p, match):
    with pytest.raises(ValueError, match=match):
        Dropout(p)
    layer = Dropout(0.5)
    with pytest.raises(ValueError, match=match):
        layer.p = p
    assert layer.p == 0.5  # a refused p leaves the old one


def test_torch_refuses_the_same_p_with_the_same_words():
    with pytest.raises(ValueError, match=r"has to be between 0 and 1, but got 1.5") as torch_error:
        torch.nn.Dropout(1.5)
    with pytest.raises(ValueError) as ours:
        Dropout(1.5)
    assert str(torch_error.value).split("has to be")[1] == str(ours.value).split("has to be")[1]


@pytest.mark.parametrize(
    "mask, match",
    [
        (np.ones((2, 2)), r"mask must have the shape of x \(2, 3\), got shape \(2, 2\)"),
        (np.ones(6), r"mask must have the shape of x"),
        ([[1, 0, 0.5], [1, 1, 1]], r"mask must hold only 0 and 1 \(or False and True\), got 0.5 at index \(0, 2\)"),
        ([[1, 0, 1], [1, 2, 1]], r"got 2 at index \(1, 1\)"),
        ([["a", "b", "c"], ["d", "e", "f"]], r"mask must hold only 0 and 1"),
        ([[1, 0, 1], [1, 1]], r"mask must"),
    ],
)
def test_bad_mask_raises(mask, match):
    layer = Dropout(0.5)
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=match):
        layer(x, mask=mask)
    with pytest.raises(ValueError, match=match):
        layer.frames(x, mask=mask)


def test_mask_in_eval_mode_raises():
    with pytest.raises(ValueError, match=r"mask is only used in training mode.*eval mode"):
        Dropout(0.5).eval()(np.ones(3), mask=[1, 0, 1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad):
    x = np.zeros((3, 4))
    x[1, 2] = bad
    for layer in (Dropout(0.5), Dropout(0.5).eval()):
        with pytest.raises(ValueError, match=r"x must be finite.*\(1, 2\)"):
            layer(x)
        with pytest.raises(ValueError, match=r"x must be finite"):
            layer.frames(x)


def test_other_bad_inputs_and_settings():
    with pytest.raises(ValueError, match=r"x must be an array of numbers"):
        Dropout()([["a", "b"]])
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0, 3\)"):
        Dropout().frames(np.zeros((0, 3)))
    assert Dropout(rng=0)(np.zeros((0, 3))).shape == (0, 3)  # like torch, an empty input gives an empty output
    with pytest.raises(ValueError, match=r"inplace must be True or False, got 'yes'"):
        Dropout(0.5, "yes")
    with pytest.raises(ValueError, match=r"shape must be >= 0, got -1"):
        Dropout().sample_mask((2, -1))
    assert Dropout(rng=0).sample_mask(5).shape == (5,)


# -- the trace ----------------------------------------------------------------------------------


def expected_frame_plan(shape, training):
    """(sample, stage, where) per frame, from the documented rules, written out with plain loops."""
    size = math.prod(shape)
    batched = len(shape) >= 4
    samples = range(shape[0]) if batched else [None]
    plan = []
    for n in samples:
        if training:
            if size <= LIMIT:
                units = [i for i in np.ndindex(*shape) if n is None or i[0] == n]
            else:
                units = [i for i in np.ndindex(*shape[:-1]) if n is None or i[0] == n]
            plan += [(n or 0, "mask", tuple(int(v) for v in u)) for u in units]
        plan.append((n or 0, "scale" if training else "identity", () if n is None else (n,)))
    return plan


def display_cell(index, shape):
    """Where element ``index`` is drawn: (slice, row, col) of the (S, H, W) grid."""
    if len(shape) == 0:
        return (0, 0, 0)
    if len(shape) == 1:
        return (0, 0, index[0])
    lead = int(np.ravel_multi_index(index[:-2], shape[:-2])) if len(shape) > 2 else 0
    return (lead, index[-2], index[-1])


def fmt(v):
    text = f"{v:.2f}"
    return "0.00" if text == "-0.00" else text


def name(prefix, index):
    return f"{prefix}[{','.join(map(str, index))}]" if index else prefix


def same_frame(a, b):
    assert (a.index, a.stage, a.where, a.kept, a.narration) == (b.index, b.stage, b.where, b.kept, b.narration)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.result, b.result)


NUMBER = r"(-?\d+\.\d\d)"
ANY_NUMBER = r"(-?\d+\.\d+)"


def decimals(text: str) -> int:
    return len(text.partition(".")[2])


def at_two(text: str) -> str:
    """A number's text rounded to 2 decimals as a reader rounds it (half up)."""
    return str(Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes(), p=probabilities, seed=seeds, training=st.booleans())
def test_frames_add_up(shape, p, seed, training):
    x = nonzero_normal(shape, seed)
    layer = Dropout(p, rng=seed).train(training)
    trace = layer.frames(x)
    assert isinstance(trace, Trace)
    plan = expected_frame_plan(shape, training)
    assert len(trace) == len(plan)
    scale = (0.0 if p == 1 else 1 / (1 - p)) if training else 1.0
    mask = trace.mask if training else np.ones(shape, dtype=bool)
    if training:
        np.testing.assert_allclose(trace.output, torch_formula(x, mask, p), rtol=1e-14, atol=0)
    else:
        assert trace.mask is None
        np.testing.assert_array_equal(trace.output, x)

    frames = list(trace)
    covered = np.zeros(shape, dtype=int)
    for k, (frame, (n, stage, where)) in enumerate(zip(frames, plan)):
        same_frame(frame, trace[k])
        same_frame(frame, trace[k - len(trace)])
        assert (frame.index, frame.stage, frame.where) == (k, stage, where)
        sel = where + (Ellipsis,)
        np.testing.assert_array_equal(frame.x, x[sel])
        assert frame.scale == scale
        # the arithmetic: result = x * mask * scale, on this frame's elements
        np.testing.assert_allclose(frame.result, torch_formula(x[sel], mask[sel], p) if training else x[sel],
                                   rtol=1e-14, atol=0)
        assert frame.kept == int(mask[sel].sum())
        text = frame.narration
        if stage == "mask":
            covered[sel] += 1
            np.testing.assert_array_equal(frame.mask, mask[sel])
            if frame.x.ndim == 0:
                verdict = "kept (1)" if mask[sel] else "dropped (0)"
                assert text == f"{name('x', where)} = {fmt(x[sel])} → {verdict}"
            else:
                row = f"x[{','.join([*map(str, where), ':'])}]"
                assert text.startswith(f"{row} ({frame.x.size} values): ")
                dropped = np.flatnonzero(~mask[sel])
                if len(dropped) == 0:
                    assert text.endswith("all kept (1)")
                elif len(dropped) == frame.x.size:
                    assert text.endswith("all dropped (0)")
                else:
                    assert f"{frame.kept} kept (1), {len(dropped)} dropped (0): " in text
                    listed = re.findall(r"x\[([\d,]+)\] = " + NUMBER, text)
                    assert [tuple(map(int, i.split(","))) for i, _ in listed] == [(*where, int(j)) for j in dropped[:4]]
                    assert [float(v) for _, v in listed] == [float(fmt(x[sel][j])) for j in dropped[:4]]
        elif stage == "scale":
            total = x[sel].size
            if p == 1:
                assert "every value is dropped" in text
            elif frame.kept == 0:
                assert text.endswith("no value was kept, the output is all 0")
            else:
                s_text = re.search(r"= × " + ANY_NUMBER + f": {frame.kept} of {total} kept", text).group(1)
                assert at_two(s_text) == fmt(scale)  # reads, at 2 decimals, as the grid's 1/(1−p)
                index, a_text, s2, b_text = re.search(
                    r"e\.g\. out(?:\[([\d,]+)\])? = " + f"{ANY_NUMBER} × {ANY_NUMBER} = {ANY_NUMBER};", text).groups()
                a, s, b = float(a_text), float(s_text), float(b_text)
                assert s2 == s_text
                # the printed numbers add up: redone from them, 1/(1 − p) and a × s round to the numbers shown
                assert abs(1 / (1 - float(re.search(r"1/\(1 − ([\d.e-]+)\)", text).group(1))) - s) \
                    < 0.5 * 10.0 ** -decimals(s_text)
                assert abs(a * s - b) < 0.5 * 10.0 ** -decimals(b_text) and decimals(b_text) == 2
                # the example is a kept value of largest magnitude of this sample
                example = tuple(map(int, index.split(","))) if index else ()
                assert example[:len(where)] == where and mask[example]
                assert abs(x[example]) == np.abs(x[sel][mask[sel]]).max()
                assert at_two(a_text) == fmt(x[example]) and a == float(fixed(x[example], decimals(a_text)))
                assert text.endswith("nothing was dropped" if frame.kept == total else
                                     f"the {total - frame.kept} dropped values stay 0")
        else:
            assert "eval mode: dropout is the identity" in text
            np.testing.assert_array_equal(frame.result, frame.x)
            assert frame.mask is None and frame.mask_so_far is None
        if shape and len(shape) >= 4:
            assert text.startswith(f"sample {n}: ") == (stage != "mask")

        # the mask drawn so far: this sample's elements of mask frames <= k
        if training:
            so_far = frame.mask_so_far
            sample_sel = (n,) if len(shape) >= 4 else ()
            drawn_now = covered[sample_sel + (Ellipsis,)] > 0
            np.testing.assert_array_equal(~np.isnan(so_far), drawn_now)
            np.testing.assert_array_equal(so_far[drawn_now], mask[sample_sel + (Ellipsis,)][drawn_now])
    if training:
        assert (covered == 1).all()  # every mask element drawn exactly once

    # indexing rules of a Sequence
    for bad in (len(trace), -len(trace) - 1):
        with pytest.raises(IndexError):
            trace[bad]
    for sl in (slice(None), slice(1, None, 2), slice(None, None, -1)):
        got = trace[sl]
        expected = frames[sl]
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            same_frame(a, b)


def test_index_type_errors():
    trace = Dropout(rng=0).frames(np.ones((2, 2)))
    for bad in (1.0, "1", True, None):
        with pytest.raises(TypeError):
            trace[bad]


@pytest.mark.parametrize("shape, frames", [((16, 16), 257), ((257,), 2), ((1, 16, 16), 257), ((1, 17, 17), 18),
                                           ((2, 1, 8, 16), 2 * 129), ((2, 1, 9, 16), 2 * 10)])
def test_elementwise_up_to_256_elements_then_rows(shape, frames):
    trace = Dropout(0.5, rng=0).frames(np.ones(shape))
    assert len(trace) == frames
    assert trace.elementwise == (math.prod(shape) <= 256)


# -- the scene ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes(), p=probabilities, seed=seeds, training=st.booleans(),
       picks=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8))
def test_scene_matches_frames(shape, p, seed, training, picks):
    x = nonzero_normal(shape, seed)
    trace = Dropout(p, rng=seed).train(training).frames(x)
    scene = trace.scene()
    assert scene.n_frames == len(trace) and len(scene.captions) == len(trace)
    assert scene.title == f"Dropout(p={p}, inplace=False) in {'training' if training else 'eval'} mode"

    cells = [display_cell(i, shape) for i in np.ndindex(*shape)]
    s_count = 1 + max(c[0] for c in cells)
    h_count, w_count = 1 + max(c[1] for c in cells), 1 + max(c[2] for c in cells)
    assert s_count * h_count * w_count == x.size
    batched = len(shape) >= 4
    n_pages = shape[0] if batched else 1

    def grid_of(array):
        grid = np.full((s_count, h_count, w_count), np.nan)
        for i, c in zip(np.ndindex(*shape), cells):
            grid[c] = array[i]
        return grid

    inp, out = scene.panel("input"), scene.panel("output")
    np.testing.assert_array_equal(inp.values, grid_of(x))
    np.testing.assert_array_equal(out.values, grid_of(trace.output))
    assert inp.n_pages == out.n_pages == n_pages
    assert scene.vmax >= max(np.abs(x).max(), np.abs(trace.output).max()) and scene.vmax > 0
    for panel in scene.panels:
        assert np.abs(panel.values).max() <= scene.vmax
    if not training:
        assert [g.name for g in scene.panels] == ["input", "output"] and scene.highlights == ()
        for k in range(len(trace)):
            assert inp.page_at(k) == out.page_at(k) == k
            assert scene.captions[k] == trace[k].narration
        return

    mask_panel, scale_panel = scene.panel("mask"), scene.panel("scale")
    assert [g.name for g in scene.panels] == ["input", "mask", "scale", "output"]
    np.testing.assert_array_equal(mask_panel.values, grid_of(trace.mask.astype(float)))
    assert set(np.unique(mask_panel.values)) <= {0.0, 1.0}
    np.testing.assert_array_equal(scale_panel.values, [[[0.0 if p == 1 else 1 / (1 - p)]]])
    assert scene.vmax >= 1.0
    highlights = {h.panel: h for h in scene.highlights}
    assert set(highlights) == {"input", "mask", "scale"}
    assert {h.role for h in scene.highlights} <= {"window", "kernel", "output", "max", "stat"}

    def on_grid(panel, lit, k):
        """The lit cells a view draws at frame k: on the grid and on the page shown."""
        first = panel.page_at(k) * panel.page_size
        _, hh, ww = panel.values.shape
        return {tuple(int(v) for v in c) for c in lit
                if first <= c[0] < first + panel.page_size and 0 <= c[1] < hh and 0 <= c[2] < ww}

    plan = expected_frame_plan(shape, True)
    drawn = set()
    ks = sorted({0, len(trace) - 1, *(int(q * len(trace)) for q in picks)})
    mask_frames_by_k = {}
    for k, (n, stage, where) in enumerate(plan):
        if stage == "mask":
            mask_frames_by_k[k] = {display_cell(i, shape) for i in np.ndindex(*shape) if i[:len(where)] == where}
    for k in ks:
        frame = trace[k]
        n, stage, where = plan[k]
        for panel in scene.panels:
            if panel.name != "scale":
                assert panel.page_at(k) == n
        drawn = set().union(*(cs for kk, cs in mask_frames_by_k.items() if kk <= k))
        revealed = {tuple(int(v) for v in c) for c in np.argwhere(mask_panel.reveal <= k)}
        assert revealed == drawn
        sample_done = {c for i, c in zip(np.ndindex(*shape), cells)
                       if any(pk <= k and ps == "scale" and (not batched or i[0] == pn) for pk, (pn, ps, _) in enumerate(plan))}
        assert {tuple(int(v) for v in c) for c in np.argwhere(out.reveal <= k)} == sample_done
        assert (scale_panel.reveal[0, 0, 0] <= k) == any(ps == "scale" for ps in (q[1] for q in plan[:k + 1]))
        lit_input = on_grid(inp, highlights["input"].cells(k), k)
        lit_mask = on_grid(mask_panel, highlights["mask"].cells(k), k)
        lit_scale = on_grid(scale_panel, highlights["scale"].cells(k), k)
        if stage == "mask":
            assert lit_input == lit_mask == mask_frames_by_k[k]
            assert len(lit_input) == frame.x.size
            assert sorted(inp.values[c] for c in lit_input) == sorted(np.ravel(frame.x))
            assert sorted(mask_panel.values[c] for c in lit_mask) == sorted(np.ravel(frame.mask).astype(float))
            assert lit_scale == set()
        else:
            assert lit_input == lit_mask == set()
            assert lit_scale == {(0, 0, 0)}
        assert scene.captions[k] == frame.narration


def test_scene_draws_in_matplotlib_and_encodes_for_the_player():
    trace = Dropout(0.5, rng=0).frames(np.arange(12.0).reshape(3, 4))
    scene = trace.scene()
    for k in (0, 5, len(trace) - 1):  # a mask frame and the scaling frame, whose input highlight is off the grid
        fig = trace.show(k)
        rects = [patch for ax in fig.axes for patch in ax.patches if patch.get_visible()]
        if k < 12:
            assert len(rects) >= 2
        fig.canvas.draw()
        plt.close(fig)
    player = Player(scene)
    assert player.n_frames == 13


# -- cost ---------------------------------------------------------------------------------------


def test_building_is_vectorized_and_random_access_is_constant_time():
    x = np.random.default_rng(0).standard_normal((16, 3, 64, 64))  # 196 608 values: one frame per row
    start = time.perf_counter()
    trace = Dropout(0.5, rng=0).frames(x)
    scene = trace.scene()
    built = time.perf_counter() - start
    assert len(trace) == 16 * (3 * 64 + 1)
    assert built < 1.0, f"building the trace and scene took {built:.3f} s"

    trace[0]
    for k in (len(trace) - 1, len(trace) // 2, len(trace) - 2, 1):
        elapsed = median_access_time(trace, k)
        assert elapsed < 5e-3, f"trace[{k}] took {elapsed * 1e3:.2f} ms"
    assert scene.captions[len(trace) - 2] == trace[-2].narration
    assert trace[-2].where == (15, 2, 63)


def test_trace_is_a_snapshot():
    layer = Dropout(0.5, rng=0)
    x = np.arange(6.0).reshape(2, 3)
    trace = layer.frames(x)
    output_then = trace.output.copy()
    layer.p = 0.9
    layer.eval()
    x[0, 0] = 100.0
    assert trace.p == 0.5 and trace.training and trace.scale == 2.0
    np.testing.assert_array_equal(trace.output, output_then)
    assert trace.input[0, 0] == 0.0
    assert trace.scene().title == "Dropout(p=0.5, inplace=False) in training mode"
    for array in (trace.input, trace.mask, trace.output, trace[0].x, trace[-1].result):
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0


def test_repr_names_layer_and_frame_count():
    text = repr(Dropout(0.25, rng=0).frames(np.ones((2, 5))))
    assert "DropoutTrace of Dropout(p=0.25, inplace=False): 11 frames" in text


# -- the explorer (its wiring, without a browser) -------------------------------------------------


def test_explorer_shows_the_layer_on_the_chosen_settings():
    explorer = dropout_explorer()
    assert explorer.error.value == ""
    assert explorer.player.n_frames == len(explorer.trace) == 65  # 8x8 photo: 64 mask frames + scaling
    photo = data.photo(8)
    np.testing.assert_array_equal(explorer.trace.input, photo)
    np.testing.assert_array_equal(explorer.trace.output, Dropout(0.5, rng=0)(photo))
    assert "Kept" in explorer.summary.value and "× 2.00" in explorer.summary.value

    explorer.controls["input"].value = "digit"
    explorer.controls["size"].value = 20
    explorer.controls["p"].value = 0.25
    digit = data.digit(7, 20)
    np.testing.assert_array_equal(explorer.trace.output, Dropout(0.25, rng=0)(digit))
    assert len(explorer.trace) == 21 and "one per row" in explorer.summary.value
    kept = int((explorer.trace.mask).sum())
    assert f"Kept {kept} of 400 values" in explorer.summary.value

    explorer.controls["mode"].value = "eval"
    assert explorer.trace.mask is None and explorer.player.n_frames == 1
    np.testing.assert_array_equal(explorer.trace.output, digit)
    assert "1 frame." in explorer.summary.value


def test_explorer_random_input_does_not_change_with_the_mask_seed():
    a = build_dropout({"input": "random", "digit": 0, "size": 6, "p": 0.5, "mode": "train", "seed": 1})
    b = build_dropout({"input": "random", "digit": 0, "size": 6, "p": 0.5, "mode": "train", "seed": 2})
    np.testing.assert_array_equal(a.input, b.input)
    assert (a.mask != b.mask).any()


def test_resample_button_moves_the_seed_on_and_draws_a_new_mask():
    explorer = dropout_explorer(seed=41)
    first = explorer.trace.mask.copy()
    explorer.resample_button.click()
    assert explorer.controls["seed"].value == 42
    np.testing.assert_array_equal(explorer.trace.mask, Dropout(0.5, rng=42).frames(data.photo(8)).mask)
    assert (explorer.trace.mask != first).any()
    assert explorer.resample_button in [child for box in explorer.widget.children
                                        for child in getattr(box, "children", ())]


@pytest.mark.parametrize("p, message", [(1.5, "dropout probability p has to be between 0 and 1, but got 1.5"),
                                        (-0.2, "but got -0.2")])
def test_explorer_shows_an_invalid_p_and_keeps_the_last_trace(p, message):
    explorer = dropout_explorer()
    before = explorer.trace
    explorer.controls["p"].value = p
    assert message in explorer.error.value and 'role="alert"' in explorer.error.value
    assert explorer.trace is before
    explorer.controls["p"].value = 1.0
    assert explorer.error.value == ""
    assert (explorer.trace.output == 0).all()
