"""Predict-the-next-value and predict-the-shape checks, tested by setting widget values (no browser)."""

from __future__ import annotations

import numpy as np
import pytest

import layerviz as lv
from layerviz.ui.checks import is_right, predict_shape, question
from layerviz.ui.conv import conv_explorer
from layerviz.ui.dropout import dropout_explorer


def hand_conv():
    conv = lv.Conv2d(1, 1, kernel_size=2, bias=False)
    conv.weight = [[[[0, 1], [2, 3]]]]
    return conv.frames(np.arange(9.0).reshape(1, 3, 3))


def test_question_hides_the_result_of_the_worked_example():
    text, answer, ask = question(hand_conv()[1])
    assert text == "out[0,0,1] = 1.00×0.00 + 2.00×1.00 + 4.00×2.00 + 5.00×3.00 = ?"
    assert answer == 1 * 0 + 2 * 1 + 4 * 2 + 5 * 3 == 25


def test_a_vector_result_asks_for_its_first_entry():
    rnn = lv.RNN(1, 2, bias=False)
    rnn.weight_ih_l0 = [[1.0], [-1.0]]
    rnn.weight_hh_l0 = [[0.0, 0.0], [0.0, 0.0]]
    h_frame = next(f for f in rnn.frames(np.array([[0.5]])) if f.stage == "h")
    text, answer, ask = question(h_frame)
    assert text.endswith("= tanh([0.50, -0.50]) = ?")
    assert answer == pytest.approx(np.tanh(0.5)) and ask == "What is its first entry?"


def test_a_frame_of_two_steps_asks_for_the_last_without_giving_it_away():
    dense = lv.Dense(2, 1, bias=False)
    dense.weight = [[1.0, 1.0]]
    frame = dense.frames(np.array([1.0, 0.5]))[0]  # z = 1·1 + 1·0.5 = 1.5, a = relu(1.5) = 1.5
    text, answer, _ = question(frame)
    assert text == "z[0] = 1.00×1.00 + 1.00×0.50; a[0] = ?"
    assert answer == 1.5 and "1.50" not in text


def test_frames_without_one_number_ask_nothing():
    mask_frame = lv.Dropout(0.5, rng=0).frames(np.ones((2, 2)))[0]
    assert mask_frame.narration.endswith(("kept (1)", "dropped (0)"))
    assert question(mask_frame) is None


@pytest.mark.parametrize(("answer", "right"), [(19.0, True), (19.2, True), (19.3, False), (-19.0, False)])
def test_tolerance_allows_the_rounding_of_shown_numbers(answer, right):
    assert is_right(answer, 19.0) is right  # 0.01 + 1% of 19 = 0.2


@pytest.fixture
def explorer():
    return conv_explorer()


def test_asks_about_the_frame_after_the_one_shown(explorer):
    assert explorer.player.frame == 0
    assert explorer.predict.frame == 1
    assert "Step 2 computes: <code>out[0,0,1] = " in explorer.predict.prompt.value
    explorer.player.frame = 10
    assert explorer.predict.frame == 11
    assert "out[0,1,5]" in explorer.predict.prompt.value  # frame 11 of a 6x6 output: row 1, column 5


def test_a_right_answer_says_so_and_steps_the_player(explorer):
    truth = float(explorer.trace.output[0, 0, 1])
    explorer.predict.answer.value = round(truth, 2)
    assert explorer.predict.check() is True
    assert "Right" in explorer.predict.feedback.value
    assert "out[0,0,1] = " in explorer.predict.feedback.value and "= ?" not in explorer.predict.feedback.value
    assert explorer.player.frame == 1
    assert explorer.predict.frame == 2


def test_a_wrong_answer_shows_what_was_said_and_the_arithmetic(explorer):
    truth = float(explorer.trace.output[0, 0, 1])
    explorer.predict.answer.value = truth + 1
    assert explorer.predict.check() is False
    feedback = explorer.predict.feedback.value
    assert "Not quite" in feedback and f"You said {truth + 1:.2f}" in feedback
    assert f"= {truth:.2f}</code>" in feedback


def test_new_settings_ask_a_new_question(explorer):
    explorer.controls["kernel_size"].value = 2
    assert explorer.predict.frame == 1
    assert float(explorer.trace.output[0, 0, 1]) == explorer.predict.result


def test_nothing_left_to_predict_at_the_last_frame(explorer):
    explorer.player.frame = len(explorer.trace) - 1
    assert explorer.predict.frame is None
    assert explorer.predict.button.disabled
    assert explorer.predict.check() is None


def test_no_check_is_offered_where_nothing_is_computed_as_one_number():
    explorer = dropout_explorer(size=2)  # a mask drawn value by value, then one scaling of all
    assert explorer.predict.frame is None
    assert explorer.predict.widget.layout.display == "none"
    explorer = conv_explorer()
    explorer.player.frame = len(explorer.trace) - 1  # nothing after the last frame, but there was before
    assert explorer.predict.widget.layout.display is None


@pytest.mark.parametrize(("typed", "right"), [("8, 15, 15", True), ("(8, 15, 15)", True), ("8x15x15", True),
                                              ("8, 16, 16", False), ("", False)])
def test_predict_shape_of_a_strided_convolution(typed, right):
    # (32 + 2*1 - 5) // 2 + 1 = 15, by hand
    check = predict_shape(lv.Conv2d(3, 8, kernel_size=5, stride=2, padding=1), (3, 32, 32))
    check.answer.value = typed
    assert check.check() is right
    assert "(8, 15, 15)" in check.feedback.value
    assert ("Right" in check.feedback.value) is right


def test_predict_shape_of_pooling():
    check = predict_shape(lv.MaxPool2d(2), (16, 28, 28))
    check.answer.value = "16, 14, 14"
    assert check.check()
