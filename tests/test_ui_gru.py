"""The GRU explorer and the GRU page's comparison with the LSTM, tested without a browser."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import layerviz as lv
from layerviz.layers._recurrent import input_sensitivity
from layerviz.layers._recurrent_backward import RecurrentBackwardTrace
from layerviz.ui import gru as ui_gru
from layerviz.ui import rnn as ui_rnn
from layerviz.ui.gru import VIEWS, build_gru, gru_explorer

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "gru.ipynb"


def _page() -> tuple[str, str]:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return text, code


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


# -- the explorer -----------------------------------------------------------------------------------------------------


def test_gru_explorer_initial_trace():
    explorer = gru_explorer()
    assert explorer.error.value == ""
    assert repr(explorer.trace.layer) == "GRU(1, 3)" and explorer.trace.stages == ("r", "z", "n", "h")
    assert explorer.player.n_frames == len(explorer.trace) == 8 * 4
    summary = explorer.summary.value
    assert "input (8, 1) → output (8, 3)" in summary
    parts = "reset gate r, update gate z, candidate n, new hidden state h[t] = (1 − z) ⊙ n + z ⊙ h[t−1]"
    assert parts in summary
    # by hand: 3 blocks of H (H_in + H + 2) numbers, H = 3, H_in = 1; an LSTM stacks 4 blocks
    assert f"3 gate blocks, {3 * 3 * (1 + 3 + 2)} parameters, no cell state" in summary
    lstm = f"an LSTM of the same sizes has 4 gate blocks, {4 * 3 * (1 + 3 + 2)} parameters and a cell state c"
    assert lstm in summary
    assert set(explorer.controls) >= {"input", "word", "length", "input_size", "hidden_size", "num_layers",
                                      "bidirectional", "seed", "view"}
    assert list(explorer.controls["view"].options) == list(VIEWS)


def test_a_changed_control_recomputes():
    explorer = gru_explorer()
    before = explorer.trace
    explorer.controls["length"].value = 5
    explorer.controls["num_layers"].value = 2
    explorer.controls["bidirectional"].value = True
    explorer.controls["hidden_size"].value = 2
    explorer.controls["seed"].value = 4
    assert explorer.trace is not before and explorer.error.value == ""
    assert explorer.player.n_frames == 5 * 2 * 2 * 4  # steps x layers x directions x (r, z, n, h)
    gru = lv.GRU(1, 2, 2, bidirectional=True, rng=4)
    np.testing.assert_array_equal(explorer.trace.output, gru(ui_rnn.sequence("sine", 5))[0])
    explorer.controls["input"].value = "word"
    assert explorer.trace.input.shape == (5, 4) and explorer.controls["length"].value == 5  # "hello": e, h, l, o
    assert 'The word "hello"' in explorer.summary.value


def test_the_view_runs_the_lstm_on_the_same_input():
    explorer = gru_explorer(input="random", hidden_size=2, seed=3)
    gru_trace = explorer.trace
    explorer.controls["view"].value = "LSTM on the same input"
    lstm_trace = explorer.trace
    assert explorer.error.value == "" and repr(lstm_trace.layer) == "LSTM(1, 2)"
    np.testing.assert_array_equal(lstm_trace.input, gru_trace.input)  # the same sequence
    np.testing.assert_array_equal(lstm_trace.output, lv.LSTM(1, 2, rng=3)(gru_trace.input)[0])
    assert explorer.player.n_frames == 8 * 6  # six frames a step, not four
    summary = explorer.summary.value
    assert "<b>The LSTM on the same input</b>, with the GRU's sizes and seed" in summary
    assert f"4 gate blocks, {4 * 2 * (1 + 2 + 2)} parameters and a cell state c" in summary
    assert f"the GRU has 3 gate blocks, {3 * 2 * (1 + 2 + 2)} parameters and no cell state" in summary
    explorer.controls["view"].value = "GRU"
    np.testing.assert_array_equal(explorer.trace.output, gru_trace.output)


@pytest.mark.parametrize(("control", "value", "message", "kind"), [
    ("hidden_size", 0, "hidden_size must be >= 1, got 0", "sine"),
    ("hidden_size", 13, "hidden_size must be <= 12 in this explorer", "sine"),
    ("length", 0, "length must be >= 1, got 0", "sine"),
    ("length", 500, "length must be <= 32 in this explorer", "pulse"),
    ("num_layers", 4, "num_layers must be <= 3 in this explorer", "sine"),
    ("input_size", 0, "input_size must be >= 1, got 0", "random"),
    ("word", "  ", "word must have at least one letter", "word"),
])
def test_a_bad_value_shows_its_message_and_keeps_the_last_trace(control, value, message, kind):
    explorer = gru_explorer(input=kind)
    before = explorer.trace
    explorer.controls[control].value = value
    assert html.escape(message) in explorer.error.value
    assert 'role="alert"' in explorer.error.value and "Traceback" not in explorer.error.value
    assert explorer.trace is before


def test_an_unknown_view_is_named():
    values = gru_explorer().values()
    with pytest.raises(ValueError, match=r"view must be one of \['GRU', 'LSTM on the same input'\], got 'RNN'"):
        build_gru({**values, "view": "RNN"})


def test_the_switch_shows_the_gru_s_bptt():
    explorer = gru_explorer(hidden_size=2, length=4)
    forward = explorer.trace
    explorer.direction.value = "backward"
    backward = explorer.shown
    assert isinstance(backward, RecurrentBackwardTrace) and backward.forward is forward
    assert explorer.error.value == "" and explorer.player.n_frames == len(backward) > len(forward)
    expected = forward.backward(np.ones(forward.output.shape))
    for name, grad in expected.grads.items():
        np.testing.assert_array_equal(backward.grads[name], grad)
    assert explorer.summary.value.startswith("Backward pass of <code>GRU(1, 2)</code>, backpropagation through time")
    explorer.controls["view"].value = "LSTM on the same input"  # the LSTM's BPTT, same settings
    assert explorer.error.value == "" and explorer.shown.forward.kind == "LSTM"


def test_the_four_parts_are_named_as_a_student_reads_them():
    assert [stage for stage, _, _ in ui_gru.GRU_PARTS] == list(lv.GRU(1, 1).frames(np.ones((1, 1))).stages)
    assert [name for _, name, _ in ui_gru.GRU_PARTS] == ["reset gate r", "update gate z", "candidate n",
                                                         "new hidden state h[t]"]


# -- the comparison with the LSTM -------------------------------------------------------------------------------------


def test_the_opened_gate_is_the_keeping_gate_only():
    traces = ui_gru.gru_vs_lstm(ui_rnn.sequence("pulse", 5), hidden_size=2, gate_bias=3.0)
    assert list(traces) == ["LSTM", "LSTM, forget bias +3", "GRU", "GRU, update bias +3"]
    lstm, lstm_open = traces["LSTM"].layer, traces["LSTM, forget bias +3"].layer
    gru, gru_open = traces["GRU"].layer, traces["GRU, update bias +3"].layer
    np.testing.assert_allclose(lstm_open.bias_ih_l0 - lstm.bias_ih_l0, [0, 0, 3, 3, 0, 0, 0, 0])  # i, f, g, o
    np.testing.assert_allclose(gru_open.bias_ih_l0 - gru.bias_ih_l0, [0, 0, 3, 3, 0, 0])  # r, z, n
    z = traces["GRU, update bias +3"].pass_.gates[0, :, 0, 2:4]
    assert z.min() > 0.85  # σ(3) = 0.95, moved a little by the other terms


def test_the_comparison_counts_from_the_layers():
    x = ui_rnn.sequence("pulse", 30)
    table = ui_gru.comparison_table(x, hidden_size=6)
    assert table.header == ["", "GRU", "LSTM"]
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows["gate blocks (stacked in the weights)"] == ["3: r, z, n", "4: i, f, g, o"]
    assert rows["weight_ih_l0"] == ["(18, 1)", "(24, 1)"]
    # by hand: each gate block has H·H_in + H·H + 2H numbers, H = 6, H_in = 1
    assert rows["parameters"] == [str(3 * (6 + 36 + 12)), str(4 * (6 + 36 + 12))] == ["162", "216"]
    assert rows["state carried to the next step"] == ["h", "h and c"]
    assert rows["frames per time step"] == ["4", "6"]
    assert rows["returns"] == ["output, h_n", "output, (h_n, c_n)"]
    keeps = rows["what keeps the past"]
    assert keeps[0].startswith("z ⊙ h[t−1]") and keeps[1].startswith("f ⊙ c[t−1]")
    # the sensitivities, of layers built here from torch's initial weights and the opened bias
    gru, lstm = lv.GRU(1, 6, rng=0).eval(), lv.LSTM(1, 6, rng=0).eval()
    initial = rows["‖∂h_T/∂x_0‖, torch's initial weights"]
    assert initial == [f"{input_sensitivity(gru, x)[0]:.2g}", f"{input_sensitivity(lstm, x)[0]:.2g}"]
    assert initial == ["1e-07", "3.9e-07"]
    for layer in (gru, lstm):
        bias = layer.bias_ih_l0.copy()
        bias[6:12] += 3.0
        layer.bias_ih_l0 = bias
    opened = rows["‖∂h_T/∂x_0‖, keeping gate's bias +3"]
    assert opened == [f"{input_sensitivity(gru, x)[0]:.2g}", f"{input_sensitivity(lstm, x)[0]:.2g}"]
    assert opened == ["0.0029", "0.066"]
    assert "30 steps, 1 feature, hidden size 6, seed 0" in table.caption


def test_the_comparison_figure_draws_the_engine_s_numbers():
    x = ui_rnn.sequence("pulse", 12)
    figure = ui_gru.gru_vs_lstm_figure(x, hidden_size=3)
    traces = ui_gru.gru_vs_lstm(x, hidden_size=3)
    axes = figure.figure.axes
    titles = [ax.get_title() for ax in axes]
    for name, trace in traces.items():
        ax = axes[titles.index(f"{name}: h over time")]
        np.testing.assert_array_equal(ax.images[0].get_array(), trace.output.T)
    curves = next(ax for ax in axes if len(ax.lines) == 4)
    assert [line.get_label() for line in curves.lines] == list(traces)
    gru_curve = curves.lines[2].get_ydata()
    np.testing.assert_allclose(gru_curve, input_sensitivity(lv.GRU(1, 3, rng=0).eval(), x), rtol=1e-12)
    assert figure._repr_png_().startswith(b"\x89PNG")


# -- the page ---------------------------------------------------------------------------------------------------------


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_the_worked_example_is_what_the_engine_and_torch_compute():
    text, code = _page()
    assert 'gru.weight_ih_l0 = [[1.0], [-1.0], [1.0]]   # r, z, n' in code
    assert "gru.weight_hh_l0 = [[0.0], [0.0], [1.0]]" in code and "print(frame.narration)" in code
    gru = lv.GRU(input_size=1, hidden_size=1, bias=False)
    gru.weight_ih_l0 = [[1.0], [-1.0], [1.0]]
    gru.weight_hh_l0 = [[0.0], [0.0], [1.0]]
    trace = gru.frames(np.array([[1.0], [0.0]]))
    # the definition by hand, in plain Python: W_hr = W_hz = 0, W_hn = 1
    h, by_hand = 0.0, []
    for x in (1.0, 0.0):
        r, z = _sigmoid(1.0 * x), _sigmoid(-1.0 * x)
        n = math.tanh(1.0 * x + r * (1.0 * h))
        h = (1 - z) * n + z * h
        by_hand.append((r, z, n, h))
    np.testing.assert_allclose(trace.output[:, 0], [step[3] for step in by_hand], rtol=1e-12)
    module = torch.nn.GRU(1, 1, bias=False).double()
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor([[1.0], [-1.0], [1.0]]))
        module.weight_hh_l0.copy_(torch.tensor([[0.0], [0.0], [1.0]]))
        torch_out = module(torch.tensor([[1.0], [0.0]], dtype=torch.float64))[0].numpy()
    np.testing.assert_allclose(trace.output, torch_out, rtol=1e-12)
    assert [round(v, 2) for v in by_hand[0]] == [0.73, 0.27, 0.76, 0.56]
    assert [round(v, 2) for v in by_hand[1]] == [0.5, 0.5, 0.27, 0.41]
    example = _section(text, "A worked example, by hand")
    for said in ("$r_0 = \\sigma(1) = 0.73$", "$z_0 = \\sigma(-1) = 0.27$", "= \\tanh(1) = 0.76$",
                 "$h_0 = (1 - 0.269) \\cdot 0.762 + 0.269 \\cdot 0 = 0.56$", "$r_1 = z_1 = \\sigma(0) = 0.5$",
                 "$n_1 = \\tanh(0 + 0.5 \\cdot (1 \\cdot 0.56)) = \\tanh(0.28) = 0.27$",
                 "$h_1 = (1 - 0.5) \\cdot 0.271 + 0.5 \\cdot 0.557 = 0.41$", "$h_1 = h_0 = 0.56$"):
        assert said in example, said
    # the engine's narrations, which the page prints, say the same numbers
    narrations = [frame.narration for frame in trace]
    assert narrations[3] == "h[0] = (1−z)⊙n + z⊙h0 = (1−0.269)⊙0.762 + 0.269⊙0.00 = 0.56"
    assert narrations[6].endswith("= tanh(0.00 + 0.50⊙0.56) = tanh(0.28) = 0.27")
    assert narrations[7] == "h[1] = (1−z)⊙n + z⊙h[0] = (1−0.50)⊙0.271 + 0.50⊙0.557 = 0.41"


def test_the_page_follows_torch_s_formula_and_says_what_the_comparison_shows():
    text, code = _page()
    formula = _section(text, "The formula")
    assert "r_t \\odot (W_{hn} h_{t-1} + b_{hn})" in formula  # b_hn inside the reset, as torch computes it
    assert "$$h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}$$" in formula
    assert formula.index("**reset gate**") < formula.index("**update gate**") < formula.index("**candidate**")
    assert "the order $r, z, n$" in formula
    assert "lv.ui.gru.comparison_table(pulse, hidden_size=6)" in code
    assert "lv.ui.gru.gru_vs_lstm_figure(pulse, hidden_size=6)" in code
    assert "predict_next(trace)" in code and "lv.ui.gru_explorer()" in code
    compared = _section(text, "Compared with the LSTM, on the same input")
    traces = ui_gru.gru_vs_lstm(ui_rnn.sequence("pulse", 30), hidden_size=6)
    x = traces["GRU"].input
    sens = {name: input_sensitivity(trace.layer, x) for name, trace in traces.items()}
    gates = {name: trace.pass_.gates[0, :, 0] for name, trace in traces.items()}
    assert "162 numbers to the LSTM's 216" in compared
    keep = np.concatenate([gates["GRU"][:, 6:12].ravel(), gates["LSTM"][:, 6:12].ravel()])
    assert 0.3 <= keep.min() and keep.max() <= 0.7 and "their keeping gates are between 0.3 and 0.7" in compared
    assert f"{sens['GRU'][0]:.0e}" == "1e-07" and f"{sens['LSTM'][0]:.0e}" == "4e-07"
    assert "by 0.0000001 (GRU) and 0.0000004 (LSTM)" in compared
    z = gates["GRU, update bias +3"][:, 6:12]
    assert round(z.min(), 2) == 0.91 and round(z.max(), 2) == 0.97 and "between 0.91 and 0.97" in compared
    assert "91 to 97 %" in compared and 0.03 <= (1 - z).min() and (1 - z).max() <= 0.1
    assert "between 0.03 and 0.1, of each\ncandidate" in compared
    opened = sens["GRU, update bias +3"]
    assert f"{opened[0]:.2g}" == "0.0029" and f"{opened[-1]:.2g}" == "0.029" and 9 < opened[-1] / opened[0] < 11
    assert "by 0.0029, only ten times less than on the last\ninput (0.029)" in compared
    assert f"{sens['LSTM, forget bias +3'][0]:.2g}" == "0.066" and "keeps more of the pulse (0.066)" in compared
    i = gates["LSTM, forget bias +3"][:, 0:6]
    assert round(i.min(), 1) == 0.3 and round(i.max(), 1) == 0.6 and "its input gate, between 0.3 and 0.6" in compared
