"""Monitors: judges that run by themselves on the traces that arrive, and what they decided.

A monitor watches the traces its filter selects, from its checkpoint on: every trace whose last
span arrived at or before `checkpoint_ns` has been decided (judged, sampled out, skipped by a
limit, or queued), so a scan reads only what arrived after it. A trace is complete, and so ready
to judge, once its root span has ended and no span arrived for `settle_s`, or once no span arrived
for `timeout_s` whatever its root did.

Each decision is one row of monitor_traces, and that row is also the lease: a process takes a
trace by inserting the row (INSERT OR IGNORE: one process wins) or by taking over a queued row or
one whose lease expired (an UPDATE guarded by the state it read), and records its verdicts in the
same transaction that marks the row judged, guarded by still holding the lease. So with any number
of processes on one file each trace is judged once, and a process killed part way leaves leases
that expire and are taken again, never a verdict recorded twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from store import assessments as assessment_store
from store.connection import Database
from store.errors import InvalidArgument, MonitorNotFound
from store.evaluations import passed, value_number
from store.json_text import dumps
from store.search import common_terms_probe, compile_filter

State = Literal["queued", "leased", "judged", "sampled_out", "skipped"]
STATES: tuple[State, ...] = ("queued", "leased", "judged", "sampled_out", "skipped")

CHECKPOINT_MARGIN_NS = 60 * 10**9
"""How far behind `now - timeout_s` the checkpoint stays: a batch's arrival time is taken just before
its transaction, which may wait for the write lock (busy_timeout) before it commits."""

DEFAULT_SETTLE_S = 30.0
DEFAULT_TIMEOUT_S = 600.0
HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS


class MonitorRecord(BaseModel):
    name: str
    judges: list[dict[str, Any]] = Field(description="[{name, ref, version, kind, source_id}], versions pinned.")
    filter_string: str | None = None
    sample_rate: float = 1.0
    settle_s: float = DEFAULT_SETTLE_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_judgments_per_hour: int | None = None
    max_tokens_per_day: int | None = None
    max_cost_usd_per_day: float | None = None
    paused: bool = False
    checkpoint_ns: int = 0
    created_ns: int = 0
    updated_ns: int = 0
    last_error: str | None = None
    last_error_ns: int | None = None
    limited_until_ns: int | None = None
    limited_reason: str | None = None


_COLUMNS = (
    "name", "judges", "filter_string", "sample_rate", "settle_s", "timeout_s", "max_judgments_per_hour",
    "max_tokens_per_day", "max_cost_usd_per_day", "paused", "checkpoint_ns", "created_ns", "updated_ns",
    "last_error", "last_error_ns", "limited_until_ns", "limited_reason",
)  # fmt: skip
UPDATABLE = (
    "judges", "filter_string", "sample_rate", "settle_s", "timeout_s", "max_judgments_per_hour",
    "max_tokens_per_day", "max_cost_usd_per_day", "paused",
)  # fmt: skip
"""The fields UpdateMonitor may change; the name, the checkpoint and the history stay."""


def _record(row: sqlite3.Row) -> MonitorRecord:
    values = dict(row)
    values["judges"] = json.loads(values["judges"])
    values["paused"] = bool(values["paused"])
    return MonitorRecord.model_validate(values)


def _row(record: MonitorRecord) -> dict[str, Any]:
    values = record.model_dump()
    values["judges"] = dumps(values["judges"])
    values["paused"] = int(values["paused"])
    return values


def create_monitor(db: Database, record: MonitorRecord) -> MonitorRecord:
    """Store a new monitor; it watches the traces that arrive from now on (checkpoint = now)."""
    now = time.time_ns()
    record = record.model_copy(update={"checkpoint_ns": now, "created_ns": now, "updated_ns": now})
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM monitors WHERE name = ?", (record.name,)).fetchone():
            raise InvalidArgument(
                f"a monitor named {record.name!r} exists already; change it with UpdateMonitor, or pick another name."
            )
        conn.execute(
            f"INSERT INTO monitors ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})",
            _row(record),
        )
    return record


def get_monitor(db: Database, name: str) -> MonitorRecord:
    row = db.reader().execute(f"SELECT {', '.join(_COLUMNS)} FROM monitors WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise MonitorNotFound(name)
    return _record(row)


def list_monitors(db: Database) -> list[MonitorRecord]:
    rows = db.reader().execute(f"SELECT {', '.join(_COLUMNS)} FROM monitors ORDER BY name")
    return [_record(row) for row in rows]


def update_monitor(db: Database, name: str, changes: dict[str, Any]) -> MonitorRecord:
    """Change the UPDATABLE fields in `changes`; returns the monitor as stored."""
    unknown = changes.keys() - set(UPDATABLE)
    if unknown:
        raise InvalidArgument(f"a monitor's {sorted(unknown)} cannot be changed; UpdateMonitor changes {list(UPDATABLE)}.")
    with db.transaction() as conn:
        row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM monitors WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise MonitorNotFound(name)
        record = _record(row).model_copy(update={**changes, "updated_ns": time.time_ns()})
        values = _row(record)
        # A monitor resumed or changed starts afresh: the error or limit it last met may be gone.
        conn.execute(
            f"UPDATE monitors SET {', '.join(f'{c} = :{c}' for c in (*changes, 'updated_ns'))}, "
            "last_error = NULL, last_error_ns = NULL, limited_until_ns = NULL, limited_reason = NULL WHERE name = :name",
            values,
        )
    return record.model_copy(
        update={"last_error": None, "last_error_ns": None, "limited_until_ns": None, "limited_reason": None}
    )


def delete_monitor(db: Database, name: str) -> int:
    """Delete the monitor and its decisions (the feedback it logged stays on the traces); returns
    how many judgments it had recorded."""
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM monitors WHERE name = ?", (name,)).fetchone() is None:
            raise MonitorNotFound(name)
        judged = conn.execute("SELECT count(*) FROM monitor_results WHERE monitor = ?", (name,)).fetchone()[0]
        conn.execute("DELETE FROM alert_events WHERE rule IN (SELECT name FROM alert_rules WHERE monitor = ?)", (name,))
        conn.execute("DELETE FROM alert_rules WHERE monitor = ?", (name,))
        conn.execute("DELETE FROM monitor_results WHERE monitor = ?", (name,))
        conn.execute("DELETE FROM monitor_traces WHERE monitor = ?", (name,))
        conn.execute("DELETE FROM monitors WHERE name = ?", (name,))
    return judged


def set_error(db: Database, name: str, error: str | None) -> None:
    """Say what kept the monitor from judging (None: nothing any more)."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE monitors SET last_error = ?, last_error_ns = ? WHERE name = ?",
            (error, time.time_ns() if error else None, name),
        )


def set_limited(db: Database, name: str, until_ns: int, reason: str) -> None:
    """Say that a limit stops the monitor until `until_ns` (the next UTC day, for the daily budget)."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE monitors SET limited_until_ns = ?, limited_reason = ? WHERE name = ?", (until_ns, reason, name)
        )


@dataclass(frozen=True)
class Candidate:
    """A trace ready for a monitor: complete, selected by its filter, not yet decided (or queued,
    or its lease expired). `completed_ns` is when it became complete (None for a backfilled one)."""

    trace_id: str
    completed_ns: int | None
    received_ns: int | None = None


def complete_traces(db: Database, monitor: MonitorRecord, now_ns: int, limit: int) -> list[Candidate]:
    """The oldest `limit` traces that arrived after the monitor's checkpoint, are complete at
    `now_ns`, match its filter and that it has not decided, by arrival."""
    where, params = compile_filter(monitor.filter_string, common_terms_probe(db))
    settle, timeout = int(monitor.settle_s * 1e9), int(monitor.timeout_s * 1e9)
    params.update(m_checkpoint=monitor.checkpoint_ns, m_settle=settle, m_timeout=timeout, m_now=now_ns,
                  m_name=monitor.name, m_limit=limit)  # fmt: skip
    rows = db.reader().execute(
        "SELECT t.trace_id, t.received_ns, r.end_ns IS NOT NULL AND t.received_ns <= :m_now - :m_settle AS settled "
        "FROM traces t LEFT JOIN spans r ON r.trace_id = t.trace_id AND r.span_id = t.root_span_id "
        "WHERE t.received_ns > :m_checkpoint "
        "AND ((r.end_ns IS NOT NULL AND t.received_ns <= :m_now - :m_settle) OR t.received_ns <= :m_now - :m_timeout) "
        "AND NOT EXISTS (SELECT 1 FROM monitor_traces m WHERE m.monitor = :m_name AND m.trace_id = t.trace_id) "
        f"AND ({where}) ORDER BY t.received_ns, t.trace_id LIMIT :m_limit",
        params,
    ).fetchall()
    return [
        Candidate(row[0], row[1] + (settle if row[2] else timeout), row[1]) for row in rows
    ]


def waiting_traces(db: Database, monitor: str, now_ns: int, limit: int) -> list[Candidate]:
    """The monitor's queued traces and those whose lease expired (their process died), oldest first."""
    rows = db.reader().execute(
        "SELECT trace_id, completed_ns FROM monitor_traces WHERE monitor = :name AND "
        "(state = 'queued' OR (state = 'leased' AND lease_expires_ns < :now)) ORDER BY decided_ns, trace_id LIMIT :limit",
        {"name": monitor, "now": now_ns, "limit": limit},
    )
    return [Candidate(row[0], row[1]) for row in rows]


def claim(
    db: Database, monitor: str, owner: str, lease_until_ns: int, new: Sequence[tuple[Candidate, bool]],
    waiting: Sequence[Candidate], now_ns: int,
) -> list[Candidate]:
    """Take the traces to judge, in one transaction: each new candidate (with whether it is in the
    sample; one out of it is decided 'sampled_out' at once) unless another process decided it
    first, and each waiting one unless another process took it first. Returns those this owner
    now holds a lease on."""
    held: list[Candidate] = []
    with db.transaction() as conn:
        for candidate, in_sample in new:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO monitor_traces (monitor, trace_id, state, owner, lease_expires_ns, completed_ns, "
                "decided_ns) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (monitor, candidate.trace_id, "leased" if in_sample else "sampled_out", owner if in_sample else None,
                 lease_until_ns if in_sample else None, candidate.completed_ns, now_ns),
            )  # fmt: skip
            if cursor.rowcount == 1 and in_sample:
                held.append(candidate)
        for candidate in waiting:
            cursor = conn.execute(
                "UPDATE monitor_traces SET state = 'leased', owner = ?, lease_expires_ns = ? WHERE monitor = ? AND "
                "trace_id = ? AND (state = 'queued' OR (state = 'leased' AND lease_expires_ns < ?))",
                (owner, lease_until_ns, monitor, candidate.trace_id, now_ns),
            )
            if cursor.rowcount == 1:
                held.append(candidate)
    return held


def advance_checkpoint(db: Database, monitor: str, checkpoint_ns: int) -> None:
    """Move the checkpoint forward (never back)."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE monitors SET checkpoint_ns = max(checkpoint_ns, ?) WHERE name = ?", (checkpoint_ns, monitor)
        )


def runner_seen(db: Database, owner: str, poll_s: float) -> None:
    """Record that `owner` is running the monitors now (it polls every poll_s)."""
    now = time.time_ns()
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO monitor_runners (owner, poll_s, started_ns, last_poll_ns) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (owner) DO UPDATE SET last_poll_ns = excluded.last_poll_ns",
            (owner, poll_s, now, now),
        )


def runner_gone(db: Database, owner: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM monitor_runners WHERE owner = ?", (owner,))


def live_runners(db: Database, now_ns: int) -> int:
    """Processes that polled within three of their polls (and 10 s): those running the monitors."""
    return db.reader().execute(
        "SELECT count(*) FROM monitor_runners WHERE last_poll_ns >= ? - (poll_s * 3 + 10) * 1000000000", (now_ns,)
    ).fetchone()[0]


def renew_leases(db: Database, owner: str, lease_until_ns: int) -> int:
    """Extend every lease `owner` holds (its judgments are still running); returns how many."""
    with db.transaction() as conn:
        return conn.execute(
            "UPDATE monitor_traces SET lease_expires_ns = ? WHERE owner = ? AND state = 'leased'",
            (lease_until_ns, owner),
        ).rowcount


def release(db: Database, owner: str, monitor: str | None = None, trace_id: str | None = None) -> int:
    """Give leases back undecided (queued again, for any process to take): one trace's, or all of
    `owner`'s (as it stops). Returns how many."""
    sql = "UPDATE monitor_traces SET state = 'queued', owner = NULL, lease_expires_ns = NULL WHERE owner = ? AND state = 'leased'"
    params: list[Any] = [owner]
    if monitor is not None:
        sql += " AND monitor = ? AND trace_id = ?"
        params += [monitor, trace_id]
    with db.transaction() as conn:
        return conn.execute(sql, params).rowcount


def skip(db: Database, monitor: str, trace_id: str, owner: str, reason: str) -> bool:
    """Decide a leased trace 'skipped' for `reason` (a limit reached); False if the lease was lost."""
    with db.transaction() as conn:
        return conn.execute(
            "UPDATE monitor_traces SET state = 'skipped', reason = ?, owner = NULL, lease_expires_ns = NULL, "
            "decided_ns = ? WHERE monitor = ? AND trace_id = ? AND owner = ? AND state = 'leased'",
            (reason, time.time_ns(), monitor, trace_id, owner),
        ).rowcount == 1


class MonitorResult(BaseModel):
    """One judge's outcome on one trace."""

    judge: str
    source_id: str | None = None
    outcome: Literal["value", "error", "stopped"]
    value: Any = None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency_s: float | None = None


def record_judgments(
    db: Database, monitor: str, trace_id: str, owner: str, results: Sequence[MonitorResult],
    feedback: Sequence[assessment_store.NewAssessment], completed_ns: int | None, skipped: str | None = None,
) -> dict[str, str] | None:
    """Mark the trace judged (or, with `skipped`, skipped for that reason: a judgment the daily
    budget stopped part way) and store its results and feedback, in one transaction, if `owner`
    still holds its lease; None (nothing stored) if not. Returns judge -> assessment id."""
    now = time.time_ns()
    ids: dict[str, str] = {}
    with db.transaction() as conn:
        taken = conn.execute(
            "UPDATE monitor_traces SET state = ?, reason = ?, owner = NULL, lease_expires_ns = NULL, decided_ns = ? "
            "WHERE monitor = ? AND trace_id = ? AND owner = ? AND state = 'leased'",
            ("skipped" if skipped else "judged", skipped, now, monitor, trace_id, owner),
        ).rowcount
        if taken != 1:
            return None
        for new in feedback:
            assessment_store.insert_assessment(conn, new)
            ids[new.row["name"]] = new.row["assessment_id"]
        conn.executemany(
            "INSERT OR REPLACE INTO monitor_results (monitor, trace_id, judge, source_id, assessment_id, outcome, value, "
            "value_number, passed, error, input_tokens, output_tokens, cost, latency_s, lag_s, created_ns) VALUES "
            "(:monitor, :trace_id, :judge, :source_id, :assessment_id, :outcome, :value, :value_number, :passed, "
            ":error, :input_tokens, :output_tokens, :cost, :latency_s, :lag_s, :created_ns)",
            [
                {
                    **r.model_dump(exclude={"value"}),
                    "monitor": monitor, "trace_id": trace_id, "assessment_id": ids.get(r.judge),
                    "value": dumps(r.value) if r.outcome == "value" else None,
                    "value_number": value_number(r.value) if r.outcome == "value" else None,
                    "passed": passed(r.value) if r.outcome == "value" else None,
                    "lag_s": (now - completed_ns) / 1e9 if completed_ns is not None else None,
                    "created_ns": now,
                }
                for r in results
            ],
        )  # fmt: skip
    return ids


@dataclass(frozen=True)
class Spend:
    judgments: int
    tokens: int
    cost_usd: float


def spend_since(db: Database, monitor: str, since_ns: int) -> Spend:
    """Judgments (traces judged), tokens and cost the monitor recorded since `since_ns`, by every process."""
    row = db.reader().execute(
        "SELECT count(DISTINCT trace_id), coalesce(sum(input_tokens + output_tokens), 0), coalesce(sum(cost), 0.0) "
        "FROM monitor_results WHERE monitor = ? AND created_ns >= ?",
        (monitor, since_ns),
    ).fetchone()
    return Spend(int(row[0]), int(row[1]), float(row[2]))


def state_counts(db: Database, monitor: str) -> dict[str, int]:
    """How many traces the monitor has in each state (every state named, 0 included)."""
    rows = db.reader().execute(
        "SELECT state, count(*) FROM monitor_traces WHERE monitor = ? GROUP BY state", (monitor,)
    )
    counts = dict.fromkeys(STATES, 0)
    counts.update({state: count for state, count in rows})
    return counts


def skip_reasons(db: Database, monitor: str, since_ns: int) -> dict[str, int]:
    """Why traces were skipped since `since_ns`, with how many."""
    rows = db.reader().execute(
        "SELECT reason, count(*) FROM monitor_traces WHERE monitor = ? AND state = 'skipped' AND decided_ns >= ? "
        "GROUP BY reason ORDER BY count(*) DESC",
        (monitor, since_ns),
    )
    return {reason or "": count for reason, count in rows}


class SeriesPoint(BaseModel):
    """One judge's judgments in one hour or day (UTC)."""

    judge: str
    start_ns: int
    judgments: int = Field(description="Verdicts and errors (a judgment the daily budget stopped is neither).")
    errors: int
    pass_rate: float | None = Field(description="Passing share of the boolean and yes/no verdicts; None without any.")
    mean: float | None = Field(description="Mean of the numeric (and boolean, as 1/0) verdicts; None without any.")
    cost_usd: float
    tokens: int
    mean_lag_s: float | None = Field(description="Mean time from a trace's completion to its verdict.")


def series(db: Database, monitor: str, bucket_ns: int, since_ns: int) -> list[SeriesPoint]:
    """The monitor's judgments since `since_ns` per judge and per bucket (HOUR_NS or DAY_NS, aligned
    to UTC), oldest first; buckets without judgments are left out."""
    rows = db.reader().execute(
        "SELECT judge, (created_ns / :bucket) * :bucket AS start_ns, "
        "sum(outcome != 'stopped'), sum(outcome = 'error'), avg(passed), avg(value_number), "
        "coalesce(sum(cost), 0.0), coalesce(sum(input_tokens + output_tokens), 0), avg(lag_s) "
        "FROM monitor_results WHERE monitor = :monitor AND created_ns >= :since "
        "GROUP BY judge, start_ns ORDER BY start_ns, judge",
        {"bucket": bucket_ns, "monitor": monitor, "since": since_ns},
    )
    return [
        SeriesPoint(judge=r[0], start_ns=r[1], judgments=r[2], errors=r[3], pass_rate=r[4], mean=r[5],
                    cost_usd=r[6], tokens=r[7], mean_lag_s=r[8])  # fmt: skip
        for r in rows
    ]


def backfill(
    db: Database, monitor: MonitorRecord, start_ns: int, end_ns: int, limit: int, in_sample: Callable[[str], bool]
) -> tuple[int, int, int]:
    """Queue the traces that started in [start_ns, end_ns), match the monitor's filter, arrived at
    or before its checkpoint (later ones its scans take) and that it has not judged, queued or
    leased; `in_sample(trace_id)` says which the sample takes (the others stay or become
    sampled_out). Returns (matched, queued, sampled_out); InvalidArgument past `limit` matches."""
    where, params = compile_filter(monitor.filter_string, common_terms_probe(db))
    params.update(m_start=start_ns, m_end=end_ns, m_checkpoint=monitor.checkpoint_ns, m_name=monitor.name,
                  m_limit=limit + 1)  # fmt: skip
    ids = [
        row[0]
        for row in db.reader().execute(
            "SELECT t.trace_id FROM traces t WHERE t.start_ns >= :m_start AND t.start_ns < :m_end "
            "AND t.received_ns <= :m_checkpoint AND NOT EXISTS (SELECT 1 FROM monitor_traces m WHERE "
            "m.monitor = :m_name AND m.trace_id = t.trace_id AND m.state IN ('judged', 'queued', 'leased')) "
            f"AND ({where}) ORDER BY t.start_ns, t.trace_id LIMIT :m_limit",
            params,
        )
    ]
    if len(ids) > limit:
        raise InvalidArgument(
            f"more than max_traces={limit:,} traces match in that time range; narrow the range or raise max_traces."
        )
    now = time.time_ns()
    taken = [trace_id for trace_id in ids if in_sample(trace_id)]
    left_out = set(ids) - set(taken)
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO monitor_traces (monitor, trace_id, state, decided_ns) VALUES (?, ?, 'queued', ?) "
            "ON CONFLICT (monitor, trace_id) DO UPDATE SET state = 'queued', reason = NULL, owner = NULL, "
            "lease_expires_ns = NULL, completed_ns = NULL, decided_ns = excluded.decided_ns "
            "WHERE state IN ('sampled_out', 'skipped')",
            [(monitor.name, trace_id, now) for trace_id in taken],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO monitor_traces (monitor, trace_id, state, decided_ns) VALUES (?, ?, 'sampled_out', ?)",
            [(monitor.name, trace_id, now) for trace_id in ids if trace_id in left_out],
        )
    return len(ids), len(taken), len(ids) - len(taken)


def recent_results(db: Database, monitor: str, limit: int) -> list[dict[str, Any]]:
    """The monitor's newest results, newest first."""
    rows = db.reader().execute(
        "SELECT trace_id, judge, outcome, value, error, cost, lag_s, created_ns FROM monitor_results "
        "WHERE monitor = ? ORDER BY created_ns DESC, trace_id, judge LIMIT ?",
        (monitor, limit),
    )
    return [
        {**dict(row), "value": json.loads(row["value"]) if row["value"] is not None else None} for row in rows
    ]


def judged_trace_ids(db: Database, monitor: str) -> list[str]:
    """Every trace the monitor judged, by trace id."""
    rows = db.reader().execute(
        "SELECT trace_id FROM monitor_traces WHERE monitor = ? AND state = 'judged' ORDER BY trace_id", (monitor,)
    )
    return [row[0] for row in rows]
