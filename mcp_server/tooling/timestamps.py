"""Nanosecond times as answers show them: ISO 8601 UTC instants and millisecond durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_time(ns: int | None) -> str | None:
    """An instant in ISO 8601 UTC with microseconds, e.g. '2025-01-31T12:00:00.123456+00:00'."""
    if ns is None:
        return None
    return (_EPOCH + timedelta(microseconds=ns // 1000)).isoformat()


def ms(ns: int | None) -> float | None:
    """Nanoseconds as milliseconds, to the microsecond."""
    return None if ns is None else round(ns / 1e6, 3)
