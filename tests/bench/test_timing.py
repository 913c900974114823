"""bench.timing, the timing the search and trace-tool benchmarks share: one warm-up run, then timed
runs up to the maximum, at least MIN_RUNS of them however slow the call, and the last result."""

from __future__ import annotations

from collections.abc import Callable

from bench.timing import MIN_RUNS, p90, timed, timed_async


def _counter() -> tuple[list[int], Callable[[], int]]:
    calls: list[int] = []

    def fn() -> int:
        calls.append(len(calls))
        return len(calls)

    return calls, fn


def test_timed_runs_once_to_warm_up_then_max_runs_times_and_returns_the_last_result() -> None:
    calls, fn = _counter()
    times, result = timed(fn, max_runs=5, run_seconds=60.0)
    assert len(calls) == 6 and len(times) == 5
    assert result == 6
    assert all(t >= 0 for t in times)


def test_timed_past_its_time_budget_still_makes_the_minimum_runs() -> None:
    calls, fn = _counter()
    times, _ = timed(fn, max_runs=20, run_seconds=0.0)
    assert len(times) == MIN_RUNS and len(calls) == MIN_RUNS + 1


async def test_timed_async_awaits_each_run_like_timed() -> None:
    calls: list[int] = []

    async def fn() -> int:
        calls.append(1)
        return len(calls)

    times, result = await timed_async(fn, max_runs=4, run_seconds=60.0)
    assert (len(times), len(calls), result) == (4, 5, 5)
    times, _ = await timed_async(fn, max_runs=20, run_seconds=0.0)
    assert len(times) == MIN_RUNS


def test_p90_is_the_time_nine_tenths_of_the_way_through_the_sorted_times() -> None:
    assert p90([float(n) for n in range(10, 0, -1)]) == 9.0
    assert p90([5.0]) == 5.0
    assert p90([1.0, 2.0]) == 2.0
