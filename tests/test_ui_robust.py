"""No value a control can be sent breaks an explorer: the student reads a message, never a traceback.

A browser sends a control's new value as a comm message; ipywidgets applies it with ``set_state``, as
here. A value the widget's trait refuses raises ``TraitError`` inside the comm handler, which the kernel
logs and the page never sees; a value it accepts reaches the explorer, which must answer with the trace
or with a message.
"""

from __future__ import annotations

import logging

import ipywidgets as widgets
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from traitlets import TraitError

import layerviz.ui
from layerviz.ui import course
from layerviz.ui._guard import APOLOGY, guarded
from layerviz.ui.conv import conv_explorer

FACTORIES = sorted({t.explorer for t in course.TOPICS})
_EXPLORERS: dict = {}


def explorer_named(name: str):
    if name not in _EXPLORERS:
        _EXPLORERS[name] = getattr(layerviz.ui, name)()
    return _EXPLORERS[name]


ANY_VALUE = st.one_of(
    st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.booleans(), st.none(), st.lists(st.integers(-3, 3), max_size=3), st.sampled_from([0, 1, 2, 3, 64, -1]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_value_sent_to_any_control_gives_a_trace_or_a_message(data):
    explorer = explorer_named(data.draw(st.sampled_from(FACTORIES), label="explorer"))
    name = data.draw(st.sampled_from(sorted(explorer.controls)), label="control")
    control = explorer.controls[name]
    if isinstance(control, widgets.FileUpload):
        return  # its value is a tuple of files: tested with real and broken files in test_ui.py
    options = list(getattr(control, "options", ()) or ())
    value = data.draw(st.sampled_from(options) if options and data.draw(st.booleans()) else ANY_VALUE, label="value")
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):  # (label, value) options
        value = value[1]
    before = explorer.trace
    try:
        control.set_state({"value": value})
    except (TraitError, TypeError, ValueError):
        assert explorer.trace is before  # refused by the widget itself: nothing changed
        return
    assert "Traceback" not in explorer.error.value
    assert explorer.trace is not None
    assert explorer.error.value == "" or 'role="alert"' in explorer.error.value
    if explorer.error.value == "":
        assert explorer.player.n_frames == len(explorer.trace) > 0


def test_a_bug_in_a_callback_is_logged_and_apologised_for(caplog):
    shown = []

    def broken():
        return 1 / 0

    with caplog.at_level(logging.ERROR, logger="layerviz"):
        guarded(broken, shown.append)()
    assert shown == [APOLOGY]
    assert "ZeroDivisionError" in caplog.text


def test_a_value_error_is_shown_as_its_message():
    shown = []

    def refuse():
        raise ValueError("stride must be >= 1, got 0")

    guarded(refuse, shown.append)()
    assert shown == ["stride must be >= 1, got 0"]


def test_explorer_survives_a_broken_description(monkeypatch, caplog):
    explorer = conv_explorer()
    before = explorer.trace
    explorer._describe = lambda trace: 1 / 0
    with caplog.at_level(logging.ERROR, logger="layerviz"):
        explorer.controls["kernel_size"].value = 2
    assert APOLOGY in explorer.error.value and "ZeroDivisionError" not in explorer.error.value
    assert explorer.trace is before  # nothing half-shown
    assert "ZeroDivisionError" in caplog.text


@pytest.mark.parametrize("name", FACTORIES)
def test_every_explorer_button_is_guarded(name, caplog):
    explorer = explorer_named(name)
    buttons = [w for w in (*explorer.extras.values(), explorer.predict.button)
               if isinstance(w, widgets.Button)]
    for button in buttons:
        handlers = button._click_handlers.callbacks
        assert handlers and all(getattr(h, "__wrapped__", None) for h in handlers), (name, button.description)
