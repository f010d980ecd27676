"""Fixtures every test folder shares."""

from __future__ import annotations

import os
import tempfile

import pytest

from tests.browser.conftest import find_chromium, launch_chromium

# The pages' static figures are kept in a folder of this test process's own (its kernels and Voilà servers inherit
# it), so that every run draws them again rather than showing what an earlier run (or the user's app) stored.
os.environ["LAYERVIZ_FIGURES"] = tempfile.mkdtemp(prefix="layerviz-test-figures-")


def pytest_configure(config):
    """nbval's kernels start again if one dies at start-up.

    jupyter_client gives a kernel five TCP ports it found free a moment before the kernel binds them; with two
    workers starting kernels (nbval's and the Voilà servers'), another process can take one in between, and the
    kernel dies before it answers (seen once in ~40 notebooks). The Voilà servers of the tests retry for the
    same reason (``VoilaServer``)."""
    try:
        import nbval.kernel
    except ImportError:
        return
    start = nbval.kernel.start_new_kernel
    if getattr(start, "retries", False):
        return

    def start_new_kernel(*args, **kwargs):
        for attempt in range(3):
            try:
                return start(*args, **kwargs)
            except RuntimeError:
                if attempt == 2:
                    raise

    start_new_kernel.retries = True
    nbval.kernel.start_new_kernel = start_new_kernel


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
