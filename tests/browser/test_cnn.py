"""The whole-CNN notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (EXPLORER_PLAYER, assert_page_text, canvas_ink, explorer_player, set_control,
    setting_alert)

NOTEBOOK = "cnn.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    text = assert_page_text(notebook_page, shown=(
        "A whole CNN, end to end",
        "number of layers = hidden layers + output layer = 1 + 1 = 2",
    ), hidden=("cnn_explorer()", "import numpy"))
    assert "array(" not in text
    read = notebook_page.locator("table.layerviz-table", has_text="read as").locator("td").all_inner_texts()
    assert read == [str(d) for d in range(10)]  # it reads every digit
    noise = notebook_page.locator("table.layerviz-table", has_text="Cells: the digit the network reads")
    assert noise.locator("tbody tr").count() == 4  # the noise levels the text speaks of
    assert "spread out and it starts to guess" not in text and "do not spread out" in text


def test_canvas_draws_and_a_step_changes_the_frame(notebook_page):
    player = explorer_player(notebook_page)
    player.scroll_into_view_if_needed()
    assert player.get_attribute("data-n-frames") == "912"
    assert canvas_ink(notebook_page, f"{EXPLORER_PLAYER} canvas") > 1000
    caption = player.locator("[aria-live]")
    assert caption.inner_text().startswith(
        "layer 1/2 (hidden) Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1)): out[0,0,0,0] = ")
    player.get_by_label("Last frame").click()
    notebook_page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '911'", arg=EXPLORER_PLAYER)
    assert caption.inner_text().startswith("layer 2/2 (output), softmax step Softmax(dim=-1): out[0,:] = softmax(x[0,:])")


def test_changing_the_digit_recomputes(notebook_page):
    assert "Predicted digit: 3" in notebook_page.locator(".layerviz-summary").inner_text()
    set_control(notebook_page, "digit", "8")
    notebook_page.wait_for_function(
        "() => document.querySelector('.layerviz-summary').innerText.includes('Predicted digit: 8')", timeout=20_000)


def test_invalid_setting_shows_its_message(notebook_page):
    alert = setting_alert(notebook_page, "noise", "-1")
    assert "noise must be a number >= 0, got -1.0" in alert.inner_text()
