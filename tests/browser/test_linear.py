"""The linear / dense notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (EXPLORER_PLAYER, assert_page_text, canvas_ink, explorer_player, set_control,
    setting_alert, wait_for_frames)

NOTEBOOK = "linear.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    assert_page_text(notebook_page, shown=(
        "Linear and Dense layers",
        "out[0] = 0.50×1.00 + (-1.00)×2.00 + 0.25×3.00 + 0.50 (bias) = -0.25",  # worked example, by the engine
    ), hidden=("linear_explorer()", "import numpy",))


def test_every_player_draws(notebook_page):
    players = notebook_page.locator(".layerviz-player[data-ready]")
    assert players.count() == 4  # matrix view, neurons view, the backward pass, explorer
    for k in range(players.count()):
        players.nth(k).scroll_into_view_if_needed()
        assert canvas_ink(notebook_page, f".layerviz-player[data-ready] >> nth={k} >> canvas") > 1000


def test_canvas_draws_and_a_step_changes_the_frame(notebook_page):
    player = explorer_player(notebook_page)
    player.scroll_into_view_if_needed()
    before = canvas_ink(notebook_page, f"{EXPLORER_PLAYER} canvas")
    assert before > 1000
    caption = player.locator("[aria-live]")
    assert caption.inner_text().startswith("z[0] = ")
    assert "a[0] = relu(" in caption.inner_text()
    player.get_by_label("Step forward").click()
    notebook_page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER)
    assert caption.inner_text().startswith("z[1] = ")


def test_changing_controls_recomputes(notebook_page):
    player = explorer_player(notebook_page)
    assert player.get_attribute("data-n-frames") == "2"
    set_control(notebook_page, "out features", "4")
    wait_for_frames(notebook_page, 4)
    assert "Dense(3, 4, activation='relu')" in notebook_page.locator(".layerviz-summary").inner_text()
    set_control(notebook_page, "view", "matrix")
    set_control(notebook_page, "activation", "none (Linear)")
    notebook_page.wait_for_function(
        "sel => document.querySelector(sel).querySelector('[aria-live]').innerText.startsWith('out[0] = ')",
        arg=EXPLORER_PLAYER, timeout=20_000)
    assert canvas_ink(notebook_page, f"{EXPLORER_PLAYER} canvas") > 1000


def test_invalid_setting_shows_its_message(notebook_page):
    alert = setting_alert(notebook_page, "x", "1, 2")
    assert "x must have in_features=3 values, got 2" in alert.inner_text()
