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
from layerviz._format import Ask
from layerviz.layers import _recurrent_backward
from layerviz.layers._module import Module, Setting, check_shapes
from layerviz.layers._recurrent_gates import GATES, LSTM_GATE_NAMES, STAGES, relu, sigmoid
from layerviz.layers._recurrent_narration import Step, tell
from layerviz.layers._recurrent_scene import recurrent_scene
from layerviz.scene import Scene
from layerviz.trace import Trace


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
    output: np.ndarray | None  # (L, N, D*H_out); None while the pass is being filled
    h_n: np.ndarray  # (D*num_layers, N, H_out)
    c_prev: np.ndarray | None = None
    c: np.ndarray | None = None
    h_cell: np.ndarray | None = None  # LSTM: o * tanh(c) before the projection
    c_n: np.ndarray | None = None
    dropout_masks: list = field(default_factory=list)

    @classmethod
    def zeros(cls, n_ld: int, seq: int, n: int, width: int, hid: int, h_out: int, *, lstm: bool) -> _Pass:
        """A pass to fill: zeros of every shape (``width = G*H``, all gates), no inputs, no output yet."""
        x_part = np.zeros((n_ld, seq, n, width))
        h_prev = np.zeros((n_ld, seq, n, h_out))
        cell = (lambda: np.zeros((n_ld, seq, n, hid))) if lstm else (lambda: None)
        return cls(inputs=[], x_part=x_part, h_part=np.zeros_like(x_part), pre=np.zeros_like(x_part),
                   gates=np.zeros_like(x_part), h_prev=h_prev, h=np.zeros_like(h_prev), output=None,
                   h_n=np.zeros((n_ld, n, h_out)), c_prev=cell(), c=cell(), h_cell=cell(),
                   c_n=np.zeros((n_ld, n, hid)) if lstm else None)


def _lstm_cell(xp_t: np.ndarray, hp: np.ndarray, c: np.ndarray, w_hr: np.ndarray | None, hid: int,
               force: dict[str, float]) -> tuple[np.ndarray, ...]:
    """One LSTM step for a batch: ``(pre, gates, c, o⊙tanh(c), h)`` from ``W_ih x_t + b_ih`` and ``W_hh h + b_hh``
    (``(N, 4H)`` each, torch's gate order i, f, g, o) and ``c (N, H)``; forced gates pinned after the activation."""
    a = xp_t + hp
    act = np.concatenate([sigmoid(a[:, :2 * hid]), np.tanh(a[:, 2 * hid:3 * hid]), sigmoid(a[:, 3 * hid:])], axis=1)
    for gate, value in force.items():
        j = "ifgo".index(gate)
        act[:, j * hid:(j + 1) * hid] = value
    i, f, gg, o = (act[:, j * hid:(j + 1) * hid] for j in range(4))
    c = f * c + i * gg
    hc = o * np.tanh(c)
    return a, act, c, hc, hc @ w_hr.T if w_hr is not None else hc


def _gru_cell(xp_t: np.ndarray, hp: np.ndarray, h: np.ndarray, hid: int) -> tuple[np.ndarray, ...]:
    """One GRU step for a batch: ``(pre, gates, h)`` from ``W_ih x_t + b_ih`` and ``W_hh h + b_hh`` (``(N, 3H)``
    each, gates r, z, n) and ``h (N, H)``; the n gate's pre-activation is ``x_n + r⊙h_n``."""
    a = xp_t[:, :2 * hid] + hp[:, :2 * hid]
    rz = sigmoid(a)
    r, z = rz[:, :hid], rz[:, hid:]
    a_n = xp_t[:, 2 * hid:] + r * hp[:, 2 * hid:]
    nn = np.tanh(a_n)
    return np.concatenate([a, a_n], axis=1), np.concatenate([rz, nn], axis=1), (1.0 - z) * nn + z * h


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
        big_d, hid, h_out = self.num_directions, self.hidden_size, self.output_hidden
        p = _Pass.zeros(self.num_layers * big_d, seq, n, self.n_gates * hid, hid, h_out, lstm=self.mode == "LSTM")
        force = dict(force or {})
        layer_in = x3
        for layer in range(self.num_layers):
            if layer and self.training and self.dropout > 0:
                keep = self.rng.random(layer_in.shape) >= self.dropout
                p.dropout_masks.append(keep)
                layer_in = layer_in * keep * (0.0 if self.dropout == 1 else 1.0 / (1.0 - self.dropout))
            p.inputs.append(layer_in)
            for direction in range(big_d):
                self._run_direction(p, layer, direction, layer_in, h0, c0, force)
            layer_in = np.concatenate([p.h[layer * big_d + d] for d in range(big_d)], axis=-1)
        p.output = layer_in
        return p

    def _run_direction(self, p: _Pass, layer: int, direction: int, layer_in: np.ndarray, h0: np.ndarray,
                       c0: np.ndarray | None, force: dict[str, float]) -> None:
        """One layer's pass over the sequence in one direction, written into ``p`` at ``[layer*D + direction]``;
        ``layer_in: (L, N, in_l)``. The input's affine part for every step at once, then the steps in order."""
        ld = layer * self.num_directions + direction
        w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
        xp = layer_in @ w_ih.T
        if b_ih is not None:
            xp = xp + b_ih
        p.x_part[ld] = xp
        h = h0[ld]
        c = c0[ld] if p.c is not None else None
        seq = layer_in.shape[0]
        for t in range(seq) if direction == 0 else range(seq - 1, -1, -1):
            hp = h @ w_hh.T
            if b_hh is not None:
                hp = hp + b_hh
            p.h_prev[ld, t], p.h_part[ld, t] = h, hp
            if self.mode == "LSTM":
                p.c_prev[ld, t] = c
                a, act, c, hc, h = _lstm_cell(xp[t], hp, c, w_hr, self.hidden_size, force)
                p.h_cell[ld, t], p.c[ld, t] = hc, c
            elif self.mode == "GRU":
                a, act, h = _gru_cell(xp[t], hp, h, self.hidden_size)
            else:
                a = xp[t] + hp
                act = np.tanh(a) if self.mode == "RNN_TANH" else relu(a)
                h = act
            p.pre[ld, t], p.gates[ld, t], p.h[ld, t] = a, act, h
        p.h_n[ld] = h
        if p.c is not None:
            p.c_n[ld] = c


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

    def _frame(self, k: int) -> RecurrentFrame:
        n, layer, d, step, t, s = self.locate(k)
        stage = self.stages[s]
        p, ld = self.pass_, layer * self.num_directions + d
        vec = {"x": p.inputs[layer][t, n], "h_prev": p.h_prev[ld, t, n]}
        if p.c_prev is not None:
            vec["c_prev"] = p.c_prev[ld, t, n]
        where = self._where(n, layer, d)
        told = tell(Step(self, n, layer, d, step, t, ld), stage, vec)
        question = told.question
        if question is not None:
            question = question._replace(prompt=where + question.prompt)
        return RecurrentFrame(index=k, sample=n, layer=layer, direction=d, step=step, t=t, stage=stage,
                              vectors=_readonly(vec), result=told.result, forced=told.forced,
                              narration=where + told.text, question=question)

    # -- the cell view and the scene ----------------------------------------------------------

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
        """The sequence unrolled over time, the weights, and the cell of the current step, with what each stage
        reads and writes lit (the panels and highlights: :mod:`~layerviz.layers._recurrent_scene`)."""
        return recurrent_scene(self)

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
