"""What one student's kernel costs, notebook by notebook: its memory (RSS) and the CPU it spends to start
and run the notebook, in real Voilà with deploy/voila.json.

    .venv/bin/python bench/bench_kernel.py [--repeats 3]

Each notebook is loaded as a plain HTTP page (the page is sent once the notebook has run), one at a time,
on an otherwise idle server; the table gives the median over ``--repeats`` loads. A class of N arriving at
once on C cores needs about N x (kernel CPU) / C seconds, which is why the CPU column matters. USS is
the memory only that kernel holds; RSS also counts the libraries all kernels share.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench_load import REPO, cpu_seconds, helpers, http_load, rss_mb, uss_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    print("| notebook | kernel RSS | kernel USS (private) | kernel CPU (start + run) | page load alone |")
    print("|---|---:|---:|---:|---:|")
    with helpers.VoilaServer(REPO / "notebooks", timeout=120) as server:
        for notebook in notebooks:
            rss, uss, cpu, load = [], [], [], []
            for _ in range(args.repeats):
                before = set(server.kernel_pids())
                load.append(http_load(server.notebook_url(notebook)))
                (pid,) = set(server.kernel_pids()) - before
                time.sleep(0.5)  # let the kernel settle after the page is sent
                rss.append(rss_mb(pid))
                uss.append(uss_mb(pid))
                cpu.append(cpu_seconds(pid))
            print(f"| {notebook} | {statistics.median(rss):.0f} MB | {statistics.median(uss):.0f} MB | "
                  f"{statistics.median(cpu):.2f} s | "
                  f"{statistics.median(load):.2f} s |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
