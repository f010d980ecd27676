"""The ready models of "Your own model" are the torch models their source builds: same outputs, same gradients.

Each zoo model's torch source is executed, its model given the zoo graph's ``state_dict()``, and run in float64;
``lv.from_torch`` of that model (the three lines a student types) gives the same graph.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import layerviz as lv
from layerviz import zoo


def torch_model(entry: zoo.ZooModel) -> tuple[torch.nn.Module, dict]:
    """The model ``entry.source`` builds, in float64, with the zoo graph's weights; and the source's namespace."""
    namespace: dict = {}
    exec(compile(entry.source, f"<{entry.name}>", "exec"), namespace)  # noqa: S102
    model = eval(entry.construct, namespace)  # noqa: S307
    if entry.eval:
        model.eval()
    model.double()
    state = {key: torch.tensor(np.asarray(value)) for key, value in entry.graph.state_dict().items()}
    model.load_state_dict(state, strict=True)
    return model, namespace


def torch_input(entry: zoo.ZooModel) -> torch.Tensor:
    x = torch.tensor(entry.input)
    return x if x.dtype == torch.long else x.double()


@pytest.mark.parametrize("name", zoo.NAMES)
def test_the_zoo_graph_computes_what_its_torch_source_computes(name):
    entry = zoo.model(name)
    model, _ = torch_model(entry)
    assert list(entry.graph.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        expected = model(torch_input(entry)).numpy()
    trace = entry.graph.frames(entry.input)
    np.testing.assert_allclose(trace.output, expected, rtol=1e-12, atol=1e-12)
    assert trace.output.shape[-1] == len(entry.labels)


@pytest.mark.parametrize("name", ["cifar", "resnet", "tagger"])
def test_the_zoo_graph_backward_gives_torch_gradients(name):
    entry = zoo.model(name)
    model, _ = torch_model(entry)
    x = torch_input(entry)
    if x.dtype != torch.long:
        x.requires_grad_(True)
    output = model(x)
    grad_output = np.random.default_rng(3).normal(size=tuple(output.shape))
    output.backward(torch.tensor(grad_output))
    backward = entry.graph.frames(entry.input).backward(grad_output)
    torch_grads = dict(model.named_parameters())
    assert set(backward.grads) == set(torch_grads) | {"input"}
    for key, parameter in torch_grads.items():
        np.testing.assert_allclose(backward.grads[key], parameter.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)
    if x.dtype != torch.long:
        np.testing.assert_allclose(backward.grads["input"], x.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", zoo.NAMES)
def test_from_torch_of_the_source_gives_the_same_graph(name):
    """The three lines: build the model, ``lv.from_torch(model, x)``, ``.frames(x)``."""
    entry = zoo.model(name, seed=4)
    model, _ = torch_model(entry)
    graph = lv.from_torch(model, torch_input(entry))
    assert [(n.name, n.kind, n.module, n.code) for n in graph.nodes] == \
        [(n.name, n.kind, n.module, n.code) for n in entry.graph.nodes]
    np.testing.assert_allclose(graph.frames(entry.input).output, entry.graph.frames(entry.input).output,
                               rtol=1e-12, atol=1e-12)


def test_the_residual_sums_the_gradient_of_both_paths():
    trace = zoo.model("resnet").graph.frames(zoo.model("resnet").input)
    backward = trace.backward()
    sums = [node for node, kind, _ in backward.parts if kind == "sum"]
    assert sums == ["relu_2", "relu"]  # each block's input feeds its convolutions and its shortcut
    relu_1 = dict((n, t) for n, k, t in backward.parts if k == "sum")["relu"]
    assert relu_1.paths == ("add", "layer1_conv1")


def test_seeds_give_other_weights_and_the_same_input():
    first, second = zoo.model("cifar", 0), zoo.model("cifar", 1)
    assert not np.array_equal(first.graph.state_dict()["conv1.weight"], second.graph.state_dict()["conv1.weight"])
    assert np.array_equal(first.input, second.input)
    assert np.array_equal(zoo.model("cifar", 1).graph.state_dict()["fc3.bias"], second.graph.state_dict()["fc3.bias"])


def test_the_inputs_are_made_here():
    assert zoo.picture(32).shape == (3, 32, 32) and 0 <= zoo.picture().min() and zoo.picture().max() <= 1
    assert zoo.sentence_ids().tolist() == [0, 1, 2, 3, 4]
    assert zoo.WORD_TO_IX["book"] == 8
    with pytest.raises(ValueError, match="words must be in the vocabulary"):
        zoo.sentence_ids(("The", "cat"))


@pytest.mark.parametrize("bad", [("softmax", 0), ("cifar", -1), ("cifar", 2.5), ("cifar", True)], ids=repr)
def test_a_bad_choice_is_named(bad):
    with pytest.raises(ValueError, match="model must be one of|seed must be an integer"):
        zoo.model(*bad)
