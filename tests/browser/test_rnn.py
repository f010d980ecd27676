"""The RNN notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (assert_page_text, assert_player_draws, caption_text, explorer_player, press,
                                        set_control, setting_alert, wait_for_frames)

NOTEBOOK = "rnn.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    assert_page_text(notebook_page, shown=(
        "The recurrent layer (RNN)",
        "h[1] = tanh(a[1]) = tanh(-0.50) = -0.46",  # the worked example's last frame, printed
    ), hidden=("rnn.weight_ih_l0",))
    assert notebook_page.locator("img").count() >= 2  # heat map and vanishing-gradient figure


def test_canvas_draws_and_a_step_changes_the_caption(notebook_page):
    assert_player_draws(notebook_page)
    assert caption_text(notebook_page).startswith("W_ih·x[0] + b_ih = ")
    assert press(notebook_page, "Step forward", 1).startswith("W_hh·h0 + b_hh = ")


def test_changing_a_control_recomputes(notebook_page):
    assert explorer_player(notebook_page).get_attribute("data-n-frames") == "32"  # 8 steps x 4 stages
    set_control(notebook_page, "sequence length", "5")
    wait_for_frames(notebook_page, 20)
    set_control(notebook_page, "num layers", "2")
    wait_for_frames(notebook_page, 40)
    assert "RNN(1, 3, num_layers=2)" in notebook_page.locator(".layerviz-summary").inner_text()


def test_invalid_setting_shows_its_message(notebook_page):
    alert = setting_alert(notebook_page, "hidden size", "0")
    assert "hidden_size must be >= 1, got 0" in alert.inner_text()
