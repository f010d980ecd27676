"""Explorer: controls -> layer -> trace -> player, with errors shown in the page.

An explorer owns its ipywidgets controls. When one changes, it calls ``build(values)``
(which returns a :class:`~layerviz.trace.Trace`) and hands the trace's scene to the
browser player. A ``ValueError`` from the engine is shown as its message in the page;
any other exception is logged on the server and shown as a short apology. Never a traceback.
While a message shows, the pictures of the last valid settings are greyed out as stale (:mod:`layerviz.ui.alert`).
"Link to these settings" gives the page's address with the settings on screen, and the explorer starts
with the settings the page's address asks for (:mod:`layerviz.ui.link`).
Saving the animation (GIF, WebM) or a frame (PNG) is the player's, in the browser.

The wiring is testable without a browser: set ``explorer.controls[name].value`` and read
``explorer.trace``, ``explorer.error.value`` and ``explorer.player.n_frames``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets

from layerviz.player import Player
from layerviz.trace import Trace
from layerviz.ui._guard import guarded
from layerviz.ui.alert import EXPLORER_STYLE, STALE, alert_html
from layerviz.ui.checks import PredictNext
from layerviz.ui.link import SettingsLink
from layerviz.ui.show_code import ShowCode



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
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        build: Callable[[dict[str, Any]], Trace],
        describe: Callable[[Trace], str] | None = None,
        layout: list[list[str]] | None = None,
        extras: Mapping[str, widgets.Widget] | None = None,
    ) -> None:
        self.controls = dict(controls)
        self.extras = dict(extras or {})
        self._build = build
        self._describe = describe
        self.trace: Trace | None = None
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
        self.widget = widgets.VBox([*boxes, self.link.widget, self.error, self.summary, self.player,
                                    self.predict.widget, self.code.widget, style])
        self.widget.add_class("layerviz-explorer")
        self.link.read_address()  # settings from the page's address (?stride=2&padding=1), see layerviz.ui.link
        for control in self.controls.values():
            control.observe(self.guard(self._on_change), names="value")
        self.update()

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def _on_change(self, _change: dict) -> None:
        if not self._holding:
            self.update()

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Set several controls, then redraw once (not once per control)."""
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
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
        trace = self._build(self.values())
        scene = trace.scene()
        summary = self._describe(trace) if self._describe else ""
        self.trace = trace
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
