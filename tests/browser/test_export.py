"""Saving from the player: GIF, WebM and PNG made in the browser, with the kernel told nothing.

The demo notebook (player_demo.ipynb) plays a 98-frame scene titled "demo: ...". Downloads are
caught with Playwright's ``expect_download`` and decoded with Pillow.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

NOTEBOOK = "player_demo.ipynb"
ROOT = ".layerviz-player"
N_FRAMES = 98


@pytest.fixture
def demo(page, voila_server, open_voila, console_errors):
    """The demo notebook in Voilà; ``page.to_kernel`` lists the frames the page sends on the kernel websocket."""
    errors = console_errors(page)
    to_kernel = []

    def on_websocket(ws):
        if "/channels" in ws.url:
            ws.on("framesent", lambda payload: to_kernel.append(payload))

    page.on("websocket", on_websocket)
    open_voila(page, f"{voila_server}/voila/render/{NOTEBOOK}")
    page.to_kernel = to_kernel
    yield page
    assert "Traceback" not in page.inner_text("body")
    assert errors == []


def save_button(page, label: str):
    return page.locator(f"{ROOT} .lvp-export button", has_text=label)


def shown_canvas(page) -> np.ndarray:
    """The player's visible canvas as an RGB array."""
    url = page.evaluate(f"() => document.querySelector('{ROOT} canvas').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def wait_frame(page, k: int) -> None:
    page.wait_for_function(f"() => document.querySelector('{ROOT}').dataset.frame === '{k}'", timeout=5000)


def assert_looks_like(picture: np.ndarray, shown: np.ndarray) -> None:
    """The exported picture (GIF colours: at most 256) is the canvas that was shown, caption box aside."""
    top = picture[: shown.shape[0]].astype(int)
    assert top.shape == shown.shape
    same = (np.abs(top - shown).max(axis=2) <= 8).mean()
    assert same > 0.97, same
    assert np.abs(top - shown).mean() < 2.5


def watch_progress(page) -> None:
    """Record [value, max] of the export's progress bar whenever it changes while visible (``window.__progress``)."""
    page.evaluate(
        f"""() => {{
        const bar = document.querySelector('{ROOT} .lvp-progress');
        window.__progress = [];
        new MutationObserver(() => {{ if (!bar.hidden) window.__progress.push([bar.value, bar.max]); }})
          .observe(bar, {{attributes: true, attributeFilter: ['hidden', 'value', 'max']}});
    }}"""
    )


def test_save_gif_is_the_animation_made_in_the_browser(demo, tmp_path):
    shown_first = shown_canvas(demo)
    watch_progress(demo)
    sent_before = len(demo.to_kernel)
    with demo.expect_download(timeout=60_000) as info:
        save_button(demo, "Save GIF").click()
    download = info.value
    assert download.suggested_filename == "layerviz-demo-1-98.gif"
    demo.wait_for_selector(f"{ROOT}[data-exporting='']")
    assert len(demo.to_kernel) == sent_before  # the kernel heard nothing
    assert "Saved layerviz-demo-1-98.gif" in demo.inner_text(f"{ROOT} .lvp-export-status")
    progress = demo.evaluate("() => window.__progress")  # seen between the slices of work
    assert progress and all(m == N_FRAMES for _, m in progress), progress
    assert [v for v, _ in progress] == sorted(v for v, _ in progress)
    assert demo.locator(f"{ROOT} .lvp-progress").is_hidden() and demo.locator(f"{ROOT} .lvp-cancel").is_hidden()

    path = tmp_path / download.suggested_filename
    download.save_as(path)
    gif = Image.open(path)
    assert gif.format == "GIF" and gif.n_frames == N_FRAMES
    assert gif.info["loop"] == 0
    assert gif.info["duration"] == 130  # 8 fps: 1/8 s rounded to GIF's hundredths
    width, height = gif.size
    assert width == shown_first.shape[1] and height > shown_first.shape[0] + 40  # the caption box below
    first = np.asarray(gif.convert("RGB"))
    assert_looks_like(first, shown_first)
    # The palette holds the canvas's flat colours exactly: its 40 most common ones.
    colours, counts = np.unique(shown_first.reshape(-1, 3), axis=0, return_counts=True)
    palette = {tuple(c) for c in np.asarray(gif.getpalette()[: 3 * 256]).reshape(-1, 3)}
    assert all(tuple(c) in palette for c in colours[np.argsort(counts)[-40:]])
    # The caption box carries the narration: dark text on its light background.
    caption_box = first[shown_first.shape[0] + 4 :, 20:]
    assert (caption_box.sum(axis=2) < 200).sum() > 200

    gif.seek(N_FRAMES - 1)
    last = np.asarray(gif.convert("RGB"))
    demo.click(f"{ROOT} button[aria-label='Last frame']")
    wait_frame(demo, N_FRAMES - 1)
    demo.wait_for_timeout(100)
    assert_looks_like(last, shown_canvas(demo))
    assert np.abs(last[: shown_first.shape[0]].astype(int) - shown_first).max(axis=2).mean() > 0.001


def test_cancel_stops_an_export(demo):
    cdp = demo.context.new_cdp_session(demo)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 10})  # a slow laptop: time to press Cancel
    downloads = []
    demo.on("download", lambda download: downloads.append(download))
    sent_before = len(demo.to_kernel)
    save_button(demo, "Save GIF").click()
    demo.wait_for_selector(f"{ROOT}[data-exporting='gif']")
    assert demo.locator(f"{ROOT} .lvp-progress").is_visible()
    assert save_button(demo, "Save GIF").is_disabled()
    demo.wait_for_function(f"() => document.querySelector('{ROOT} .lvp-progress').value >= 3", timeout=60_000)
    save_button(demo, "Cancel").click()
    demo.wait_for_selector(f"{ROOT}[data-exporting='']", timeout=30_000)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    assert "Cancelled" in demo.inner_text(f"{ROOT} .lvp-export-status")
    assert demo.locator(f"{ROOT} .lvp-progress").is_hidden() and demo.locator(f"{ROOT} .lvp-cancel").is_hidden()
    assert save_button(demo, "Save GIF").is_enabled()
    demo.wait_for_timeout(500)
    assert downloads == [] and len(demo.to_kernel) == sent_before
    # The player still plays, and a new export runs to its end.
    with demo.expect_download(timeout=60_000) as info:
        save_button(demo, "Save GIF").click()
    assert info.value.suggested_filename == "layerviz-demo-1-98.gif"


def test_save_png_is_the_frame_shown(demo, tmp_path):
    for _ in range(5):
        demo.click(f"{ROOT} button[aria-label='Step forward']")
    wait_frame(demo, 5)
    demo.wait_for_selector(".lv-python-frame:has-text('python frame: 5')", timeout=5000)
    sent_before = len(demo.to_kernel)
    with demo.expect_download(timeout=30_000) as info:
        save_button(demo, "Save frame as PNG").click()
    assert info.value.suggested_filename == "layerviz-demo-6.png"
    path = tmp_path / "frame.png"
    info.value.save_as(path)
    png = Image.open(path)
    assert png.format == "PNG"
    assert_looks_like(np.asarray(png.convert("RGB")), shown_canvas(demo))
    assert len(demo.to_kernel) == sent_before


def test_save_webm_records_the_animation(demo, tmp_path):
    webm = save_button(demo, "Save WebM")
    assert demo.evaluate("() => typeof MediaRecorder") == "function"  # Chromium can record a canvas
    assert "real time" in webm.get_attribute("title")
    demo.select_option(f"{ROOT} select", "60")  # 98 frames in ~1.6 s
    demo.wait_for_timeout(300)
    sent_before = len(demo.to_kernel)
    with demo.expect_download(timeout=60_000) as info:
        webm.click()
    assert info.value.suggested_filename == "layerviz-demo-1-98.webm"
    path = tmp_path / "animation.webm"
    info.value.save_as(path)
    content = path.read_bytes()
    assert content[:4] == b"\x1a\x45\xdf\xa3" and len(content) > 2000  # an EBML (Matroska / WebM) file
    assert len(demo.to_kernel) == sent_before
