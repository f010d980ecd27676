"""What every explorer adds to its page, in real Voilà and headless Chromium: "show me the code" (monospace,
whole, copied to the clipboard), an alert that greys out the stale pictures, and the settings in the address."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.browser.conftest import REPO, VoilaServer, new_page, open_voila
from tests.browser.explorer_page import (
    EXPLORER_PLAYER,
    assert_page_text,
    control_value,
    open_notebook,
    set_control,
    setting_alert,
    wait_for_frames,
)

CODE = ".layerviz-explorer .layerviz-code"
#: The element the stale style greys out: the player's outermost box.
STALE_PLAYER = ".layerviz-explorer .layerviz-player"


def open_the_code(page) -> object:
    """Open the explorer's "show me the code" fold; the code block's <pre>, once it holds the code."""
    fold = page.locator(CODE)
    fold.scroll_into_view_if_needed()
    fold.get_by_text("Show me the code").click()
    pre = fold.locator("pre.lv-code")
    page.wait_for_function("sel => (document.querySelector(sel)?.textContent || '').includes('import torch')",
                           arg=f"{CODE} pre.lv-code", timeout=20_000)
    return pre


def selected(page, label: str) -> str:
    """The text of the option a drop-down control shows."""
    return page.locator(".layerviz-explorer .widget-inline-hbox", has=page.get_by_text(label, exact=True)) \
        .locator("select").evaluate("s => s.options[s.selectedIndex].text")


@pytest.mark.parametrize("name", ["anatomy.ipynb", "convolution.ipynb"])
def test_the_code_is_there_whole_in_monospace_and_copies(page, voila_factory, open_voila, console_errors, name):
    open_notebook(page, voila_factory, open_voila, console_errors, name)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=voila_factory(REPO / "notebooks"))
    pre = open_the_code(page)
    fold = page.locator(CODE)
    assert "No code" not in fold.inner_text()
    code = pre.inner_text()
    assert "torch.nn." in code and "out_numpy" in code and code.count("\n") > 30
    font = pre.evaluate("e => getComputedStyle(e).fontFamily")
    assert "mono" in font.lower(), font
    # every line shows: no scroll box, no line cut off on the right
    height, client_height, width, client_width = pre.evaluate(
        "e => [e.scrollHeight, e.clientHeight, e.scrollWidth, e.clientWidth]")
    assert height <= client_height + 1 and width <= client_width + 1
    assert pre.bounding_box()["width"] >= 900  # as wide as the player: the longest lines fit
    line_height = pre.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert line_height < 22  # not the widgets' 28 px lines
    fold.get_by_role("button", name="Copy the code").click()
    fold.get_by_role("status").filter(has_text="Copied").wait_for(timeout=10_000)
    assert page.evaluate("() => navigator.clipboard.readText()") == code
    assert page.errors == []


def test_a_whole_network_s_weights_scroll_in_a_tall_box(page, voila_factory, open_voila, console_errors):
    open_notebook(page, voila_factory, open_voila, console_errors, "cnn.ipynb")
    pre = open_the_code(page)
    assert pre.inner_text().count("\n") > 200  # 1040 trained weights
    height, client_height, width, client_width = pre.evaluate(
        "e => [e.scrollHeight, e.clientHeight, e.scrollWidth, e.clientWidth]")
    assert client_height >= 0.75 * page.viewport_size["height"] and height > client_height
    assert width <= client_width + 1


def test_an_error_is_an_alert_and_the_old_pictures_are_greyed_out(page, voila_factory, open_voila, console_errors):
    open_notebook(page, voila_factory, open_voila, console_errors, "anatomy.ipynb")
    explorer = page.locator(".layerviz-explorer")
    alert = setting_alert(page, "hidden sizes", "8, 0")
    assert "hidden sizes must be >= 1, got 0" in alert.inner_text()
    assert "previous settings" in alert.inner_text()
    look = alert.evaluate("""e => { const s = getComputedStyle(e);
        return [s.borderLeftWidth, s.borderLeftColor, s.backgroundColor, e.querySelector('.layerviz-alert-icon') !== null]; }""")
    assert look[0] == "6px" and look[1] == "rgb(179, 38, 30)" and look[2] == "rgb(253, 236, 234)" and look[3]
    page.wait_for_function("() => document.querySelector('.layerviz-explorer').classList.contains('layerviz-stale')")
    page.wait_for_function("s => Number(getComputedStyle(document.querySelector(s)).opacity) < 0.5",
                           arg=STALE_PLAYER, timeout=5_000)  # greyed out (after a short fade)
    set_control(page, "hidden sizes", "4")
    wait_for_frames(page, 7)
    page.wait_for_function("() => !document.querySelector('.layerviz-explorer').classList.contains('layerviz-stale')")
    assert explorer.locator("[role=alert]").count() == 0
    page.wait_for_function("s => getComputedStyle(document.querySelector(s)).opacity === '1'", arg=STALE_PLAYER,
                           timeout=5_000)


def test_the_address_sets_the_explorer_and_the_link_gives_the_settings(page, voila_factory, open_voila,
                                                                        console_errors):
    base = voila_factory(REPO / "notebooks")
    page.errors = console_errors(page)
    open_voila(page, f"{base}/voila/render/convolution.ipynb?stride=2&padding=1",
               selector=f"{EXPLORER_PLAYER} canvas")
    assert control_value(page, "stride") == "2" and selected(page, "padding") == "1"
    wait_for_frames(page, 16)  # 8x8 digit, padding 1, stride 2: 4x4 outputs
    link = page.locator(".layerviz-explorer .lv-link-url")
    assert link.inner_text() == f"{base}/voila/render/convolution.ipynb?stride=2&padding=1"
    set_control(page, "kernel size", "2")
    page.wait_for_function("sel => document.querySelector(sel).textContent.endsWith('kernel_size=2&stride=2&padding=1')",
                           arg=".layerviz-explorer .lv-link-url", timeout=20_000)
    assert_page_text(page, hidden=("Some settings",))


def test_bad_settings_in_the_address_are_named_not_a_traceback(page, voila_factory, open_voila, console_errors):
    base = voila_factory(REPO / "notebooks")
    page.errors = console_errors(page)
    open_voila(page, f"{base}/voila/render/convolution.ipynb?stride=9&kernel_size=abc&padding=2&colour=red",
               selector=f"{EXPLORER_PLAYER} canvas")
    note = page.locator(".layerviz-explorer .lv-link-note")
    note.wait_for(timeout=20_000)
    text = note.inner_text()
    assert "stride=9: stride must be between 1 and 4" in text and "kernel_size=abc" in text and "colour" in text
    assert selected(page, "padding") == "2" and control_value(page, "stride") == "1"
    assert_page_text(page)


def test_a_preheated_kernel_reads_the_address_too(browser, tmp_path):
    shutil.copy(REPO / "notebooks" / "convolution.ipynb", tmp_path)
    with VoilaServer(tmp_path, preheat=True) as server:
        deadline = time.monotonic() + 120
        while "is filled with" not in server.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(8)  # the pool's kernel runs the notebook before anyone asks for it
        page = new_page(browser)
        open_voila(page, f"{server.notebook_url('convolution.ipynb')}?kernel_size=2&padding=same",
                   selector=f"{EXPLORER_PLAYER} canvas")
        page.wait_for_function("sel => document.querySelector(sel).dataset.nFrames === '64'", arg=EXPLORER_PLAYER,
                               timeout=30_000)  # 'same' keeps 8x8
        assert control_value(page, "kernel size") == "2" and selected(page, "padding") == "same"
        assert "Using pre-heated kernel" in server.log_path.read_text()
        page.context.close()
