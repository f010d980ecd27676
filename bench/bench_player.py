"""Measure the browser player's frame rate in real Voilà + headless Chromium.

    .venv/bin/python bench/bench_player.py [--seconds 3] [--only small|big]

Serves notebooks (written to a temporary folder) that show a Player at fps=60 for:

- small: a 1x28x28 input (26x26 image padded by 1), a 3x3 kernel, a 26x26 output that fills
  up cell by cell (676 frames);
- big: a 3x34x34 padded input, 4x3x3x3 kernels (a page per output channel), a 4x32x32
  output with reveal (4096 frames).

For each it prints one line per measure: fps while playing at 60 fps, fps while stepping by
keyboard once per animation frame, the mean draw time in JS, and the kernel messages per frame:
websocket messages on the kernel's websocket, browser -> server (the player telling Python its
frame) and server -> browser (the kernel's replies: status busy / idle around each message it
handles), per frame drawn. The browser's requestAnimationFrame caps fps at the display rate
(60 Hz in headless Chromium).
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

SCENE_CODE = """
import numpy as np
import layerviz as lv

def conv_scene(cin, cout, size):
    x = np.random.default_rng(0).normal(size=(cin, size, size))
    return lv.Conv2d(cin, cout, 3, padding=1, rng=0).frames(x).scene()
"""

SCENES = {
    "small": ("conv_scene(1, 1, 26)", "Conv2d(1, 1, 3, padding=1) on 1x26x26: 676 frames"),
    "big": ("conv_scene(3, 4, 32)", "Conv2d(3, 4, 3, padding=1) on 3x32x32: 4096 frames"),
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
                    nbformat.v4.new_code_cell(f"from layerviz.player import Player\nplayer = Player({expr}, fps=60)\nplayer")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"bench_{name}.ipynb")


def watch_kernel_websocket(ws, sent: list, received: list) -> None:
    """Append the kernel websocket's messages (``/api/kernels/<id>/channels``) to ``sent`` and ``received``."""
    if "/channels" in ws.url:
        ws.on("framesent", lambda payload: sent.append(payload))
        ws.on("framereceived", lambda payload: received.append(payload))


def settle(page, sent: list, received: list, quiet_ms: int = 500, timeout_ms: int = 10_000) -> None:
    """Wait until the kernel websocket has been quiet for ``quiet_ms`` (late replies count for nothing)."""
    waited, counts = 0, None
    while waited < timeout_ms and counts != (len(sent), len(received)):
        counts = len(sent), len(received)
        page.wait_for_timeout(quiet_ms)
        waited += quiet_ms


def messages(sent: list, received: list, before: tuple[int, int], draws: int) -> str:
    """The kernel websocket's messages since ``before`` (counts of sent, received), per frame drawn."""
    up, down = len(sent) - before[0], len(received) - before[1]
    n = max(1, draws)
    return (f"kernel websocket messages for {draws} frames: {up} browser -> server ({up / n:.3f} per frame), "
            f"{down} server -> browser ({down / n:.3f} per frame), {(up + down) / n:.3f} per frame in all")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--only", choices=sorted(SCENES), action="append")
    parser.add_argument("--loads", type=int, default=3, help="page loads of the convolution notebook to time")
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
                sent: list = []  # on the kernel websocket, browser -> server
                received: list = []  # server -> browser
                page.on("websocket", lambda ws, sent=sent, received=received: watch_kernel_websocket(ws, sent, received))
                browser_helpers.open_voila(page, server.notebook_url(f"bench_{name}.ipynb"))
                root = page.locator(".layerviz-player")
                n = root.get_attribute("data-n-frames")
                label = f"{name} ({SCENES[name][1]})"
                page.wait_for_timeout(1500)  # let the background pre-rendering finish

                root.focus()
                page.evaluate("() => document.querySelector('.layerviz-player .lvp-play').click()")
                settle(page, sent, received)  # the press of Play and the kernel's replies
                before = len(sent), len(received)
                result = page.evaluate(MEASURE_JS, ["play", args.seconds])
                print(f"{label}: playing at fps=60: {result['fps']:.1f} fps drawn, "
                      f"{result['drawMs']:.2f} ms per draw (JS), worst frame gap {result['worstMs']:.0f} ms, "
                      f"{messages(sent, received, before, result['draws'])}", flush=True)
                page.evaluate("() => document.querySelector('.layerviz-player .lvp-play').click()")
                settle(page, sent, received)

                before = len(sent), len(received)
                result = page.evaluate(MEASURE_JS, ["step", args.seconds])
                settle(page, sent, received)  # the trailing sync and its replies
                print(f"{label}: stepping by keyboard (ArrowRight each animation frame): {result['fps']:.1f} fps "
                      f"drawn, {result['frames']} frames stepped, {result['drawMs']:.2f} ms per draw (JS), "
                      f"worst frame gap {result['worstMs']:.0f} ms, "
                      f"{messages(sent, received, before, result['draws'])}", flush=True)
                print(f"{label}: n_frames={n}, page errors: {len(errors)}" + (f" {errors[:3]}" if errors else ""),
                      flush=True)
                page.screenshot(path=str(Path(tempfile.gettempdir()) / f"bench_player_{name}.png"), full_page=True)
                page.context.close()
            measure_page_load(browser, args.loads)
            browser.close()
        server.stop()
    return 0


def measure_page_load(browser, loads: int) -> None:
    """Seconds from navigation to the convolution explorer's player drawn: cold kernels, then a preheated pool."""
    import time

    for label, preheat, wait in (("new kernel per load", False, 0.0),
                                 ("preheated pool of 1 (as dev.py serve)", True, 8.0)):
        with browser_helpers.VoilaServer(REPO / "notebooks", extra_args=("--pool_size=1",), preheat=preheat) as server:
            times = []
            for _ in range(loads):
                time.sleep(wait)  # let the pool refill
                page = browser_helpers.new_page(browser)
                start = time.perf_counter()
                page.goto(server.notebook_url("convolution.ipynb"), wait_until="commit")
                page.wait_for_selector(".layerviz-explorer .layerviz-player[data-ready] canvas", timeout=120_000)
                times.append(time.perf_counter() - start)
                page.context.close()
        times.sort()
        print(f"convolution.ipynb usable after navigation, {label}: median {times[len(times) // 2]:.2f} s "
              f"of {loads} loads (min {times[0]:.2f} s, max {times[-1]:.2f} s)", flush=True)

if __name__ == "__main__":
    sys.exit(main())
