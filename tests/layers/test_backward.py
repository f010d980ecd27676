"""The backward pass (issue 14): every gradient equal to torch autograd's, every frame's arithmetic adding up.

For each layer type, random configurations (hypothesis, float64) are run forward and backward in torch and in
layerviz from the same weights; ``btrace.grads`` must equal ``.grad`` of every named parameter and of the input,
for the scalar ``(output * grad_output).sum()``. The vectorized gradients are also held to plain loops
(``conv2d_backward_naive``, ``linear_backward_naive``), and every backward narration is redone from its text.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz.layers.batchnorm import batchnorm_backward_naive
from layerviz.layers.conv import conv2d_backward_naive
from layerviz.layers.linear import linear_backward_naive
from layerviz.layers.sequential import caption_prefixes
from tests.narration_redo import redo
from tests.test_narration import check_question

#: Configurations per layer type compared with torch autograd (the issue asks for >= 300 per layer type).
N_CONFIGS = int(os.environ.get("LAYERVIZ_BACKWARD_CONFIGS", "300"))
#: Configurations whose every backward frame is redone from its narration (slower: one parse per frame).
N_NARRATED = min(N_CONFIGS, int(os.environ.get("LAYERVIZ_BACKWARD_NARRATED", "15")))

SETTINGS = settings(max_examples=N_CONFIGS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PLAIN_LOOPS = settings(max_examples=min(N_CONFIGS, 40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
NARRATED = settings(max_examples=N_NARRATED, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**31 - 1)


def torch_grads(module: torch.nn.Module, x: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
    """``.grad`` of the input and of every named parameter for ``(module(x) * g).sum()``, in float64."""
    module = module.double()
    module.zero_grad()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (module(xt) * torch.tensor(g, dtype=torch.float64)).sum().backward()
    grads = {name: p.grad.numpy().copy() for name, p in module.named_parameters()}
    grads["input"] = xt.grad.numpy().copy()
    return grads


def assert_grads_equal(ours: dict, theirs: dict) -> None:
    assert list(ours) == [*[k for k in theirs if k != "input"], "input"], (list(ours), list(theirs))
    for key, expected in theirs.items():
        got = ours[key]
        assert got.shape == expected.shape, key
        scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * scale, err_msg=key)


def check_backward(model, tmodule, x, rng) -> lv.Trace:
    """``model.frames(x).backward(g)`` equals torch's gradients; returns the backward trace."""
    trace = model.frames(x)
    g = rng.standard_normal(np.shape(trace.output))
    btrace = trace.backward(g)
    assert_grads_equal(btrace.grads, torch_grads(tmodule, x, g))
    return btrace


def check_frames(btrace, *, sample: int | None = None) -> None:
    """Random access equals iteration; each frame's result is its gradient's entry; narrations add up."""
    n = len(btrace)
    assert n == sum(s.values.size for s in btrace.sections)
    ks = range(n) if sample is None else sorted(set(np.random.default_rng(0).integers(0, n, sample).tolist()) | {0, n - 1})
    frames = list(btrace) if sample is None else None
    for k in ks:
        frame = btrace[k]
        if frames is not None:
            assert frames[k].narration == frame.narration and frames[k].result == frame.result
        assert btrace[k - n].narration == frame.narration
        section = btrace.sections[btrace.section_of(k)]
        assert frame.result == float(section.values[frame.cell])
        redo(frame.narration)  # AssertionError naming the segment that does not add up
        check_question(frame)
    scene = btrace.scene()
    assert scene.n_frames == n and len(scene.captions) == n


# -- Conv2d ------------------------------------------------------------------------------------------


@st.composite
def conv_configs(draw):
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    size = (draw(st.integers(3, 7)), draw(st.integers(3, 7)))
    batch = draw(st.sampled_from([None, 1, 2]))
    bias = draw(st.booleans())
    return dict(cin=cin, cout=cout, kernel=kernel, stride=stride, dilation=dilation, padding=padding, mode=mode,
                groups=groups, size=size, batch=batch, bias=bias)


def make_conv(cfg, seed):
    tconv = torch.nn.Conv2d(cfg["cin"], cfg["cout"], cfg["kernel"], stride=cfg["stride"], padding=cfg["padding"],
                            dilation=cfg["dilation"], groups=cfg["groups"], bias=cfg["bias"], padding_mode=cfg["mode"])
    torch.manual_seed(seed)
    tconv.reset_parameters()
    shape = (cfg["cin"], *cfg["size"]) if cfg["batch"] is None else (cfg["batch"], cfg["cin"], *cfg["size"])
    return tconv.double(), lv.from_torch(tconv), shape


@SETTINGS
@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_gradients_equal_autograd(cfg, seed):
    rng = np.random.default_rng(seed)
    tconv, conv, shape = make_conv(cfg, seed % 1000)
    x = rng.standard_normal(shape)
    try:
        conv.frames(x)
    except ValueError:  # the kernel does not fit, or the padding is too large for reflect/circular
        return
    check_backward(conv, tconv, x, rng)


@PLAIN_LOOPS
@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_backward_equals_the_plain_loops(cfg, seed):
    cfg = {**cfg, "mode": "zeros"}
    rng = np.random.default_rng(seed)
    _, conv, shape = make_conv(cfg, seed % 1000)
    x = rng.standard_normal(shape)
    try:
        trace = conv.frames(x)
    except ValueError:
        return
    g = rng.standard_normal(trace.output.shape)
    bt = trace.backward(g)
    x4, g4 = (x, g) if x.ndim == 4 else (x[None], g[None])
    dw, db, dx = conv2d_backward_naive(conv, x4, g4)
    np.testing.assert_allclose(bt.grads["weight"], dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bt.grads["input"], dx if x.ndim == 4 else dx[0], rtol=1e-12, atol=1e-12)
    if cfg["bias"]:
        np.testing.assert_allclose(bt.grads["bias"], db, rtol=1e-12, atol=1e-12)


@NARRATED
@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_backward_frames_add_up(cfg, seed):
    cfg = {**cfg, "size": (min(cfg["size"][0], 5), min(cfg["size"][1], 5))}
    rng = np.random.default_rng(seed)
    _, conv, shape = make_conv(cfg, seed % 1000)
    x = rng.standard_normal(shape)
    try:
        trace = conv.frames(x)
    except ValueError:
        return
    check_frames(trace.backward(rng.standard_normal(trace.output.shape)))


def test_conv2d_worked_example_by_hand():
    conv = lv.Conv2d(1, 1, kernel_size=2, bias=True)
    conv.weight, conv.bias = [[[[0.0, 1.0], [2.0, 3.0]]]], [0.5]
    x = np.arange(9.0).reshape(1, 3, 3)
    bt = conv.frames(x).backward([[[1.0, 2.0], [3.0, 4.0]]])
    # dw[0,0,p,q] = sum_ij g[i,j] x[i+p, j+q]: dw[0,0,0,0] = 1×0 + 2×1 + 3×3 + 4×4 = 27
    assert bt.grads["weight"][0, 0].tolist() == [[27.0, 37.0], [57.0, 67.0]]
    assert bt.grads["bias"].tolist() == [10.0]
    # dx = full convolution of g with the flipped kernel: dx[0,0,0] = 1×0; dx[0,1,1] = 1×3 + 2×2 + 3×1 + 4×0 = 10
    assert bt.grads["input"][0].tolist() == [[0.0, 1.0, 2.0], [2.0, 10.0, 10.0], [6.0, 17.0, 12.0]]
    assert bt[0].narration.endswith("dw[0,0,0,0] = 1.00×0.00 + 2.00×1.00 + 3.00×3.00 + 4.00×4.00 = 27.00")
    assert bt[0].question.prompt == "dw[0,0,0,0] = 1.00×0.00 + 2.00×1.00 + 3.00×3.00 + 4.00×4.00 = ?"
    assert "flipped kernel" in bt[-5].narration


def test_the_conv_backward_of_a_photo_sized_input_is_a_trace():
    conv = lv.Conv2d(3, 4, 3, rng=0)
    x = np.random.default_rng(0).random((3, 40, 40))
    bt = conv.frames(x).backward()
    assert len(bt) == 4 * 3 * 9 + 4 + 3 * 40 * 40
    check_frames(bt, sample=50)


# -- Linear, Dense -----------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, n_in=st.integers(1, 6), n_out=st.integers(1, 5), lead=st.sampled_from([(), (1,), (3,), (2, 2)]),
       bias=st.booleans())
def test_linear_gradients_equal_autograd(seed, n_in, n_out, lead, bias):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed % 1000)
    tlin = torch.nn.Linear(n_in, n_out, bias=bias).double()
    bt = check_backward(lv.from_torch(tlin), tlin, rng.standard_normal((*lead, n_in)), rng)
    x2 = bt.forward.inputs2
    dw, db, dx = linear_backward_naive(x2, bt.forward.weight, bt.input.reshape(len(x2), n_out))
    np.testing.assert_allclose(bt.grads["weight"], dw, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(bt.grads["input"].reshape(dx.shape), dx, rtol=1e-12, atol=1e-14)


ACTIVATIONS = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "identity": torch.nn.Identity}


@SETTINGS
@given(seed=seeds, n_in=st.integers(1, 6), n_out=st.integers(1, 5), batch=st.sampled_from([None, 1, 3]),
       activation=st.sampled_from(sorted(ACTIVATIONS)), bias=st.booleans())
def test_dense_gradients_equal_autograd(seed, n_in, n_out, batch, activation, bias):
    rng = np.random.default_rng(seed)
    dense = lv.Dense(n_in, n_out, activation=activation, bias=bias, rng=seed)
    tlin = torch.nn.Linear(n_in, n_out, bias=bias).double()
    with torch.no_grad():
        tlin.weight.copy_(torch.tensor(dense.weight))
        if bias:
            tlin.bias.copy_(torch.tensor(dense.bias))
    x = rng.standard_normal((n_in,) if batch is None else (batch, n_in))
    trace = dense.frames(x)
    g = rng.standard_normal(trace.output.shape)
    expected = torch_grads(torch.nn.Sequential(tlin, ACTIVATIONS[activation]()), x, g)
    assert_grads_equal(trace.backward(g).grads, {k.removeprefix("0."): v for k, v in expected.items()})


@NARRATED
@given(seed=seeds, n_in=st.integers(1, 4), n_out=st.integers(1, 3), batch=st.sampled_from([None, 2, 12]),
       activation=st.sampled_from([None, *sorted(ACTIVATIONS)]), bias=st.booleans())
def test_linear_and_dense_backward_frames_add_up(seed, n_in, n_out, batch, activation, bias):
    rng = np.random.default_rng(seed)
    layer = lv.Linear(n_in, n_out, bias=bias, rng=seed) if activation is None else \
        lv.Dense(n_in, n_out, activation=activation, bias=bias, rng=seed)
    trace = layer.frames(rng.standard_normal((n_in,) if batch is None else (batch, n_in)))
    bt = trace.backward(rng.standard_normal(trace.output.shape))
    check_frames(bt)
    if activation is not None:
        assert bt.sections[0].key == "z" and "z" not in bt.grads


# -- activations, Flatten ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Implicit dimension choice for softmax")
@SETTINGS
@given(seed=seeds, name=st.sampled_from(["ReLU", "Sigmoid", "Tanh", "Identity", "Softmax"]),
       shape=st.sampled_from([(), (4,), (2, 3), (2, 2, 3), (1, 2, 2, 2)]), dim=st.integers(-1, 3))
def test_activation_gradients_equal_autograd(seed, name, shape, dim):
    rng = np.random.default_rng(seed)
    if name == "Softmax":
        if dim >= max(len(shape), 1):
            dim = -1
        tmod = torch.nn.Softmax(dim=dim if shape else None)
    else:
        tmod = getattr(torch.nn, name)()
    x = rng.standard_normal(shape) * 3
    if name == "ReLU" and x.size:
        x.flat[0] = 0.0  # relu'(0) = 0, as torch takes it
    bt = check_backward(lv.from_torch(tmod), tmod, x, rng)
    if x.size <= 24:
        check_frames(bt)


@SETTINGS
@given(seed=seeds, shape=st.sampled_from([(2, 3, 4), (3, 2), (2, 2, 2, 2)]), start=st.integers(0, 1))
def test_flatten_gradients_equal_autograd(seed, shape, start):
    rng = np.random.default_rng(seed)
    tmod = torch.nn.Flatten(start_dim=start)
    check_frames(check_backward(lv.from_torch(tmod), tmod, rng.standard_normal(shape), rng))


# -- Sequential ----------------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, hidden=st.integers(1, 4), act=st.sampled_from(["ReLU", "Sigmoid", "Tanh"]), batch=st.integers(1, 3),
       nested=st.booleans(), softmax=st.booleans())
def test_sequential_gradients_follow_the_chain_rule(seed, hidden, act, batch, nested, softmax):
    torch.manual_seed(seed % 1000)
    rng = np.random.default_rng(seed)
    head = torch.nn.Sequential(torch.nn.Linear(2 * 2 * 2, hidden), getattr(torch.nn, act)())
    layers = [torch.nn.Conv2d(1, 2, 2), torch.nn.ReLU(), torch.nn.Flatten(),
              head if nested else torch.nn.Linear(8, hidden), torch.nn.Linear(hidden, 3)]
    if softmax:
        layers.append(torch.nn.Softmax(dim=1))
    tmodel = torch.nn.Sequential(*layers).double()
    bt = check_backward(lv.from_torch(tmodel), tmodel, rng.standard_normal((batch, 1, 3, 3)), rng)
    # newest layer first, each frame opened by the forward's caption for its layer (the layers with weights counted)
    prefixes = caption_prefixes(bt.layer)
    assert bt[0].narration.startswith(prefixes[-1]) and bt[-1].narration.startswith(prefixes[0])
    if not nested:  # the conv, the Linear, the last Linear
        assert prefixes[-1].startswith("layer 3/3 (output), softmax step Softmax(" if softmax else
                                       "layer 3/3 (output) Linear(")
    check_frames(bt, sample=40)


def test_a_sequential_with_a_layer_without_backward_says_which():
    model = lv.Sequential(lv.Linear(2, 2, rng=0), lv.RNN(2, 2))
    with pytest.raises((TypeError, ValueError)):
        model.frames(np.ones((1, 2))).backward()


# -- losses ----------------------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, shape=st.sampled_from([(), (3,), (2, 3), (2, 1, 2)]), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_mse_loss_equals_torch(seed, shape, reduction):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    trace = lv.MSELoss(reduction=reduction).frames(x, t)
    xt = torch.tensor(x, requires_grad=True)
    out = torch.nn.MSELoss(reduction=reduction)(xt, torch.tensor(t))
    g = None if reduction != "none" else rng.standard_normal(shape)
    out.backward(torch.ones(()) if g is None else torch.tensor(g))
    np.testing.assert_allclose(trace.output, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    bt = trace.backward(g)
    np.testing.assert_allclose(bt.grads["input"], xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for k in range(len(trace)):
        redo(trace[k].narration)
        check_question(trace[k])
    check_frames(bt)


@SETTINGS
@given(seed=seeds, batch=st.sampled_from([None, 1, 3]), classes=st.integers(1, 4), weighted=st.booleans(),
       reduction=st.sampled_from(["mean", "sum", "none"]), ignore=st.booleans())
def test_cross_entropy_equals_torch(seed, batch, classes, weighted, reduction, ignore):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((classes,) if batch is None else (batch, classes)) * 2
    t = rng.integers(0, classes, () if batch is None else (batch,))
    if ignore and batch == 3:
        t[1] = -100
    w = rng.random(classes) + 0.1 if weighted else None
    trace = lv.CrossEntropyLoss(weight=w, reduction=reduction).frames(x, t)
    xt = torch.tensor(x, requires_grad=True)
    out = torch.nn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w), reduction=reduction)(xt, torch.tensor(t))
    g = None if out.ndim == 0 else rng.standard_normal(out.shape)
    out.backward(torch.ones(()) if g is None else torch.tensor(g))
    np.testing.assert_allclose(trace.output, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    bt = trace.backward(g)
    np.testing.assert_allclose(bt.grads["input"], xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    trace.scene()
    for k in range(len(trace)):
        assert redo(trace[k].narration).compared or "ignore_index" in trace[k].narration, trace[k].narration
        check_question(trace[k])
    check_frames(bt)


def test_a_loss_gradient_feeds_a_network():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    model = lv.from_torch(tmodel)
    x, t = np.random.default_rng(1).standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])
    trace = model.frames(x)
    loss = lv.CrossEntropyLoss().frames(trace.output, t)
    grads = trace.backward(loss.backward().grads["input"]).grads
    torch.nn.CrossEntropyLoss()(tmodel(torch.tensor(x)), torch.tensor(t)).backward()
    for name, p in tmodel.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12)


# -- grad_output ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.ones((2, 2)), [[np.nan, 1.0, 1.0]], np.ones((1, 3)) * 1j, [["a", "b", "c"]], "x"])
@pytest.mark.parametrize("make", [
    lambda: lv.Linear(2, 3, rng=0).frames(np.ones((1, 2))),
    lambda: lv.ReLU().frames(np.ones((1, 3))),
    lambda: lv.Sequential(lv.Linear(2, 3, rng=0), lv.Sigmoid()).frames(np.ones((1, 2))),
])
def test_a_bad_grad_output_is_refused_naming_it(make, bad):
    with pytest.raises(ValueError, match="grad_output must"):
        make().backward(bad)


def test_conv_grad_output_must_have_the_outputs_shape():
    trace = lv.Conv2d(1, 2, 2, rng=0).frames(np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match=r"grad_output must .*\(2, 2, 2\)"):
        trace.backward(np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="grad_output must be finite"):
        trace.backward(np.full((2, 2, 2), np.inf))
    assert np.array_equal(trace.backward().input, np.ones((2, 2, 2)))  # defaults to ones


def test_a_backward_trace_is_read_only_and_does_not_rerun_the_forward():
    conv = lv.Conv2d(1, 1, 2, rng=0)
    trace = conv.frames(np.ones((1, 3, 3)))
    conv.weight = np.zeros((1, 1, 2, 2))  # changing the layer afterwards changes neither trace
    bt = trace.backward()
    assert np.abs(bt.grads["input"]).sum() > 0
    with pytest.raises(ValueError):
        bt.grads["weight"][0, 0, 0, 0] = 1.0


# -- pooling -----------------------------------------------------------------------------------------------


@st.composite
def pool_configs(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    return dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))


@SETTINGS
@given(cfg=pool_configs(), seed=seeds, kind=st.sampled_from(["max", "avg"]), dilation=st.integers(1, 2),
       count_include_pad=st.booleans(), divisor=st.sampled_from([None, 3]), batch=st.sampled_from([None, 2]),
       ties=st.booleans(), size=st.tuples(st.integers(3, 7), st.integers(3, 7)))
def test_pooling_gradients_equal_autograd(cfg, seed, kind, dilation, count_include_pad, divisor, batch, ties, size):
    rng = np.random.default_rng(seed)
    if kind == "max":
        tmod = torch.nn.MaxPool2d(**cfg, dilation=dilation)
    else:
        tmod = torch.nn.AvgPool2d(**cfg, count_include_pad=count_include_pad, divisor_override=divisor)
    shape = (2, *size) if batch is None else (batch, 2, *size)
    # ties: a few distinct values, so windows hold several maxima (torch routes to the first one)
    x = rng.integers(0, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    try:
        tmod(torch.tensor(x))
    except RuntimeError:
        return
    bt = check_backward(lv.from_torch(tmod), tmod, x, rng)
    if x.size <= 60:
        check_frames(bt)


@SETTINGS
@given(seed=seeds, out=st.tuples(st.integers(1, 4), st.integers(1, 4)), size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
       batch=st.sampled_from([None, 2]))
def test_adaptive_pooling_gradients_equal_autograd(seed, out, size, batch):
    rng = np.random.default_rng(seed)
    tmod = torch.nn.AdaptiveAvgPool2d(out)
    shape = (2, *size) if batch is None else (batch, 2, *size)
    bt = check_backward(lv.from_torch(tmod), tmod, rng.standard_normal(shape), rng)
    check_frames(bt, sample=30)


# -- Dropout, BatchNorm ---------------------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, p=st.sampled_from([0.0, 0.1, 0.5, 0.8]), shape=st.sampled_from([(5,), (2, 3), (2, 2, 2, 2)]),
       training=st.booleans())
def test_dropout_gradient_uses_the_forwards_own_mask(seed, p, shape, training):
    rng = np.random.default_rng(seed)
    layer = lv.Dropout(p, rng=seed)
    layer.train(training)
    x = rng.standard_normal(shape)
    trace = layer.frames(x)
    g = rng.standard_normal(shape)
    bt = trace.backward(g)
    # torch's dropout with the same mask: out = x × mask / (1 − p); in eval mode, nn.Dropout is the identity
    xt = torch.tensor(x, requires_grad=True)
    if training:
        out = xt * torch.tensor(trace.mask, dtype=torch.float64) / (1 - p)
    else:
        out = torch.nn.Dropout(p).eval()(xt)
    (out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(bt.grads["input"], xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert list(bt.grads) == ["input"]
    check_frames(bt)


@SETTINGS
@given(seed=seeds, kind=st.sampled_from(["1d", "1d3", "2d"]), channels=st.integers(1, 3), batch=st.integers(2, 3),
       affine=st.booleans(), training=st.booleans(), track=st.booleans())
def test_batchnorm_gradients_equal_autograd(seed, kind, channels, batch, affine, training, track):
    rng = np.random.default_rng(seed)
    cls = torch.nn.BatchNorm2d if kind == "2d" else torch.nn.BatchNorm1d
    tmod = cls(channels, affine=affine, track_running_stats=track).double()
    with torch.no_grad():
        if affine:
            tmod.weight.copy_(torch.tensor(rng.standard_normal(channels)))
            tmod.bias.copy_(torch.tensor(rng.standard_normal(channels)))
        if track:
            tmod.running_mean.copy_(torch.tensor(rng.standard_normal(channels)))
            tmod.running_var.copy_(torch.tensor(rng.random(channels) + 0.5))
    tmod.train(training)
    shape = {"1d": (batch, channels), "1d3": (batch, channels, 3), "2d": (batch, channels, 2, 3)}[kind]
    x = rng.standard_normal(shape) * 2 + 1
    layer = lv.from_torch(tmod)
    bt = check_backward(layer, tmod, x, rng)
    if training or not track:
        dgamma, dbeta, dx = batchnorm_backward_naive(x, layer.weight if affine else np.ones(channels), layer.eps,
                                                     bt.input)
        np.testing.assert_allclose(bt.grads["input"], dx, rtol=1e-9, atol=1e-12)
    check_frames(bt)


def test_losses_convert_from_torch():
    mse = lv.from_torch(torch.nn.MSELoss(reduction="sum"))
    assert isinstance(mse, lv.MSELoss) and mse.reduction == "sum"
    ce = lv.from_torch(torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]), ignore_index=1))
    assert isinstance(ce, lv.CrossEntropyLoss) and ce.ignore_index == 1 and ce.weight.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="reduction must be one of"):
        lv.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="target must be class indices"):
        lv.CrossEntropyLoss().frames(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"target must be class indices in \[0, 2\]"):
        lv.CrossEntropyLoss().frames(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="target must have the input's shape"):
        lv.MSELoss().frames(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="grad_output must"):
        lv.MSELoss().frames(np.zeros(3), np.zeros(3)).backward(np.ones(3))
