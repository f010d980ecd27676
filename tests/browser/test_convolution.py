"""The convolution notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (EXPLORER_PLAYER, assert_page_text, assert_player_draws, caption_text,
                                        explorer_player, press, set_control, setting_alert)

NOTEBOOK = "convolution.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    assert_page_text(notebook_page, shown=(
        "The convolution layer",
        "0.00×0.00 + 1.00×1.00 + 3.00×2.00 + 4.00×3.00 = 19.00",  # the worked example, by the engine
    ), hidden=("conv.weight =", "array(", "[[["))
    output = notebook_page.locator("table.layerviz-table").first  # the worked example's output, as a table
    cells = output.locator("td").all_inner_texts()
    assert cells == ["19", "25", "37", "43"]


def test_canvas_draws_and_a_step_changes_the_frame(notebook_page):
    assert_player_draws(notebook_page)
    assert caption_text(notebook_page).startswith("out[0,0,0] = ")
    assert press(notebook_page, "Step forward", 1).startswith("out[0,0,1] = ")


def test_changing_kernel_size_recomputes(notebook_page):
    player = explorer_player(notebook_page)
    assert player.get_attribute("data-n-frames") == "36"  # 8x8 digit, 3x3 kernel: 6x6 outputs
    set_control(notebook_page, "kernel size", "5")
    notebook_page.wait_for_function(
        "sel => document.querySelector(sel).dataset.nFrames === '16'", arg=EXPLORER_PLAYER
    )
    assert "kernel_size=(5, 5)" in notebook_page.locator(".layerviz-summary").inner_text()


def test_invalid_setting_shows_its_message(notebook_page):
    set_control(notebook_page, "padding", "same")
    alert = setting_alert(notebook_page, "stride", "2")
    assert "padding='same' needs stride 1, got stride=(2, 2)" in alert.inner_text()
