"""Linear (fully connected): every output neuron is a weighted sum of all the inputs, plus a bias.

For input ``x: (..., in_features)``, weight ``W: (out_features, in_features)`` and bias ``b: (out_features,)``::

    out[..., o] = sum_i W[o, i] * x[..., i] + b[o]          i.e.   out = x @ W.T + b

Row ``o`` of ``W`` holds the weights of output neuron ``o``: one weight per input. The output has the
input's leading dimensions and ``out_features`` last.

Frames: one per output neuron (``out[0,2] = 0.50×1.00 + (-0.20)×0.30 + 0.10 (bias) = 0.54``); for a
batch, all neurons of sample 0, then of sample 1, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz._format import shorten as _shorten
from layerviz.layers._module import Module, Setting, check_shapes
from layerviz.layers.activation import _Activation, activation_derivative, derivative_step
from layerviz.tensor_grid import index_name
from layerviz.scene import Grid, Highlight, Network, Scene
from layerviz.backward import BackwardTrace, HasBackward, Section, name as grad_name, sum_of, sum_of_products
from layerviz.trace import LazyCaptions, Trace

#: Products listed in a narration before the sum is abridged with "…" (a narration that lists them all asks
#: "predict the next value": 8 lists the layers of the anatomy and linear explorers in full).
_KEEP_TERMS = 8

#: The two pictures of a linear layer's frames.
VIEWS = ("matrix", "neurons")


def check_view(view: object) -> str:
    if view not in VIEWS:
        raise ValueError(f"view must be one of {list(VIEWS)}, got {view!r}")
    return view


class Linear(Module):
    """A fully connected layer with ``torch.nn.Linear``'s arguments and parameter shapes.

    Parameters
    ----------
    in_features : int
        Size of each input vector (the last axis of ``x``).
    out_features : int
        Number of output neurons.
    bias : bool, default True
    rng : numpy.random.Generator or int, optional
        Source of the initial weights, drawn like torch's: uniform on
        ``[-1/sqrt(in_features), 1/sqrt(in_features)]`` for the weight and the bias.

    Attributes
    ----------
    weight : ndarray, shape (out_features, in_features)
    bias : ndarray, shape (out_features,), or None

    Examples
    --------
    >>> layer = Linear(3, 1)
    >>> layer.weight = [[0.5, -1.0, 0.25]]
    >>> layer.bias = [0.5]
    >>> layer(np.array([1.0, 2.0, 3.0]))
    array([-0.25])
    """

    # checked whenever set, as the constructor checks them; the weight's shape is checked when the layer runs
    in_features = Setting(_checks.positive_int)
    out_features = Setting(_checks.positive_int)

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: np.random.Generator | int | None = None) -> None:
        self.in_features = in_features
        self.out_features = out_features
        bias = _checks.flag("bias", bias)
        rng = _checks.generator("rng", rng)
        bound = 1.0 / np.sqrt(self.in_features)
        self.weight = rng.uniform(-bound, bound, (self.out_features, self.in_features))
        self.bias = rng.uniform(-bound, bound, self.out_features) if bias else None

    @classmethod
    def _from_torch(cls, module) -> Linear:
        """The layer equal to a ``torch.nn.Linear``, with a copy of its weights (see :func:`layerviz.from_torch`)."""
        layer = cls(module.in_features, module.out_features, bias=module.bias is not None)
        layer.weight = _checks.torch_array(module.weight)
        if module.bias is not None:
            layer.bias = _checks.torch_array(module.bias)
        return layer

    @property
    def weight(self) -> np.ndarray:
        return self._weight

    @weight.setter
    def weight(self, value: ArrayLike) -> None:
        self._weight = _checks.parameter("weight", value, (self.out_features, self.in_features))

    @property
    def bias(self) -> np.ndarray | None:
        return self._bias

    @bias.setter
    def bias(self, value: ArrayLike | None) -> None:
        self._bias = None if value is None else _checks.parameter("bias", value, (self.out_features,))

    def _check_input(self, x: ArrayLike) -> np.ndarray:
        """``x`` as a finite float64 array ``(..., in_features)``."""
        check_shapes(self, {"weight": (self.out_features, self.in_features), "bias": (self.out_features,)},
                     "out_features and in_features")
        x = _checks.finite_array("x", x, tuple(range(1, 65)), "(..., in_features)")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"x must have in_features={self.in_features} values on its last axis, "
                             f"got {x.shape[-1]} (shape {x.shape})")
        if x.size == 0:
            raise ValueError(f"x must not be empty, got shape {x.shape}")
        return x

    def _affine(self, x: np.ndarray) -> np.ndarray:
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out

    def forward(self, x: ArrayLike) -> np.ndarray:
        """``x @ weight.T + bias`` for ``x: (..., in_features)``; returns ``(..., out_features)``."""
        return self._affine(self._check_input(x))

    __call__ = forward

    def frames(self, x: ArrayLike, *, view: str = "matrix") -> LinearTrace:
        """One frame per output neuron (per sample of a batch); ``view`` picks the scene's picture."""
        return LinearTrace(self, x, view=view)

    def __repr__(self) -> str:
        extra = ", bias=False" if self.bias is None else ""
        return f"Linear({self.in_features}, {self.out_features}{extra})"


def linear_naive(weight: np.ndarray, bias: np.ndarray | None, x: np.ndarray) -> np.ndarray:
    """The definition as plain loops: ``x: (N, in)``; returns ``(N, out)``."""
    n_samples, n_in = x.shape
    out = np.zeros((n_samples, weight.shape[0]))
    for n in range(n_samples):
        for o in range(weight.shape[0]):
            total = 0.0 if bias is None else float(bias[o])
            for i in range(n_in):
                total += weight[o, i] * x[n, i]
            out[n, o] = total
    return out


@dataclass(frozen=True, eq=False)
class LinearFrame:
    """One output neuron of one sample and the arithmetic that gives its value.

    Attributes
    ----------
    index : int
        Position in the trace.
    cell : tuple of int
        The output element: ``(*sample, o)`` (``(o,)`` for a single vector).
    neuron : int
        ``o``, the output neuron (row of ``weight``).
    x : ndarray, shape (in_features,)
        The input vector of the sample.
    weights : ndarray, shape (in_features,)
        ``weight[o]``.
    products : ndarray, shape (in_features,)
        ``weights * x``.
    bias : float
        ``bias[o]``, or 0.0 without bias.
    z : float
        ``products.sum() + bias``: the neuron's value before any activation.
    result : float
        The value written: ``z`` for Linear, ``activation(z)`` for Dense.
    narration : str
    """

    index: int
    cell: tuple[int, ...]
    neuron: int
    x: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    bias: float
    z: float
    result: float
    narration: str
    #: What the frame asks a student to predict (None when the sum is abridged with "…").
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"LinearFrame({self.index}: {self.narration})"


class LinearTrace(HasBackward, Trace):
    """The frames of a linear (or dense) layer on ``x``: one per output neuron, sample after sample.

    Everything is computed once, vectorized; ``trace[k]`` reads row ``o`` of the weights and sample
    ``n`` of the input, so any frame costs ``O(in_features)``, whatever ``k``.

    Attributes
    ----------
    input : ndarray, shape (..., in_features)
    inputs2 : ndarray, shape (N, in_features)
        The input with its leading axes flattened (N = 1 for a single vector).
    z : ndarray, shape (N, out_features)
        ``x @ W.T + b``.
    output : ndarray, shape (..., out_features)
        ``z`` (Linear) or ``activation(z)`` (Dense).
    weight, bias : ndarray
        Copies of the layer's parameters when the trace was built.
    view : {'matrix', 'neurons'}
        The picture :meth:`scene` draws by default.
    """

    activation: _Activation | None = None

    def __init__(self, layer, x: ArrayLike, *, view: str = "matrix", activation: _Activation | None = None) -> None:
        self.view = check_view(view)
        self.layer = layer
        linear = getattr(layer, "linear", layer)
        self.activation = activation
        self.input = linear._check_input(x).copy()
        self.weight = linear.weight.copy()
        self.bias = None if linear.bias is None else linear.bias.copy()
        self.lead_shape = self.input.shape[:-1]
        self.inputs2 = self.input.reshape(-1, self.input.shape[-1])
        self.z = linear._affine(self.inputs2)
        activated = self.z if activation is None else activation.forward(self.z)
        self.outputs2 = activated
        self.output = activated.reshape(*self.lead_shape, linear.out_features)
        self.n_samples = self.inputs2.shape[0]
        self.out_features = linear.out_features
        self.n_frames = self.n_samples * self.out_features
        for array in (self.input, self.inputs2, self.z, self.outputs2, self.output, self.weight, self.bias):
            if array is not None:
                array.flags.writeable = False

    def _frame(self, k: int) -> LinearFrame:
        n, o = divmod(k, self.out_features)
        sample = tuple(int(i) for i in np.unravel_index(n, self.lead_shape)) if self.lead_shape else ()
        cell = (*sample, o)
        x, weights = self.inputs2[n], self.weight[o]
        products = weights * x
        bias = 0.0 if self.bias is None else float(self.bias[o])
        z, result = float(self.z[n, o]), float(self.outputs2[n, o])
        narration, question = self._narrate(cell, x, weights, bias, z, result)
        return LinearFrame(k, cell, o, x, weights, products, bias, z, result, narration, question)

    def _narrate(self, cell, x, weights, bias, z, result) -> tuple[str, Ask | None]:
        """``z[2] = 0.50×1.00 + (-0.20)×0.30 + 0.10 (bias) = 0.54; a[2] = relu(0.54) = max(0, 0.54) = 0.54``.

        The numbers have the decimals with which each step, redone from them, gives the result shown
        (:func:`~layerviz._format.redoable`); ``z`` has one decimal fewer than the products' operands, so
        that the activation of ``z`` as shown gives ``a`` too. Returns the narration and the question (the
        products listed, the result hidden: for a Dense layer ``z`` hidden too, ``a`` asked), None when abridged.
        """
        n, act = len(x), self.activation
        extra = [bias] if self.bias is not None else []
        listed = n <= _KEEP_TERMS
        if listed:
            def redo(o, shown):
                zz = o[:n] @ o[n : 2 * n] + o[2 * n :].sum()
                # z; then a from z as shown (the narration's step) and from z as computed (the question's)
                return [zz] if act is None else [zz, *act._apply(np.array([shown[0], zz]))]

            values = [z] if act is None else [z, result, result]
            shown = redoable([*weights, *x, *extra], values, redo, intermediate=(0,) if act is not None else ())
            w_text, x_text = shown.operands[:n].__getitem__, shown.operands[n : 2 * n].__getitem__
            bias_text, z_text = (shown.operands[-1] if extra else ""), shown.results[0]
            a_text = shown.results[-1]
        else:  # abridged: only the terms shown are formatted; a from z as shown is still exact
            w_text, x_text = (lambda i: _number(weights[i])), (lambda i: _number(x[i]))
            bias_text = _number(bias)
            if act is None:
                z_text = a_text = _number(z)
            else:
                step = redoable([z], [result], lambda o, _: act._apply(o))
                z_text, a_text = step.operands[0], step.results[0]
        terms = _shorten(range(n), _KEEP_TERMS, lambda i: f"{paren(w_text(i))}×{paren(x_text(i))}")
        if not listed:
            terms[terms.index("…")] = f"… ({n} products)"
        if self.bias is not None:
            terms.append(f"{paren(bias_text)} (bias)")
        name = index_name("z" if act is not None else "out", cell)
        head = f"{name} = {' + '.join(terms)}"
        if act is None:
            return f"{head} = {z_text}", (Ask(f"{head} = ?", z_text, z) if listed else None)
        a_name = index_name("a", cell)
        narration = f"{head} = {z_text}; {a_name} = {act.explain(z_text, a_text)}"
        return narration, (Ask(f"{head}; {a_name} = {act.name}({name}) = ?", a_text, result) if listed else None)

    def element_frames(self) -> np.ndarray:
        """The frame at which each output element is computed, shaped like the output."""
        return np.arange(self.n_frames, dtype=np.int64).reshape(self.output.shape)

    # -- the pictures -------------------------------------------------------------------------------

    def scene(self, view: str | None = None) -> Scene:
        """The frames drawn as ``view`` (default :attr:`view`): ``'matrix'`` (W · x + b = out, the row of the
        current neuron lit) or ``'neurons'`` (input neurons wired to output neurons, the current one lit)."""
        view = check_view(self.view if view is None else view)
        return self._matrix_scene() if view == "matrix" else self._neuron_scene()

    def _sample_of_frame(self) -> np.ndarray:
        return (np.arange(self.n_frames, dtype=np.int64) // self.out_features).astype(np.int32)

    def _matrix_scene(self) -> Scene:
        out_f, in_f = self.weight.shape
        n = self.n_samples
        sample = self._sample_of_frame()
        neuron = (np.arange(self.n_frames) % out_f).astype(np.int32)
        page = sample if n > 1 else None
        labels = tuple(f"sample {i}" for i in range(n)) if n > 1 else ("",)
        reveal = np.arange(self.n_frames, dtype=np.int32).reshape(n, out_f, 1)
        panels = [
            Grid("weight", "weight W", self.weight[None], (f"{out_f}×{in_f}",)),
            Grid("input", "input x", self.inputs2[:, :, None], labels, page_size=1, page=page, op="·"),
        ]
        zero = np.zeros(self.n_frames, dtype=np.int32)
        row = np.zeros((in_f, 3), dtype=np.int32)
        row[:, 1] = np.arange(in_f)
        highlights = [
            Highlight("weight", np.stack([zero, neuron, zero], axis=1), row[:, [0, 2, 1]], "kernel", "weights row"),
            Highlight("input", np.stack([sample, zero, zero], axis=1), row, "window", "input x"),
        ]
        if self.bias is not None:
            panels.append(Grid("bias", "bias b", self.bias[None, :, None], ("",), op="+"))
            highlights.append(Highlight("bias", np.stack([zero, neuron, zero], axis=1), np.zeros((1, 3), np.int32), "kernel",
                                        "bias"))
        one = np.zeros((1, 3), dtype=np.int32)
        cell = np.stack([sample, neuron, zero], axis=1)
        if self.activation is None:
            panels.append(Grid("output", "output", self.outputs2[:, :, None], labels, reveal=reveal, page_size=1,
                               page=page, op="="))
            highlights.append(Highlight("output", cell, one, "output", "output neuron"))
        else:
            panels.append(Grid("z", "z", self.z[:, :, None], labels, reveal=reveal, page_size=1, page=page, op="="))
            panels.append(Grid("output", f"a = {self.activation.name}(z)", self.outputs2[:, :, None], labels,
                               reveal=reveal, page_size=1, page=page, op="→"))
            highlights += [Highlight("z", cell, one, "stat", "weighted sum z"),
                           Highlight("output", cell, one, "output", f"output a = {self.activation.name}(z)")]
        arrays = [self.inputs2, self.weight, self.z, self.outputs2] + ([] if self.bias is None else [self.bias])
        vmax = max(float(np.abs(a).max()) for a in arrays) or 1.0
        return Scene(repr(self.layer), self.n_frames, tuple(panels), tuple(highlights), LazyCaptions(self), vmax)

    def _neuron_scene(self) -> Scene:
        out_f, in_f = self.weight.shape
        n = self.n_samples
        values = np.concatenate([self.inputs2, self.outputs2], axis=1)
        reveal = np.zeros(values.shape, dtype=np.int32)
        reveal[:, in_f:] = np.arange(self.n_frames, dtype=np.int32).reshape(n, out_f)
        active = (in_f + np.arange(self.n_frames) % out_f).astype(np.int32)
        out_label = "output neurons" if self.activation is None else f"output neurons, {self.activation.name}"
        network = Network(
            "network", repr(self.layer), (in_f, out_f), values, (self.weight,),
            (f"input ({in_f})", f"{out_label} ({out_f})"),
            reveal=reveal, page=self._sample_of_frame() if n > 1 else None, active=active,
            note="lines: weights (colour: sign, width: size); circled: the neuron computed",
        )
        vmax = max(float(np.abs(values).max()), float(np.abs(self.weight).max())) or 1.0
        return Scene(repr(self.layer), self.n_frames, (), (), LazyCaptions(self), vmax, networks=(network,))


# -- backward ---------------------------------------------------------------------------------------
#
# For z = x @ W.T + b and out = act(z), with dout = dL/dout:
#     dz = dout × act'(z)                  (Dense; dz = dout for Linear)
#     dW[o, i] = sum_n dz[n, o] × x[n, i]   (a sum of outer products, one per sample)
#     db[o] = sum_n dz[n, o]
#     dx[n, i] = sum_o dz[n, o] × W[o, i]   (dx = dz · W)


def linear_backward_naive(x2: np.ndarray, weight: np.ndarray, dz: np.ndarray):
    """The definition as plain loops: ``(dW, db, dx)`` for ``x2: (N, I)``, ``dz: (N, O)``."""
    n_samples, n_in = x2.shape
    n_out = weight.shape[0]
    dw, db, dx = np.zeros((n_out, n_in)), np.zeros(n_out), np.zeros((n_samples, n_in))
    for n in range(n_samples):
        for o in range(n_out):
            db[o] += dz[n, o]
            for i in range(n_in):
                dw[o, i] += dz[n, o] * x2[n, i]
                dx[n, i] += dz[n, o] * weight[o, i]
    return dw, db, dx


def _linear_backward(self: LinearTrace, g: np.ndarray) -> BackwardTrace:
    g2 = g.reshape(self.n_samples, self.out_features)
    x2, weight, act = self.inputs2, self.weight, self.activation
    lead = self.lead_shape
    sections = []

    def sample_index(n: int) -> tuple:
        return tuple(int(i) for i in np.unravel_index(n, lead)) if lead else ()

    if act is not None:
        dz = activation_derivative(act, g2, self.z, self.outputs2)

        def explain_z(index):
            n, o = index
            cell = (*sample_index(n), o)
            return derivative_step(act, grad_name("dz", cell), grad_name("z", cell), float(g2[n, o]),
                                   float(self.z[n, o]), float(self.outputs2[n, o]), float(dz[n, o]))

        sections.append(Section("z", "dz", f"dL/dz = dout × {act.name}'(z)", dz, explain_z))
        up = "dz"
    else:
        dz, up = g2, "dout"
    dw = dz.T @ x2
    db = dz.sum(axis=0)
    dx = (dz @ weight).reshape(self.input.shape)
    dx2 = dx.reshape(x2.shape)

    def explain_w(index):
        o, i = index
        text, ask = sum_of_products(grad_name("dw", index), dz[:, o], x2[:, i], float(dw[o, i]),
                                    before=f"{up} × x, summed over the {len(x2)} sample(s): ")
        return [*dz[:, o], *x2[:, i]], text, ask

    def explain_b(index):
        (o,) = index
        text, ask = sum_of(grad_name("db", index), dz[:, o], float(db[o]),
                           before=f"{up} summed over the {len(x2)} sample(s): ")
        return dz[:, o], text, ask

    def explain_x(index):
        n = int(np.ravel_multi_index(index[:-1], lead)) if lead else 0
        i = index[-1]
        text, ask = sum_of_products(grad_name("dx", index), dz[n], weight[:, i], float(dx2[n, i]),
                                    before=f"{up} × column {i} of W, summed over the {weight.shape[0]} neurons: ")
        return [*dz[n], *weight[:, i]], text, ask

    sections.append(Section("weight", "dw", "dL/dW", dw, explain_w))
    grads = {"weight": dw}
    if self.bias is not None:
        sections.append(Section("bias", "db", "dL/db", db, explain_b))
        grads["bias"] = db
    sections.append(Section("input", "dx", "dL/dx", dx, explain_x))
    grads["input"] = dx
    return BackwardTrace(self, g, sections, grads)


LinearTrace._backward = _linear_backward
