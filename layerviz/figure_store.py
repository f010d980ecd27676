"""The static figures of a page, drawn by matplotlib once and kept as PNG files by what they show.

Every student's kernel runs the same page with the same numbers, and importing matplotlib and drawing costs a
kernel more CPU than the rest of its page. A :class:`StoredFigure` is a drawing function and the data it draws
(the numbers the engine computed in this kernel, the titles); its PNG is stored under a fingerprint of that data,
of the drawing code and of matplotlib's version, so a page whose figure was drawn once (by the kernel Voilà
preheats, by the first student) shows the same pixels without importing matplotlib. Change a number, a title or
the drawing code and the fingerprint changes: the figure is drawn again.

Where: the folder ``$LAYERVIZ_FIGURES``, else ``$XDG_CACHE_HOME/layerviz/figures`` (``~/.cache/layerviz/figures``);
``LAYERVIZ_FIGURES=off`` draws every time. A folder that cannot be written is not an error: the figure is drawn.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Files kept at most; past it, the older half is removed (a script drawing new data in a loop stays bounded).
MAX_FILES = 1000

#: The code every figure is drawn with, besides its own drawing function's module.
_DRAWING_CODE = (Path(__file__).with_name("mpl.py"),)


def store() -> Path | None:
    """The folder figures are kept in, or None when storing is off."""
    chosen = os.environ.get("LAYERVIZ_FIGURES", "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "layerviz" / "figures"


def _feed(digest: Any, value: Any) -> None:
    """Add ``value`` to ``digest``, its type and shape included, so that different data never give the same bytes."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        digest.update(f"array{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}{len(value)}(".encode())
        for item in value:
            _feed(digest, item)
        digest.update(b")")
    elif isinstance(value, dict):
        digest.update(f"dict{len(value)}(".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
        digest.update(b")")
    elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"a stored figure's data must be arrays, numbers, strings and lists or dicts of them, "
                        f"got {type(value).__name__}")


@functools.lru_cache(maxsize=None)
def _code_digest(module: str) -> bytes:
    digest = hashlib.sha256()
    for path in (Path(sys.modules[module].__file__), *_DRAWING_CODE):
        digest.update(path.read_bytes())
    try:
        digest.update(importlib.metadata.version("matplotlib").encode())
    except importlib.metadata.PackageNotFoundError:
        pass
    return digest.digest()


def fingerprint(draw: Callable[..., Any], data: dict[str, Any]) -> str:
    """The hex digest of what a figure shows: ``draw``'s name and module code, mpl.py, matplotlib's version, ``data``."""
    digest = hashlib.sha256(f"{draw.__module__}.{draw.__qualname__}".encode())
    digest.update(_code_digest(draw.__module__))
    _feed(digest, data)
    return digest.hexdigest()


class StoredFigure:
    """A static figure: ``draw(**data)`` builds it (a :class:`~layerviz.mpl.PngFigure`) only when its PNG is not
    stored yet, or when :attr:`figure` is asked for.

    Parameters
    ----------
    draw : callable
        A function of ``data`` alone (arrays, numbers, strings) that returns a figure with ``_repr_png_``.
    **data
        Everything the figure shows.

    Notes
    -----
    In a notebook the figure shows itself through ``_repr_png_``: the stored PNG, or a new drawing (then stored).
    """

    def __init__(self, draw: Callable[..., Any], **data: Any) -> None:
        self._draw = draw
        self.data = data
        self.key = fingerprint(draw, data)

    def __repr__(self) -> str:
        return f"<StoredFigure {self._draw.__qualname__} {self.key[:12]}>"

    @functools.cached_property
    def figure(self) -> Any:
        """The matplotlib figure, drawn on first use."""
        return self._draw(**self.data)

    def png(self) -> bytes:
        """The figure as PNG bytes: the stored ones, or drawn now and stored."""
        folder = store()
        path = None if folder is None else folder / f"{self.key}.png"
        if path is not None:
            try:
                return path.read_bytes()
            except OSError:
                pass
        png = self.figure._repr_png_()
        if path is not None:
            _keep(path, png)
        return png

    def _repr_png_(self) -> bytes:
        return self.png()


def _keep(path: Path, png: bytes) -> None:
    """Write ``png`` at ``path`` whole or not at all (another kernel may read it at once); errors are ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
            part.write(png)
        os.replace(part.name, path)
        kept = sorted(path.parent.glob("*.png"), key=lambda p: p.stat().st_mtime)
        if len(kept) > MAX_FILES:
            for old in kept[: len(kept) // 2]:
                old.unlink(missing_ok=True)
    except OSError:
        pass
