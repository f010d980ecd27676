"""A class using the served course: real Voilà with deploy/voila.json, real page loads, some in Chromium.

    .venv/bin/python bench/bench_load.py [--configs shipped "refill after 60 s" "on demand"]
                                         [--scenarios ...] [--students 30] [--notebook convolution.ipynb]

What a class really does, each on a fresh server of each configuration (``shipped`` is
deploy/voila.json as ``python3 dev.py serve`` runs it; the others change one setting of it):

- **reloads**: one student opens the page, then reloads it 3 s later, four times (the old tab's
  kernel is shut down as the browser's beacon does);
- **back to the course**: one student goes index → topic → index → next topic …, 3 s on each page;
- **second student**: two students open the same page 3 s apart, then a third;
- **arriving over a minute**: N students, one every 60/N s;
- **all at once**: N students at the same moment, 5 of them in headless Chromium.

A student without a browser is usable when the page has arrived over HTTP (sent once the notebook has
run) and then every widget's state over the kernel websocket, as the page's widget manager asks before
it draws. A student in Chromium is usable when the explorer's player has drawn. Their browsers run on
the server's own 2 cores, at nice 10, so that they take the CPU the server leaves (in a class they run
on the students' laptops): their column is a worst case.

For *all at once* it also prints the kernels' RSS and the server's CPU (Voilà and every kernel) while
the Chromium students play the animation and while they only step through it.

Then the control round trip: a changed kernel size going to the kernel and the new trace coming back
(``data-n-frames`` changes in the page), with jupyter_server's own websocket connection and with
layerviz's (TCP_NODELAY), 20 times each.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import importlib.util
import os
import statistics
import sys
import re
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_layerviz_browser", REPO / "tests" / "browser" / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)
sys.path.insert(0, str(REPO))
from tests.server import kernel_ws  # noqa: E402

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


def uss_mb(pid: int) -> float:
    """Memory only this process holds (private pages): what one more kernel costs the server; RSS also
    counts the shared libraries every kernel maps once between them."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    return sum(int(fields[name].split()[0]) for name in ("Private_Clean", "Private_Dirty")) / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def http_load(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        response.read()
    return time.perf_counter() - t0


XSRF = uuid.uuid4().hex  # the double-submit token the course's template sets as a cookie in a browser


def close_tab(server, page: str) -> None:
    """What a browser does when the tab closes or navigates away: the beacon that shuts its kernel down."""
    kernel = re.search(r'kernelId": "([0-9a-f-]+)"', page).group(1)
    request = urllib.request.Request(f"{server.url}/voila/api/shutdown/{kernel}", method="POST",
                                     data=urllib.parse.urlencode({"_xsrf": XSRF}).encode(),
                                     headers={"Cookie": f"_xsrf={XSRF}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


async def _widget_states(channels_url: str, timeout: float) -> int:
    """Ask the kernel for every widget's state as the page's widget manager does; return how many."""
    connection = await kernel_ws.connect(channels_url)
    try:
        comm_id = uuid.uuid4().hex
        await connection.write_message(kernel_ws.message("comm_open", {
            "comm_id": comm_id, "target_name": "jupyter.widget.control", "data": {}},
            metadata={"version": "1.0.0"}), binary=True)  # the widget control protocol's version
        await connection.write_message(kernel_ws.message("comm_msg", {
            "comm_id": comm_id, "data": {"method": "request_states"}}), binary=True)
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(connection.read_message(), deadline - time.monotonic())
            if raw is None:
                raise ConnectionError("the server closed the kernel websocket")
            msg = kernel_ws.parse(raw)
            data = msg["content"].get("data", {})
            if msg["header"]["msg_type"] == "comm_msg" and data.get("method") == "update_states":
                return len(data["states"])
    finally:
        connection.close()


def student_load(server, url: str) -> tuple[float, str]:
    """A student without a browser: the page, then every widget's state from the kernel over its websocket
    (what the page's widget manager asks before it draws). Seconds until both arrived, and the page."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        page = response.read().decode()
    channels = kernel_ws.channels_url(f"ws://127.0.0.1:{server.port}", page)
    if asyncio.run(_widget_states(channels, timeout=600)) == 0:
        raise RuntimeError("the kernel sent no widget states")
    return time.perf_counter() - t0, page


def wait_for_pool(server, size: int, timeout: float = 600) -> None:
    """Wait until ``size`` preheated kernels have started and run their notebooks (Voilà says a pool is
    filled once its kernel started; the notebook runs after that: wait until the kernels' CPU stops moving)."""
    deadline = time.monotonic() + timeout
    while server.log_path.read_text().count("is filled with") < size and time.monotonic() < deadline:
        time.sleep(0.5)
    before, quiet = sum(cpu_seconds(p) for p in server.kernel_pids()), 0
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(2)
        now = sum(cpu_seconds(p) for p in server.kernel_pids())
        quiet = quiet + 1 if now - before < 0.05 else 0
        before = now


def yield_cpu_to_the_server(niceness: int = 10) -> None:
    """Run this script's browsers at a lower priority: in a class they run on the students' laptops,
    not on the server, so they should take only the CPU the server leaves."""
    for pid in helpers.children(os.getpid(), b"chrom", recursive=True):
        os.setpriority(os.PRIO_PROCESS, pid, niceness)


def server_cpu(server) -> float:
    return cpu_seconds(server.process.pid) + sum(cpu_seconds(p) for p in server.kernel_pids())


#: Server configurations: deploy/voila.json as shipped (preheat, pool) and one setting changed.
CONFIGS = {
    "shipped": (True, []),
    "refill after 60 s": (True, ["--VoilaKernelManager.fill_delay=60"]),
    "on demand": (False, []),
}
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))


def start_server(config: str):
    preheat, args = CONFIGS[config]
    server = helpers.VoilaServer(REPO / "notebooks", timeout=300, extra_args=args, preheat=preheat)
    if preheat:
        wait_for_pool(server, len(NOTEBOOKS))  # the instructor started it before the lesson
    return server


def in_thread(function, *args):
    """``function(*args)`` on a thread of its own (this one runs Playwright's event loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def visits(server, urls: list[str], pause: float) -> list[float]:
    """One student opening ``urls`` one after the other, ``pause`` s on each, closing each tab as it leaves."""
    times = []
    for url in urls:
        seconds, page = in_thread(student_load, server, url)
        times.append(seconds)
        time.sleep(pause)
        close_tab(server, page)
    return times


def arrivals(server, url: str, n: int, spread: float) -> list[float]:
    """``n`` students opening ``url``, one every ``spread / n`` s (all at once for 0)."""
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        futures = []
        for i in range(n):
            futures.append(pool.submit(student_load, server, url))
            if spread:
                time.sleep(spread / n)
        return [future.result()[0] for future in futures]


def all_at_once(browser, server, n: int, url: str) -> dict:
    """``n`` students at the same moment, up to 5 in Chromium; then CPU while those play and step."""
    in_browser = min(BROWSERS, n)
    pages = [helpers.new_page(browser) for _ in range(in_browser)]
    browser_times: list[float] = []
    with concurrent.futures.ThreadPoolExecutor(max(1, n - in_browser)) as pool:
        start = time.perf_counter()
        loads = [pool.submit(student_load, server, url) for _ in range(n - in_browser)]
        for page in pages:  # Playwright's sync API runs on this thread: start every navigation, then wait
            page.goto(url, wait_until="commit", timeout=600_000)
        for page in pages:
            page.wait_for_selector(f"{PLAYER} canvas", state="attached", timeout=600_000)
            browser_times.append(time.perf_counter() - start)
        student_times = [future.result()[0] for future in loads]
    rss = [rss_mb(p) for p in server.kernel_pids()]
    cpu = {}
    for mode in ("play", "step"):
        before, t0 = server_cpu(server), time.perf_counter()
        for page in pages:
            page.locator(PLAYER).first.focus()
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
    return {"times": browser_times + student_times, "browser": max(browser_times),
            "student_p95": percentile(student_times, 0.95) if student_times else float("nan"),
            "rss": statistics.median(rss), "cpu_play": cpu["play"], "cpu_step": cpu["step"]}


def scenario(name: str, browser, server, n: int, notebook: str) -> dict:
    url = server.notebook_url(notebook)
    if name == "reloads":
        return {"times": visits(server, [url] * 5, pause=3)}
    if name == "back to the course":
        topics = [nb for nb in NOTEBOOKS if nb != "index.ipynb"][:3]
        route = [server.notebook_url(nb) for topic in topics for nb in ("index.ipynb", topic)]
        return {"times": visits(server, route + [server.notebook_url("index.ipynb")], pause=3)}
    if name == "second student":  # three students on one page, 3 s apart, each keeping the tab open
        times = []
        for _ in range(3):
            times.append(in_thread(student_load, server, url)[0])
            time.sleep(3)
        return {"times": times}
    if name == "arriving over a minute":
        return {"times": arrivals(server, url, n, spread=60)}
    if name == "all at once":
        return all_at_once(browser, server, n, url)
    raise ValueError(f"unknown scenario {name!r}")


SCENARIOS = ["reloads", "back to the course", "second student", "arriving over a minute", "all at once"]


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
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--scenarios", nargs="+", default=SCENARIOS, choices=SCENARIOS)
    parser.add_argument("--students", type=int, default=30, help="class size for the last two scenarios")
    parser.add_argument("--notebook", default="convolution.ipynb")
    parser.add_argument("--skip-round-trip", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = helpers.launch_chromium(pw)
        yield_cpu_to_the_server()  # new renderer processes inherit it from the browser's
        print(f"{args.notebook}, time to a usable page (s); a class is {args.students} students\n")
        print("| what the class does | configuration | each visit | p50 | p95 | worst |")
        print("|---|---|---|---:|---:|---:|")
        details = []
        for name in args.scenarios:
            for config in args.configs:
                server = start_server(config)
                try:
                    r = scenario(name, browser, server, args.students, args.notebook)
                finally:
                    server.stop()
                times = r["times"]
                each = ", ".join(f"{t:.1f}" for t in times) if len(times) <= 7 else f"{len(times)} students"
                print(f"| {name} | {config} | {each} | {percentile(times, 0.5):.2f} | {percentile(times, 0.95):.2f} | "
                      f"{max(times):.2f} |", flush=True)
                if "browser" in r:
                    details.append((config, r))
        if details:
            print("\nAll at once: | configuration | page and widgets (p95) | drawn in Chromium (worst) | kernel RSS "
                  "(median) | server CPU while 5 play | while 5 step |")
            for config, r in details:
                print(f"| {config} | {r['student_p95']:.2f} s | {r['browser']:.2f} s | {r['rss']:.0f} MB | "
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
