"""Monitors as a user manages them: create, list, read (with metrics), change, delete, backfill.

A monitor is a set of judges (versions pinned when it is created or its judges are changed), a
filter (SearchTraces' grammar) choosing the traces it watches, a sample rate and limits. It judges
the traces that arrive after it was created, each once it is complete (mcp_server.monitors.runner
does that inside `tracejudge serve`); BackfillMonitor queues older ones. Its verdicts are feedback
on the traces, so every filter, report and comparison sees them; its metrics are time series per
UTC hour or day.

Whether a trace is in a monitor's sample is a hash of the monitor's name and the trace id, so
every process, and every restart, takes the same traces.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from mcp_server.judges.runner import resolve_judge
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import monitors as store
from store.errors import InvalidArgument
from store.monitors import DAY_NS, DEFAULT_SETTLE_S, DEFAULT_TIMEOUT_S, HOUR_NS, MonitorRecord, SeriesPoint
from store.search import compile_filter

MAX_JUDGES = 10
MAX_SETTLE_S = 3_600.0
MAX_TIMEOUT_S = 7 * 86_400.0
MAX_BACKFILL = 10_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_PINNED = re.compile(r"(?P<name>.+)@(?P<version>[0-9]+)")


def in_sample(monitor: str, trace_id: str, rate: float) -> bool:
    """Whether `monitor` at `rate` judges `trace_id`: the same answer in every process."""
    if rate >= 1.0:
        return True
    digest = hashlib.sha256(f"{monitor}\0{trace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


class MonitorJudge(BaseModel):
    name: str
    version: int | None = Field(description="The stored judge's pinned version; none for a built-in judge.")
    kind: str = Field(description="llm, agent or code")


class MonitorCounts(BaseModel):
    judged: int = Field(description="Traces judged.")
    sampled_out: int = Field(description="Complete traces the sample left out.")
    skipped: int = Field(description="Traces left unjudged by a limit (see skipped_because); BackfillMonitor can judge them.")
    queued: int = Field(description="Traces waiting to be judged (backfill, or leases given back).")
    in_flight: int = Field(description="Traces being judged now, by any server process.")


class Spending(BaseModel):
    judgments: int = Field(description="Traces judged in the period.")
    tokens: int
    cost_usd: float


class Monitor(BaseModel):
    """A monitor's configuration and state, as ListMonitors and GetMonitor give it."""

    name: str
    judges: list[MonitorJudge]
    filter_string: str | None
    sample_rate: float
    settle_s: float = Field(description="Seconds without a new span after the root span ended before a trace is judged.")
    timeout_s: float = Field(description="Seconds without a new span after which a trace whose root never ended is judged anyway.")
    max_judgments_per_hour: int | None
    max_tokens_per_day: int | None
    max_cost_usd_per_day: float | None
    status: Literal["active", "paused", "limited", "failing"] = Field(
        description="active; paused (UpdateMonitor paused=false resumes it); limited (a limit of this hour or "
        "day is reached: traces completing now are skipped); failing (it cannot judge: see status_message)."
    )
    status_message: str
    runners: int = Field(description="Server processes running the monitors now (0: none is, and nothing is judged).")
    watching_since: str | None = Field(description="Traces that arrived after this instant are judged as they complete.")
    created_time: str | None
    updated_time: str | None
    counts: MonitorCounts
    this_hour: Spending = Field(description="This UTC hour so far, over every server process.")
    today: Spending = Field(description="This UTC day so far, over every server process.")


class MetricsPoint(BaseModel):
    judge: str
    start: str = Field(description="The hour's or day's start, ISO 8601 UTC.")
    start_ms: int
    judgments: int
    errors: int
    pass_rate: float | None
    mean: float | None
    cost_usd: float
    tokens: int
    mean_lag_s: float | None = Field(description="Mean seconds from a trace's completion to its verdict.")


class RecentResult(BaseModel):
    trace_id: str
    judge: str
    outcome: str = Field(description="value, error, or stopped (the daily budget stopped it part way)")
    value: Any = None
    error: str | None = None
    cost_usd: float
    lag_s: float | None
    time: str | None


class MonitorDetail(Monitor):
    """GetMonitor's answer: the monitor, its metrics as a time series, and its latest results."""

    granularity: Literal["hour", "day"]
    metrics: list[MetricsPoint] = Field(description="Per judge and per UTC hour (or day), oldest first; periods without judgments are left out.")
    skipped_because: dict[str, int] = Field(description="Why traces were skipped in the window, with how many.")
    recent: list[RecentResult] = Field(description="The newest results, newest first.")


class BackfillReport(BaseModel):
    monitor: str
    matched: int = Field(description="Traces in the range that the filter selects and the monitor had not judged.")
    queued: int = Field(description="Of those, the ones the sample takes: `tracejudge serve` judges them next.")
    sampled_out: int
    message: str


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"a monitor's name is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit; got {name!r}."
        )
    return name


def pin_judges(db: Database, judges: Sequence[str] | None, *, allow_import: bool) -> list[dict[str, Any]]:
    """The judges named ('name', or 'name@version' for a stored judge's version), checked and pinned
    to a version: a stored judge's latest when none is given."""
    if not judges or isinstance(judges, str) or not all(isinstance(j, str) for j in judges):
        raise InvalidArgument("judges must list at least one judge name, e.g. ['correctness']; ListJudges lists them.")
    if len(judges) > MAX_JUDGES:
        raise InvalidArgument(f"a monitor runs at most {MAX_JUDGES} judges; got {len(judges)}.")
    pinned = []
    for ref in judges:
        ref = ref.strip()
        match = _PINNED.fullmatch(ref)
        name, version = (match["name"], int(match["version"])) if match else (ref, None)
        resolved = resolve_judge(db, name, version=version, allow_import=allow_import)
        stored = resolved.code is None and resolved.builtin is None and resolved.definition is not None and (
            resolved.definition.version is not None
        )
        pinned.append({
            "name": resolved.name, "ref": name,
            "version": resolved.definition.version if stored and resolved.definition else None,
            "kind": resolved.kind, "source_id": resolved.source_id,
        })  # fmt: skip
    names = [j["name"] for j in pinned]
    if len(set(names)) != len(names):
        raise InvalidArgument(f"judges must be distinct; got {names}.")
    return pinned


def _check_settings(values: dict[str, Any]) -> None:
    """InvalidArgument naming the first setting out of range."""
    rate = values.get("sample_rate")
    if "sample_rate" in values and (isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1):
        raise InvalidArgument(f"sample_rate must be a number above 0 and at most 1 (1 judges every trace); got {rate!r}.")
    for key, top in (("settle_s", MAX_SETTLE_S), ("timeout_s", MAX_TIMEOUT_S)):
        value = values.get(key)
        if key in values and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top):
            raise InvalidArgument(f"{key} must be a number of seconds from 0 to {top:,.0f}; got {value!r}.")
    for key in ("max_judgments_per_hour", "max_tokens_per_day"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidArgument(f"{key} must be a positive integer, or none for no limit; got {value!r}.")
    cost = values.get("max_cost_usd_per_day")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float) or not cost > 0):
        raise InvalidArgument(f"max_cost_usd_per_day must be a positive number of dollars, or none for no limit; got {cost!r}.")
    if "filter_string" in values:
        compile_filter(values["filter_string"])  # InvalidFilter, with the grammar, before anything is stored


def create_monitor(
    db: Database,
    name: str,
    judges: Sequence[str],
    *,
    filter_string: str | None = None,
    sample_rate: float = 1.0,
    settle_s: float = DEFAULT_SETTLE_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_judgments_per_hour: int | None = None,
    max_tokens_per_day: int | None = None,
    max_cost_usd_per_day: float | None = None,
    allow_import: bool = False,
) -> Monitor:
    """Store a monitor; `tracejudge serve` judges the traces that arrive from now on."""
    settings = {
        "filter_string": filter_string, "sample_rate": sample_rate, "settle_s": settle_s, "timeout_s": timeout_s,
        "max_judgments_per_hour": max_judgments_per_hour, "max_tokens_per_day": max_tokens_per_day,
        "max_cost_usd_per_day": max_cost_usd_per_day,
    }  # fmt: skip
    _check_settings(settings)
    _check_timeout(settle_s, timeout_s)
    record = MonitorRecord(name=_check_name(name), judges=pin_judges(db, judges, allow_import=allow_import),
                           **{**settings, "sample_rate": float(sample_rate)})  # fmt: skip
    return describe(db, store.create_monitor(db, record))


def _check_timeout(settle_s: float, timeout_s: float) -> None:
    if timeout_s < settle_s:
        raise InvalidArgument(
            f"timeout_s ({timeout_s:g}) must be at least settle_s ({settle_s:g}): it is the longer wait, for "
            "traces whose root span never ends."
        )


LIMITS = ("max_judgments_per_hour", "max_tokens_per_day", "max_cost_usd_per_day")


def changes_given(given: dict[str, Any]) -> dict[str, Any]:
    """The changes a caller asked for, from arguments where None means 'leave as it is': a limit
    of 0 removes that limit, and an empty filter_string watches every trace."""
    changes = {key: value for key, value in given.items() if value is not None}
    for key in LIMITS:
        if key in changes and changes[key] == 0 and not isinstance(changes[key], bool):
            changes[key] = None
    if changes.get("filter_string") is not None and not str(changes["filter_string"]).strip():
        changes["filter_string"] = None
    return changes


def update_monitor(db: Database, name: str, changes: dict[str, Any], *, allow_import: bool = False) -> Monitor:
    """Change a monitor: pause or resume it, its judges, filter, sample rate, waits or limits."""
    changes = dict(changes)
    if not changes:
        raise InvalidArgument(
            "nothing to change; pass paused, judges, filter_string, sample_rate, settle_s, timeout_s or a limit."
        )
    _check_settings(changes)
    if "judges" in changes:
        changes["judges"] = pin_judges(db, changes["judges"], allow_import=allow_import)
    if "paused" in changes and not isinstance(changes["paused"], bool):
        raise InvalidArgument(f"paused must be true or false; got {changes['paused']!r}.")
    current = store.get_monitor(db, name)
    _check_timeout(changes.get("settle_s", current.settle_s), changes.get("timeout_s", current.timeout_s))
    return describe(db, store.update_monitor(db, name, changes))


class MonitorList(BaseModel):
    monitors: list[Monitor]


def list_monitors(db: Database) -> MonitorList:
    return MonitorList(monitors=[describe(db, record) for record in store.list_monitors(db)])


def get_monitor(
    db: Database, name: str, *, granularity: Literal["hour", "day"] = "hour", periods: int | None = None,
    recent: int = 10,
) -> MonitorDetail:
    """The monitor with its metrics over the last `periods` hours (default 24) or days (default 30)."""
    if granularity not in ("hour", "day"):
        raise InvalidArgument(f"granularity must be 'hour' or 'day'; got {granularity!r}.")
    periods = periods if periods is not None else (24 if granularity == "hour" else 30)
    if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= 1_000:
        raise InvalidArgument(f"periods must be an integer from 1 to 1000; got {periods!r}.")
    if isinstance(recent, bool) or not isinstance(recent, int) or not 0 <= recent <= 100:
        raise InvalidArgument(f"recent must be an integer from 0 to 100; got {recent!r}.")
    record = store.get_monitor(db, name)
    bucket = HOUR_NS if granularity == "hour" else DAY_NS
    now = time.time_ns()
    since = (now // bucket - periods + 1) * bucket
    return MonitorDetail(
        **describe(db, record).model_dump(),
        granularity=granularity,
        metrics=[_point(p) for p in store.series(db, name, bucket, since)],
        skipped_because=store.skip_reasons(db, name, since),
        recent=[
            RecentResult(trace_id=r["trace_id"], judge=r["judge"], outcome=r["outcome"], value=r["value"],
                         error=r["error"], cost_usd=r["cost"], lag_s=r["lag_s"], time=iso_time(r["created_ns"]))  # fmt: skip
            for r in store.recent_results(db, name, recent)
        ],
    )


def _point(point: SeriesPoint) -> MetricsPoint:
    return MetricsPoint(
        **point.model_dump(exclude={"start_ns"}), start=iso_time(point.start_ns) or "", start_ms=point.start_ns // 10**6
    )


class Deleted(BaseModel):
    monitor: str
    judgments: int = Field(description="Judgments it had recorded; their feedback stays on the traces.")
    message: str


def delete_monitor(db: Database, name: str) -> Deleted:
    judged = store.delete_monitor(db, name)
    return Deleted(
        monitor=name, judgments=judged,
        message=f"monitor {name!r} deleted with its record of {judged:,} judgments; the feedback it logged stays "
        "on the traces (feedback.<judge> in a filter_string finds it).",
    )  # fmt: skip


def backfill(
    db: Database, name: str, *, start_ms: float | None = None, end_ms: float | None = None,
    max_traces: int = MAX_BACKFILL,
) -> BackfillReport:
    """Queue for judging the traces that started in [start_ms, end_ms) (default: from the
    beginning, up to now) that the monitor's filter selects, its sample takes and it has not
    judged: traces from before it was created, or ones it skipped. `tracejudge serve` judges them,
    within the monitor's limits."""
    for key, value in (("start_ms", start_ms), ("end_ms", end_ms)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise InvalidArgument(f"{key} must be milliseconds since 1970-01-01 UTC; got {value!r}.")
    if isinstance(max_traces, bool) or not isinstance(max_traces, int) or not 1 <= max_traces <= 100_000:
        raise InvalidArgument(f"max_traces must be an integer from 1 to 100,000; got {max_traces!r}.")
    start_ns = int(start_ms * 1e6) if start_ms is not None else 0
    end_ns = int(end_ms * 1e6) if end_ms is not None else time.time_ns()
    if end_ns <= start_ns:
        raise InvalidArgument(f"end_ms must be after start_ms; got start_ms={start_ms!r}, end_ms={end_ms!r}.")
    record = store.get_monitor(db, name)
    matched, queued, sampled_out = store.backfill(
        db, record, start_ns, end_ns, max_traces, lambda trace_id: in_sample(name, trace_id, record.sample_rate)
    )
    then = ("the monitor is paused: resume it (UpdateMonitor paused=false) and `tracejudge serve` judges them"
            if record.paused else "`tracejudge serve` judges them next; GetMonitor shows them as they are judged")  # fmt: skip
    return BackfillReport(
        monitor=name, matched=matched, queued=queued, sampled_out=sampled_out,
        message=f"{queued:,} traces queued ({sampled_out:,} left out by sample_rate={record.sample_rate:g}); {then}.",
    )  # fmt: skip


def describe(db: Database, record: MonitorRecord) -> Monitor:
    now = time.time_ns()
    counts = store.state_counts(db, record.name)
    hour = store.spend_since(db, record.name, now // HOUR_NS * HOUR_NS)
    day = store.spend_since(db, record.name, now // DAY_NS * DAY_NS)
    status, message = _status(record, hour, day, now)
    runners = store.live_runners(db, now)
    if status == "active":
        message = (f"judging traces as they complete ({runners} server process{'es' if runners != 1 else ''} running "
                   "the monitors)." if runners else "no process is running the monitors now: start `tracejudge serve` "
                   "(or `tracejudge monitors run`) and it judges what completed meanwhile.")  # fmt: skip
    return Monitor(
        name=record.name,
        judges=[MonitorJudge(name=j["name"], version=j.get("version"), kind=j["kind"]) for j in record.judges],
        filter_string=record.filter_string, sample_rate=record.sample_rate, settle_s=record.settle_s,
        timeout_s=record.timeout_s, max_judgments_per_hour=record.max_judgments_per_hour,
        max_tokens_per_day=record.max_tokens_per_day, max_cost_usd_per_day=record.max_cost_usd_per_day,
        status=status, status_message=message, runners=runners, watching_since=iso_time(record.created_ns),
        created_time=iso_time(record.created_ns), updated_time=iso_time(record.updated_ns),
        counts=MonitorCounts(judged=counts["judged"], sampled_out=counts["sampled_out"], skipped=counts["skipped"],
                             queued=counts["queued"], in_flight=counts["leased"]),
        this_hour=Spending(judgments=hour.judgments, tokens=hour.tokens, cost_usd=hour.cost_usd),
        today=Spending(judgments=day.judgments, tokens=day.tokens, cost_usd=day.cost_usd),
    )  # fmt: skip


def limit_reached(record: MonitorRecord, hour: store.Spend, day: store.Spend, now_ns: int) -> str | None:
    """Which of the monitor's limits this hour's or day's spend has reached, with the figures and
    when it resets; None while there is room."""
    if record.limited_until_ns is not None and record.limited_until_ns > now_ns and record.limited_reason:
        return record.limited_reason
    if record.max_judgments_per_hour is not None and hour.judgments >= record.max_judgments_per_hour:
        return (f"max_judgments_per_hour={record.max_judgments_per_hour:,} reached ({hour.judgments:,} this hour); "
                "judging resumes at the next full hour (UTC)")  # fmt: skip
    if record.max_tokens_per_day is not None and day.tokens >= record.max_tokens_per_day:
        return (f"max_tokens_per_day={record.max_tokens_per_day:,} reached ({day.tokens:,} tokens today); "
                "judging resumes at 00:00 UTC")  # fmt: skip
    if record.max_cost_usd_per_day is not None and day.cost_usd >= record.max_cost_usd_per_day:
        return (f"max_cost_usd_per_day={record.max_cost_usd_per_day:g} reached (${day.cost_usd:.4f} today); "
                "judging resumes at 00:00 UTC")  # fmt: skip
    return None


def _status(record: MonitorRecord, hour: store.Spend, day: store.Spend, now_ns: int) -> tuple[str, str]:
    if record.paused:
        return "paused", "paused: no trace is judged until UpdateMonitor(paused=false) resumes it."
    if record.last_error:
        return "failing", f"cannot judge: {record.last_error} (it tries again every minute)"
    if (reached := limit_reached(record, hour, day, now_ns)) is not None:
        return "limited", f"{reached}; traces completing until then are skipped (raise the limit with UpdateMonitor)."
    return "active", ""  # describe() says whether a process is running it
