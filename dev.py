#!/usr/bin/env python3
"""The project's two commands; needs only Python 3.10+.

    python3 dev.py serve   # make .venv, install layerviz, serve the course with Voilà on 127.0.0.1
    python3 dev.py test    # make .venv, install layerviz with its test extra, run the whole suite

The browser tests use Debian's Chromium: the path in $LAYERVIZ_CHROMIUM, else `chromium`
or `chromium-browser` on PATH. Without one they are skipped, unless LAYERVIZ_REQUIRE_BROWSER=1
(as in CI), which makes a missing browser a failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup(extra: str) -> None:
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    target = f"{ROOT}[{extra}]" if extra else str(ROOT)
    print(f"installing layerviz{'[' + extra + ']' if extra else ''} into {VENV}", flush=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", target], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="set up and serve the notebooks with Voilà")
    serve.add_argument("--port", type=int, default=8866)
    serve.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    test = commands.add_parser("test", help="set up and run the whole test suite")
    test.add_argument("pytest_args", nargs="*", help="extra arguments for pytest")
    args = parser.parse_args()

    os.chdir(ROOT)
    if args.command == "serve":
        setup("")
        command = [PYTHON, "-m", "voila", "notebooks", "--Voila.ip=127.0.0.1", f"--port={args.port}",
                   "--show_tracebacks=False",
                   # one kernel runs the notebook ahead of the next visitor: measured 1.7 s to a usable
                   # page instead of 2.3 s (bench/bench_player.py)
                   "--preheat_kernel=True", "--pool_size=1"]
        if args.no_browser:
            command.append("--no-browser")
        return subprocess.call(command)
    setup("test")
    return subprocess.call([PYTHON, "-m", "pytest", *args.pytest_args])


if __name__ == "__main__":
    sys.exit(main())
