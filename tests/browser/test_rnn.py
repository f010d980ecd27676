"""The RNN notebook served by real Voilà, used in headless Chromium like a student would."""

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
def rnn_page(page, voila_factory, open_voila, console_errors):
    return open_notebook(page, voila_factory, open_voila, console_errors, "rnn.ipynb")


def test_page_shows_no_code_and_no_error(rnn_page):
    assert_page_text(rnn_page, shown=(
        "The recurrent layer (RNN)",
        "h[1] = tanh(a[1]) = tanh(-0.50) = -0.46",  # the worked example's last frame, printed
    ), hidden=("rnn.weight_ih_l0",))
    assert rnn_page.locator("img").count() >= 2  # heat map and vanishing-gradient figure


def test_canvas_draws_and_a_step_changes_the_caption(rnn_page):
    player = explorer_player(rnn_page)
    assert canvas_ink(rnn_page, f"{EXPLORER_PLAYER} canvas") > 1000
    caption = player.locator("[aria-live]")
    assert caption.inner_text().startswith("W_ih·x[0] + b_ih = ")
    player.get_by_label("Step forward").click()
    rnn_page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER)
    assert caption.inner_text().startswith("W_hh·h0 + b_hh = ")


def test_changing_a_control_recomputes(rnn_page):
    assert explorer_player(rnn_page).get_attribute("data-n-frames") == "32"  # 8 steps x 4 stages
    set_control(rnn_page, "sequence length", "5")
    wait_for_frames(rnn_page, 20)
    set_control(rnn_page, "num layers", "2")
    wait_for_frames(rnn_page, 40)
    assert "RNN(1, 3, num_layers=2)" in rnn_page.locator(".layerviz-summary").inner_text()


def test_invalid_setting_shows_its_message(rnn_page):
    alert = setting_alert(rnn_page, "hidden size", "0")
    assert "hidden_size must be >= 1, got 0" in alert.inner_text()
