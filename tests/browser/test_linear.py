"""The linear / dense notebook served by real Voilà, used in headless Chromium like a student would."""

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
def linear_page(page, voila_factory, open_voila, console_errors):
    return open_notebook(page, voila_factory, open_voila, console_errors, "linear.ipynb")


def test_page_shows_no_code_and_no_error(linear_page):
    assert_page_text(linear_page, shown=(
        "Linear and Dense layers",
        "out[0] = 0.50×1.00 + (-1.00)×2.00 + 0.25×3.00 + 0.50 (bias) = -0.25",  # worked example, by the engine
    ), hidden=("linear_explorer()", "import numpy",))


def test_every_player_draws(linear_page):
    players = linear_page.locator(".layerviz-player[data-ready]")
    assert players.count() == 4  # matrix view, neurons view, the backward pass, explorer
    for k in range(players.count()):
        players.nth(k).scroll_into_view_if_needed()
        assert canvas_ink(linear_page, f".layerviz-player[data-ready] >> nth={k} >> canvas") > 1000


def test_canvas_draws_and_a_step_changes_the_frame(linear_page):
    player = explorer_player(linear_page)
    player.scroll_into_view_if_needed()
    before = canvas_ink(linear_page, f"{EXPLORER_PLAYER} canvas")
    assert before > 1000
    caption = player.locator("[aria-live]")
    assert caption.inner_text().startswith("z[0] = ")
    assert "a[0] = relu(" in caption.inner_text()
    player.get_by_label("Step forward").click()
    linear_page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER)
    assert caption.inner_text().startswith("z[1] = ")


def test_changing_controls_recomputes(linear_page):
    player = explorer_player(linear_page)
    assert player.get_attribute("data-n-frames") == "2"
    set_control(linear_page, "out features", "4")
    wait_for_frames(linear_page, 4)
    assert "Dense(3, 4, activation='relu')" in linear_page.locator(".layerviz-summary").inner_text()
    set_control(linear_page, "view", "matrix")
    set_control(linear_page, "activation", "none (Linear)")
    linear_page.wait_for_function(
        "sel => document.querySelector(sel).querySelector('[aria-live]').innerText.startsWith('out[0] = ')",
        arg=EXPLORER_PLAYER, timeout=20_000)
    assert canvas_ink(linear_page, f"{EXPLORER_PLAYER} canvas") > 1000


def test_invalid_setting_shows_its_message(linear_page):
    alert = setting_alert(linear_page, "x", "1, 2")
    assert "x must have in_features=3 values, got 2" in alert.inner_text()
