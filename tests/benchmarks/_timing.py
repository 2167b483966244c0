"""Timing helpers shared by the benchmark scripts (imported from their own folder)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def times_ms(fn: Callable[[], object], n: int, warmup: int = 1) -> list[float]:
    """Wall times of `n` calls in ms, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def pct(values: list[float], q: float) -> float:
    """The q-th percentile."""
    return float(np.percentile(np.asarray(values), q))
