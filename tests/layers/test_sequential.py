"""Sequential and Flatten against torch, from_torch of nn.Sequential, the nested trace, the anatomy."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerviz import Conv2d, Dense, Flatten, Linear, ReLU, Sequential, Softmax, Tanh, from_torch
from layerviz.layers import MaxPool2d
from layerviz.layers.sequential import SequentialTrace

ACTS = [torch.nn.ReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.Identity]


@st.composite
def mlps(draw):
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=5))
    seed = draw(st.integers(0, 2**31 - 1))
    torch.manual_seed(seed)
    children = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        children.append(torch.nn.Linear(a, b, bias=draw(st.booleans())))
        children.append(draw(st.sampled_from(ACTS))())
    if draw(st.booleans()):
        children.append(torch.nn.Softmax(dim=-1))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    return torch.nn.Sequential(*children).double(), (*batch, sizes[0]), seed


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mlps())
def test_from_torch_sequential_matches(case):
    module, shape, seed = case
    model = from_torch(module)
    assert isinstance(model, Sequential) and len(model) == len(module)
    x = np.random.default_rng(seed).standard_normal(shape)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-10, atol=1e-12)
    trace = model.frames(x)
    np.testing.assert_allclose(trace.output, expected, rtol=1e-10, atol=1e-12)
    assert len(trace) == sum(len(t) for t in trace.traces)


def test_cnn_from_torch_matches():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                 torch.nn.Linear(2 * 3 * 3, 4), torch.nn.Softmax(dim=1)).double()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    model = from_torch(module)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-10, atol=1e-12)
    trace = model.frames(x)
    np.testing.assert_allclose(trace.output, expected, rtol=1e-10, atol=1e-12)
    scene = trace.scene()
    assert scene.n_frames == len(trace) and len(scene.panels) == 7


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_flatten_matches_torch(shape, data):
    ndim = len(shape)
    start = data.draw(st.integers(-ndim, ndim - 1))
    end = data.draw(st.integers(-ndim, ndim - 1))
    x = np.arange(float(np.prod(shape))).reshape(shape)
    layer = Flatten(start, end)
    if start % ndim > end % ndim:
        with pytest.raises(ValueError, match="start_dim must not come after end_dim"):
            layer(x)
        return
    expected = torch.nn.Flatten(start, end)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(layer(x), expected)
    assert from_torch(torch.nn.Flatten(start, end)).start_dim == start


def test_nested_frames_and_boundaries():
    model = Sequential(Linear(2, 4, rng=0), ReLU(), Linear(4, 3, rng=1), Softmax())
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    trace = model.frames(x)
    # 2 samples: Linear(2,4) 8 frames, ReLU 8 elements, Linear(4,3) 6, Softmax 2 rows
    assert trace.offsets == (0, 8, 16, 22, 24)
    frames = list(trace)
    assert len(frames) == len(trace) == 24
    for k, frame in enumerate(frames):
        i = frame.layer_index
        assert trace.offsets[i] <= k < trace.offsets[i + 1]
        assert frame.inner.index == k - trace.offsets[i]
        assert frame.layer is model[i]
        # the layers with weights are counted (2: 1 hidden, 1 output); ReLU and Softmax are steps inside them
        prefix = {0: "layer 1/2 (hidden) ", 1: "layer 1/2 (hidden), activation step ", 2: "layer 2/2 (output) ",
                  3: "layer 2/2 (output), softmax step "}[i]
        assert frame.narration == f"{prefix}{model[i]!r}: {frame.inner.narration}"
        assert trace[k].narration == frame.narration
        assert trace[k - len(trace)].narration == frame.narration
        assert repr(frame) == f"SequentialFrame({k}: {frame.narration})"
    assert frames[16].narration.startswith("layer 2/2 (output) Linear(4, 3): out[0,0] = ")
    # the second Linear reads the ReLU's output
    np.testing.assert_array_equal(frames[16].inner.x, np.maximum(model[0](x), 0)[0])
    with pytest.raises(IndexError):
        trace[24]


def test_random_access_does_not_walk_the_frames():
    model = Sequential(Linear(4, 100, rng=0), ReLU(), Linear(100, 50, rng=1), Tanh())
    trace = model.frames(np.random.default_rng(0).standard_normal((2000, 4)))
    assert len(trace) == 2000 * (100 + 100 + 50 + 50)
    start = time.perf_counter()
    for _ in range(100):
        trace[0]
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(100):
        trace[len(trace) - 1]
    last = time.perf_counter() - start
    assert last < 5 * first + 0.05


def test_anatomy_counts_weighted_layers():
    model = Sequential(Dense(2, 8, rng=0), Dense(8, 8, rng=1), Dense(8, 3, activation=None, rng=2), Softmax())
    anatomy = model.anatomy()
    assert anatomy.input_size == 2
    assert [r.neurons for r in anatomy.hidden] == [8, 8]
    assert anatomy.output.neurons == 3 and anatomy.output.indices == (2, 3)
    assert anatomy.statement == "number of layers = hidden layers + output layer = 2 + 1 = 3"
    assert str(anatomy).splitlines()[0] == "input layer: 2 features"
    torch_style = Sequential(Linear(2, 5), ReLU(), Linear(5, 1))
    assert torch_style.anatomy().statement.endswith("1 + 1 = 2")
    cnn = Sequential(Conv2d(1, 4, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(100, 10), Softmax())
    text = str(cnn.anatomy())
    assert "hidden layer 1: Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1)) + ReLU() + MaxPool2d" in text
    assert "(4 feature maps)" in text and text.endswith("= 1 + 1 = 2")
    with pytest.raises(ValueError, match="anatomy needs at least one layer with weights"):
        Sequential(ReLU(), Softmax()).anatomy()


def test_neuron_scene_of_an_mlp():
    model = Sequential(Dense(2, 3, rng=0), Dense(3, 2, activation=None, rng=1), Softmax())
    x = np.array([[1.0, -1.0], [0.5, 0.5]])
    trace = model.frames(x, view="neurons")
    scene = trace.scene()
    net = scene.networks[0]
    assert net.sizes == (2, 3, 2)
    # the softmax is a step of the output layer, whose neurons show its probabilities
    assert net.column_labels == ("input layer (2)", "hidden layer 1 (3)", "output layer (2) + softmax")
    assert net.note == "number of layers = hidden layers + output layer = 1 + 1 = 2"
    np.testing.assert_allclose(net.values[1, 5:], trace.output[1])
    for k, frame in enumerate(trace):
        assert net.page_at(k) == (frame.inner.cell[0] if hasattr(frame.inner, "cell") else frame.inner.where[0])
        if frame.layer_index == 0:
            assert net.active_at(k) == 2 + frame.inner.neuron
        if frame.layer_index == 2:
            assert net.active_at(k) == -1  # softmax: a whole row at once
    with pytest.raises(ValueError, match="the neurons view needs vectors"):
        Sequential(Conv2d(1, 1, 2), Flatten()).frames(np.ones((1, 3, 3))).scene("neurons")


def test_flow_scene_reveals_each_layer_in_its_frames():
    model = Sequential(Linear(2, 3, rng=0), ReLU())
    trace = model.frames(np.array([1.0, 2.0]))
    scene = trace.scene()
    assert [g.name for g in scene.panels] == ["input", "layer0", "layer1"]
    assert scene.panel("layer0").reveal.ravel().tolist() == [0, 1, 2]
    assert scene.panel("layer1").reveal.ravel().tolist() == [3, 4, 5]
    out_highlight = [h for h in scene.highlights if h.panel == "layer1"][0]
    assert out_highlight.cells(0)[0][1] < -1000  # hidden before its layer's frames
    assert tuple(out_highlight.cells(4)[0]) == (0, 1, 0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Sequential(), "layers must not be empty"),
        (lambda: Sequential(Linear(2, 2), "relu"), "layer 1 must be a layerviz layer (callable, with frames()), got 'relu'"),
        (lambda: Sequential(Linear(2, 3), Linear(2, 1)).frames(np.ones(2)),
         "layer 2/2 Linear(2, 1): x must have in_features=2 values on its last axis, got 3"),
        (lambda: Sequential(Linear(2, 3), ReLU()).frames(np.ones(2), view="graph"), "view must be one of ['flow', 'neurons']"),
        (lambda: Flatten(start_dim=1.0), "start_dim must be an integer, got 1.0"),
        (lambda: Flatten(start_dim=3)(np.ones((2, 2))), "start_dim must be in [-2, 1] for x of 2 dimensions, got 3"),
        (lambda: from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.GroupNorm(1, 2))),
         "torch.nn.GroupNorm at '1' in the model cannot be converted: layerviz has no GroupNorm layer"),
    ],
)
def test_errors_name_the_rule(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_from_torch_error_names_the_module():
    with pytest.raises(ValueError, match=re.escape("torch.nn.GroupNorm at '0' in the model cannot be converted")):
        from_torch(torch.nn.Sequential(torch.nn.GroupNorm(1, 2)))


def test_existing_layers_nest():
    model = Sequential(Conv2d(1, 2, 3, rng=0), MaxPool2d(2))
    trace = model.frames(np.random.default_rng(0).standard_normal((1, 6, 6)))
    assert isinstance(trace, SequentialTrace)
    assert trace.output.shape == (2, 2, 2)
    assert len(trace) == 2 * 4 * 4 + 2 * 2 * 2
    assert trace[32].narration.startswith("layer 1/1 (output), pooling step MaxPool2d")
