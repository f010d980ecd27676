"""Graphs (issue 15): any torch model of one's own, converted by ``lv.from_torch``, equals torch.

For PyTorch's "Training a classifier" tutorial ``Net``, a ResNet stack of BasicBlocks with a downsampling
shortcut, an inception-style ``torch.cat`` block, the sequence-models tutorial's LSTM tagger and random chains
(hypothesis), in float64: the graph's output equals the model's (1e-9), and ``trace.backward(g)`` gives every
parameter's gradient (keyed by torch's names) and the input's as torch's autograd. ``trace[k]`` equals the
k-th frame of the iteration; ``named_parameters``, ``state_dict`` and ``load_state_dict`` use torch's keys; what
cannot be converted is refused naming the node, the operation and the line of the forward.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerviz as lv
from layerviz.graph import Graph, GraphTrace
from tests.narration_redo import redo

FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the models -------------------------------------------------------------------------------------------


class Net(nn.Module):
    """PyTorch's "Training a classifier" tutorial (CIFAR-10), as written there."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


class BasicBlock(nn.Module):
    """ResNet's basic block: conv-bn-relu-conv-bn, plus the shortcut (conv1x1-bn when the shape changes)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = self.shortcut(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(BasicBlock(4, 4), BasicBlock(4, 8, stride=2))
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = x.mean((2, 3))  # global average pooling
        return self.fc(x)


class Inception(nn.Module):
    """An inception block: four branches side by side, joined by torch.cat."""

    def __init__(self, cin):
        super().__init__()
        self.b1 = nn.Conv2d(cin, 3, 1)
        self.b2 = nn.Sequential(nn.Conv2d(cin, 2, 1), nn.ReLU(), nn.Conv2d(2, 3, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(cin, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 5, padding=2))
        self.b4 = nn.Conv2d(cin, 2, 1)

    def forward(self, x):
        branches = [self.b1(x), self.b2(x), self.b3(x), self.b4(F.max_pool2d(x, 3, stride=1, padding=1))]
        return F.relu(torch.cat(branches, 1))


class InceptionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 3, 3, padding=1)
        self.inception = Inception(3)
        self.fc = nn.Linear(10 * 3 * 3, 5)

    def forward(self, x):
        x = self.inception(F.relu(self.stem(x)))
        x = F.avg_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        return F.softmax(self.fc(x), dim=1)


class LSTMTagger(nn.Module):
    """The sequence-models tutorial's part-of-speech tagger, as written there."""

    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        # The LSTM takes word embeddings as inputs, and outputs hidden states with dimensionality hidden_dim.
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)
        # The linear layer that maps from hidden state space to tag space
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        tag_scores = F.log_softmax(tag_space, dim=1)
        return tag_scores


TRAINING_DATA = [("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
                 ("Everybody read that book".split(), ["NN", "V", "DET", "NN"])]
WORD_TO_IX = {}
for _sentence, _ in TRAINING_DATA:
    for _word in _sentence:
        WORD_TO_IX.setdefault(_word, len(WORD_TO_IX))


def prepare_sequence(seq, to_ix):
    return torch.tensor([to_ix[w] for w in seq], dtype=torch.long)


# -- equality with torch -----------------------------------------------------------------------------------


def torch_run(model, xs, seed=0):
    """``(output, grad_output, grads)`` of the float64 model: ``grads`` every parameter's ``.grad`` that is set
    (torch's order) and ``"input"`` (zeros for integer inputs)."""
    txs = [x.clone().double().requires_grad_(True) if x.is_floating_point() else x.clone() for x in xs]
    out = model(*txs)
    g = np.random.default_rng(seed).standard_normal(tuple(out.shape))
    model.zero_grad()
    (out * torch.from_numpy(g)).sum().backward()
    grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters() if p.grad is not None}
    first = txs[0]
    grads["input"] = first.grad.numpy().copy() if first.requires_grad else np.zeros(tuple(first.shape))
    return out.detach().numpy(), g, grads


def assert_close(got, expected, what=""):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (what, got.shape, expected.shape)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * scale, err_msg=what)


def check_equals_torch(model, *xs, seed=0):
    """Convert the float64 ``model`` (with ``xs`` as example input), then compare forward and backward with torch.
    Returns ``(graph, trace, backward trace)``."""
    model = model.double()
    xs = tuple(x.double() if x.is_floating_point() else x for x in xs)
    graph = lv.from_torch(model, xs if len(xs) > 1 else xs[0])
    assert isinstance(graph, Graph)
    arrays = [x.numpy() for x in xs]
    out, g, grads = torch_run(model, xs, seed)
    assert_close(graph(*arrays), out, "forward")
    trace = graph.frames(*arrays)
    assert isinstance(trace, GraphTrace)
    assert_close(trace.output, out, "frames")
    btrace = trace.backward(g)
    assert list(btrace.grads) == list(grads), (list(btrace.grads), list(grads))
    for key, expected in grads.items():
        assert_close(btrace.grads[key], expected, key)
    return graph, trace, btrace


def check_random_access(trace, sample=None):
    """``trace[k]`` is the k-th frame of the iteration (every k; or, for ``sample``, the k-th frame of the parts'
    traces one after the other, which the iteration is), and negative k too."""
    parts = list(trace.traces.values()) if hasattr(trace, "traces") else [t for _, _, t in trace.parts]
    starts = np.cumsum([0] + [len(p) for p in parts])
    assert starts[-1] == len(trace)
    frames = list(trace) if sample is None else None
    ks = range(len(trace)) if sample is None else sorted({0, len(trace) - 1, *sample})
    for k in ks:
        i = int(np.searchsorted(starts, k, side="right")) - 1
        frame = trace[k]
        assert frame.index == k and frame.narration.endswith(parts[i][int(k - starts[i])].narration)
        assert trace[k - len(trace)].narration == frame.narration
        if frames is not None:
            assert frames[k].narration == frame.narration


def test_the_tutorial_classifier_equals_torch():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    graph, trace, btrace = check_equals_torch(Net(), x)
    assert [key for key, _ in graph.named_parameters()] == [name for name, _ in Net().named_parameters()]
    # every layer node, in the forward's order; the functions as layers of their own
    assert [type(graph.node(n).op).__name__ for n in trace.names] == [
        "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear", "ReLU",
        "Linear"]
    assert graph.node("pool").module == graph.node("pool_1").module == "pool"  # one module called twice
    assert trace.offsets[-1] == len(trace) == sum(len(t) for t in trace.traces.values())
    rng = np.random.default_rng(1)
    check_random_access(trace, sample=rng.integers(0, len(trace), 300).tolist())
    frame = trace[trace.offsets[1]]
    assert frame.node == "relu" and frame.narration.startswith("[2/12] relu = F.relu(conv1): out[0,0,0,0] = relu(")
    assert trace[0].narration.startswith("[1/12] conv1 = self.conv1(x): out[0,0,0,0] = ")
    last = btrace[len(btrace) - 1]
    assert last.node == "conv1" and last.grad == "conv1:input"  # the input's gradient, through conv1
    assert btrace[0].grad == "fc3.weight"
    assert btrace[0].narration.startswith("backward of fc3 = self.fc3(relu_3): ")
    # a frame reads as its place and its narration (the record a Sequential's frames share)
    assert repr(frame) == f"GraphFrame({frame.index}: {frame.narration})"
    assert repr(last) == f"GraphGradFrame({last.index}: {last.narration})"


def test_a_resnet_stack_with_a_downsampling_shortcut_equals_torch_in_both_modes():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 6, 6)
    model = ResNet().double()
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):  # running statistics of their own
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    graph, trace, btrace = check_equals_torch(model.eval(), x)
    assert not graph.training and not graph.layers()["layer1.1.bn2"].training
    names = [key for key, _ in graph.named_parameters()]
    assert names == [name for name, _ in model.named_parameters()]
    assert "layer1.1.shortcut.0.weight" in names and "layer1.0.shortcut.0.weight" not in names
    assert list(graph.state_dict()) == list(model.state_dict())
    # the first block's shortcut is the identity: the block's input feeds two paths, as the second block's does
    sums = [(node, t) for node, kind, t in btrace.parts if kind == "sum"]
    assert [node for node, _ in sums] == ["relu_2", "relu"]
    for node, part in sums:
        assert len(part.paths) == 2
        start = btrace.offsets[[t for _, _, t in btrace.parts].index(part)]
        frame = btrace[start + 5]
        assert re.match(rf"{node} feeds 2 paths \(path 1: \w+, path 2: \w+\), so its gradient is their sum: "
                        r"dx\[[\d,]+\] = d_path1 \+ d_path2 = \S+ \+ \S+ = \S+$", frame.narration), frame.narration
        assert redo(frame.narration).compared
        assert frame.grad == node and frame.question is not None
        assert_close(btrace.node_grads[node], part.grads["input"])
    # the add hands dout on to both paths unchanged
    add = next(t for node, kind, t in btrace.parts if node.startswith("add"))
    assert add.grads["input"] is add.grads["input1"] or np.array_equal(add.grads["input"], add.grads["input1"])
    # training mode: batch statistics, and the forward updates the running statistics as torch's does
    model.train()
    graph, trace, btrace = check_equals_torch(model, x, seed=3)  # each ran its forward once
    for key, value in model.state_dict().items():
        assert_close(np.asarray(graph.state_dict()[key], dtype=np.float64), value.double().numpy(), key)
    check_random_access(trace, sample=np.random.default_rng(2).integers(0, len(trace), 200).tolist())


def test_an_inception_block_equals_torch_and_its_input_gets_the_sum_of_four_paths():
    torch.manual_seed(2)
    graph, trace, btrace = check_equals_torch(InceptionNet(), torch.randn(2, 2, 6, 6))
    rng = np.random.default_rng(0)
    cat = graph.node("cat")
    assert type(cat.op).__name__ == "Cat" and len(cat.args) == 4 and cat.grad_args == (0, 1, 2, 3)
    assert len(trace.traces["cat"]) == 4  # one frame per tensor joined
    second = trace[trace.frame_range("cat")[1]]
    assert "copied unchanged (torch.cat along dim 1: 3 + 3 + 2 + 2 = 10)" in second.narration
    (node, kind, part), = [p for p in btrace.parts if p[1] == "sum"]
    assert len(part.paths) == 4 and "d_path1 + d_path2 + d_path3 + d_path4" in btrace[btrace.offsets[
        btrace.parts.index((node, kind, part))]].narration
    check_random_access(trace, sample=rng.integers(0, len(trace), 300).tolist())
    check_random_access(btrace, sample=rng.integers(0, len(btrace), 300).tolist())


def test_the_lstm_tagger_equals_torch_for_sentences_of_any_length():
    torch.manual_seed(3)
    model = LSTMTagger(6, 6, len(WORD_TO_IX), 3)
    inputs = prepare_sequence(TRAINING_DATA[0][0], WORD_TO_IX)
    graph, trace, btrace = check_equals_torch(model, inputs)
    assert [type(graph.node(n).op).__name__ for n in trace.names] == [
        "Embedding", "Reshape", "LSTM", "Reshape", "Linear", "LogSoftmax"]
    assert list(btrace.grads)[:1] == ["word_embeddings.weight"]
    assert graph.shapes["view"] == (5, 1, 6) and graph.shapes["lstm"] == ((5, 1, 6), ((1, 1, 6), (1, 1, 6)))
    # only the rows of the words of the sentence get a gradient
    looked_up = set(inputs.tolist())
    rows = np.flatnonzero(np.abs(btrace.grads["word_embeddings.weight"]).sum(axis=1))
    assert set(rows.tolist()) <= looked_up
    # len(sentence) is computed at run time: a sentence of another length works too
    other = prepare_sequence(TRAINING_DATA[1][0], WORD_TO_IX)
    with torch.no_grad():
        expected = model(other).numpy()
    assert_close(graph(other.numpy()), expected)
    assert_close(graph.frames(other).output, expected)
    check_random_access(trace)
    check_random_access(btrace)
    assert trace[0].narration.startswith("[1/6] word_embeddings = self.word_embeddings(sentence): out[0] = weight[")


# -- random chains ------------------------------------------------------------------------------------------


class Chain(nn.Module):
    """A forward made of the steps of ``plan`` (a Python list: fx reads it as the forward's code)."""

    def __init__(self, plan, channels, size, classes, head, last):
        super().__init__()
        self.mods = nn.ModuleList()
        self.steps = []
        c, s = channels, size
        for step in plan:
            if step in ("maxpool", "avgpool") and s < 2:
                continue
            index = len(self.mods)
            if step == "conv":
                k = 3 if s >= 3 else 1
                out = 1 + index % 3
                self.mods.append(nn.Conv2d(c, out, k, padding=k // 2))
                c = out
            elif step == "bn":
                bn = nn.BatchNorm2d(c)
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 1.5)
                self.mods.append(bn)
            elif step == "residual":
                self.mods.append(nn.Conv2d(c, c, 1))
            elif step == "cat":
                self.mods.append(nn.Conv2d(c, 2, 1))
                self.mods.append(nn.Conv2d(c, 1, 1))
                c = 3
            elif step in ("maxpool", "avgpool"):
                s //= 2
            self.steps.append((step, index))
        self.head, self.last = head, last
        self.fc = nn.Linear(c if head == "mean" else c * s * s, classes)

    def forward(self, x):
        for step, i in self.steps:
            if step == "conv" or step == "bn":
                x = self.mods[i](x)
            elif step == "relu":
                x = F.relu(x)
            elif step == "tanh":
                x = torch.tanh(x)
            elif step == "sigmoid":
                x = x.sigmoid()
            elif step == "maxpool":
                x = F.max_pool2d(x, 2)
            elif step == "avgpool":
                x = F.avg_pool2d(x, 2)
            elif step == "residual":
                x = x + F.relu(self.mods[i](x))
            elif step == "cat":
                x = torch.cat((self.mods[i](x), self.mods[i + 1](x)), dim=1)
        if self.head == "flatten":
            x = torch.flatten(x, 1)
        elif self.head == "view":
            x = x.view(x.size(0), -1)
        else:
            x = x.mean((2, 3))
        x = self.fc(x)
        if self.last == "softmax":
            return F.softmax(x, dim=1)
        if self.last == "log_softmax":
            return F.log_softmax(x, dim=1)
        return x


STEPS = ("conv", "relu", "tanh", "sigmoid", "maxpool", "avgpool", "bn", "residual", "cat")


@FAST
@given(plan=st.lists(st.sampled_from(STEPS), min_size=1, max_size=5), channels=st.integers(1, 3),
       size=st.integers(2, 6), batch=st.integers(1, 2), head=st.sampled_from(["flatten", "view", "mean"]),
       last=st.sampled_from(["none", "softmax", "log_softmax"]), seed=st.integers(0, 2**16))
def test_random_chains_equal_torch(plan, channels, size, batch, head, last, seed):
    torch.manual_seed(seed)
    model = Chain(plan, channels, size, 3, head, last).eval()
    x = torch.randn(batch, channels, size, size)
    graph, trace, btrace = check_equals_torch(model, x, seed=seed)
    rng = np.random.default_rng(seed)
    check_random_access(trace, sample=rng.integers(0, len(trace), 60).tolist())
    check_random_access(btrace, sample=rng.integers(0, len(btrace), 60).tolist())


# -- the operations one by one ------------------------------------------------------------------------------


class Ops(nn.Module):
    """Reshapes, permutes, indexing, a mean with keepdim, a number added, contiguous, torch.add, x.add."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.gru = nn.GRU(6, 3, batch_first=True)

    def forward(self, x):
        h = self.fc(x)  # (N, 5, 6)
        h = h.permute(0, 2, 1).transpose(1, 2).contiguous()
        h = torch.add(h.reshape(h.shape[0], 5, 2, 3).reshape(-1, 5, 6), 1.5)
        out, last = self.gru(h.unsqueeze(0).squeeze(0))
        a = out[:, -1]  # (N, 3)
        b = last[0].add(out.mean(dim=1, keepdim=True).squeeze(1))
        return torch.tanh(a + b).unsqueeze(1).flatten(1)[:, : x.size(2) - 1] + 2


def test_the_graph_operations_equal_torch():
    torch.manual_seed(4)
    graph, trace, btrace = check_equals_torch(Ops(), torch.randn(2, 5, 4))
    kinds = {type(graph.node(n).op).__name__ for n in trace.names}
    assert {"Permute", "Reshape", "Add", "Index", "Mean", "GRU", "Tanh", "Flatten"} <= kinds
    check_random_access(trace)
    check_random_access(btrace)
    for k in range(len(trace)):  # the arithmetic shown can be redone
        if type(trace[k].layer).__name__ in ("Add", "Mean"):
            assert redo(trace[k].narration).compared


def test_a_module_called_twice_sums_the_gradients_of_its_uses():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(F.relu(self.fc(x)))

    torch.manual_seed(5)
    graph, trace, _ = check_equals_torch(Twice(), torch.randn(4, 3))
    assert [n.module for n in graph.nodes if n.module] == ["fc", "fc"]
    assert [key for key, _ in graph.named_parameters()] == ["fc.weight", "fc.bias"]


def test_a_forward_with_a_default_argument_is_fixed_at_its_default():
    class WithDefault(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x, hidden=None, scale=2):
            if hidden is None:
                x = F.relu(x)
            return self.fc(x) + scale

    torch.manual_seed(6)
    graph, _, _ = check_equals_torch(WithDefault(), torch.randn(4, 3))
    assert graph.inputs == ("x",)


# -- parameters, state_dict, modes, repr --------------------------------------------------------------------


def test_state_dict_round_trips_with_torch():
    torch.manual_seed(7)
    model, other = ResNet().double().eval(), ResNet().double().eval()
    graph = lv.from_torch(model)
    assert [k for k, _ in graph.named_parameters()] == [k for k, _ in model.named_parameters()]
    assert list(graph.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        other.layer1[1].bn2.running_mean.uniform_(-1, 1)
    result = graph.load_state_dict(other.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        expected = other(x).numpy()
    assert_close(graph(x.numpy()), expected)
    for key, value in other.state_dict().items():
        assert np.array_equal(np.asarray(graph.state_dict()[key], dtype=np.float64), value.double().numpy()), key
    # the arrays of named_parameters are the layers' own
    name, array = graph.named_parameters()[0]
    assert array is graph.layers()["conv1"].weight


def test_load_state_dict_refuses_missing_unexpected_and_misshapen_keys():
    graph = lv.from_torch(Net())
    state = Net().state_dict()
    del state["fc3.bias"]
    state["fc4.weight"] = torch.zeros(2, 2)
    with pytest.raises(ValueError, match=r"Missing key\(s\) in state_dict: 'fc3.bias'.*Unexpected key\(s\) in "
                                         r"state_dict: 'fc4.weight'"):
        graph.load_state_dict(state)
    result = graph.load_state_dict(state, strict=False)
    assert result.missing_keys == ["fc3.bias"] and result.unexpected_keys == ["fc4.weight"]
    state = Net().state_dict()
    state["conv2.weight"] = torch.zeros(16, 6, 3, 3)
    before = graph.layers()["conv1"].weight.copy()
    with pytest.raises(ValueError, match=r"state_dict\['conv2.weight'\]: weight must have shape \(16, 6, 5, 5\), got "
                                         r"shape \(16, 6, 3, 3\)"):
        graph.load_state_dict(state)
    assert np.array_equal(graph.layers()["conv1"].weight, before)  # nothing loaded


def test_train_and_eval_reach_the_modules_layers_not_a_functions_dropout():
    class Drop(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.bn = nn.BatchNorm1d(3)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return F.dropout(self.drop(self.bn(self.fc(x))), p=0.2, training=False)

    graph = lv.from_torch(Drop())
    assert graph.training and graph.layers()["drop"].training
    graph.eval()
    assert not graph.training and not graph.layers()["bn"].training and not graph.layers()["drop"].training
    function_dropout = graph.node("dropout").op
    assert function_dropout.p == 0.2 and not function_dropout.training
    graph.train()
    assert not function_dropout.training  # F.dropout keeps the training flag it was called with


def test_repr_reads_like_the_forward():
    text = repr(lv.from_torch(Net()))
    assert text.startswith("Graph(\n  x: input\n  conv1 = self.conv1(x)    # Conv2d(3, 6, kernel_size=(5, 5)")
    assert "\n  relu = F.relu(conv1)    # ReLU()\n" in text
    assert "\n  flatten = torch.flatten(pool_1, 1)    # Flatten(start_dim=1, end_dim=-1)\n" in text
    assert text.endswith("\n  return fc3\n)")
    tagger = repr(lv.from_torch(LSTMTagger(3, 3, 5, 2)))
    assert "\n  len_1 = len(sentence)\n  view = word_embeddings.view(len_1, 1, -1)    # Reshape('view')\n" in tagger
    assert "\n  getitem = lstm[0]\n" in tagger


def test_sequentials_still_convert_to_sequential():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    assert isinstance(lv.from_torch(model), lv.Sequential)
    x = torch.randn(1, 1, 4, 4)
    assert isinstance(lv.from_torch(model, x), lv.Sequential)  # the example input is checked against torch


def test_the_scenes_draw():
    torch.manual_seed(8)
    graph = lv.from_torch(ResNet().eval())
    trace = graph.frames(np.random.default_rng(0).standard_normal((1, 3, 4, 4)))
    scene = trace.scene()
    assert scene.n_frames == len(trace) and scene.panels[0].name == "x"
    assert [p.name for p in scene.panels[1:]] == list(trace.names)
    assert scene.captions[3] == trace[3].narration
    bscene = trace.backward().scene()
    assert bscene.n_frames == len(trace.backward())


def test_the_example_input_must_run():
    with pytest.raises(ValueError, match=r"cannot run on example_input: node conv1 \(conv1 = self.conv1\(x\), at "
                                         r"test_graph.py, line \d+, in forward"):
        lv.from_torch(Net(), torch.randn(1, 2, 32, 32))


# -- what cannot be converted -------------------------------------------------------------------------------


def _line_of(cls, marker: str) -> int:
    lines, start = inspect.getsourcelines(cls.forward)
    return start + next(i for i, line in enumerate(lines) if marker in line)


class Sorts(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        values, _ = torch.sort(self.fc(x), dim=1)
        return values


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = self.fc(x)
        if h.sum() > 0:
            return F.relu(h)
        return h


class Loops(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        for _ in range(len(x)):
            x = self.fc(x)
        return x


class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.norm = nn.GroupNorm(2, 4)

    def forward(self, x):
        return self.norm(self.fc(x))


class OwnWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(4, 4))

    def forward(self, x):
        return x @ self.w


class Scales(nn.Module):
    def forward(self, x):
        return F.gelu(x) * 2


@pytest.mark.parametrize("cls, node, op, marker, why", [
    (Sorts, "sort", "sort = torch.sort(fc, dim=1)", "torch.sort", "torch.sort is not supported"),
    (Branches, "gt", "gt = sum_1 > 0", "if h.sum()", "uses an if (or while, and, or, not) on a value computed from "
                                                      "the input"),
    (Norms, "norm", "norm = self.norm(fc)", "self.norm", "torch.nn.GroupNorm at 'norm' in the model cannot be "
                                                         "converted: layerviz has no GroupNorm layer"),
    (OwnWeight, "w", "w = self.w", "self.w", "the forward reads self.w directly"),
    (Scales, "gelu", "gelu = F.gelu(x)", "F.gelu", "F.gelu is not supported"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_what_cannot_be_converted_is_named_with_its_node_op_and_line(cls, node, op, marker, why):
    line = _line_of(cls, marker)
    source = next(s for s in inspect.getsourcelines(cls.forward)[0] if marker in s).strip()
    with pytest.raises(ValueError) as info:
        lv.from_torch(cls())
    message = str(info.value)
    assert message.startswith(cls.__qualname__)
    assert f"node {node!r} ({op})" in message, message
    assert f"test_graph.py, line {line}, in forward (`{source}`)" in message, message
    assert why in message, message
    if cls is not Branches:
        assert "Supported" in message


def test_a_loop_over_the_inputs_length_is_refused_naming_its_line():
    line = _line_of(Loops, "for _ in")
    where = f"at test_graph.py, line {line}, in forward (`for _ in range(len(x)):`)"
    with pytest.raises(ValueError, match=re.escape(f"torch.fx could not follow its forward {where}")):
        lv.from_torch(Loops())


def test_a_product_of_tensors_is_refused_and_a_product_of_sizes_is_not():
    class Sizes(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x.view(x.size(0) * x.size(1) // 2, -1))

    torch.manual_seed(9)
    check_equals_torch(Sizes(), torch.randn(2, 3, 2))

    class Product(nn.Module):
        def forward(self, x):
            return x * x

    with pytest.raises(ValueError, match=r"node 'mul' \(mul = x \* x\).*: \* on tensors is not supported"):
        lv.from_torch(Product())


def test_not_a_torch_model_is_refused_as_before():
    for value in (object(), "Conv2d", None, lv.Conv2d(1, 1, 3)):
        with pytest.raises(ValueError, match="cannot be converted"):
            lv.from_torch(value)
