"""Checks a student answers in the page: predict the next value, predict the output shape.

Both say right or wrong and then show the arithmetic. They hold no layer knowledge: the question
comes from a frame's narration (its last number hidden) or from running the layer on an input.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import ipywidgets as widgets
import numpy as np

from layerviz._format import number
from layerviz.ui._guard import guarded

#: An answer counts as right within this absolute tolerance plus this fraction of the true value:
#: students work from the two-decimal numbers the page shows, so their rounding must not be punished.
ABSOLUTE_TOLERANCE = 0.01
RELATIVE_TOLERANCE = 0.01


class Question(NamedTuple):
    """What a frame asks: its narration with the result hidden, the number to predict, and how to ask for it."""

    text: str
    answer: float
    ask: str


def question(frame: Any) -> Question | None:
    """The frame's narration with its result hidden (``"out[0,0,1] = 1.00×0.50 + … = ?"``) and the number to predict.

    A frame whose result is one number asks for it (a frame of several steps shows only the first
    step's arithmetic, since the later steps repeat its result); one whose result is a vector written out in full
    (``"h[0] = tanh([…]) = [0.05, 0.14]"``) asks for its first entry. None when the frame does not end by
    computing numbers it shows (a mask drawn, a vector cut short with "…").
    """
    result = getattr(frame, "result", None)
    narration = getattr(frame, "narration", "")
    if result is None or np.ndim(result) > 1:
        return None
    if np.ndim(result) == 0:
        shown, answer, ask = number(float(result)), float(result), "What number does it give?"
    else:
        values = np.asarray(result, dtype=float)
        if values.size == 0:
            return None
        shown = "[" + ", ".join(number(float(v)) for v in values) + "]"
        answer, ask = float(values[0]), "What is its first entry?"
    if not narration.endswith(" = " + shown):
        return None
    steps = narration.split("; ")
    if len(steps) > 1:
        # "z = 0.50×1.00 + … = 0.54; a = relu(0.54) = 0.54": the later steps repeat the earlier results,
        # so show the first step's arithmetic without its result and ask for the last step's
        first_arithmetic = steps[0].rpartition(" = ")[0]
        last_label = steps[-1].partition(" = ")[0]
        return Question(f"{first_arithmetic}; {last_label} = ?", answer, ask)
    return Question(narration[: -len(shown)] + "?", answer, ask)


def is_right(answer: float, result: float) -> bool:
    """Whether ``answer`` matches ``result`` within :data:`ABSOLUTE_TOLERANCE` + :data:`RELATIVE_TOLERANCE`."""
    return bool(abs(answer - result) <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * abs(result))


def _feedback(right: bool, text: str) -> str:
    mark, word, colour = ("✔", "Right", "#1a7f37") if right else ("✘", "Not quite", "#b3261e")
    return (f'<div class="layerviz-feedback" role="status" style="border-left: 4px solid {colour}; '
            f'padding: 4px 8px;"><b>{mark} {word}.</b> {text}</div>')


class PredictNext:
    """"Predict the next value": the student types the number the next step computes, then checks.

    Bound to an explorer: the question is the first frame after the one its player shows that ends
    by computing one number. Checking says right or wrong, shows the arithmetic and steps the player
    to that frame, so the picture shows what was just computed.

    The wiring is testable without a browser: set ``answer.value``, call ``check()``, read ``feedback.value``.
    """

    def __init__(self, explorer: Any) -> None:
        self._explorer = explorer
        self.frame: int | None = None
        self.result: float | None = None
        self.prompt = widgets.HTML()
        self.answer = widgets.FloatText(description="your answer", style={"description_width": "initial"},
                                        layout=widgets.Layout(width="220px"))
        self.button = widgets.Button(description="Check", tooltip="Check your prediction of the next value")
        self.feedback = widgets.HTML()
        self.button.on_click(explorer.guard(lambda _button: self.check()))
        self.answer.continuous_update = False
        self.widget = widgets.VBox([
            widgets.HTML("<b>Check yourself: predict the next value</b>"),
            self.prompt,
            widgets.HBox([self.answer, self.button]),
            self.feedback,
        ])
        self.widget.add_class("layerviz-check")
        self.widget.add_class("layerviz-predict-next")
        # the explorer calls refresh() itself when it shows a new trace
        explorer.player.observe(explorer.guard(lambda _change: self.refresh()), names="frame")

    def refresh(self) -> None:
        """Ask about the first frame after the current one that computes one number."""
        trace, current = self._explorer.trace, self._explorer.player.frame
        self.frame = self.result = None
        if trace is not None:
            # a frame with a question is found within a few frames in every layer; the cap bounds the cost
            for k in range(current + 1, min(len(trace), current + 64)):
                asked = question(trace[k])
                if asked is not None:
                    self.frame, self.result = k, asked.answer
                    self.prompt.value = f"Step {k + 1} computes: <code>{html.escape(asked.text)}</code> {asked.ask}"
                    break
        if self.frame is None:
            self.prompt.value = "No number left to predict: go back a few steps, or change the settings."
        self.button.disabled = self.frame is None
        # a trace whose first frames ask nothing (a dropout mask is drawn, not computed) has no check to offer
        asks = trace is not None and (self.frame is not None or any(
            question(trace[k]) is not None for k in range(min(len(trace), 64))))
        self.widget.layout.display = None if asks else "none"

    def check(self) -> bool | None:
        """Judge ``answer.value``; show the arithmetic; step the player there. None if there is no question."""
        if self.frame is None or self.result is None:
            return None
        frame, result = self.frame, self.result
        right = is_right(float(self.answer.value), result)
        narration = self._explorer.trace[frame].narration
        said = "" if right else f"You said {number(float(self.answer.value))}. "
        self.feedback.value = _feedback(right, f"{said}<code>{html.escape(narration)}</code>")
        self._explorer.player.frame = frame
        return right


def _parse_shape(text: str) -> tuple[int, ...] | None:
    numbers = re.findall(r"-?\d+", text)
    return tuple(int(n) for n in numbers) if numbers else None


class PredictShape:
    """"Predict the shape": what shape does ``layer`` give for an input of ``input_shape``?

    The student types the shape (``1, 6, 6`` or ``(1, 6, 6)``); checking says right or wrong and shows
    the answer with ``explanation`` (e.g. the output-size formula with the numbers).
    """

    def __init__(self, layer: Any, input_shape: Sequence[int], explanation: str = "") -> None:
        self.layer = layer
        self.input_shape = tuple(int(d) for d in input_shape)
        output = layer(np.zeros(self.input_shape))
        self.output_shape = tuple((output[0] if isinstance(output, tuple) else output).shape)
        self.explanation = explanation
        self.answer = widgets.Text(description="output shape", placeholder="e.g. 1, 6, 6",
                                   style={"description_width": "initial"}, layout=widgets.Layout(width="260px"))
        self.button = widgets.Button(description="Check", tooltip="Check your prediction of the output shape")
        self.feedback = widgets.HTML()
        self.button.on_click(guarded(lambda _button: self.check(), self._show_error))
        self.widget = widgets.VBox([
            widgets.HTML(f"<b>Check yourself: predict the shape.</b> An input of shape "
                         f"<code>{self.input_shape}</code> goes through <code>{html.escape(repr(layer))}</code>. "
                         "What shape comes out?"),
            widgets.HBox([self.answer, self.button]),
            self.feedback,
        ])
        self.widget.add_class("layerviz-check")
        self.widget.add_class("layerviz-predict-shape")

    def _show_error(self, message: str) -> None:
        self.feedback.value = f'<div role="alert">⚠ {html.escape(message)}</div>'

    def check(self) -> bool:
        """Judge ``answer.value`` and show the answer."""
        said = _parse_shape(self.answer.value)
        right = said == self.output_shape
        text = f"<code>{html.escape(repr(self.layer))}</code> maps <code>{self.input_shape}</code> to " \
               f"<code>{self.output_shape}</code>."
        if not right:
            text = f"You said <code>{html.escape(self.answer.value.strip() or 'nothing')}</code>. " + text
        if self.explanation:
            text += f" {self.explanation}"
        self.feedback.value = _feedback(right, text)
        return right

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def predict_shape(layer: Any, input_shape: Sequence[int], explanation: str = "") -> PredictShape:
    """A :class:`PredictShape` check (display it in a notebook cell)."""
    return PredictShape(layer, input_shape, explanation)
