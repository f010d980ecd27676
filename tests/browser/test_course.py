"""The course as a student walks it: the landing page, every card, a prediction right and wrong, the keyboard."""

from __future__ import annotations

import pytest

from layerviz.ui import course
from layerviz.ui.conv import conv_explorer
from tests.browser.conftest import REPO
from tests.browser.explorer_page import EXPLORER_PLAYER, assert_page_text, explorer_player, open_notebook

@pytest.fixture
def notebooks_url(voila_factory):
    return f"{voila_factory(REPO / 'notebooks')}/voila/render"


def assert_clean(page) -> None:
    assert_page_text(page, hidden=("Exception",))
    assert page.external_requests == []  # nothing from the internet: the course works offline


def test_landing_page_opens_every_topic_and_each_links_on(page, notebooks_url, open_voila, console_errors):
    page.errors = console_errors(page)
    open_voila(page, f"{notebooks_url}/{course.LANDING}", selector=".layerviz-cards")
    assert "number of layers" in page.locator("body").inner_text().lower()
    cards = page.locator(".layerviz-cards a.layerviz-card")
    assert cards.count() == len(course.TOPICS)
    for number, topic in enumerate(course.TOPICS):
        card = cards.nth(number)
        assert topic.title in card.inner_text()
        assert card.locator("img").evaluate("img => img.complete && img.naturalWidth > 100")
        assert card.get_attribute("href") == topic.notebook
    assert_clean(page)
    # every topic opens, the first from its card (one landing page load: each costs a kernel), the others by address
    for number, topic in enumerate(course.TOPICS):
        if number == 0:
            cards.first.click()
        else:
            page.goto(f"{notebooks_url}/{topic.notebook}", wait_until="domcontentloaded")
        page.wait_for_selector(f"{EXPLORER_PLAYER} canvas", state="attached", timeout=120_000)
        assert page.url.endswith(topic.notebook)
        nav = page.locator("nav.layerviz-nav").first
        assert f"{number + 1}. {topic.title}" in nav.inner_text()
        if number + 1 < len(course.TOPICS):
            assert nav.locator("a[rel=next]").get_attribute("href") == course.TOPICS[number + 1].notebook
        assert_clean(page)


def test_predict_next_value_right_then_wrong(page, voila_factory, open_voila, console_errors):
    open_notebook(page, voila_factory, open_voila, console_errors, "convolution.ipynb")
    truth = conv_explorer().trace.output  # the explorer's first settings, computed here by the engine
    check = page.locator(".layerviz-explorer .layerviz-predict-next")
    answer = check.locator("input").first
    check.scroll_into_view_if_needed()
    assert "out[0,0,1] = " in check.inner_text() and "= ?" in check.inner_text()

    answer.fill(f"{truth[0, 0, 1]:.2f}")
    answer.press("Tab")
    check.get_by_role("button", name="Check").click()
    feedback = check.locator(".layerviz-feedback")
    feedback.wait_for(timeout=20_000)
    assert "Right" in feedback.inner_text()
    page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '1'", arg=EXPLORER_PLAYER)

    page.wait_for_function("el => el.innerText.includes('out[0,0,2]')", arg=check.element_handle())
    answer.fill(f"{truth[0, 0, 2] + 5:.2f}")
    answer.press("Tab")
    check.get_by_role("button", name="Check").click()
    page.wait_for_function("el => el.innerText.includes('Not quite')", arg=check.element_handle(), timeout=20_000)
    assert f"= {truth[0, 0, 2]:.2f}" in check.locator(".layerviz-feedback").inner_text()
    assert_clean(page)


def test_keyboard_steps_the_explorer(page, voila_factory, open_voila, console_errors):
    open_notebook(page, voila_factory, open_voila, console_errors, "pooling.ipynb")
    player = explorer_player(page)
    player.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '3'", arg=EXPLORER_PLAYER)
    page.keyboard.press("End")
    last = str(int(player.get_attribute("data-n-frames")) - 1)
    page.wait_for_function("([sel, k]) => document.querySelector(sel).dataset.frame === k", arg=[EXPLORER_PLAYER, last])
    page.keyboard.press("Home")
    page.wait_for_function("sel => document.querySelector(sel).dataset.frame === '0'", arg=EXPLORER_PLAYER)
    assert player.locator("[aria-live]").inner_text().startswith("out[0,0,0] = ")


def test_the_landing_page_s_prose_keeps_readable_lines_on_a_wide_screen(browser, notebooks_url, open_voila):
    from tests.browser.conftest import new_page

    page = new_page(browser, 1920, 1080)
    open_voila(page, f"{notebooks_url}/{course.LANDING}", selector=".layerviz-cards")
    widths = page.locator(".jp-RenderedMarkdown p").evaluate_all("ps => ps.map(p => p.getBoundingClientRect().width)")
    characters = page.locator(".jp-RenderedMarkdown p").first.evaluate(
        "p => p.getBoundingClientRect().width / parseFloat(getComputedStyle(p).fontSize)")
    assert widths and max(widths) < 800  # beside cards 1100 px wide, not the whole 1920 px
    assert characters < 50  # ~75 characters of ~0.55 em a line
    page.context.close()
