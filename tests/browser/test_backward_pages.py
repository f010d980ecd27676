"""How it learns, served by real Voilà in headless Chromium: on every layer page the lesson's backward player
draws and steps, and the explorer's forward | backward switch swaps the player's trace (its frame count and
caption) and back, with no error text.

One page load per notebook (a load costs seconds), one Voilà server and one browser for the whole file (the
session's ``voila_factory`` and ``browser``); every check of a page is made on that load.
"""

from __future__ import annotations

import pytest

import layerviz.ui
from tests.browser.explorer_page import EXPLORER_PLAYER, assert_page_text, canvas_ink, explorer_player, open_notebook

LESSON = ".layerviz-trace-check"
LESSON_PLAYER = f"{LESSON} .layerviz-player[data-ready]"

#: Each page: the explorer with the switch (None: no switch), and the first words of the
#: lesson's backward narration, frame 0 and frame 1.
PAGES = {
    "convolution.ipynb": ("conv_explorer", "dout[0] × the input cell tap (0,0) read", "cell tap (0,1) read"),
    "pooling.ipynb": ("pooling_explorer", "dout / divisor from every window that covered x[0,0,0]",
                      "dout / divisor from every window that covered x[0,0,1]"),
    "linear.ipynb": ("linear_explorer", "dout × x, summed over the 1 sample(s): dw[0,0]", "dout × x, summed"),
    "dropout.ipynb": ("dropout_explorer", "x was kept in the forward: dx[0,0]", "x was dropped in the forward"),
    "batchnorm.ipynb": ("batchnorm_explorer", "dout × x̂ summed over channel 0", "dout summed over channel 0"),
    "anatomy.ipynb": ("network_explorer", "layer 3/3 (output) Dense(8, 2, activation='identity'): dz[0] = ", ": dz[1] = "),
    "cnn.ipynb": ("cnn_explorer", "layer 2/2 (output) Linear(100, 10): dout × x, summed over the 1 sample(s): dw[0,0] = ", "dw[0,1] = "),
}


def wait_frame(page, selector: str, k: int) -> None:
    page.wait_for_function("([sel, k]) => document.querySelector(sel).dataset.frame === k", arg=[selector, str(k)],
                           timeout=20_000)


def wait_shown(page, selector: str, n: int, caption: str) -> None:
    """Wait until the player ``selector`` holds ``n`` frames and shows ``caption``: the trace swapped."""
    page.wait_for_function(
        """([sel, n, caption]) => { const root = document.querySelector(sel);
             return root.dataset.nFrames === n && root.querySelector('[aria-live]').innerText === caption; }""",
        arg=[selector, str(n), caption], timeout=20_000)


@pytest.mark.parametrize("name", list(PAGES))
def test_the_backward_pass_draws_steps_and_switches(page, voila_factory, open_voila, console_errors, name):
    factory, first, second = PAGES[name]
    open_notebook(page, voila_factory, open_voila, console_errors, name)
    page.wait_for_selector(f"{LESSON_PLAYER} canvas", state="attached", timeout=60_000)

    # the lesson's backward player draws and steps, with its check under it
    lesson = page.locator(LESSON_PLAYER).first
    lesson.scroll_into_view_if_needed()
    assert canvas_ink(page, f"{LESSON_PLAYER} canvas") > 1000
    assert int(lesson.get_attribute("data-n-frames")) > 1
    caption = lesson.locator("[aria-live]")
    assert first in caption.inner_text()
    lesson.get_by_label("Step forward").click()
    page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '1'", arg=LESSON_PLAYER)
    assert second in caption.inner_text()
    check = page.locator(f"{LESSON} .layerviz-predict-next").first
    assert "= ?" in check.inner_text()

    if factory is not None:  # the explorer's switch: forward -> backward -> forward
        engine = getattr(layerviz.ui, factory)()  # the explorer's first settings, computed here by the engine
        forward_frames, forward_caption = len(engine.trace), engine.trace[0].narration
        engine.direction.value = "backward"
        backward_frames, backward_caption = len(engine.shown), engine.shown[0].narration
        assert backward_caption != forward_caption

        player = explorer_player(page)
        player.scroll_into_view_if_needed()
        explorer_caption = player.locator("[aria-live]")
        assert explorer_caption.inner_text() == forward_caption
        switch = page.locator(".layerviz-explorer .layerviz-direction")
        # Steps faster than the player's sync period, then the switch at once: the last step reaches the kernel
        # before the switch does, so it cannot land on the backward pass after it opened at its first frame.
        player.get_by_label("Step forward").click()
        player.get_by_label("Step forward").click()
        switch.get_by_role("button", name="backward", exact=True).click()
        wait_shown(page, EXPLORER_PLAYER, backward_frames, backward_caption)
        page.wait_for_timeout(600)  # longer than the sync period: a late step would have arrived
        assert player.get_attribute("data-frame") == "0"
        assert explorer_caption.inner_text() == backward_caption
        # and the kernel agrees: its check asks about the first step after frame 0, as the engine's does
        asked = page.locator(".layerviz-explorer .layerviz-predict-next").first
        if engine.predict.frame is not None:
            assert f"Step {engine.predict.frame + 1} computes" in asked.inner_text()
        summary = page.locator(".layerviz-explorer .layerviz-summary")
        assert summary.inner_text().startswith("Backward pass of ")
        assert canvas_ink(page, f"{EXPLORER_PLAYER} canvas") > 1000
        player.get_by_label("Step forward").click()
        wait_frame(page, EXPLORER_PLAYER, 1)
        assert explorer_caption.inner_text() == engine.shown[1].narration
        switch.get_by_role("button", name="forward", exact=True).click()
        wait_shown(page, EXPLORER_PLAYER, forward_frames, forward_caption)
        assert not summary.inner_text().startswith("Backward pass of ")
    else:
        assert page.locator(".layerviz-direction").count() == 0

    assert page.locator("[role=alert]").count() == 0
    assert_page_text(page, shown=("How it learns",), hidden=("predict_next(", "import numpy"))
