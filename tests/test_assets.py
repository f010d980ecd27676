"""The stored digits and colormap equal what matplotlib draws, and a kernel that only explores never imports it.

``scripts/make_assets.py`` writes ``layerviz/assets/`` so that kernels skip matplotlib (~30 MB each); these
tests fail if the stored data and a fresh matplotlib drawing ever disagree.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from layerviz import data, scene


@pytest.mark.parametrize("size", data.STORED_DIGIT_SIZES)
def test_stored_digits_are_matplotlibs_drawing(size):
    stored = data._stored_digit_ink()[size]
    drawn = np.stack([data.render_digit_ink(d, size) for d in range(10)])
    np.testing.assert_array_equal(stored, drawn)


def test_digits_outside_the_stored_sizes_are_drawn():
    image = data.digit(7, size=40)
    np.testing.assert_array_equal(image[0], data.render_digit_ink(7, 40) / (255.0 * 64))
    assert 40 not in data.STORED_DIGIT_SIZES


def test_a_digit_is_the_mean_ink_of_its_pixels():
    image = data.digit(0, size=12)[0]
    assert image.min() == 0.0 and 0.5 < image.max() <= 1.0
    assert image[6, 6] < 0.1 < image[6, 3]  # a zero: dark in the middle, ink on the left stroke


@pytest.mark.parametrize("n", [2, 7, 256, 1000])
def test_stored_colormap_samples_like_matplotlib(n):
    from matplotlib import colormaps

    expected = np.round(colormaps[scene.CMAP_NAME](np.linspace(0.0, 1.0, n))[:, :3] * 255).astype(np.uint8)
    np.testing.assert_array_equal(scene.colormap_lut(n), expected)
    np.testing.assert_array_equal(scene.colormap_lut(), scene.matplotlib_colormap_lut())


def test_exploring_does_not_import_matplotlib():
    code = textwrap.dedent("""
        import sys
        import layerviz as lv
        import layerviz.ui
        for make in (lv.ui.conv_explorer, lv.ui.pooling_explorer, lv.ui.dropout_explorer):
            explorer = make()
            explorer.controls["input"].value = "photo"
            explorer.controls["input"].value = "digit"
        lv.Conv2d(1, 1, 2).frames(lv.data.digit(3, 8)).player()
        print(sorted(name for name in sys.modules if name.split(".")[0] == "matplotlib"))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
