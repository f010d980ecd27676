"""Wiring of the linear, anatomy and CNN explorers, tested without a browser by setting control values."""

from __future__ import annotations

import numpy as np
import pytest

import layerviz as lv
from layerviz import toy
from layerviz.ui.linear import linear_explorer
from layerviz.ui.network import network_explorer, cnn_explorer


@pytest.fixture
def linear():
    return linear_explorer()


def test_linear_initial_trace(linear):
    assert linear.error.value == ""
    assert repr(linear.trace.layer) == "Dense(3, 2, activation='relu')"
    assert linear.player.n_frames == 2
    assert linear.player.scene.networks and not linear.player.scene.panels  # the neurons view
    np.testing.assert_array_equal(linear.trace.input, [1.0, 2.0, 3.0])
    assert "W is 2×3" in linear.summary.value


def test_linear_controls_recompute(linear):
    linear.controls["activation"].value = "none (Linear)"
    linear.controls["out_features"].value = 4
    linear.controls["view"].value = "matrix"
    layer = lv.Linear(3, 4, rng=0)
    np.testing.assert_array_equal(linear.trace.output, layer([1.0, 2.0, 3.0]))
    assert linear.player.n_frames == 4
    assert [g.name for g in linear.player.scene.panels] == ["weight", "input", "bias", "output"]
    linear.controls["bias"].value = False
    assert linear.trace.bias is None and "bias" not in [g.name for g in linear.player.scene.panels]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"x": "1, 2"}, "x must have in_features=3 values, got 2"),
        ({"x": "1, two, 3"}, "x must be numbers separated by commas"),
        ({"x": "1, 2, 3, 4"}, "x must have in_features=3 values, got 4"),
    ],
)
def test_linear_errors_are_shown(linear, changes, message):
    trace = linear.trace
    for name, value in changes.items():
        linear.controls[name].value = value
    assert message in linear.error.value and "Traceback" not in linear.error.value
    assert linear.trace is trace  # the last good trace stays
    linear.controls["input"].value = "ones"
    assert linear.error.value == ""


def test_network_explorer():
    explorer = network_explorer()
    assert explorer.error.value == ""
    assert "number of layers = hidden layers + output layer = 2 + 1 = 3" in explorer.summary.value
    assert explorer.player.scene.networks[0].sizes == (2, 8, 8, 2)
    points, labels = toy.two_moons(120, rng=0)
    explorer.controls["point"].value = 5
    np.testing.assert_array_equal(explorer.trace.input, points[5])
    explorer.controls["hidden"].value = "4"
    assert "1 + 1 = 2" in explorer.summary.value
    explorer.controls["hidden"].value = "4, x"
    assert "hidden sizes must be whole numbers separated by commas" in explorer.error.value
    explorer.controls["hidden"].value = "3, 0"
    assert "hidden sizes must be &gt;= 1, got 0" in explorer.error.value
    explorer.controls["hidden"].value = "5"
    explorer.controls["view"].value = "flow"
    assert explorer.error.value == "" and explorer.player.scene.panels


def test_cnn_explorer_predicts_the_digit():
    explorer = cnn_explorer()
    assert explorer.error.value == ""
    assert "Predicted digit: 3" in explorer.summary.value
    explorer.controls["digit"].value = 8
    assert "Predicted digit: 8" in explorer.summary.value
    assert explorer.player.n_frames == len(explorer.trace) == 912
    explorer.controls["noise"].value = -1.0
    assert "noise must be a number &gt;= 0, got -1.0" in explorer.error.value


def test_digit_cnn_classifies_every_clean_digit():
    model = toy.digit_cnn()
    images = np.stack([lv.data.digit(d, toy.DIGIT_SIZE) for d in range(10)])
    assert model(images).argmax(axis=1).tolist() == list(range(10))
    noisy = [model(toy.digit_input(d, 0.1, rng=d)).argmax() for d in range(10)]
    assert sum(int(p == d) for d, p in enumerate(noisy)) >= 8


def test_toy_mlp_learns_the_moons_fast():
    import time

    points, labels = toy.two_moons(120, rng=0)
    start = time.perf_counter()
    model = toy.train_mlp(points, labels, (8, 8), rng=0)
    assert time.perf_counter() - start < 1.0
    assert toy.accuracy(model, points, labels) >= 0.95
    fig = toy.decision_regions(model, points, labels, highlight=0)
    assert "accuracy" in fig.figure.axes[0].get_title()


def test_a_model_trained_twice_from_one_seed_is_trained_once_and_each_caller_owns_its_copy():
    points, labels = toy.two_moons(60, rng=3)
    first = toy.train_mlp(points, labels, (4,), rng=5, steps=50)
    toy._TRAINED.clear()  # the training itself, with the generator the int seed stands for
    fresh = toy.train_mlp(points, labels, (4,), rng=np.random.default_rng(5), steps=50)
    assert not toy._TRAINED
    second = toy.train_mlp(points, labels, [4], rng=5, steps=50)
    again = toy.train_mlp(points, labels, (4,), rng=5, steps=50)
    for a, b, c in zip(first.layers[:2], fresh.layers[:2], again.layers[:2]):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(c.weight, b.weight)
        np.testing.assert_array_equal(c.bias, b.bias)
    second.layers[0].weight[0, 0] += 1.0
    assert again.layers[0].weight[0, 0] == fresh.layers[0].weight[0, 0]
    assert len(toy._TRAINED) == 1
    other = toy.train_mlp(points, labels, (4,), rng=5, steps=51)
    assert not np.array_equal(other.layers[0].weight, fresh.layers[0].weight)


@pytest.mark.parametrize("trace", [
    lv.Linear(3, 2, rng=0).frames(np.random.default_rng(0).normal(size=(4, 3))),
    lv.Linear(5, 1, bias=False, rng=1).frames(np.random.default_rng(1).normal(size=5)),
    *(lv.Dense(3, 4, activation=a, rng=2).frames(np.random.default_rng(2).normal(size=(2, 2, 3)) * 30)
      for a in ("relu", "sigmoid", "tanh", None)),
], ids=lambda t: repr(t.layer))
def test_show_me_the_code_computes_the_engine_output_twice(trace):
    import contextlib
    import io

    from layerviz import code

    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code.program(trace), "<show me the code>", "exec"), namespace)  # noqa: S102
    np.testing.assert_allclose(namespace["out_torch"], trace.output, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(namespace["out_numpy"], trace.output, rtol=1e-12, atol=1e-12)
    assert float(printed.getvalue()) < 1e-12


@pytest.mark.parametrize(("size", "x"), [(5, [1, 2, 3, 0, 0]), (2, [1, 2]), (3, [1, 2, 3])])
def test_changing_in_features_resizes_the_typed_x(linear, size, x):
    linear.controls["in_features"].value = size
    assert linear.error.value == ""
    np.testing.assert_array_equal(linear.trace.input, x)
    assert linear.controls["x"].value == ", ".join(str(v) for v in x)
    assert linear.trace.layer.in_features == size


def test_resizing_keeps_text_that_is_not_numbers(linear):
    from layerviz.ui.linear import resize_vector

    assert resize_vector("1; 2.5", 3) == "1, 2.5, 0"
    linear.controls["x"].value = "1, two"
    linear.controls["in_features"].value = 2
    assert linear.controls["x"].value == "1, two" and "x must be numbers" in linear.error.value


def test_linear_explorer_shows_the_code_when_asked(linear):
    linear.code.widget.selected_index = 0
    assert "torch.nn.Linear(3, 2, bias=True" in linear.code.text.value
    assert "torch.nn.ReLU()(layer(" in linear.code.text.value


def test_predict_the_next_value_in_every_explorer():
    for explorer in (linear_explorer(), network_explorer(), cnn_explorer()):
        predict = explorer.predict
        assert predict.frame == 1 and predict.result == pytest.approx(float(explorer.trace[1].result))
        predict.answer.value = predict.asked.shown  # the result as the narration shows it
        assert predict.check() is True
        assert explorer.player.frame == 1
