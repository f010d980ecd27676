"""The batch-normalization notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

from tests.browser.explorer_page import (assert_page_text, assert_player_draws, caption_text, explorer_player, press,
                                        set_control, wait_for_frames)

NOTEBOOK = "batchnorm.ipynb"


def test_page_shows_the_worked_example_and_no_code_or_error(notebook_page):
    assert_page_text(notebook_page, shown=(
        "Batch normalization",
        "mean[0] = (1.00 + 2.00 + 3.00 + 4.00) / 4 = 10.00 / 4 = 2.50",
        "running_mean[0] = 0.9 × 0.00 + 0.1 × 2.50 = 0.25",
        "Expected more than 1 value per channel when training, got input size (1, 3)",
    ), hidden=("bn = BatchNorm1d(", "import numpy",))
    # the two histogram figures are drawn
    sizes = notebook_page.locator(".jp-OutputArea-output img").evaluate_all(
        "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
    assert len([s for s in sizes if s[0] > 300 and s[1] > 100]) >= 2


def test_canvas_draws_and_a_step_changes_the_frame(notebook_page):
    assert_player_draws(notebook_page)
    assert caption_text(notebook_page).startswith("mean[0] = (")
    assert press(notebook_page, "Step forward", 1).startswith("mean[1] = (")
    assert press(notebook_page, "Last frame", 135).startswith("running_var[1] = 0.9 × ")


def test_switching_to_eval_recomputes(notebook_page):
    player = explorer_player(notebook_page)
    # (4, 2, 4, 4) in training: 2 means + 2 variances + 128 values + 2 x 2 updates
    assert player.get_attribute("data-n-frames") == "136"
    set_control(notebook_page, "mode", "eval")
    wait_for_frames(notebook_page, 128)  # eval: only the 128 values, normalized with the running statistics
    assert "eval mode" in notebook_page.locator(".layerviz-summary").inner_text()
    assert player.locator("[aria-live]").inner_text().startswith("out[0,0,0,0] = (")


def test_batch_of_one_shows_its_message_in_training_and_works_in_eval(notebook_page):
    set_control(notebook_page, "layer", "BatchNorm1d")
    set_control(notebook_page, "size", "0")
    wait_for_frames(notebook_page, 2 + 2 + 8 + 4)  # a (4, 2) table
    set_control(notebook_page, "batch size", "1")
    alert = notebook_page.locator(".layerviz-explorer [role=alert]")
    alert.wait_for(timeout=20_000)
    assert "Expected more than 1 value per channel when training, got input size (1, 2)" in alert.inner_text()
    set_control(notebook_page, "mode", "eval")
    wait_for_frames(notebook_page, 2)  # one sample, two channels, running statistics
    assert notebook_page.locator(".layerviz-explorer [role=alert]").count() == 0
    assert "Traceback" not in notebook_page.locator("body").inner_text()
