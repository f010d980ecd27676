"""Each scene speaks its layer's words: legend labels per layer, pictures in greys, the layers counted alike in
captions and lesson, class scores labelled, the recurrent cell's weights and gates shown (issue 13)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import layerviz as lv
from layerviz import data, toy
from layerviz.player import encode_scene
from layerviz.scene import HIGHLIGHT_COLORS, HIGHLIGHT_DASHES, ROLE_LABELS, Grid, Highlight, looks_like_picture
from layerviz.ui.network import build_cnn

CONVOLUTION_WORDS = re.compile(r"\b(kernel|window)s?\b", re.IGNORECASE)
RNG = np.random.default_rng(0)
X2 = RNG.standard_normal((2, 4))
X4 = RNG.standard_normal((2, 3, 4, 4))
SEQ = RNG.standard_normal((5, 2))


def mlp():
    return lv.Sequential(lv.Dense(4, 3, activation="relu", rng=0), lv.Dense(3, 2, rng=1), lv.Softmax())


#: A trace of every layer that is not a convolution or a pooling, in each of its pictures.
NON_CONVOLUTION = {
    "Linear matrix": lambda: lv.Linear(4, 3, rng=0).frames(X2),
    "Linear neurons": lambda: lv.Linear(4, 3, rng=0).frames(X2, view="neurons"),
    "Dense": lambda: lv.Dense(4, 3, activation="tanh", rng=0).frames(X2),
    "Dense no bias": lambda: lv.Dense(4, 3, activation="relu", bias=False, rng=0).frames(X2),
    "ReLU": lambda: lv.ReLU().frames(X2),
    "Sigmoid": lambda: lv.Sigmoid().frames(X4),
    "Softmax": lambda: lv.Softmax().frames(X2),
    "Flatten": lambda: lv.Flatten().frames(X4),
    "Dropout training": lambda: lv.Dropout(0.5, rng=0).frames(X4),
    "Dropout eval": lambda: lv.Dropout(0.5, rng=0).eval().frames(X4),
    "BatchNorm1d training": lambda: lv.BatchNorm1d(4).frames(X2),
    "BatchNorm2d training": lambda: lv.BatchNorm2d(3).frames(X4),
    "BatchNorm2d eval": lambda: lv.BatchNorm2d(3).eval().frames(X4),
    "RNN": lambda: lv.RNN(2, 3, rng=0).frames(SEQ),
    "RNN 2 layers bidirectional": lambda: lv.RNN(2, 3, num_layers=2, bidirectional=True, rng=0).eval().frames(SEQ),
    "LSTM": lambda: lv.LSTM(2, 3, rng=0).frames(SEQ),
    "GRU": lambda: lv.GRU(2, 3, rng=0).frames(SEQ),
    "Sequential flow": lambda: mlp().frames(X2),
    "Sequential neurons": lambda: mlp().frames(X2, view="neurons"),
}


@pytest.mark.parametrize("name", list(NON_CONVOLUTION))
def test_no_convolution_word_in_a_non_convolution_legend(name):
    scene = NON_CONVOLUTION[name]().scene()
    encoded = encode_scene(scene)
    for highlight, sent in zip(scene.highlights, encoded["highlights"]):
        assert sent["label"] == highlight.legend  # what the player draws
        assert highlight.legend and not CONVOLUTION_WORDS.search(highlight.legend), (name, highlight.legend)
        assert highlight.label, f"{name}: a {highlight.role} highlight says no word of its own"


def test_the_layers_own_words():
    labels = {h.legend for h in lv.Linear(4, 3, rng=0).frames(X2).scene().highlights}
    assert {"input x", "weights row", "bias", "output neuron"} <= labels
    assert "mask entry drawn" in {h.legend for h in lv.Dropout(0.5, rng=0).frames(X4).scene().highlights}
    assert "batch statistic" in {h.legend for h in lv.BatchNorm2d(3).frames(X4).scene().highlights}
    assert "running statistic" in {h.legend for h in lv.BatchNorm2d(3).eval().frames(X4).scene().highlights}
    conv = {h.legend for h in lv.Conv2d(3, 2, 2, rng=0).frames(X4).scene().highlights}
    assert {"window", "kernel"} <= conv  # a convolution keeps its own words
    # a highlight without a label of its own gets its role's plain word, never a convolution word
    plain = Highlight("p", np.zeros((1, 3), np.int32), np.zeros((1, 3), np.int32), "kernel")
    assert plain.legend == ROLE_LABELS["kernel"] and not CONVOLUTION_WORDS.search(plain.legend)
    assert not any(CONVOLUTION_WORDS.search(word) for word in ROLE_LABELS.values())


@pytest.mark.parametrize("x", [np.arange(16.0).reshape(1, 4, 4), data.digit(7, 8)], ids=["numbers", "digit"])
def test_pooling_max_is_its_own_red_box(x):
    scene = lv.MaxPool2d(2).frames(x).scene()
    by_role = {h.role: h for h in scene.highlights}
    assert set(by_role) == {"window", "max", "output"}
    assert by_role["max"].legend == "maximum (kept)" and by_role["window"].legend == "window"
    # the text promises "the red one": a red, and neither the colour nor the line of the window
    red, orange = HIGHLIGHT_COLORS["max"], HIGHLIGHT_COLORS["window"]
    assert red != orange and HIGHLIGHT_DASHES["max"] != HIGHLIGHT_DASHES["window"]
    r, g, b = (int(red[i : i + 2], 16) for i in (1, 3, 5))
    assert r > 150 and g < 60 and b < 80  # red, not orange
    ro, go, _ = (int(orange[i : i + 2], 16) for i in (1, 3, 5))
    assert go - g > 100  # far from the orange's green: no mistaking one for the other
    sent = {h["role"]: h for h in encode_scene(scene)["highlights"]}
    assert sent["max"]["color"] == red and sent["max"]["label"] == "maximum (kept)"


def test_pictures_are_drawn_in_greys_and_signed_values_in_the_diverging_map():
    assert looks_like_picture(data.digit(3, 8)) and looks_like_picture(data.photo(8))
    assert not looks_like_picture(data.noise(8)) and not looks_like_picture(np.arange(16.0).reshape(1, 4, 4) / 16)
    conv = lv.Conv2d(1, 2, 3, rng=0)
    scene = conv.frames(data.digit(7, 8)).scene()
    assert scene.panel("input").cmap == "grey"
    assert {scene.panel(name).cmap for name in ("kernel", "output")} == {"diverging"}
    assert conv.frames(data.noise(8)).scene().panel("input").cmap == "diverging"
    pool = lv.MaxPool2d(2).frames(data.photo(8)).scene()
    assert pool.panel("input").cmap == pool.panel("output").cmap == "grey"  # the output is made of its values
    # the CNN's input is a picture even with noise out of [0, 1]; every other panel is signed
    cnn = build_cnn({"digit": 3, "noise": 1.0, "seed": 0}).scene()
    assert [p.cmap for p in cnn.panels] == ["grey"] + ["diverging"] * (len(cnn.panels) - 1)
    assert encode_scene(cnn)["panels"][0]["cmap"] == "grey"
    with pytest.raises(ValueError, match="cmap"):
        Grid("g", "g", np.zeros((1, 2, 2)), ("g",), cmap="viridis")


def test_class_scores_are_labelled_with_their_digit_and_scales_are_explained():
    scene = build_cnn({"digit": 3, "noise": 0.0, "seed": 0}).scene()
    scores, probabilities = scene.panels[-2], scene.panels[-1]
    assert scores.row_labels == probabilities.row_labels == tuple(str(d) for d in range(10))
    assert encode_scene(scene)["panels"][-1]["row_labels"] == [str(d) for d in range(10)]
    # no "Dense ±0.81" title: the scale is the panel's vmax, which the player writes under it as "scale ±…"
    assert not any("±" in p.title for p in scene.panels)
    assert all(p.vmax for p in scene.panels[1:])
    assert [p.title for p in scene.panels] == ["input", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "Softmax"]
    with pytest.raises(ValueError, match="one label per row"):
        Grid("g", "g", np.zeros((1, 2, 2)), ("g",), row_labels=("a",))


def layer_numbers(trace) -> set[tuple[int, int]]:
    found = (re.match(r"layer (\d+)/(\d+)", frame.narration) for frame in trace)
    return {tuple(map(int, m.groups())) for m in found if m}


def test_captions_count_the_layers_the_lesson_counts():
    points, labels = toy.two_moons(120, rng=0)
    model = toy.train_mlp(points, labels, hidden=(8, 8), rng=0)  # the anatomy page: 2 hidden + 1 output = 3
    trace = model.frames(points[0], view="neurons")
    assert model.anatomy().n_layers == 3
    assert {total for _, total in layer_numbers(trace)} == {3}
    assert trace[0].narration.startswith("layer 1/3 (hidden) Dense(2, 8, activation='relu'): z[0] = ")
    assert trace[-1].narration.startswith("layer 3/3 (output), softmax step Softmax(dim=-1): ")
    assert trace.scene().title == "Sequential, 3 layers: Dense | Dense | Dense + Softmax"
    assert trace.scene().networks[0].column_labels[-1] == "output layer (2) + softmax"

    cnn = toy.digit_cnn()  # the CNN page: 1 hidden + 1 output = 2
    trace = cnn.frames(toy.digit_input(3))
    assert cnn.anatomy().n_layers == 2 and {total for _, total in layer_numbers(trace)} == {2}
    steps = [trace[trace.offsets[i]].narration.split(": ")[0] for i in range(len(cnn.layers))]
    assert steps == [
        "layer 1/2 (hidden) Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))",
        "layer 1/2 (hidden), activation step ReLU()",
        "layer 1/2 (hidden), pooling step MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
        "layer 1/2 (hidden), flatten step Flatten(start_dim=1, end_dim=-1)",
        "layer 2/2 (output) Linear(100, 10)",
        "layer 2/2 (output), softmax step Softmax(dim=-1)",
    ]
    assert trace.scene().title == "Sequential, 2 layers: Conv2d + ReLU + MaxPool2d + Flatten | Linear + Softmax"
    # before the first weighted layer: a step of the input; without weighted layers: the entries numbered
    flat = lv.Sequential(lv.Flatten(), lv.Linear(16, 2, rng=0)).frames(np.zeros((1, 4, 4)))
    assert flat[0].narration.startswith("input, flatten step Flatten(")
    assert lv.Sequential(lv.ReLU(), lv.Softmax()).frames(X2)[0].narration.startswith("layer 1/2 ReLU(): ")


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_the_recurrent_scene_shows_its_weights_gates_and_time(kind):
    layer = {"RNN": lv.RNN, "LSTM": lv.LSTM, "GRU": lv.GRU}[kind](2, 3, rng=0)
    trace = layer.frames(SEQ)
    scene = trace.scene()
    names = [p.name for p in scene.panels]
    assert names[:3] == ["x", "W_ih", "W_hh"] and names[-1] == "h" and ("c" in names) == (kind == "LSTM")
    gates = {"RNN": "h", "LSTM": "ifgo", "GRU": "rzn"}[kind]  # torch's order of the blocks of rows
    assert scene.panel("cell").col_labels == {"RNN": ("Wx+b", "Wh+b", "a"), "LSTM": tuple("figo"),
                                              "GRU": tuple("rzn")}[kind]
    assert scene.panel("h").col_labels == tuple(str(t) for t in range(len(SEQ)))  # unrolled over time
    if kind == "LSTM":
        assert scene.panel("c").col_labels == scene.panel("h").col_labels
    # each gate's frame shows that gate's block of rows of both weight matrices (torch's W_if, W_hf, …), lit
    lit = [h for h in scene.highlights if h.panel in ("W_ih", "W_hh")]
    assert {h.legend for h in lit} == {"weights used"}
    for k, frame in enumerate(trace):
        for h in lit:
            grid = scene.panel(h.panel)
            full = layer.weight_ih_l0 if h.panel == "W_ih" else layer.weight_hh_l0
            shown = grid.values[grid.page_at(k)]
            cells = {tuple(int(v) for v in c) for c in h.cells(k) if c[1] >= 0}
            if kind == "RNN":
                np.testing.assert_array_equal(shown, full)
                used = frame.stage == {"W_ih": "ih", "W_hh": "hh"}[h.panel]
            else:
                if frame.stage in gates:
                    q = gates.index(frame.stage)
                    np.testing.assert_array_equal(shown, full[3 * q : 3 * q + 3])
                    assert grid.labels[grid.page_at(k)] == f"W_{h.panel[2]}{frame.stage}"
                used = frame.stage in gates
            assert cells == ({(grid.page_at(k), r, c) for r in range(3) for c in range(shown.shape[1])} if used
                             else set()), (k, frame.stage, h.panel)
