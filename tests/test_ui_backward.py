"""How it learns, in the explorers and the lessons: the forward | backward switch, the check that follows the
trace shown, the lessons' own backward players with a check, and the pages' new sections. No browser: widget
values are set and read."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pytest

import layerviz as lv
import layerviz.ui
from layerviz.backward import BackwardTrace
from layerviz.ui import course
from layerviz.ui.checks import is_right, predict_next
from layerviz.ui.conv import conv_explorer
from layerviz.ui.explorer import ONES, Upstream, describe_backward, fixed_gradient
from layerviz.ui.learning import gradients_table, input_gradient_figure
from layerviz.ui.pooling import pooling_explorer

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: The explorers with a forward | backward switch: the single layers'.
SWITCHED = ("batchnorm_explorer", "conv_explorer", "dropout_explorer", "linear_explorer", "pooling_explorer")
#: The pages with a "How it learns" section.
LEARNING_PAGES = ("anatomy", "linear", "convolution", "pooling", "dropout", "batchnorm", "cnn")


@pytest.mark.parametrize("factory", SWITCHED)
def test_the_switch_shows_the_backward_pass_of_the_same_settings_and_back(factory):
    explorer = getattr(layerviz.ui, factory)()
    forward = explorer.trace
    assert explorer.direction.value == "forward" and explorer.shown is forward and explorer.backward_trace is None
    forward_summary = explorer.summary.value

    explorer.direction.value = "backward"
    backward = explorer.shown
    assert isinstance(backward, BackwardTrace) and explorer.backward_trace is backward
    assert backward.forward is forward and explorer.trace is forward  # the same forward pass, not rebuilt
    assert explorer.player.n_frames == len(backward) > 0
    assert explorer.player.scene.title.startswith("backward of ")
    assert explorer.summary.value.startswith("Backward pass of ") and "frames, one per gradient entry" in \
        explorer.summary.value
    assert explorer.error.value == ""
    assert backward.grads["input"].shape == np.shape(forward.input)

    explorer.direction.value = "forward"
    assert explorer.shown is forward and explorer.trace is forward and explorer.backward_trace is None
    assert explorer.player.n_frames == len(forward) and explorer.summary.value == forward_summary
    explorer.direction.value = "backward"
    assert explorer.shown is backward  # the same backward pass: switching back and forth computes nothing again


def test_the_backward_pass_is_the_engine_s_for_dout_ones():
    explorer = conv_explorer()
    explorer.direction.value = "backward"
    expected = explorer.trace.backward(np.ones(explorer.trace.output.shape))
    for name, grad in expected.grads.items():
        np.testing.assert_allclose(explorer.shown.grads[name], grad, rtol=0, atol=1e-12)
    assert "dL/dout = 1 for every output" in explorer.summary.value
    assert "dL/dw (1, 1, 3, 3), dL/db (1,), dL/dx (1, 8, 8)" in explorer.summary.value
    assert len(explorer.shown) == 9 + 1 + 64


def test_new_settings_keep_the_backward_pass_on_screen():
    explorer = conv_explorer()
    explorer.direction.value = "backward"
    explorer.controls["kernel_size"].value = 2
    assert explorer.direction.value == "backward"
    assert explorer.trace.layer.kernel_size == (2, 2) and explorer.shown.forward is explorer.trace
    assert explorer.shown.grads["weight"].shape == (1, 1, 2, 2)
    assert explorer.player.n_frames == 4 + 1 + 64
    explorer.set_values({"stride": 2, "kernel_size": 3})
    assert explorer.shown.forward.layer.stride == (2, 2) and explorer.player.n_frames == len(explorer.shown)
    # stride 2 with a 3x3 kernel on 8x8: the last row and column are in no window, their gradient is 0
    dx = explorer.shown.grads["input"]
    assert np.all(dx[0, 7, :] == 0) and np.all(dx[0, :, 7] == 0) and np.any(dx != 0)


def test_the_link_keeps_the_settings_and_says_which_pass_shows():
    explorer = conv_explorer()
    explorer.controls["kernel_size"].value = 2
    query = explorer.link.widget.query
    explorer.direction.value = "backward"
    assert query == "?kernel_size=2" and explorer.link.widget.query == "?kernel_size=2&pass=backward"
    explorer.direction.value = "forward"
    assert explorer.link.widget.query == query


def test_a_trace_without_a_backward_pass_says_so_and_the_forward_pass_still_works():
    explorer = pooling_explorer(kind="max vs average")
    explorer.direction.value = "backward"
    assert 'role="alert"' in explorer.error.value and "Traceback" not in explorer.error.value
    assert "the backward pass is drawn for one layer at a time" in explorer.error.value
    assert explorer.shown is explorer.trace and explorer.player.n_frames == len(explorer.trace)  # nothing half-shown
    explorer.controls["kind"].value = "average"  # one layer: its backward pass, the alert gone
    assert explorer.error.value == "" and isinstance(explorer.shown, BackwardTrace)
    assert "spread over each window" in explorer.summary.value
    assert explorer.shown.grads["input"][0, 0, 0] == pytest.approx(0.25)  # dout 1 over a 2x2 window
    explorer.controls["kind"].value = "max vs average"
    assert "one layer at a time" in explorer.error.value
    explorer.direction.value = "forward"
    assert explorer.error.value == "" and explorer.trace.layer[0].__class__.__name__ == "MaxPool2d"
    assert explorer.player.n_frames == len(explorer.trace)


def test_switching_with_settings_that_do_not_work_keeps_their_message():
    explorer = conv_explorer()
    explorer.controls["padding"].value = "same"
    explorer.controls["stride"].value = 2
    before = explorer.trace
    message = explorer.error.value
    assert html.escape("padding='same' needs stride 1") in message
    explorer.direction.value = "backward"
    assert html.escape("padding='same' needs stride 1") in explorer.error.value
    assert explorer.trace is before and explorer.shown is before  # the stale pictures stay, greyed out
    explorer.controls["stride"].value = 1
    assert explorer.error.value == "" and isinstance(explorer.shown, BackwardTrace)
    assert explorer.trace.layer.padding == "same"


def test_a_failing_backward_pass_is_apologised_for(monkeypatch):
    explorer = conv_explorer()

    def broken(trace):
        raise RuntimeError("a bug")

    monkeypatch.setattr(explorer, "_run_backward", broken)
    explorer.direction.value = "backward"
    assert "Something went wrong" in explorer.error.value and "RuntimeError" not in explorer.error.value
    assert explorer.shown is explorer.trace


def test_predict_next_follows_the_trace_shown():
    explorer = conv_explorer()
    check = explorer.predict
    assert check.asked.text.startswith("out[0,0,1] = ")
    explorer.direction.value = "backward"
    # the weight and bias gradients sum over 36 windows (not listed): the first question is dL/dx's
    assert check.frame == 10 and check.asked.text.startswith("dx[0,0,0] = ")
    frame = explorer.shown[check.frame]
    assert frame.grad == "input" and check.asked.answer == pytest.approx(frame.result)
    check.answer.value = check.asked.shown
    assert check.check() is True
    assert explorer.player.frame == frame.index and "Right" in check.feedback.value
    assert check.frame > frame.index  # the next backward question
    check.answer.value = str(float(check.asked.shown) + 1)
    assert check.check() is False and "Not quite" in check.feedback.value
    explorer.direction.value = "forward"
    assert check.asked.text.startswith("out[0,0,1] = ") and check.feedback.value == ""


def test_dropout_s_backward_asks_about_its_own_mask():
    explorer = layerviz.ui.dropout_explorer(size=3, p=0.5)
    explorer.direction.value = "backward"
    trace, backward = explorer.trace, explorer.shown
    np.testing.assert_array_equal(backward.grads["input"], trace.mask * trace.scale)
    assert len(backward) == 9 and explorer.predict.frame == 1  # every frame asks: the one after the first shown
    explorer.controls["mode"].value = "eval"
    assert explorer.error.value == "" and np.all(explorer.shown.grads["input"] == 1)
    assert explorer.predict.widget.layout.display == "none"  # eval mode computes nothing to predict


def test_batchnorm_s_switch_uses_varied_upstream_numbers():
    explorer = layerviz.ui.batchnorm_explorer()
    explorer.direction.value = "backward"
    backward = explorer.shown
    g = fixed_gradient(explorer.trace.output.shape)
    np.testing.assert_array_equal(backward.input, g)
    assert set(np.unique(np.abs(g))) <= {round(0.1 * k, 1) for k in range(11)} and not np.signbit(g[g == 0]).any()
    assert np.abs(backward.grads["input"]).max() > 0.01  # with ones it would be 0 in training mode
    per_channel = backward.grads["input"].sum(axis=(0, 2, 3))
    np.testing.assert_allclose(per_channel, 0, atol=1e-9)  # the batch is coupled: each channel sums to 0
    assert [s.key for s in backward.sections] == ["weight", "bias", "m1", "m2", "input"]
    explorer.controls["mode"].value = "eval"
    assert [s.key for s in explorer.shown.sections] == ["weight", "bias", "input"]
    assert "fixed numbers between −1 and 1" in explorer.summary.value


def test_upstream_and_describe_backward():
    trace = lv.Linear(3, 2, rng=0).frames([1.0, 2.0, 3.0])
    backward = ONES(trace)
    np.testing.assert_array_equal(backward.input, np.ones(2))
    custom = Upstream("half", lambda shape: np.full(shape, 0.5))(trace)
    np.testing.assert_allclose(custom.grads["weight"], 0.5 * backward.grads["weight"])
    line = describe_backward(backward, "a note")
    assert line.startswith("Backward pass of <code>Linear(") and ", a note: 11 frames" in line
    assert "dL/dW (2, 3), dL/db (2,), dL/dx (3,)" in line
    np.testing.assert_array_equal(fixed_gradient((2, 3)), fixed_gradient((2, 3)))  # the same for every student


def test_a_lesson_s_backward_player_has_its_check():
    conv = lv.Conv2d(1, 1, kernel_size=2, bias=False)
    conv.weight = [[[[0, 1], [2, 3]]]]
    btrace = conv.frames(np.arange(9.0).reshape(1, 3, 3)).backward(np.array([[[1.0, -1.0], [2.0, 0.0]]]))
    np.testing.assert_array_equal(btrace.grads["weight"], [[[[5, 7], [11, 13]]]])  # the page's worked example
    np.testing.assert_array_equal(btrace.grads["input"], [[[0, 1, -1], [2, 3, -3], [4, 6, 0]]])
    shown = predict_next(btrace)
    assert shown.player.n_frames == len(btrace) == 13
    check = shown.predict
    assert check.frame == 1 and check.asked.text.endswith("= ?")  # dw[0,0,0,1] = 1×1 + (−1)×2 + 2×4 + 0×5
    assert check.asked.answer == 7 and is_right("7", check.asked.shown)
    check.answer.value = "7"
    assert check.check() is True and shown.player.frame == 1 and check.frame == 2
    check.answer.value = "oops"
    assert check.check() is None and "not a number" in check.feedback.value
    shown.player.frame = 12
    assert check.frame is None and check.button.disabled  # nothing left to predict
    assert "layerviz-trace-check" in shown.widget._dom_classes
    # the flipped kernel's full convolution of dout gives dL/dx
    flipped = lv.Conv2d(1, 1, kernel_size=2, padding=1, bias=False)
    flipped.weight = conv.weight[:, :, ::-1, ::-1]
    np.testing.assert_allclose(flipped(btrace.input), btrace.grads["input"])


def test_the_network_gradients_table_and_the_input_picture():
    model = lv.Sequential(lv.Dense(2, 3, activation="relu", rng=0), lv.Linear(3, 2, rng=1))
    forward = model.frames(np.array([0.5, -1.0]))
    loss = lv.CrossEntropyLoss().frames(forward.output, 1)
    btrace = forward.backward(loss.backward().grads["input"])
    table = gradients_table(btrace)
    assert [row[0] for row in table.rows] == ["0.weight", "0.bias", "1.weight", "1.bias", "input"]
    assert table.rows[0][1].startswith("1. Dense(2, 3") and table.rows[-1][1] == "the input"
    assert table.rows[2][2] == "(2, 3)"
    image = np.zeros((1, 1, 4, 4))
    figure = input_gradient_figure(image, np.linspace(-1, 1, 16).reshape(image.shape))
    assert figure._repr_png_().startswith(b"\x89PNG") and len(figure.figure.axes) == 3  # image, gradient, colour bar
    with pytest.raises(ValueError, match="gradient must have the image's shape"):
        input_gradient_figure(image, np.zeros((4, 5)))


def _notebook(stem: str) -> tuple[str, str]:
    cells = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return text, code


@pytest.mark.parametrize("stem", LEARNING_PAGES)
def test_every_layer_page_says_how_it_learns(stem):
    text, code = _notebook(stem)
    section = text.split("## How it learns", 1)
    assert len(section) == 2, "has its section"
    learns = section[1].split("\n## ", 1)[0]
    assert "$$" in learns and "by hand" in learns, "a formula and a worked example"
    assert ".backward(" in code and "predict_next(" in code, "the engine redoes it; the player has its check"
    assert course.topic(stem)  # a topic of the course


def test_the_landing_page_says_what_is_new():
    text, _ = _notebook("index")
    assert "How it learns" in text and "forward | backward" in text


def test_what_the_network_pages_say_about_their_gradients():
    from layerviz import toy
    from layerviz.ui.learning import gradient_step

    # anatomy: the trained network's gradient on point 0 is tiny; the untrained one's is not, and one step helps
    points, labels = toy.two_moons(120, rng=0)
    assert labels[0] == 0  # "the point's class (class 0)"
    untrained = toy.mlp(2, (8, 8), 2, rng=0)
    forward = lv.Sequential(*untrained.layers[:-1]).frames(points[0])
    loss = lv.CrossEntropyLoss().frames(forward.output, labels[0])
    btrace = forward.backward(loss.backward().grads["input"])
    before = untrained.layers[0].weight.copy()
    stepped = gradient_step(untrained, btrace, learning_rate=0.5)
    np.testing.assert_array_equal(untrained.layers[0].weight, before)  # the model itself is unchanged
    assert 0.5 < untrained(points[0])[0] < stepped(points[0])[0]  # "unsure", then "already surer"
    np.testing.assert_allclose(stepped.layers[2].bias, untrained.layers[2].bias - 0.5 * btrace.grads["2.bias"])
    trained = toy.train_mlp(points, labels, hidden=(8, 8), rng=0)
    assert trained(points)[np.arange(120), labels].min() > 0.99  # "already sure of every point"
    with pytest.raises(ValueError, match="learning_rate must be a number > 0"):
        gradient_step(untrained, btrace, learning_rate=0)
    # cnn: the noisy 5 (noise 0.3, seed 0) is misread as an 8, nearly surely; the clean 3 gives almost no gradient
    model = toy.digit_cnn()
    probabilities = model(toy.digit_input(5, noise=0.3, rng=0))[0]
    assert probabilities.argmax() == 8 and probabilities[8] > 0.9 and probabilities[5] < 0.05
    assert model(toy.digit_input(3))[0][3] > 0.99


@pytest.mark.parametrize("make", ["network", "cnn"])
def test_the_network_explorers_run_backward_from_the_loss_of_the_true_class(make):
    """Anatomy and CNN: the switch shows the whole network backward from L = −log p[true class]; at the scores
    that is p − onehot (the softmax's Jacobian-vector product of −1/p at the true class)."""
    import torch

    from layerviz.ui.network import cnn_explorer, network_explorer

    explorer = network_explorer(point=5) if make == "network" else cnn_explorer(digit=5, noise=0.3)
    explorer.direction.value = "backward"
    shown = explorer.shown
    assert shown is explorer.backward_trace and explorer.error.value == "" and explorer.player.n_frames == len(shown)
    assert "true class" in explorer.summary.value
    probs = np.asarray(explorer.trace.output, dtype=np.float64)
    target = explorer.trace.target
    logits = torch.tensor(np.log(probs), requires_grad=True)  # softmax(log p) = p: the same scores up to a constant
    torch.nn.functional.cross_entropy(logits.reshape(1, -1), torch.tensor([target])).backward()
    model = explorer.trace.layer
    scores_grad = np.asarray(shown.grads[f"{len(model.layers) - 2}.bias"]) if make == "network" else None
    if scores_grad is not None:  # the last Dense's bias gradient is dL/dscores
        np.testing.assert_allclose(scores_grad.reshape(-1), logits.grad.numpy().reshape(-1), atol=1e-12)
    assert np.abs(shown.grads["input"]).max() > 0
    explorer.direction.value = "forward"
    assert explorer.shown is explorer.trace
