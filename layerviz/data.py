"""Small inputs for the explorers: digits, a photo, noise, an uploaded image.

Every function returns a float64 array ``(C, size, size)`` with values in ``[0, 1]``
(random inputs: standard normal), ready for a layer.
"""

from __future__ import annotations

import functools
import importlib.util
import io
from pathlib import Path

import numpy as np

from layerviz import _checks

#: Largest upload accepted, in bytes.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: Largest picture accepted, in pixels (a 5000x5000 photo); decoding costs 3 bytes a pixel in the kernel.
MAX_UPLOAD_PIXELS = 25_000_000


#: Digits of these sizes (the explorers' range) are stored pre-rendered in ``assets/digits.npz`` by
#: ``scripts/make_assets.py``: drawing them needs matplotlib's font rendering, ~30 MB in every kernel.
STORED_DIGIT_SIZES = range(2, 33)
_DIGITS_FILE = Path(__file__).parent / "assets" / "digits.npz"
_OVERSAMPLE = 8


def render_digit_ink(digit: int, size: int) -> np.ndarray:
    """Draw ``digit`` with matplotlib's bundled DejaVu Sans Bold, white on black, ``size * 8`` pixels a side.

    Returns the ink of each output pixel, ``(size, size)`` uint16: the sum of its 8x8 block of 8-bit
    grey levels (0 to 64 * 255).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=size * _OVERSAMPLE)
    fig.patch.set_facecolor("black")
    fig.text(0.5, 0.47, str(digit), color="white", fontsize=58, ha="center", va="center",
             family="DejaVu Sans", weight="bold")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    grey = np.asarray(canvas.buffer_rgba())[..., 0].astype(np.uint16)
    return grey.reshape(size, _OVERSAMPLE, size, _OVERSAMPLE).sum(axis=(1, 3), dtype=np.uint16)


@functools.lru_cache(maxsize=1)
def _stored_digit_ink() -> dict[int, np.ndarray]:
    with np.load(_DIGITS_FILE) as stored:
        return {size: stored[f"size{size}"] for size in STORED_DIGIT_SIZES}


@functools.lru_cache(maxsize=64)
def _render_digit(digit: int, size: int) -> np.ndarray:
    """``digit`` white on black as ``(size, size)`` in [0, 1]: each pixel the mean of its 8x8 block."""
    ink = _stored_digit_ink()[size][digit] if size in STORED_DIGIT_SIZES else render_digit_ink(digit, size)
    digit_image = ink / (255.0 * _OVERSAMPLE**2)
    digit_image.flags.writeable = False
    return digit_image


def digit(value: int = 7, size: int = 12, channels: int = 1) -> np.ndarray:
    """A handwritten-style digit, ``(channels, size, size)``; channel ``c`` shows ``(value + c) % 10``."""
    value = _checks.positive_int("digit", value, 0)
    if value > 9:
        raise ValueError(f"digit must be <= 9, got {value}")
    size = _checks.positive_int("size", size, 2)
    channels = _checks.positive_int("channels", channels)
    return np.stack([_render_digit((value + c) % 10, size) for c in range(channels)])


def _resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop ``image: (H, W, 3)`` to a square and average it down to ``(size, size, 3)``."""
    from PIL import Image

    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((size, size), Image.Resampling.BOX), dtype=np.float64) / 255.0


def _channels_from_rgb(rgb: np.ndarray, channels: int) -> np.ndarray:
    """``(size, size, 3)`` -> ``(channels, size, size)``: 1 channel is grey (luma), 2 or 3 are R, G, B."""
    if channels == 1:
        return (rgb @ np.array([0.299, 0.587, 0.114]))[None]
    if channels > 3:
        raise ValueError(f"channels must be <= 3 for an image, got {channels}")
    return np.moveaxis(rgb, -1, 0)[:channels]


def _matplotlib_sample(name: str) -> Path:
    """The path of one of matplotlib's sample files, found without importing matplotlib (~15 MB)."""
    spec = importlib.util.find_spec("matplotlib")
    return Path(spec.submodule_search_locations[0]) / "mpl-data" / "sample_data" / name


def photo(size: int = 12, channels: int = 1) -> np.ndarray:
    """Grace Hopper's face, from matplotlib's sample ``grace_hopper.jpg``, ``(channels, size, size)``."""
    from PIL import Image

    size = _checks.positive_int("size", size, 2)
    channels = _checks.positive_int("channels", channels)
    with Image.open(_matplotlib_sample("grace_hopper.jpg")) as file:
        image = np.asarray(file.convert("RGB"))
    face = image[40:340, 90:390]  # the face, not the uniform
    return _channels_from_rgb(_resize_square(face, size), channels)


def noise(size: int = 12, channels: int = 1, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """Standard-normal noise ``(channels, size, size)`` from an explicit generator or seed."""
    size = _checks.positive_int("size", size, 2)
    channels = _checks.positive_int("channels", channels)
    return np.random.default_rng(rng).standard_normal((channels, size, size))


def image_from_bytes(content: bytes, size: int = 12, channels: int = 1) -> np.ndarray:
    """Decode an uploaded image (PNG, JPEG, …) to ``(channels, size, size)``; ValueError if it is not one."""
    from PIL import Image, UnidentifiedImageError

    if len(content) > MAX_UPLOAD_BYTES:
        raise ValueError(f"image must be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, got {len(content) / 2**20:.1f} MB")
    size = _checks.positive_int("size", size, 2)
    channels = _checks.positive_int("channels", channels)
    try:
        with Image.open(io.BytesIO(bytes(content))) as image:
            # a small file can hold a huge picture (a "decompression bomb"): check before decoding
            width, height = image.size
            if width * height > MAX_UPLOAD_PIXELS:
                raise ValueError(f"image must have at most {MAX_UPLOAD_PIXELS // 10**6} million pixels, "
                                 f"got {width}x{height}")
            rgb = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValueError(f"image could not be read as a picture ({error})") from error
    return _channels_from_rgb(_resize_square(rgb, size), channels)


#: The input sources an explorer offers, in menu order.
SOURCES = ("digit", "photo", "random", "upload")


def from_source(source: str, size: int, channels: int = 1, *, digit_value: int = 7, seed: int = 0,
                uploads=()) -> np.ndarray:
    """The ``(channels, size, size)`` input an explorer's controls ask for.

    ``source`` is one of :data:`SOURCES`; ``uploads`` is an ipywidgets ``FileUpload`` value
    (the first file is used).
    """
    if source == "digit":
        return digit(digit_value, size, channels)
    if source == "photo":
        return photo(size, channels)
    if source == "random":
        return noise(size, channels, rng=seed)
    if source == "upload":
        if not uploads:
            raise ValueError("upload: choose an image file with the Upload button first")
        return image_from_bytes(uploads[0]["content"], size, channels)
    raise ValueError(f"input must be one of {', '.join(SOURCES)}, got {source!r}")
