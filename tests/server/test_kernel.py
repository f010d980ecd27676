"""The kernel a course page runs in (layerviz/kernel.py): ipykernel, started without importing debugpy."""

from __future__ import annotations

import importlib.util

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

from tests.browser.conftest import REPO

_spec = importlib.util.spec_from_file_location("dev", REPO / "dev.py")
dev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dev)

#: What a page's first cell could print: a sum, whether debugpy was loaded, whether its pydevd parts were.
PROBE = ("import sys; print(2 + 3, sys.modules.get('debugpy') is not None, "
         "any(m.startswith('_pydevd') for m in sys.modules))")


def _python3_argv(monkeypatch, jupyter_path: str | None) -> list[str]:
    if jupyter_path is None:
        monkeypatch.delenv("JUPYTER_PATH", raising=False)
    else:
        monkeypatch.setenv("JUPYTER_PATH", jupyter_path)
    return KernelSpecManager().get_kernel_spec("python3").argv


def test_the_course_path_names_layervizs_kernel_and_elsewhere_ipykernels(monkeypatch):
    course = dev.voila_environment()["JUPYTER_PATH"]
    assert _python3_argv(monkeypatch, course)[:3] == ["python", "-m", "layerviz.kernel"]
    assert "layerviz.kernel" not in _python3_argv(monkeypatch, None)


def _run_in_kernel(monkeypatch, jupyter_path: str | None) -> str:
    if jupyter_path is None:
        monkeypatch.delenv("JUPYTER_PATH", raising=False)
    else:
        monkeypatch.setenv("JUPYTER_PATH", jupyter_path)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(REPO))
    out: list[str] = []
    try:
        kc.execute_interactive(PROBE, timeout=60, output_hook=lambda msg: out.append(msg["content"].get("text", "")))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return "".join(out).strip()


def test_a_course_kernel_runs_code_without_debugpy_and_the_usual_kernel_loads_it(monkeypatch):
    assert _run_in_kernel(monkeypatch, dev.voila_environment()["JUPYTER_PATH"]) == "5 False False"
    assert _run_in_kernel(monkeypatch, None) == "5 True True"  # what it saves is real: ipykernel loads it
