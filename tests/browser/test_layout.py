"""Every scene fits its player on a laptop's screen (1366x768, and 1920 wide): no player scrolls sideways, the
CNN's scores and Softmax are on screen, the numbers of lit cells too small to print are read out under the
picture, and presenter mode enlarges the player without making it scroll (issue 13).

One Voilà server and one browser for the file; each page is opened once per width and shared by its tests.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import REPO, collect_console_errors, new_page, open_voila
from tests.browser.explorer_page import EXPLORER_PLAYER

PAGES = ("cnn.ipynb", "anatomy.ipynb", "dropout.ipynb")

#: Each ready player's widths (CSS px): its stage (the room a scene has), what the stage would scroll, the canvas
#: as shown, and the scene as laid out (before any scaling down).
MEASURE = """() => [...document.querySelectorAll('.layerviz-player')].map((p) => {
  const stage = p.querySelector('.lvp-stage'), canvas = p.querySelector('canvas');
  return {ready: p.dataset.ready === '1', frames: Number(p.dataset.nFrames), explorer: !!p.closest('.layerviz-explorer'),
          title: p.querySelector('.lvp-title').textContent,
          stage: stage.clientWidth, scroll: stage.scrollWidth, canvas: canvas.getBoundingClientRect().width,
          scene: Number(p.dataset.sceneWidth || 0), presenter: p.dataset.presenter};
})"""


@pytest.fixture(scope="module")
def opened(browser, voila_factory):
    """``opened(name, width=1366, query="")``: the notebook's page at that width, opened once for the module."""
    base = voila_factory(REPO / "notebooks")
    pages = {}

    def open_page(name: str, width: int = 1366, query: str = ""):
        key = (name, width, query)
        if key not in pages:
            page = new_page(browser, width, 768 if width < 1900 else 1080)
            page.errors = collect_console_errors(page)
            open_voila(page, f"{base}/voila/render/{name}{query}", selector=f"{EXPLORER_PLAYER} canvas")
            # every player of the page drawn (the lesson's players as well as the explorer's)
            page.wait_for_function("() => [...document.querySelectorAll('.layerviz-player')]"
                                   ".every((p) => p.dataset.ready === '1')", timeout=60_000)
            pages[key] = page
        return pages[key]

    yield open_page
    for page in pages.values():
        page.context.close()


def players(page) -> list[dict]:
    found = page.evaluate(MEASURE)
    assert found and all(p["ready"] for p in found)
    return found


@pytest.mark.parametrize("name", PAGES)
def test_no_scene_is_wider_than_its_player_at_1366(opened, name):
    page = opened(name)
    for player in players(page):
        assert player["scroll"] <= player["stage"], player  # no horizontal scrollbar under the picture
        assert player["canvas"] <= player["stage"] + 0.5, player
        assert 0 < player["scene"] <= player["stage"], player  # laid out to fit, not merely scaled down
    assert page.errors == []


@pytest.mark.parametrize("width", [1366, 1920])
def test_the_cnn_shows_its_answer_and_reads_out_the_lit_cells(opened, width):
    page = opened("cnn.ipynb", width)
    (explorer,) = [p for p in players(page) if p["explorer"]]
    assert explorer["frames"] == 912
    assert explorer["scene"] <= explorer["stage"] and explorer["scroll"] <= explorer["stage"]
    assert explorer["title"].startswith("Sequential, 2 layers:")
    readout = page.locator(f"{EXPLORER_PLAYER} .lvp-readout")
    assert readout.is_visible()
    text = readout.inner_text()
    assert text.startswith("Lit cells: ") and any(c.isdigit() for c in text), text  # the conv's window, read out


def test_presenter_mode_enlarges_without_scrolling(opened):
    page = opened("cnn.ipynb", 1366, "?presenter=1")
    for player in players(page):
        assert player["presenter"] == "true"
        assert player["scroll"] <= player["stage"] and player["canvas"] <= player["stage"] + 0.5, player
    root = page.locator(EXPLORER_PLAYER)
    caption_px = float(root.locator(".lvp-caption").evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert caption_px >= 18
    button = root.get_by_role("button", name="Presenter")
    assert button.get_attribute("aria-pressed") == "true"
    drawn = int(root.get_attribute("data-drawn"))
    button.click()  # off again: the ordinary player, laid out anew
    page.wait_for_function("sel => document.querySelector(sel).dataset.presenter === 'false'", arg=EXPLORER_PLAYER)
    page.wait_for_function("([sel, n]) => Number(document.querySelector(sel).dataset.drawn) > n",
                           arg=[EXPLORER_PLAYER, drawn])
    assert button.get_attribute("aria-pressed") == "false"
    assert float(root.locator(".lvp-caption").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) < 18
    (explorer,) = [p for p in players(page) if p["explorer"]]
    assert explorer["scene"] <= explorer["stage"]
    assert page.errors == []


def test_the_model_flow_fits_its_player_at_1366(opened):
    """"Your own model": the flow's map (boxes in columns, wrapped into bands) and its node's panels fit the player."""
    page = opened("your_model.ipynb")
    for player in players(page):
        assert player["scroll"] <= player["stage"] and player["canvas"] <= player["stage"] + 0.5, player
        assert 0 < player["scene"] <= player["stage"], player
    flow = page.locator(".layerviz-your-model .layerviz-player").first
    assert flow.get_attribute("data-node-boxes")  # the map's boxes, exposed for clicks and assistive tools
    assert page.errors == []
