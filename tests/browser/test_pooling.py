"""The pooling notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (EXPLORER_PLAYER, assert_page_text, assert_player_draws, canvas_ink,
                                        caption_text, explorer_player, press, set_control, setting_alert,
                                        wait_for_frames)

NOTEBOOK = "pooling.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    assert_page_text(notebook_page, shown=(
        "The pooling layer (subsampling)",
        "out[0,0,0] = max(1.00, 3.00, 5.00, 4.00) = 5.00",  # the worked example, by the engine
        "3.25",
    ), hidden=("pooling_explorer()", "import numpy",))


def test_every_player_draws(notebook_page):
    players = notebook_page.locator(".layerviz-player[data-ready]")
    assert players.count() == 6  # worked example, max vs average, adaptive, max and average backward, explorer
    for k in range(players.count()):
        players.nth(k).scroll_into_view_if_needed()
        assert canvas_ink(notebook_page, f".layerviz-player[data-ready] >> nth={k} >> canvas") > 1000


def test_canvas_draws_and_a_step_changes_the_frame(notebook_page):
    assert_player_draws(notebook_page)
    assert caption_text(notebook_page).startswith("out[0,0,0] = max(")
    assert press(notebook_page, "Step forward", 1).startswith("out[0,0,1] = max(")


def test_changing_controls_recomputes(notebook_page):
    player = explorer_player(notebook_page)
    assert player.get_attribute("data-n-frames") == "16"  # 8x8 digit, 2x2 windows, stride 2: 4x4 outputs
    set_control(notebook_page, "kernel size", "4")
    wait_for_frames(notebook_page, 4)
    assert "kernel_size=4, stride=4" in notebook_page.locator(".layerviz-summary").inner_text()
    set_control(notebook_page, "stride", "1")
    wait_for_frames(notebook_page, 25)
    set_control(notebook_page, "pooling", "average")
    notebook_page.wait_for_function(
        "sel => document.querySelector(sel).querySelector('[aria-live]').innerText.includes(') / 16 = ')",
        arg=EXPLORER_PLAYER, timeout=20_000)
    set_control(notebook_page, "pooling", "max vs average")
    notebook_page.wait_for_function(
        "sel => document.querySelector(sel).querySelector('[aria-live]').innerText.includes('average (')",
        arg=EXPLORER_PLAYER, timeout=20_000)
    assert canvas_ink(notebook_page, f"{EXPLORER_PLAYER} canvas") > 1000


def test_invalid_setting_shows_its_message(notebook_page):
    alert = setting_alert(notebook_page, "padding", "2")
    assert "padding must be at most half the kernel size, got padding=2 for kernel_size=2" in alert.inner_text()
    set_control(notebook_page, "padding", "1")  # valid again: the message goes, the new trace shows
    wait_for_frames(notebook_page, 25)
    assert notebook_page.locator(".layerviz-explorer [role=alert]").count() == 0
