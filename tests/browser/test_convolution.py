"""The convolution notebook served by real Voilà, used in headless Chromium like a student would."""

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
)


@pytest.fixture
def convolution_page(page, voila_factory, open_voila, console_errors):
    return open_notebook(page, voila_factory, open_voila, console_errors, "convolution.ipynb")


def test_page_shows_no_code_and_no_error(convolution_page):
    assert_page_text(convolution_page, shown=(
        "The convolution layer",
        "0.00×0.00 + 1.00×1.00 + 3.00×2.00 + 4.00×3.00 = 19.00",  # the worked example, by the engine
    ), hidden=("conv.weight =", "array(", "[[["))
    output = convolution_page.locator("table.layerviz-table").first  # the worked example's output, as a table
    cells = output.locator("td").all_inner_texts()
    assert cells == ["19", "25", "37", "43"]


def test_canvas_draws_and_a_step_changes_the_frame(convolution_page):
    player = explorer_player(convolution_page)
    assert canvas_ink(convolution_page, f"{EXPLORER_PLAYER} canvas") > 1000
    caption = player.locator("[aria-live]")
    first_caption = caption.inner_text()
    assert first_caption.startswith("out[0,0,0] = ")
    player.get_by_label("Step forward").click()
    convolution_page.wait_for_function(
        "sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER
    )
    assert caption.inner_text().startswith("out[0,0,1] = ")


def test_changing_kernel_size_recomputes(convolution_page):
    player = explorer_player(convolution_page)
    assert player.get_attribute("data-n-frames") == "36"  # 8x8 digit, 3x3 kernel: 6x6 outputs
    set_control(convolution_page, "kernel size", "5")
    convolution_page.wait_for_function(
        "sel => document.querySelector(sel).dataset.nFrames === '16'", arg=EXPLORER_PLAYER
    )
    assert "kernel_size=(5, 5)" in convolution_page.locator(".layerviz-summary").inner_text()


def test_invalid_setting_shows_its_message(convolution_page):
    set_control(convolution_page, "padding", "same")
    alert = setting_alert(convolution_page, "stride", "2")
    assert "padding='same' needs stride 1, got stride=(2, 2)" in alert.inner_text()
