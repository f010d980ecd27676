"""The course: every topic has its notebook, picture and links; every notebook follows the page pattern."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import layerviz.ui
from layerviz.ui import course

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def cells(notebook: str) -> list[dict]:
    return json.loads((NOTEBOOKS / notebook).read_text())["cells"]


def sources(notebook: str, kind: str) -> list[str]:
    return ["".join(c["source"]) for c in cells(notebook) if c["cell_type"] == kind]


def test_every_notebook_is_the_landing_page_or_a_topic():
    on_disk = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    assert on_disk == {course.LANDING} | {t.notebook for t in course.TOPICS}


def test_landing_page_shows_the_cards():
    assert any("course.cards()" in s for s in sources(course.LANDING, "code"))
    text = "\n".join(sources(course.LANDING, "markdown"))
    assert "number of layers" in text and "input layer" in text.lower()


def test_cards_link_every_topic_in_order_with_its_picture():
    page = course.cards_html()
    links = re.findall(r'<a class="layerviz-card" href="([^"]+)">', page)
    assert links == [t.notebook for t in course.TOPICS]
    assert page.count('src="data:image/png;base64,') == len(course.TOPICS)
    assert "http" not in page  # nothing fetched from the internet


@pytest.mark.parametrize("topic", course.TOPICS, ids=lambda t: t.stem)
def test_topic_has_a_picture_and_an_explorer(topic):
    assert topic.thumbnail.stat().st_size > 1000
    assert callable(getattr(layerviz.ui, topic.explorer))


def test_nav_links_back_and_forth():
    first, second, third = course.TOPICS[:3]
    bar = course.nav_html(second.notebook)
    assert f'href="{course.LANDING}" rel="index"' in bar
    assert f'href="{first.notebook}" rel="prev">← 1. {first.title}' in bar
    assert f'href="{third.notebook}" rel="next">3. {third.title} →' in bar
    assert 'rel="prev"' not in course.nav_html(first.notebook)
    assert 'rel="next"' not in course.nav_html(course.TOPICS[-1].notebook)


def test_unknown_topic_is_named():
    with pytest.raises(ValueError, match="notebook must be one of .*, got 'softmax'"):
        course.topic("softmax")


@pytest.mark.parametrize("topic", course.TOPICS, ids=lambda t: t.stem)
def test_notebook_follows_the_page_pattern(topic):
    code, markdown = sources(topic.notebook, "code"), sources(topic.notebook, "markdown")
    text = "\n".join(markdown)
    assert markdown[0].startswith("# ") or code[0].strip().endswith(f'course.nav("{topic.stem}")')
    assert code[0].strip().endswith(f'course.nav("{topic.stem}")'), "starts with the course navigation"
    assert code[-1].strip() == f'course.nav("{topic.stem}")', "ends with the course navigation"
    assert "$$" in text, "has its formula"
    assert re.search(r"worked example", text, re.IGNORECASE), "has a worked example by hand"
    assert any(f"{topic.explorer}(" in s for s in code), "has its explorer"
    assert "## Check yourself" in text, "ends with checks"
    assert all(not c.get("outputs") for c in cells(topic.notebook) if c["cell_type"] == "code"), "no stored outputs"
