"""The served course as an instructor runs it (deploy/voila.json): what a student's browser may and may not do.

Real Voilà on a loopback port; HTTP and the kernel websocket spoken directly, as a hand-made client would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import time
import urllib.error
import urllib.request
import uuid
import pytest
from tornado.websocket import websocket_connect

from layerviz.classroom import FULL_MESSAGE
from tests.browser.conftest import REPO, VoilaServer

NOTEBOOK = "dropout.ipynb"


def get(url: str, timeout: float = 120) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def kernel_id(page: str) -> str:
    return re.search(r'kernelId": "([0-9a-f-]+)"', page).group(1)


def message(msg_type: str, content: dict) -> str:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "student", "session": "s",
              "date": "2026-01-01T00:00:00Z", "version": "5.3"}
    return json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content,
                       "channel": "shell", "buffers": []})


async def replies_to(url: str, sent: list[str], until: str, timeout: float = 30) -> list[dict]:
    """Send ``sent`` on the kernel websocket; return every shell message received until one of type ``until``."""
    connection = await websocket_connect(url)
    for text in sent:
        await connection.write_message(text)
    received = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(connection.read_message(), deadline - time.monotonic())
        msg = json.loads(raw)
        if msg["channel"] == "shell":
            received.append(msg)
            if msg["header"]["msg_type"] == until:
                break
    connection.close()
    return received


@pytest.fixture(scope="module")
def server():
    with VoilaServer(REPO / "notebooks") as running:
        yield running


def test_execute_request_over_the_kernel_websocket_is_ignored(server, tmp_path):
    status, page = get(server.notebook_url(NOTEBOOK))
    assert status == 200
    marker = tmp_path / "ran"
    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id(page)}/channels?session_id={uuid.uuid4().hex}"
    code = f"open({str(marker)!r}, 'w').write('student code ran on the server')"
    sent = [message("execute_request", {"code": code, "silent": False}), message("comm_info_request", {})]
    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # a loop of its own, beside any other test's
        received = thread.submit(asyncio.run, replies_to(url, sent, until="comm_info_reply")).result()
    types = [m["header"]["msg_type"] for m in received]
    assert types == ["comm_info_reply"]  # the widget channel works; no execute_reply ever comes
    time.sleep(1)
    assert not marker.exists()
    assert 'Received message of type "execute_request", which is not allowed' in server.log()


@pytest.mark.parametrize("path", [
    "/voila/files/dropout.ipynb",
    "/voila/files/index.ipynb",
    "/voila/render/../dev.py",
    "/voila/files/../dev.py",
    "/voila/files/%2E%2E/dev.py",
    "/voila/static/../../dev.py",
    "/voila/static/..%2F..%2Fdev.py",
    "/voila/tree/../",
    "/files/dropout.ipynb",
    "/api/contents/dropout.ipynb",
    "/api/kernels",
])
def test_sources_and_paths_outside_the_notebooks_are_not_served(server, path):
    request = urllib.request.Request(server.url + path)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode("utf-8", "replace")
    assert '"cell_type"' not in body and "def main()" not in body and "import numpy as np" not in body
    assert status in (403, 404) or "voila/render" not in path, (path, status)


def test_no_traceback_setting(server):
    assert "allow_tracebacks" in (REPO / "deploy" / "voila.json").read_text()
    status, page = get(server.notebook_url(NOTEBOOK))
    assert status == 200 and "Traceback" not in page


def test_a_class_over_its_cap_is_told_it_is_full():
    with VoilaServer(REPO / "notebooks", extra_args=["--ClassroomKernelManager.max_kernels=1"]) as server:
        first_status, first = get(server.notebook_url(NOTEBOOK))
        assert first_status == 200 and "kernelId" in first
        second_status, second = get(server.notebook_url(NOTEBOOK))
        assert second_status == 503
        assert FULL_MESSAGE.split(":")[0] in second and "Traceback" not in second
        assert len(server.kernel_pids()) == 1


def test_idle_kernels_are_culled_after_the_timeout():
    args = ["--MappingKernelManager.cull_idle_timeout=4", "--MappingKernelManager.cull_interval=1"]
    with VoilaServer(REPO / "notebooks", extra_args=args) as server:
        for _ in range(2):
            assert get(server.notebook_url(NOTEBOOK))[0] == 200
        assert len(server.kernel_pids()) == 2
        deadline = time.monotonic() + 30
        while server.kernel_pids() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert server.kernel_pids() == []
        assert "Culling 'idle' kernel" in server.log() or "Culling" in server.log()
