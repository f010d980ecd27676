"""The batch-normalization notebook served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

import pytest

from tests.browser.conftest import REPO

EXPLORER_PLAYER = ".layerviz-explorer .layerviz-player[data-ready]"


@pytest.fixture
def batchnorm_page(page, voila_factory, open_voila, console_errors):
    base = voila_factory(REPO / "notebooks")
    errors = console_errors(page)
    open_voila(page, f"{base}/voila/render/batchnorm.ipynb", selector=f"{EXPLORER_PLAYER} canvas")
    page.errors = errors
    return page


def explorer_player(page):
    return page.locator(EXPLORER_PLAYER)


def set_control(page, label: str, value: str) -> None:
    """Set the explorer control whose description is ``label`` (a text field or a drop-down)."""
    field = page.locator(".layerviz-explorer .widget-inline-hbox", has=page.get_by_text(label, exact=True)).locator(
        "input, select"
    ).first
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(label=value)
    else:
        field.fill(value)
        field.press("Enter")


def wait_for_frames(page, n: int) -> None:
    page.wait_for_function("([sel, n]) => document.querySelector(sel).dataset.nFrames === n",
                           arg=[EXPLORER_PLAYER, str(n)], timeout=20_000)


def canvas_ink(page, selector: str) -> int:
    """Number of canvas pixels that are not white or transparent."""
    return page.locator(selector).evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let n = 0; for (let i = 0; i < d.length; i += 4)
                   if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) n++;
                 return n; }"""
    )


def test_page_shows_the_worked_example_and_no_code_or_error(batchnorm_page):
    text = batchnorm_page.locator("body").inner_text()
    assert "Batch normalization" in text
    assert "mean[0] = (1.00 + 2.00 + 3.00 + 4.00) / 4 = 10.00 / 4 = 2.50" in text
    assert "running_mean[0] = 0.9 × 0.00 + 0.1 × 2.50 = 0.25" in text
    assert "Expected more than 1 value per channel when training, got input size (1, 3)" in text
    for bad in ("Traceback", "Error", "bn = BatchNorm1d(", "import numpy"):
        assert bad not in text
    assert batchnorm_page.errors == []
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
