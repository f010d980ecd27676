#!/usr/bin/env python3
"""The project's two commands; needs only Python 3.10+.

    python3 dev.py serve   # make .venv, install layerviz, serve the course with Voilà on 127.0.0.1
                           # (deploy/voila.json; --ip and --token to serve a class, see docs/deploy.md)
    python3 dev.py test    # make .venv, install layerviz with its test extra, run the whole suite

The browser tests use Debian's Chromium: the path in $LAYERVIZ_CHROMIUM, else `chromium`
or `chromium-browser` on PATH. Without one they are skipped, unless LAYERVIZ_REQUIRE_BROWSER=1
(as in CI), which makes a missing browser a failure.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
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


def setup(extra: str) -> None:
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    target = f"{ROOT}[{extra}]" if extra else str(ROOT)
    print(f"installing layerviz{'[' + extra + ']' if extra else ''} into {VENV}", flush=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", target], check=True)


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
    server = subprocess.Popen(command, env=voila_environment())
    host = "127.0.0.1" if ip in ("0.0.0.0", "::") else ip
    landing = f"http://{host}:{port}/voila/render/index.ipynb" + (f"?token={token}" if token else "")
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
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()


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
    return subprocess.call([PYTHON, "-m", "pytest", *args.pytest_args])


if __name__ == "__main__":
    sys.exit(main())
