"""The anatomy notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (EXPLORER_PLAYER, assert_page_text, canvas_ink, explorer_player, set_control,
    setting_alert, wait_for_frames)

NOTEBOOK = "anatomy.ipynb"


def test_page_shows_no_code_and_no_error(notebook_page):
    assert_page_text(notebook_page, shown=(
        "The anatomy of a neural network",
        "number of layers = hidden layers + output layer = 2 + 1 = 3",
        "z[0] = 1.00×0.50 + (-2.00)×1.00 + 0.50 (bias) = -1.00",  # the worked example, by the engine
    ), hidden=("network_explorer()", "import numpy",))
    assert notebook_page.locator("img").count() >= 1  # the decision regions


def test_canvas_draws_and_a_step_changes_the_frame(notebook_page):
    player = explorer_player(notebook_page)
    player.scroll_into_view_if_needed()
    assert canvas_ink(notebook_page, f"{EXPLORER_PLAYER} canvas") > 1000
    caption = player.locator("[aria-live]")
    assert caption.inner_text().startswith("layer 1/3 (hidden) Dense(2, 8, activation='relu'): z[0] = ")
    before = canvas_pixels(notebook_page)
    drawn = int(player.get_attribute("data-drawn"))
    player.get_by_label("Step forward").click()
    notebook_page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER)
    assert caption.inner_text().startswith("layer 1/3 (hidden) Dense(2, 8, activation='relu'): z[1] = ")
    notebook_page.wait_for_function("([sel, n]) => Number(document.querySelector(sel).dataset.drawn) > n",
                                   arg=[EXPLORER_PLAYER, drawn])
    after = canvas_pixels(notebook_page)
    assert len(after) == len(before)
    changed = sum(a != b for a, b in zip(after, before))
    assert changed > 200  # the lit neuron moved: its ring and its incoming lines were redrawn


def canvas_pixels(page) -> list[int]:
    """Every 4th byte of the explorer canvas's RGBA data (the red channel), to compare two frames."""
    return page.locator(f"{EXPLORER_PLAYER} canvas").first.evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0))")


def test_changing_the_hidden_layers_recomputes(notebook_page):
    player = explorer_player(notebook_page)
    assert player.get_attribute("data-n-frames") == "19"  # 8 + 8 + 2 neurons, then one softmax row
    set_control(notebook_page, "hidden sizes", "4")
    wait_for_frames(notebook_page, 7)
    assert "1 + 1 = 2" in notebook_page.locator(".layerviz-summary").inner_text()


def test_invalid_setting_shows_its_message(notebook_page):
    alert = setting_alert(notebook_page, "hidden sizes", "4, x")
    assert "hidden sizes must be whole numbers separated by commas, got '4, x'" in alert.inner_text()
