"""Checks a student answers in the page: predict the next value, predict the output shape.

Both say right or wrong and then show the arithmetic. They hold no layer knowledge: a frame says what it
asks (its ``question``: the narration's arithmetic with the result hidden, and the result as shown), or
the question comes from running the layer on an input.

Fair and strict: the narration shows the operands with the decimals that make its arithmetic, redone from
them, give the result shown (see :func:`layerviz._format.redoable`). So an answer is right when it is the
result shown at the precision typed (2 decimals at least, at most the decimals shown): within half a unit
of that last decimal. A student who works from the numbers on screen and types two decimals is right;
one unit off in the last decimal is wrong.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import ipywidgets as widgets
import numpy as np

from layerviz.ui._guard import guarded

#: Decimals an answer is judged at, at least: the narrations show two.
LEAST_DECIMALS = 2
#: Frames looked at after the one shown for the next question: a dropout explorer's mask of 32 × 32 values is
#: drawn in 1024 frames before its scaling asks; a trace that asks nothing is not built twice beyond this.
LOOK_AHEAD = 1100


class Question(NamedTuple):
    """What a frame asks: its arithmetic with the result hidden, the number to predict, how to ask for it,
    and the number as the narration shows it (its decimals set the precision judged)."""

    text: str
    answer: float
    ask: str
    shown: str


def question(frame: Any) -> Question | None:
    """What ``frame`` asks a student to predict (``"out[0,0,1] = 1.00×0.50 + … = ?"``), or None.

    A frame asks only when every number its result is computed from is shown: not when its narration
    abridges terms with "…", nor multiplies a weight matrix it does not show, nor draws a mask. A frame of
    several steps shows the first step's operands and asks for the last step's value; a vector asks for
    its first entry.
    """
    asked = getattr(frame, "question", None)
    if asked is None:
        return None
    ask = "What is its first entry?" if asked.entry else "What number does it give?"
    return Question(asked.prompt, float(asked.value), ask, asked.shown)


def decimals(text: str) -> int:
    """Decimals written in a number's text: ``"0.50"`` 2, ``"3"`` 0, ``"1e-3"`` 3."""
    return max(0, -int(Decimal(_cleaned(text)).as_tuple().exponent))


def _cleaned(text: str) -> str:
    """A typed number as Python reads it: a minus sign for ``−``, a point for a lone decimal comma."""
    cleaned = str(text).strip().replace("−", "-").replace(" ", "")
    if "," in cleaned and "." not in cleaned and cleaned.count(",") == 1:
        cleaned = cleaned.replace(",", ".")
    return cleaned


def parse_answer(text: str) -> float:
    """A typed answer as a number (``"-0.13"``, ``"−0.13"``, ``"0,13"``); ValueError saying what to type."""
    cleaned = _cleaned(text)
    if not cleaned:
        raise ValueError("Type a number first.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(f"{str(text).strip()!r} is not a number: type one like 0.25 or -1.5.")
    return float(value)


def is_right(answer: str | float, shown: str) -> bool:
    """Whether ``answer`` (typed text, or a number) is the result ``shown`` at the precision typed.

    The precision is the answer's decimals, at least :data:`LEAST_DECIMALS` and at most those of ``shown``:
    ``answer`` is right within half a unit of that last decimal (and a hair, for floats). For a result shown
    ``0.13``: 0.13 and 0.1349 are right, 0.12, 0.14 and 0.136 wrong; for ``0.125`` (a tie, shown with a
    third decimal), 0.125, 0.12 and 0.13 are right.
    """
    typed = answer if isinstance(answer, str) else repr(float(answer))
    value = parse_answer(typed)
    places = min(max(decimals(typed), LEAST_DECIMALS), max(decimals(shown), LEAST_DECIMALS))
    result = float(shown)
    return bool(abs(value - result) <= 0.5 * 10.0**-places + 1e-9 * max(1.0, abs(result)))


def _feedback(right: bool, text: str) -> str:
    mark, word, colour = ("✔", "Right", "#1a7f37") if right else ("✘", "Not quite", "#b3261e")
    return (f'<div class="layerviz-feedback" role="status" style="border-left: 4px solid {colour}; '
            f'padding: 4px 8px;"><b>{mark} {word}.</b> {text}</div>')


def _notice(text: str) -> str:
    """A message about the answer box (nothing typed, not a number): not a verdict."""
    return (f'<div class="layerviz-feedback layerviz-notice" role="status" style="border-left: 4px solid #8a6d00; '
            f'padding: 4px 8px;">{html.escape(text)}</div>')


class PredictNext:
    """"Predict the next value": the student types the number the next step computes, then checks.

    Bound to an explorer: the question is the first frame after the one its player shows that asks one
    (see :func:`question`), in the trace the player shows (``explorer.shown``: the forward pass, or the
    backward pass when the explorer's switch shows it; ``explorer.trace`` for an object without ``shown``).
    The answer box starts empty; Check with nothing typed (or not a number) says so and judges nothing.
    Checking says right or wrong, names the step and shows its arithmetic, and steps the player to that frame,
    so the picture shows what was just computed; the next question appears with an empty answer box. Any other
    change of question (the student steps the player, new settings) clears the verdict, which is then about a
    question no longer asked.

    The wiring is testable without a browser: set ``answer.value`` (a text), call ``check()``, read
    ``feedback.value``.
    """

    def __init__(self, explorer: Any) -> None:
        self._explorer = explorer
        self.frame: int | None = None
        self.result: float | None = None
        self.asked: Question | None = None
        self._trace: Any = None
        self._questions: dict[int, Question | None] = {}
        self._checking = False
        self.prompt = widgets.HTML()
        self.answer = widgets.Text(value="", placeholder="a number, e.g. 0.25", description="your answer",
                                   style={"description_width": "initial"}, layout=widgets.Layout(width="220px"))
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

    def _shown(self) -> Any:
        """The trace the explorer's player shows."""
        shown = getattr(self._explorer, "shown", None)
        return shown if shown is not None else self._explorer.trace

    def _question(self, k: int) -> Question | None:
        """Frame ``k``'s question, remembered for the trace shown (stepping on does not rebuild frames)."""
        if k not in self._questions:
            self._questions[k] = question(self._shown()[k])
        return self._questions[k]

    def _first_from(self, start: int) -> int | None:
        trace = self._shown()
        for k in range(start, min(len(trace), start + LOOK_AHEAD)):
            if self._question(k) is not None:
                return k
        return None

    def refresh(self) -> None:
        """Ask about the first frame after the current one that asks something."""
        trace, current = self._shown(), self._explorer.player.frame
        if trace is not self._trace:
            self._trace, self._questions = trace, {}
        before = (self.frame, self.asked)
        self.frame = self.result = self.asked = None
        if trace is not None:
            k = self._first_from(current + 1)
            if k is not None:
                self.frame, self.asked = k, self._question(k)
                self.result = self.asked.answer
                self.prompt.value = (f"Step {k + 1} computes: <code>{html.escape(self.asked.text)}</code> "
                                     f"{self.asked.ask}")
        if self.frame is None:
            self.prompt.value = "No number left to predict: go back a few steps, or change the settings."
        if (self.frame, self.asked) != before:
            # a new question: a verdict about another one would read as about this one (check() shows its own)
            self.answer.value = ""
            if not self._checking:
                self.feedback.value = ""
        self.button.disabled = self.frame is None
        # a trace that asks nothing (eval-mode dropout, a convolution whose products are not listed) has no check
        asks = trace is not None and (self.frame is not None or self._first_from(0) is not None)
        self.widget.layout.display = None if asks else "none"

    def check(self) -> bool | None:
        """Judge ``answer.value``; show the arithmetic; step the player there.

        None, and nothing judged, when there is no question or nothing (or not a number) was typed.
        """
        if self.frame is None or self.asked is None:
            return None
        typed = self.answer.value
        try:
            parse_answer(typed)
        except ValueError as error:
            self.feedback.value = _notice(str(error))
            return None
        frame, asked = self.frame, self.asked
        right = is_right(typed, asked.shown)
        narration = self._shown()[frame].narration
        said = "" if right else f"You said {html.escape(typed.strip())}; the answer is {asked.shown}. "
        verdict = _feedback(right, f"Step {frame + 1}: {said}<code>{html.escape(narration)}</code>")
        self._checking = True
        try:
            self._explorer.player.frame = frame  # refresh() asks the next question, the verdict stays
        finally:
            self._checking = False
        self.feedback.value = verdict
        return right


class TraceCheck:
    """A lesson's own trace (a worked example's backward pass) played with "predict the next value" under it.

    The same check as under an explorer's player (:class:`PredictNext`), for a trace built in the notebook:
    display it (``predict_next(btrace)``) instead of ``btrace.player()``. ``player`` is the trace's
    :class:`~layerviz.player.Player`, ``predict`` the check; a failure shows as a message under them.
    """

    def __init__(self, trace: Any) -> None:
        from layerviz.player import Player

        self.trace = self.shown = trace
        self.error = widgets.HTML()
        self.player = Player(trace.scene())
        self.predict = PredictNext(self)
        self.predict.refresh()
        self.widget = widgets.VBox([self.player, self.predict.widget, self.error])
        self.widget.add_class("layerviz-trace-check")

    def guard(self, callback: Any) -> Any:
        return guarded(callback, self._show_error)

    def _show_error(self, message: str) -> None:
        self.error.value = f'<div role="alert">⚠ {html.escape(message)}</div>'

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"<TraceCheck: {self.trace!r}>"


def predict_next(trace: Any) -> TraceCheck:
    """``trace``'s player with "predict the next value" under it (display it in a notebook cell)."""
    return TraceCheck(trace)


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
