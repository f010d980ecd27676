"""Export an explorer's animation as GIF or MP4, or its current frame as PNG, with a progress bar.

The file is drawn by matplotlib in the kernel (:func:`layerviz.mpl.save`) and handed to the page as a
download link (a ``data:`` URL): nothing is written where other students could read it.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import shutil
import tempfile
from typing import Any

import ipywidgets as widgets

log = logging.getLogger("layerviz")

#: At most this many frames go into one GIF or MP4: drawing costs ~30-60 ms a frame in the kernel,
#: so a long trace is exported from the current frame on, a bounded piece at a time.
MAX_ANIMATION_FRAMES = 120
_MIME = {".gif": "image/gif", ".mp4": "video/mp4", ".png": "image/png"}


def ffmpeg_available() -> bool:
    """Whether ffmpeg is on the PATH (what matplotlib's MP4 writer runs), without importing matplotlib."""
    return shutil.which("ffmpeg") is not None


class Export:
    """Buttons that save the explorer's animation (GIF, MP4 where ffmpeg exists) or its current frame (PNG).

    Testable without a browser: call ``save(".gif")`` and read ``link.value`` (a download link).
    """

    def __init__(self, explorer: Any) -> None:
        self._explorer = explorer
        self.buttons = {
            ".gif": widgets.Button(description="Save GIF", icon="download",
                                   tooltip=f"The animation as a GIF (up to {MAX_ANIMATION_FRAMES} frames)"),
            ".mp4": widgets.Button(description="Save MP4", icon="download",
                                   tooltip=f"The animation as an MP4 video (up to {MAX_ANIMATION_FRAMES} frames)"),
            ".png": widgets.Button(description="Save frame as PNG", icon="download", tooltip="The frame shown, as a PNG"),
        }
        if not ffmpeg_available():
            self.buttons[".mp4"].disabled = True
            self.buttons[".mp4"].tooltip = "MP4 needs ffmpeg, which is not installed on this server"
        for suffix, button in self.buttons.items():
            button.layout.width = "auto"
            button.on_click(explorer.guard(lambda _button, suffix=suffix: self.save(suffix)))
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", layout=widgets.Layout(
            width="200px", visibility="hidden"))
        self.link = widgets.HTML()
        self.widget = widgets.HBox([*self.buttons.values(), self.progress, self.link],
                                   layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self.widget.add_class("layerviz-export")

    def frames(self) -> range:
        """The frames an animation export holds: from the current frame on, at most :data:`MAX_ANIMATION_FRAMES`."""
        n = len(self._explorer.trace) if self._explorer.trace is not None else 0
        start = min(self._explorer.player.frame, max(n - 1, 0))
        if n - start < MAX_ANIMATION_FRAMES:
            start = max(0, n - MAX_ANIMATION_FRAMES)
        return range(start, min(n, start + MAX_ANIMATION_FRAMES))

    def _on_progress(self, i: int, n: int) -> None:
        self.progress.max = max(n, 1)
        self.progress.value = i + 1

    def save(self, suffix: str) -> str | None:
        """Draw the file and show its download link; returns the file name, or None if it could not be made."""
        trace = self._explorer.trace
        if trace is None:
            self.link.value = "Nothing to save: the settings give no animation."
            return None
        frames = range(self._explorer.player.frame, self._explorer.player.frame + 1) if suffix == ".png" else self.frames()
        name = f"layerviz-{type(trace.layer).__name__.lower()}-{frames.start + 1}"
        name += f"-{frames.stop}{suffix}" if suffix != ".png" else suffix
        for button in self.buttons.values():
            button.disabled = True
        self.progress.value, self.progress.layout.visibility = 0, "visible"
        self.link.value = f"drawing {len(frames)} frame{'s' if len(frames) != 1 else ''}…"
        try:
            from layerviz import mpl  # imported on the first export: a kernel that never exports skips matplotlib

            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, name)
                mpl.save(trace.scene(), path, frames=list(frames), progress=self._on_progress)
                with open(path, "rb") as file:
                    content = base64.b64encode(file.read()).decode("ascii")
        except ValueError as error:
            self.link.value = f'<span role="alert">⚠ {html.escape(str(error))}</span>'
            return None
        except Exception:  # drawing must never take the page down
            log.exception("layerviz export of %s failed", name)
            self.link.value = '<span role="alert">⚠ The file could not be made; try fewer frames or a PNG.</span>'
            return None
        finally:
            self.progress.layout.visibility = "hidden"
            for suffix_, button in self.buttons.items():
                button.disabled = suffix_ == ".mp4" and not ffmpeg_available()
        self.link.value = (f'<a download="{name}" href="data:{_MIME[suffix]};base64,{content}">'
                           f"⬇ Download {html.escape(name)}</a>")
        return name
