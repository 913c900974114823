"""Nanosecond times as answers show them: ISO 8601 UTC instants and millisecond durations, and a
store record's fields with its instants in that form (`with_iso_times`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION = re.compile(r"(\d{1,6})\s*([mhdw])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def duration_s(text: str) -> int | None:
    """Seconds in a duration such as '30m', '12h', '7d' or '2w'; None for text of another form."""
    match = _DURATION.fullmatch(text.strip().lower())
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


def iso_time(ns: int | None) -> str | None:
    """An instant in ISO 8601 UTC with microseconds, e.g. '2025-01-31T12:00:00.123456+00:00'."""
    if ns is None:
        return None
    return (_EPOCH + timedelta(microseconds=ns // 1000)).isoformat()


def ms(ns: int | None) -> float | None:
    """Nanoseconds as milliseconds, to the microsecond."""
    return None if ns is None else round(ns / 1e6, 3)


def with_iso_times(record: BaseModel) -> dict[str, Any]:
    """`record`'s fields by name, each `<x>_ns` (an instant in nanoseconds, as the store keeps
    times) as `<x>_time` (iso_time): what a tool model that extends the record's base class is
    validated from, e.g. Assessment.model_validate(with_iso_times(record)). Nested records are
    left as they are. Only for records whose `_ns` fields are instants, not durations."""
    fields: dict[str, Any] = {}
    for name, value in record:
        if name.endswith("_ns"):
            fields[name.removesuffix("_ns") + "_time"] = iso_time(value)
        else:
            fields[name] = value
    return fields
