"""The batch-normalization notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

import pytest

from tests.browser.explorer_page import (
    EXPLORER_PLAYER,
    assert_page_text,
    canvas_ink,
    explorer_player,
    open_notebook,
    set_control,
    wait_for_frames,
)


@pytest.fixture
def batchnorm_page(page, voila_factory, open_voila, console_errors):
    return open_notebook(page, voila_factory, open_voila, console_errors, "batchnorm.ipynb")


def test_page_shows_the_worked_example_and_no_code_or_error(batchnorm_page):
    assert_page_text(batchnorm_page, shown=(
        "Batch normalization",
        "mean[0] = (1.00 + 2.00 + 3.00 + 4.00) / 4 = 10.00 / 4 = 2.50",
        "running_mean[0] = 0.9 × 0.00 + 0.1 × 2.50 = 0.25",
        "Expected more than 1 value per channel when training, got input size (1, 3)",
    ), hidden=("bn = BatchNorm1d(", "import numpy",))
    # the two histogram figures are drawn
    sizes = batchnorm_page.locator(".jp-OutputArea-output img").evaluate_all(
        "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
    assert len([s for s in sizes if s[0] > 300 and s[1] > 100]) >= 2


def test_canvas_draws_and_a_step_changes_the_frame(batchnorm_page):
    player = explorer_player(batchnorm_page)
    assert canvas_ink(batchnorm_page, f"{EXPLORER_PLAYER} canvas") > 1000
    caption = player.locator("[aria-live]")
    assert caption.inner_text().startswith("mean[0] = (")
    player.get_by_label("Step forward").click()
    batchnorm_page.wait_for_function(
        "sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER
    )
    assert caption.inner_text().startswith("mean[1] = (")
    player.get_by_label("Last frame").click()
    batchnorm_page.wait_for_function(
        "sel => document.querySelector(sel).dataset.frame === '135'", arg=EXPLORER_PLAYER
    )
    assert caption.inner_text().startswith("running_var[1] = 0.9 × ")


def test_switching_to_eval_recomputes(batchnorm_page):
    player = explorer_player(batchnorm_page)
    # (4, 2, 4, 4) in training: 2 means + 2 variances + 128 values + 2 x 2 updates
    assert player.get_attribute("data-n-frames") == "136"
    set_control(batchnorm_page, "mode", "eval")
    wait_for_frames(batchnorm_page, 128)  # eval: only the 128 values, normalized with the running statistics
    assert "eval mode" in batchnorm_page.locator(".layerviz-summary").inner_text()
    assert player.locator("[aria-live]").inner_text().startswith("out[0,0,0,0] = (")


def test_batch_of_one_shows_its_message_in_training_and_works_in_eval(batchnorm_page):
    set_control(batchnorm_page, "layer", "BatchNorm1d")
    set_control(batchnorm_page, "size", "0")
    wait_for_frames(batchnorm_page, 2 + 2 + 8 + 4)  # a (4, 2) table
    set_control(batchnorm_page, "batch size", "1")
    alert = batchnorm_page.locator(".layerviz-explorer [role=alert]")
    alert.wait_for(timeout=20_000)
    assert "Expected more than 1 value per channel when training, got input size (1, 2)" in alert.inner_text()
    set_control(batchnorm_page, "mode", "eval")
    wait_for_frames(batchnorm_page, 2)  # one sample, two channels, running statistics
    assert batchnorm_page.locator(".layerviz-explorer [role=alert]").count() == 0
    assert "Traceback" not in batchnorm_page.locator("body").inner_text()
