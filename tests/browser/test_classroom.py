"""A class's browsers against the served course: kernels go away with their tabs, faults are survivable."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.browser.conftest import REPO, VoilaServer, new_page, open_voila
from tests.browser.explorer_page import EXPLORER_PLAYER, control_value


#: They wait for kernels to go within seconds: run alone, after the rest (``python3 dev.py test``).
pytestmark = pytest.mark.solo


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return condition()


def test_closing_or_leaving_a_page_shuts_its_kernel_down(browser):
    with VoilaServer(REPO / "notebooks") as server:
        pages = [new_page(browser) for _ in range(3)]
        for page, name in zip(pages, ("dropout.ipynb", "pooling.ipynb", "index.ipynb")):
            open_voila(page, server.notebook_url(name),
                       selector=".layerviz-cards" if name == "index.ipynb" else f"{EXPLORER_PLAYER} canvas")
        assert len(server.kernel_pids()) == 3
        pages[0].goto(server.notebook_url("index.ipynb"))  # navigating away: its kernel goes, the new page's comes
        pages[0].wait_for_selector(".layerviz-cards", state="attached", timeout=120_000)
        assert wait_for(lambda: len(server.kernel_pids()) == 3)
        for page in pages:
            page.close(run_before_unload=True)  # as a student closes the tab: the browser sends the beacon
        assert wait_for(lambda: server.kernel_pids() == []), server.log()
        for page in pages:
            page.context.close()
        log = server.log_path.read_text()
        assert "_xsrf' argument missing" not in log
        assert "Uncaught exception" not in log and "500 POST" not in log  # each page asks twice, quietly


def test_a_dead_kernel_is_announced_and_a_reload_recovers(browser):
    with VoilaServer(REPO / "notebooks") as server:
        page = new_page(browser)
        open_voila(page, server.notebook_url("dropout.ipynb"), selector=f"{EXPLORER_PLAYER} canvas")
        assert page.locator(".layerviz-lost").count() == 0
        os.kill(server.kernel_pids()[0], signal.SIGKILL)  # mid-lesson: the kernel dies
        banner = page.locator(".layerviz-lost[role=alert]")
        banner.wait_for(timeout=30_000)
        assert "Reload the page" in banner.inner_text()
        banner.get_by_role("button", name="Reload").click()
        page.wait_for_selector(f"{EXPLORER_PLAYER} canvas", state="attached", timeout=120_000)
        assert page.locator(".layerviz-lost").count() == 0
        page.get_by_role("button", name="resample mask").click()  # the new kernel answers a control
        deadline = time.monotonic() + 20
        while control_value(page, "seed") != "1" and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert control_value(page, "seed") == "1"
        page.context.close()


def test_a_restarted_server_is_announced_and_a_reload_recovers(browser):
    server = VoilaServer(REPO / "notebooks")
    try:
        pages = [new_page(browser) for _ in range(3)]  # a few students are on the page when it restarts
        for page in pages:
            open_voila(page, server.notebook_url("dropout.ipynb"), selector=f"{EXPLORER_PLAYER} canvas")
        port = server.port
        server.stop()
        server = VoilaServer(REPO / "notebooks", port=port)
        for page in pages:
            page.locator(".layerviz-lost[role=alert]").wait_for(timeout=60_000)
        pages[0].locator(".layerviz-lost").get_by_role("button", name="Reload").click()
        pages[0].wait_for_selector(f"{EXPLORER_PLAYER} canvas", state="attached", timeout=120_000)
        assert pages[0].locator(".layerviz-lost").count() == 0
        for page in pages:
            page.context.close()
    finally:
        server.stop()


def test_a_tab_closed_as_soon_as_its_page_arrived_shuts_its_kernel_down(browser):
    """Closed before the widgets are drawn: Voilà's own shutdown request is not registered yet then
    (its widget manager registers it once it has started), the template's pagehide request is."""
    with VoilaServer(REPO / "notebooks") as server:
        for _ in range(3):
            page = new_page(browser)
            page.goto(server.notebook_url("index.ipynb"), wait_until="domcontentloaded", timeout=120_000)
            assert len(server.kernel_pids()) == 1
            page.close(run_before_unload=True)
            assert wait_for(lambda: server.kernel_pids() == []), server.log()
            page.context.close()
