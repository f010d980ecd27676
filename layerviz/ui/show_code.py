""""Show me the code": a fold under the explorer with the torch.nn call and the numpy loops for the current settings."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from layerviz import code


class ShowCode:
    """A closed fold; opened, it shows :func:`layerviz.code.program` for the explorer's trace.

    The program is written only while the fold is open (and again when the trace changes then).
    """

    def __init__(self, explorer: Any) -> None:
        self._explorer = explorer
        self.text = widgets.HTML()
        self.widget = widgets.Accordion(children=[self.text], selected_index=None)
        self.widget.set_title(0, "Show me the code: torch.nn and plain numpy loops for these settings")
        self.widget.add_class("layerviz-code")
        self.widget.observe(explorer.guard(lambda _change: self.refresh()), names="selected_index")

    @property
    def is_open(self) -> bool:
        return self.widget.selected_index == 0

    def refresh(self) -> None:
        """Write the program of the current trace, if the fold is open."""
        trace = self._explorer.trace
        if not self.is_open:
            return
        if trace is None or not code.supports(trace):
            self.text.value = "No code for these settings."
            return
        self.text.value = (
            "<p>Copy it into a Python file or a notebook cell: it prints the largest difference between the two "
            "results (0, up to rounding).</p>"
            f'<pre style="max-height: 24em; overflow: auto; font-size: 12px;">{html.escape(code.program(trace))}</pre>'
        )
