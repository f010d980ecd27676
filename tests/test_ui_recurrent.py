"""RNN, LSTM and GRU explorers and the recurrent notebooks' helpers, tested without a browser."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import layerviz as lv
from layerviz.layers._recurrent import input_sensitivity
from layerviz.layers._recurrent_backward import RecurrentBackwardTrace
from layerviz.ui import rnn as ui_rnn
from layerviz.ui.checks import predict_next
from layerviz.ui.gru import gru_explorer
from layerviz.ui.lstm import FORCE_CHOICES, lstm_explorer
from layerviz.ui.rnn import rnn_explorer


def test_rnn_explorer_initial_trace():
    explorer = rnn_explorer()
    assert explorer.error.value == ""
    assert repr(explorer.trace.layer) == "RNN(1, 3)"
    assert explorer.player.n_frames == len(explorer.trace) == 8 * 4
    assert "input (8, 1) → output (8, 3)" in explorer.summary.value


def test_rnn_explorer_controls_recompute():
    explorer = rnn_explorer()
    explorer.controls["length"].value = 5
    explorer.controls["num_layers"].value = 2
    explorer.controls["bidirectional"].value = True
    explorer.controls["nonlinearity"].value = "relu"
    explorer.controls["hidden_size"].value = 2
    assert explorer.player.n_frames == 5 * 2 * 2 * 4
    rnn = lv.RNN(1, 2, 2, "relu", bidirectional=True, rng=0)
    np.testing.assert_array_equal(explorer.trace.output, rnn(ui_rnn.sequence("sine", 5))[0])


def test_word_input_sets_the_input_size():
    explorer = rnn_explorer(input="word", length=5)
    explorer.controls["word"].value = "abcab"
    assert explorer.trace.input.shape == (5, 3)  # three distinct letters
    np.testing.assert_array_equal(explorer.trace.input.argmax(axis=1), [0, 1, 2, 0, 1])


@pytest.mark.parametrize("factory", [rnn_explorer, lstm_explorer, gru_explorer])
def test_a_word_sets_the_sequence_length(factory):
    explorer = factory(hidden_size=4)
    explorer.controls["input"].value = "word"
    length = explorer.controls["length"]
    assert explorer.trace.input.shape == (5, 4) and length.value == 5 and length.disabled  # "hello", not "hellohel"
    explorer.controls["word"].value = "Hi you"
    assert explorer.trace.input.shape == (5, 5) and length.value == 5
    explorer.controls["word"].value = "sequence"
    assert explorer.trace.input.shape[0] == 8 and length.value == 8
    assert 'The word "sequence": 8 letters, one time step each' in explorer.summary.value
    explorer.controls["input"].value = "sine"
    assert length.value == 8 and not length.disabled and explorer.trace.input.shape == (8, 1)
    explorer.controls["word"].value = "x" * 40
    explorer.controls["input"].value = "word"
    assert "word must have at most 32 letters in this explorer" in explorer.error.value


def test_the_letters_label_the_time_steps():
    explorer = rnn_explorer(input="word", word="hello")
    scene = explorer.player.scene
    assert scene.panel("x").title == 'input x = "hello", one-hot'
    assert scene.panel("x").labels == ("rows e h l o",)  # the one-hot rows, top to bottom
    assert scene.panel("cell").labels == ('t=0: "h"', 't=1: "e"', 't=2: "l"', 't=3: "l"', 't=4: "o"')
    bidirectional = rnn_explorer(input="word", word="ab", bidirectional=True, num_layers=2).player.scene
    assert bidirectional.panel("cell").labels == ('l0 t=0: "a"', 'l0 t=1: "b"', 'l0 ← t=1: "b"', 'l0 ← t=0: "a"',
                                                  'l1 t=0: "a"', 'l1 t=1: "b"', 'l1 ← t=1: "b"', 'l1 ← t=0: "a"')
    assert "hello" not in rnn_explorer().player.scene.panel("x").title  # other inputs are not words


@pytest.mark.parametrize(("control", "value", "message", "kind"), [
    ("hidden_size", 0, "hidden_size must be >= 1, got 0", "word"),
    ("length", 0, "length must be >= 1, got 0", "sine"),
    ("length", 500, "length must be <= 32 in this explorer", "sine"),
    ("word", "  ", "word must have at least one letter", "word"),
])
def test_rnn_explorer_shows_errors_and_keeps_the_last_trace(control, value, message, kind):
    explorer = rnn_explorer(input=kind)
    before = explorer.trace
    explorer.controls[control].value = value
    assert html.escape(message) in explorer.error.value
    assert 'role="alert"' in explorer.error.value
    assert explorer.trace is before


def test_lstm_explorer_force_and_errors():
    explorer = lstm_explorer()
    assert explorer.error.value == "" and explorer.player.n_frames == 8 * 6
    assert explorer.trace.force == {}
    explorer.controls["force"].value = "f = 1: never forget"
    assert explorer.trace.force == {"f": 1.0}
    assert "Forced: f = 1" in explorer.summary.value
    c = np.array([f.result for f in explorer.trace if f.stage == "c"])
    ig = np.array([f.vectors["i"] * f.vectors["g"] for f in explorer.trace if f.stage == "c"])
    np.testing.assert_allclose(c, np.cumsum(ig, axis=0), rtol=1e-12)
    explorer.controls["proj_size"].value = 3
    assert "proj_size must be &lt; hidden_size, got proj_size=3, hidden_size=3" in explorer.error.value
    explorer.controls["proj_size"].value = 2
    assert explorer.error.value == "" and explorer.trace.output.shape == (8, 2)
    assert set(FORCE_CHOICES) == set(explorer.controls["force"].options)


def test_sequences():
    np.testing.assert_allclose(ui_rnn.sequence("sine", 9)[:, 0], np.sin(2 * np.pi * np.arange(9) / 8), atol=1e-15)
    assert ui_rnn.sequence("pulse", 4, 2).tolist() == [[1, 1], [0, 0], [0, 0], [0, 0]]
    x, alphabet = ui_rnn.one_hot_word("Hello", 7)
    assert alphabet == ("e", "h", "l", "o") and x.shape == (7, 4) and (x.sum(axis=1) == 1).all()
    assert "".join(alphabet[i] for i in x.argmax(axis=1)) == "hellohe"
    with pytest.raises(ValueError, match="input must be one of sine, word, pulse, random, got 'noise'"):
        ui_rnn.sequence("noise")


def test_input_sensitivity_matches_torch_autograd():
    torch.manual_seed(1)
    module = torch.nn.LSTM(2, 3).double()
    layer = lv.from_torch(module)
    x = np.random.default_rng(0).standard_normal((6, 2))
    xt = torch.from_numpy(x)
    jac = torch.autograd.functional.jacobian(lambda v: module(v)[0][-1], xt).numpy()  # (3, 6, 2)
    expected = np.sqrt((jac**2).sum(axis=(0, 2)))
    np.testing.assert_allclose(input_sensitivity(layer, x), expected, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="dropout off"):
        input_sensitivity(lv.LSTM(2, 3, num_layers=2, dropout=0.5), x)


def test_figures_draw():
    trace = lv.LSTM(1, 3, num_layers=2, rng=0).frames(ui_rnn.sequence("sine", 6))
    fig = ui_rnn.hidden_heatmap(trace)
    assert [ax.get_title() for ax in fig.figure.axes[:4]] == ["h over time, layer 0", "c over time, layer 0",
                                                       "h over time, layer 1", "c over time, layer 1"]
    np.testing.assert_array_equal(fig.figure.axes[2].images[0].get_array(), trace.pass_.h[1, :, 0].T)
    assert fig._repr_png_().startswith(b"\x89PNG")
    grad = ui_rnn.gradient_figure(length=10, hidden_size=4, scales=(0.5, 1.0))
    line = grad.figure.axes[0].lines[0]
    rnn = lv.RNN(1, 4, rng=0)
    rnn.weight_hh_l0 = rnn.weight_hh_l0 * 0.5
    np.testing.assert_allclose(line.get_ydata(), lv.layers.rnn.hidden_gradient_norms(rnn, ui_rnn.sequence("random", 10, 1)))
    both = ui_rnn.rnn_vs_lstm_figure(ui_rnn.sequence("pulse", 12), hidden_size=3)
    assert len(both.figure.axes[-1].lines) == 3 or any(len(ax.lines) == 3 for ax in both.figure.axes)


def test_rnn_vs_lstm_raises_the_forget_bias_only():
    traces = ui_rnn.rnn_vs_lstm(ui_rnn.sequence("pulse", 5), hidden_size=2, forget_bias=3.0)
    plain, biased = traces["LSTM"].layer, traces["LSTM, forget bias +3"].layer
    np.testing.assert_allclose(biased.bias_ih_l0 - plain.bias_ih_l0, [0, 0, 3, 3, 0, 0, 0, 0])
    # an open forget gate keeps the pulse: the biased LSTM's last state depends more on x_0
    x = ui_rnn.sequence("pulse", 30)
    assert input_sensitivity(biased, x)[0] > 100 * input_sensitivity(lv.RNN(1, 2, rng=0).eval(), x)[0]


def test_forced_heatmap_says_so():
    trace = lv.LSTM(1, 2, rng=0).frames(ui_rnn.sequence("sine", 4), force={"f": 1.0})
    assert ui_rnn.hidden_heatmap(trace).figure.axes[1].get_title() == "c over time (forced f = 1)"


@pytest.mark.parametrize("cls", [lv.RNN, lv.LSTM, lv.GRU])
def test_scenes_draw_with_matplotlib(cls):
    trace = cls(2, 3, num_layers=2, bidirectional=True, rng=0).frames(np.ones((3, 2, 2)))
    scene = trace.scene()
    assert scene.n_frames == len(trace)
    names = [p.name for p in scene.panels]
    # the weights of the current layer and direction beside the input (issue 13)
    assert names == (["x", "W_ih", "W_hh", "cell", "c", "h"] if cls is lv.LSTM else ["x", "W_ih", "W_hh", "cell", "h"])
    # the cell panel pages through the steps; the h strip pages through the samples
    cell, h = scene.panel("cell"), scene.panel("h")
    k = len(trace) - 1
    assert cell.page_at(k) == k // len(trace.stages) and h.page_at(k) == 1
    fig = trace.show(k)
    assert fig.axes


# -- how it learns: the forward | backward switch (issue 14) ---------------------------------------------------------


@pytest.mark.parametrize("factory", [rnn_explorer, lstm_explorer, gru_explorer])
def test_the_switch_shows_bptt_of_the_same_settings_and_back(factory):
    explorer = factory()
    forward = explorer.trace
    forward_summary, forward_question = explorer.summary.value, explorer.predict.asked.text
    assert explorer.direction.value == "forward" and explorer.shown is forward and explorer.backward_trace is None

    explorer.direction.value = "backward"
    backward = explorer.shown
    assert isinstance(backward, RecurrentBackwardTrace) and explorer.backward_trace is backward
    assert backward.forward is forward and explorer.trace is forward  # the same forward pass, not rebuilt
    assert explorer.error.value == "" and explorer.player.n_frames == len(backward) > len(forward)
    assert explorer.player.scene.title == f"backpropagation through time: {forward.layer!r}"
    np.testing.assert_array_equal(backward.input, np.ones(forward.output.shape))  # dL/dout = 1 everywhere
    expected = forward.backward(np.ones(forward.output.shape))
    for name, grad in expected.grads.items():
        np.testing.assert_array_equal(backward.grads[name], grad)
    summary = explorer.summary.value
    per_step = len(backward.stages)
    assert summary.startswith(f"Backward pass of <code>{forward.layer!r}</code>, backpropagation through time")
    assert f"{len(backward)} frames, {per_step} per time step, newest step first" in summary
    assert "dL/dweight_hh_l0 (" in summary and "dL/dinput (8, 1)" in summary
    # the check asks about the backward pass: the first listed gradient after frame 0 (dh at the last step)
    assert explorer.predict.frame == 1 and explorer.predict.asked.text.endswith("= ?")
    assert explorer.predict.asked.text != forward_question and backward[0].t == 7
    explorer.predict.answer.value = explorer.predict.asked.shown
    assert explorer.predict.check() is True and explorer.player.frame == 1

    explorer.direction.value = "forward"
    assert explorer.shown is forward and explorer.backward_trace is None and explorer.error.value == ""
    assert explorer.player.n_frames == len(forward) and explorer.summary.value == forward_summary
    assert explorer.predict.asked.text == forward_question
    explorer.direction.value = "backward"
    assert explorer.shown is backward  # the same backward pass: switching back computes nothing again


@pytest.mark.parametrize(("factory", "values"), [
    (rnn_explorer, {"num_layers": 2, "bidirectional": True, "hidden_size": 2, "length": 3}),
    (rnn_explorer, {"nonlinearity": "relu", "input": "random", "input_size": 2}),
    (rnn_explorer, {"input": "word", "word": "abcab"}),
    (lstm_explorer, {"proj_size": 2, "num_layers": 2}),
    (lstm_explorer, {"input": "word", "bidirectional": True}),
    (lstm_explorer, {"input": "pulse", "force": "o = 0: show nothing"}),
    (gru_explorer, {"num_layers": 2, "bidirectional": True, "hidden_size": 2}),
    (gru_explorer, {"input": "word", "view": "LSTM on the same input"}),
])
def test_every_setting_runs_backward_with_no_error(factory, values):
    explorer = factory()
    explorer.direction.value = "backward"
    explorer.set_values(values)
    assert explorer.error.value == "", explorer.error.value
    backward, forward = explorer.shown, explorer.trace
    assert isinstance(backward, RecurrentBackwardTrace) and backward.forward is forward
    assert explorer.player.n_frames == len(backward) and explorer.player.scene.n_frames == len(backward)
    assert backward.grads["input"].shape == forward.input.shape
    expected = forward.backward(np.ones(forward.output.shape))
    for name, grad in expected.grads.items():
        np.testing.assert_array_equal(backward.grads[name], grad)
    if forward.num_directions == 2:
        assert "both directions' parts added" in explorer.summary.value


def test_new_settings_keep_the_backward_pass_and_a_bad_one_says_why():
    explorer = rnn_explorer()
    explorer.direction.value = "backward"
    explorer.controls["length"].value = 5
    assert explorer.direction.value == "backward" and explorer.shown.forward is explorer.trace
    assert explorer.player.n_frames == 5 * 4 + 3 + 3 + 1 + 1  # 4 per step; a row of W_ih, W_hh each; 2 biases
    before = explorer.shown
    explorer.controls["hidden_size"].value = 0
    assert html.escape("hidden_size must be >= 1, got 0") in explorer.error.value
    assert 'role="alert"' in explorer.error.value
    assert explorer.shown is before and "Traceback" not in explorer.error.value
    explorer.controls["hidden_size"].value = 2
    assert explorer.error.value == "" and explorer.shown.grads["weight_hh_l0"].shape == (2, 2)


def test_a_forced_gate_learns_nothing_and_the_summary_says_so():
    explorer = lstm_explorer(force="f = 1: never forget")
    explorer.direction.value = "backward"
    backward, hid = explorer.shown, 3
    assert "Forced: f = 1" in explorer.summary.value and "passes no gradient" in explorer.summary.value
    assert not backward.grads["weight_ih_l0"][hid:2 * hid].any()  # the forget gate's rows
    np.testing.assert_array_equal(backward.bptt.dc_prev, backward.bptt.dc)  # f = 1: the belt passes dc back whole
    assert "forget gate is forced to 1.00" in backward[backward.frame_of(0, 0, 0, 7, "df")].narration


def test_a_trace_that_cannot_run_backward_gets_a_message_not_a_traceback(monkeypatch):
    explorer = rnn_explorer()

    class NoBackward:  # a forward trace of a layer with no backward pass
        def __init__(self, trace):
            self._trace = trace

        def __getattr__(self, name):
            if name == "backward":
                raise AttributeError(name)
            return getattr(self._trace, name)

        def __len__(self):
            return len(self._trace)

        def __getitem__(self, k):
            return self._trace[k]

    build = explorer._build
    monkeypatch.setattr(explorer, "_build", lambda values: NoBackward(build(values)))
    explorer.update()
    assert explorer.error.value == ""
    explorer.direction.value = "backward"
    assert 'role="alert"' in explorer.error.value and "no backward pass in layerviz yet: choose forward" in \
        explorer.error.value
    assert "Traceback" not in explorer.error.value and explorer.backward_trace is None
    explorer.direction.value = "forward"
    assert explorer.error.value == "" and explorer.player.n_frames == 32


# -- how it learns: the lessons' helpers and what the pages say ----------------------------------------------------


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _page(stem: str) -> tuple[str, str]:
    cells = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return text, code


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("stem", ["rnn", "lstm"])
def test_the_recurrent_pages_say_how_they_learn(stem):
    text, code = _page(stem)
    learns = _section(text, "How it learns")
    assert "$$" in learns and "by hand" in learns and "newest step first" in learns
    assert "backpropagation through time" in learns.lower()
    assert ".backward(" in code and "predict_next(btrace)" in code and "lv.ui.rnn.bptt_table(btrace)" in code
    assert "forward | backward" in learns
    assert text.index("## How it learns") < text.index("## Explore") < text.index("## Check yourself")


def _rnn_example():
    rnn = lv.RNN(input_size=1, hidden_size=1)
    rnn.weight_ih_l0, rnn.weight_hh_l0 = [[1.0]], [[0.5]]
    rnn.bias_ih_l0, rnn.bias_hh_l0 = [0.1], [0.0]
    return rnn.frames(np.array([[1.0], [-1.0]])).backward([[0.0], [1.0]])


def _lstm_example():
    small = lv.LSTM(input_size=1, hidden_size=1, bias=False)
    small.weight_ih_l0 = [[1.0], [2.0], [1.0], [1.0]]
    small.weight_hh_l0 = [[0.0], [0.0], [0.0], [0.0]]
    return small.frames(np.array([[1.0], [1.0]])).backward([[0.0], [1.0]])


def test_the_rnn_worked_example_is_what_the_engine_computes():
    text, code = _page("rnn")
    assert "btrace = trace.backward([[0.0], [1.0]])" in code
    bt = _rnn_example()
    r2 = lambda v: round(float(np.ravel(v)[0]), 2)  # noqa: E731
    b = bt.bptt
    assert [r2(b.dh[0, t, 0]) for t in (1, 0)] == [1.0, 0.39]
    assert [r2(b.da[0, t, 0]) for t in (1, 0)] == [0.79, 0.14]
    assert r2(bt.grads["h0"]) == 0.07 and [r2(v) for v in bt.grads["input"]] == [0.14, 0.79]
    assert r2(bt.grads["weight_ih_l0"]) == -0.65 and r2(bt.grads["weight_hh_l0"]) == 0.63
    assert r2(bt.grads["bias_ih_l0"]) == r2(bt.grads["bias_hh_l0"]) == 0.93
    for said in ("$da_1 = 1 \\cdot (1 - (-0.46)^2) = 0.79$", "$W_{hh}\\, da_1 = 0.5 \\cdot 0.79 = 0.39$",
                 "$da_0 = 0.39 \\cdot (1 - 0.80^2) = 0.14$", "= 0.14 \\cdot 1 + 0.79 \\cdot (-1) = -0.65$",
                 "= 0.14 \\cdot 0 + 0.79 \\cdot 0.80 = 0.63$", "= 0.14 + 0.79 = 0.93$",
                 "1 at $h_1$, 0.39 at $h_0$, 0.07 at the initial state"):
        assert said in text, said
    # the engine's table and its narrations say the same, newest step first
    table = ui_rnn.bptt_table(bt)
    assert [row[0] for row in table.rows] == ["t = 1", "t = 0"]
    assert table.rows[1][1:] == ["0.000", "0.393", "0.141", "0.071", "0.141"]
    assert bt[2].narration.endswith("dh_next[0] = W_hhᵀ·da[1] = 0.787×0.50 = 0.39")
    gradients = ui_rnn.parameter_gradients(bt)
    assert [row[0] for row in gradients.rows] == ["dL/dweight_ih_l0", "dL/dweight_hh_l0", "dL/dbias_ih_l0",
                                                  "dL/dbias_hh_l0", "dL/dinput", "dL/dh0"]
    assert gradients.rows[0][2] == "-0.645" and gradients.rows[4][2] == "0.141, 0.787"


def test_the_lstm_worked_example_is_what_the_engine_computes():
    text, code = _page("lstm")
    assert "small.weight_ih_l0 = [[1.0], [2.0], [1.0], [1.0]]" in code
    bt = _lstm_example()
    b = bt.bptt
    r2 = lambda v: round(float(np.ravel(v)[0]), 2)  # noqa: E731
    gate = {q: [r2(b.da[0, t, 0, j]) for t in (0, 1)] for j, q in enumerate("ifgo")}
    assert gate == {"i": [0.04, 0.04], "f": [0.0, 0.02], "g": [0.08, 0.09], "o": [0.0, 0.15]}
    assert [r2(b.dc[0, t, 0]) for t in (1, 0)] == [0.29, 0.25] and [r2(b.dh[0, t, 0]) for t in (1, 0)] == [1, 0]
    assert r2(bt.grads["c0"]) == 0.22 and r2(bt.grads["h0"]) == 0
    assert not b.dh_prev.any()  # W_hh = 0: nothing goes back through h, all of it along the belt
    w = bt.grads["weight_ih_l0"][:, 0]
    assert round(w[3], 2) == 0.15 and round(w[0], 2) == 0.08
    forward = bt.forward.pass_
    assert [round(float(v), 2) for v in forward.c[0, :, 0, 0]] == [0.56, 1.05]
    assert [round(float(v), 2) for v in forward.h[0, :, 0, 0]] == [0.37, 0.57]
    for said in ("$do_1 = 1 \\cdot 0.78 \\cdot 0.73 \\cdot (1 - 0.73) = 0.15$",
                 "$dc_1 = 1 \\cdot 0.73 \\cdot (1 - 0.78^2) + 0 = 0.29$",
                 "$f_1\\, dc_1 = 0.88 \\cdot 0.29 = 0.25$", "$dc_0 = 0 + 0.25 = 0.25$",
                 "$f_0\\, dc_0 = 0.88 \\cdot 0.25 = 0.22$", "= 0 \\cdot 1 + 0.15 \\cdot 1 = 0.15$",
                 "$dg_0 = 0.25 \\cdot 0.73 \\cdot (1 - 0.76^2) = 0.08$"):
        assert said in text, said
    table = ui_rnn.bptt_table(bt)
    assert table.header[:8] == ["step", "dout_t", "dh_t", "do_t", "dc_t", "di_t", "df_t", "dg_t"]
    assert table.rows[0][4] == "0.285" and table.rows[1][4] == "0.251" and table.rows[1][8] == "0.221"
    assert [row[0] for row in ui_rnn.parameter_gradients(bt).rows][-1] == "dL/dc0"


def test_lesson_backward_players_have_their_check():
    for bt, n in ((_rnn_example(), 2 * 4 + 4), (_lstm_example(), 2 * 9 + 8)):
        shown = predict_next(bt)
        assert shown.player.n_frames == len(bt) == n
        check = shown.predict
        assert check.frame == 1 and check.asked.text.endswith("= ?")
        check.answer.value = check.asked.shown
        assert check.check() is True and shown.player.frame == 1 and check.frame == 2


def test_the_gradient_travels_back_as_the_pages_say():
    text, code = _page("rnn")
    vanishing = _section(text, "Why an RNN forgets")
    assert "these numbers come from layerviz's own backward pass" in vanishing
    assert "lv.ui.rnn.gradient_travel_table(lv.ui.rnn.scaled_rnn_traces(length=30, hidden_size=8))" in code
    traces = ui_rnn.scaled_rnn_traces(length=30, hidden_size=8)
    table = ui_rnn.gradient_travel_table(traces)
    assert table.header == ["", "t = T", "T − 1", "T − 2", "T − 5", "T − 10", "T − 20", "T − 29"]
    row = dict((r[0], r[1:]) for r in table.rows)["W_hh × 1"]
    assert row[0] == "2.8" and row[1] == "1.2" and row[4] == "0.026" and row[6] == "1.7e-05"
    assert "1.2 one step\nback, 0.026 ten steps back and 0.000017 at the first step" in vanishing
    # the norms are the engine's grad_h, and for a sum loss equal hidden_gradient_norms(grad=ones)
    trace = traces["W_hh × 1"]
    norms = ui_rnn.gradient_travel(trace)["dL/dh"]
    np.testing.assert_allclose(norms, lv.layers.rnn.hidden_gradient_norms(trace.layer, trace.input, grad=np.ones(8)),
                               rtol=1e-12)
    bt = ui_rnn.last_step_backward(trace)
    np.testing.assert_array_equal(norms, np.linalg.norm(bt.grad_h[0, :, 0], axis=1))
    assert norms[-1] == pytest.approx(np.sqrt(8)) and np.all(np.diff(norms[-6:]) > 0)  # it grows towards t = T

    text, code = _page("lstm")
    belt = text.split("### Along the belt, the gradient survives", 1)[1]
    assert "lv.ui.rnn.gradient_travel_table(lv.ui.rnn.rnn_vs_lstm(pulse, hidden_size=6))" in code
    traces = ui_rnn.rnn_vs_lstm(ui_rnn.sequence("pulse", 30), hidden_size=6)
    travel = {name: ui_rnn.gradient_travel(trace) for name, trace in traces.items()}
    rnn, plain, biased = travel["RNN"], travel["LSTM"], travel["LSTM, forget bias +3"]
    assert f"{rnn['dL/dh'][-11]:.2g}" == "0.0018" and f"{rnn['dL/dh'][0]:.1g}" == "6e-08"
    assert "0.0018 ten steps back and to 0.00000006 at the first step" in belt
    forget = traces["LSTM"].pass_.gates[0, :, 0, 6:12]
    assert 0.35 < forget.min() and forget.max() < 0.7 and "between 0.4 and 0.7" in belt
    assert plain["dL/dc"][0] < 1e-3 * plain["dL/dc"][-1]  # "its gradients fall too"
    assert round(biased["dL/dc"].min(), 2) == 0.77 and round(biased["dL/dc"].max(), 1) == 1.6
    assert biased["dL/dh"].min() > 0.17 and "(between 0.77 and 1.6), and $dh_t$ stays above 0.17" in belt
    assert biased["dL/dc"][0] > 1e4 * rnn["dL/dh"][0]  # the belt keeps what the RNN loses
    rows = [r[0] for r in ui_rnn.gradient_travel_table(traces).rows]
    assert rows == ["RNN", "LSTM: ‖dL/dh_t‖", "LSTM: ‖dL/dc_t‖", "LSTM, forget bias +3: ‖dL/dh_t‖",
                    "LSTM, forget bias +3: ‖dL/dc_t‖"]


def test_the_helpers_name_what_they_cannot_show():
    two_layers = lv.RNN(1, 2, num_layers=2, rng=0).frames(np.ones((3, 1)))
    with pytest.raises(ValueError, match="last_step_backward needs one layer, one direction"):
        ui_rnn.last_step_backward(two_layers)
    with pytest.raises(ValueError, match="bptt_table needs one layer"):
        ui_rnn.bptt_table(lv.RNN(1, 2, rng=0).frames(np.ones((3, 2, 1))).backward())
    with pytest.raises(ValueError, match="bptt_table shows an RNN or an LSTM"):
        ui_rnn.bptt_table(lv.GRU(1, 2, rng=0).frames(np.ones((3, 1))).backward())
    with pytest.raises(ValueError, match="steps_back must be < the sequence length 5"):
        ui_rnn.gradient_travel_table(ui_rnn.scaled_rnn_traces(length=5, hidden_size=2))
