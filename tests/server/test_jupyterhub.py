"""The course behind JupyterHub, as docs/deploy.md sets it up: deploy/jupyterhub_config.py, for real.

A hub on free loopback ports with configurable-http-proxy (npm), ``DummyAuthenticator`` and
``SimpleLocalProcessSpawner`` (command-line flags over the config file); everything else (the
single-user command ``jupyter standaloneproxy -- python -m voila ...``, the Jupyter path, the idle
culler service) comes from the config file. A student logs in through the hub's form, the hub starts
their server, and the Voilà page, its kernel websocket and the explorer in Chromium are reached
through the hub's proxy; a stranger is sent to the login page. A second hub, with a 10 s culler
timeout, stops an idle student's server and spares one who keeps sending widget messages.

Skipped when configurable-http-proxy is missing (neither on PATH nor in .ci/node), unless
LAYERVIZ_REQUIRE_HUB=1 (as in CI), which makes it a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.browser.conftest import (PLAYER_SELECTOR, REPO, free_port, new_page, open_voila)
from tests.server.kernel_ws import channels_url, connect, exchange, message, receive_until

CONFIG = REPO / "deploy" / "jupyterhub_config.py"
PASSWORD = "class-of-2026"
STUDENT = "alice"
PAGE = f"/user/{STUDENT}/voila/render/dropout.ipynb"


def find_proxy() -> str | None:
    """configurable-http-proxy on PATH, else the one ``.ci/run`` installs under ``.ci/node``."""
    local = REPO / ".ci" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
    return shutil.which("configurable-http-proxy") or (str(local) if local.exists() else None)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children first read from /proc (the hub's proxy, servers, kernels)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                for child in (task / "children").read_text().split():
                    found.append(int(child))
                    queue.append(int(child))
    return found


class Hub:
    """JupyterHub with deploy/jupyterhub_config.py on free loopback ports, in ``workdir``.

    Parameters
    ----------
    workdir
        Where the hub keeps its database, cookie secret and log, and the students' home directories.
    proxy
        Path of the ``configurable-http-proxy`` executable.
    env
        Environment variables on top of the test's (the config file's ``LAYERVIZ_*`` settings).
    args
        Command-line flags after the test's own.
    timeout
        Seconds to wait for the hub to answer.
    """

    def __init__(self, workdir: Path, proxy: str, env: dict[str, str] | None = None, args: list[str] | None = None,
                 timeout: float = 60.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "hub.log"
        environment = dict(os.environ)
        environment["PATH"] = os.pathsep.join((str(Path(proxy).parent), str(Path(sys.executable).parent),
                                               environment["PATH"]))
        environment["LAYERVIZ_HUB_URL"] = self.url + "/"
        environment["LAYERVIZ_HUB_API_URL"] = f"http://127.0.0.1:{free_port()}"
        environment["LAYERVIZ_PROXY_API_URL"] = f"http://127.0.0.1:{free_port()}"
        environment.update(env or {})
        command = [
            sys.executable, "-m", "jupyterhub", "-f", str(CONFIG),
            "--JupyterHub.authenticator_class=dummy", f"--DummyAuthenticator.password={PASSWORD}",
            "--Authenticator.allow_all=True",
            "--JupyterHub.spawner_class=simple",
            f"--SimpleLocalProcessSpawner.home_dir_template={workdir}/home/{{username}}",
            # A test's patience, not a server's: stop the students' servers and the culler quickly.
            "--LocalProcessSpawner.interrupt_timeout=5", "--LocalProcessSpawner.term_timeout=3",
            *(args or []),
        ]
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=workdir, env=environment, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        self._wait(timeout)

    def _wait(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/hub/api/", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterHub did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-6000:]
        return ""

    def stop(self) -> None:
        """Stop the hub (it stops the proxy, the students' servers and the culler); kill what is left."""
        tree = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


@pytest.fixture(scope="module")
def proxy() -> str:
    """configurable-http-proxy's path; skips (or fails, with LAYERVIZ_REQUIRE_HUB=1) without the hub's parts."""
    absent = [name for name in ("jupyterhub", "jupyter_server_proxy", "jupyterhub_idle_culler", "requests")
              if importlib.util.find_spec(name) is None]
    missing = f"not installed: {', '.join(absent)} (pip install -e '.[test]')" if absent else None
    found = find_proxy()
    if missing is None and found is None:
        missing = ("configurable-http-proxy not found on PATH or in .ci/node "
                   "(npm install --prefix .ci/node configurable-http-proxy@5)")
    if missing:
        if os.environ.get("LAYERVIZ_REQUIRE_HUB") == "1":
            pytest.fail(f"LAYERVIZ_REQUIRE_HUB=1 but {missing}")
        pytest.skip(missing)
    return found


@pytest.fixture(scope="module")
def hub(proxy, tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("hub"), proxy)
    yield hub
    hub.stop()


def log_in(hub: Hub, username: str, password: str):
    """Log in through the hub's login form, as a browser does; returns the session and the last response."""
    import requests

    session = requests.Session()
    form = session.get(hub.url + "/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    response = session.post(hub.url + "/hub/login", data={"username": username, "password": password, "_xsrf": xsrf},
                            timeout=120)
    return session, response


def open_course(hub: Hub, username: str, path: str = PAGE):
    """Log ``username`` in, let the hub start their server, and get ``path``; returns the session and the page."""
    session, landing = log_in(hub, username, PASSWORD)
    assert landing.status_code == 200, hub.log()
    # The hub shows its "starting" page instead when the spawn outlasts its slow_spawn_timeout (10 s).
    landed = urllib.parse.urlparse(landing.url).path
    assert landed.startswith((f"/user/{username}/", f"/hub/spawn-pending/{username}")), (landing.url, hub.log())
    deadline = time.monotonic() + 90
    while True:
        page = session.get(hub.url + path, timeout=120)
        if not urllib.parse.urlparse(page.url).path.startswith("/hub/spawn-pending/") or time.monotonic() > deadline:
            return session, page
        time.sleep(1)


def user_channels_url(hub: Hub, username: str, page: str) -> str:
    return channels_url(f"ws://127.0.0.1:{hub.port}/user/{username}", page)


def browser_headers(hub: Hub, session) -> dict[str, str]:
    """What a browser sends with a websocket: the hub's cookies and the page's origin."""
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in session.cookies), "Origin": hub.url}


@pytest.fixture(scope="module")
def student(hub):
    """A student's logged-in session whose server the hub started, and the Voilà page it got."""
    return open_course(hub, STUDENT)


def test_the_logged_in_student_gets_the_course_page_through_the_hub(hub, student):
    _, page = student
    assert page.status_code == 200, hub.log()
    assert urllib.parse.urlparse(page.url).path == PAGE
    assert re.search(r'kernelId": "[0-9a-f-]{36}"', page.text), page.text[:2000]
    assert re.search(r"<h1[^>]*>The dropout layer", page.text)
    # The layerviz template (found on the JUPYTER_PATH the config sets), not Voilà's stock one.
    assert "document.cookie = `_xsrf=" in page.text
    # Voilà knows its public prefix, so the page's websocket and static URLs go back through the hub.
    assert f'"baseUrl": "/user/{STUDENT}/"' in page.text


def test_the_kernel_websocket_works_through_the_hub_proxy(hub, student):
    session, page = student
    url = user_channels_url(hub, STUDENT, page.text)
    reply = exchange(url, [message("comm_info_request", {})], until="comm_info_reply",
                     headers=browser_headers(hub, session))[-1]
    assert reply["header"]["msg_type"] == "comm_info_reply"
    assert reply["content"]["status"] == "ok"


def test_the_explorer_draws_in_chromium_through_the_hub(hub, student, browser):
    """The whole page through the hub: static files, widgets' JavaScript, the kernel websocket."""
    session, _ = student
    page = new_page(browser)
    try:
        page.context.add_cookies([{"name": c.name, "value": c.value, "url": hub.url + (c.path or "/")}
                                  for c in session.cookies])
        canvas = open_voila(page, hub.url + PAGE, PLAYER_SELECTOR, timeout=90)
        box = canvas.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
        assert urllib.parse.urlparse(page.url).path == PAGE
    finally:
        page.context.close()


def test_without_login_the_page_leads_to_the_hub_login(hub, student):
    import requests

    # The student's server is running: its proxy, not only the hub, must refuse a stranger.
    first = requests.get(hub.url + PAGE, allow_redirects=False, timeout=30)
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/hub/api/oauth2/authorize")
    final = requests.get(hub.url + PAGE, timeout=30)
    assert urllib.parse.urlparse(final.url).path == "/hub/login"
    assert 'name="password"' in final.text and "kernelId" not in final.text


def test_a_wrong_password_is_refused(hub):
    session, response = log_in(hub, "mallory", "not-the-password")
    assert response.status_code == 403
    assert urllib.parse.urlparse(response.url).path == "/hub/login"
    assert session.get(hub.url + "/user/mallory/voila/render/dropout.ipynb", timeout=30).url.startswith(
        hub.url + "/hub/login")


def test_the_idle_culler_runs_as_a_hub_service(hub):
    assert "Starting managed service idle-culler" in hub.log_path.read_text()
    assert re.search(r"200 GET /hub/api/users\S* \(idle-culler@", hub.log_path.read_text()), hub.log()


@pytest.mark.solo  # a 10 s idle timeout against activity every 2 s: timed, so run alone
def test_the_culler_stops_an_idle_students_server_and_spares_an_active_one(proxy, tmp_path):
    # The config's culler with a 10 s timeout; the hub reads the proxy's activity every 2 s (300 s by default).
    hub = Hub(tmp_path, proxy, env={"LAYERVIZ_CULL_TIMEOUT": "10"}, args=["--JupyterHub.last_activity_interval=2"])
    try:
        alice, alice_page = open_course(hub, "alice", "/user/alice/voila/render/dropout.ipynb")
        bob, bob_page = open_course(hub, "bob", "/user/bob/voila/render/dropout.ipynb")
        assert alice_page.status_code == 200 and bob_page.status_code == 200, hub.log()
        # Alice keeps using her page (widget messages on the kernel websocket only); Bob has left his.
        url = user_channels_url(hub, "alice", alice_page.text)

        def bob_culled() -> bool:
            return "Culling server bob" in hub.log_path.read_text()

        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            busy = keep_busy(url, browser_headers(hub, alice), until=bob_culled, timeout=60)
            replies = thread.submit(asyncio.run, busy).result()
        log = hub.log_path.read_text()
        assert "Culling server bob" in log, hub.log()
        assert "Culling server alice" not in log
        assert replies >= 5  # she was answered all along
        bob_again = bob.get(hub.url + "/user/bob/voila/render/dropout.ipynb", allow_redirects=False, timeout=30)
        assert bob_again.status_code != 200
        assert alice.get(hub.url + "/user/alice/voila/render/dropout.ipynb", timeout=60).status_code == 200
    finally:
        hub.stop()


async def keep_busy(url: str, headers: dict[str, str], until, timeout: float) -> int:
    """Send a widget-style request on the kernel websocket every second until ``until()``; returns the replies."""
    connection = await connect(url, headers)
    replies, deadline = 0, time.monotonic() + timeout
    try:
        while not until() and time.monotonic() < deadline:
            await connection.write_message(message("comm_info_request", {}), binary=True)
            await receive_until(connection, "comm_info_reply", deadline)
            replies += 1
            await asyncio.sleep(1)
    finally:
        connection.close()
    return replies
