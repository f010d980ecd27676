#!/usr/bin/env python3
"""Write the data files a kernel reads instead of importing matplotlib (~30 MB of memory a kernel).

    python scripts/make_assets.py      # writes layerviz/assets/digits.npz and colormap_lut.npy

- ``digits.npz``: the ink of each digit 0-9 at every size of :data:`layerviz.data.STORED_DIGIT_SIZES`,
  drawn by :func:`layerviz.data.render_digit_ink` (matplotlib's DejaVu Sans Bold).
- ``colormap_lut.npy``: the scene colormap (:data:`layerviz.scene.CMAP_NAME`) as 256 RGB bytes.

``tests/test_assets.py`` checks both against a fresh matplotlib drawing: run this again when
matplotlib changes how it draws them, or the digits' font or layout changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from layerviz import data, scene  # noqa: E402


def main() -> int:
    folder = Path(data.__file__).parent / "assets"
    folder.mkdir(exist_ok=True)
    digits = {f"size{size}": np.stack([data.render_digit_ink(d, size) for d in range(10)])
              for size in data.STORED_DIGIT_SIZES}
    np.savez_compressed(folder / "digits.npz", **digits)
    np.save(folder / "colormap_lut.npy", scene.matplotlib_colormap_lut())
    for path in sorted(folder.iterdir()):
        print(f"{path.relative_to(folder.parents[1])}: {path.stat().st_size / 1024:.1f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
