"""Ready models for the page "Your own model": four ``torch.nn`` models as :class:`~layerviz.Graph`, built without torch.

Each :class:`ZooModel` holds the torch source a student would type (``source``: the class, from PyTorch's
tutorials), the expression that builds it (``construct``), the graph layerviz builds for it, with the names
:func:`layerviz.from_torch` gives its nodes and torch's ``state_dict`` keys, its weights drawn from
``numpy.random.default_rng(seed)`` (untrained), and an input made here (no download):

- ``cifar``: the ``Net`` of "Training a classifier" (CIFAR-10), on a drawn 3×32×32 picture (sky, sun, ground, a house);
- ``lenet``: LeNet of "Neural networks" (``F.max_pool2d``), on a 1×32×32 digit (:func:`layerviz.data.digit`);
- ``resnet``: two residual BasicBlocks (the second with a downsampling 1×1 convolution on its shortcut), batch
  norm in eval mode, on the picture at 3×16×16;
- ``tagger``: the embedding + LSTM tagger of "Sequence models", on "The dog ate the apple" (its ``word_to_ix``).

``torch_model(source, construct, graph)`` in the tests builds the torch model from ``source`` and loads
``graph.state_dict()`` into it: both compute the same outputs and gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerviz import data
from layerviz.graph.model import Graph
from layerviz.graph.nodes import Item, Node, Ref
from layerviz.graph.ops.add import Add
from layerviz.graph.ops.log_softmax import LogSoftmax
from layerviz.graph.ops.reshape import Reshape
from layerviz.layers import (
    LSTM,
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Embedding,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
)

#: The ready models, in the order the page offers them.
NAMES = ("cifar", "lenet", "resnet", "tagger")

#: CIFAR-10's classes, in its label order.
CIFAR_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: The tagger's sentence, vocabulary and tags, as the sequence-models tutorial builds them.
SENTENCE = ("The", "dog", "ate", "the", "apple")
TRAINING_DATA = (("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
                 ("Everybody read that book".split(), ["NN", "V", "DET", "NN"]))
WORD_TO_IX = {word: i for i, word in enumerate(dict.fromkeys(w for sentence, _ in TRAINING_DATA for w in sentence))}
TAG_TO_IX = {"DET": 0, "NN": 1, "V": 2}


@dataclass(frozen=True, eq=False)
class ZooModel:
    """A ready model: its torch source, its graph with weights, its input.

    Attributes
    ----------
    name : str
        A key of :data:`NAMES`.
    title : str
        What the page calls it.
    source : str
        The torch code a student types: imports and the model's class(es).
    construct : str
        The expression building the model from ``source`` (``"Net()"``, ``"LSTMTagger(6, 6, 9, 3)"``).
    example : str
        The torch line making the input (``"x = torch.rand(1, 3, 32, 32)"``), for the three lines.
    graph : Graph
        The model as layerviz runs it, weights from ``rng(seed)``.
    input : ndarray
        ``(1, 3, 32, 32)`` for an image model; ``(5,)`` token ids for the tagger.
    labels : tuple of str
        The names of the output's last axis (CIFAR's classes, the digits, the tags).
    about : str
        One sentence on the model and its input.
    eval : bool
        True when the model runs in eval mode (``model.eval()``: batch norm uses its running statistics).
    """

    name: str
    title: str
    source: str
    construct: str
    example: str
    graph: Graph
    input: np.ndarray
    labels: tuple[str, ...]
    about: str
    eval: bool = False


class _Builder:
    """Nodes named as :func:`layerviz.from_torch` names them: a module call ``layer1.conv1`` becomes node
    ``layer1_conv1``; a function's node takes the function's name, numbered from its second use (``relu_1``)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list[Node] = []
        self._used: dict[str, int] = {}

    def _name(self, base: str) -> str:
        count = self._used.get(base, 0)
        self._used[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def input(self, name: str) -> str:
        self.nodes.append(Node(name, "input"))
        return name

    def module(self, path: str, layer: Any, x: str) -> str:
        """``self.<path>(x)``; a layer object used twice (``self.pool``) is passed twice."""
        name = self._name(path.replace(".", "_"))
        self.nodes.append(Node(name, "layer", layer, (Ref(x),), (0,), module=path, code=f"{name} = self.{path}({x})"))
        return name

    def function(self, base: str, layer: Any, call: str, args: tuple, grad_args: tuple = (0,)) -> str:
        """A function's node: ``call`` is its code, formatted with the names of the nodes in ``args``
        (``"torch.flatten({0}, 1)"``)."""
        name = self._name(base)
        text = call.format(*(a.name for a in args if isinstance(a, Ref)))
        self.nodes.append(Node(name, "layer", layer, args, grad_args, code=f"{name} = {text}"))
        return name

    def relu(self, x: str) -> str:
        return self.function("relu", ReLU(), "F.relu({0})", (Ref(x),))

    def add(self, a: str, b: str) -> str:
        name = self._name("add")
        self.nodes.append(Node(name, "layer", Add(), (Ref(a), Ref(b)), (0, 1), code=f"{name} = {a} + {b}"))
        return name

    def value(self, base: str, op: Callable, call: str, x: str) -> str:
        name = self._name(base)
        self.nodes.append(Node(name, "value", op, (Ref(x),), code=f"{name} = {call.format(x)}"))
        return name

    def item(self, x: str, index: int) -> str:
        name = self._name("getitem")
        self.nodes.append(Node(name, "item", Item(index), (Ref(x),), code=f"{name} = {x}[{index}]"))
        return name

    def graph(self, output: str) -> Graph:
        return Graph(self.nodes, Ref(output))

    # layers with weights drawn from the builder's generator

    def conv(self, *args: Any, **kwargs: Any) -> Conv2d:
        return Conv2d(*args, rng=self.rng, **kwargs)

    def linear(self, in_features: int, out_features: int) -> Linear:
        return Linear(in_features, out_features, rng=self.rng)

    def batchnorm(self, channels: int) -> BatchNorm2d:
        """Eval mode, with running statistics and an affine transform of their own (the defaults do nothing)."""
        layer = BatchNorm2d(channels)
        layer.weight = self.rng.uniform(0.5, 1.5, channels)
        layer.bias = self.rng.uniform(-0.3, 0.3, channels)
        layer.running_mean = self.rng.uniform(-0.2, 0.2, channels)
        layer.running_var = self.rng.uniform(0.5, 1.5, channels)
        layer.eval()
        return layer


# -- inputs -------------------------------------------------------------------------------------------


def picture(size: int = 32) -> np.ndarray:
    """A CIFAR-like picture drawn here, ``(3, size, size)`` RGB in [0, 1]: a blue sky lighter at the horizon, a
    yellow sun, green ground, and a red house with a brown roof."""
    y, x = np.mgrid[0:size, 0:size] / size
    sky = y < 0.62
    rgb = np.empty((3, size, size))
    rgb[0] = np.where(sky, 0.35 + 0.4 * y, 0.25 + 0.1 * x)
    rgb[1] = np.where(sky, 0.55 + 0.35 * y, 0.6 - 0.2 * (y - 0.62))
    rgb[2] = np.where(sky, 0.95, 0.2)
    sun = (x - 0.8) ** 2 + (y - 0.18) ** 2 < 0.012
    rgb[:, sun] = np.array([1.0, 0.9, 0.3])[:, None]
    wall = (x > 0.2) & (x < 0.5) & (y > 0.45) & (y < 0.8)
    rgb[:, wall] = np.array([0.8, 0.15, 0.1])[:, None]
    roof = (y <= 0.45) & (y > 0.3) & (np.abs(x - 0.35) < (y - 0.3) * 1.3)
    rgb[:, roof] = np.array([0.45, 0.25, 0.1])[:, None]
    door = (x > 0.31) & (x < 0.39) & (y > 0.62) & (y < 0.8)
    rgb[:, door] = np.array([0.2, 0.1, 0.05])[:, None]
    return np.clip(rgb, 0.0, 1.0)


def sentence_ids(words: tuple[str, ...] = SENTENCE) -> np.ndarray:
    """``prepare_sequence(words, word_to_ix)``: the token ids, ``(len(words),)`` int64."""
    unknown = [w for w in words if w not in WORD_TO_IX]
    if unknown:
        raise ValueError(f"words must be in the vocabulary {list(WORD_TO_IX)}, got {unknown}")
    return np.array([WORD_TO_IX[w] for w in words], dtype=np.int64)


# -- the models ---------------------------------------------------------------------------------------

_CIFAR_SOURCE = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
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
'''


def cifar(seed: int = 0) -> ZooModel:
    """The CIFAR-10 ``Net`` of PyTorch's "Training a classifier", on :func:`picture` ``(1, 3, 32, 32)``."""
    b = _Builder(np.random.default_rng(seed))
    pool = MaxPool2d(2, 2)
    x = b.input("x")
    x = b.module("pool", pool, b.relu(b.module("conv1", b.conv(3, 6, 5), x)))
    x = b.module("pool", pool, b.relu(b.module("conv2", b.conv(6, 16, 5), x)))
    x = b.function("flatten", Flatten(1), "torch.flatten({0}, 1)", (Ref(x),))
    x = b.relu(b.module("fc1", b.linear(400, 120), x))
    x = b.relu(b.module("fc2", b.linear(120, 84), x))
    x = b.module("fc3", b.linear(84, 10), x)
    return ZooModel("cifar", "CIFAR-10 Net (Training a classifier)", _CIFAR_SOURCE, "Net()",
                    "x = torch.rand(1, 3, 32, 32)", b.graph(x), picture(32)[None], CIFAR_CLASSES,
                    "The convolutional network of PyTorch's tutorial \"Training a classifier\": two convolutions with "
                    "ReLU and max pooling, three linear layers, ten class scores; here on a 32×32 picture drawn by "
                    "layerviz (a house under a sky), with untrained weights (seed {seed}).".format(seed=seed))


_LENET_SOURCE = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x
'''


def lenet(seed: int = 0, digit: int = 7) -> ZooModel:
    """LeNet as PyTorch's "Neural networks" tutorial writes it, on a 32×32 ``digit`` ``(1, 1, 32, 32)``."""
    b = _Builder(np.random.default_rng(seed))
    x = b.input("x")
    x = b.function("max_pool2d", MaxPool2d((2, 2)), "F.max_pool2d({0}, (2, 2))",
                   (Ref(b.relu(b.module("conv1", b.conv(1, 6, 5), x))),))
    x = b.function("max_pool2d", MaxPool2d(2), "F.max_pool2d({0}, 2)",
                   (Ref(b.relu(b.module("conv2", b.conv(6, 16, 5), x))),))
    x = b.function("flatten", Flatten(1), "torch.flatten({0}, 1)", (Ref(x),))
    x = b.relu(b.module("fc1", b.linear(400, 120), x))
    x = b.relu(b.module("fc2", b.linear(120, 84), x))
    x = b.module("fc3", b.linear(84, 10), x)
    return ZooModel("lenet", "LeNet on a digit", _LENET_SOURCE, "LeNet()", "x = torch.rand(1, 1, 32, 32)",
                    b.graph(x), data.digit(digit, 32)[None], tuple(str(d) for d in range(10)),
                    f"LeNet as PyTorch's tutorial \"Neural networks\" writes it (F.max_pool2d in the forward), on a "
                    f"32×32 image of a {digit}, with untrained weights (seed {seed}).")


_RESNET_SOURCE = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity  # the residual connection
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = BasicBlock(4, 4)
        self.layer2 = BasicBlock(4, 8, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)
'''


def _basic_block(b: _Builder, path: str, x: str, in_planes: int, planes: int, stride: int = 1) -> str:
    out = b.relu(b.module(f"{path}.bn1", b.batchnorm(planes),
                          b.module(f"{path}.conv1", b.conv(in_planes, planes, 3, stride=stride, padding=1,
                                                           bias=False), x)))
    out = b.module(f"{path}.bn2", b.batchnorm(planes),
                   b.module(f"{path}.conv2", b.conv(planes, planes, 3, padding=1, bias=False), out))
    identity = x
    if stride != 1 or in_planes != planes:
        identity = b.module(f"{path}.downsample.1", b.batchnorm(planes),
                            b.module(f"{path}.downsample.0", b.conv(in_planes, planes, 1, stride=stride, bias=False),
                                     x))
    return b.relu(b.add(out, identity))


def resnet(seed: int = 0, size: int = 16) -> ZooModel:
    """Two residual BasicBlocks (4 then 8 channels, the second halving the picture with a 1×1 convolution on its
    shortcut), on :func:`picture` at ``(1, 3, size, size)``; batch norm in eval mode."""
    b = _Builder(np.random.default_rng(seed))
    x = b.input("x")
    x = b.relu(b.module("bn1", b.batchnorm(4), b.module("conv1", b.conv(3, 4, 3, padding=1, bias=False), x)))
    x = _basic_block(b, "layer1", x, 4, 4)
    x = _basic_block(b, "layer2", x, 4, 8, stride=2)
    x = b.module("avgpool", AdaptiveAvgPool2d((1, 1)), x)
    x = b.function("flatten", Flatten(1), "torch.flatten({0}, 1)", (Ref(x),))
    x = b.module("fc", b.linear(8, 10), x)
    return ZooModel("resnet", "A small ResNet (two residual blocks)", _RESNET_SOURCE, "ResNet()",
                    f"x = torch.rand(1, 3, {size}, {size})", b.graph(x), picture(size)[None], CIFAR_CLASSES,
                    f"Two residual blocks as torchvision's BasicBlock: conv, batch norm, ReLU, conv, batch norm, "
                    f"plus the block's input (the second block's through a 1×1 convolution that halves the "
                    f"picture). Batch norm in eval mode; on the picture at {size}×{size}; untrained weights "
                    f"(seed {seed}).", eval=True)


_TAGGER_SOURCE = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

training_data = [
    ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Everybody read that book".split(), ["NN", "V", "DET", "NN"]),
]
word_to_ix = {}
for sent, tags in training_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
tag_to_ix = {"DET": 0, "NN": 1, "V": 2}
EMBEDDING_DIM = 6
HIDDEN_DIM = 6


def prepare_sequence(seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    return torch.tensor(idxs, dtype=torch.long)


class LSTMTagger(nn.Module):
    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        tag_scores = F.log_softmax(tag_space, dim=1)
        return tag_scores
'''


def tagger(seed: int = 0) -> ZooModel:
    """The LSTM part-of-speech tagger of PyTorch's "Sequence models" tutorial, on "The dog ate the apple" ``(5,)``."""
    b = _Builder(np.random.default_rng(seed))
    sentence = b.input("sentence")
    b._used["len"] = 1  # torch.fx never names a node after a builtin: len_1, len_2
    embeds = b.module("word_embeddings", Embedding(len(WORD_TO_IX), 6, rng=b.rng), sentence)
    length = b.value("len", len, "len({})", sentence)
    view = b.function("view", Reshape("view"), "{0}.view({1}, 1, -1)", (Ref(embeds), Ref(length), 1, -1))
    lstm = b.module("lstm", LSTM(6, 6, rng=b.rng), view)
    lstm_out = b.item(lstm, 0)
    b.item(lstm, 1)
    length = b.value("len", len, "len({})", sentence)
    view = b.function("view", Reshape("view"), "{0}.view({1}, -1)", (Ref(lstm_out), Ref(length), -1))
    tag_space = b.module("hidden2tag", b.linear(6, len(TAG_TO_IX)), view)
    scores = b.function("log_softmax", LogSoftmax(dim=1), "F.log_softmax({0}, dim=1)", (Ref(tag_space),))
    return ZooModel("tagger", "LSTM tagger (Sequence models)", _TAGGER_SOURCE,
                    "LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix))",
                    'x = prepare_sequence("The dog ate the apple".split(), word_to_ix)', b.graph(scores),
                    sentence_ids(), tuple(TAG_TO_IX),
                    "The part-of-speech tagger of PyTorch's tutorial \"Sequence models and LSTM networks\": each word "
                    "id picks a row of the embedding table, an LSTM reads the 5 words, a linear layer and a "
                    f"log-softmax score the 3 tags (DET, NN, V) of each word. Untrained weights (seed {seed}).")


#: The model of each name.
BUILDERS: dict[str, Callable[..., ZooModel]] = {"cifar": cifar, "lenet": lenet, "resnet": resnet, "tagger": tagger}


def model(name: str, seed: int = 0) -> ZooModel:
    """The ready model ``name`` (one of :data:`NAMES`) with weights from ``numpy.random.default_rng(seed)``."""
    if name not in BUILDERS:
        raise ValueError(f"model must be one of {', '.join(NAMES)}, got {name!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer between 0 and {2**32 - 1}, got {seed!r}")
    return BUILDERS[name](int(seed))
