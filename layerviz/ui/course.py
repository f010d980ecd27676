"""The course: the topic notebooks in teaching order, the landing page's cards and each page's navigation.

Every topic notebook starts with ``course.nav("<notebook>")`` (links back to the course and to the
previous and next topics) and the landing notebook shows ``course.cards()``. Links are relative
(``pooling.ipynb``), so they work in Voilà (``/voila/render/...``) and in JupyterLab alike, and the
card pictures are inlined PNGs: nothing is fetched from the internet.

Both are shown in an ``ipywidgets.HTML``: a notebook's HTML output would have every link turned into
``target="_blank"`` by JupyterLab's renderer, and a course whose every click opens a new tab leaves a
student with a tab, and a server with a kernel, per page visited.
"""

from __future__ import annotations

import base64
import html
import pathlib
from dataclasses import dataclass

import ipywidgets as widgets

#: Where the card pictures live; ``python scripts/make_thumbnails.py`` draws them from each topic's explorer.
THUMBNAILS = pathlib.Path(__file__).parent / "thumbnails"
LANDING = "index.ipynb"


@dataclass(frozen=True)
class Topic:
    """One page of the course.

    Attributes
    ----------
    notebook : str
        File name in ``notebooks/``, e.g. ``"convolution.ipynb"``.
    title : str
        Card and link text.
    summary : str
        One sentence on the card.
    explorer : str
        Name of the explorer function in :mod:`layerviz.ui` the page ends with (its first frame is the card picture).
    """

    notebook: str
    title: str
    summary: str
    explorer: str

    @property
    def stem(self) -> str:
        return self.notebook.removesuffix(".ipynb")

    @property
    def thumbnail(self) -> pathlib.Path:
        return THUMBNAILS / f"{self.stem}.png"


#: The course, in teaching order: a network's parts first, then the layers of a CNN, a whole CNN, sequences.
TOPICS: tuple[Topic, ...] = (
    Topic("anatomy.ipynb", "Anatomy of a network",
          "Input, hidden and output layers, and how to count them.", "network_explorer"),
    Topic("linear.ipynb", "Linear and Dense layers",
          "Every output neuron is a dot product plus a bias, then an activation.", "linear_explorer"),
    Topic("convolution.ipynb", "Convolution",
          "A small kernel slides over the image, one output cell per position.", "conv_explorer"),
    Topic("pooling.ipynb", "Pooling",
          "Max and average pooling shrink a feature map window by window.", "pooling_explorer"),
    Topic("dropout.ipynb", "Dropout",
          "A random mask switches values off while training, to fight overfitting.", "dropout_explorer"),
    Topic("batchnorm.ipynb", "Batch normalization",
          "Each channel is brought to mean 0 and spread 1 with the batch's statistics.", "batchnorm_explorer"),
    Topic("cnn.ipynb", "A whole CNN",
          "Convolution, ReLU, pooling and a dense layer read a digit, end to end.", "cnn_explorer"),
    Topic("rnn.ipynb", "Recurrent networks (RNN)",
          "A hidden state carries what was seen from one time step to the next.", "rnn_explorer"),
    Topic("lstm.ipynb", "LSTM",
          "Gates decide what the cell state forgets, stores and shows.", "lstm_explorer"),
    Topic("gru.ipynb", "GRU",
          "Two gates and no cell state: the LSTM's idea with fewer parameters, on the same input.", "gru_explorer"),
    Topic("your_model.ipynb", "Your own model",
          "Any torch model's forward as a graph: residual blocks, an LSTM tagger, node by node.",
          "your_model_explorer"),
)


def topic(notebook: str) -> Topic:
    """The topic of ``notebook`` (``"pooling.ipynb"`` or ``"pooling"``); ValueError for an unknown one."""
    name = notebook if notebook.endswith(".ipynb") else f"{notebook}.ipynb"
    for item in TOPICS:
        if item.notebook == name:
            return item
    raise ValueError(f"notebook must be one of {', '.join(t.notebook for t in TOPICS)}, got {notebook!r}")


def _link(item: Topic, text: str, rel: str) -> str:
    return f'<a href="{html.escape(item.notebook)}" rel="{rel}">{text}</a>'


def nav_html(notebook: str) -> str:
    """The navigation bar of a topic page: the course, the previous and the next topic."""
    index = TOPICS.index(topic(notebook))
    parts = [f'<a href="{LANDING}" rel="index">⌂ Course</a>',
             f'<span aria-current="page">{index + 1}. {html.escape(TOPICS[index].title)}</span>']
    if index > 0:
        previous = TOPICS[index - 1]
        parts.insert(1, _link(previous, f"← {index}. {html.escape(previous.title)}", "prev"))
    if index + 1 < len(TOPICS):
        following = TOPICS[index + 1]
        parts.append(_link(following, f"{index + 2}. {html.escape(following.title)} →", "next"))
    return f'<nav class="layerviz-nav" aria-label="Course">{" · ".join(parts)}</nav>'


def nav(notebook: str) -> widgets.HTML:
    """The navigation bar of a topic page (see :func:`nav_html`), to display."""
    bar = widgets.HTML(nav_html(notebook))
    bar.add_class("layerviz-course-nav")
    return bar


def _picture(item: Topic) -> str:
    if not item.thumbnail.exists():
        return '<div class="layerviz-card-picture" aria-hidden="true"></div>'
    data = base64.b64encode(item.thumbnail.read_bytes()).decode("ascii")
    return (f'<img class="layerviz-card-picture" src="data:image/png;base64,{data}" '
            f'alt="The first frame of the {html.escape(item.title)} animation">')


_CARD_STYLE = """
<style>
.layerviz-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 16px;
                  max-width: 1100px; }
.layerviz-cards a.layerviz-card { display: block; border: 1px solid #c9ced6; border-radius: 8px; padding: 12px;
                                  color: #1f2328 !important; text-decoration: none !important; background: #fff; }
.layerviz-card:hover, .layerviz-card:focus-visible { border-color: #0b63c5; outline: 2px solid #0b63c5; }
.layerviz-cards .layerviz-card h3 { margin: 8px 0 4px; font-size: 17px; color: #0b63c5; }
.layerviz-cards .layerviz-card p { margin: 0; font-size: 14px; line-height: 1.4; }
.layerviz-cards .layerviz-card-picture { width: 100% !important; height: 130px !important; object-fit: contain;
                                         background: #fbfbfb; display: block; margin: 0 !important; }
/* the landing page's prose: lines of ~75 characters, not the whole width of a wide screen */
.jp-Notebook:has(.layerviz-cards) .jp-RenderedMarkdown > * { max-width: 75ch; }
</style>
"""


def cards_html() -> str:
    """The landing page's cards: one per topic, numbered in course order, each a link to its page."""
    cards = [
        f'<a class="layerviz-card" href="{html.escape(item.notebook)}">{_picture(item)}'
        f"<h3>{number}. {html.escape(item.title)}</h3><p>{html.escape(item.summary)}</p></a>"
        for number, item in enumerate(TOPICS, start=1)
    ]
    return f'{_CARD_STYLE}<nav class="layerviz-cards" aria-label="Topics">{"".join(cards)}</nav>'


def cards() -> widgets.HTML:
    """The landing page's cards (see :func:`cards_html`), to display."""
    deck = widgets.HTML(cards_html())
    deck.add_class("layerviz-course-cards")
    return deck
