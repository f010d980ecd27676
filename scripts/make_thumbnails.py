#!/usr/bin/env python3
"""Draw the landing page's card pictures: a frame of each topic's explorer, as it first appears.

    python scripts/make_thumbnails.py          # writes layerviz/ui/thumbnails/<topic>.png
    python scripts/make_thumbnails.py gru      # only those topics' (their notebooks' names, without .ipynb)

Run it again when a topic's explorer or the drawing changes; the tests check that every topic has one.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from PIL import Image  # noqa: E402

import layerviz.ui  # noqa: E402
from layerviz import mpl  # noqa: E402
from layerviz.ui import course  # noqa: E402

#: Card pictures are this wide (px); twice the card's CSS width, so they stay sharp on a projector.
WIDTH = 520


def main(stems: list[str]) -> int:
    course.THUMBNAILS.mkdir(exist_ok=True)
    missing = []
    topics = [course.topic(stem) for stem in stems] if stems else course.TOPICS
    for topic in topics:
        make = getattr(layerviz.ui, topic.explorer, None)
        if make is None:
            missing.append(topic.explorer)
            continue
        trace = make().trace
        figure = mpl.draw_frame(trace.scene(), len(trace) // 3)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, facecolor="white")
        image = Image.open(buffer).convert("RGB")
        image.thumbnail((WIDTH, WIDTH))
        image.save(topic.thumbnail, optimize=True)
        print(f"{topic.thumbnail.relative_to(Path.cwd()) if topic.thumbnail.is_relative_to(Path.cwd()) else topic.thumbnail}"
              f" {image.size[0]}x{image.size[1]}")
    if missing:
        print("no explorer yet:", ", ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
