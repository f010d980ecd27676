"""The page "Your own model" served by real Voilà, used in headless Chromium like a student would."""

from __future__ import annotations

import pytest

from tests.browser.explorer_page import assert_page_text, canvas_ink, open_notebook

PLAYERS = ".layerviz-your-model .layerviz-player[data-ready]"


@pytest.fixture
def model_page(page, voila_factory, open_voila, console_errors):
    return open_notebook(page, voila_factory, open_voila, console_errors, "your_model.ipynb")


def wait_for_frames(page, index: int, n: int) -> None:
    """Wait until player ``index`` of the explorer (0: the flow, 1: the node's) holds ``n`` frames."""
    page.wait_for_function("([sel, i, n]) => document.querySelectorAll(sel)[i]?.dataset.nFrames === n",
                           arg=[PLAYERS, index, str(n)], timeout=20_000)


def test_flow_then_a_node_of_the_resnet(model_page):
    assert_page_text(model_page, shown=("Your own model", "lv.from_torch(model, x)", "class Net(nn.Module)"),
                     hidden=("your_model_explorer()",))
    flow, node = model_page.locator(PLAYERS).nth(0), model_page.locator(PLAYERS).nth(1)
    assert flow.get_attribute("data-n-frames") == "12"  # one frame per node of the CIFAR Net
    flow.scroll_into_view_if_needed()
    assert canvas_ink(model_page, f"{PLAYERS} canvas") > 1000
    model_page.locator(".layerviz-your-model").get_by_role("button", name="ResNet (2 blocks)", exact=True).click()
    wait_for_frames(model_page, 0, 22)
    assert "class BasicBlock(nn.Module)" in model_page.locator(".layerviz-your-model").inner_text()
    model_page.locator(".layerviz-nodes").get_by_role("button", name="add", exact=True).click()
    wait_for_frames(model_page, 1, 1024)  # the residual add, one frame per element
    node.scroll_into_view_if_needed()
    assert node.locator("canvas").first.evaluate("c => c.width") > 0
    caption = node.locator("[aria-live]")
    before = caption.inner_text()
    node.get_by_label("Step forward").click()
    model_page.wait_for_function("([sel]) => document.querySelectorAll(sel)[1].dataset.frame === '1'", arg=[PLAYERS])
    assert caption.inner_text() != before and caption.inner_text().startswith("out[0,0,0,1] = ")
    assert model_page.errors == []
