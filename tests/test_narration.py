"""What a student sees adds up: every narration, redone from the numbers it shows, gives the results it shows.

For random weights and inputs of every layer: each frame's arithmetic is parsed and redone from its numbers
as shown (tests/narration_redo.py); each result shown is the engine's value rounded (2 decimals, 3 on a
tie); each operand shown reads, at 2 decimals, as the player's grid shows it; and each question can be
answered from its prompt: an answer worked out from it and typed at the precision shown is right, one unit
off in the last decimal is wrong.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz._format import fixed, redoable
from layerviz.layers.sequential import Sequential
from layerviz.ui.checks import is_right, question
from tests.narration_redo import answer_of, decimals, is_tie, literal, redo, rounds_to
from tests.recurrent_reference import configs, inputs

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**31 - 1)


def at_two(text: str) -> str:
    """A number's text rounded to 2 decimals as a reader rounds (half up), ``-0.00`` read as ``0.00``."""
    rounded = str(Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return "0.00" if rounded == "-0.00" else rounded


def check_question(frame) -> None:
    """The frame's question is answerable from its prompt, and judged fairly and strictly."""
    asked = question(frame)
    if asked is None:
        return
    value = float(np.ravel(answer_of(asked.text))[0])
    places = decimals(asked.shown)
    assert places >= 2
    assert rounds_to(np.array([value]), (np.array([float(asked.shown)]), np.array([places]))), (asked, value)
    assert asked.shown == fixed(asked.answer, places)  # the engine's value, rounded
    assert is_right(fixed(value, places), asked.shown)
    assert is_right(fixed(value, 2), asked.shown)  # typed at two decimals, however many are shown
    assert is_right(repr(value), asked.shown)  # every digit of the student's arithmetic
    if not is_tie(value, 2):
        unit = 10.0 ** -places
        for off in (-unit, unit):
            assert not is_right(fixed(float(asked.shown) + off, places), asked.shown), (asked, off)


def check_frames(trace, *, asks_when=None) -> int:
    """Redo every frame of ``trace``; the number of comparisons made."""
    compared = 0
    for k in range(len(trace)):
        frame = trace[k]
        done = redo(frame.narration)
        compared += len(done.compared)
        check_question(frame)
        if asks_when is not None:
            assert (question(frame) is not None) == asks_when(frame), frame.narration
    return compared


def check_result(narration: str, value: float) -> None:
    """The narration ends with ``value``, the engine's result, as shown: rounded to 2 decimals, more on a tie."""
    shown = re.findall(r"= (\(?-?\d+\.\d+\)?)", narration)[-1].strip("()")
    assert decimals(shown) >= 2 and shown == fixed(value, decimals(shown)), (narration, value)


# -- convolution -------------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, in_channels=st.integers(1, 2), kernel=st.integers(1, 3), padding=st.integers(0, 1),
       stride=st.integers(1, 2), bias=st.booleans(), source=st.sampled_from(["normal", "photo", "teaching"]))
def test_convolution_narrations_add_up(seed, in_channels, kernel, padding, stride, bias, source):
    rng = np.random.default_rng(seed)
    conv = lv.Conv2d(in_channels, 2, kernel, stride=stride, padding=padding, bias=bias, rng=seed)
    shape = (in_channels, 4, 4)
    x = {"normal": rng.standard_normal(shape), "photo": rng.integers(0, 256, shape) / 255,
         "teaching": rng.integers(-8, 9, shape) / 4}[source]
    if source == "teaching":  # weights of quarters: products on ties (0.25 × 0.5 = 0.125) are shown exactly
        conv.weight = rng.integers(-4, 5, conv.weight.shape) / 4
    trace = conv.frames(x)
    for k in range(len(trace)):
        frame = trace[k]
        listed = frame.window.size <= 9
        done = redo(frame.narration)
        assert done.compared, frame.narration
        check_result(frame.narration, frame.result)
        if listed:
            # each operand is the value rounded at its decimals, and reads at 2 decimals as the grid shows it
            pairs = re.findall(r"\(?(-?\d+\.\d+)\)?×\(?(-?\d+\.\d+)\)?", frame.narration)
            assert len(pairs) == frame.window.size
            for (a, b), v, w in zip(pairs, frame.window.ravel(), frame.kernel.ravel()):
                assert a == fixed(v, decimals(a)) and b == fixed(w, decimals(b))
                assert at_two(a) == fixed(v, 2) and at_two(b) == fixed(w, 2)
        assert (frame.question is not None) == listed
        check_question(frame)


def test_the_worked_example_stays_as_it_is():
    conv = lv.Conv2d(1, 1, kernel_size=2, bias=False)
    conv.weight = [[[[0, 1], [2, 3]]]]
    trace = conv.frames(np.arange(9.0).reshape(1, 3, 3))
    assert trace[0].narration == "out[0,0,0] = 0.00×0.00 + 1.00×1.00 + 3.00×2.00 + 4.00×3.00 = 19.00"


def test_the_issues_examples_add_up():
    # Linear: operands that summed to -0.115 beside a result shown -0.13
    linear = lv.Linear(2, 1, bias=True)
    linear.weight, linear.bias = [[0.2549, -0.3149]], [-0.0500]
    narration = linear.frames(np.array([0.5, 0.98]))[0].narration
    redo(narration)
    # dropout at p = 0.9: "0.57 × 10.00 = 5.73" becomes 0.573 × 10.00 = 5.73
    x = np.full((2, 3), 0.5734)
    trace = lv.Dropout(0.9, rng=3).frames(x)
    scaling = [f for f in trace if f.stage == "scale"][0]
    if scaling.kept:
        assert "0.573 × 10.00 = 5.73" in scaling.narration
        redo(scaling.narration)


# -- pooling -------------------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, kernel=st.integers(2, 3), padding=st.integers(0, 1), count_include_pad=st.booleans(),
       kind=st.sampled_from(["max", "avg", "adaptive"]), teaching=st.booleans())
def test_pooling_narrations_add_up(seed, kernel, padding, count_include_pad, kind, teaching):
    rng = np.random.default_rng(seed)
    x = rng.integers(-8, 9, (2, 5, 5)) / 4 if teaching else rng.standard_normal((2, 5, 5))
    padding = min(padding, kernel // 2)
    pool = {"max": lambda: lv.MaxPool2d(kernel, padding=padding),
            "avg": lambda: lv.AvgPool2d(kernel, padding=padding, count_include_pad=count_include_pad),
            "adaptive": lambda: lv.AdaptiveAvgPool2d(2)}[kind]()
    trace = pool.frames(x)
    for k in range(len(trace)):
        frame = trace[k]
        assert redo(frame.narration).compared, frame.narration
        check_result(frame.narration, frame.result)
        check_question(frame)
        assert frame.question is not None  # windows of at most 9 cells are listed in full


def test_a_long_average_shows_its_sum_and_asks_nothing():
    frame = lv.AvgPool2d(4).frames(np.random.default_rng(0).standard_normal((1, 4, 4)))[0]
    assert "…" in frame.narration and frame.question is None
    assert redo(frame.narration).compared  # "… = 5.12 / 16 = 0.32": the division can be redone


# -- linear, dense, activations -------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, in_features=st.integers(1, 10), activation=st.sampled_from([None, "relu", "sigmoid", "tanh", "identity"]),
       bias=st.booleans())
def test_linear_and_dense_narrations_add_up(seed, in_features, activation, bias):
    rng = np.random.default_rng(seed)
    layer = (lv.Linear(in_features, 3, bias=bias, rng=seed) if activation is None
             else lv.Dense(in_features, 3, activation=activation, bias=bias, rng=seed))
    trace = layer.frames(rng.standard_normal((2, in_features)))
    for k in range(len(trace)):
        frame = trace[k]
        done = redo(frame.narration)
        listed = in_features <= 8
        assert (frame.question is not None) == listed
        if listed:
            assert done.compared
        check_result(frame.narration, frame.result)
        check_question(frame)
        if activation is not None:
            z_text = done.results[f"z[{frame.cell[0]},{frame.cell[1]}]"]
            assert at_two(z_text) == fixed(frame.z, 2)  # reads as the z panel shows it


@SETTINGS
@given(seed=seeds, name=st.sampled_from(["ReLU", "Sigmoid", "Tanh", "Identity", "GELU", "GELU tanh"]))
def test_activation_narrations_add_up(seed, name):
    x = np.random.default_rng(seed).standard_normal((3, 4)) * 2
    layer = lv.GELU("tanh") if name == "GELU tanh" else getattr(lv, name)()
    trace = layer.frames(x)
    for k in range(len(trace)):
        frame = trace[k]
        assert redo(frame.narration).compared
        check_result(frame.narration, float(frame.result))
        check_question(frame)


@SETTINGS
@given(seed=seeds, size=st.integers(1, 4))
def test_softmax_rows_add_up(seed, size):
    x = np.random.default_rng(seed).standard_normal((2, size)) * 3
    trace = lv.Softmax(dim=-1).frames(x)
    for frame in trace:
        text = frame.narration
        exps = re.search(r"e\^\(x−m\) = ([^;]*);", text).group(1).split(", ")
        total = re.search(r"; sum = (\S+);", text).group(1)
        outs = re.search(r"e\^\(x−m\)/sum = (.*) \(they add up", text).group(1).split(", ")
        assert rounds_to(np.array([sum(float(e) for e in exps)]), literal(total))
        for e, o in zip(exps, outs):
            assert rounds_to(np.array([float(e) / float(total)]), literal(o))
        assert outs == [fixed(v, decimals(o)) for v, o in zip(frame.result, outs)]
        assert question(frame) is None


# -- dropout ----------------------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, p=st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 0.95]), source=st.sampled_from(["photo", "normal"]))
def test_dropout_scaling_adds_up_and_asks(seed, p, source):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (1, 3, 3)) / 255 if source == "photo" else rng.standard_normal((1, 3, 3))
    trace = lv.Dropout(p, rng=seed).frames(x)
    for frame in trace:
        redo(frame.narration)
        check_question(frame)
        assert (frame.question is not None) == (frame.stage == "scale" and frame.kept > 0)


# -- batch normalization ---------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, batch=st.integers(2, 4), size=st.integers(1, 3), affine=st.booleans(),
       momentum=st.sampled_from([0.1, None, 0.25]), eval_mode=st.booleans(), by_row=st.booleans())
def test_batchnorm_narrations_add_up(seed, batch, size, affine, momentum, eval_mode, by_row):
    rng = np.random.default_rng(seed)
    bn = lv.BatchNorm2d(2, affine=affine, momentum=momentum)
    if affine:
        bn.weight, bn.bias = rng.normal(1, 0.3, 2), rng.normal(0, 0.3, 2)
    x = rng.normal(1, 2, (batch, 2, size, size))
    if eval_mode:
        bn(x)  # running statistics from one batch, then evaluation
        bn.eval()
    trace = bn.frames(x, by_row=by_row)
    for k in range(len(trace)):
        frame = trace[k]
        done = redo(frame.narration)
        check_question(frame)
        listed = frame.phase != "mean" or frame.count <= 6
        if frame.phase == "variance":
            listed = frame.count <= 4
        if listed:
            assert done.compared, frame.narration
        assert (frame.question is not None) == listed
        if frame.question is not None and frame.phase in ("mean", "variance"):
            assert f" / {frame.count} = ?" in frame.question.prompt  # the sum is hidden too


@SETTINGS
@given(seed=seeds, lead=st.sampled_from([(), (2,), (2, 2)]), size=st.integers(1, 7), affine=st.booleans(),
       bias=st.booleans(), eps=st.sampled_from([1e-5, 0.1, 0.0]))
def test_layernorm_narrations_add_up(seed, lead, size, affine, bias, eps):
    rng = np.random.default_rng(seed)
    layer = lv.LayerNorm(size, eps=eps, elementwise_affine=affine, bias=bias)
    if affine:
        layer.weight = rng.normal(1, 0.5, size)
        if bias:
            layer.bias = rng.normal(0, 0.5, size)
    x = rng.normal(1, 2, (*lead, size))
    if eps == 0.0 and size == 1:
        return  # one value per group, no variance: eps = 0 leaves nothing to divide by (refused)
    trace = layer.frames(x)
    for k in range(len(trace)):
        frame = trace[k]
        done = redo(frame.narration)
        check_question(frame)
        listed = {"mean": size <= 6, "variance": size <= 4, "normalize": True}[frame.phase]
        assert (frame.question is not None) == listed
        if listed:
            assert done.compared, frame.narration
    backward = trace.backward(rng.standard_normal(x.shape))
    for frame in backward:
        redo(frame.narration)
        check_question(frame)


# -- attention ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, L=st.integers(1, 3), S=st.integers(1, 5), E=st.integers(1, 9), Ev=st.integers(1, 5),
       mask=st.sampled_from([None, "bool", "float", "causal"]), dropout=st.sampled_from([0.0, 0.4]),
       scale=st.sampled_from([None, 0.5, -1.3]))
def test_attention_narrations_add_up(seed, L, S, E, Ev, mask, dropout, scale):
    rng = np.random.default_rng(seed)
    kwargs = {"scale": scale, "dropout_p": dropout, "rng": seed}
    if mask == "bool":
        kwargs["attn_mask"] = rng.random((L, S)) < 0.6
    elif mask == "float":
        kwargs["attn_mask"] = np.where(rng.random((L, S)) < 0.3, -np.inf, rng.normal(0, 1, (L, S)))
    elif mask == "causal":
        kwargs["is_causal"] = True
    trace = lv.attention_frames(rng.normal(0, 2, (L, E)), rng.normal(0, 2, (S, E)), rng.standard_normal((S, Ev)),
                                **kwargs)
    for frame in [*trace, *trace.backward(rng.standard_normal((L, Ev)))]:
        redo(frame.narration)
        check_question(frame)
        if frame.question is not None:
            assert redo(frame.narration).compared, frame.narration


# -- recurrent layers ---------------------------------------------------------------------------------------


@SETTINGS
@given(cfg=st.sampled_from(["RNN", "LSTM", "GRU"]).flatmap(lambda kind: configs(kind, max_size=3, max_layers=2,
                                                                                max_seq=3, max_batch=2)))
def test_recurrent_narrations_add_up(cfg):
    kwargs = dict(cfg.kwargs)
    kwargs.pop("dropout")
    layer = getattr(lv, cfg.kind)(**kwargs, rng=cfg.seed)
    x, h0, c0 = inputs(cfg)
    if cfg.kind == "LSTM":
        if h0 is not None and c0 is None:
            c0 = np.zeros((*h0.shape[:-1], kwargs["hidden_size"]))
        trace = layer.frames(x, None if h0 is None else (h0, c0))
    else:
        trace = layer.frames(x, h0)
    for k in range(len(trace)):
        frame = trace[k]
        redo(frame.narration)
        check_question(frame)  # its prompt alone gives the answer (tests/narration_redo.answer_of)
        if frame.stage in ("ih", "hh"):
            # W·x with a matrix not shown asks nothing; a single weight is shown (0.80×0.50 + 0.10)
            assert (frame.question is None) == ("·" in frame.narration.split(" = ")[1])


def test_rnn_asks_nothing_of_a_weight_matrix_it_does_not_show():
    rnn = lv.RNN(3, 2, rng=0)
    trace = rnn.frames(np.eye(3))
    assert [question(f) is None for f in trace[:4]] == [True, True, False, False]  # ih, hh: W·x; sum, h: asked


def test_a_forced_gate_asks_nothing():
    trace = lv.LSTM(1, 2, rng=0).frames(np.ones((2, 1)), force={"f": 1.0})
    assert all(f.question is None for f in trace if f.stage == "f")


# -- whole networks ------------------------------------------------------------------------------------------


def test_anatomy_and_cnn_narrations_add_up():
    from layerviz import toy
    from layerviz.ui.network import build_anatomy

    anatomy = build_anatomy({"hidden": "8, 8", "activation": "relu", "seed": 0, "point": 5, "view": "neurons"})
    cnn = toy.digit_cnn().frames(toy.digit_input(3, 0.3, 1))
    for trace in (anatomy, cnn):
        assert isinstance(trace.layer, Sequential)
        asked = 0
        for k in range(len(trace)):
            frame = trace[k]
            redo(frame.narration)
            check_question(frame)
            asked += question(frame) is not None
        assert asked


# -- the helper ------------------------------------------------------------------------------------------------


def test_redoable_falls_back_to_every_digit_only_when_it_must():
    shown = redoable([0.5, 0.25], [0.125], lambda o, _: [o[0] * o[1]])
    assert shown.operands == ["0.50", "0.25"] and shown.results == ["0.125"]  # a tie shows its third decimal
    # dropout at p = 0.9: the scale 1/(1 − 0.9) is an intermediate, shown with a decimal fewer than x
    shown = redoable([0.57341], [1 / (1 - 0.9), 0.57341 / (1 - 0.9)], lambda o, r: [1 / (1 - 0.9), o[0] * r[0]],
                     intermediate=(0,))
    assert shown.operands == ["0.573"] and shown.results == ["10.00", "5.73"]
    shown = redoable([0.68499, 1.0], [0.68499], lambda o, _: [o[0] * o[1]])
    assert shown.results == ["0.68"]


@pytest.mark.parametrize(("value", "text"), [(0.125, "0.13"), (-0.125, "-0.13"), (0.285, "0.28"), (1.005, "1.00"),
                                             (-0.004, "0.00"), (2.675, "2.67"), (0.375, "0.38")])
def test_numbers_round_as_the_browser_grid_does(value, text):
    # half away from zero on the exact binary value, as JavaScript's toFixed: 0.285 is 0.28499999…
    assert fixed(value, 2) == text
