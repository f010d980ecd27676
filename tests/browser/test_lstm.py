"""The LSTM notebook served by real Voilà, used in headless Chromium like a student would."""

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
def lstm_page(page, voila_factory, open_voila, console_errors):
    return open_notebook(page, voila_factory, open_voila, console_errors, "lstm.ipynb")


def test_page_shows_no_code_and_no_error(lstm_page):
    assert_page_text(lstm_page, shown=(
        "The LSTM layer",
        "c[0] = f⊙c0 + i⊙g = 0.622⊙0.00 + 0.731⊙0.762 = 0.56",  # the worked example, printed (redoable: 0.73×0.76 would give 0.55)
    ), hidden=("lstm.weight_ih_l0",))
    assert lstm_page.locator("img").count() >= 3  # two heat maps and RNN vs LSTM


def test_canvas_draws_and_a_step_changes_the_caption(lstm_page):
    player = explorer_player(lstm_page)
    assert canvas_ink(lstm_page, f"{EXPLORER_PLAYER} canvas") > 1000
    caption = player.locator("[aria-live]")
    assert caption.inner_text().startswith("forget gate f[0] = σ(")
    player.get_by_label("Step forward").click()
    lstm_page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER)
    assert caption.inner_text().startswith("input gate i[0] = σ(")


def test_forcing_a_gate_and_changing_the_length_recompute(lstm_page):
    assert explorer_player(lstm_page).get_attribute("data-n-frames") == "48"  # 8 steps x 6 stages
    set_control(lstm_page, "force a gate", "f = 1: never forget")
    summary = lstm_page.locator(".layerviz-summary")
    lstm_page.wait_for_function("s => document.querySelector(s).innerText.includes('Forced: f = 1')",
                                arg=".layerviz-explorer .layerviz-summary", timeout=20_000)
    assert "teaching override" in summary.inner_text()
    # the summary and the player's new scene are two messages: wait for the caption too
    lstm_page.wait_for_function("s => document.querySelector(s).innerText.includes('forced to 1.00')",
                                arg=f"{EXPLORER_PLAYER} [aria-live]", timeout=20_000)
    set_control(lstm_page, "sequence length", "4")
    wait_for_frames(lstm_page, 24)


def test_invalid_setting_shows_its_message(lstm_page):
    alert = setting_alert(lstm_page, "proj size", "3")
    assert "proj_size must be < hidden_size, got proj_size=3, hidden_size=3" in alert.inner_text()
