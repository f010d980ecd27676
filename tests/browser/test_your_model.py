"""The page "Your own model" served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import new_page
from tests.browser.explorer_page import assert_page_text, canvas_ink, open_notebook

PLAYERS = ".layerviz-your-model .layerviz-player[data-ready]"

#: Each player's stage width, what it would scroll, and the page's own sideways scroll (CSS px).
SIDEWAYS = """() => ({
  page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  stages: [...document.querySelectorAll('.layerviz-player .lvp-stage')].map((s) => s.scrollWidth - s.clientWidth),
})"""


@pytest.fixture
def model_page(browser, voila_factory, open_voila, console_errors):
    """The page on a laptop's screen, 1366 px wide."""
    page = new_page(browser, 1366, 768)
    yield open_notebook(page, voila_factory, open_voila, console_errors, "your_model.ipynb")
    page.context.close()


def wait_for_frames(page, index: int, n: int) -> None:
    """Wait until player ``index`` of the explorer (0: the flow, 1: the node's) holds ``n`` frames."""
    page.wait_for_function("([sel, i, n]) => document.querySelectorAll(sel)[i]?.dataset.nFrames === n",
                           arg=[PLAYERS, index, str(n)], timeout=20_000)


def node_boxes(flow) -> dict[str, dict]:
    """The flow's map boxes as the player exposes them: node name to its rectangle on the canvas (CSS px)."""
    return {box["name"]: box for box in json.loads(flow.get_attribute("data-node-boxes"))}


def click_node_box(flow, name: str) -> None:
    """Click the box of node ``name`` on the flow player's canvas, where the player says it is drawn."""
    box = node_boxes(flow)[name]
    flow.locator("canvas").click(position={"x": box["x"] + box["w"] / 2, "y": box["y"] + box["h"] / 2})


def test_flow_then_a_node_of_the_resnet(model_page):
    assert_page_text(model_page, shown=("Your own model", "lv.from_torch(model, x)", "class Net(nn.Module)"),
                     hidden=("your_model_explorer()",))
    flow, node = model_page.locator(PLAYERS).nth(0), model_page.locator(PLAYERS).nth(1)
    assert flow.get_attribute("data-n-frames") == "12"  # one frame per node of the CIFAR Net
    flow.scroll_into_view_if_needed()
    assert canvas_ink(model_page, f"{PLAYERS} canvas") > 1000
    assert set(node_boxes(flow)) >= {"x", "conv1", "fc3"}  # the map: one box per input and node
    model_page.locator(".layerviz-your-model").get_by_role("button", name="ResNet (2 blocks)", exact=True).click()
    wait_for_frames(model_page, 0, 22)
    model_page.wait_for_function("sel => (document.querySelector(sel).dataset.nodeBoxes || '').includes('add_1')",
                                 arg=PLAYERS)
    assert "class BasicBlock(nn.Module)" in model_page.locator(".layerviz-your-model").inner_text()
    sideways = model_page.evaluate(SIDEWAYS)
    assert sideways["page"] <= 0 and max(sideways["stages"]) <= 0, sideways  # nothing scrolls sideways at 1366 px
    boxes = node_boxes(flow)
    canvas = flow.locator("canvas").bounding_box()
    assert len(boxes) == 23 and all(0 <= b["x"] and b["x"] + b["w"] <= canvas["width"] + 1 for b in boxes.values())
    assert canvas["height"] < 1400  # the map and one node's panels, not every node's panel one under the other
    # the whole model, node after node: once a scene's first picture is made, each frame is drawn well within 16 ms
    stats_before = flow.evaluate("r => ({...r.__layerviz})")
    flow.get_by_label("Play").click()
    model_page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '21'", arg=PLAYERS,
                                 timeout=20_000)
    stats_after = flow.evaluate("r => ({...r.__layerviz})")
    draws = stats_after["draws"] - stats_before["draws"]
    ms_per_draw = (stats_after["drawMs"] - stats_before["drawMs"]) / max(draws, 1)
    assert draws >= 10 and ms_per_draw < 16, (stats_before, stats_after)
    click_node_box(flow, "add")
    wait_for_frames(model_page, 1, 1024)  # the residual add, one frame per element
    expect(model_page.locator(".layerviz-nodes button.mod-active")).to_have_text("add")  # the chooser follows
    node.scroll_into_view_if_needed()
    assert node.locator("canvas").first.evaluate("c => c.width") > 0
    caption = node.locator("[aria-live]")
    before = caption.inner_text()
    node.get_by_label("Step forward").click()
    model_page.wait_for_function("([sel]) => document.querySelectorAll(sel)[1].dataset.frame === '1'", arg=[PLAYERS])
    assert caption.inner_text() != before and caption.inner_text().startswith("out[0,0,0,1] = ")
    # the node buttons stay the keyboard's way; a click on a box after them still opens the box's node
    model_page.locator(".layerviz-nodes").get_by_role("button", name="fc", exact=True).click()
    wait_for_frames(model_page, 1, 10)
    click_node_box(flow, "add")
    wait_for_frames(model_page, 1, 1024)
    assert model_page.errors == []
