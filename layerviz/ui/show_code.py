""""Show me the code": a fold under the explorer with the torch.nn call and the numpy loops for the current settings."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from layerviz import code
from layerviz.ui.copyable import CodeBlock

#: What the fold says above the code.
INTRO = ("Copy it into a Python file or a notebook cell: it computes the same output with <code>torch.nn</code>, "
         "then with plain loops over numpy arrays, and prints the largest difference between the two (0, up to "
         "rounding).")


class ShowCode:
    """A closed fold; opened, it shows :func:`layerviz.code.program` for the explorer's trace.

    ``text`` is a :class:`~layerviz.ui.copyable.CodeBlock` (``text.value``: the program; monospace, whole, with a
    copy button); ``intro`` says what the code does, or why there is none for these settings. The program is
    written only while the fold is open (and again when the trace changes then).
    """

    def __init__(self, explorer: Any) -> None:
        self._explorer = explorer
        self.intro = widgets.HTML()
        self.intro.add_class("layerviz-code-intro")
        self.text = CodeBlock()
        self.widget = widgets.Accordion(children=[widgets.VBox([self.intro, self.text])], selected_index=None)
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
        reason = "nothing is computed yet" if trace is None else code.problem(trace)
        if reason is not None:
            self.intro.value = f"<p>No code for these settings: {html.escape(reason)}.</p>"
            self.text.value = ""
            return
        self.intro.value = f"<p>{INTRO}</p>"
        self.text.value = code.program(trace)
