"""The LSTM notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (EXPLORER_PLAYER, assert_page_text, assert_player_draws, caption_text,
                                        explorer_player, press, set_control, setting_alert, wait_for_frames)

NOTEBOOK = "lstm.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    assert_page_text(notebook_page, shown=(
        "The LSTM layer",
        "c[0] = f⊙c0 + i⊙g = 0.622⊙0.00 + 0.731⊙0.762 = 0.56",  # the worked example, printed (redoable: 0.73×0.76 would give 0.55)
    ), hidden=("lstm.weight_ih_l0",))
    assert notebook_page.locator("img").count() >= 3  # two heat maps and RNN vs LSTM


def test_canvas_draws_and_a_step_changes_the_caption(notebook_page):
    assert_player_draws(notebook_page)
    assert caption_text(notebook_page).startswith("forget gate f[0] = σ(")
    assert press(notebook_page, "Step forward", 1).startswith("input gate i[0] = σ(")


def test_forcing_a_gate_and_changing_the_length_recompute(notebook_page):
    assert explorer_player(notebook_page).get_attribute("data-n-frames") == "48"  # 8 steps x 6 stages
    set_control(notebook_page, "force a gate", "f = 1: never forget")
    summary = notebook_page.locator(".layerviz-summary")
    notebook_page.wait_for_function("s => document.querySelector(s).innerText.includes('Forced: f = 1')",
                                arg=".layerviz-explorer .layerviz-summary", timeout=20_000)
    assert "teaching override" in summary.inner_text()
    # the summary and the player's new scene are two messages: wait for the caption too
    notebook_page.wait_for_function("s => document.querySelector(s).innerText.includes('forced to 1.00')",
                                arg=f"{EXPLORER_PLAYER} [aria-live]", timeout=20_000)
    set_control(notebook_page, "sequence length", "4")
    wait_for_frames(notebook_page, 24)


def test_invalid_setting_shows_its_message(notebook_page):
    alert = setting_alert(notebook_page, "proj size", "3")
    assert "proj_size must be < hidden_size, got proj_size=3, hidden_size=3" in alert.inner_text()
