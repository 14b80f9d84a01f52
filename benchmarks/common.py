"""Shared timing helpers: medians of per-operation times, printed beside a baseline."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def per_op(fn: Callable[[int], None], n: int, repeats: int = 15) -> float:
    """Median seconds per operation of fn(n), which runs the operation n times."""
    fn(max(1, n // 10))  # warm up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:8.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:8.2f} µs"
    return f"{seconds * 1e9:8.1f} ns"


def row(name: str, theus_s: float, base_name: str, base_s: float, target: str = "") -> None:
    ratio = theus_s / base_s if base_s else float("inf")
    print(f"  {name:<44} {fmt(theus_s)}   {base_name:<34} {fmt(base_s)}   ratio {ratio:6.2f}x  {target}")


def header(title: str) -> None:
    print(f"\n== {title} (medians)")
