"""Alert rules on a monitor's metrics or on issues, and the events of their firing and resolving.

A rule compares one judge's metric over a sliding window of the monitor's judgments (pass rate,
mean, errors, error rate, judgments, cost) with a threshold; or, with no monitor, a figure of the
issues over the traces that arrived in the window: new high-severity issues, the largest share of
traces an open issue shows, or one issue's share. Its state (ok or firing) moves only
through `transition`, an UPDATE guarded by the state it leaves, in the transaction that stores the
event: with several processes evaluating the same rule, one of them records each change and sends
its webhook.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.connection import Database
from store.errors import AlertRuleNotFound, InvalidArgument

Metric = Literal[
    "pass_rate", "mean", "errors", "error_rate", "judgments", "cost_usd", "new_high_severity", "max_share", "share"
]
METRICS: tuple[str, ...] = ("pass_rate", "mean", "errors", "error_rate", "judgments", "cost_usd")
"""A monitor judge's metrics."""
ISSUE_METRICS: dict[str, tuple[str, ...]] = {"issues": ("new_high_severity", "max_share"), "issue": ("share",)}
"""The figures of the issues ('issues/<metric>') and of one issue ('<issue id>/share')."""
OPS = ("<", "<=", ">", ">=")


class AlertRuleRecord(BaseModel):
    name: str
    monitor: str | None
    judge: str
    metric: Metric
    op: Literal["<", "<=", ">", ">="]
    threshold: float
    window_s: float = 3_600.0
    min_judgments: int = 20
    webhook_url: str | None = None
    state: Literal["ok", "firing"] = "ok"
    state_since_ns: int = 0
    last_value: float | None = None
    last_judgments: int | None = None
    last_checked_ns: int | None = None
    created_ns: int = 0


class AlertEventRecord(BaseModel):
    event_id: str
    rule: str
    kind: Literal["fired", "resolved"]
    value: float | None
    judgments: int
    message: str
    created_ns: int
    webhook_status: Literal["none", "pending", "delivered", "failed"] = Field(
        description="none (no webhook), pending, delivered, or failed (last_error says why)."
    )
    attempts: int = 0
    last_error: str | None = None
    payload: dict[str, Any] | None = None


_RULE_COLUMNS = (
    "name", "monitor", "judge", "metric", "op", "threshold", "window_s", "min_judgments", "webhook_url", "state",
    "state_since_ns", "last_value", "last_judgments", "last_checked_ns", "created_ns",
)  # fmt: skip
_EVENT_COLUMNS = (
    "event_id, rule, kind, value, judgments, message, created_ns, webhook_status, attempts, last_error, payload"
)


def create_rule(db: Database, record: AlertRuleRecord) -> AlertRuleRecord:
    now = time.time_ns()
    record = record.model_copy(update={"created_ns": now, "state_since_ns": now, "state": "ok"})
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM alert_rules WHERE name = ?", (record.name,)).fetchone():
            raise InvalidArgument(f"an alert rule named {record.name!r} exists already; delete it first, or pick another name.")
        conn.execute(
            f"INSERT INTO alert_rules ({', '.join(_RULE_COLUMNS)}) VALUES ({', '.join(':' + c for c in _RULE_COLUMNS)})",
            record.model_dump(),
        )
    return record


def get_rule(db: Database, name: str) -> AlertRuleRecord:
    row = db.reader().execute(f"SELECT {', '.join(_RULE_COLUMNS)} FROM alert_rules WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise AlertRuleNotFound(name)
    return AlertRuleRecord.model_validate(dict(row))


def list_rules(db: Database, monitor: str | None = None) -> list[AlertRuleRecord]:
    sql = f"SELECT {', '.join(_RULE_COLUMNS)} FROM alert_rules"
    rows = db.reader().execute(sql + (" WHERE monitor = ? ORDER BY name" if monitor else " ORDER BY name"),
                               (monitor,) if monitor else ())  # fmt: skip
    return [AlertRuleRecord.model_validate(dict(row)) for row in rows]


def delete_rule(db: Database, name: str) -> int:
    """Delete the rule and its events; returns how many events it had."""
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM alert_rules WHERE name = ?", (name,)).fetchone() is None:
            raise AlertRuleNotFound(name)
        events = conn.execute("SELECT count(*) FROM alert_events WHERE rule = ?", (name,)).fetchone()[0]
        conn.execute("DELETE FROM alert_events WHERE rule = ?", (name,))
        conn.execute("DELETE FROM alert_rules WHERE name = ?", (name,))
    return events


def window_figures(db: Database, monitor: str, judge: str, since_ns: int) -> dict[str, float | None]:
    """Every metric of `judge`'s judgments by `monitor` since `since_ns` (a budget's stops left out)."""
    row = db.reader().execute(
        "SELECT count(*), avg(passed), avg(value_number), coalesce(sum(outcome = 'error'), 0), coalesce(sum(cost), 0.0) "
        "FROM monitor_results WHERE monitor = ? AND judge = ? AND created_ns >= ? AND outcome != 'stopped'",
        (monitor, judge, since_ns),
    ).fetchone()
    count = int(row[0])
    return {
        "judgments": count, "pass_rate": row[1], "mean": row[2], "errors": int(row[3]),
        "error_rate": row[3] / count if count else None, "cost_usd": float(row[4]),
    }  # fmt: skip


def issue_figures(db: Database, subject: str, metric: str, since_ns: int) -> tuple[float | None, int]:
    """(value, traces that arrived in the window) of an issue rule, the window starting at
    `since_ns` (arrival, not the agent's own clock, so a window is what the store saw)."""
    conn = db.reader()
    total = conn.execute("SELECT count(*) FROM traces WHERE received_ns >= ?", (since_ns,)).fetchone()[0]
    if metric == "new_high_severity":
        count = conn.execute(
            "SELECT count(*) FROM issues WHERE created_ns >= ? AND severity IN ('high', 'critical') "
            "AND merged_into IS NULL", (since_ns,),
        ).fetchone()[0]  # fmt: skip
        return float(count), int(total)
    where = "i.status IN ('open', 'confirmed') AND i.merged_into IS NULL" if subject == "issues" else "i.issue_id = ?"
    params = (since_ns,) if subject == "issues" else (since_ns, subject)
    row = conn.execute(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM issue_evidence e JOIN traces t ON t.trace_id = e.trace_id "
        f"JOIN issues i ON i.issue_id = e.issue_id WHERE t.received_ns >= ? AND {where} GROUP BY e.issue_id)",
        params,
    ).fetchone()
    affected = row[0] or 0
    return (affected / total if total else None), int(total)


def record_check(db: Database, name: str, value: float | None, judgments: int) -> None:
    with db.transaction() as conn:
        conn.execute(
            "UPDATE alert_rules SET last_value = ?, last_judgments = ?, last_checked_ns = ? WHERE name = ?",
            (value, judgments, time.time_ns(), name),
        )


def transition(
    db: Database, name: str, to: Literal["ok", "firing"], *, value: float | None, judgments: int, message: str,
    payload: dict[str, Any] | None, webhook: bool,
) -> AlertEventRecord | None:
    """Move the rule to `to` and store the event, if it is not there already (another process may
    have moved it first: then None)."""
    leaving = "ok" if to == "firing" else "firing"
    now = time.time_ns()
    event = AlertEventRecord(
        event_id="ae-" + uuid.uuid4().hex[:16], rule=name, kind="fired" if to == "firing" else "resolved",
        value=value, judgments=judgments, message=message, created_ns=now,
        webhook_status="pending" if webhook else "none", payload=payload,
    )  # fmt: skip
    with db.transaction() as conn:
        moved = conn.execute(
            "UPDATE alert_rules SET state = ?, state_since_ns = ? WHERE name = ? AND state = ?", (to, now, name, leaving)
        ).rowcount
        if moved != 1:
            return None
        conn.execute(
            f"INSERT INTO alert_events ({_EVENT_COLUMNS}) VALUES (:event_id, :rule, :kind, :value, :judgments, "
            ":message, :created_ns, :webhook_status, :attempts, :last_error, :payload)",
            {**event.model_dump(), "payload": json.dumps(payload) if payload is not None else None},
        )
    return event


def delivery(db: Database, event_id: str, status: Literal["pending", "delivered", "failed"], attempts: int,
             error: str | None) -> None:  # fmt: skip
    with db.transaction() as conn:
        conn.execute(
            "UPDATE alert_events SET webhook_status = ?, attempts = ?, last_error = ? WHERE event_id = ?",
            (status, attempts, error, event_id),
        )


def _event(row: sqlite3.Row) -> AlertEventRecord:
    values = dict(row)
    values["payload"] = json.loads(values["payload"]) if values["payload"] else None
    return AlertEventRecord.model_validate(values)


def list_events(db: Database, rules: list[str] | None = None, limit: int = 50) -> list[AlertEventRecord]:
    """Events, newest first: of these rules, or of all."""
    where, params = ("WHERE rule IN (SELECT value FROM json_each(?))", [json.dumps(rules)]) if rules is not None else ("", [])
    rows = db.reader().execute(
        f"SELECT {_EVENT_COLUMNS} FROM alert_events {where} ORDER BY created_ns DESC, event_id LIMIT ?", [*params, limit]
    )
    return [_event(row) for row in rows]
