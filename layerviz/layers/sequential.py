"""Sequential: layers applied one after the other, and Flatten, which turns feature maps into a vector.

``Sequential(l1, l2, ..., lL)(x) = lL(... l2(l1(x)))``: the output of each layer is the input of the next.

``Flatten(start_dim=1, end_dim=-1)`` joins the axes ``start_dim..end_dim`` into one, in row-major order,
as ``torch.nn.Flatten``: ``(N, C, H, W) -> (N, C*H*W)``. It moves no number, only the shape changes.

Anatomy of a network (the words of the course): the **input layer** is the data itself, one neuron per
feature; a **hidden layer** computes new features from the previous layer; the **output layer** gives
the prediction. Only layers with weights are counted (``Linear``, ``Dense``, ``Conv2d``): an
activation, a pooling, a flatten, a dropout or a batch norm is a step inside the weighted layer before
it, not a layer of its own. So ``Linear -> ReLU -> Linear -> ReLU -> Linear -> Softmax`` has 2 hidden
layers and 1 output layer: **number of layers = hidden layers + output layer = 2 + 1 = 3**
(the input layer holds no weights and is not counted).

Frames: the frames of the first layer of the Sequential, then those of the second, and so on, each
captioned with the layer it belongs to, counted as above: ``layer 1/3 (hidden) Linear(2, 8): out[0,1] = …``
for a weighted layer, ``layer 3/3 (output), softmax step Softmax(dim=-1): …`` for a step inside one (``input,
flatten step …`` before the first weighted layer). A Sequential without weighted layers, or holding another
Sequential, numbers its entries instead (``layer 2/4 ReLU(): …``). ``trace[k]`` finds the layer by bisection over the
cumulative frame counts and asks that layer's trace (computed once) for its frame: O(log L).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerviz.layers._chain import (
    ChainFrame,
    chain_offsets,
    largest_finite,
    part_of,
    placed_origin,
    placed_page,
    placed_reveal,
)
from layerviz.layers._module import Module, Setting
from layerviz.layers.activation import Softmax, _Activation, check_x
from layerviz.layers.conv import Conv2d
from layerviz.layers.dense import Dense
from layerviz.layers.linear import Linear
from layerviz.scene import Grid, Highlight, Network, Scene, picture_cmap
from layerviz.backward import BackwardTrace, HasBackward, copy_section
from layerviz.tensor_grid import tensor_grid
from layerviz.trace import LazyCaptions, Trace

#: Layers that hold weights: the ones counted as layers of a network (see the module docstring).
WEIGHTED = (Linear, Dense, Conv2d)

#: The pictures of a sequential trace.
SEQUENTIAL_VIEWS = ("flow", "neurons")


def _integer(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _dim(name: str, value: object, ndim: int) -> int:
    value = _integer(name, value)
    if not -ndim <= value < ndim:
        raise ValueError(f"{name} must be in [{-ndim}, {ndim - 1}] for x of {ndim} dimensions, got {value}")
    return int(value) % ndim


class Flatten(Module):
    """``torch.nn.Flatten``: join the axes ``start_dim`` to ``end_dim`` (included) into one.

    Parameters
    ----------
    start_dim : int, default 1
        The first axis joined; 1 keeps the batch axis 0 of ``(N, C, H, W)``.
    end_dim : int, default -1

    Examples
    --------
    >>> Flatten()(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    """

    start_dim = Setting(_integer)
    end_dim = Setting(_integer)

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    @classmethod
    def _from_torch(cls, module) -> Flatten:
        """The layer equal to a ``torch.nn.Flatten`` (see :func:`layerviz.from_torch`)."""
        return cls(module.start_dim, module.end_dim)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of ``flatten(x)`` for ``x`` of ``shape``; ValueError if the axes do not fit."""
        ndim = max(len(shape), 1)
        start, end = _dim("start_dim", self.start_dim, ndim), _dim("end_dim", self.end_dim, ndim)
        if start > end:
            raise ValueError(f"start_dim must not come after end_dim, got start_dim={self.start_dim}, "
                             f"end_dim={self.end_dim} for x of {ndim} dimensions")
        shape = tuple(shape) or (1,)
        return shape[:start] + (int(np.prod(shape[start : end + 1], dtype=np.int64)),) + shape[end + 1 :]

    def forward(self, x: ArrayLike) -> np.ndarray:
        """``x`` reshaped to :meth:`output_shape` (row-major order, a copy)."""
        x = check_x(x)
        return x.reshape(self.output_shape(x.shape)).copy()

    __call__ = forward

    def frames(self, x: ArrayLike) -> FlattenTrace:
        """One frame: the whole reshape."""
        return FlattenTrace(self, x)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"


@dataclass(frozen=True, eq=False)
class FlattenFrame:
    """The reshape: ``input_shape -> output_shape``, with the narration."""

    index: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    narration: str


class FlattenTrace(HasBackward, Trace):
    """One frame: the input's numbers read row by row into the flattened output."""

    n_frames = 1

    def __init__(self, layer: Flatten, x: ArrayLike) -> None:
        self.layer = layer
        self.input = check_x(x).copy()
        self.output = layer.forward(self.input)
        self.input.flags.writeable = False
        self.output.flags.writeable = False

    def _frame(self, k: int) -> FlattenFrame:
        layer, shape = self.layer, self.input.shape
        ndim = max(len(shape), 1)
        start, end = layer.start_dim % ndim, layer.end_dim % ndim
        joined = " × ".join(str(d) for d in shape[start : end + 1]) or "1"
        narration = (f"flatten axes {start}…{end}: {shape} → {self.output.shape} ({joined} = "
                     f"{int(np.prod(shape[start:end + 1], dtype=np.int64))} values, read row by row; no number changes)")
        return FlattenFrame(k, shape, self.output.shape, narration)

    def element_frames(self) -> np.ndarray:
        return np.zeros(self.output.shape, dtype=np.int64)

    def scene(self) -> Scene:
        """The input and the same numbers in the flattened shape."""
        inp = tensor_grid("input", "input", self.input, "x")
        out = tensor_grid("output", "flattened", self.output, "out", op="→")
        vmax = float(np.abs(self.input).max()) or 1.0
        return Scene(repr(self.layer), 1, (inp, out), (), LazyCaptions(self), vmax)


# -- Sequential -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRole:
    """A layer of a network in the anatomy: its weighted layer and the steps that follow it.

    Attributes
    ----------
    indices : tuple of int
        Positions in the Sequential of the weighted layer and of the unweighted layers after it.
    description : str
        ``"Linear(2, 8) + ReLU()"``.
    neurons : int
        Output neurons (Linear, Dense) or feature maps (Conv2d).
    unit : str
        ``"neurons"`` or ``"feature maps"``.
    """

    indices: tuple[int, ...]
    description: str
    neurons: int
    unit: str


@dataclass(frozen=True)
class Anatomy:
    """The input layer, hidden layers and output layer of a :class:`Sequential`.

    Attributes
    ----------
    input_size : int
        Features of one input (Linear, Dense) or its channels (Conv2d).
    input_unit : str
    preprocessing : tuple of str
        Unweighted layers before the first weighted one (e.g. a Flatten).
    hidden : tuple of LayerRole
    output : LayerRole
    n_layers : int
        ``len(hidden) + 1``.
    """

    input_size: int
    input_unit: str
    preprocessing: tuple[str, ...]
    hidden: tuple[LayerRole, ...]
    output: LayerRole

    @property
    def n_layers(self) -> int:
        return len(self.hidden) + 1

    @property
    def statement(self) -> str:
        """``number of layers = hidden layers + output layer = 2 + 1 = 3``."""
        return f"number of layers = hidden layers + output layer = {len(self.hidden)} + 1 = {self.n_layers}"

    def lines(self) -> list[str]:
        pre = f" → {' → '.join(self.preprocessing)}" if self.preprocessing else ""
        rows = [f"input layer: {_count(self.input_size, self.input_unit)}{pre}"]
        rows += [f"hidden layer {i + 1}: {role.description} ({_count(role.neurons, role.unit)})"
                 for i, role in enumerate(self.hidden)]
        rows.append(f"output layer: {self.output.description} ({_count(self.output.neurons, self.output.unit)})")
        return rows + [self.statement]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        import html

        return "<br>".join(html.escape(line) for line in self.lines())


def _count(n: int, unit: str) -> str:
    """``1 neuron``, ``8 neurons``, ``1 feature map``."""
    return f"{n} {unit[:-1] if n == 1 else unit}"


def _neurons(layer) -> tuple[int, int, str, str]:
    """``(inputs, outputs, input unit, output unit)`` of a weighted layer."""
    if isinstance(layer, Conv2d):
        return layer.in_channels, layer.out_channels, "channels", "feature maps"
    return layer.in_features, layer.out_features, "features", "neurons"


class Sequential(Module):
    """Layers applied in order, ``torch.nn.Sequential``'s container.

    Parameters
    ----------
    *layers
        layerviz layers: anything callable with a ``frames(x)`` method (Linear, Dense, activations,
        Flatten, Conv2d, the poolings, Dropout, BatchNorm, another Sequential).

    Examples
    --------
    >>> model = Sequential(Linear(2, 3, rng=0), ReLU(), Linear(3, 1, rng=1))
    >>> model(np.zeros(2)).shape
    (1,)
    >>> print(model.anatomy())
    input layer: 2 features
    hidden layer 1: Linear(2, 3) + ReLU() (3 neurons)
    output layer: Linear(3, 1) (1 neuron)
    number of layers = hidden layers + output layer = 1 + 1 = 2
    """

    def __init__(self, *layers) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("layers must not be empty: Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not (callable(layer) and callable(getattr(layer, "frames", None))):
                raise ValueError(f"layer {i} must be a layerviz layer (callable, with frames()), got {layer!r}")
        self.layers = tuple(layers)

    @classmethod
    def _from_torch(cls, module, *, convert: Callable[[Any, str], Any], path: str = "") -> Sequential:
        """The layers of a ``torch.nn.Sequential``, each converted by ``convert(child, its path)`` (what
        :func:`layerviz.from_torch` passes: its own conversion of one module); ``path`` is where the Sequential
        sits in the model converted (``''`` for the model itself)."""
        return cls(*(convert(child, f"{path}.{name}" if path else name) for name, child in module.named_children()))

    def _children(self) -> tuple:
        return self.layers

    def _tuple_output(self) -> tuple[str, str] | None:
        last = getattr(self.layers[-1], "_tuple_output", None)
        return last() if callable(last) else None

    def _tuple_error(self, i: int, what: str, advice: str) -> ValueError:
        n = len(self.layers)
        return ValueError(f"layer {i + 1}/{n} {self.layers[i]!r} returns a tuple {what}, not an array, and layer "
                          f"{i + 2}/{n} {self.layers[i + 1]!r} cannot take a tuple (torch.nn.Sequential fails there "
                          f"too): {advice}")

    def _check_chain(self) -> None:
        """Refuse a layer that returns a tuple (``MaxPool2d(return_indices=True)``, an RNN, LSTM or GRU)
        anywhere but last: :meth:`forward` and :meth:`frames` both check this first, so they agree."""
        for i, layer in enumerate(self.layers[:-1]):
            tuple_output = getattr(layer, "_tuple_output", None)
            found = tuple_output() if callable(tuple_output) else None
            if found:
                raise self._tuple_error(i, *found)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """Each layer applied to the output of the one before.

        As in torch, the last layer's output is returned as it is (a tuple for an LSTM, say); a tuple
        anywhere else raises ValueError naming the layer. A layer's ValueError is raised naming the
        layer (``layer 2/4 Linear(4, 3): ...``), as :meth:`frames` does.
        """
        self._check_chain()
        x = check_x(x)  # as frames() checks it: the same message for a bad input
        n = len(self.layers)
        for i, layer in enumerate(self.layers):
            try:
                x = layer(x)
            except ValueError as error:
                raise ValueError(f"layer {i + 1}/{n} {layer!r}: {error}") from error
            if i < n - 1 and isinstance(x, tuple):
                raise self._tuple_error(i, f"of {len(x)} items", "pass one array on to the next layer")
        return x

    __call__ = forward

    def frames(self, x: ArrayLike, *, view: str = "flow") -> SequentialTrace:
        """The frames of every layer in order; ``view`` is the scene's default picture."""
        return SequentialTrace(self, x, view=view)

    def anatomy(self) -> Anatomy:
        """Input layer, hidden layers, output layer and their count (see the module docstring for the rule).

        Raises ValueError when no layer holds weights.
        """
        weighted = [i for i, layer in enumerate(self.layers) if isinstance(layer, WEIGHTED)]
        if not weighted:
            raise ValueError("anatomy needs at least one layer with weights (Linear, Dense or Conv2d), got "
                             + ", ".join(repr(layer) for layer in self.layers))
        n_in, _, in_unit, _ = _neurons(self.layers[weighted[0]])
        roles = []
        for j, start in enumerate(weighted):
            stop = weighted[j + 1] if j + 1 < len(weighted) else len(self.layers)
            _, n_out, _, unit = _neurons(self.layers[start])
            roles.append(LayerRole(tuple(range(start, stop)), " + ".join(repr(self.layers[i]) for i in range(start, stop)),
                                   n_out, unit))
        pre = tuple(repr(layer) for layer in self.layers[: weighted[0]])
        return Anatomy(n_in, in_unit, pre, tuple(roles[:-1]), roles[-1])

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"

    def short_repr(self) -> str:
        return " → ".join(type(layer).__name__ for layer in self.layers)


@dataclass(frozen=True, eq=False, repr=False)  # keeps ChainFrame's repr
class SequentialFrame(ChainFrame):
    """A frame of one layer of a :class:`Sequential`: a :class:`~layerviz.layers._chain.ChainFrame` (``index``,
    ``inner``, ``narration``, ``result``, ``question``) whose narration opens with the layer's caption
    (``layer 2/3 (hidden) Linear(4, 3): ``, see :func:`caption_prefixes`).

    Attributes
    ----------
    layer_index : int
        Which layer (0-based) the frame belongs to.
    layer : object
        That layer.
    """

    layer_index: int
    layer: object


def _step_kind(layer) -> str:
    """The kind of an unweighted layer, as its caption names it: ``activation``, ``softmax``, ``pooling``…"""
    if isinstance(layer, _Activation):
        return "activation"
    name = type(layer).__name__
    if isinstance(layer, Softmax):
        return "softmax"
    if "Pool" in name:
        return "pooling"
    if "BatchNorm" in name:
        return "batch norm"
    if name == "LayerNorm":
        return "layer norm"
    return {"Flatten": "flatten", "Dropout": "dropout"}.get(name, "")


def caption_prefixes(model: Sequential) -> tuple[str, ...]:
    """The caption's opening for each entry of ``model``, counting the layers that hold weights (the anatomy's
    count): ``layer 1/3 (hidden) Linear(2, 8): ``, ``layer 3/3 (output), softmax step Softmax(dim=-1): ``,
    ``input, flatten step Flatten(…): `` before the first weighted layer. Without weighted layers, or with a
    Sequential inside, the entries are numbered: ``layer 2/4 ReLU(): ``."""
    layers = model.layers
    weighted = [i for i, layer in enumerate(layers) if isinstance(layer, WEIGHTED)]
    if not weighted or any(isinstance(layer, Sequential) for layer in layers):
        return tuple(f"layer {i + 1}/{len(layers)} {layer!r}: " for i, layer in enumerate(layers))
    total = len(weighted)
    out = []
    for i, layer in enumerate(layers):
        j = bisect.bisect_right(weighted, i)  # weighted layers up to and including entry i
        role = "output" if j == total else "hidden"
        if isinstance(layer, WEIGHTED):
            out.append(f"layer {j}/{total} ({role}) {layer!r}: ")
            continue
        kind = _step_kind(layer)
        step = f"{kind} step" if kind else "step"
        out.append(f"input, {step} {layer!r}: " if j == 0 else f"layer {j}/{total} ({role}), {step} {layer!r}: ")
    return tuple(out)


def grouped_title(model: Sequential) -> str:
    """The layers and the steps inside them: ``Sequential, 2 layers: Conv2d + ReLU + MaxPool2d + Flatten | Linear +
    Softmax`` (see :func:`caption_prefixes`); a Sequential without weighted layers: its entries in order."""
    layers = model.layers
    weighted = [i for i, layer in enumerate(layers) if isinstance(layer, WEIGHTED)]
    if not weighted or any(isinstance(layer, Sequential) for layer in layers):
        return f"Sequential: {model.short_repr()}"
    bounds = [*weighted, len(layers)]
    groups = [" + ".join(type(layer).__name__ for layer in layers[a:b]) for a, b in zip(bounds, bounds[1:])]
    pre = " → ".join(type(layer).__name__ for layer in layers[: weighted[0]])
    count = f"{len(weighted)} layer{'s' if len(weighted) > 1 else ''}"
    return f"Sequential, {count}: {pre + ' → ' if pre else ''}{' | '.join(groups)}"


class SequentialTrace(HasBackward, Trace):
    """The frames of every layer of a :class:`Sequential`, one layer after the other.

    Attributes
    ----------
    traces : tuple of Trace
        Each layer's trace, on the output of the layer before (built once, in the constructor).
    offsets : tuple of int
        Index of each layer's first frame, and the total.
    input, output : ndarray
    view : {'flow', 'neurons'}
        The picture :meth:`scene` draws by default.
    """

    def __init__(self, model: Sequential, x: ArrayLike, *, view: str = "flow") -> None:
        if view not in SEQUENTIAL_VIEWS:
            raise ValueError(f"view must be one of {list(SEQUENTIAL_VIEWS)}, got {view!r}")
        self.view = view
        self.layer = model
        model._check_chain()
        self.input = check_x(x).copy()
        self.input.flags.writeable = False
        traces = []
        current = self.input
        for i, layer in enumerate(model.layers):
            try:
                trace = layer.frames(current)
            except ValueError as error:
                raise ValueError(f"layer {i + 1}/{len(model.layers)} {layer!r}: {error}") from error
            traces.append(trace)
            current = trace.output
        self.traces = tuple(traces)
        self.prefixes = caption_prefixes(model)
        self.output = current
        self.offsets = chain_offsets([len(t) for t in traces])
        self.n_frames = self.offsets[-1]

    def layer_of(self, k: int) -> int:
        """The layer (0-based) frame ``k`` (non-negative) belongs to."""
        return part_of(self.offsets, k)

    def _frame(self, k: int) -> SequentialFrame:
        i = self.layer_of(k)
        inner = self.traces[i][k - self.offsets[i]]
        layer = self.layer.layers[i]
        return SequentialFrame(index=k, inner=inner, narration=self.prefixes[i] + inner.narration, layer_index=i,
                               layer=layer)

    def __repr__(self) -> str:
        return (f"<SequentialTrace of {self.layer.short_repr()}: {self.n_frames} frames, "
                f"input {self.input.shape} -> output {np.shape(self.output)}>")

    # -- pictures -------------------------------------------------------------------------------

    def scene(self, view: str | None = None) -> Scene:
        """``'flow'``: the input and every layer's output, filling up as the layers compute them;
        ``'neurons'``: the network as neurons and weights (vector layers only)."""
        view = self.view if view is None else view
        if view not in SEQUENTIAL_VIEWS:
            raise ValueError(f"view must be one of {list(SEQUENTIAL_VIEWS)}, got {view!r}")
        return self._flow_scene() if view == "flow" else self._neuron_scene()

    def _flow_scene(self) -> Scene:
        total = self.n_frames
        panels: list[Grid] = []
        highlights: list[Highlight] = []
        for i, trace in enumerate(self.traces):
            sub = trace.scene()
            start, length = self.offsets[i], len(trace)
            names = [g.name for g in sub.panels]
            chosen = []
            if i == 0:
                chosen.append(("input", "input"))
            chosen.append(("output", f"layer{i}"))
            for sub_name, name in chosen:
                if sub_name in names:
                    grid = sub.panel(sub_name)
                else:  # a layer whose scene names its panels otherwise: draw its tensor ourselves
                    array = trace.input if sub_name == "input" else trace.output
                    grid = tensor_grid(sub_name, sub_name, array, "x" if sub_name == "input" else "out")
                reveal = placed_reveal(grid, start) if sub_name == "output" else None
                scale = largest_finite(grid.values) or 1.0
                if sub_name == "input":
                    title, cmap = "input", picture_cmap(self, self.input)
                else:
                    title, cmap = type(self.layer.layers[i]).__name__, "diverging"  # the scene's title counts the layers
                # a column of a few numbers (class scores, probabilities): each row says its index
                h, w = grid.values.shape[1:]
                rows = tuple(str(r) for r in range(h)) if w == 1 and 2 <= h <= 32 else ()
                panels.append(Grid(name, title, grid.values, grid.labels, padding=grid.padding,
                                   reveal=reveal, page_size=grid.page_size, page=placed_page(grid.page, start, total),
                                   op="" if sub_name == "input" else "→", vmax=None if cmap == "grey" else scale,
                                   cmap=cmap, row_labels=rows))
                for h in sub.highlights:
                    if h.panel != sub_name:
                        continue
                    origin = placed_origin(h.origin, start, length, total)
                    # one word for the cells being written, whichever layer writes them
                    highlights.append(Highlight(name, origin, h.stencil, h.role,
                                                "output written" if h.role == "output" else h.label))
        # each panel has its own colour scale (the player writes it under the panel): an input in [0, 1] next to
        # scores of 20 would otherwise be invisible
        return Scene(grouped_title(self.layer), total, tuple(panels), tuple(highlights),
                     LazyCaptions(self), float(np.abs(self.input).max()) or 1.0)

    def _neuron_scene(self) -> Scene:
        model = self.layer
        vector_layers = (Linear, Dense, _Activation, Softmax)
        if self.input.ndim > 2 or not all(isinstance(layer, vector_layers) for layer in model.layers):
            raise ValueError("the neurons view needs vectors through Linear, Dense and activation layers only; "
                             f"got {model.short_repr()} on input of shape {self.input.shape} (use view='flow')")
        if not isinstance(model.layers[0], (Linear, Dense)):
            raise ValueError(f"the neurons view needs a Linear or Dense first layer, got {model.layers[0]!r}")
        anatomy = model.anatomy()
        roles = (*anatomy.hidden, anatomy.output)
        x2 = self.input.reshape(-1, self.input.shape[-1])
        n_samples = x2.shape[0]
        sizes = (x2.shape[1], *(role.neurons for role in roles))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        total = self.n_frames
        values = np.zeros((n_samples, offsets[-1]))
        values[:, : sizes[0]] = x2
        reveal = np.zeros(values.shape, dtype=np.int32)
        page = np.zeros(total, dtype=np.int32)
        active = np.full(total, -1, dtype=np.int32)
        weights = []
        for c, role in enumerate(roles, start=1):
            weights.append(model.layers[role.indices[0]].weight)
            last = role.indices[-1]
            out = self.traces[last].output.reshape(n_samples, -1)
            values[:, offsets[c] : offsets[c + 1]] = out
            reveal[:, offsets[c] : offsets[c + 1]] = (self.traces[last].element_frames().reshape(n_samples, -1)
                                                      + self.offsets[last])
            for i in role.indices:
                trace, start = self.traces[i], self.offsets[i]
                frames = trace.element_frames().ravel()
                order = np.argsort(frames, kind="stable")
                counts = np.bincount(frames, minlength=len(trace))
                first = order[np.concatenate([[0], np.cumsum(counts)[:-1]])]
                width = sizes[c]
                page[start : start + len(trace)] = first // width
                whole_row = counts.max(initial=1) > 1
                if not whole_row:
                    active[start : start + len(trace)] = offsets[c] + first % width
        labels = [f"input layer ({sizes[0]})"]
        labels += [f"hidden layer {j + 1} ({r.neurons})" for j, r in enumerate(anatomy.hidden)]
        steps = [_step_kind(model.layers[i]) for i in anatomy.output.indices[1:]]
        labels.append(f"output layer ({anatomy.output.neurons})" + (f" + {steps[-1]}" if steps and steps[-1] else ""))
        network = Network("network", "input layer → hidden layers → output layer", sizes, values, tuple(weights),
                          tuple(labels), reveal=reveal, page=page if n_samples > 1 else None, active=active,
                          note=anatomy.statement)
        vmax = max(float(np.abs(values).max()), max(float(np.abs(w).max()) for w in weights)) or 1.0
        return Scene(grouped_title(model), total, (), (), LazyCaptions(self), vmax, networks=(network,))


# -- backward ---------------------------------------------------------------------------------------


def _flatten_backward(self: FlattenTrace, g: np.ndarray) -> BackwardTrace:
    """Flatten moves numbers without changing them: each input cell takes the gradient of the output cell it went to."""
    dx = g.reshape(self.input.shape)
    in_shape, out_shape = self.input.shape, self.output.shape

    def source(index):
        flat = int(np.ravel_multi_index(index, in_shape)) if in_shape else 0
        return tuple(int(i) for i in np.unravel_index(flat, out_shape)) if out_shape else ()

    section = copy_section("input", "dx", "dL/dx (dout, unflattened)", dx, "dout", source,
                           "flatten moved this number unchanged")
    return BackwardTrace(self, g, [section], {"input": dx})


def _sequential_backward(self: SequentialTrace, g: np.ndarray) -> BackwardTrace:
    """The chain rule: each layer's backward, newest first, on the gradient the layer after it handed back."""
    import dataclasses

    layers = self.layer.layers
    prefixes = caption_prefixes(self.layer)  # the forward's captions: the layers that hold weights are counted
    sections, grads = [], {}
    current = g
    for i in reversed(range(len(self.traces))):
        trace = self.traces[i]
        if not hasattr(trace, "_backward"):
            raise TypeError(f"layer {i + 1}/{len(layers)} {layers[i]!r} has no backward pass in layerviz yet")
        inner = trace._backward(current)
        prefix = prefixes[i]
        where = prefix[: -len(f" {layers[i]!r}: ")]  # "layer 2/2 (output)", "layer 1/2 (hidden), activation step"
        for section in inner.sections:
            sections.append(dataclasses.replace(section, key=f"{i}.{section.key}", prefix=prefix + section.prefix,
                                                title=f"{where}: {section.title}"))
        for key, value in inner.grads.items():
            if key != "input":
                grads[f"{i}.{key}"] = value
        current = inner.grads["input"]
    grads["input"] = current
    # torch's named_parameters() order: first layer first, each layer's own order (weight, then bias)
    ordered = {}
    for i in range(len(self.traces)):
        ordered.update((key, value) for key, value in grads.items() if key.split(".")[0] == str(i))
    ordered["input"] = current
    return BackwardTrace(self, g, sections, ordered)


FlattenTrace._backward = _flatten_backward
SequentialTrace._backward = _sequential_backward
