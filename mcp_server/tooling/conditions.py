"""Threshold conditions as users write them, '<judge>/<metric> <op> <number>' (e.g.
'routing/pass_rate < 0.8'): parsed once for alert rules and release gates alike."""

from __future__ import annotations

import re
from collections.abc import Sequence

from store.errors import InvalidArgument

_CONDITION = re.compile(r"\s*(?P<judge>[^/\s]+)\s*/\s*(?P<metric>\w+)\s*(?P<op><=|>=|<|>)\s*(?P<threshold>-?[0-9.]+)\s*")


def parse_condition(condition: object, metrics: Sequence[str], more: str = "") -> tuple[str, str, str, float]:
    """(judge, metric, op, threshold); InvalidArgument showing the form, the `metrics` allowed and
    `more` (other forms the caller takes) for anything else."""
    match = _CONDITION.fullmatch(condition) if isinstance(condition, str) else None
    if match is None or match["metric"] not in metrics:
        raise InvalidArgument(
            f"condition {str(condition)[:80]!r} is not '<judge>/<metric> <op> <number>', e.g. 'routing/pass_rate < 0.8'; "
            f"metrics: {', '.join(metrics)}; ops: <, <=, >, >=.{' ' + more if more else ''}"
        )
    try:
        threshold = float(match["threshold"])
    except ValueError:
        raise InvalidArgument(f"the threshold {match['threshold']!r} in condition {condition!r} is not a number.") from None
    return match["judge"], match["metric"], match["op"], threshold


def holds(op: str, value: float, threshold: float) -> bool:
    return {"<": value < threshold, "<=": value <= threshold, ">": value > threshold, ">=": value >= threshold}[op]
