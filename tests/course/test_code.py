""""Show me the code": the scripts it writes run, and both of their results equal the engine's."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz import code, toy
from layerviz.layers import (
    GRU,
    LSTM,
    RNN,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    MaxPool2d,
)
from layerviz.ui import course
from layerviz.ui.conv import conv_explorer


def run(trace) -> dict:
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code.program(trace), "<show me the code>", "exec"), namespace)  # noqa: S102
    namespace["printed"] = printed.getvalue()
    return namespace


def assert_both_equal_the_engine(trace) -> None:
    result = run(trace)
    np.testing.assert_allclose(result["out_torch"], trace.output, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result["out_numpy"], trace.output, rtol=1e-12, atol=1e-12)
    assert float(result["printed"]) < 1e-12


X3 = np.random.default_rng(0).normal(size=(2, 7, 6))
X4 = np.random.default_rng(1).normal(size=(3, 2, 5, 5))


@pytest.mark.parametrize("trace", [
    Conv2d(2, 4, 3, stride=2, padding=1, groups=2, rng=0).frames(X3),
    Conv2d(2, 2, (2, 3), padding="same", dilation=2, bias=False, padding_mode="reflect", rng=1).frames(X3),
    Conv2d(2, 1, 3, padding=2, padding_mode="circular", rng=1).frames(X4),
    MaxPool2d(3, stride=2, padding=1, ceil_mode=True).frames(X3),
    MaxPool2d(2, dilation=2).frames(X4),
    AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False).frames(X3),
    AvgPool2d(3, stride=2, padding=1, ceil_mode=True).frames(X3),
    AvgPool2d(2, divisor_override=3).frames(X4),
    AdaptiveAvgPool2d((3, 4)).frames(X3),
    Dropout(0.3, rng=0).frames(X3),
    Dropout(0.3, rng=0).eval().frames(X3),
    BatchNorm2d(2).frames(X4),
    BatchNorm2d(2, momentum=None, affine=False).frames(X4),
    BatchNorm1d(2).eval().frames(np.random.default_rng(2).normal(size=(4, 2))),
], ids=repr)
def test_program_computes_the_engine_output_twice(trace):
    assert_both_equal_the_engine(trace)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_program_for_random_convolutions(data):
    groups = data.draw(st.sampled_from([1, 2]))
    conv = Conv2d(2, 2 * data.draw(st.integers(1, 2)), kernel_size=data.draw(st.integers(1, 3)), stride=data.draw(st.integers(1, 3)),
                  padding=data.draw(st.integers(0, 1)), dilation=data.draw(st.integers(1, 2)), groups=groups,
                  bias=data.draw(st.booleans()), rng=data.draw(st.integers(0, 99)))
    assert_both_equal_the_engine(conv.frames(np.random.default_rng(3).normal(size=(2, 6, 7))))


SEQ = np.random.default_rng(4).normal(size=(5, 3))


@pytest.mark.parametrize("trace", [
    RNN(3, 4, rng=0).frames(SEQ),
    RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True, bias=False, rng=1).frames(np.stack([SEQ, -SEQ], 1)),
    LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True, rng=2).frames(SEQ),
    LSTM(3, 4, batch_first=True, rng=2).frames(np.stack([SEQ, SEQ[::-1]])),
    GRU(3, 4, num_layers=2, bidirectional=True, rng=3).frames(SEQ),
    GRU(3, 4, bias=False, rng=3).frames(SEQ),
], ids=repr)
def test_program_for_recurrent_layers(trace):
    assert_both_equal_the_engine(trace)


@pytest.mark.parametrize("trace", [
    LSTM(3, 4, rng=2).frames(SEQ, force={"f": 1.0}),
    LSTM(3, 4, rng=2).frames(SEQ, (np.ones((1, 4)), np.zeros((1, 4)))),
    RNN(3, 4, num_layers=2, dropout=0.5, rng=2).frames(SEQ),
], ids=["forced gate", "initial state", "dropout between layers"])
def test_no_program_where_torch_computes_something_else(trace):
    assert not code.supports(trace)
    with pytest.raises(ValueError, match="trace must compute what torch computes"):
        code.program(trace)


def test_program_states_the_layer_and_the_shapes():
    text = code.program(lv.MaxPool2d(2).frames(X3))
    assert "torch.nn.MaxPool2d(2, stride=2" in text
    assert "# MaxPool2d(kernel_size=2, stride=2" in text and "(2, 7, 6)" in text


def test_unsupported_layer_is_named():
    class Other:
        layer = object()

    assert not code.supports(Other())
    with pytest.raises(ValueError, match="layer must be one of Conv2d, .*, got object"):
        code.program(Other())


@pytest.mark.parametrize("factory", sorted({t.explorer for t in course.TOPICS}))
def test_every_explorer_has_code_at_its_defaults(factory):
    explorer = getattr(lv.ui, factory)()
    assert code.problem(explorer.trace) is None
    assert_both_equal_the_engine(explorer.trace)
    explorer.code.widget.selected_index = 0
    assert explorer.code.text.value == code.program(explorer.trace)
    assert "No code" not in explorer.code.intro.value


@pytest.mark.parametrize("settings", [
    {"hidden": "", "activation": "sigmoid"},
    {"hidden": "3, 2, 4", "activation": "tanh", "point": 7, "seed": 2},
], ids=repr)
def test_code_of_other_networks_of_the_anatomy_page(settings):
    assert_both_equal_the_engine(lv.ui.network_explorer(**settings).trace)


def test_code_of_the_digit_cnn_with_noise_and_a_batch():
    assert_both_equal_the_engine(lv.ui.cnn_explorer(digit=8, noise=0.7, seed=3).trace)
    images = np.stack([lv.data.digit(d, toy.DIGIT_SIZE) for d in range(3)])
    assert_both_equal_the_engine(toy.digit_cnn().frames(images))


@pytest.mark.parametrize("model", [
    lv.Sequential(lv.Linear(3, 4, rng=0), lv.Tanh(), lv.Linear(4, 2, bias=False, rng=1), lv.Sigmoid(), lv.Identity()),
    lv.Sequential(lv.Conv2d(2, 2, 3, stride=2, padding=1, groups=2, rng=0), lv.ReLU(),
                  lv.MaxPool2d(2, stride=1, padding=1), lv.Flatten(), lv.Dense(50, 3, activation="relu", rng=1),
                  lv.Softmax(dim=1)),
], ids=["vectors", "pictures"])
def test_program_for_other_sequentials(model):
    x = np.random.default_rng(5).normal(size=(2, 3) if isinstance(model[0], lv.Linear) else (2, 2, 7, 7))
    assert_both_equal_the_engine(model.frames(x))
    assert_both_equal_the_engine(model.frames(x[0]) if isinstance(model[0], lv.Linear) else model.frames(x[:1]))


def test_no_program_for_a_sequential_it_has_no_loops_for():
    trace = lv.Sequential(lv.Linear(3, 4, rng=0), lv.Dropout(0.5, rng=0)).frames(np.ones(3))
    assert code.problem(trace) == "layer 2 Dropout(p=0.5, inplace=False): a Dropout inside a Sequential is not written here"
    with pytest.raises(ValueError, match="a Dropout inside a Sequential"):
        code.program(trace)


def test_trained_float32_weights_are_written_short_and_exact():
    text = code.program(lv.ui.cnn_explorer().trace)
    assert "dtype=np.float32).astype(np.float64)" in text
    assert "weight5 = np.array([[" in text and "torch.nn.Conv2d(1, 4, kernel_size=(3, 3), dtype=torch.float64)" in text


def test_two_layers_side_by_side_have_the_code_of_each_alone():
    explorer = lv.ui.pooling_explorer(kind="max vs average")
    explorer.code.widget.selected_index = 0
    assert explorer.code.text.value == ""
    assert "one layer at a time: choose one of these layers" in explorer.code.intro.value
    explorer.controls["kind"].value = "average"
    assert "torch.nn.AvgPool2d(2" in explorer.code.text.value


def test_explorer_says_why_there_is_no_code():
    explorer = lv.ui.lstm_explorer(force="f = 1: never forget")
    explorer.code.widget.selected_index = 0
    assert explorer.code.text.value == ""
    assert "No code for these settings: trace must compute what torch computes: no forced gates" in \
        explorer.code.intro.value


def test_explorer_writes_the_code_only_when_asked():
    explorer = conv_explorer()
    assert explorer.code.text.value == ""
    explorer.code.widget.selected_index = 0
    assert "torch.nn.Conv2d(1, 1, kernel_size=(3, 3)" in explorer.code.text.value
    explorer.controls["kernel_size"].value = 2
    assert "kernel_size=(2, 2)" in explorer.code.text.value
