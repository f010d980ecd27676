"""The LSTM explorer: the RNN explorer's controls, no nonlinearity, and a gate-forcing toggle.

Its forward | backward switch shows backpropagation through time for the same settings, with dL/dout = 1 for every
output at every step (:data:`~layerviz.ui.rnn.EVERY_STEP`); a forced gate passes no gradient to its weights.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from layerviz.layers import LSTM
from layerviz.layers._recurrent import RecurrentTrace
from layerviz.ui.explorer import Explorer
from layerviz.ui.rnn import (
    EVERY_STEP,
    _limits,
    describe_recurrent,
    describe_recurrent_backward,
    explorer_input,
    follow_word,
    label_word,
    recurrent_controls,
)

#: The force-a-gate menu: label -> the ``force`` argument (a teaching device, not torch's LSTM).
FORCE_CHOICES = {
    "off (torch's LSTM)": None,
    "f = 1: never forget": {"f": 1.0},
    "f = 0: forget at once": {"f": 0.0},
    "i = 0: write nothing": {"i": 0.0},
    "o = 0: show nothing": {"o": 0.0},
    "o = 1: show everything": {"o": 1.0},
}


def build_lstm(values: dict[str, Any]) -> RecurrentTrace:
    """The trace of ``LSTM(**settings)`` on the chosen sequence, with the chosen gate forced (if any)."""
    _limits(values)
    if values["force"] not in FORCE_CHOICES:
        raise ValueError(f"force must be one of {list(FORCE_CHOICES)}, got {values['force']!r}")
    x = explorer_input(values)
    lstm = LSTM(x.shape[1], values["hidden_size"], values["num_layers"], bidirectional=values["bidirectional"],
                proj_size=values["proj_size"], rng=values["seed"])
    trace = lstm.frames(x, force=FORCE_CHOICES[values["force"]])
    return label_word(trace, values["word"]) if values["input"] == "word" else trace


def describe_lstm(trace: RecurrentTrace) -> str:
    text = describe_recurrent(trace)
    if trace.force:
        forced = ", ".join(f"{gate} = {value:g}" for gate, value in trace.force.items())
        text += f" <b>Forced: {forced}</b> (a teaching override: not what torch's LSTM computes)."
    return text


def lstm_explorer(**initial: Any) -> Explorer:
    """An :class:`Explorer` of :class:`~layerviz.LSTM`; keyword arguments set the controls' first values."""
    style = {"description_width": "initial"}
    controls = recurrent_controls(
        proj_size=widgets.IntText(value=0, description="proj size", style=style, layout=widgets.Layout(width="190px")),
        force=widgets.Dropdown(options=list(FORCE_CHOICES), value="off (torch's LSTM)", description="force a gate",
                               style=style, layout=widgets.Layout(width="280px")),
    )
    for name, value in initial.items():
        controls[name].value = value
    follow_word(controls)
    layout = [["input", "word", "length", "input_size"],
              ["hidden_size", "num_layers", "proj_size", "bidirectional", "seed"],
              ["force"]]
    return Explorer(controls, build_lstm, describe_lstm, layout, backward=EVERY_STEP,
                    describe_backward=describe_recurrent_backward)
