"""Fixtures for browser tests: real Voilà, driven by headless Chromium through Playwright.

Fixtures
--------
voila_notebook_dir  session: the directory ``voila_server`` serves (this folder; override it
                    with a session-scoped fixture of the same name to serve another one).
voila_server        session: base URL (``http://127.0.0.1:PORT``) of Voilà serving that directory.
voila_factory       session: ``voila_factory(directory) -> base URL``; one server per directory,
                    all stopped at the end of the session (e.g. ``voila_factory(NOTEBOOKS)``).
browser             session: a Playwright Chromium (skips if none; fails if LAYERVIZ_REQUIRE_BROWSER=1);
                    defined in tests/conftest.py, so that the whole session shares one.
page                a fresh 1280x720 page; requests to other hosts than the local server are
                    answered with an empty 200 and listed in ``page.external_requests``.
console_errors      ``console_errors(page) -> list`` collecting console errors and page errors.
open_voila          ``open_voila(page, url, selector=".layerviz-player[data-ready] canvas")``:
                    load a Voilà page and wait until the kernel ran and the widgets rendered.
notebook_page       the course page a test module names in ``NOTEBOOK = "pooling.ipynb"``, opened with
                    its explorer's player drawn; ``page.errors`` collects console errors.

Helpers of the same names at module level (``start_voila``, ``launch_chromium``, ...) are
used by ``bench/bench_player.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEPLOY = REPO / "deploy"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PLAYER_SELECTOR = ".layerviz-player[data-ready] canvas"
LOCAL = re.compile(r"^https?://(127\.0\.0\.1|localhost)(:\d+)?/")
#: Console noise that is not ours: Voilà's template links Font Awesome from a CDN (answered
#: empty here), and JupyterLab's federated modules warn about version mismatches.
IGNORED_CONSOLE = (re.compile(r"Failed to load resource.*(ERR_NAME_NOT_RESOLVED|ERR_INTERNET)"),)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives real Voilà in headless Chromium")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


# ---------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chromium() -> str | None:
    path = os.environ.get("LAYERVIZ_CHROMIUM")
    if path:
        return path if Path(path).exists() else shutil.which(path)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_chromium(playwright):
    """Launch headless Chromium (the system one: Playwright cannot download browsers here)."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium: set LAYERVIZ_CHROMIUM or install Debian's chromium")
    return playwright.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)


#: What a course kernel's command line holds (``python -m layerviz.kernel -f ...``, deploy/share/jupyter/kernels).
KERNEL_COMMAND = b"layerviz.kernel"


def children(pid: int, command: bytes = b"", recursive: bool = False) -> list[int]:
    """The processes ``pid`` started (all below it if ``recursive``) whose command line holds ``command``."""
    found = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # the process has ended
        return found
    for task in tasks:
        try:  # a thread can end between listing and reading
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, kids):
            with contextlib.suppress(OSError):
                if command in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
                if recursive:
                    found += children(child, command, recursive)
    return found


class PortTaken(OSError):
    """Another process took the port chosen for Voilà before Voilà could bind it."""


class VoilaServer:
    """Voilà serving ``directory`` on a free local port; ``url`` is its base URL."""

    def __init__(self, directory, port: int | None = None, timeout: float = 90.0, extra_args=(), preheat: bool = False):
        self.directory = Path(directory).resolve()
        self.extra_args, self.preheat = list(extra_args), preheat
        self.log_path = Path(tempfile.mkstemp(prefix="voila-", suffix=".log")[1])
        # A free port can be taken between choosing it and Voilà binding it (every kernel opens five
        # ports of its own): Voilà is told not to move to another port, and a new port is tried instead.
        for attempt in range(5):
            self._start(port or free_port())
            try:
                self._wait(timeout)
                return
            except PortTaken:
                if port is not None or attempt == 4:
                    raise

    def _start(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        # The kernel must import this checkout of layerviz even if it is not installed.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        # Voilà finds the course's template (deploy/share/jupyter/voila/templates/layerviz) on the Jupyter path.
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(DEPLOY / "share" / "jupyter"), env.get("JUPYTER_PATH", "")) if p)
        # The configuration the README's run command uses (deploy/voila.json), by default without the
        # preheated pool: a test server starts one kernel per page it opens, not one per notebook up front.
        command = [
            sys.executable, "-m", "voila", "--no-browser", f"--port={self.port}", "--Voila.port_retries=0",
            f"--Voila.config_file_paths={DEPLOY}", f"--preheat_kernel={self.preheat}", *self.extra_args,
            str(self.directory),
        ]
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=str(self.directory)
        )

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log.close()
                if "is already in use" in self.log():
                    raise PortTaken(self.port)
                raise RuntimeError(f"Voilà exited with {self.process.returncode}:\n{self.log()}")
            if "Voilà is running at" not in self.log_path.read_text(errors="replace"):
                time.sleep(0.2)  # not listening yet: whatever answers on the port is not Voilà
                continue
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as r:
                    if r.status < 500:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Voilà did not answer within {timeout} s:\n{self.log()}")

    def kernel_pids(self) -> list[int]:
        """Process ids of the kernels this server runs (its children running the course's kernel)."""
        return children(self.process.pid, KERNEL_COMMAND)

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/voila/render/{name}"

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text()[-4000:]
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def new_page(browser, width: int = 1280, height: int = 720):
    """A page whose requests to other hosts get an empty answer (nothing leaves the machine)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.external_requests = []

    def offline(route):
        page.external_requests.append(route.request.url)
        route.fulfill(status=200, body="", content_type="text/css")

    context.route(re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/])https?://"), offline)
    return page


def collect_console_errors(page) -> list[str]:
    """Start collecting the page's console errors and uncaught exceptions into a list."""
    errors: list[str] = []

    def on_console(msg):
        if msg.type == "error" and not any(p.search(msg.text) for p in IGNORED_CONSOLE):
            errors.append(f"console: {msg.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    return errors


def open_voila(page, url: str, selector: str = PLAYER_SELECTOR, timeout: float = 120.0):
    """Open a Voilà page and wait until its kernel ran and ``selector`` rendered; returns its locator."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    page.wait_for_selector(selector, state="attached", timeout=timeout * 1000)
    return page.locator(selector).first


# --------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def voila_notebook_dir() -> Path:
    return HERE


@pytest.fixture(scope="session")
def voila_factory():
    servers: dict[Path, VoilaServer] = {}

    def start(directory) -> str:
        key = Path(directory).resolve()
        if key not in servers:
            servers[key] = VoilaServer(key)
        return servers[key].url

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def voila_server(voila_factory, voila_notebook_dir) -> str:
    return voila_factory(voila_notebook_dir)


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def console_errors():
    return collect_console_errors


@pytest.fixture(name="open_voila")
def _open_voila_fixture():
    return open_voila


@pytest.fixture
def notebook_page(request, page, voila_factory, console_errors):
    """The course page that the test module names in ``NOTEBOOK`` (``"pooling.ipynb"``), opened in Voilà as a
    student opens it, once its explorer's player is drawn; ``page.errors`` collects the console's errors."""
    from tests.browser.explorer_page import open_notebook  # explorer_page imports this module

    return open_notebook(page, voila_factory, open_voila, console_errors, request.module.NOTEBOOK)
