"""Settings in the page's address: a link that opens an explorer with the settings on screen.

A teacher hands out ``convolution.ipynb?stride=2&padding=1``; the page opens with stride 2 and padding 1.
Every explorer shows "Link to these settings" (:class:`SettingsLink`): the page's address with the
controls that differ from their first values as a query string, in the order of the controls.

Reading the address. The kernel does not see the browser; Voilà tells it:

- a kernel started for the request gets the query string in its environment (``QUERY_STRING``);
- a preheated kernel ran the notebook before anyone asked for it (``VOILA_PREHEAT=True``): Voilà sends
  the request's details later, over its ``/voila/query/<kernel id>`` websocket. One thread per kernel waits
  for them (as :func:`voila.utils.get_query_string` does, without importing Voilà) and hands the query to the kernel's main thread, which sets
  the controls: the page is not held up, and the explorer is redrawn once.

A setting the explorer does not have, or a value its control cannot take, is ignored and named in a note
under the link; Voilà's and Jupyter's own arguments (``token``, ``template``, ``theme``, ``voila-…``) are
left alone. Outside Voilà (JupyterLab, nbval) there is no query and nothing happens.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import ipywidgets as widgets

from layerviz.ui.copyable import LinkBox

log = logging.getLogger("layerviz")

#: Query arguments that belong to the server or to the page (the player's presenter mode), not to an explorer.
SERVER_ARGUMENTS = ("token", "template", "theme", "presenter")
#: The longest text a link may put in a text box.
MAX_TEXT = 200
#: Choices that stand for something a link cannot carry: an uploaded picture stays on the computer it came from.
NOT_IN_LINKS = ("upload",)


def linkable(control: widgets.Widget) -> bool:
    """Whether a control's value can travel in an address (not a file upload)."""
    return isinstance(control, widgets.ValueWidget) and not isinstance(control, widgets.FileUpload)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    return str(value)


def encode(controls: Mapping[str, widgets.Widget], defaults: Mapping[str, Any]) -> str:
    """``"?stride=2&padding=1"``: the controls whose value differs from ``defaults``, in control order (``""``: none).

    A greyed-out control is left out: its value is not used (a pooling setting of another kind of pooling,
    the sequence length of a word)."""
    pairs = [(name, _text(control.value)) for name, control in controls.items()
             if linkable(control) and name in defaults and control.value != defaults[name]
             and not getattr(control, "disabled", False) and not _local(control.value)]
    return "?" + urlencode(pairs) if pairs else ""


def _local(value: Any) -> bool:
    return isinstance(value, str) and value in NOT_IN_LINKS


def _options(control: widgets.Widget) -> list[tuple[str, Any]]:
    """``(label, value)`` of each choice of a drop-down or toggle."""
    return [(str(option[0]), option[1]) if isinstance(option, tuple) and len(option) == 2 else (str(option), option)
            for option in control.options]


def convert(control: widgets.Widget, text: str) -> Any:
    """The value ``control`` takes for ``text`` from an address; ValueError saying what it takes instead."""
    if hasattr(control, "options"):
        choices = _options(control)
        for label, value in choices:
            if _text(value) == text:
                return value
        for label, value in choices:
            if label == text:
                return value
        raise ValueError(f"one of {', '.join(_text(value) for _, value in choices)}")
    if isinstance(control, widgets.Checkbox):
        flags = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
        if text.lower() not in flags:
            raise ValueError("true or false")
        return flags[text.lower()]
    if isinstance(control, (widgets.IntText, widgets.BoundedIntText, widgets.IntSlider)):
        try:
            value = int(text)
        except ValueError:
            raise ValueError("a whole number") from None
    elif isinstance(control, (widgets.FloatText, widgets.BoundedFloatText, widgets.FloatSlider)):
        try:
            value = float(text)
        except ValueError:
            raise ValueError("a number") from None
        if not math.isfinite(value):
            raise ValueError("a finite number")
    elif isinstance(control, widgets.Text):
        if len(text) > MAX_TEXT:
            raise ValueError(f"at most {MAX_TEXT} characters")
        return text
    else:
        raise ValueError("nothing a link can set")
    low, high = getattr(control, "min", None), getattr(control, "max", None)
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"between {low} and {high}")
    return value


def decode(controls: Mapping[str, widgets.Widget], query: str) -> tuple[dict[str, Any], list[str]]:
    """The control values a query string asks for, in control order, and a sentence per argument ignored."""
    asked: dict[str, Any] = {}
    ignored: list[str] = []
    for name, text in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if name in SERVER_ARGUMENTS or name.startswith("voila"):
            continue
        control = controls.get(name)
        if control is None or not linkable(control):
            settings = ", ".join(n for n, c in controls.items() if linkable(c))
            ignored.append(f"{name}: there is no such setting here (the settings are {settings})")
            continue
        if _local(text):
            ignored.append(f"{name}={text}: a picture cannot travel in a link; upload it on this page")
            continue
        try:
            asked[name] = convert(control, text)
        except ValueError as error:
            ignored.append(f"{name}={text}: {name} must be {error}")
    return {name: asked[name] for name in controls if name in asked}, ignored


def note(ignored: list[str]) -> str:
    """The line under the link about the settings it could not use; ``""`` when there are none."""
    if not ignored:
        return ""
    return "Some settings in the page's address were ignored: " + "; ".join(ignored) + "."


# -- where the query comes from ----------------------------------------------------------------------

_lock = threading.Lock()
_waiting: list[Callable[[str], None]] = []
_received: str | None = None
_thread: threading.Thread | None = None


def _request_info_url() -> str:
    """Where Voilà sends a preheated kernel its request (as ``voila.utils.wait_for_request`` builds it)."""
    protocol = os.environ.get("VOILA_WS_PROTOCOL", "ws")
    host = os.environ.get("VOILA_APP_IP", "127.0.0.1")
    port = os.environ.get("VOILA_APP_PORT", "8866")
    base = os.environ.get("VOILA_WS_BASE_URL", os.environ.get("VOILA_SERVER_URL", "/"))
    return f"{protocol}://{host}:{port}{base}voila/query/{os.environ.get('VOILA_KERNEL_ID')}"


def _wait_for_voila() -> str:
    """Wait for Voilà to send the request's details; put them in the environment; return its query string.

    Not ``voila.utils.get_query_string``: importing ``voila.utils`` imports Voilà's server (4 s of CPU in every
    preheated kernel, beside its notebook), which made a class arriving over a minute queue for 40 s.
    """
    from websockets.sync.client import connect

    with connect(_request_info_url(), open_timeout=5) as websocket:
        request_info = websocket.recv()
    for key, value in json.loads(request_info).items():
        os.environ[key] = value
    return os.environ.get("QUERY_STRING", "")


def _run_in_kernel(callback: Callable[[], None]) -> None:
    """Run ``callback`` on the kernel's main thread (where widget messages are handled), or here without a kernel."""
    try:
        from IPython import get_ipython

        loop = getattr(getattr(get_ipython(), "kernel", None), "io_loop", None)
    except ImportError:
        loop = None
    if loop is None:
        callback()
    else:
        loop.add_callback(callback)


def _listen() -> None:
    global _received
    try:
        query = _wait_for_voila()
    except Exception:  # no voila, no server to ask: the page keeps its first settings
        log.warning("layerviz could not read the page's address from Voilà", exc_info=True)
        query = ""
    with _lock:
        _received = query
        callbacks = list(_waiting)
        _waiting.clear()
    for callback in callbacks:
        _run_in_kernel(lambda callback=callback: callback(query))


def when_query(callback: Callable[[str], None]) -> str | None:
    """The page's query string now (``""`` for none), or None after arranging ``callback(query)`` for later.

    Later is a preheated Voilà kernel, whose page has not been asked for yet: the callback runs on the
    kernel's main thread once Voilà has sent the request.
    """
    global _thread
    if os.environ.get("VOILA_PREHEAT") != "True":
        return os.environ.get("QUERY_STRING", "")
    with _lock:
        if _received is not None:
            return _received
        _waiting.append(callback)
        if _thread is None:
            _thread = threading.Thread(target=_listen, name="layerviz-page-address", daemon=True)
            _thread.start()
    return None


class SettingsLink:
    """An explorer's "Link to these settings", and the settings the page's address asks for.

    Parameters
    ----------
    explorer : Explorer
        Its ``controls`` hold their first values (the link's defaults) when this is made;
        ``explorer.set_values(values)`` sets several controls and redraws once.
    """

    def __init__(self, explorer: Any) -> None:
        self._explorer = explorer
        self.defaults = {name: control.value for name, control in self._controls.items() if linkable(control)}
        self.widget = LinkBox()
        self.widget.add_class("layerviz-link")

    @property
    def _controls(self) -> Mapping[str, widgets.Widget]:
        """What a link carries: ``explorer.linked`` (the settings and the forward | backward switch) if it has it."""
        return getattr(self._explorer, "linked", self._explorer.controls)

    @property
    def query(self) -> str:
        """The query string of the settings on screen (``""`` when all are the first ones)."""
        return encode(self._controls, self.defaults)

    def refresh(self) -> None:
        self.widget.query = self.query

    def read_address(self) -> None:
        """Set the controls the page's address asks for, now or when Voilà tells (see :func:`when_query`).

        Called before the explorer's first drawing: settings known now are set without a redraw."""
        query = when_query(self._explorer.guard(self.apply))
        if query:
            asked, ignored = decode(self._controls, query)
            for name, value in asked.items():
                self._controls[name].value = value
            self.widget.note = note(ignored)

    def apply(self, query: str) -> None:
        """Set the controls ``query`` asks for and redraw once; name the arguments ignored."""
        asked, ignored = decode(self._controls, query)
        self.widget.note = note(ignored)
        if asked:
            self._explorer.set_values(asked)
