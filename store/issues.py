"""Issues: the failures of many traces gathered under one name, with their evidence.

An issue holds the signatures of the failure groups it gathers (mcp_server.issues.discovery makes
them: a failing span's name and error, a finding's category and span, a judge's failing verdict),
so discovering again adds new traces to the issue their group belongs to instead of making a
second one. Its evidence is one row per trace: the span that shows it and an excerpt. Merging
moves one issue's evidence and signatures into another and marks it merged; splitting moves some
traces' evidence out into a new issue.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.connection import Database
from store.errors import InvalidArgument, IssueNotFound

Status = Literal["open", "confirmed", "rejected", "resolved"]
STATUSES: tuple[Status, ...] = ("open", "confirmed", "rejected", "resolved")
SEVERITIES = ("low", "medium", "high", "critical")


class IssueRecord(BaseModel):
    issue_id: str
    title: str
    description: str = ""
    category: str
    severity: str = "medium"
    status: str = "open"
    root_cause: str | None = None
    merged_into: str | None = None
    created_ns: int = 0
    updated_ns: int = 0
    trace_count: int = 0
    first_seen_ns: int | None = Field(None, description="Start of the earliest trace showing it.")
    last_seen_ns: int | None = Field(None, description="Start of the latest trace showing it.")
    signatures: list[str] = Field(default_factory=list)


class Evidence(BaseModel):
    trace_id: str
    span_id: str | None = Field(description="The span that shows it.")
    excerpt: str
    source: str = Field(description="What found it: 'error span', or the judge's name.")
    trace_start_ns: int | None = None
    signature: str | None = Field(None, exclude=True)  # the failure group it came from (store only)


_ISSUE = (
    "i.issue_id, i.title, i.description, i.category, i.severity, i.status, i.root_cause, i.merged_into, "
    "i.created_ns, i.updated_ns, count(e.trace_id) AS trace_count, min(t.start_ns) AS first_seen_ns, "
    "max(t.start_ns) AS last_seen_ns"
)
_FROM = (
    "issues i LEFT JOIN issue_evidence e ON e.issue_id = i.issue_id LEFT JOIN traces t ON t.trace_id = e.trace_id"
)


def new_issue_id() -> str:
    return "iss-" + uuid.uuid4().hex[:12]


def _signatures(db: Database, issue_ids: Sequence[str]) -> dict[str, list[str]]:
    rows = db.reader().execute(
        "SELECT issue_id, signature FROM issue_signatures WHERE issue_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY signature", (json.dumps(list(issue_ids)),),
    )  # fmt: skip
    found: dict[str, list[str]] = {}
    for issue_id, signature in rows:
        found.setdefault(issue_id, []).append(signature)
    return found


def _records(db: Database, rows: Iterable[Any]) -> list[IssueRecord]:
    records = [IssueRecord.model_validate(dict(row)) for row in rows]
    signatures = _signatures(db, [r.issue_id for r in records])
    return [r.model_copy(update={"signatures": signatures.get(r.issue_id, [])}) for r in records]


def get_issue(db: Database, issue_id: str) -> IssueRecord:
    rows = db.reader().execute(f"SELECT {_ISSUE} FROM {_FROM} WHERE i.issue_id = ? GROUP BY i.issue_id", (issue_id,))
    found = _records(db, rows)
    if not found:
        raise IssueNotFound(issue_id)
    return found[0]


def list_issues(
    db: Database, *, status: str | None = None, category: str | None = None, include_merged: bool = False,
    order: Literal["traces", "recent"] = "traces", limit: int = 50, offset: int = 0,
) -> tuple[list[IssueRecord], int]:
    """One page of issues (most traces first, or most recently seen first) and how many match."""
    where, params = ["1"], []
    if status is not None:
        where.append("i.status = ?")
        params.append(status)
    if category is not None:
        where.append("i.category = ?")
        params.append(category)
    if not include_merged:
        where.append("i.merged_into IS NULL")
    clause = " AND ".join(where)
    total = db.reader().execute(f"SELECT count(*) FROM issues i WHERE {clause}", params).fetchone()[0]
    ordering = "trace_count DESC, last_seen_ns DESC" if order == "traces" else "last_seen_ns DESC, trace_count DESC"
    rows = db.reader().execute(
        f"SELECT {_ISSUE} FROM {_FROM} WHERE {clause} GROUP BY i.issue_id ORDER BY {ordering}, i.issue_id "
        "LIMIT ? OFFSET ?", [*params, limit, offset],
    )  # fmt: skip
    return _records(db, rows), total


def issue_for_signatures(db: Database, signatures: Sequence[str]) -> dict[str, str]:
    """signature -> the issue gathering it now (following merges)."""
    rows = db.reader().execute(
        "SELECT signature, issue_id FROM issue_signatures WHERE signature IN (SELECT value FROM json_each(?))",
        (json.dumps(list(signatures)),),
    )
    return dict(rows.fetchall())


def save_issue(db: Database, record: IssueRecord, evidence: Sequence[Evidence], signatures: Sequence[str]) -> int:
    """Create the issue if it is new, else add to it: its signatures and the evidence of traces it
    did not have yet. Returns how many traces were new to it."""
    now = time.time_ns()
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO issues (issue_id, title, description, category, severity, status, root_cause, "
            "created_ns, updated_ns) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
            (record.issue_id, record.title, record.description, record.category, record.severity, record.root_cause,
             now, now),
        )  # fmt: skip
        conn.executemany(
            "INSERT OR REPLACE INTO issue_signatures (signature, issue_id) VALUES (?, ?)",
            [(s, record.issue_id) for s in signatures],
        )
        before = conn.total_changes
        # A trace some issue already holds for this failure group (one it was split or merged into)
        # is not added again.
        conn.executemany(
            "INSERT OR IGNORE INTO issue_evidence (issue_id, trace_id, span_id, excerpt, source, signature, found_ns) "
            "SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM issue_evidence WHERE trace_id = ? "
            "AND signature = ?)",
            [(record.issue_id, e.trace_id, e.span_id, e.excerpt, e.source, e.signature, now, e.trace_id, e.signature)
             for e in evidence],
        )  # fmt: skip
        added = conn.total_changes - before
        if added:
            conn.execute("UPDATE issues SET updated_ns = ? WHERE issue_id = ?", (now, record.issue_id))
    return added


def evidence(db: Database, issue_id: str, limit: int, offset: int = 0) -> list[Evidence]:
    """The issue's evidence, newest traces first."""
    rows = db.reader().execute(
        "SELECT e.trace_id, e.span_id, e.excerpt, e.source, t.start_ns AS trace_start_ns FROM issue_evidence e "
        "LEFT JOIN traces t ON t.trace_id = e.trace_id WHERE e.issue_id = ? "
        "ORDER BY t.start_ns DESC, e.trace_id LIMIT ? OFFSET ?",
        (issue_id, limit, offset),
    )
    return [Evidence.model_validate(dict(row)) for row in rows]


def issue_trace_ids(db: Database, issue_id: str) -> list[str]:
    rows = db.reader().execute("SELECT trace_id FROM issue_evidence WHERE issue_id = ? ORDER BY trace_id", (issue_id,))
    return [row[0] for row in rows]


def update_issue(db: Database, issue_id: str, changes: dict[str, Any]) -> None:
    allowed = {"title", "description", "category", "severity", "status", "root_cause"}
    if unknown := changes.keys() - allowed:
        raise InvalidArgument(f"an issue's {sorted(unknown)} cannot be changed; UpdateIssue changes {sorted(allowed)}.")
    with db.transaction() as conn:
        row = conn.execute("SELECT merged_into FROM issues WHERE issue_id = ?", (issue_id,)).fetchone()
        if row is None:
            raise IssueNotFound(issue_id)
        if row[0] is not None:
            raise InvalidArgument(f"issue {issue_id!r} was merged into {row[0]!r}; change that one.")
        if changes:
            sets = ", ".join(f"{key} = :{key}" for key in changes)
            conn.execute(f"UPDATE issues SET {sets}, updated_ns = :now WHERE issue_id = :issue_id",
                         {**changes, "now": time.time_ns(), "issue_id": issue_id})  # fmt: skip


def merge_issues(db: Database, into: str, other: str) -> None:
    """Move `other`'s evidence and signatures into `into`; `other` is kept, marked merged."""
    if into == other:
        raise InvalidArgument("an issue cannot be merged into itself; name two different issues.")
    with db.transaction() as conn:
        for issue_id in (into, other):
            row = conn.execute("SELECT merged_into FROM issues WHERE issue_id = ?", (issue_id,)).fetchone()
            if row is None:
                raise IssueNotFound(issue_id)
            if row[0] is not None:
                raise InvalidArgument(f"issue {issue_id!r} was merged into {row[0]!r} already; name that one.")
        conn.execute(
            "INSERT OR IGNORE INTO issue_evidence (issue_id, trace_id, span_id, excerpt, source, signature, found_ns) "
            "SELECT ?, trace_id, span_id, excerpt, source, signature, found_ns FROM issue_evidence WHERE issue_id = ?",
            (into, other),
        )
        conn.execute("DELETE FROM issue_evidence WHERE issue_id = ?", (other,))
        conn.execute("UPDATE issue_signatures SET issue_id = ? WHERE issue_id = ?", (into, other))
        now = time.time_ns()
        conn.execute("UPDATE issues SET merged_into = ?, updated_ns = ? WHERE issue_id = ?", (into, now, other))
        conn.execute("UPDATE issues SET updated_ns = ? WHERE issue_id = ?", (now, into))


def split_issue(db: Database, issue_id: str, trace_ids: Sequence[str], title: str) -> str:
    """Move the evidence of `trace_ids` out of the issue into a new one named `title`; its id."""
    source = get_issue(db, issue_id)
    if source.merged_into is not None:
        raise InvalidArgument(f"issue {issue_id!r} was merged into {source.merged_into!r}; split that one.")
    held = set(issue_trace_ids(db, issue_id))
    missing = [t for t in trace_ids if t not in held]
    if missing or not trace_ids or set(trace_ids) == held:
        raise InvalidArgument(
            f"split moves some of the issue's traces, not none or all; {missing[:3] or 'all'} of those given "
            f"{'are not its' if missing else 'are every trace it has'}. GetIssue lists its traces."
        )
    new_id = new_issue_id()
    now = time.time_ns()
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO issues (issue_id, title, description, category, severity, status, root_cause, created_ns, "
            "updated_ns) VALUES (?, ?, ?, ?, ?, 'open', NULL, ?, ?)",
            (new_id, title, f"Split from {issue_id}: {source.title}", source.category, source.severity, now, now),
        )
        conn.execute(
            "UPDATE issue_evidence SET issue_id = ? WHERE issue_id = ? AND trace_id IN (SELECT value FROM json_each(?))",
            (new_id, issue_id, json.dumps(list(trace_ids))),
        )
    return new_id


def prevalence(db: Database, issue_id: str, window_ns: int, now_ns: int) -> dict[str, Any]:
    """The traces showing the issue among all traces started in the window ending now, and in the
    window before it."""
    def count(start: int, end: int) -> tuple[int, int]:
        row = db.reader().execute(
            "SELECT (SELECT count(*) FROM traces WHERE start_ns >= :s AND start_ns < :e), "
            "(SELECT count(*) FROM issue_evidence ev JOIN traces t ON t.trace_id = ev.trace_id "
            "WHERE ev.issue_id = :issue AND t.start_ns >= :s AND t.start_ns < :e)",
            {"s": start, "e": end, "issue": issue_id},
        ).fetchone()
        return int(row[1]), int(row[0])

    affected, total = count(now_ns - window_ns, now_ns)
    before, before_total = count(now_ns - 2 * window_ns, now_ns - window_ns)
    return {"affected": affected, "total": total, "previous_affected": before, "previous_total": before_total}


def error_spans(db: Database, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The spans of these traces whose status is ERROR: ids, parent, name, message and error.type."""
    rows = db.reader().execute(
        "SELECT trace_id, span_id, parent_span_id, name, status_message, "
        "json_extract(attributes, '$.\"error.type\"') AS error_type FROM spans "
        "WHERE trace_id IN (SELECT value FROM json_each(?)) AND status_code = 'ERROR' ORDER BY trace_id, start_ns",
        (json.dumps(list(trace_ids)),),
    )
    return [dict(row) for row in rows]


def latest_feedback(db: Database, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The newest valid feedback of each name on each trace (and span) of these traces, with the
    trace's root span id (where a verdict on the whole trace is anchored)."""
    rows = db.reader().execute(
        "SELECT f.trace_id, f.span_id, f.name, f.source_type, f.value, f.rationale, f.findings, "
        "t.root_span_id FROM (SELECT *, row_number() OVER (PARTITION BY trace_id, coalesce(span_id, ''), name "
        "ORDER BY created_ns DESC) AS n FROM assessments WHERE kind = 'feedback' AND valid = 1 AND error IS NULL "
        "AND trace_id IN (SELECT value FROM json_each(?))) f JOIN traces t ON t.trace_id = f.trace_id "
        "WHERE f.n = 1 ORDER BY f.trace_id, f.name",
        (json.dumps(list(trace_ids)),),
    )
    found = []
    for row in rows:
        values = dict(row)
        values["value"] = json.loads(values["value"]) if values["value"] is not None else None
        values["findings"] = json.loads(values["findings"]) if values["findings"] else []
        found.append(values)
    return found


def span_names(db: Database, spans: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(trace id, span id) -> span name, for these spans (those that exist)."""
    rows = db.reader().execute(
        "SELECT trace_id, span_id, name FROM spans WHERE (trace_id, span_id) IN "
        "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
        (json.dumps([list(pair) for pair in spans]),),
    )
    return {(row[0], row[1]): row[2] for row in rows}
