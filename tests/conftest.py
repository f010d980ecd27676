"""Fixtures every test folder shares."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import find_chromium, launch_chromium


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
