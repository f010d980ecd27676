"""The README's run command as an instructor uses it: quick to start again, and stopped whole by SIGTERM."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import KERNEL_COMMAND, REPO, children, free_port

_spec = importlib.util.spec_from_file_location("dev", REPO / "dev.py")
dev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dev)


@pytest.fixture
def fake_venv(tmp_path, monkeypatch):
    """dev.py's paths pointed at an empty venv folder, and pip replaced by a recorder."""
    venv = tmp_path / ".venv"
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    monkeypatch.setattr(dev, "VENV", venv)
    monkeypatch.setattr(dev, "PYTHON", python)
    installs = []
    monkeypatch.setattr(dev.subprocess, "run", lambda command, **kwargs: installs.append(command))
    return installs


def test_setup_installs_once_until_pyproject_changes(fake_venv, monkeypatch, tmp_path):
    dev.setup("")
    dev.setup("")
    assert len(fake_venv) == 1  # the second start skips pip
    dev.setup("test")
    assert len(fake_venv) == 2  # the test extra is more than the app needs
    dev.setup("")
    assert len(fake_venv) == 2  # ... and includes it
    changed = tmp_path / "pyproject.toml"
    changed.write_text((REPO / "pyproject.toml").read_text() + "\n# a new dependency\n")
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    dev.setup("")
    assert len(fake_venv) == 3


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_to_the_run_command_stops_voila_and_its_kernels():
    port = free_port()
    env = {**os.environ, "BROWSER": "true"}
    command = subprocess.Popen([sys.executable, str(REPO / "dev.py"), "serve", "--no-browser", f"--port={port}"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/voila/render/dropout.ipynb"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=120) as response:
                    assert response.status == 200
                break
            except OSError:
                assert command.poll() is None, command.stdout.read()
                time.sleep(0.5)
        started = children(command.pid, recursive=True)
        kernels = children(command.pid, KERNEL_COMMAND, recursive=True)
        assert kernels, "the page has a kernel (and the pool its preheated ones)"
        command.send_signal(signal.SIGTERM)
        command.wait(60)
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert not [pid for pid in started if alive(pid)], "Voilà or a kernel outlived dev.py"
    finally:
        if command.poll() is None:
            command.kill()
        for pid in children(command.pid, recursive=True) if command.poll() is None else []:
            os.kill(pid, signal.SIGKILL)
