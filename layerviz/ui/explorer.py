"""Explorer: controls -> layer -> trace -> player, with errors shown in the page.

An explorer owns its ipywidgets controls. When one changes, it calls ``build(values)``
(which returns a :class:`~layerviz.trace.Trace`) and hands the trace's scene to the
browser player. A ``ValueError`` from the engine is shown as its message in the page;
any other exception is logged on the server and shown as a short apology. Never a traceback.
While a message shows, the pictures of the last valid settings are greyed out as stale (:mod:`layerviz.ui.alert`).
"Link to these settings" gives the page's address with the settings on screen, and the explorer starts
with the settings the page's address asks for (:mod:`layerviz.ui.link`).
Saving the animation (GIF, WebM) or a frame (PNG) is the player's, in the browser.

An explorer given ``backward`` (e.g. :data:`ONES`) has a **forward | backward** switch (``explorer.direction``):
"backward" shows the backward pass of the same forward trace, how the layer learns, with the same settings;
"forward" shows the forward pass again. ``explorer.trace`` is always the forward trace (the one the settings
build, its code and its link), ``explorer.backward_trace`` its backward trace while it is shown, and
``explorer.shown`` the trace the player plays (the one "predict the next value" asks about).

The wiring is testable without a browser: set ``explorer.controls[name].value`` (and
``explorer.direction.value``) and read ``explorer.trace``, ``explorer.shown``, ``explorer.error.value`` and
``explorer.player.n_frames``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np

from layerviz.player import Player
from layerviz.trace import Trace
from layerviz.ui._guard import guarded
from layerviz.ui.alert import EXPLORER_STYLE, STALE, alert_html
from layerviz.ui.checks import PredictNext
from layerviz.ui.link import SettingsLink
from layerviz.ui.show_code import ShowCode

#: The switch's choices: the forward pass (the output computed) and the backward pass (the gradients computed).
DIRECTIONS = ("forward", "backward")


@dataclass(frozen=True)
class Upstream:
    """The backward pass an explorer's switch shows: ``trace.backward(gradient(output shape))``.

    ``note`` says, in the summary line, which upstream gradient dL/dout the layer receives; ``gradient``
    gives it for the output's shape (None: ones, dL/dout = 1 for every output).
    """

    note: str
    gradient: Callable[[tuple[int, ...]], np.ndarray] | None = None

    def __call__(self, trace: Trace) -> Trace:
        if not hasattr(trace, "backward"):
            layer = getattr(trace, "layer", None)
            if isinstance(layer, tuple):
                raise ValueError(f"the backward pass is drawn for one layer at a time, and these settings show "
                                 f"{len(layer)} side by side: choose one of them to see how it learns")
            raise ValueError(f"{type(layer).__name__} has no backward pass in layerviz yet: choose forward")
        shape = tuple(np.shape(trace.output))
        return trace.backward(None if self.gradient is None else self.gradient(shape))


def fixed_gradient(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Upstream gradient numbers between −1 and 1 with one decimal, the same for every student (``seed``)."""
    values = np.round(np.random.default_rng(seed).uniform(-1.0, 1.0, shape), 1)
    return values + 0.0  # no -0.0


#: dL/dout = 1 for every output: the loss is the sum of the layer's outputs.
ONES = Upstream("dL/dout = 1 for every output (the loss is the sum of the outputs)")


def describe_backward(trace: Trace, note: str = "") -> str:
    """One HTML line on a backward trace: the layer, the upstream gradient, the gradients and their shapes."""
    layer = trace.layer.short_repr() if hasattr(trace.layer, "short_repr") else repr(trace.layer)
    grads = ", ".join(f"{html.escape(section.title)} {tuple(section.values.shape)}"
                      for section in getattr(trace, "sections", ()))
    said = f", {html.escape(note)}" if note else ""
    return (f"Backward pass of <code>{html.escape(layer)}</code>{said}: {len(trace)} frames, one per gradient "
            f"entry: {grads}.")


class Explorer:
    """Wire ``controls`` to ``build`` and a :class:`Player`.

    Parameters
    ----------
    controls : mapping of str to ipywidgets.ValueWidget
        Named controls; ``build`` receives ``{name: control.value}``.
    build : callable
        ``build(values) -> Trace``; raises ValueError for settings that do not fit.
    describe : callable, optional
        ``describe(trace) -> str``: an HTML line shown above the player (shapes, formula).
    layout : list of list of str, optional
        Names per row, of controls or of ``extras``; default one row with all controls.
    extras : mapping of str to ipywidgets.Widget, optional
        Other widgets placed by name in ``layout`` (buttons); they are not passed to ``build``.
    backward : callable, optional
        ``backward(trace) -> BackwardTrace`` (an :class:`Upstream`, e.g. :data:`ONES`): the explorer gets a
        forward | backward switch that shows it. Its ``note`` attribute, if any, goes into the summary.
    describe_backward : callable, optional
        ``describe_backward(backward_trace) -> str``: the line above the player in backward mode
        (default: :func:`describe_backward` with the upstream gradient's note).
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        build: Callable[[dict[str, Any]], Trace],
        describe: Callable[[Trace], str] | None = None,
        layout: list[list[str]] | None = None,
        extras: Mapping[str, widgets.Widget] | None = None,
        backward: Callable[[Trace], Trace] | None = None,
        describe_backward: Callable[[Trace], str] | None = None,
    ) -> None:
        self.controls = dict(controls)
        self.extras = dict(extras or {})
        self._build = build
        self._describe = describe
        self._run_backward = backward
        self._describe_backward = describe_backward
        self.trace: Trace | None = None
        self.backward_trace: Trace | None = None
        self._last_backward: Trace | None = None  # kept while the forward pass shows: switching back is instant
        self.shown: Trace | None = None
        self._built_values: dict[str, Any] | None = None
        self.direction: widgets.ToggleButtons | None = None
        if backward is not None:
            self.direction = widgets.ToggleButtons(
                options=DIRECTIONS, value="forward", description="pass",
                tooltips=["forward: the output, computed step by step",
                          "backward: how the layer learns, the gradients computed step by step"],
                style={"description_width": "initial", "button_width": "84px"},
                layout=widgets.Layout(width="auto", display="flex", align_items="center"))
            self.direction.add_class("layerviz-direction")
        self.error = widgets.HTML(layout=widgets.Layout(min_height="1.6em"))
        self.error.add_class("layerviz-error")
        self.summary = widgets.HTML()
        self.summary.add_class("layerviz-summary")
        self.player = Player()
        self.predict = PredictNext(self)
        self.code = ShowCode(self)
        self.link = SettingsLink(self)  # before any control moves: the controls' first values are the link's defaults
        self._holding = False
        style = widgets.HTML(EXPLORER_STYLE, layout=widgets.Layout(display="none"))
        rows = layout or [list(self.controls)]
        placed = {**self.controls, **self.extras}
        boxes = [widgets.HBox([placed[name] for name in row], layout=widgets.Layout(flex_flow="row wrap"))
                 for row in rows]
        if self.direction is not None:
            boxes.append(widgets.HBox([self.direction]))
        self.widget = widgets.VBox([*boxes, self.link.widget, self.error, self.summary, self.player,
                                    self.predict.widget, self.code.widget, style])
        self.widget.add_class("layerviz-explorer")
        self.link.read_address()  # settings from the page's address (?stride=2&padding=1), see layerviz.ui.link
        for control in self.controls.values():
            control.observe(self.guard(self._on_change), names="value")
        if self.direction is not None:
            self.direction.observe(self.guard(self._on_direction), names="value")
        self.update()

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def _on_change(self, _change: dict) -> None:
        if not self._holding:
            self.update()

    @property
    def backward_shown(self) -> bool:
        """Whether the switch asks for the backward pass."""
        return self.direction is not None and self.direction.value == DIRECTIONS[1]

    @property
    def linked(self) -> dict[str, widgets.Widget]:
        """The controls a link carries: the settings, and the forward | backward switch as ``pass``."""
        return {**self.controls, "pass": self.direction} if self.direction is not None else dict(self.controls)

    def _on_direction(self, _change: dict) -> None:
        """The other pass of the same settings: the forward trace on screen is kept, not rebuilt."""
        if self._holding:
            return
        if self.trace is not None and self._built_values == self.values():
            self._show(self.trace)
        else:  # the settings on screen did not draw (an alert shows): build them, and say again why not
            self.update()

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Set several controls, then redraw once (not once per control)."""
        self._holding = True
        try:
            for name, value in values.items():
                self.linked[name].value = value
        finally:
            self._holding = False
        self.update()

    def guard(self, callback: Callable[..., Any]) -> Callable[..., None]:
        """``callback`` made safe to hang on a widget: failures show in this explorer (see :func:`guarded`)."""
        return guarded(callback, self.show_error)

    def update(self) -> None:
        """Rebuild the trace from the controls and show it, or show why it cannot be built."""
        self.guard(self._update)()

    def _update(self) -> None:
        values = self.values()
        trace = self._build(values)
        self._show(trace, values)

    def _backward_of(self, trace: Trace) -> Trace:
        if self._last_backward is not None and getattr(self._last_backward, "forward", None) is trace:
            return self._last_backward
        return self._run_backward(trace)

    def _show(self, trace: Trace, values: dict[str, Any] | None = None) -> None:
        """Show ``trace`` or its backward pass, as the switch says; nothing changes if either fails."""
        backward = self._backward_of(trace) if self.backward_shown else None
        shown = trace if backward is None else backward
        scene = shown.scene()
        if backward is not None:
            summary = (self._describe_backward(backward) if self._describe_backward
                       else describe_backward(backward, getattr(self._run_backward, "note", "")))
        else:
            summary = self._describe(trace) if self._describe else ""
        self.trace, self.backward_trace, self.shown = trace, backward, shown
        if backward is not None:
            self._last_backward = backward
        if values is not None:
            self._built_values = values
        self.error.value = ""
        self.widget.remove_class(STALE)
        self.link.refresh()
        self.summary.value = summary
        self.player.scene = scene
        self.predict.refresh()
        self.code.refresh()

    def show_error(self, message: str) -> None:
        """Show ``message`` in an alert; the pictures of the last valid settings, if any, are greyed out as stale."""
        stale = self.trace is not None
        self.error.value = alert_html(message, stale)
        if stale:
            self.widget.add_class(STALE)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.trace!r}>"
