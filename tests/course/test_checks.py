"""Predict-the-next-value and predict-the-shape checks, tested by setting widget values (no browser).

Fair and strict: in every explorer, built as its notebook builds it, at its defaults and other settings,
a question is asked only when its prompt shows every number its answer is computed from; that answer,
worked out from the prompt and typed at the precision shown (or at two decimals), is right; one unit off
in the last decimal shown is wrong.
"""

from __future__ import annotations

import numpy as np
import pytest

import layerviz as lv
from layerviz._format import fixed
from layerviz.ui.batchnorm import batchnorm_explorer
from layerviz.ui.checks import is_right, parse_answer, predict_shape, question
from layerviz.ui.conv import conv_explorer
from layerviz.ui.dropout import dropout_explorer
from layerviz.ui.pooling import pooling_explorer
from tests.narration_redo import answer_of, decimals, redo


def hand_conv():
    conv = lv.Conv2d(1, 1, kernel_size=2, bias=False)
    conv.weight = [[[[0, 1], [2, 3]]]]
    return conv.frames(np.arange(9.0).reshape(1, 3, 3))


def test_question_hides_the_result_of_the_worked_example():
    text, answer, ask, shown = question(hand_conv()[1])
    assert text == "out[0,0,1] = 1.00×0.00 + 2.00×1.00 + 4.00×2.00 + 5.00×3.00 = ?"
    assert answer == 1 * 0 + 2 * 1 + 4 * 2 + 5 * 3 == 25 and shown == "25.00"


def test_a_vector_result_asks_for_its_first_entry():
    rnn = lv.RNN(1, 2, bias=False)
    rnn.weight_ih_l0 = [[1.0], [-1.0]]
    rnn.weight_hh_l0 = [[0.0, 0.0], [0.0, 0.0]]
    h_frame = next(f for f in rnn.frames(np.array([[0.5]])) if f.stage == "h")
    text, answer, ask, shown = question(h_frame)
    assert text.endswith("= tanh([0.50, -0.50]) = ?")
    assert answer == pytest.approx(np.tanh(0.5)) and ask == "What is its first entry?" and shown == "0.46"


def test_a_frame_of_two_steps_asks_for_the_last_without_giving_it_away():
    dense = lv.Dense(2, 1, bias=False)
    dense.weight = [[1.0, 1.0]]
    frame = dense.frames(np.array([1.0, 0.5]))[0]  # z = 1·1 + 1·0.5 = 1.5, a = relu(1.5) = 1.5
    text, answer, _, shown = question(frame)
    assert text == "z[0] = 1.00×1.00 + 1.00×0.50; a[0] = relu(z[0]) = ?"
    assert answer == 1.5 and shown == "1.50" and "1.50" not in text


def test_frames_without_arithmetic_on_shown_numbers_ask_nothing():
    mask_frame = lv.Dropout(0.5, rng=0).frames(np.ones((2, 2)))[0]
    assert mask_frame.narration.endswith(("kept (1)", "dropped (0)"))
    assert question(mask_frame) is None  # a mask is drawn, not computed
    rnn = lv.RNN(2, 3, rng=0).frames(np.ones((2, 2)))
    assert rnn[0].narration.startswith("W_ih·x[0] + b_ih = W_ih·[1.00, 1.00]") and question(rnn[0]) is None
    long_sum = lv.Linear(20, 1, rng=0).frames(np.ones(20))[0]
    assert "…" in long_sum.narration and question(long_sum) is None


def test_batch_norm_asks_for_the_mean_from_its_terms_not_a_division_of_a_sum_shown():
    bn = lv.BatchNorm1d(1)
    frame = bn.frames(np.array([[1.0], [2.0], [4.5]]))[0]
    assert frame.narration == "mean[0] = (1.00 + 2.00 + 4.50) / 3 = 7.50 / 3 = 2.50"
    assert question(frame).text == "mean[0] = (1.00 + 2.00 + 4.50) / 3 = ?"


@pytest.mark.parametrize(("typed", "shown", "right"), [
    ("19", "19.00", True), ("19.00", "19.00", True), ("19.004", "19.00", True), ("19.0049", "19.00", True),
    ("19.01", "19.00", False), ("18.99", "19.00", False), ("19.2", "19.00", False), ("-19", "19.00", False),
    ("0.13", "0.13", True), ("0.12", "0.13", False), ("0.1349", "0.13", True), ("0.136", "0.13", False),
    ("0.125", "0.125", True), ("0.12", "0.125", True), ("0.13", "0.125", True), ("0.14", "0.125", False),
    ("0.1", "0.125", False), ("−0.13", "-0.13", True), ("-0,13", "-0.13", True), (" 0.13 ", "0.13", True),
])
def test_right_is_the_result_shown_at_the_precision_typed(typed, shown, right):
    # at least two decimals, at most those shown: half a unit of that decimal either side
    assert is_right(typed, shown) is right


@pytest.mark.parametrize("typed", ["", "   ", "abc", "1..2", "nan", "inf", "0.1.2"])
def test_what_is_not_a_number_is_not_judged(typed):
    with pytest.raises(ValueError, match="Type a number first|is not a number"):
        parse_answer(typed)


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


def test_the_answer_box_starts_empty_and_nothing_typed_is_not_judged(explorer):
    predict = explorer.predict
    assert predict.answer.value == ""
    assert predict.check() is None
    assert "Type a number first" in predict.feedback.value and "Right" not in predict.feedback.value
    assert explorer.player.frame == 0 and predict.frame == 1  # nothing moved
    predict.answer.value = "twelve"
    assert predict.check() is None
    assert "is not a number" in predict.feedback.value and "Not quite" not in predict.feedback.value


def test_a_zero_answer_is_not_right_by_default():
    explorer = pooling_explorer()  # the digit's corner: max(0.00, 0.00, 0.00, 0.00) = 0.00 is asked at frame 3
    explorer.player.frame = 2
    assert explorer.predict.asked.shown == "0.00"
    assert explorer.predict.check() is None  # an empty box is not 0
    explorer.predict.answer.value = "0"
    assert explorer.predict.check() is True


def test_a_right_answer_says_so_and_steps_the_player(explorer):
    shown = explorer.predict.asked.shown
    explorer.predict.answer.value = shown
    assert explorer.predict.check() is True
    feedback = explorer.predict.feedback.value
    assert "Right" in feedback and "Step 2: " in feedback
    assert "out[0,0,1] = " in feedback and "= ?" not in feedback
    assert explorer.player.frame == 1
    assert explorer.predict.frame == 2
    assert explorer.predict.answer.value == ""  # the next question starts with an empty box


def test_a_wrong_answer_shows_what_was_said_and_the_arithmetic(explorer):
    truth = float(explorer.trace.output[0, 0, 1])
    explorer.predict.answer.value = f"{truth + 1:.2f}"
    assert explorer.predict.check() is False
    feedback = explorer.predict.feedback.value
    assert "Not quite" in feedback and f"You said {truth + 1:.2f}" in feedback
    assert f"= {truth:.2f}</code>" in feedback and f"the answer is {truth:.2f}" in feedback


def test_the_verdict_is_cleared_when_the_question_changes(explorer):
    predict = explorer.predict
    predict.answer.value = "99"
    assert predict.check() is False
    assert "Not quite" in predict.feedback.value and "Step 2" in predict.feedback.value  # beside the next question
    explorer.player.frame = 5  # the student steps on: another question, no verdict about it
    assert predict.feedback.value == "" and predict.answer.value == ""
    predict.answer.value = "99"
    predict.check()
    explorer.controls["kernel_size"].value = 2  # new settings: the same
    assert predict.feedback.value == "" and predict.answer.value == ""


def test_new_settings_ask_a_new_question(explorer):
    explorer.controls["kernel_size"].value = 2
    assert explorer.predict.frame == 1
    assert float(explorer.trace.output[0, 0, 1]) == explorer.predict.result


def test_nothing_left_to_predict_at_the_last_frame(explorer):
    explorer.player.frame = len(explorer.trace) - 1
    assert explorer.predict.frame is None
    assert explorer.predict.button.disabled
    assert explorer.predict.check() is None


def test_no_check_is_offered_where_nothing_can_be_worked_out_from_the_screen():
    explorer = dropout_explorer(mode="eval")  # the identity: nothing computed
    assert explorer.predict.frame is None
    assert explorer.predict.widget.layout.display == "none"
    explorer = conv_explorer(kernel_size=5)  # 25 products summed in one number: not listed, not asked
    assert explorer.predict.widget.layout.display == "none"
    explorer = conv_explorer()
    explorer.player.frame = len(explorer.trace) - 1  # nothing after the last frame, but there was before
    assert explorer.predict.widget.layout.display is None


def test_dropout_asks_for_the_scaling_after_its_mask():
    explorer = dropout_explorer()  # 64 mask frames, then the scaling
    predict = explorer.predict
    assert predict.widget.layout.display is None and predict.frame == 64
    assert "× 2.00 = ?" in predict.asked.text
    predict.answer.value = fixed(float(np.ravel(answer_of(predict.asked.text))[0]), 2)
    assert predict.check() is True


# -- every explorer, as its notebook builds it -----------------------------------------------------------

SETTINGS = {
    "conv_explorer": [{}, {"input": "random"}, {"input": "photo"}, {"input": "random", "kernel_size": 2, "bias": False},
                      {"input": "photo", "padding": 1, "stride": 2}],
    "pooling_explorer": [{}, {"kind": "average"}, {"kind": "average", "padding": 1, "input": "photo"},
                         {"kind": "adaptive average", "input": "random"}, {"kind": "max vs average", "input": "random"}],
    "linear_explorer": [{}, {"activation": "sigmoid"}, {"activation": "none (Linear)", "input": "random"},
                        {"activation": "tanh", "input": "random", "in_features": 8}],
    "dropout_explorer": [{}, {"p": 0.9}, {"p": 0.3, "input": "random"}, {"input": "digit", "p": 0.7}],
    "batchnorm_explorer": [{}, {"batch_size": 2, "size": 1}, {"mode": "eval"}, {"layer": "BatchNorm1d"},
                           {"momentum": "None", "gamma": 1.5, "beta": -0.5}],
    "network_explorer": [{}, {"activation": "tanh"}, {"activation": "sigmoid", "point": 7}],
    "cnn_explorer": [{}, {"noise": 0.3}],
    "rnn_explorer": [{}, {"input": "word"}, {"input": "random", "input_size": 2, "hidden_size": 2}],
    "lstm_explorer": [{}, {"input": "random", "hidden_size": 2}],
    "gru_explorer": [{}, {"input": "random", "hidden_size": 2}, {"view": "LSTM on the same input"}],
}


def _explorer(name: str, values: dict):
    explorer = getattr(lv.ui, name)()
    for control, value in values.items():
        explorer.controls[control].value = value
    assert explorer.error.value == "", explorer.error.value
    return explorer


@pytest.mark.parametrize(("name", "values"), [(n, v) for n, settings in SETTINGS.items() for v in settings],
                         ids=lambda p: p if isinstance(p, str) else ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_every_question_can_be_worked_out_from_the_screen_and_is_judged_fairly(name, values):
    explorer = _explorer(name, values)
    predict = explorer.predict
    if not values:
        assert predict.frame is not None, f"{name} asks nothing at its defaults"
    checked = 0
    for start in (0, 1, 5, 17):
        if start >= len(explorer.trace):
            break
        explorer.player.frame = start
        if predict.frame is None:
            continue
        asked = predict.asked
        assert asked.shown == fixed(asked.answer, decimals(asked.shown))
        # the prompt alone gives the answer: every operand is on screen (no "…", no matrix left out)
        worked_out = float(np.ravel(answer_of(asked.text))[0])
        redo(explorer.trace[predict.frame].narration)  # and the narration the check shows afterwards adds up
        places = decimals(asked.shown)
        for typed, right in [(fixed(worked_out, 2), True), (fixed(worked_out, places), True), (asked.shown, True),
                             (fixed(float(asked.shown) + 10.0**-places, places), False),
                             (fixed(float(asked.shown) - 10.0**-places, places), False)]:
            explorer.player.frame = start  # the question again (a check steps the player on)
            predict.answer.value = typed
            assert predict.check() is right, (name, values, asked, typed, worked_out)
            assert ("Right" in predict.feedback.value) is right
        checked += 1
    if not values:
        assert checked


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


def test_batchnorm_explorer_asks_at_its_defaults():
    explorer = batchnorm_explorer()
    assert explorer.predict.frame is not None
    assert "/ √(" in explorer.predict.asked.text  # an output from the statistics shown (the means are abridged)
