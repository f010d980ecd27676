"""Embedding (issue 15): torch.nn.Embedding's lookup, one frame per token; its gradient only in the rows looked up."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz.layers.embedding import EmbeddingTrace
from tests.narration_redo import redo

quick = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pair(num, dim, padding_idx, seed):
    torch.manual_seed(seed)
    module = torch.nn.Embedding(num, dim, padding_idx=padding_idx).double()
    return module, lv.from_torch(module)


@quick
@given(num=st.integers(1, 8), dim=st.integers(1, 5), shape=st.lists(st.integers(1, 4), min_size=0, max_size=3),
       pad=st.booleans(), seed=st.integers(0, 2**16))
def test_lookup_and_gradient_equal_torch(num, dim, shape, pad, seed):
    rng = np.random.default_rng(seed)
    padding_idx = int(rng.integers(-num, num)) if pad else None
    module, layer = _pair(num, dim, padding_idx, seed)
    assert isinstance(layer, lv.Embedding) and layer.padding_idx == module.padding_idx
    ids = rng.integers(0, num, tuple(shape))
    out = module(torch.from_numpy(ids))
    np.testing.assert_array_equal(layer(ids), out.detach().numpy())
    trace = layer.frames(ids)
    np.testing.assert_array_equal(trace.output, out.detach().numpy())
    assert len(trace) == ids.size  # one frame per token
    g = rng.standard_normal(tuple(out.shape))
    (out * torch.from_numpy(g)).sum().backward()
    btrace = trace.backward(g)
    np.testing.assert_allclose(btrace.grads["weight"], module.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert list(btrace.grads) == ["weight", "input"] and not btrace.grads["input"].any()
    used = set(np.unique(ids).tolist())
    unused = [r for r in range(num) if r not in used]
    assert not btrace.grads["weight"][unused].any()  # the rows no token picked stay 0
    if padding_idx is not None:
        assert not btrace.grads["weight"][padding_idx % num].any()
    assert len(btrace) == len(used) * dim  # frames: the rows looked up only
    for k in range(len(btrace)):
        frame = btrace[k]
        assert frame.result == btrace.grads["weight"][frame.cell]
        assert frame.cell[0] in used


def test_frames_say_which_row_each_token_picks():
    layer = lv.Embedding(5, 3, padding_idx=0, rng=0)
    trace = layer.frames(np.array([[3, 0], [3, 1]]))
    assert isinstance(trace, EmbeddingTrace) and len(trace) == 4
    frame = trace[2]
    assert frame.where == (1, 0) and frame.token == 3
    np.testing.assert_array_equal(frame.result, layer.weight[3])
    assert frame.narration.startswith("out[1,0] = weight[3] = [")
    assert "token 3 picks row 3 of the 5×3 table" in frame.narration
    assert "row 0 is padding_idx" in trace[1].narration
    assert [f.narration for f in trace] == [trace[k].narration for k in range(4)]
    assert trace[-1].narration == trace[3].narration
    np.testing.assert_array_equal(trace.element_frames()[1, 0], [2, 2, 2])
    scene = trace.scene()
    assert scene.n_frames == 4 and [p.name for p in scene.panels] == ["input", "weight", "output"]
    assert scene.highlights[1].origin[2].tolist() == [0, 3, 0]  # the table's row 3 lit at frame 2


def test_a_row_picked_twice_adds_up_its_gradients_and_the_padding_row_learns_nothing():
    layer = lv.Embedding(4, 2, padding_idx=1, rng=0)
    ids = np.array([2, 1, 2, 3])
    g = np.arange(8.0).reshape(4, 2) / 10
    btrace = layer.frames(ids).backward(g)
    np.testing.assert_allclose(btrace.grads["weight"], [[0, 0], [0, 0], [0.0 + 0.4, 0.1 + 0.5], [0.6, 0.7]])
    narrations = [f.narration for f in btrace]
    assert len(narrations) == 3 * 2
    twice = next(n for n in narrations if "dw[2,1]" in n)
    assert twice.startswith("row 2 was picked by 2 tokens (x[0], x[2]): their gradients add up: "
                            "dw[2,1] = dout[0,1] + dout[2,1] = ")
    assert redo(twice).compared
    assert any(n.startswith("row 1 is padding_idx") and n.endswith("dw[1,0] = 0.00") for n in narrations)
    assert next(n for n in narrations if "dw[3,0]" in n).startswith("row 3 was picked by x[3] only")
    scene = btrace.scene()
    assert scene.panels[-1].row_labels == ("row 1", "row 2", "row 3")


def test_from_torch_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="max_norm=1.0 is not supported"):
        lv.from_torch(torch.nn.Embedding(3, 2, max_norm=1.0))
    with pytest.raises(ValueError, match="scale_grad_by_freq=True is not supported"):
        lv.from_torch(torch.nn.Embedding(3, 2, scale_grad_by_freq=True))
    layer = lv.from_torch(torch.nn.Embedding(3, 2, padding_idx=-1))
    assert layer.padding_idx == 2 and repr(layer) == "Embedding(3, 2, padding_idx=2)"


@pytest.mark.parametrize("ids, message", [
    (np.array([0.0, 1.0]), "x must hold integer token ids"),
    (np.array([0, 3]), r"x must hold token ids in \[0, 2\] .* got 3 at index \(1,\)"),
    (np.array([-1]), "got -1 at index"),
    (np.zeros(0, dtype=int), "x must not be empty"),
    (None, "x must be an array of integer token ids, got None"),
])
def test_bad_ids_are_refused_naming_them(ids, message):
    layer = lv.Embedding(3, 2)
    for call in (lambda: layer(ids), lambda: layer.frames(ids)):
        with pytest.raises(ValueError, match=message):
            call()


def test_settings_are_checked():
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        lv.Embedding(3, 2, padding_idx=3)
    with pytest.raises(ValueError, match="weight must have shape"):
        lv.Embedding(3, 2).weight = np.zeros((2, 3))
    layer = lv.Embedding(3, 2, padding_idx=1, rng=5)
    assert not layer.weight[1].any() and layer.weight.shape == (3, 2)
    np.testing.assert_array_equal(layer(torch.tensor([2, 2])), layer.weight[[2, 2]])  # a LongTensor is read
