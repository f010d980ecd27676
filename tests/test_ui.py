"""Explorer wiring, tested without a browser by setting control values."""

import datetime
import html
import io
import logging

import numpy as np
import pytest

import layerviz as lv
from layerviz.ui.conv import build_conv, conv_explorer


@pytest.fixture
def explorer():
    return conv_explorer()


def test_initial_trace_is_shown(explorer):
    assert explorer.error.value == ""
    assert explorer.trace.layer.kernel_size == (3, 3)
    assert explorer.player.n_frames == len(explorer.trace) == 36  # 8x8 digit, 3x3 kernel -> 6x6
    assert "→ output (1, 6, 6)" in explorer.summary.value


def test_changing_kernel_size_recomputes(explorer):
    explorer.controls["kernel_size"].value = 5
    assert explorer.trace.output.shape == (1, 4, 4)
    assert explorer.player.n_frames == 16
    assert "kernel_size=(5, 5)" in repr(explorer.trace.layer)


def test_explorer_output_equals_layer_on_same_settings(explorer):
    explorer.controls["stride"].value = 2
    explorer.controls["padding"].value = 1
    explorer.controls["out_channels"].value = 2
    conv = lv.Conv2d(1, 2, 3, stride=2, padding=1, rng=0)
    np.testing.assert_array_equal(explorer.trace.output, conv(lv.data.digit(7, 8)))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"in_channels": 3, "groups": 2}, "in_channels must be divisible by groups"),
        ({"kernel_size": 7, "dilation": 3}, "larger than the padded input"),
        ({"stride": 2, "padding": "same"}, "padding='same' needs stride 1"),
        ({"input": "upload"}, "choose an image file"),
    ],
)
def test_invalid_settings_show_the_message_and_keep_the_last_trace(explorer, changes, message):
    *first, (last_name, last_value) = changes.items()
    for name, value in first:
        explorer.controls[name].value = value
    before = explorer.trace
    explorer.controls[last_name].value = last_value
    assert html.escape(message) in explorer.error.value
    assert 'role="alert"' in explorer.error.value
    assert "Traceback" not in explorer.error.value
    assert explorer.trace is before


def test_error_clears_when_settings_become_valid(explorer):
    explorer.controls["kernel_size"].value = 7
    explorer.controls["dilation"].value = 3
    assert explorer.error.value
    explorer.controls["dilation"].value = 1
    assert explorer.error.value == ""
    assert explorer.trace.output.shape == (1, 2, 2)


def test_an_error_is_an_alert_and_greys_out_the_stale_pictures(explorer):
    assert "layerviz-stale" not in explorer.widget._dom_classes
    explorer.controls["padding"].value = "same"
    explorer.controls["stride"].value = 2
    alert = explorer.error.value
    assert 'role="alert"' in alert and 'class="layerviz-alert"' in alert and "layerviz-alert-icon" in alert
    assert "previous settings" in alert
    assert "layerviz-stale" in explorer.widget._dom_classes
    explorer.controls["stride"].value = 1
    assert explorer.error.value == "" and "layerviz-stale" not in explorer.widget._dom_classes


def test_the_explorer_styles_its_alert_and_its_stale_pictures(explorer):
    style = explorer.widget.children[-1]
    assert style.layout.display == "none"
    for rule in (".layerviz-explorer .layerviz-alert {", "border-left: 6px solid",
                 ".layerviz-explorer.layerviz-stale .layerviz-player", "opacity: 0.4"):
        assert rule in style.value


def test_an_explorer_with_nothing_drawn_yet_has_nothing_stale():
    explorer = conv_explorer(padding="same", stride=2)
    assert explorer.trace is None and 'role="alert"' in explorer.error.value
    assert "previous settings" not in explorer.error.value
    assert "layerviz-stale" not in explorer.widget._dom_classes


def test_unexpected_exception_is_logged_not_shown(monkeypatch, caplog):
    explorer = conv_explorer()
    monkeypatch.setattr(explorer, "_build", lambda values: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="layerviz"):
        explorer.controls["seed"].value = 3
    assert "Something went wrong" in explorer.error.value
    assert "ZeroDivisionError" not in explorer.error.value
    assert "ZeroDivisionError" in caplog.text


def _png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploaded_image_is_the_input():
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:, 8:] = 255  # right half white
    values = {"input": "upload", "upload": ({"content": _png_bytes(rgb)},), "size": 4, "in_channels": 1,
              "out_channels": 1, "kernel_size": 2, "stride": 1, "padding": 0, "dilation": 1, "groups": 1,
              "bias": True, "seed": 0, "digit": 0}
    trace = build_conv(values)
    np.testing.assert_allclose(trace.input[0], [[0, 0, 1, 1]] * 4, atol=1e-9)


def _upload(content: bytes, name: str = "picture.png", kind: str = "image/png") -> tuple:
    return ({"name": name, "type": kind, "size": len(content), "content": memoryview(content),
             "last_modified": datetime.datetime(2026, 1, 1)},)


@pytest.mark.parametrize("factory", ["conv_explorer", "pooling_explorer"])
def test_an_upload_becomes_the_input_at_once(factory):
    import layerviz.ui

    explorer = getattr(layerviz.ui, factory)()
    assert explorer.controls["input"].value == "digit"
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:, 8:] = 255
    explorer.controls["upload"].value = _upload(_png_bytes(rgb))
    assert explorer.controls["input"].value == "upload"
    assert explorer.error.value == ""
    np.testing.assert_allclose(explorer.trace.input[0, 0], [0, 0, 0, 0, 1, 1, 1, 1], atol=1e-9)


def test_upload_that_is_not_an_image_shows_a_message(explorer):
    explorer.controls["upload"].value = ({"name": "notes.txt", "type": "text/plain", "size": 5,
                                           "content": memoryview(b"hello"),
                                           "last_modified": datetime.datetime(2026, 1, 1)},)
    explorer.controls["input"].value = "upload"
    assert "could not be read as a picture" in explorer.error.value


@pytest.mark.parametrize("source", ["digit", "photo", "random"])
def test_every_input_source_gives_the_asked_shape(source):
    x = lv.data.from_source(source, 6, 2, digit_value=3, seed=1)
    assert x.shape == (2, 6, 6)
    assert np.isfinite(x).all()


def test_unknown_input_source_names_the_choices():
    with pytest.raises(ValueError, match="input must be one of digit, photo, random, upload, got 'webcam'"):
        lv.data.from_source("webcam", 6)


def test_upload_too_large_or_a_pixel_bomb_is_refused_with_a_message():
    too_big = b"\x89PNG" + bytes(lv.data.MAX_UPLOAD_BYTES)
    with pytest.raises(ValueError, match=r"image must be at most 5 MB, got 5.0 MB"):
        lv.data.image_from_bytes(too_big)
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (6000, 5000)).save(buffer, format="PNG")  # 30 million pixels in a few kB
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ValueError, match="image must have at most 25 million pixels, got 6000x5000"):
        lv.data.image_from_bytes(buffer.getvalue())
