"""Results shown in the lesson as a student reads them: tables of numbers, not ``array([...])`` or tuples.

The notebooks' code is hidden in the course (Voilà); what a cell returns is what the student reads. A
bare array, tuple or dict prints as Python's ``repr``, brackets, ``dtype`` and all. These helpers return
small objects that show as an HTML table in the page (``_repr_html_``) and as aligned text elsewhere:

- :func:`table`: rows of cells under a header (numbers rounded for reading, text as it is);
- :func:`grid`: a 1-D or 2-D array (or one grid per channel of a 3-D one) as a table of its numbers,
  rows and columns numbered from 0 as in the code.

A narration (a string) is shown with ``print``, without the quotes of its ``repr``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

_STYLE = ("border-collapse: collapse; margin: 4px 0 10px; font-variant-numeric: tabular-nums; "
          "font-size: 14px;")
_CELL = "padding: 3px 10px; border: 1px solid #d0d7de; text-align: right;"
_HEAD = "padding: 3px 10px; border: 1px solid #d0d7de; background: #f6f8fa; font-weight: 600; text-align: center;"
_ROW = "padding: 3px 10px; border: 1px solid #d0d7de; background: #f6f8fa; font-weight: 600; text-align: left;"
_CAPTION = "caption-side: top; text-align: left; padding: 0 0 4px; color: #1f2328;"


def number(value: Any, digits: int = 3, fixed: bool = False) -> str:
    """A number for reading: at most ``digits`` decimals, no trailing zeros, no negative zero (``-1.342``, ``19``);
    ``fixed``: exactly ``digits`` decimals (``1.00``, ``0.00``: probabilities read side by side)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    text = f"{value:.{digits}f}"
    if not fixed and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _cell(value: Any, digits: int, fixed: bool) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) for v in value):
        return "(" + ", ".join(str(int(v)) for v in value) + ("," if len(value) == 1 else "") + ")"
    if np.ndim(value) > 0:
        return ", ".join(number(v, digits, fixed) for v in np.ravel(value))
    return number(value, digits, fixed)


class Table:
    """A table: a caption, a header row and rows of text, each row's first cell naming it; HTML in the page,
    aligned text elsewhere."""

    def __init__(self, rows: Sequence[Sequence[str]], header: Sequence[str] | None = None, caption: str = "") -> None:
        self.rows = [list(row) for row in rows]
        self.header = [str(h) for h in header] if header is not None else None
        self.caption = caption

    def _repr_html_(self) -> str:
        parts = [f'<table class="layerviz-table" style="{_STYLE}">']
        if self.caption:
            parts.append(f'<caption style="{_CAPTION}">{html.escape(self.caption)}</caption>')
        if self.header is not None:
            parts.append("<thead><tr>" + "".join(f'<th style="{_HEAD}">{html.escape(h)}</th>' for h in self.header)
                         + "</tr></thead>")
        parts.append("<tbody>")
        for name, *cells in self.rows:
            parts.append(f'<tr><th scope="row" style="{_ROW}">{html.escape(name)}</th>'
                         + "".join(f'<td style="{_CELL}">{html.escape(cell)}</td>' for cell in cells) + "</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)

    def __str__(self) -> str:
        lines = ([self.header] if self.header is not None else []) + self.rows
        widths = [max(len(line[j]) for line in lines if j < len(line)) for j in range(max(map(len, lines)))]
        text = ["  ".join(cell.rjust(widths[j]) for j, cell in enumerate(line)) for line in lines]
        return "\n".join(([self.caption] if self.caption else []) + text)

    def __repr__(self) -> str:
        return str(self)


class Tables:
    """Several tables side by side (one per channel), with a caption above them."""

    def __init__(self, tables: Sequence[Table], caption: str = "") -> None:
        self.tables = list(tables)
        self.caption = caption

    def _repr_html_(self) -> str:
        caption = f"<div>{html.escape(self.caption)}</div>" if self.caption else ""
        inner = "".join(f"<div>{t._repr_html_()}</div>" for t in self.tables)
        return f'{caption}<div style="display: flex; flex-wrap: wrap; gap: 24px;">{inner}</div>'

    def __repr__(self) -> str:
        return "\n\n".join(([self.caption] if self.caption else []) + [str(t) for t in self.tables])


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None, caption: str = "",
          digits: int = 3, fixed: bool = False) -> Table:
    """Rows of cells under ``header``, each row's first cell naming it; numbers are rounded to ``digits``
    decimals (``fixed``: always that many), an array cell is listed (``1, 2, 3``), a shape is written ``(2, 3)``.

    >>> print(table([["mean", 2.5], ["variance", 1.25]], ["statistic", "value"]))
    statistic  value
         mean    2.5
     variance   1.25
    """
    return Table([[_cell(v, digits, fixed) for v in row] for row in rows], header, caption)


def grid(array: Any, caption: str = "", digits: int = 3, name: str = "") -> Table | Tables:
    """The numbers of a 1-D, 2-D or 3-D array as a table, rows and columns numbered from 0 (3-D: one table
    per channel, ``name[c]`` above each, ``name`` defaulting to ``channel``).

    >>> print(grid([[19.0, 25.0], [37.0, 43.0]]))
           col 0  col 1
    row 0     19     25
    row 1     37     43
    """
    values = np.asarray(array, dtype=np.float64)
    if values.ndim == 3 and values.shape[0] == 1:
        values = values[0]
    if values.ndim == 3:
        label = name or "channel"
        return Tables([grid(channel, f"{label} {c}", digits) for c, channel in enumerate(values)], caption)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2:
        raise ValueError(f"array must have 1, 2 or 3 dimensions, got shape {values.shape}")
    header = [""] + [f"col {j}" for j in range(values.shape[1])]
    rows = [[f"row {i}"] + [number(v, digits) for v in row] for i, row in enumerate(values)]
    return Table(rows, header, caption)
