""""Show me the code": the scripts it writes run, and both of their results equal the engine's."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz import code
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


def test_explorer_writes_the_code_only_when_asked():
    explorer = conv_explorer()
    assert explorer.code.text.value == ""
    explorer.code.widget.selected_index = 0
    assert "torch.nn.Conv2d(1, 1, kernel_size=(3, 3)" in explorer.code.text.value
    explorer.controls["kernel_size"].value = 2
    assert "kernel_size=(2, 2)" in explorer.code.text.value
