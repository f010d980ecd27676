"""How recurrent layers learn, served by real Voilà in headless Chromium: on the RNN and LSTM pages the lesson's
backward player (backpropagation through time) draws, steps and checks a predicted gradient, and the explorer's
forward | backward switch swaps the player's trace (its frame count, caption, summary and check) and back, with no
error text.

One page load per notebook (a load costs seconds), one Voilà server and one browser for the whole session (the
session's ``voila_factory`` and ``browser``); every check of a page is made on that load.
"""

from __future__ import annotations

import pytest

import layerviz.ui
from tests.browser.explorer_page import EXPLORER_PLAYER, assert_page_text, canvas_ink, explorer_player, open_notebook

LESSON = ".layerviz-trace-check"
LESSON_PLAYER = f"{LESSON} .layerviz-player[data-ready]"
EXPLORER_CHECK = ".layerviz-explorer .layerviz-predict-next"
#: How long a kernel round trip may take (ms): the machine running the tests may be busy.
TIMEOUT = 30_000

#: Each page: its explorer, the lesson's backward player (frames, the words of frame 0's and frame 1's narration),
#: and frame 2's answer as the narration shows it (the first question after a step).
PAGES = {
    "rnn.ipynb": ("rnn_explorer", 12, "BPTT starts where the forward pass ended, t=1",
                  "da[1] = dh[1]⊙(1 − h[1]²) = 1.00⊙(1 − (-0.46)²) = 0.79", "0.39"),
    "lstm.ipynb": ("lstm_explorer", 26, "BPTT starts where the forward pass ended, t=1",
                   "do[1] = dh[1]⊙tanh(c[1])⊙o[1]⊙(1 − o[1]) = 1.00⊙tanh(1.05)⊙0.73⊙(1 − 0.73) = 0.15",
                   "0.29"),
}


def wait_frame(page, selector: str, k: int) -> None:
    page.wait_for_function("([sel, k]) => document.querySelector(sel).dataset.frame === k", arg=[selector, str(k)],
                           timeout=TIMEOUT)


def wait_shown(page, selector: str, n: int, caption: str) -> None:
    """Wait until the player ``selector`` holds ``n`` frames and shows ``caption``: the trace swapped."""
    page.wait_for_function(
        """([sel, n, caption]) => { const root = document.querySelector(sel);
             return root.dataset.nFrames === n && root.querySelector('[aria-live]').innerText === caption; }""",
        arg=[selector, str(n), caption], timeout=TIMEOUT)


def wait_text(page, selector: str, text: str) -> None:
    """Wait until the first element ``selector`` exists and its text holds ``text``."""
    page.wait_for_function("([sel, text]) => { const e = document.querySelector(sel); "
                           "return e !== null && e.innerText.includes(text); }", arg=[selector, text], timeout=TIMEOUT)


@pytest.mark.parametrize("name", list(PAGES))
def test_bptt_draws_steps_checks_and_switches(page, voila_factory, open_voila, console_errors, name):
    factory, n_lesson, first, second, answer = PAGES[name]
    open_notebook(page, voila_factory, open_voila, console_errors, name)
    page.wait_for_selector(f"{LESSON_PLAYER} canvas", state="attached", timeout=60_000)

    # the lesson's backward player: it draws, steps, and its check judges a typed gradient
    lesson = page.locator(LESSON_PLAYER).first
    lesson.scroll_into_view_if_needed()
    assert canvas_ink(page, f"{LESSON_PLAYER} canvas") > 1000
    assert lesson.get_attribute("data-n-frames") == str(n_lesson)
    caption = lesson.locator("[aria-live]")
    assert caption.inner_text().startswith(first)
    lesson.get_by_label("Step forward").click()
    wait_frame(page, LESSON_PLAYER, 1)
    assert second in caption.inner_text()
    check = page.locator(f"{LESSON} .layerviz-predict-next").first
    wait_text(page, f"{LESSON} .layerviz-predict-next", "Step 3 computes")  # the kernel heard of frame 1: frame 2 asks
    assert "= ?" in check.inner_text()
    check.locator("input").fill(answer)
    check.locator("input").press("Enter")  # the answer box sends its value on Enter (or when it loses focus)
    check.get_by_role("button", name="Check").click()
    wait_text(page, f"{LESSON} .layerviz-predict-next .layerviz-feedback", "Right")
    wait_frame(page, LESSON_PLAYER, 2)  # the check steps the player to the gradient it asked about

    # the explorer's switch: forward -> backward -> forward, the same settings
    engine = getattr(layerviz.ui, factory)()  # the explorer's first settings, computed here by the engine
    forward_frames, forward_caption = len(engine.trace), engine.trace[0].narration
    engine.direction.value = "backward"
    backward = engine.shown
    backward_question = engine.predict.asked.text
    engine.player.frame = 1
    after_step = f"Step {engine.predict.frame + 1} computes"  # the explorer's check once the kernel has frame 1
    assert backward[0].narration != forward_caption

    player = explorer_player(page)
    player.scroll_into_view_if_needed()
    explorer_caption = player.locator("[aria-live]")
    assert explorer_caption.inner_text() == forward_caption
    switch = page.locator(".layerviz-explorer .layerviz-direction")
    switch.get_by_role("button", name="backward", exact=True).click()
    wait_shown(page, EXPLORER_PLAYER, len(backward), backward[0].narration)
    summary = page.locator(".layerviz-explorer .layerviz-summary")
    wait_text(page, ".layerviz-explorer .layerviz-summary", "backpropagation through time")
    assert summary.inner_text().startswith("Backward pass of ")
    wait_text(page, EXPLORER_CHECK, backward_question)  # the check asks about the backward pass
    assert canvas_ink(page, f"{EXPLORER_PLAYER} canvas") > 1000
    player.get_by_label("Step forward").click()
    wait_frame(page, EXPLORER_PLAYER, 1)
    assert explorer_caption.inner_text() == backward[1].narration
    # the browser tells the kernel its frame at most every 250 ms: switch once the kernel knows (its check moved on)
    wait_text(page, EXPLORER_CHECK, after_step)
    switch.get_by_role("button", name="forward", exact=True).click()
    wait_shown(page, EXPLORER_PLAYER, forward_frames, forward_caption)
    page.wait_for_function("sel => !document.querySelector(sel).innerText.startsWith('Backward pass of ')",
                           arg=".layerviz-explorer .layerviz-summary", timeout=TIMEOUT)

    assert page.locator("[role=alert]").count() == 0
    assert_page_text(page, shown=("How it learns", "‖dL/dh_t‖", "dL/dweight_hh_l0"),
                     hidden=("predict_next(", "import numpy", "bptt_table("))
