"""How long ``trace[k]`` takes: the check that a frame is built in O(1), whatever ``k``."""

from __future__ import annotations

import time
from typing import Any


def median_access_time(trace: Any, k: int, repeats: int = 7) -> float:
    """The median, over ``repeats`` tries, of the seconds ``trace[k]`` takes (the median: one slow try is noise)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trace[k]
        times.append(time.perf_counter() - start)
    return sorted(times)[repeats // 2]
