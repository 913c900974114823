"""Release gates: named, versioned definitions (metric conditions and policy judges), and the
per-judge pass counts of a run that a policy is checked against."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel

from store.connection import Database
from store.errors import GateNotFound


class GateRecord(BaseModel):
    name: str
    version: int
    definition: dict[str, Any]
    description: str = ""
    created_ns: int


def create_gate_version(db: Database, name: str, definition: dict[str, Any], description: str = "") -> GateRecord:
    """Store `definition` as the next version of gate `name` (1 for a new name)."""
    now = time.time_ns()
    with db.transaction() as conn:
        latest = conn.execute("SELECT max(version) FROM gates WHERE name = ?", (name,)).fetchone()[0] or 0
        conn.execute(
            "INSERT INTO gates (name, version, definition, description, created_ns) VALUES (?, ?, ?, ?, ?)",
            (name, latest + 1, json.dumps(definition), description, now),
        )
    return GateRecord(name=name, version=latest + 1, definition=definition, description=description, created_ns=now)


def _record(row: Any) -> GateRecord:
    return GateRecord(name=row[0], version=row[1], definition=json.loads(row[2]), description=row[3], created_ns=row[4])


def get_gate(db: Database, name: str, version: int | None = None) -> GateRecord:
    sql = "SELECT name, version, definition, description, created_ns FROM gates WHERE name = ?"
    row = db.reader().execute(
        sql + (" AND version = ?" if version is not None else " ORDER BY version DESC LIMIT 1"),
        (name, version) if version is not None else (name,),
    ).fetchone()
    if row is None:
        raise GateNotFound(name, version)
    return _record(row)


def list_gates(db: Database) -> list[GateRecord]:
    """Each gate at its latest version, by name."""
    rows = db.reader().execute(
        "SELECT name, version, definition, description, created_ns FROM gates g WHERE version = "
        "(SELECT max(version) FROM gates WHERE name = g.name) ORDER BY name"
    )
    return [_record(row) for row in rows]


def policy_counts(db: Database, run_id: str, judge: str, limit: int) -> tuple[int, int, list[str]]:
    """(results, passing results, up to `limit` traces that did not pass: failed or erred) of
    `judge` in the run."""
    conn = db.reader()
    total, passing = conn.execute(
        "SELECT count(*), coalesce(sum(passed = 1), 0) FROM evaluation_results WHERE run_id = ? AND judge = ?",
        (run_id, judge),
    ).fetchone()
    rows = conn.execute(
        "SELECT trace_id FROM evaluation_results WHERE run_id = ? AND judge = ? AND (passed IS NOT 1) "
        "ORDER BY trace_id LIMIT ?", (run_id, judge, limit),
    )  # fmt: skip
    return int(total), int(passing), [row[0] for row in rows]
