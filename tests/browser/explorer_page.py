"""Helpers for browser tests of a topic notebook: open it in Voilà, use its explorer like a student."""

from __future__ import annotations

from tests.browser.conftest import REPO

EXPLORER_PLAYER = ".layerviz-explorer .layerviz-player[data-ready]"


def open_notebook(page, voila_factory, open_voila, console_errors, name: str):
    """Open ``notebooks/<name>`` in Voilà and wait for its explorer's player; ``page.errors`` collects errors."""
    base = voila_factory(REPO / "notebooks")
    page.errors = console_errors(page)
    open_voila(page, f"{base}/voila/render/{name}", selector=f"{EXPLORER_PLAYER} canvas")
    return page


def explorer_player(page):
    return page.locator(EXPLORER_PLAYER)


def _control(page, label: str):
    return page.locator(".layerviz-explorer .widget-inline-hbox", has=page.get_by_text(label, exact=True))


def set_control(page, label: str, value: str) -> None:
    """Set the explorer control whose description is ``label`` (a text field or a drop-down)."""
    field = _control(page, label).locator("input, select").first
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(label=value)
    else:
        field.fill(value)
        field.press("Enter")


def control_value(page, label: str) -> str:
    return _control(page, label).locator("input").first.input_value()


def wait_for_frames(page, n: int) -> None:
    """Wait until the explorer's player holds a trace of ``n`` frames."""
    page.wait_for_function("([sel, n]) => document.querySelector(sel).dataset.nFrames === n",
                           arg=[EXPLORER_PLAYER, str(n)], timeout=20_000)


def canvas_ink(page, selector: str) -> int:
    """Number of pixels of the first canvas matching ``selector`` that are not white or transparent."""
    return page.locator(selector).first.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let n = 0; for (let i = 0; i < d.length; i += 4)
                   if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) n++;
                 return n; }"""
    )


def assert_page_text(page, shown=(), hidden=()) -> str:
    """The page reads every ``shown`` string and none of ``hidden`` (the notebook's code), shows no
    traceback or error, and the browser logged no error. Returns the page's text."""
    text = page.locator("body").inner_text()
    for wanted in shown:
        assert wanted in text
    for bad in ("Traceback", "Error", *hidden):
        assert bad not in text, f"{bad!r} on {page.url}"
    assert page.errors == []
    return text


def setting_alert(page, label: str, value: str):
    """Set the control ``label`` to a bad ``value``; the explorer's alert, once shown (the page has no traceback)."""
    set_control(page, label, value)
    alert = page.locator(".layerviz-explorer [role=alert]")
    alert.wait_for(timeout=20_000)
    assert "Traceback" not in page.locator("body").inner_text()
    return alert


def caption_text(page) -> str:
    """What the explorer's player narrates for the frame it shows."""
    return explorer_player(page).locator("[aria-live]").inner_text()


def press(page, button: str, frame: int) -> str:
    """Click the explorer player's ``button`` (its label: "Step forward", "Last frame"), wait until it shows
    ``frame``; returns that frame's caption."""
    explorer_player(page).get_by_label(button).click()
    page.wait_for_function("([sel, k]) => document.querySelector(sel).dataset.frame === k",
                           arg=[EXPLORER_PLAYER, str(frame)])
    return caption_text(page)


def assert_player_draws(page) -> None:
    """The explorer's player has drawn its scene: its canvas holds more than a thousand pixels of ink."""
    assert canvas_ink(page, f"{EXPLORER_PLAYER} canvas") > 1000
