"""A class's browsers against the served course: kernels go away with their tabs, faults are survivable."""

from __future__ import annotations

import time

from tests.browser.conftest import REPO, VoilaServer, new_page, open_voila
from tests.browser.explorer_page import EXPLORER_PLAYER


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
        assert "_xsrf' argument missing" not in server.log()
