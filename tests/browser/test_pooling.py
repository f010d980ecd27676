"""The pooling notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

import pytest

from tests.browser.explorer_page import (
    EXPLORER_PLAYER,
    assert_page_text,
    canvas_ink,
    explorer_player,
    open_notebook,
    set_control,
    setting_alert,
    wait_for_frames,
)


@pytest.fixture
def pooling_page(page, voila_factory, open_voila, console_errors):
    return open_notebook(page, voila_factory, open_voila, console_errors, "pooling.ipynb")


def test_page_shows_no_code_and_no_error(pooling_page):
    assert_page_text(pooling_page, shown=(
        "The pooling layer (subsampling)",
        "out[0,0,0] = max(1.00, 3.00, 5.00, 4.00) = 5.00",  # the worked example, by the engine
        "3.25",
    ), hidden=("pooling_explorer()", "import numpy",))


def test_every_player_draws(pooling_page):
    players = pooling_page.locator(".layerviz-player[data-ready]")
    assert players.count() == 6  # worked example, max vs average, adaptive, max and average backward, explorer
    for k in range(players.count()):
        players.nth(k).scroll_into_view_if_needed()
        assert canvas_ink(pooling_page, f".layerviz-player[data-ready] >> nth={k} >> canvas") > 1000


def test_canvas_draws_and_a_step_changes_the_frame(pooling_page):
    player = explorer_player(pooling_page)
    assert canvas_ink(pooling_page, f"{EXPLORER_PLAYER} canvas") > 1000
    caption = player.locator("[aria-live]")
    assert caption.inner_text().startswith("out[0,0,0] = max(")
    player.get_by_label("Step forward").click()
    pooling_page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER)
    assert caption.inner_text().startswith("out[0,0,1] = max(")


def test_changing_controls_recomputes(pooling_page):
    player = explorer_player(pooling_page)
    assert player.get_attribute("data-n-frames") == "16"  # 8x8 digit, 2x2 windows, stride 2: 4x4 outputs
    set_control(pooling_page, "kernel size", "4")
    wait_for_frames(pooling_page, 4)
    assert "kernel_size=4, stride=4" in pooling_page.locator(".layerviz-summary").inner_text()
    set_control(pooling_page, "stride", "1")
    wait_for_frames(pooling_page, 25)
    set_control(pooling_page, "pooling", "average")
    pooling_page.wait_for_function(
        "sel => document.querySelector(sel).querySelector('[aria-live]').innerText.includes(') / 16 = ')",
        arg=EXPLORER_PLAYER, timeout=20_000)
    set_control(pooling_page, "pooling", "max vs average")
    pooling_page.wait_for_function(
        "sel => document.querySelector(sel).querySelector('[aria-live]').innerText.includes('average (')",
        arg=EXPLORER_PLAYER, timeout=20_000)
    assert canvas_ink(pooling_page, f"{EXPLORER_PLAYER} canvas") > 1000


def test_invalid_setting_shows_its_message(pooling_page):
    alert = setting_alert(pooling_page, "padding", "2")
    assert "padding must be at most half the kernel size, got padding=2 for kernel_size=2" in alert.inner_text()
    set_control(pooling_page, "padding", "1")  # valid again: the message goes, the new trace shows
    wait_for_frames(pooling_page, 25)
    assert pooling_page.locator(".layerviz-explorer [role=alert]").count() == 0
