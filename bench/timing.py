"""How the benchmarks time a call: one warm-up run, then repeated timed runs in milliseconds (at
least MIN_RUNS, fewer than the maximum where the call is slow), and the p90 of such times."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

MIN_RUNS = 3
"""Timed runs every call gets, however slow: fewer would make the median a single run."""


def _more(times: list[float], max_runs: int, budget_end: float) -> bool:
    return len(times) < max_runs and (len(times) < MIN_RUNS or time.perf_counter() < budget_end)


def timed(fn: Callable[[], T], *, max_runs: int, run_seconds: float) -> tuple[list[float], T]:
    """One warm-up run of `fn`, then up to `max_runs` timed runs (ms), none started after
    `run_seconds` once MIN_RUNS are done; the times and the last result."""
    result = fn()
    times: list[float] = []
    budget_end = time.perf_counter() + run_seconds
    while _more(times, max_runs, budget_end):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


async def timed_async(fn: Callable[[], Awaitable[T]], *, max_runs: int, run_seconds: float) -> tuple[list[float], T]:
    """`timed` for a coroutine function, each run awaited."""
    result = await fn()
    times: list[float] = []
    budget_end = time.perf_counter() + run_seconds
    while _more(times, max_runs, budget_end):
        started = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def p90(times: list[float]) -> float:
    """The 90th percentile of `times`: the one 90% of the way through them, sorted."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
