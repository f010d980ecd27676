"""A class arriving at once: real Voilà with deploy/voila.json, real page loads, 5 of them in Chromium.

    .venv/bin/python bench/bench_load.py [--students 1 10 30] [--notebook convolution.ipynb]

For each class size N, twice (kernels started on demand, then a preheated pool of N kernels filled
before the class arrives), N students open the notebook at the same moment: N - 5 as plain HTTP page
loads (the page is sent once the notebook has run), up to 5 in headless Chromium (usable = the
explorer's player has drawn). The Chromium students' browsers run on the server's own 2 cores, which a
class's laptops would not: their column is the worst case. It prints p50 / p95 of the time to a usable page, the kernels' RSS, and
the server's CPU (Voilà and every kernel) while the Chromium students play the animation and while
they only step through it.

Then the control round trip: a changed kernel size going to the kernel and the new trace coming back
(``data-n-frames`` changes in the page), with jupyter_server's own websocket connection and with
layerviz's (TCP_NODELAY), 20 times each.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import statistics
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_layerviz_browser", REPO / "tests" / "browser" / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

PLAYER = ".layerviz-explorer .layerviz-player[data-ready]"
BROWSERS = 5
TICKS = 100  # /proc CPU times are in clock ticks (USER_HZ)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def http_load(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        response.read()
    return time.perf_counter() - t0


def wait_for_pool(server, size: int, timeout: float = 600) -> None:
    """Wait until ``size`` kernels run and are idle (their CPU stops moving): the pool is filled."""
    deadline = time.monotonic() + timeout
    while len(server.kernel_pids()) < size and time.monotonic() < deadline:
        time.sleep(0.5)
    before = sum(cpu_seconds(p) for p in server.kernel_pids())
    while time.monotonic() < deadline:
        time.sleep(2)
        now = sum(cpu_seconds(p) for p in server.kernel_pids())
        if now - before < 0.05:
            return
        before = now


def server_cpu(server) -> float:
    return cpu_seconds(server.process.pid) + sum(cpu_seconds(p) for p in server.kernel_pids())


def measure_class(browser, n: int, notebook: str, preheat: bool) -> dict:
    args = [f"--VoilaConfiguration.default_pool_size={n}",
            f"--VoilaKernelManager.kernel_pools_config={{'{notebook}': {{'pool_size': {n}}}}}",
            f"--VoilaKernelManager.preheat_denylist={[p.name for p in (REPO / 'notebooks').glob('*.ipynb') if p.name != notebook]}",
            ] if preheat else []
    server = helpers.VoilaServer(REPO / "notebooks", timeout=300, extra_args=args, preheat=preheat)
    try:
        if preheat:
            wait_for_pool(server, n)
        url = server.notebook_url(notebook)
        in_browser = min(BROWSERS, n)
        pages = [helpers.new_page(browser) for _ in range(in_browser)]
        browser_times: list[float] = []
        with concurrent.futures.ThreadPoolExecutor(max(1, n - in_browser)) as pool:
            start = time.perf_counter()
            loads = [pool.submit(http_load, url) for _ in range(n - in_browser)]
            for page in pages:  # Playwright's sync API runs on this thread: start every navigation, then wait
                page.goto(url, wait_until="commit", timeout=600_000)
            for page in pages:
                page.wait_for_selector(f"{PLAYER} canvas", state="attached", timeout=600_000)
                browser_times.append(time.perf_counter() - start)
            http_times = [future.result() for future in loads]
        times = browser_times + http_times
        kernels = server.kernel_pids()
        rss = [rss_mb(p) for p in kernels]
        pooled = server.log_path.read_text().count("Using pre-heated kernel")
        cpu = {}
        for mode in ("play", "step"):
            before, t0 = server_cpu(server), time.perf_counter()
            for page in pages:
                player = page.locator(PLAYER).first
                player.focus()
                if mode == "play":
                    page.keyboard.press(" ")
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                if mode == "step":
                    for page in pages:
                        page.keyboard.press("ArrowRight")
                time.sleep(0.1)
            if mode == "play":
                for page in pages:
                    page.keyboard.press(" ")
            cpu[mode] = (server_cpu(server) - before) / (time.perf_counter() - t0)
        for page in pages:
            page.context.close()
        return {"n": n, "preheat": preheat, "p50": percentile(times, 0.5), "p95": percentile(times, 0.95),
                "browser_p95": max(browser_times), "http_p95": percentile(http_times, 0.95) if http_times else float("nan"),
                "kernels": len(kernels), "rss_median": statistics.median(rss), "rss_max": max(rss),
                "cpu_play": cpu["play"], "cpu_step": cpu["step"], "in_browser": in_browser, "pooled": pooled}
    finally:
        server.stop()


def round_trips(browser, connection_class: str | None, repeats: int = 20) -> list[float]:
    args = [f"--Voila.kernel_websocket_connection_class={connection_class}"] if connection_class else []
    with helpers.VoilaServer(REPO / "notebooks", extra_args=args) as server:
        page = helpers.new_page(browser)
        helpers.open_voila(page, server.notebook_url("convolution.ipynb"), selector=f"{PLAYER} canvas")
        field = page.locator(".layerviz-explorer .widget-inline-hbox",
                             has=page.get_by_text("kernel size", exact=True)).locator("input").first
        times = []
        for i in range(repeats):
            size = "2" if i % 2 == 0 else "3"
            frames = "49" if size == "2" else "36"  # 8x8 input: 7x7 or 6x6 output cells
            field.fill(size)
            t0 = time.perf_counter()
            field.press("Enter")
            page.wait_for_function("([sel, n]) => document.querySelector(sel).dataset.nFrames === n",
                                   arg=[PLAYER, frames], timeout=30_000, polling="raf")
            times.append((time.perf_counter() - t0) * 1000)
        page.context.close()
        return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--notebook", default="convolution.ipynb")
    parser.add_argument("--skip-round-trip", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = helpers.launch_chromium(pw)
        print("| students | kernels | p50 usable | p95 usable | page sent (p95, HTTP) | drawn in Chromium (worst) | "
              "kernel RSS (median, max) | server CPU while playing | while stepping |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for preheat in (False, True):
            for n in args.students:
                r = measure_class(browser, n, args.notebook, preheat)
                mode = f"preheated ({r['pooled']} from the pool)" if preheat else "on demand"
                print(f"| {r['n']} ({r['in_browser']} in Chromium) | {mode} | "
                      f"{r['p50']:.2f} s | {r['p95']:.2f} s | {r['http_p95']:.2f} s | {r['browser_p95']:.2f} s | "
                      f"{r['rss_median']:.0f} MB, {r['rss_max']:.0f} MB | "
                      f"{100 * r['cpu_play']:.1f} % of a core | {100 * r['cpu_step']:.1f} % |", flush=True)
        if not args.skip_round_trip:
            plain = round_trips(browser, "jupyter_server.services.kernels.connection.channels."
                                         "ZMQChannelsWebsocketConnection")
            ours = round_trips(browser, None)
            print(f"\nControl round trip (kernel size changed -> new trace drawn), median of {len(plain)}: "
                  f"jupyter_server's connection {statistics.median(plain):.0f} ms, "
                  f"layerviz's (TCP_NODELAY) {statistics.median(ours):.0f} ms "
                  f"(ratio {statistics.median(plain) / statistics.median(ours):.2f})")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
