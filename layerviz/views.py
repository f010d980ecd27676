"""The views of a trace, by name: how the engine offers ``trace.player()``, ``trace.show()`` and ``trace.save()``
without importing the rooms that draw them.

``VIEWS`` maps ``"player"`` (the browser player), ``"figure"`` (a frame as a matplotlib figure) and ``"file"`` (an
export with matplotlib) to a function that returns the view, importing its room the first time. The package's edge,
``layerviz/__init__.py``, fills it in; the engine then runs with neither the widgets nor matplotlib installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

VIEWS: dict[str, Callable[[], Callable[..., Any]]] = {}


def view(name: str) -> Callable[..., Any]:
    """The view registered as ``name`` in :data:`VIEWS`."""
    return VIEWS[name]()
