"""The GRU notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (EXPLORER_PLAYER, assert_page_text, assert_player_draws, caption_text,
                                        explorer_player, press, set_control, setting_alert, wait_for_frames)

NOTEBOOK = "gru.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    text = assert_page_text(notebook_page, shown=(
        "The GRU layer",
        "h[1] = (1−z)⊙n + z⊙h[0] = (1−0.50)⊙0.271 + 0.50⊙0.557 = 0.41",  # the worked example's last frame
        "gate blocks (stacked in the weights)",  # the comparison with the LSTM, as a table
    ), hidden=("gru.weight_ih_l0", "predict_next(", "comparison_table("))
    assert "162" in text and "216" in text  # the GRU's and the LSTM's parameters
    assert notebook_page.locator("img").count() >= 1  # the GRU and the LSTM on the same input
    assert notebook_page.locator(".layerviz-trace-check .layerviz-player").count() == 1  # the example's check


def test_canvas_draws_and_a_step_changes_the_caption(notebook_page):
    assert_player_draws(notebook_page)
    assert caption_text(notebook_page).startswith("reset gate r[0] = σ(")
    assert press(notebook_page, "Step forward", 1).startswith("update gate z[0] = σ(")
    assert press(notebook_page, "Step forward", 2).startswith("new gate n[0] = tanh(")


def test_the_view_and_the_length_recompute(notebook_page):
    assert explorer_player(notebook_page).get_attribute("data-n-frames") == "32"  # 8 steps x (r, z, n, h)
    set_control(notebook_page, "view", "LSTM on the same input")
    wait_for_frames(notebook_page, 48)  # 8 steps x (f, i, g, o, c, h)
    notebook_page.wait_for_function("s => document.querySelector(s).innerText.includes('The LSTM on the same input')",
                                    arg=".layerviz-explorer .layerviz-summary", timeout=20_000)
    # the summary and the player's new scene are two messages: wait for the caption too
    notebook_page.wait_for_function("s => document.querySelector(s).innerText.startsWith('forget gate f[0]')",
                                    arg=f"{EXPLORER_PLAYER} [aria-live]", timeout=20_000)
    set_control(notebook_page, "view", "GRU")
    wait_for_frames(notebook_page, 32)
    set_control(notebook_page, "sequence length", "4")
    wait_for_frames(notebook_page, 16)
    assert "GRU(1, 3)" in notebook_page.locator(".layerviz-explorer .layerviz-summary").inner_text()


def test_invalid_setting_shows_its_message(notebook_page):
    alert = setting_alert(notebook_page, "hidden size", "0")
    assert "hidden_size must be >= 1, got 0" in alert.inner_text()
