"""The dropout notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (assert_page_text, assert_player_draws, caption_text, control_value,
                                        explorer_player, press, set_control, setting_alert, wait_for_frames)

NOTEBOOK = "dropout.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    assert_page_text(notebook_page, shown=(
        "The dropout layer",
        "x[0,1] = -1.20 → dropped (0)",  # the worked example's second step, computed in the page
    ), hidden=("import numpy", "Dropout(p=0.5).frames",))


def test_canvas_draws_and_a_step_changes_the_frame(notebook_page):
    assert_player_draws(notebook_page)
    first = caption_text(notebook_page)
    assert first.startswith("x[0,0,0] = ") and first.endswith(("→ kept (1)", "→ dropped (0)"))
    assert press(notebook_page, "Step forward", 1).startswith("x[0,0,1] = ")
    assert press(notebook_page, "Last frame", 64).startswith("kept values × 1/(1 − p) = 1/(1 − 0.5) = × 2.00: ")


def test_changed_controls_recompute(notebook_page):
    player = explorer_player(notebook_page)
    assert player.get_attribute("data-n-frames") == "65"  # 8x8 photo: 64 mask frames, then the scaling
    summary = notebook_page.locator(".layerviz-summary")

    set_control(notebook_page, "size", "20")  # 400 values > 256: one frame per row
    wait_for_frames(notebook_page, 21)
    assert "one per row" in summary.inner_text()
    assert player.locator("[aria-live]").inner_text().startswith("x[0,0,:] (20 values): ")

    notebook_page.locator(".layerviz-explorer").get_by_role("button", name="eval", exact=True).click()
    wait_for_frames(notebook_page, 1)
    assert "Eval mode: the output is the input" in summary.inner_text()
    assert "eval mode: dropout is the identity" in player.locator("[aria-live]").inner_text()

    notebook_page.locator(".layerviz-explorer").get_by_role("button", name="train", exact=True).click()
    wait_for_frames(notebook_page, 21)
    before = summary.inner_text()
    assert control_value(notebook_page, "seed") == "0"
    notebook_page.get_by_role("button", name="resample mask").click()
    notebook_page.wait_for_function(
        "before => document.querySelector('.layerviz-summary').innerText !== before", arg=before, timeout=20_000)
    assert control_value(notebook_page, "seed") == "1"
    assert "Kept" in summary.inner_text()


def test_invalid_setting_shows_its_message(notebook_page):
    alert = setting_alert(notebook_page, "p", "1.5")
    assert "dropout probability p has to be between 0 and 1, but got 1.5" in alert.inner_text()
    set_control(notebook_page, "p", "0.25")
    alert.wait_for(state="detached", timeout=20_000)
    # the alert is cleared first, the summary follows in its own message: wait for it, not for the alert
    notebook_page.wait_for_function("() => document.querySelector('.layerviz-summary').innerText.includes('× 1.33')",
                                   timeout=20_000)
