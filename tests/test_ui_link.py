"""Settings in the page's address: the explorers read them and write them, tested without a browser.

Voilà gives a kernel started for a request the query string in ``QUERY_STRING``; a preheated kernel
(``VOILA_PREHEAT=True``) gets it later, from Voilà's websocket (replaced here by a function returning it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

import layerviz.ui
from layerviz.ui import course, link
from layerviz.ui.conv import conv_explorer
from layerviz.ui.linear import linear_explorer
from layerviz.ui.pooling import pooling_explorer
from layerviz.ui.rnn import rnn_explorer


@pytest.fixture
def address(monkeypatch):
    """``address("stride=2")``: the query string of the page the next explorer is made for (a kernel started for it)."""
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)

    def set_query(query: str) -> None:
        monkeypatch.setenv("QUERY_STRING", query)

    set_query("")
    return set_query


def test_the_address_sets_the_controls_before_the_first_drawing(address, monkeypatch):
    address("stride=2&padding=1")
    built = []
    original = layerviz.ui.conv.build_conv
    monkeypatch.setattr(layerviz.ui.conv, "build_conv", lambda values: built.append(dict(values)) or original(values))
    explorer = conv_explorer()
    assert explorer.controls["stride"].value == 2 and explorer.controls["padding"].value == 1
    assert explorer.trace.layer.stride == (2, 2) and explorer.trace.layer.padding == (1, 1)
    assert len(built) == 1  # drawn once, with the address's settings
    assert explorer.link.widget.note == "" and explorer.error.value == ""
    assert explorer.link.widget.query == "?stride=2&padding=1"


def test_every_kind_of_control_is_read_from_the_address(address):
    address("input=photo&padding=same&bias=false&kernel_size=5&size=12")
    explorer = conv_explorer()
    values = explorer.values()
    assert (values["input"], values["padding"], values["bias"], values["kernel_size"], values["size"]) == \
        ("photo", "same", False, 5, 12)
    address("kind=max+vs+average&stride=1&ceil_mode=1")
    pooling = pooling_explorer()
    assert pooling.values()["kind"] == "max vs average" and pooling.values()["stride"] == 1
    assert pooling.controls["ceil_mode"].value is True
    assert not pooling.controls["count_include_pad"].disabled and pooling.controls["output_size"].disabled
    address("input=word&word=abc&hidden_size=2&length=5")  # a word has its own length
    rnn = rnn_explorer()
    assert rnn.trace.input.shape == (3, 3) and rnn.controls["length"].value == 3
    assert rnn.link.widget.query == "?input=word&word=abc&hidden_size=2"  # the greyed-out length is left out


def test_bad_values_in_the_address_are_ignored_with_a_message(address):
    address("stride=9&padding=7&dilation=two&color=red&token=SECRET&voila-theme=dark&presenter=1&kernel_size=2")
    explorer = conv_explorer()
    assert explorer.controls["kernel_size"].value == 2  # the good one is used
    assert explorer.controls["stride"].value == 1 and explorer.controls["padding"].value == 0
    note = explorer.link.widget.note
    assert note.startswith("Some settings in the page's address were ignored: ")
    assert "stride=9: stride must be between 1 and 4" in note
    assert "padding=7: padding must be one of 0, 1, 2, 3, same, valid" in note
    assert "dilation=two: dilation must be a whole number" in note
    assert "color: there is no such setting here (the settings are input, digit, size, in_channels" in note
    assert "token" not in note and "theme" not in note and "presenter" not in note and "Traceback" not in note
    assert explorer.error.value == ""


def test_an_uploaded_picture_does_not_travel_in_a_link(address):
    explorer = conv_explorer()
    explorer.controls["input"].value = "upload"
    explorer.controls["input"].value = "photo"
    explorer.controls["kernel_size"].value = 2
    explorer.controls["input"].value = "upload"  # no picture yet: an alert, the link keeps the photo
    assert explorer.link.widget.query == "?input=photo&kernel_size=2"
    address("input=upload&kernel_size=2")
    opened = conv_explorer()
    assert opened.controls["input"].value == "digit" and opened.controls["kernel_size"].value == 2
    assert "input=upload: a picture cannot travel in a link" in opened.link.widget.note


def test_settings_that_do_not_work_together_show_the_usual_alert(address):
    address("padding=same&stride=2")
    explorer = conv_explorer()
    assert "padding=&#x27;same&#x27; needs stride 1" in explorer.error.value
    assert 'role="alert"' in explorer.error.value


def test_the_link_follows_the_settings_on_screen(address):
    explorer = linear_explorer()
    assert explorer.link.widget.query == ""
    explorer.controls["in_features"].value = 4
    explorer.controls["activation"].value = "tanh"
    explorer.controls["bias"].value = False
    assert explorer.link.widget.query == "?in_features=4&activation=tanh&bias=false&x=1%2C+2%2C+3%2C+0"
    explorer.controls["bias"].value = True
    assert explorer.link.widget.query == "?in_features=4&activation=tanh&x=1%2C+2%2C+3%2C+0"
    explorer.controls["x"].value = "oops"  # a setting that does not work: the link keeps the last drawn settings
    assert explorer.link.widget.query == "?in_features=4&activation=tanh&x=1%2C+2%2C+3%2C+0"


@pytest.mark.parametrize("factory", sorted({t.explorer for t in course.TOPICS}))
def test_a_link_opens_the_same_settings(address, factory):
    first = getattr(layerviz.ui, factory)()
    first.controls["seed"].value = 5
    for name, control in first.controls.items():
        options = [o[1] if isinstance(o, tuple) else o for o in getattr(control, "options", ())]
        if len(options) > 1:
            control.value = options[-1] if control.value != options[-1] else options[0]
        elif isinstance(control, layerviz.ui.explorer.widgets.Checkbox):
            control.value = not control.value
    if first.error.value:  # not every combination works: keep the ones that draw
        first = getattr(layerviz.ui, factory)()
        first.controls["seed"].value = 5
    assert first.link.widget.query
    address(first.link.widget.query)
    second = getattr(layerviz.ui, factory)()
    used = [n for n, c in first.controls.items() if link.linkable(c) and not c.disabled]
    assert {n: second.values()[n] for n in used} == {n: first.values()[n] for n in used}
    assert second.trace.output.tolist() == first.trace.output.tolist()
    assert second.link.widget.note == ""


def test_a_preheated_kernel_applies_the_address_when_voila_sends_it(monkeypatch):
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setattr(link, "_received", None)
    monkeypatch.setattr(link, "_thread", None)
    monkeypatch.setattr(link, "_waiting", [])
    request = threading.Event()
    monkeypatch.setattr(link, "_wait_for_voila", lambda: request.wait(10) and "kernel_size=5&bias=false&stride=0")
    explorer = conv_explorer()
    assert explorer.controls["kernel_size"].value == 3  # drawn at once with the first settings
    before = explorer.trace
    request.set()  # a student asks for the page
    link._thread.join(10)
    assert explorer.controls["kernel_size"].value == 5 and explorer.controls["bias"].value is False
    assert explorer.trace is not before and explorer.trace.layer.kernel_size == (5, 5)
    assert "stride=0: stride must be between 1 and 4" in explorer.link.widget.note
    # an explorer made after the request reads it at once
    assert conv_explorer().controls["kernel_size"].value == 5


def test_a_preheated_kernel_without_voila_keeps_its_settings(monkeypatch, caplog):
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setattr(link, "_received", None)
    monkeypatch.setattr(link, "_thread", None)
    monkeypatch.setattr(link, "_waiting", [])

    def unreachable():
        raise OSError("no server")

    monkeypatch.setattr(link, "_wait_for_voila", unreachable)
    explorer = conv_explorer()
    link._thread.join(10)
    assert explorer.error.value == "" and explorer.controls["kernel_size"].value == 3
    assert "could not read the page's address" in caplog.text


def test_setting_several_values_draws_once(address, monkeypatch):
    explorer = conv_explorer()
    calls = []
    monkeypatch.setattr(explorer, "_build", lambda values: calls.append(values) or layerviz.ui.conv.build_conv(values))
    explorer.set_values({"stride": 2, "padding": 1, "kernel_size": 2})
    assert len(calls) == 1 and explorer.trace.output.shape == (1, 5, 5)


def test_the_link_carries_the_backward_pass(address, monkeypatch):
    """A teacher on the backward pass hands out a link that opens on it: ``?stride=2&pass=backward``."""
    explorer = conv_explorer()
    explorer.controls["stride"].value = 2
    explorer.direction.value = "backward"
    assert explorer.link.query == "?stride=2&pass=backward"
    address(explorer.link.query.lstrip("?"))
    opened = conv_explorer()
    assert opened.direction.value == "backward" and opened.controls["stride"].value == 2
    assert opened.shown is opened.backward_trace and opened.backward_trace.forward is opened.trace
    assert opened.player.n_frames == len(opened.backward_trace) != len(opened.trace)
    # a preheated kernel told later sets both and draws once, on the backward pass
    opened.link.apply("pass=forward&stride=1")
    assert opened.direction.value == "forward" and opened.shown is opened.trace and opened.trace.layer.stride == (1, 1)
    opened.link.apply("pass=sideways")
    assert "pass=sideways: pass must be one of forward, backward" in opened.link.widget.note


def test_a_preheated_kernel_reads_voilas_message_without_importing_voila(tmp_path):
    """The request's details come over Voilà's ``/voila/query/<kernel id>`` websocket, read without importing
    Voilà: ``voila.utils`` imports Voilà's whole server, 4 s of CPU in every preheated kernel (a class arriving
    over a minute queued behind it)."""
    from websockets.sync.server import serve

    paths = []

    def voila_query(websocket):
        paths.append(websocket.request.path)
        websocket.send(json.dumps({"QUERY_STRING": "stride=2", "SCRIPT_NAME": "/voila/render/convolution.ipynb"}))

    with serve(voila_query, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        env = {**os.environ, "VOILA_APP_PORT": str(port), "VOILA_SERVER_URL": "/", "VOILA_KERNEL_ID": "k-1",
               "VOILA_PREHEAT": "True"}
        env.pop("QUERY_STRING", None)
        code = ("import sys, os; from layerviz.ui import link; query = link._wait_for_voila(); "
                "print(query, os.environ['SCRIPT_NAME'], any(m.split('.')[0] == 'voila' for m in sys.modules))")
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["stride=2", "/voila/render/convolution.ipynb", "False"]
    assert paths == ["/voila/query/k-1"]
