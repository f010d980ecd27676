"""Engine speed, measured in one run: trace building against the plain forward pass, and frame access.

    python bench/bench_engine.py
"""

from __future__ import annotations

import time

import numpy as np

import layerviz as lv


def best_of(function, repeat: int = 7, number: int = 1) -> float:
    """Best wall time of ``repeat`` runs of ``number`` calls, per call, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    cases = [
        ("1x28x28, Conv2d(1, 1, 3)", lv.Conv2d(1, 1, 3, rng=0), rng.random((1, 28, 28)), 200),
        ("3x224x224, Conv2d(3, 16, 3)", lv.Conv2d(3, 16, 3, rng=0), rng.random((3, 224, 224)), 3),
    ]
    for name, conv, x, number in cases:
        forward = best_of(lambda: conv(x), number=number)
        build = best_of(lambda: conv.frames(x), number=number)
        trace = conv.frames(x)
        n = len(trace)
        ks = rng.integers(0, n, 2000)
        access = best_of(lambda: [trace[int(k)] for k in ks], repeat=3) / len(ks)
        last = best_of(lambda: trace[n - 1], number=50)
        scene = best_of(lambda: trace.scene(), repeat=3)
        print(f"{name}: {n} frames")
        print(f"  forward (vectorized)      {forward * 1e3:9.3f} ms")
        print(f"  frames(x) trace build     {build * 1e3:9.3f} ms   ratio build/forward = {build / forward:.2f}")
        print(f"  frames/s (trace build)    {n / build:12.3e}   vs forward outputs/s {n / forward:.3e}")
        print(f"  trace[k], random k        {access * 1e3:9.4f} ms   trace[-1] {last * 1e3:.4f} ms")
        print(f"  trace.scene()             {scene * 1e3:9.3f} ms")
        g = rng.standard_normal(trace.output.shape)
        backward = best_of(lambda: trace.backward(g), number=number)
        btrace = trace.backward(g)
        nb = len(btrace)
        kb = rng.integers(0, nb, 2000)
        baccess = best_of(lambda: [btrace[int(k)] for k in kb], repeat=3) / len(kb)
        print(f"  trace.backward(g) build   {backward * 1e3:9.3f} ms   ratio backward/forward = {backward / forward:.2f}"
              f"   ({nb} frames)")
        print(f"  btrace[k], random k       {baccess * 1e3:9.4f} ms")


if __name__ == "__main__":
    main()
