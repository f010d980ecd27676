"""What RNN, LSTM and GRU share: torch's parameters, the input checks, the pass over time and the trace.

Shapes (torch's, ``D = 2`` if bidirectional else 1, ``H_out = proj_size or hidden_size``)::

    x        (L, H_in) unbatched, (L, N, H_in), or (N, L, H_in) with batch_first
    h0       (D*num_layers, H_out) unbatched, else (D*num_layers, N, H_out); zeros if not given
    c0       (D*num_layers, hidden_size) / (D*num_layers, N, hidden_size)          (LSTM only)
    output   (L, D*H_out) / (L, N, D*H_out) / (N, L, D*H_out): the last layer's h at every step,
             the forward and backward directions side by side
    h_n, c_n shaped like h0, c0: the state after the last step of every layer and direction
             (index ``layer*D + direction``)

Layer ``l > 0`` reads the outputs of layer ``l - 1`` (both directions concatenated), after dropout
in training mode. The backward direction reads the sequence from ``t = L-1`` down to ``t = 0``.

Dropout (``dropout > 0``, more than one layer, training mode, the default as in torch) zeroes each
value of a layer's output with probability ``dropout`` and scales the rest by ``1 / (1 - dropout)``
before the next layer reads it. The masks come from the layer's ``rng`` (every call, ``frames``
included, draws new ones); ``layer.eval()`` turns dropout off, and then the layer equals torch's.

The pass is computed once, vectorized over the batch and the gates; the loop over time is inherent
(``h_t`` needs ``h_{t-1}``). Every intermediate (the two affine parts, the pre-activations, the gates,
``c`` and ``h``) is kept, per layer, direction, time step and sample, so that a trace can build any
frame from them in O(1).
"""

from __future__ import annotations

import numbers
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from layerviz import _checks
from layerviz._format import Ask, paren, redoable
from layerviz._format import number as _number
from layerviz.layers._module import Module, Setting, check_shapes
from layerviz.layers import _recurrent_backward
from layerviz.layers._recurrent_gates import GATES, GRU_GATE_NAMES, LSTM_GATE_NAMES, STAGES, operand, relu, sigmoid, vector
from layerviz.scene import Grid, Highlight, Scene
from layerviz.trace import LazyCaptions, Trace

#: Highlight row that puts a highlight off its grid: it is not drawn at that frame.
_HIDDEN = -(2**30)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _dropout(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _proj_size(name: str, value: object) -> int:
    return _checks.positive_int(name, value, 0)


def _readonly(mapping: dict) -> Mapping:
    return types.MappingProxyType(mapping)


@dataclass
class _Pass:
    """Every number of one forward pass, time-major: index ``[l*D + d, t, n]``.

    ``x_part = W_ih x_t + b_ih`` and ``h_part = W_hh h_prev + b_hh`` are ``(G*H,)`` per step (all
    gates); ``pre`` are the pre-activations (for the GRU's ``n``: ``x_n + r * h_n``), ``gates`` the
    activations (LSTM: after any forcing), ``h_prev`` the state the step reads, ``h`` what it writes.
    """

    inputs: list  # per layer, (L, N, in_l): what the layer reads (after dropout)
    x_part: np.ndarray
    h_part: np.ndarray
    pre: np.ndarray
    gates: np.ndarray
    h_prev: np.ndarray
    h: np.ndarray
    output: np.ndarray  # (L, N, D*H_out)
    h_n: np.ndarray  # (D*num_layers, N, H_out)
    c_prev: np.ndarray | None = None
    c: np.ndarray | None = None
    h_cell: np.ndarray | None = None  # LSTM: o * tanh(c) before the projection
    c_n: np.ndarray | None = None
    dropout_masks: list = field(default_factory=list)


class _Recurrent(Module):
    """The common engine of :class:`~layerviz.RNN`, :class:`~layerviz.LSTM` and :class:`~layerviz.GRU`.

    The settings are checked whenever they are set, as the constructor checks them; the parameters
    they call for (names and shapes) are checked when the layer runs.
    """

    _kind = ""  # "RNN", "LSTM" or "GRU"

    input_size = Setting(_checks.positive_int)
    hidden_size = Setting(_checks.positive_int)
    num_layers = Setting(_checks.positive_int)
    bias = Setting(_flag)
    batch_first = Setting(_flag)
    dropout = Setting(_dropout)
    bidirectional = Setting(_flag)
    proj_size = Setting(_proj_size)
    rng = Setting(_checks.generator, doc="The generator of the initial weights and of the dropout masks.")

    def _setup(self, mode: str, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
               proj_size, rng) -> None:
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.proj_size = proj_size
        self._check_settings()
        self.training = True
        self.rng = rng
        object.__setattr__(self, "_ready", True)
        bound = 1.0 / np.sqrt(self.hidden_size)
        for name, shape in self._shapes.items():
            setattr(self, name, self.rng.uniform(-bound, bound, shape))

    def _check_settings(self) -> None:
        """The rules between settings, and the parameters they call for (a setting may change after construction)."""
        if self.proj_size and self.mode != "LSTM":
            raise ValueError(f"proj_size must be 0 for {type(self).__name__} (only LSTM has a projection), "
                             f"got {self.proj_size}")
        if self.proj_size and self.proj_size >= self.hidden_size:
            raise ValueError(f"proj_size must be < hidden_size, got proj_size={self.proj_size}, "
                             f"hidden_size={self.hidden_size}")
        for name, value in self.__dict__.items():  # parameters a flag turned off would otherwise be ignored
            flag = "bias" if name.startswith("bias_") else "proj_size" if name.startswith("weight_hr") else None
            if flag and value is not None and not getattr(self, flag):
                raise ValueError(f"{name} must be None when {flag}={getattr(self, flag)}, got {type(value).__name__}: "
                                 f"{flag} was changed after construction; set {name} = None too")
        shapes = self._shapes
        for name, shape in shapes.items():
            if self.__dict__.get(name) is None:
                raise ValueError(f"{name} must be set for the layer's settings (num_layers={self.num_layers}, "
                                 f"bidirectional={self.bidirectional}, bias={self.bias}, proj_size={self.proj_size}), "
                                 f"got None: a setting changed after construction; assign {name} of shape {shape}, "
                                 f"or build a new {type(self).__name__}")
        check_shapes(self, shapes, "input_size, hidden_size, num_layers, bidirectional and proj_size")

    # -- parameters ---------------------------------------------------------------------------

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def n_gates(self) -> int:
        return len(GATES[self.mode])

    @property
    def output_hidden(self) -> int:
        """``H_out``: the size of ``h`` (``proj_size`` if set, else ``hidden_size``)."""
        return self.proj_size or self.hidden_size

    def layer_input_size(self, layer: int) -> int:
        """Features read by layer ``layer``: ``input_size``, or ``D * H_out`` above the first layer."""
        return self.input_size if layer == 0 else self.num_directions * self.output_hidden

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """torch's parameter names and shapes, in torch's order."""
        gh, h_out = self.n_gates * self.hidden_size, self.output_hidden
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                s = self._suffix(layer, direction)
                shapes[f"weight_ih{s}"] = (gh, self.layer_input_size(layer))
                shapes[f"weight_hh{s}"] = (gh, h_out)
                if self.bias:
                    shapes[f"bias_ih{s}"] = (gh,)
                    shapes[f"bias_hh{s}"] = (gh,)
                if self.proj_size:
                    shapes[f"weight_hr{s}"] = (self.proj_size, self.hidden_size)
        return shapes

    @property
    def _shapes(self) -> dict[str, tuple[int, ...]]:
        """The parameters the current settings call for (none while the constructor sets the settings)."""
        return self._parameter_shapes() if self.__dict__.get("_ready") else {}

    def __setattr__(self, name: str, value) -> None:
        shapes = self._shapes if name.startswith(("weight_", "bias_")) else {}
        if name in shapes:
            value = _checks.parameter(name, value, shapes[name])
        object.__setattr__(self, name, value)

    def named_parameters(self) -> list[tuple[str, np.ndarray]]:
        """``[(name, array), ...]`` in torch's order (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ...)."""
        return [(name, getattr(self, name)) for name in self._shapes]

    def _weights(self, layer: int, direction: int) -> tuple:
        s = self._suffix(layer, direction)
        get = self.__dict__.get
        biases = (get(f"bias_ih{s}"), get(f"bias_hh{s}")) if self.bias else (None, None)
        return get(f"weight_ih{s}"), get(f"weight_hh{s}"), *biases, get(f"weight_hr{s}") if self.proj_size else None

    @classmethod
    def _copy_torch_parameters(cls, layer: _Recurrent, module) -> _Recurrent:
        for name in layer._shapes:
            setattr(layer, name, _checks.torch_array(getattr(module, name)))
        layer.train(bool(module.training))
        return layer

    # -- modes: train() and eval() come from Module (training: dropout between layers applies) ------

    def _tuple_output(self) -> tuple[str, str] | None:
        lstm, name = self.mode == "LSTM", type(self).__name__.lower()
        what = "(output, (h_n, c_n))" if lstm else "(output, h_n)"
        call = f"output, (h_n, c_n) = {name}(x)" if lstm else f"output, h_n = {name}(x)"
        return what, f"run it on its own ({call}) and give output to the layers after it"

    # -- input checks -------------------------------------------------------------------------

    def _check_input(self, x, h0=None, c0=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
        """``(x3, h0, c0, batched)``: ``x3`` time-major ``(L, N, H_in)``, states ``(D*num_layers, N, ·)``."""
        self._check_settings()
        order = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        x = _checks.finite_array("x", x, (2, 3), f"(L, H_in) or {order}")
        batched = x.ndim == 3
        if x.shape[-1] != self.input_size:
            raise ValueError(f"x must have input_size={self.input_size} features (last axis), "
                             f"got {x.shape[-1]} (shape {x.shape})")
        if 0 in x.shape:
            raise ValueError(f"x must not be empty, got shape {x.shape}")
        if not batched:
            x3 = x[:, None, :]
        else:
            x3 = np.swapaxes(x, 0, 1) if self.batch_first else x
        n = x3.shape[1]
        states = self.num_directions * self.num_layers

        def state(name, value, size):
            want = (states, n, size) if batched else (states, size)
            if value is None:
                return np.zeros((states, n, size))
            array = _checks.finite_array(name, value, (len(want),), str(want))
            if array.shape != want:
                raise ValueError(f"{name} must have shape {want} (D*num_layers, {'N, ' if batched else ''}"
                                 f"{'H_out' if name == 'h0' else 'hidden_size'}), got shape {array.shape}")
            return array.copy() if batched else array[:, None, :].copy()

        h = state("h0", h0, self.output_hidden)
        c = state("c0", c0, self.hidden_size) if self.mode == "LSTM" else None
        return np.array(x3, order="C"), h, c, batched  # a copy: the trace makes its arrays read-only

    # -- the pass -----------------------------------------------------------------------------

    def _compute(self, x3: np.ndarray, h0: np.ndarray, c0: np.ndarray | None, force: Mapping | None = None) -> _Pass:
        """The whole pass over checked inputs, every intermediate kept (see :class:`_Pass`)."""
        seq, n = x3.shape[:2]
        big_d, hid, h_out, g = self.num_directions, self.hidden_size, self.output_hidden, self.n_gates
        n_ld = self.num_layers * big_d
        x_part = np.zeros((n_ld, seq, n, g * hid))
        h_part = np.zeros_like(x_part)
        pre = np.zeros_like(x_part)
        gates = np.zeros_like(x_part)
        h_prev = np.zeros((n_ld, seq, n, h_out))
        h_all = np.zeros_like(h_prev)
        lstm = self.mode == "LSTM"
        c_prev = np.zeros((n_ld, seq, n, hid)) if lstm else None
        c_all = np.zeros_like(c_prev) if lstm else None
        h_cell = np.zeros_like(c_prev) if lstm else None
        h_n = np.zeros((n_ld, n, h_out))
        c_n = np.zeros((n_ld, n, hid)) if lstm else None
        force = dict(force or {})
        inputs, masks = [], []
        layer_in = x3
        for layer in range(self.num_layers):
            if layer and self.training and self.dropout > 0:
                keep = self.rng.random(layer_in.shape) >= self.dropout
                masks.append(keep)
                layer_in = layer_in * keep * (0.0 if self.dropout == 1 else 1.0 / (1.0 - self.dropout))
            inputs.append(layer_in)
            for direction in range(big_d):
                ld = layer * big_d + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
                xp = layer_in @ w_ih.T
                if b_ih is not None:
                    xp = xp + b_ih
                x_part[ld] = xp
                h = h0[ld]
                c = c0[ld] if lstm else None
                for t in range(seq) if direction == 0 else range(seq - 1, -1, -1):
                    hp = h @ w_hh.T
                    if b_hh is not None:
                        hp = hp + b_hh
                    h_prev[ld, t], h_part[ld, t] = h, hp
                    if lstm:
                        a = xp[t] + hp
                        act = np.concatenate([sigmoid(a[:, :2 * hid]), np.tanh(a[:, 2 * hid:3 * hid]),
                                              sigmoid(a[:, 3 * hid:])], axis=1)
                        for gate, value in force.items():
                            j = "ifgo".index(gate)
                            act[:, j * hid:(j + 1) * hid] = value
                        i, f, gg, o = (act[:, j * hid:(j + 1) * hid] for j in range(4))
                        c_prev[ld, t] = c
                        c = f * c + i * gg
                        hc = o * np.tanh(c)
                        h_cell[ld, t], c_all[ld, t] = hc, c
                        h = hc @ w_hr.T if w_hr is not None else hc
                    elif self.mode == "GRU":
                        a = xp[t, :, :2 * hid] + hp[:, :2 * hid]
                        rz = sigmoid(a)
                        r, z = rz[:, :hid], rz[:, hid:]
                        a_n = xp[t, :, 2 * hid:] + r * hp[:, 2 * hid:]
                        nn = np.tanh(a_n)
                        a = np.concatenate([a, a_n], axis=1)
                        act = np.concatenate([rz, nn], axis=1)
                        h = (1.0 - z) * nn + z * h
                    else:
                        a = xp[t] + hp
                        act = np.tanh(a) if self.mode == "RNN_TANH" else relu(a)
                        h = act
                    pre[ld, t], gates[ld, t], h_all[ld, t] = a, act, h
                h_n[ld] = h
                if lstm:
                    c_n[ld] = c
            layer_in = np.concatenate([h_all[layer * big_d + d] for d in range(big_d)], axis=-1)
        return _Pass(inputs=inputs, x_part=x_part, h_part=h_part, pre=pre, gates=gates, h_prev=h_prev, h=h_all,
                     output=layer_in, h_n=h_n, c_prev=c_prev, c=c_all, h_cell=h_cell, c_n=c_n, dropout_masks=masks)

    def _shape_output(self, p: _Pass, batched: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """torch's ``output, h_n, c_n`` from a pass (batch_first and unbatched layouts)."""
        out = p.output
        if not batched:
            return out[:, 0], p.h_n[:, 0], None if p.c_n is None else p.c_n[:, 0]
        if self.batch_first:
            out = np.swapaxes(out, 0, 1).copy()
        return out, p.h_n, p.c_n

    def _check_force(self, force) -> dict[str, float]:
        if force is None:
            return {}
        if self.mode != "LSTM":
            raise ValueError(f"force is an LSTM teaching device, {type(self).__name__} has no gates to force")
        if not isinstance(force, Mapping):
            raise ValueError(f"force must be a dict such as {{'f': 1.0}}, got {force!r}")
        checked = {}
        for gate, value in force.items():
            if gate not in LSTM_GATE_NAMES:
                raise ValueError(f"force keys must be among 'i', 'f', 'g', 'o', got {gate!r}")
            low = -1.0 if gate == "g" else 0.0
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= 1:
                raise ValueError(f"force[{gate!r}] must be a number in [{low:g}, 1] "
                                 f"({'tanh' if gate == 'g' else 'sigmoid'} range), got {value!r}")
            checked[gate] = float(value)
        return checked

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __repr__(self) -> str:
        text = f"{type(self).__name__}({self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout:g}"
        if self.bidirectional:
            text += ", bidirectional=True"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        return text + ")"


# -- frames ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RecurrentFrame:
    """One stage of one time step of a recurrent layer, and its numbers.

    Attributes
    ----------
    index : int
        Position in the trace.
    sample, layer, direction : int
        Which sample of the batch (0 when unbatched), which layer, which direction (1: backward).
    step : int
        Position of the time step in its direction's order (the backward direction's step 0 is ``t = L-1``).
    t : int
        The time index computed.
    stage : str
        RNN: ``'ih'`` (``W_ih x_t + b_ih``), ``'hh'`` (``W_hh h_prev + b_hh``), ``'sum'``, ``'h'``
        (the nonlinearity, giving ``h_t``). LSTM: a gate ``'f'``, ``'i'``, ``'g'``, ``'o'``, then ``'c'``
        (``c_t``) and ``'h'`` (``h_t``). GRU: ``'r'``, ``'z'``, ``'n'``, ``'h'``.
    vectors : mapping of str to ndarray
        The vectors the stage reads and makes (read-only): always ``'x'`` (the layer's input
        ``x_t``, shape ``(in_l,)``) and ``'h_prev'`` (``(H_out,)``); LSTM also ``'c_prev'``. A gate
        stage adds ``'x_part'`` (``W_i· x_t + b_i·``), ``'h_part'`` (``W_h· h_prev + b_h·``),
        ``'pre'`` (its pre-activation) and ``'gate'`` (the activation); the GRU's ``'n'`` adds
        ``'r'``; ``'c'`` adds ``'f'``, ``'i'``, ``'g'``; the LSTM's ``'h'`` adds ``'o'``, ``'c'``,
        ``'tanh_c'`` (and ``'h_cell'`` with a projection); the GRU's ``'h'`` adds ``'z'``, ``'n'``;
        the RNN's ``'sum'`` and ``'h'`` add ``'x_part'``, ``'h_part'``, ``'pre'``.
    result : ndarray
        What the stage computes (a gate, ``c_t``, ``h_t``, a part or a sum), shape ``(H,)`` or ``(H_out,)``.
    forced : float or None
        LSTM: the value a gate was pinned to (a teaching override that departs from torch), else None.
    narration : str
        The arithmetic with its numbers.
    """

    index: int
    sample: int
    layer: int
    direction: int
    step: int
    t: int
    stage: str
    vectors: Mapping[str, np.ndarray]
    result: np.ndarray
    forced: float | None
    narration: str
    #: What the frame asks a student to predict (None when a weight matrix it does not show multiplies a vector,
    #: or a gate is forced).
    question: Ask | None = None

    def __repr__(self) -> str:
        return f"RecurrentFrame({self.index}: {self.narration})"


class RecurrentTrace(Trace):
    """The frames of a recurrent layer on one input: every stage of every time step.

    Frames come in the order sample, layer, direction, time step (the backward direction from
    ``t = L-1`` down), stage (see :data:`STAGES`), so ``n_frames = N · num_layers · D · L · S``;
    ``trace[k]`` unravels ``k`` into those five indices and slices the stored pass: O(1).

    Attributes
    ----------
    input : ndarray
        ``x`` as given.
    output, h_n, c_n : ndarray
        What the layer returns (``c_n`` None but for the LSTM), shaped like torch's.
    stages : tuple of str
        The stages of one time step.
    force : dict
        LSTM gates pinned to a value (empty: torch's LSTM).
    pass_ : _Pass
        Every intermediate, read-only, indexed ``[layer*D + direction, t, sample]`` (``h``, ``c``,
        ``gates``, ``pre``, ``x_part``, ``h_part``, ``h_prev``, ``c_prev``; ``inputs[layer][t, sample]``).
    """

    def __init__(self, layer: _Recurrent, x, h0=None, c0=None, force=None) -> None:
        force = layer._check_force(force)
        x3, h, c, batched = layer._check_input(x, h0, c0)
        self.layer = layer
        self.kind = layer._kind
        self.mode = layer.mode
        self.force = force
        self.batched = batched
        self.input = np.array(_checks.plain(x), dtype=np.float64)
        self.pass_ = layer._compute(x3, h, c, force)
        self.weights = {name: value.copy() for name, value in layer.named_parameters()}
        self.output, self.h_n, self.c_n = layer._shape_output(self.pass_, batched)
        self.stages = STAGES[self.kind]
        self.seq_len, self.n_samples = x3.shape[:2]
        self.num_layers, self.num_directions = layer.num_layers, layer.num_directions
        self.hidden_size, self.output_hidden = layer.hidden_size, layer.output_hidden
        self.has_bias = layer.bias
        self.shape5 = (self.n_samples, self.num_layers, self.num_directions, self.seq_len, len(self.stages))
        self.n_frames = int(np.prod(self.shape5))
        p = self.pass_
        for array in (self.input, self.output, self.h_n, self.c_n, p.x_part, p.h_part, p.pre, p.gates, p.h_prev,
                      p.h, p.c_prev, p.c, p.h_cell, *p.inputs, *self.weights.values()):
            if array is not None:
                array.flags.writeable = False

    def backward(self, grad_output=None, *, grad_h_n=None, grad_c_n=None):
        """Backpropagation through time from this forward pass, as frames (newest step first).

        Gradients of ``(output * grad_output).sum() + (h_n * grad_h_n).sum() + (c_n * grad_c_n).sum()``:
        ``grad_output`` shaped like ``output`` (ones if None), ``grad_h_n`` like ``h_n``, ``grad_c_n`` like ``c_n``
        (LSTM only; zeros if None). Returns a
        :class:`~layerviz.layers._recurrent_backward.RecurrentBackwardTrace` whose ``grads`` hold every parameter's
        gradient (torch's names and order), ``"input"`` (shaped like ``x``), ``"h0"`` (and ``"c0"``); see
        :mod:`layerviz.layers._recurrent_backward`.
        """
        return _recurrent_backward.backward(self, grad_output, grad_h_n=grad_h_n, grad_c_n=grad_c_n)

    # -- frames --------------------------------------------------------------------------------

    def locate(self, k: int) -> tuple[int, int, int, int, int, int]:
        """``(sample, layer, direction, step, t, stage index)`` of frame ``k`` (non-negative)."""
        n, layer, d, step, s = (int(i) for i in np.unravel_index(k, self.shape5))
        t = step if d == 0 else self.seq_len - 1 - step
        return n, layer, d, step, t, s

    def _where(self, n: int, layer: int, d: int) -> str:
        parts = []
        if self.batched:
            parts.append(f"sample {n}")
        if self.num_layers > 1:
            parts.append(f"layer {layer}")
        if self.num_directions > 1:
            parts.append("backward" if d else "forward")
        return f"[{', '.join(parts)}] " if parts else ""

    def _prev_name(self, d: int, step: int, t: int, state: str = "h") -> str:
        if step == 0:
            return f"{state}0"
        return f"{state}[{t + 1 if d else t - 1}]"

    def _frame(self, k: int) -> RecurrentFrame:
        n, layer, d, step, t, s = self.locate(k)
        stage = self.stages[s]
        p, ld, hid = self.pass_, layer * self.num_directions + d, self.hidden_size
        vec = {"x": p.inputs[layer][t, n], "h_prev": p.h_prev[ld, t, n]}
        if p.c_prev is not None:
            vec["c_prev"] = p.c_prev[ld, t, n]

        def block(array, gate):
            j = GATES[self.mode].index(gate)
            return array[ld, t, n, j * hid:(j + 1) * hid]

        forced = None
        prev, where = self._prev_name(d, step, t), self._where(n, layer, d)
        # every narration's numbers have the decimals with which its steps, redone from them, give the results
        # shown (layerviz._format.redoable), entry by entry; a question asks for the first entry of the result
        # when every operand of it is shown (not when a weight matrix multiplies a vector)
        question = None
        if self.kind == "RNN":
            x_part, h_part, pre, h = block(p.x_part, "h"), block(p.h_part, "h"), block(p.pre, "h"), p.h[ld, t, n]
            vec.update(x_part=x_part, h_part=h_part)
            b = " + b_ih" if self.has_bias else ""
            bh = " + b_hh" if self.has_bias else ""
            if stage in ("ih", "hh"):
                result = x_part if stage == "ih" else h_part
                label = f"W_ih·x[{t}]{b}" if stage == "ih" else f"W_hh·{prev}{bh}"
                arithmetic, shown = self._affine(stage, layer, d, vec["x" if stage == "ih" else "h_prev"], result)
                text = f"{label} = {arithmetic} = {vector(shown)}"
                if not arithmetic.startswith("W_"):  # one weight, shown (a matrix is not: nothing to ask)
                    question = Ask(f"{label} = {arithmetic} = ?", shown[0], float(result[0]))
            elif stage == "sum":
                vec["pre"], result = pre, pre
                hid_ = len(pre)
                shown = redoable([*x_part, *h_part], pre, lambda o, _: o[:hid_] + o[hid_:])
                head = f"a[{t}] = {operand(shown.operands[:hid_])} + {operand(shown.operands[hid_:])}"
                text = f"{head} = {vector(shown.results)}"
                question = Ask(f"{head} = ?", shown.results[0], float(pre[0]), entry=len(pre) > 1)
            else:
                vec["pre"], result = pre, h
                fn = "tanh" if self.mode == "RNN_TANH" else "relu"
                f = np.tanh if fn == "tanh" else relu
                shown = redoable(pre, h, lambda o, _: f(o))
                head = f"h[{t}] = {fn}(a[{t}]) = {fn}({vector(shown.operands)})"
                text = f"{head} = {vector(shown.results)}"
                question = Ask(f"{head} = ?", shown.results[0], float(h[0]), entry=len(h) > 1)
        elif stage in GATES[self.mode] and not (self.kind == "GRU" and stage == "n"):
            x_part, h_part, pre, gate = (block(a, stage) for a in (p.x_part, p.h_part, p.pre, p.gates))
            vec.update(x_part=x_part, h_part=h_part, pre=pre, gate=gate)
            result = gate
            fn = "tanh" if stage == "g" else "σ"
            f = np.tanh if stage == "g" else sigmoid
            names = LSTM_GATE_NAMES if self.kind == "LSTM" else GRU_GATE_NAMES
            b1 = f" + b_i{stage}" if self.has_bias else ""
            b2 = f" + b_h{stage}" if self.has_bias else ""
            natural = gate if stage not in self.force else f(pre)
            hid_ = len(pre)
            # pre = x_part + h_part; the gate from pre as shown (the narration's step) and as computed (the question's)
            shown = redoable([*x_part, *h_part], [*pre, *natural, *natural],
                             lambda o, r: np.concatenate([o[:hid_] + o[hid_:], f(r[:hid_]), f(o[:hid_] + o[hid_:])]),
                             intermediate=range(hid_))
            head = (f"{names[stage]} {stage}[{t}] = {fn}(W_i{stage}·x[{t}]{b1} + W_h{stage}·{prev}{b2}) = "
                    f"{fn}({operand(shown.operands[:hid_])} + {operand(shown.operands[hid_:])})")
            text = f"{head} = {fn}({vector(shown.results[:hid_])}) = {vector(shown.results[hid_:2 * hid_])}"
            if stage in self.force:
                forced = self.force[stage]
                text += f", forced to {_number(forced)} (teaching override: not torch)"
            else:
                question = Ask(f"{head} = ?", shown.results[hid_], float(gate[0]), entry=hid_ > 1)
        elif self.kind == "GRU" and stage == "n":
            x_part, h_part, pre, gate = (block(a, "n") for a in (p.x_part, p.h_part, p.pre, p.gates))
            r = block(p.gates, "r")
            vec.update(x_part=x_part, h_part=h_part, r=r, pre=pre, gate=gate)
            result = gate
            b1, b2 = (" + b_in", " + b_hn") if self.has_bias else ("", "")
            hid_ = len(pre)

            def redo_n(o, shown_results):
                inside = o[:hid_] + o[hid_:2 * hid_] * o[2 * hid_:]
                return np.concatenate([inside, np.tanh(shown_results[:hid_]), np.tanh(inside)])

            shown = redoable([*x_part, *r, *h_part], [*pre, *gate, *gate], redo_n, intermediate=range(hid_))
            xs, rs, hs = shown.operands[:hid_], shown.operands[hid_:2 * hid_], shown.operands[2 * hid_:]
            head = (f"new gate n[{t}] = tanh(W_in·x[{t}]{b1} + r[{t}]⊙(W_hn·{prev}{b2})) = "
                    f"tanh({operand(xs)} + {operand(rs)}⊙{operand(hs)})")
            text = f"{head} = tanh({vector(shown.results[:hid_])}) = {vector(shown.results[hid_:2 * hid_])}"
            question = Ask(f"{head} = ?", shown.results[hid_], float(gate[0]), entry=hid_ > 1)
        elif self.kind == "LSTM" and stage == "c":
            f, i, g = (block(p.gates, q) for q in "fig")
            vec.update(f=f, i=i, g=g)
            result = p.c[ld, t, n]
            c_prev = self._prev_name(d, step, t, "c")
            hid_ = len(result)
            shown = redoable([*f, *vec["c_prev"], *i, *g], result,
                             lambda o, _: o[:hid_] * o[hid_:2 * hid_] + o[2 * hid_:3 * hid_] * o[3 * hid_:])
            fs, cs, is_, gs = (shown.operands[j * hid_:(j + 1) * hid_] for j in range(4))
            head = f"c[{t}] = f⊙{c_prev} + i⊙g = {operand(fs)}⊙{operand(cs)} + {operand(is_)}⊙{operand(gs)}"
            text = f"{head} = {vector(shown.results)}"
            question = Ask(f"{head} = ?", shown.results[0], float(result[0]), entry=hid_ > 1)
        elif self.kind == "LSTM":  # stage h
            o, c = block(p.gates, "o"), p.c[ld, t, n]
            tanh_c = np.tanh(c)
            vec.update(o=o, c=c, tanh_c=tanh_c)
            result = p.h[ld, t, n]
            hid_ = len(c)
            if self.layer.proj_size:
                vec["h_cell"] = p.h_cell[ld, t, n]
                # the projection's matrix is not shown: o⊙tanh(c) adds up, nothing is asked
                shown = redoable([*o, *c], vec["h_cell"], lambda v, _: v[:hid_] * np.tanh(v[hid_:]))
                text = (f"h[{t}] = W_hr·(o⊙tanh(c[{t}])) = W_hr·({operand(shown.operands[:hid_])}⊙tanh("
                        f"{vector(shown.operands[hid_:])})) = W_hr·{vector(shown.results)} = {vector(result)}")
            else:
                shown = redoable([*o, *c], result, lambda v, _: v[:hid_] * np.tanh(v[hid_:]))
                head = (f"h[{t}] = o⊙tanh(c[{t}]) = {operand(shown.operands[:hid_])}⊙tanh("
                        f"{vector(shown.operands[hid_:])})")
                text = f"{head} = {vector(shown.results)}"
                question = Ask(f"{head} = ?", shown.results[0], float(result[0]), entry=hid_ > 1)
        else:  # GRU stage h
            z, nn = block(p.gates, "z"), block(p.gates, "n")
            vec.update(z=z, n=nn)
            result = p.h[ld, t, n]
            hid_ = len(result)
            shown = redoable([*z, *nn, *vec["h_prev"]], result,
                             lambda o, _: (1 - o[:hid_]) * o[hid_:2 * hid_] + o[:hid_] * o[2 * hid_:])
            zs, ns, hs = shown.operands[:hid_], shown.operands[hid_:2 * hid_], shown.operands[2 * hid_:]
            head = f"h[{t}] = (1−z)⊙n + z⊙{prev} = (1−{vector(zs)})⊙{operand(ns)} + {operand(zs)}⊙{operand(hs)}"
            text = f"{head} = {vector(shown.results)}"
            question = Ask(f"{head} = ?", shown.results[0], float(result[0]), entry=hid_ > 1)
        if question is not None:
            question = question._replace(prompt=where + question.prompt)
        return RecurrentFrame(index=k, sample=n, layer=layer, direction=d, step=step, t=t, stage=stage,
                              vectors=_readonly(vec), result=result, forced=forced, narration=where + text,
                              question=question)

    def _affine(self, which: str, layer: int, d: int, v: np.ndarray, result: np.ndarray) -> tuple[str, list[str]]:
        """``W_ih·[0.50, 1.00] + [0.10]`` and the result's texts; with one weight and one input, ``0.80×0.50 + 0.10``,
        with the decimals that make it, redone, give the result shown."""
        s = f"_l{layer}" + ("_reverse" if d else "")
        w, b = self.weights[f"weight_{which}{s}"], self.weights.get(f"bias_{which}{s}")
        if w.size == 1:
            extra = [] if b is None else [float(b[0])]
            shown = redoable([float(w[0, 0]), float(np.ravel(v)[0]), *extra], result,
                             lambda o, _: [o[0] * o[1] + o[2:].sum()])
            text = f"{paren(shown.operands[0])}×{paren(shown.operands[1])}"
            if b is not None:
                text += f" + {paren(shown.operands[2])}"
            return text, shown.results
        text = f"W_{which}·{vector(v)}"
        if b is not None:
            text += f" + {operand(b)}"
        return text, [_number(float(r)) for r in np.ravel(result)]

    # -- scene ---------------------------------------------------------------------------------

    def _by_step(self, a: np.ndarray) -> np.ndarray:
        """``(n_LD, L, N, X)`` time-major -> ``(N, num_layers, D, L, X)`` in each direction's step order."""
        big_d = self.num_directions
        out = np.moveaxis(a, 2, 0).reshape(self.n_samples, self.num_layers, big_d, self.seq_len, -1).copy()
        if big_d == 2:
            out[:, :, 1] = out[:, :, 1, ::-1]
        return out

    def cell_columns(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """The cell view of every step: ``(n_steps, H, C)`` columns and their names.

        RNN: ``W_ih x + b_ih``, ``W_hh h + b_hh``, their sum ``a``; LSTM: the gates ``f, i, g, o``;
        GRU: ``r, z, n``. Step ``s`` is frame ``k``'s ``k // len(stages)``.
        """
        p, hid = self.pass_, self.hidden_size
        if self.kind == "RNN":
            cols, names = [p.x_part, p.h_part, p.pre], ("Wx+b", "Wh+b", "a")
        elif self.kind == "LSTM":
            cols = [p.gates[..., j * hid:(j + 1) * hid] for j in (1, 0, 2, 3)]
            names = ("f", "i", "g", "o")
        else:
            cols = [p.gates[..., j * hid:(j + 1) * hid] for j in range(3)]
            names = ("r", "z", "n")
        stacked = np.stack([self._by_step(c).reshape(-1, hid) for c in cols], axis=-1)  # (n_steps, H, C)
        return stacked, names

    def scene(self) -> Scene:
        """The sequence unrolled over time, the weights, and the cell of the current step.

        Panels: ``x`` (the input sequence, one column per time step ``t``, one page per sample), ``W_ih``
        and ``W_hh`` (the weights on ``x`` and on ``h``: one page per layer, direction and gate, torch's ``W_ii``,
        ``W_if``, … blocks of rows; the page of the gate being computed, lit while it is used), the cell (the current step's vectors as columns, labelled:
        :meth:`cell_columns`), ``c`` (LSTM: the cell state, a strip filling up over time) and ``h`` (one
        slice per layer and direction, filling up over time; layer ``l``'s slices are layer ``l+1``'s
        input). Highlights: what the stage reads (window: ``x[t]`` or the lower layer's ``h[t]``,
        ``h[t-1]``, ``c[t-1]``; kernel: the weights and the cell columns used) and what it writes (output),
        each with the legend's words for it.
        """
        n_frames, stages = self.n_frames, self.stages
        n_samples, n_layers, big_d, seq, n_st = self.shape5
        n_ld, hid, h_out = n_layers * big_d, self.hidden_size, self.output_hidden
        k = np.arange(n_frames)
        n, layer, d, step, s = np.unravel_index(k, self.shape5)
        t = np.where(d == 0, step, seq - 1 - step)
        t_prev = np.where(d == 0, t - 1, t + 1)
        first = step == 0
        sid = k // n_st
        stage = np.asarray(stages)[s]
        hidden = np.full(n_frames, _HIDDEN)
        p = self.pass_

        def origins(active, slice_, row, col) -> np.ndarray:
            out = np.zeros((n_frames, 3), dtype=np.int32)
            out[:, 0], out[:, 1], out[:, 2] = slice_, np.where(active, row, hidden), col
            return out

        def column(rows: int, slices: int = 1) -> np.ndarray:
            return np.array([(ds, r, 0) for ds in range(slices) for r in range(rows)], dtype=np.int32).reshape(-1, 3)

        def strip_reveal(stage_name: str) -> np.ndarray:
            """``(N*n_LD, 1, L)``: the frame at which each step's value of that stage appears."""
            j = stages.index(stage_name)
            steps = np.arange(seq)
            out = np.zeros((n_samples, n_layers, big_d, seq), dtype=np.int64)
            for dd in range(big_d):
                step_of_t = steps if dd == 0 else seq - 1 - steps
                base = ((np.arange(n_samples)[:, None, None] * n_layers + np.arange(n_layers)[None, :, None]) * big_d
                        + dd) * seq
                out[:, :, dd, :] = (base + step_of_t[None, None, :]) * n_st + j
            return out.reshape(n_samples * n_ld, 1, seq).astype(np.int32)

        uses_x = np.isin(stage, [q for q in stages if q not in ("hh", "sum", "h", "c")] if self.kind != "RNN"
                         else ["ih"])
        uses_h = np.isin(stage, {"RNN": ["hh"], "LSTM": ["f", "i", "g", "o"], "GRU": ["r", "z", "n", "h"]}[self.kind])
        x_seq = np.moveaxis(p.inputs[0], 1, 0)  # (N, L, H_in)
        in0 = x_seq.shape[2]
        times = tuple(str(tt) for tt in range(seq))  # the columns of every strip: the time steps, unrolled
        panels = [Grid("x", "input x", np.ascontiguousarray(np.swapaxes(x_seq, 1, 2)),
                       tuple(f"x (sample {i})" if self.batched else "x" for i in range(n_samples)),
                       page_size=1, page=n.astype(np.int32), col_labels=times)]
        highlights = [Highlight("x", origins(uses_x & (layer == 0), n, 0, t), column(in0), "window", "x[t] read")]

        # the weights of each layer, direction and gate, one page each (torch's W_ii, W_if, … are blocks of rows of
        # weight_ih_l0): the page of the gate being computed is shown, and lit while the stage uses it
        gates = GATES[self.mode]
        n_gates = len(gates)
        block = np.array([gates.index(q) if q in gates else -1 for q in stage])
        if self.kind == "RNN":  # one block: W_ih at the stage "ih", W_hh at "hh"
            uses_w = {"ih": stage == "ih", "hh": stage == "hh"}
            block = np.zeros_like(block)
        else:
            uses_w = {"ih": block >= 0, "hh": block >= 0}
            for j in range(1, n_frames):  # the c and h stages keep the page of the gate before them
                if block[j] < 0:
                    block[j] = block[j - 1]
            block = np.maximum(block, 0)
        page_w = ((layer * big_d + d) * n_gates + block).astype(np.int32)
        for which, title in (("ih", "weights on x"), ("hh", "weights on h")):
            mats = [self.weights[f"weight_{which}_l{ll}" + ("_reverse" if dd else "")]
                    for ll in range(n_layers) for dd in range(big_d)]
            width = max(m.shape[1] for m in mats)
            stack = np.full((len(mats) * n_gates, hid, width), np.nan)
            names_w = []
            for j, m in enumerate(mats):
                ll, dd = divmod(j, big_d)
                where = (f" l{ll}" if n_layers > 1 else "") + (" ←" if dd else "")
                for q in range(n_gates):
                    stack[j * n_gates + q, :, : m.shape[1]] = m[q * hid : (q + 1) * hid]
                    names_w.append((f"W_{which}" if n_gates == 1 else f"W_{which[0]}{gates[q]}") + where)
            panels.append(Grid(f"W_{which}", title, stack, tuple(names_w), page_size=1, page=page_w))
            stencil = np.array([(0, r, cc) for r in range(hid) for cc in range(width)], dtype=np.int32).reshape(-1, 3)
            highlights.append(Highlight(f"W_{which}", origins(uses_w[which], page_w, 0, 0), stencil,
                                        "kernel", "weights used"))

        cells, names = self.cell_columns()
        labels = []
        for nn_ in range(n_samples):
            for ll in range(n_layers):
                for dd in range(big_d):
                    for st in range(seq):
                        tt = st if dd == 0 else seq - 1 - st
                        where = (f"l{ll} " if n_layers > 1 else "") + ("← " if dd else "")
                        labels.append(f"{where}t={tt}")
        n_cols = cells.shape[2]
        col_of = {name: j for j, name in enumerate(names)}
        if self.kind == "RNN":
            col_map = {"ih": 0, "hh": 1, "sum": 2}
        else:
            col_map = {q: col_of[q] for q in names}
        reveal = np.zeros(cells.shape, dtype=np.int32)
        step_base = (np.arange(cells.shape[0]) * n_st)[:, None, None]
        for name, j in col_map.items():
            reveal[:, :, j] = (step_base[:, :, 0] + stages.index(name))
        title = {"RNN": "cell: Wx+b, Wh+b, a", "LSTM": "gates f, i, g, o", "GRU": "gates r, z, n"}[self.kind]
        col_names = {"RNN": ("Wx+b", "Wh+b", "a"), "LSTM": names, "GRU": names}[self.kind]
        panels.append(Grid("cell", title, cells, tuple(labels), reveal=reveal, page_size=1,
                           page=sid.astype(np.int32), op="→", col_labels=col_names))
        out_col = np.array([col_map.get(q, -1) for q in stage])
        highlights.append(Highlight("cell", origins(out_col >= 0, sid, 0, out_col), column(hid), "output",
                                    "value computed"))
        # the cell columns a stage reads: up to three
        reads = {"RNN": {"sum": ["ih", "hh"], "h": ["sum"]},
                 "LSTM": {"c": ["f", "i", "g"], "h": ["o"]},
                 "GRU": {"n": ["r"], "h": ["z", "n"]}}[self.kind]
        for slot in range(3):
            col = np.array([col_map[reads[q][slot]] if len(reads.get(q, ())) > slot else -1 for q in stage])
            highlights.append(Highlight("cell", origins(col >= 0, sid, 0, col), column(hid), "kernel",
                                        "values combined"))

        strip_labels = tuple((f"sample {i}: " if self.batched else "") + (f"layer {ll}" if n_layers > 1 else "")
                             + (" ←" if dd else (" →" if big_d > 1 else ""))
                             for i in range(n_samples) for ll in range(n_layers) for dd in range(big_d))
        slice_ld = n * n_ld + layer * big_d + d
        if self.kind == "LSTM":
            c_vals = np.moveaxis(p.c, 2, 0).reshape(n_samples * n_ld, seq, hid).swapaxes(1, 2)
            panels.append(Grid("c", "cell state c", np.ascontiguousarray(c_vals),
                               tuple(f"c {lab}".rstrip() for lab in strip_labels),
                               reveal=np.broadcast_to(strip_reveal("c"), c_vals.shape).copy(),
                               page_size=n_ld, page=n.astype(np.int32), col_labels=times))
            is_c, is_h = stage == "c", stage == "h"
            highlights += [Highlight("c", origins(is_c & ~first, slice_ld, 0, t_prev), column(hid), "window", "c read"),
                           Highlight("c", origins(is_h, slice_ld, 0, t), column(hid), "window", "c read"),
                           Highlight("c", origins(is_c, slice_ld, 0, t), column(hid), "output", "c[t] written")]
        h_vals = np.moveaxis(p.h, 2, 0).reshape(n_samples * n_ld, seq, h_out).swapaxes(1, 2)
        h_title = {"RNN": f"hidden state h = {'tanh' if self.mode == 'RNN_TANH' else 'relu'}(a)",
                   "LSTM": "hidden state h = o⊙tanh(c)", "GRU": "hidden state h = (1−z)⊙n + z⊙h"}[self.kind]
        panels.append(Grid("h", h_title, np.ascontiguousarray(h_vals),
                           tuple(f"h {lab}".rstrip() for lab in strip_labels),
                           reveal=np.broadcast_to(strip_reveal("h"), h_vals.shape).copy(),
                           page_size=n_ld, page=n.astype(np.int32),
                           op="→", col_labels=times))
        highlights += [
            Highlight("h", origins(uses_h & ~first, slice_ld, 0, t_prev), column(h_out), "window", "h[t−1] read"),
            # layer l > 0 reads layer l-1's h at t, both directions
            Highlight("h", origins(uses_x & (layer > 0), n * n_ld + np.maximum(layer - 1, 0) * big_d, 0, t),
                      column(h_out, big_d), "window", "lower layer's h[t] read"),
            Highlight("h", origins(stage == "h", slice_ld, 0, t), column(h_out), "output", "h[t] written"),
        ]
        vmax = max(float(np.nanmax(np.abs(g.values))) if np.isfinite(g.values).any() else 0.0 for g in panels) or 1.0
        return Scene(self._title(), n_frames, tuple(panels), tuple(highlights), LazyCaptions(self), vmax)

    def _title(self) -> str:
        text = repr(self.layer)
        if self.force:
            text += "  forced: " + ", ".join(f"{q} = {v:g}" for q, v in self.force.items())
        return text


def input_sensitivity(layer: _Recurrent, x, eps: float = 1e-6, **forward_kwargs) -> np.ndarray:
    """How much the last output depends on each input step: ``||∂h_T / ∂x_t||_F`` for ``t = 0 .. T``.

    ``h_T`` is the last step of the output (``output[-1]``) for an unbatched ``x: (L, H_in)``; the
    derivatives are central differences of ``layer.forward`` (step ``eps``), so this works for any of
    RNN, LSTM and GRU without writing their backward pass. Dropout must be off (``layer.eval()``).
    ``forward_kwargs`` go to ``layer.forward`` (e.g. an LSTM's ``force={'f': 1.0}``).

    Returns
    -------
    ndarray, shape (L,)
    """
    x = _checks.finite_array("x", x, (2,), "(L, H_in)")
    if layer.training and layer.dropout > 0:
        raise ValueError("input_sensitivity needs dropout off: call layer.eval() first")
    seq, features = x.shape
    # every perturbed copy in one batch: 2 * L * H_in sequences, one forward pass
    batch = np.repeat(x[:, None, :], 2 * seq * features, axis=1)
    j = np.arange(seq * features)
    t, f = np.divmod(j, features)
    batch[t, 2 * j, f] += eps
    batch[t, 2 * j + 1, f] -= eps
    saved = layer.batch_first
    layer.batch_first = False
    try:
        last = layer.forward(batch, **forward_kwargs)[0][-1]  # (2*L*H_in, D*H_out)
    finally:
        layer.batch_first = saved
    grads = (last[0::2] - last[1::2]) / (2 * eps)  # (L*H_in, D*H_out)
    return np.sqrt((grads.reshape(seq, features, -1) ** 2).sum(axis=(1, 2)))
