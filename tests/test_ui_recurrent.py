"""RNN and LSTM explorers and the recurrent notebooks' helpers, tested without a browser."""

from __future__ import annotations

import html

import numpy as np
import pytest
import torch

import layerviz as lv
from layerviz.layers._recurrent import input_sensitivity
from layerviz.ui import rnn as ui_rnn
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


@pytest.mark.parametrize("factory", [rnn_explorer, lstm_explorer])
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
    assert [ax.get_title() for ax in fig.axes[:4]] == ["h over time, layer 0", "c over time, layer 0",
                                                       "h over time, layer 1", "c over time, layer 1"]
    np.testing.assert_array_equal(fig.axes[2].images[0].get_array(), trace.pass_.h[1, :, 0].T)
    assert fig._repr_png_().startswith(b"\x89PNG")
    grad = ui_rnn.gradient_figure(length=10, hidden_size=4, scales=(0.5, 1.0))
    line = grad.axes[0].lines[0]
    rnn = lv.RNN(1, 4, rng=0)
    rnn.weight_hh_l0 = rnn.weight_hh_l0 * 0.5
    np.testing.assert_allclose(line.get_ydata(), lv.layers.rnn.hidden_gradient_norms(rnn, ui_rnn.sequence("random", 10, 1)))
    both = ui_rnn.rnn_vs_lstm_figure(ui_rnn.sequence("pulse", 12), hidden_size=3)
    assert len(both.axes[-1].lines) == 3 or any(len(ax.lines) == 3 for ax in both.axes)


def test_rnn_vs_lstm_raises_the_forget_bias_only():
    traces = ui_rnn.rnn_vs_lstm(ui_rnn.sequence("pulse", 5), hidden_size=2, forget_bias=3.0)
    plain, biased = traces["LSTM"].layer, traces["LSTM, forget bias +3"].layer
    np.testing.assert_allclose(biased.bias_ih_l0 - plain.bias_ih_l0, [0, 0, 3, 3, 0, 0, 0, 0])
    # an open forget gate keeps the pulse: the biased LSTM's last state depends more on x_0
    x = ui_rnn.sequence("pulse", 30)
    assert input_sensitivity(biased, x)[0] > 100 * input_sensitivity(lv.RNN(1, 2, rng=0).eval(), x)[0]


def test_forced_heatmap_says_so():
    trace = lv.LSTM(1, 2, rng=0).frames(ui_rnn.sequence("sine", 4), force={"f": 1.0})
    assert ui_rnn.hidden_heatmap(trace).axes[1].get_title() == "c over time (forced f = 1)"


@pytest.mark.parametrize("cls", [lv.RNN, lv.LSTM, lv.GRU])
def test_scenes_draw_with_matplotlib(cls):
    trace = cls(2, 3, num_layers=2, bidirectional=True, rng=0).frames(np.ones((3, 2, 2)))
    scene = trace.scene()
    assert scene.n_frames == len(trace)
    names = [p.name for p in scene.panels]
    assert names == (["x", "cell", "c", "h"] if cls is lv.LSTM else ["x", "cell", "h"])
    # the cell panel pages through the steps; the h strip pages through the samples
    cell, h = scene.panel("cell"), scene.panel("h")
    k = len(trace) - 1
    assert cell.page_at(k) == k // len(trace.stages) and h.page_at(k) == 1
    fig = trace.show(k)
    assert fig.axes
