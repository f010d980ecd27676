#!/usr/bin/env python3
"""The project's two commands; needs only Python 3.10+.

    python3 dev.py serve   # make .venv, install layerviz, serve the course with Voilà on 127.0.0.1
                           # (deploy/voila.json; --ip and --token to serve a class, see docs/deploy.md)
    python3 dev.py test    # make .venv, install layerviz with its test extra, run the whole suite

The browser tests use Debian's Chromium: the path in $LAYERVIZ_CHROMIUM, else `chromium`
or `chromium-browser` on PATH. Without one they are skipped, unless LAYERVIZ_REQUIRE_BROWSER=1
(as in CI), which makes a missing browser a failure. The player's JavaScript tests need Node 20
(`node --test`; tests/test_javascript.py runs `npm ci` for esbuild when node_modules/ lacks it); without
Node they are skipped, unless LAYERVIZ_REQUIRE_NODE=1. Serving needs no Node: the player's bundle is
committed (docs/player.md).
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
import webbrowser
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
DEPLOY = ROOT / "deploy"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _installed_stamp(extra: str) -> Path:
    return VENV / f".layerviz-installed-{extra or 'base'}"


def _requirements_digest() -> str:
    """What decides what gets installed: pyproject.toml (a change there means installing again)."""
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def setup(extra: str) -> None:
    """Make .venv and install layerviz (editable) with ``extra`` into it, unless that is done already.

    The install is skipped while pyproject.toml is unchanged since the last one (the stamp in .venv
    records it); the test extra includes everything the app needs.
    """
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    digest = _requirements_digest()
    done = [stamp for stamp in {_installed_stamp(extra), _installed_stamp("test")} if stamp.exists()]
    if any(stamp.read_text() == digest for stamp in done):
        return
    target = f"{ROOT}[{extra}]" if extra else str(ROOT)
    print(f"installing layerviz{'[' + extra + ']' if extra else ''} into {VENV}", flush=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", target], check=True)
    _installed_stamp(extra).write_text(digest)


def _die_with_parent() -> None:
    """In the child, before it runs: on Linux, get SIGTERM if dev.py itself dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_child(command: list, on_start=None, **kwargs) -> int:
    """Run ``command`` until it ends; SIGTERM, SIGHUP or Ctrl-C to dev.py stop it (and what it started).

    systemd and a closing terminal send SIGTERM or SIGHUP to dev.py: the child gets SIGTERM, which
    Voilà answers by shutting its kernels down, and dev.py waits for it to finish.
    """
    child = subprocess.Popen(command, preexec_fn=_die_with_parent if os.name == "posix" else None, **kwargs)

    def stop(signum, _frame):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)
    try:
        if on_start is not None:
            on_start(child)
        return child.wait()
    except KeyboardInterrupt:
        stop(signal.SIGINT, None)
        return child.wait()
    finally:
        if child.poll() is None:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"


def voila_environment() -> dict[str, str]:
    """The environment Voilà runs in: the course's template (deploy/share/jupyter) on the Jupyter path."""
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(DEPLOY / "share" / "jupyter"), env.get("JUPYTER_PATH")) if p)
    return env


def serve(ip: str, port: int, token: str | None, open_browser: bool) -> int:
    """Voilà with deploy/voila.json (kernel cap, culling, no tracebacks, preheated kernels) on ``ip:port``."""
    command = [PYTHON, "-m", "voila", "notebooks", f"--Voila.config_file_paths={DEPLOY}", f"--Voila.ip={ip}",
               f"--port={port}", "--no-browser"]
    if token:
        command.append(f"--token={token}")
    host = "127.0.0.1" if ip in ("0.0.0.0", "::") else ip
    landing = f"http://{host}:{port}/voila/render/index.ipynb" + (f"?token={token}" if token else "")

    def announce(server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(landing.replace("/voila/render/index.ipynb", "/"), timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (a token may be needed for "/")
            except OSError:
                time.sleep(0.3)
        print(f"\nThe course: {landing}\n", flush=True)
        if open_browser and server.poll() is None:
            webbrowser.open(landing)

    return run_child(command, on_start=announce, env=voila_environment())


def test_runs(pytest_args: list[str]) -> list[list[str]]:
    """The pytest runs of ``dev.py test``, one after the other.

    With two cores or more (LAYERVIZ_TEST_WORKERS=1 to run in one process): every test not marked ``solo``
    on two pytest-xdist workers, each file whole on one of them (a notebook's cells share its kernel, a
    module's server and browser are started once per worker); then the ``solo`` tests, which time a server's
    answers and timers, alone on the machine. One run as given if the caller chose workers or marks.
    """
    workers = int(os.environ.get("LAYERVIZ_TEST_WORKERS", "2"))
    chosen = any(a.startswith(("-n", "-m", "--numprocesses", "--dist")) for a in pytest_args)
    if workers < 2 or (os.cpu_count() or 1) < 2 or chosen:
        return [pytest_args]
    return [["-n", str(workers), "--dist", "loadfile", "-m", "not solo", *pytest_args], ["-m", "solo", *pytest_args]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="set up and serve the notebooks with Voilà")
    serve_parser.add_argument("--port", type=int, default=8866)
    serve_parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: this machine only)")
    serve_parser.add_argument("--token", help="a secret students add to the URL (?token=...); needed beyond loopback")
    serve_parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    test = commands.add_parser("test", help="set up and run the whole test suite")
    test.add_argument("pytest_args", nargs="*", help="extra arguments for pytest")
    args = parser.parse_args()

    os.chdir(ROOT)
    if args.command == "serve":
        if not is_loopback(args.ip) and not args.token:
            parser.error(f"refusing to serve on {args.ip} without --token: anyone who reaches this machine "
                         "could use it (see docs/deploy.md)")
        setup("")
        return serve(args.ip, args.port, args.token, open_browser=not args.no_browser)
    setup("test")
    failed = 0
    for run in test_runs(args.pytest_args):
        code = run_child([PYTHON, "-m", "pytest", *run])
        if code == 2 or code < 0:  # interrupted (Ctrl-C, SIGTERM): no second run
            return code
        if code not in (0, 5):  # 5: this run selected no test (a file without solo tests)
            failed = failed or code
    return failed


if __name__ == "__main__":
    sys.exit(main())
