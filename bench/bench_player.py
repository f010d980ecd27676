"""Measure the browser player's frame rate in real Voilà + headless Chromium.

    .venv/bin/python bench/bench_player.py [--seconds 3] [--only small|big]

Serves notebooks (written to a temporary folder) that show a Player at fps=60 for:

- small: a 1x28x28 input (26x26 image padded by 1), a 3x3 kernel, a 26x26 output that fills
  up cell by cell (676 frames);
- big: a 3x34x34 padded input, 4x3x3x3 kernels (a page per output channel), a 4x32x32
  output with reveal (4096 frames).

For each it prints one line per measure: fps while playing at 60 fps, fps while stepping by
keyboard once per animation frame, the mean draw time in JS, and the kernel messages per frame
(websocket frames sent by the page / frames drawn). The browser's requestAnimationFrame
caps fps at the display rate (60 Hz in headless Chromium).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_layerviz_browser", REPO / "tests" / "browser" / "conftest.py")
browser_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser_helpers)

SCENE_CODE = '''
import numpy as np
from layerviz.scene import Grid, Highlight, Scene
from layerviz.player import Player

def conv_scene(cin, cout, size, k=3, pad=1, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((cin, size + 2 * pad, size + 2 * pad), np.float32)
    x[:, pad:pad + size, pad:pad + size] = rng.normal(size=(cin, size, size))
    padding = np.ones(x.shape, bool)
    padding[:, pad:pad + size, pad:pad + size] = False
    w = rng.normal(size=(cout, cin, k, k)).astype(np.float32) / k
    oh = x.shape[1] - k + 1
    ow = x.shape[2] - k + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # cin, oh, ow, k, k
    y = np.einsum("chwij,ocij->ohw", win, w).astype(np.float32)
    n = cout * oh * ow
    o, r, c = np.unravel_index(np.arange(n), (cout, oh, ow))
    zeros = np.zeros(n, np.int32)
    grid = np.mgrid[0:cin, 0:k, 0:k].reshape(3, -1).T.astype(np.int32)
    captions = [f"out[{o[i]},{r[i]},{c[i]}] = sum(x[:, {r[i]}:{r[i] + k}, {c[i]}:{c[i] + k}] * w[{o[i]}]) "
                f"= {y[o[i], r[i], c[i]]:.2f}" for i in range(n)]
    return Scene(
        title=f"Conv2d({cin}, {cout}, kernel_size={k}, padding={pad}) on {cin}x{size}x{size}",
        n_frames=n,
        panels=(
            Grid("x", "input (padded)", x, tuple(f"channel {i}" for i in range(cin)), padding=padding),
            Grid("w", "kernel", w.reshape(cout * cin, k, k),
                 tuple(f"w[{a},{b}]" for a in range(cout) for b in range(cin)),
                 page_size=cin, page=o.astype(np.int32), op="∗"),
            Grid("y", "output", y, tuple(f"channel {i}" for i in range(cout)),
                 reveal=np.arange(n, dtype=np.int32).reshape(y.shape), op="="),
        ),
        highlights=(
            Highlight("x", np.stack([zeros, r, c], 1).astype(np.int32), grid, "window"),
            Highlight("w", np.stack([o * cin, zeros, zeros], 1).astype(np.int32), grid, "kernel"),
            Highlight("y", np.stack([o, r, c], 1).astype(np.int32), np.zeros((1, 3), np.int32), "output"),
        ),
        captions=captions,
        vmax=float(np.abs(y).max()),
    )
'''

SCENES = {
    "small": ("conv_scene(1, 1, 26)", "1x28x28 (padded) * 3x3 -> 26x26, 676 frames"),
    "big": ("conv_scene(3, 4, 32)", "3x34x34 (padded) * 4x3x3x3 -> 4x32x32, 4096 frames"),
}

MEASURE_JS = """
async ([mode, seconds]) => {
  const root = document.querySelector('.layerviz-player');
  const stats = root.__layerviz;
  const key = (k) => root.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
  const raf = () => new Promise(requestAnimationFrame);
  if (mode === 'step') { key('Home'); await raf(); await raf(); }
  const d0 = stats.draws, ms0 = stats.drawMs, f0 = Number(root.dataset.frame);
  const t0 = performance.now();
  let last = t0, worst = 0;
  while (performance.now() - t0 < seconds * 1000) {
    if (mode === 'step') key('ArrowRight');
    await raf();
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }
  const dt = (performance.now() - t0) / 1000;
  const draws = stats.draws - d0;
  return {fps: draws / dt, draws, seconds: dt, drawMs: (stats.drawMs - ms0) / Math.max(1, draws),
          worstMs: worst, frames: Number(root.dataset.frame) - f0};
}
"""


def write_notebooks(folder: Path, names) -> None:
    for name in names:
        expr, _ = SCENES[name]
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(SCENE_CODE)),
                    nbformat.v4.new_code_cell(f"player = Player({expr}, fps=60)\nplayer")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"bench_{name}.ipynb")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--only", choices=sorted(SCENES), action="append")
    args = parser.parse_args()
    names = args.only or list(SCENES)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        write_notebooks(Path(tmp), names)
        server = browser_helpers.VoilaServer(tmp)
        with sync_playwright() as pw:
            browser = browser_helpers.launch_chromium(pw)
            for name in names:
                page = browser_helpers.new_page(browser)
                errors = browser_helpers.collect_console_errors(page)
                sent: list = []
                page.on("websocket", lambda ws, sent=sent: ws.on("framesent", lambda payload: sent.append(payload)))
                browser_helpers.open_voila(page, server.notebook_url(f"bench_{name}.ipynb"))
                root = page.locator(".layerviz-player")
                n = root.get_attribute("data-n-frames")
                label = f"{name} ({SCENES[name][1]})"
                page.wait_for_timeout(1500)  # let the background pre-rendering finish

                root.focus()
                page.evaluate("() => document.querySelector('.layerviz-player .lvp-play').click()")
                page.wait_for_timeout(300)
                before = len(sent)
                result = page.evaluate(MEASURE_JS, ["play", args.seconds])
                msgs = len(sent) - before
                print(f"{label}: playing at fps=60: {result['fps']:.1f} fps drawn, "
                      f"{result['drawMs']:.2f} ms per draw (JS), worst frame gap {result['worstMs']:.0f} ms, "
                      f"{msgs} kernel messages for {result['draws']} frames "
                      f"({msgs / max(1, result['draws']):.3f} per frame)", flush=True)
                page.evaluate("() => document.querySelector('.layerviz-player .lvp-play').click()")
                page.wait_for_timeout(300)

                before = len(sent)
                result = page.evaluate(MEASURE_JS, ["step", args.seconds])
                page.wait_for_timeout(400)  # the trailing sync
                msgs = len(sent) - before
                print(f"{label}: stepping by keyboard (ArrowRight each animation frame): {result['fps']:.1f} fps "
                      f"drawn, {result['frames']} frames stepped, {result['drawMs']:.2f} ms per draw (JS), "
                      f"worst frame gap {result['worstMs']:.0f} ms, {msgs} kernel messages "
                      f"({msgs / max(1, result['draws']):.3f} per frame)", flush=True)
                print(f"{label}: n_frames={n}, page errors: {len(errors)}" + (f" {errors[:3]}" if errors else ""),
                      flush=True)
                page.screenshot(path=str(Path(tempfile.gettempdir()) / f"bench_player_{name}.png"), full_page=True)
                page.context.close()
            browser.close()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
