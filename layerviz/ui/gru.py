"""The GRU explorer, and the GRU page's comparison with the LSTM on the same input.

A GRU step has four parts, as a student reads them (:data:`GRU_PARTS`): the reset gate ``r``, the update gate
``z``, the candidate ``n`` (torch's "new gate") and the new hidden state ``h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}``.
The explorer has the RNN and LSTM explorers' controls, and a view that shows the LSTM of the same sizes and seed
on the same input (:data:`VIEWS`); its forward | backward switch shows backpropagation through time, with
dL/dout = 1 for every output at every step (:data:`~layerviz.ui.rnn.EVERY_STEP`).

For the page: :func:`gru_vs_lstm` (the same input through a GRU and an LSTM, with torch's initial weights and
with their keeping gates opened), :func:`comparison_table` (gate blocks, parameters and states, counted from the
layers, and how much the last output depends on the first input) and :func:`gru_vs_lstm_figure` (``h`` over time
and ``||∂h_T/∂x_t||``, computed by the engine, drawn by matplotlib through a
:class:`~layerviz.figure_store.StoredFigure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np

from layerviz.figure_store import StoredFigure
from layerviz.layers import GRU, LSTM
from layerviz.layers._recurrent import RecurrentTrace, _Recurrent, input_sensitivity
from layerviz.layers._recurrent_gates import GATES
from layerviz.ui import prose
from layerviz.ui.explorer import Explorer
from layerviz.ui.lstm import describe_lstm
from layerviz.ui.rnn import (
    EVERY_STEP,
    _draw_rnn_vs_lstm,
    _limits,
    describe_recurrent,
    describe_recurrent_backward,
    explorer_input,
    follow_word,
    label_word,
    recurrent_controls,
)

#: The four parts of a GRU step, in the order the layer computes them: (stage, name, what it does).
GRU_PARTS = (
    ("r", "reset gate r", "how much of the memory h[t−1] the candidate reads"),
    ("z", "update gate z", "for each value, how much of h[t−1] to keep"),
    ("n", "candidate n", "the new values on offer, tanh(W_in x_t + b_in + r ⊙ (W_hn h[t−1] + b_hn))"),
    ("h", "new hidden state h[t]",
     "(1 − z) ⊙ n + z ⊙ h[t−1]: the candidate where z is 0, the old state where z is 1"),
)

#: How each layer keeps the past and writes the new (the rows of :func:`comparison_table`).
KEEPS_AND_WRITES = {
    "GRU": ("z ⊙ h[t−1]: the update gate", "(1 − z) ⊙ n: the same gate, the rest"),
    "LSTM": ("f ⊙ c[t−1]: the forget gate", "i ⊙ g: a gate of its own, the input gate"),
}

#: The explorer's view menu: label -> the layer it runs on the chosen input.
VIEWS = {"GRU": "GRU", "LSTM on the same input": "LSTM"}


def parameter_count(layer: _Recurrent) -> int:
    """How many numbers a recurrent layer learns: the sizes of its weights and biases (torch's parameters).

    Parameters
    ----------
    layer : RNN, LSTM or GRU

    Returns
    -------
    int
    """
    return int(sum(np.size(value) for _, value in layer.named_parameters()))


def gate_blocks(layer: _Recurrent) -> int:
    """How many blocks of ``hidden_size`` rows ``weight_ih_l0`` stacks: 3 for a GRU (r, z, n), 4 for an LSTM.

    Parameters
    ----------
    layer : RNN, LSTM or GRU

    Returns
    -------
    int
    """
    return int(np.shape(layer.weight_ih_l0)[0]) // layer.hidden_size


def _same_sizes(layer: type[_Recurrent], values: Mapping[str, Any], input_size: int) -> _Recurrent:
    return layer(input_size, values["hidden_size"], values["num_layers"], bidirectional=values["bidirectional"],
                 rng=values["seed"])


def build_gru(values: dict[str, Any]) -> RecurrentTrace:
    """The trace of ``GRU(**settings)`` on the chosen sequence (one sample, unbatched), or, in the view
    "LSTM on the same input", of the LSTM with the same sizes and seed on the same sequence.

    Parameters
    ----------
    values : dict
        The controls' values: those of :func:`~layerviz.ui.rnn.recurrent_controls` and ``view`` (a key of
        :data:`VIEWS`).

    Returns
    -------
    RecurrentTrace

    Raises
    ------
    ValueError
        A setting the layer refuses or the explorer cannot show, with the rule it breaks.
    """
    _limits(values)
    if values["view"] not in VIEWS:
        raise ValueError(f"view must be one of {list(VIEWS)}, got {values['view']!r}")
    x = explorer_input(values)
    layer = _same_sizes(GRU if VIEWS[values["view"]] == "GRU" else LSTM, values, x.shape[1])
    trace = layer.frames(x)
    return label_word(trace, values["word"]) if values["input"] == "word" else trace


def _other(trace: RecurrentTrace) -> _Recurrent:
    """The LSTM of the same sizes as the GRU of ``trace`` (or the GRU of the same sizes as its LSTM)."""
    layer = trace.layer
    cls = LSTM if trace.kind == "GRU" else GRU
    return cls(layer.input_size, layer.hidden_size, layer.num_layers, bidirectional=layer.bidirectional)


def describe_gru(trace: RecurrentTrace) -> str:
    """The explorer's line above the player: the shapes and frames (:func:`~layerviz.ui.rnn.describe_recurrent`),
    the four parts of a step, and the gate blocks and parameters of this layer and of the other one.

    Parameters
    ----------
    trace : RecurrentTrace
        Of a GRU, or of the LSTM the view "LSTM on the same input" shows.

    Returns
    -------
    str
        HTML.
    """
    layer, other = trace.layer, _other(trace)
    if trace.kind == "GRU":
        parts = ", ".join(name for _, name, _ in GRU_PARTS)
        return (f"{describe_recurrent(trace)} Each step: {parts} = (1 − z) ⊙ n + z ⊙ h[t−1]. "
                f"{gate_blocks(layer)} gate blocks, {parameter_count(layer)} parameters, no cell state; an LSTM of "
                f"the same sizes has {gate_blocks(other)} gate blocks, {parameter_count(other)} parameters and a "
                f"cell state c.")
    return (f"{describe_lstm(trace)} <b>The LSTM on the same input</b>, with the GRU's sizes and seed: "
            f"{gate_blocks(layer)} gate blocks, {parameter_count(layer)} parameters and a cell state c; the GRU has "
            f"{gate_blocks(other)} gate blocks, {parameter_count(other)} parameters and no cell state.")


def gru_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of :class:`~layerviz.GRU`; keyword arguments set the controls' first values.

    Parameters
    ----------
    **initial
        First values of the controls: ``input`` ('sine', 'word', 'pulse', 'random'), ``word``, ``length``,
        ``input_size``, ``hidden_size``, ``num_layers``, ``bidirectional``, ``seed`` and ``view`` (a key of
        :data:`VIEWS`).

    Returns
    -------
    Explorer
        With a forward | backward switch (backpropagation through time, dL/dout = 1 everywhere).
    """
    style = {"description_width": "initial"}
    controls = recurrent_controls(
        view=widgets.Dropdown(options=list(VIEWS), value="GRU", description="view", style=style,
                              layout=widgets.Layout(width="280px")),
    )
    for name, value in initial.items():
        controls[name].value = value
    follow_word(controls)
    layout = [["input", "word", "length", "input_size"],
              ["hidden_size", "num_layers", "bidirectional", "seed"],
              ["view"]]
    return Explorer(controls, build_gru, describe_gru, layout, backward=EVERY_STEP,
                    describe_backward=describe_recurrent_backward)


# -- the GRU and the LSTM on the same input ------------------------------------------------------------------------


def gru_vs_lstm(x, hidden_size: int = 6, seed: int = 0, gate_bias: float = 3.0) -> dict[str, RecurrentTrace]:
    """The same sequence through an LSTM and a GRU, each with torch's initial weights and again with the gate that
    keeps the past opened: ``gate_bias`` added to the LSTM's forget-gate biases ``b_if`` (``bias_ih_l0[H:2H]``)
    and to the GRU's update-gate biases ``b_iz`` (``bias_ih_l0[H:2H]``, torch's order r, z, n).

    Parameters
    ----------
    x : array_like, shape (L, H_in)
        One sequence.
    hidden_size : int, default 6
    seed : int, default 0
        The initial weights (the same seed for both layers).
    gate_bias : float, default 3.0
        Added to the keeping gate's biases, so that it starts near ``σ(3) ≈ 0.95``.

    Returns
    -------
    dict of str to RecurrentTrace
        ``{'LSTM': ..., 'LSTM, forget bias +3': ..., 'GRU': ..., 'GRU, update bias +3': ...}``, in eval mode.
    """
    x = np.asarray(x, dtype=float)
    traces = {}
    for cls, gate in ((LSTM, "forget"), (GRU, "update")):
        for bias in (0.0, gate_bias):
            layer = cls(x.shape[1], hidden_size, rng=seed).eval()
            if bias:
                biases = layer.bias_ih_l0.copy()
                biases[hidden_size:2 * hidden_size] += bias
                layer.bias_ih_l0 = biases
            name = cls.__name__ if not bias else f"{cls.__name__}, {gate} bias +{bias:g}"
            traces[name] = layer.frames(x)
    return traces


def comparison_table(x, hidden_size: int = 6, seed: int = 0, gate_bias: float = 3.0) -> prose.Table:
    """The GRU and the LSTM side by side on the same input ``x``: what each stacks, learns and carries, counted from
    the layers of :func:`gru_vs_lstm`, and how much the last output depends on the first input, ``||∂h_T/∂x_0||``
    (:func:`~layerviz.layers._recurrent.input_sensitivity`), with torch's initial weights and with the keeping
    gate opened.

    Parameters
    ----------
    x : array_like, shape (L, H_in)
    hidden_size, seed, gate_bias
        As in :func:`gru_vs_lstm`.

    Returns
    -------
    prose.Table
        Columns "GRU" and "LSTM".
    """
    traces = gru_vs_lstm(x, hidden_size, seed, gate_bias)
    gru, lstm = traces["GRU"], traces["LSTM"]
    opened = {"GRU": traces[f"GRU, update bias +{gate_bias:g}"],
              "LSTM": traces[f"LSTM, forget bias +{gate_bias:g}"]}

    def cells(kind: str, trace: RecurrentTrace) -> list[Any]:  # one column
        layer = trace.layer
        blocks = gate_blocks(layer)
        gates = ", ".join(GATES[layer.mode])
        states = "h" if trace.c_n is None else "h and c"
        returned = "output, h_n" if trace.c_n is None else "output, (h_n, c_n)"
        keeps, writes = KEEPS_AND_WRITES[kind]
        return [f"{blocks}: {gates}", tuple(int(d) for d in np.shape(layer.weight_ih_l0)), parameter_count(layer),
                states, keeps, writes, len(trace.stages), returned,
                f"{input_sensitivity(layer, trace.input)[0]:.2g}",
                f"{input_sensitivity(opened[kind].layer, trace.input)[0]:.2g}"]

    names = ["gate blocks (stacked in the weights)", "weight_ih_l0", "parameters", "state carried to the next step",
             "what keeps the past", "what writes the new", "frames per time step", "returns",
             "‖∂h_T/∂x_0‖, torch's initial weights",
             f"‖∂h_T/∂x_0‖, keeping gate's bias +{gate_bias:g}"]
    columns = [cells("GRU", gru), cells("LSTM", lstm)]
    rows = [[name, *(column[i] for column in columns)] for i, name in enumerate(names)]
    caption = (f"A GRU and an LSTM on the same input ({len(gru.input)} steps, {gru.input.shape[1]} feature"
               f"{'s' if gru.input.shape[1] > 1 else ''}, hidden size {hidden_size}, seed {seed}), counted by layerviz")
    return prose.table(rows, ["", "GRU", "LSTM"], caption)


def gru_vs_lstm_figure(x, hidden_size: int = 6, seed: int = 0, gate_bias: float = 3.0) -> StoredFigure:
    """Side by side, on the same input: ``h`` over time for each layer of :func:`gru_vs_lstm`, and below how much
    the last output still depends on each input step, ``||∂h_T/∂x_t||`` (log scale).

    Parameters
    ----------
    x : array_like, shape (L, H_in)
    hidden_size, seed, gate_bias
        As in :func:`gru_vs_lstm`.

    Returns
    -------
    StoredFigure
        The engine's numbers; matplotlib only draws them (``.figure``).
    """
    traces = gru_vs_lstm(x, hidden_size, seed, gate_bias)
    return StoredFigure(_draw_rnn_vs_lstm, names=list(traces), outputs=[t.output.T for t in traces.values()],
                        sensitivities=[input_sensitivity(t.layer, t.input) for t in traces.values()])
