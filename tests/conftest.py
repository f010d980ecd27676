"""Fixtures every test folder shares."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import find_chromium, launch_chromium

#: Folders whose tests serve pages (Voilà, JupyterHub, nginx, Chromium): one worker runs them, one after another.
SERVED = ("tests/browser", "tests/server")


def pytest_xdist_make_scheduler(config, log):
    """How ``python3 dev.py test``'s two pytest-xdist workers share the suite.

    The tests that serve pages run on one worker, in order, so that no two servers or browsers compete
    for the machine and their timings stay meaningful; every other file runs whole on one worker (a
    notebook's cells share its kernel, a module's fixtures are built once). The engine's tests, the
    notebooks and the widget tests fill the other worker meanwhile. (xdist's ``loadgroup`` marks cannot
    do it with pytest 9, which no longer reads the node ids xdist rewrites: scopes are chosen here.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class ServedTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "served" if path.startswith(SERVED) else path

    return ServedTogether(config, log)


@pytest.fixture(scope="session")
def browser():
    required = os.environ.get("LAYERVIZ_REQUIRE_BROWSER") == "1"
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        missing = f"playwright is not installed ({exc})"
    if missing is None and find_chromium() is None:
        missing = "no Chromium found (set LAYERVIZ_CHROMIUM or install chromium)"
    if missing:
        if required:
            pytest.fail(f"LAYERVIZ_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    # One Playwright for the whole session: its sync API cannot run twice at once in one thread.
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        yield browser
        browser.close()
