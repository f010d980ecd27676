"""What the lessons say about the engine's results is what the engine computes, and results read as text.

A sentence in a notebook's markdown that describes numbers the page shows (the CNN under noise) is checked
here against the engine, so that retrained weights cannot leave the page saying something it does not show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import layerviz as lv
from layerviz.ui import course, prose
from layerviz.ui.network import noise_answers, noise_table

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def markdown(notebook: str) -> str:
    cells = json.loads((NOTEBOOKS / notebook).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def code_cells(notebook: str) -> list[str]:
    cells = json.loads((NOTEBOOKS / notebook).read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def answers(noise: float) -> list[np.ndarray]:
    """The CNN page's table row: the probabilities for the image of each digit, seed 0."""
    return noise_answers(noise, seed=0)


def test_the_cnn_page_says_what_its_noise_table_shows():
    text = markdown("cnn.ipynb")
    assert "spread out and it starts to guess" not in text
    assert "With a little noise it still reads every digit" in text
    clean = answers(0.0)
    assert [int(p.argmax()) for p in clean] == list(range(10))
    # "with more it misreads some": at 0.3, some but not all; "Try: noise 0.3 on a 5"
    at_03 = [int(p.argmax()) for p in answers(0.3)]
    assert 0 < sum(a != d for d, a in enumerate(at_03)) < 10 and at_03[5] != 5
    # "with a lot it reads almost every image as the same digit"
    at_2 = [int(p.argmax()) for p in answers(2.0)]
    assert max(at_2.count(d) for d in range(10)) >= 8
    # "most of its wrong answers come with a probability above 0.85"
    wrong = [float(p.max()) for noise in (0.3, 1.0, 2.0) for d, p in enumerate(answers(noise)) if p.argmax() != d]
    assert sum(p > 0.85 for p in wrong) > len(wrong) / 2
    # the page's table is these answers, as the explorer computes them
    assert "noise_table(noise_levels=(0.0, 0.3, 1.0, 2.0), seed=0)" in "\n".join(code_cells("cnn.ipynb"))
    table = noise_table((0.0, 0.3, 1.0, 2.0), seed=0)
    assert table.rows[1][1 + 5] == f"{at_03[5]} ({answers(0.3)[5].max():.2f})"
    assert lv.ui.cnn_explorer(digit=5, noise=0.3).trace.output[0].argmax() == at_03[5]


@pytest.mark.parametrize("topic", course.TOPICS, ids=lambda t: t.stem)
def test_no_lesson_cell_ends_with_a_bare_array_tuple_or_narration(topic):
    """The value a cell ends with is what the student reads: a table or a print, not Python's repr."""
    for source in code_cells(topic.notebook):
        last = source.strip().splitlines()[-1]
        assert not re.search(r"\.narration$|\.output(\.round\(\d\)|\.ravel\(\))?$|\.shape$", last), last
        assert not re.match(r"^[\w.\[\]]+(\([^()]*\))?, [\w.\[\]]+", last), f"a tuple: {last}"
        assert not last.startswith("{"), f"a dict: {last}"


def test_tables_read_as_text_and_html():
    shown = prose.table([["mean", 2.5], ["probability", 1.0]], ["", "value"], digits=2, fixed=True)
    assert str(shown) == "             value\n       mean   2.50\nprobability   1.00"
    page = shown._repr_html_()
    assert '<th scope="row"' in page and "<td" in page and "array(" not in page
    square = prose.grid(np.array([[[19.0, 25.0], [37.0, 43.0]]]))
    assert "19" in square._repr_html_() and "col 1" in str(square)
    assert prose.table([["shape", (1, 10)]])._repr_html_().count("(1, 10)") == 1
