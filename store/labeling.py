"""Labeling: schemas (what to ask a person about a trace) and sessions (queues of traces to ask it about).

The labels themselves are not here: each is a HUMAN assessment named after its schema (in
store.assessments), which is what judge alignment reads. A label given in a session carries the
session's id in its metadata (LABEL_SESSION_KEY), so a session can tell its own labels from the
same schema's labels given elsewhere. What a schema's input means (kinds, options, ranges) is
checked above the store, in mcp_server.labeling; the store keeps its JSON.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from store import assessments
from store.connection import Database
from store.errors import InvalidArgument, LabelingSchemaNotFound, LabelingSessionNotFound
from store.json_text import dumps

SchemaType = Literal["feedback", "expectation"]
ItemStatus = Literal["pending", "completed", "skipped"]
ITEM_STATUSES: tuple[str, ...] = ("pending", "completed", "skipped")
LABEL_SESSION_KEY = "labeling_session"
"""The metadata key of a label that names the session it was given in."""


class LabelingSchemaRecord(BaseModel):
    name: str
    type: SchemaType
    input: dict[str, Any]
    instructions: str
    enable_comment: bool
    created_ns: int


class LabelingSessionRecord(BaseModel):
    session_id: str
    name: str
    schemas: list[str]
    assignees: list[str]
    created_ns: int
    status_counts: dict[str, int]
    """How many of its items are pending, completed and skipped (every status present)."""
    labeled_by: dict[str, int]
    """How many of its traces each labeler has given a label in the session, most first."""


class LabelingItemRecord(BaseModel):
    session_id: str
    trace_id: str
    position: int
    status: ItemStatus
    assignee: str | None
    updated_ns: int


class SessionLabel(BaseModel):
    """A valid label given in a session: a HUMAN assessment named after one of its schemas."""

    assessment_id: str
    trace_id: str
    schema_name: str
    kind: str
    value: Any
    labeler: str | None
    comment: str | None
    created_ns: int


# --- schemas ------------------------------------------------------------------------------------

_SCHEMA_COLUMNS = "name, type, input, instructions, enable_comment, created_ns"


def _schema(row: sqlite3.Row) -> LabelingSchemaRecord:
    data = dict(row)
    data["input"] = json.loads(data["input"])
    data["enable_comment"] = bool(data["enable_comment"])
    return LabelingSchemaRecord.model_validate(data)


def put_schema(
    db: Database,
    name: str,
    type: SchemaType,
    input: dict[str, Any],
    *,
    instructions: str = "",
    enable_comment: bool = False,
    overwrite: bool = False,
) -> LabelingSchemaRecord:
    """Store a schema. A name that exists is an error unless `overwrite`, which replaces the
    definition; labels already given under that name stay as they are (they are assessments)."""
    row = {
        "name": name,
        "type": type,
        "input": dumps(input),
        "instructions": instructions,
        "enable_comment": int(enable_comment),
        "created_ns": time.time_ns(),
    }
    with db.transaction() as conn:
        exists = conn.execute("SELECT 1 FROM labeling_schemas WHERE name = ?", (name,)).fetchone() is not None
        if exists and not overwrite:
            raise InvalidArgument(
                f"labeling schema {name!r} exists; pass overwrite=true to replace its definition (labels "
                "already given under it are kept), or choose another name."
            )
        conn.execute(
            f"INSERT OR REPLACE INTO labeling_schemas ({_SCHEMA_COLUMNS}) VALUES "
            "(:name, :type, :input, :instructions, :enable_comment, :created_ns)",
            row,
        )
    return _schema_from(row)


def _schema_from(row: dict[str, Any]) -> LabelingSchemaRecord:
    return LabelingSchemaRecord.model_validate(
        {**row, "input": json.loads(row["input"]), "enable_comment": bool(row["enable_comment"])}
    )


def get_schemas(db: Database, names: Sequence[str]) -> list[LabelingSchemaRecord]:
    """The schemas named, in that order; LabelingSchemaNotFound for the first one missing."""
    rows = db.reader().execute(
        f"SELECT {_SCHEMA_COLUMNS} FROM labeling_schemas WHERE name IN (SELECT value FROM json_each(?))",
        (json.dumps(list(names)),),
    ).fetchall()
    by_name = {row["name"]: _schema(row) for row in rows}
    for name in names:
        if name not in by_name:
            raise LabelingSchemaNotFound(name)
    return [by_name[name] for name in names]


def get_schema(db: Database, name: str) -> LabelingSchemaRecord:
    """One schema; LabelingSchemaNotFound when there is none of that name."""
    return get_schemas(db, [name])[0]


def list_schemas(db: Database, *, limit: int = 50, after: str | None = None) -> tuple[list[LabelingSchemaRecord], int]:
    """Schemas by name, at most `limit` starting after the name `after`; and how many there are."""
    conn = db.reader()
    total = conn.execute("SELECT count(*) FROM labeling_schemas").fetchone()[0]
    rows = conn.execute(
        f"SELECT {_SCHEMA_COLUMNS} FROM labeling_schemas WHERE name > ? ORDER BY name LIMIT ?",
        (after if after is not None else "", limit),
    ).fetchall()
    return [_schema(row) for row in rows], total


# --- sessions -----------------------------------------------------------------------------------

_SESSION_COLUMNS = "session_id, name, schemas, assignees, created_ns"


def new_session_id() -> str:
    """'ls-' and 32 hex characters."""
    return "ls-" + uuid.uuid4().hex


def _status_counts(conn: sqlite3.Connection, session_ids: list[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {sid: dict.fromkeys(ITEM_STATUSES, 0) for sid in session_ids}
    for row in conn.execute(
        "SELECT session_id, status, count(*) AS n FROM labeling_items "
        "WHERE session_id IN (SELECT value FROM json_each(?)) GROUP BY session_id, status",
        (json.dumps(session_ids),),
    ):
        counts[row["session_id"]][row["status"]] = row["n"]
    return counts


def _labeled_by(conn: sqlite3.Connection, session_ids: list[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {sid: {} for sid in session_ids}
    for row in conn.execute(
        f"SELECT a.metadata ->> '$.{LABEL_SESSION_KEY}' AS session_id, a.source_id, count(DISTINCT a.trace_id) AS n "
        "FROM assessments a WHERE a.valid = 1 AND a.source_type = 'HUMAN' AND json_valid(a.metadata) "
        f"AND a.metadata ->> '$.{LABEL_SESSION_KEY}' IN (SELECT value FROM json_each(?)) "
        "GROUP BY 1, 2 ORDER BY n DESC, a.source_id",
        (json.dumps(session_ids),),
    ):
        counts[row["session_id"]][row["source_id"] or ""] = row["n"]
    return counts


def _sessions(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[LabelingSessionRecord]:
    ids = [row["session_id"] for row in rows]
    counts = _status_counts(conn, ids)
    labeled_by = _labeled_by(conn, ids)
    return [
        LabelingSessionRecord(
            session_id=row["session_id"],
            name=row["name"],
            schemas=json.loads(row["schemas"]),
            assignees=json.loads(row["assignees"]),
            created_ns=row["created_ns"],
            status_counts=counts[row["session_id"]],
            labeled_by=labeled_by[row["session_id"]],
        )
        for row in rows
    ]


def create_session(db: Database, name: str, schemas: Sequence[str], assignees: Sequence[str] = ()) -> LabelingSessionRecord:
    """A new, empty session asking `schemas` (which must exist: LabelingSchemaNotFound) of its
    traces; InvalidArgument when a session of that name exists."""
    row = {
        "session_id": new_session_id(),
        "name": name,
        "schemas": json.dumps(list(schemas)),
        "assignees": json.dumps(list(assignees)),
        "created_ns": time.time_ns(),
    }
    with db.transaction() as conn:
        present = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM labeling_schemas WHERE name IN (SELECT value FROM json_each(?))", (row["schemas"],)
            )
        }
        for schema in schemas:
            if schema not in present:
                raise LabelingSchemaNotFound(schema)
        if conn.execute("SELECT 1 FROM labeling_sessions WHERE name = ?", (name,)).fetchone() is not None:
            raise InvalidArgument(
                f"a labeling session named {name!r} exists; add traces to it with AddTracesToLabelingSession, "
                "or choose another name."
            )
        conn.execute(
            f"INSERT INTO labeling_sessions ({_SESSION_COLUMNS}) VALUES "
            "(:session_id, :name, :schemas, :assignees, :created_ns)",
            row,
        )
    return get_session(db, row["session_id"])


def get_session(db: Database, session: str) -> LabelingSessionRecord:
    """A session by its session_id or its name; LabelingSessionNotFound when neither matches."""
    conn = db.reader()
    rows = conn.execute(
        f"SELECT {_SESSION_COLUMNS} FROM labeling_sessions WHERE session_id = :s OR name = :s "
        "ORDER BY session_id = :s DESC LIMIT 1",
        {"s": session},
    ).fetchall()
    if not rows:
        raise LabelingSessionNotFound(session)
    return _sessions(conn, rows)[0]


def list_sessions(
    db: Database, *, limit: int = 50, after: str | None = None
) -> tuple[list[LabelingSessionRecord], int]:
    """Sessions by name with their item counts, at most `limit` starting after the name `after`;
    and how many sessions there are."""
    conn = db.reader()
    total = conn.execute("SELECT count(*) FROM labeling_sessions").fetchone()[0]
    rows = conn.execute(
        f"SELECT {_SESSION_COLUMNS} FROM labeling_sessions WHERE name > ? ORDER BY name LIMIT ?",
        (after if after is not None else "", limit),
    ).fetchall()
    return _sessions(conn, rows), total


# --- items --------------------------------------------------------------------------------------

_ITEM_COLUMNS = "session_id, trace_id, position, status, assignee, updated_ns"


def add_items(db: Database, session_id: str, trace_ids: Sequence[str]) -> tuple[list[str], int]:
    """Append the traces (normalized ids) to the session's queue in the order given; ids already
    queued, or repeated, are skipped. Returns the ids added and how many ids were skipped.
    Every id must be a stored trace: otherwise InvalidArgument lists the unknown ones and nothing
    is added."""
    wanted = list(dict.fromkeys(trace_ids))
    wanted_json = json.dumps(wanted)
    with db.transaction() as conn:
        known = {
            r[0]
            for r in conn.execute(
                "SELECT trace_id FROM traces WHERE trace_id IN (SELECT value FROM json_each(?))", (wanted_json,)
            )
        }
        unknown = [t for t in wanted if t not in known]
        if unknown:
            shown = ", ".join(repr(t) for t in unknown[:20]) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
            raise InvalidArgument(
                f"{len(unknown)} trace id(s) are not in this store: {shown}; nothing was added. Call SearchTraces "
                "to find the trace ids it holds, then add those."
            )
        queued = {
            r[0]
            for r in conn.execute(
                "SELECT trace_id FROM labeling_items WHERE session_id = ? AND trace_id IN (SELECT value FROM json_each(?))",
                (session_id, wanted_json),
            )
        }
        new = [t for t in wanted if t not in queued]
        start = conn.execute(
            "SELECT coalesce(max(position), -1) + 1 FROM labeling_items WHERE session_id = ?", (session_id,)
        ).fetchone()[0]
        now = time.time_ns()
        conn.executemany(
            f"INSERT INTO labeling_items ({_ITEM_COLUMNS}) VALUES (?, ?, ?, 'pending', NULL, ?)",
            [(session_id, trace_id, start + n, now) for n, trace_id in enumerate(new)],
        )
    return new, len(trace_ids) - len(new)


def list_items(
    db: Database,
    session_id: str,
    *,
    status: ItemStatus | None = None,
    limit: int = 20,
    after_position: int | None = None,
) -> tuple[list[LabelingItemRecord], int]:
    """The session's items in queue order (optionally of one status), at most `limit` after the
    position `after_position`; and how many items match in all."""
    where = "session_id = :session_id" + (" AND status = :status" if status is not None else "")
    params: dict[str, Any] = {"session_id": session_id, "status": status, "limit": limit, "after": after_position}
    conn = db.reader()
    total = conn.execute(f"SELECT count(*) FROM labeling_items WHERE {where}", params).fetchone()[0]
    if after_position is not None:
        where += " AND position > :after"
    rows = conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM labeling_items WHERE {where} ORDER BY position LIMIT :limit", params
    ).fetchall()
    return [LabelingItemRecord.model_validate(dict(row)) for row in rows], total


def get_item(db: Database, session_id: str, trace_id: str) -> LabelingItemRecord | None:
    """The session's item for this trace, or None when the trace is not queued in it."""
    row = db.reader().execute(
        f"SELECT {_ITEM_COLUMNS} FROM labeling_items WHERE session_id = ? AND trace_id = ?", (session_id, trace_id)
    ).fetchone()
    return None if row is None else LabelingItemRecord.model_validate(dict(row))


# --- labels given in a session ------------------------------------------------------------------

_SESSION_LABEL_WHERE = (
    "a.valid = 1 AND a.source_type = 'HUMAN' AND json_valid(a.metadata) "
    f"AND a.metadata ->> '$.{LABEL_SESSION_KEY}' = :session_id"
)


def session_labels(
    db: Database, session_id: str, trace_ids: Sequence[str], schemas: Sequence[str]
) -> list[SessionLabel]:
    """The valid labels given in the session on these traces under these schemas, oldest first."""
    rows = db.reader().execute(
        "SELECT a.assessment_id, a.trace_id, a.name, a.kind, a.value, a.source_id, a.rationale, a.created_ns "
        "FROM assessments a WHERE a.trace_id IN (SELECT value FROM json_each(:traces)) "
        f"AND a.name IN (SELECT value FROM json_each(:schemas)) AND {_SESSION_LABEL_WHERE} "
        "ORDER BY a.created_ns, a.assessment_id",
        {"traces": json.dumps(list(trace_ids)), "schemas": json.dumps(list(schemas)), "session_id": session_id},
    ).fetchall()
    return [
        SessionLabel(
            assessment_id=row["assessment_id"],
            trace_id=row["trace_id"],
            schema_name=row["name"],
            kind=row["kind"],
            value=json.loads(row["value"]) if row["value"] is not None else None,
            labeler=row["source_id"],
            comment=row["rationale"],
            created_ns=row["created_ns"],
        )
        for row in rows
    ]


def put_label(
    db: Database,
    session_id: str,
    trace_id: str,
    schema: str,
    kind: SchemaType,
    value: object,
    *,
    labeler: str,
    comment: str | None,
    schemas: Sequence[str],
) -> tuple[str, str | None, LabelingItemRecord]:
    """Store `value` as the labeler's label of the trace under `schema` in the session: a HUMAN
    assessment that overrides the labeler's current label there, if any; then the item is
    'completed' once every one of the session's `schemas` has a label given in the session on
    the trace (by anyone), else 'pending' (a skipped item that gets a label is back in the
    queue), with the labeler as its assignee. Returns the label's id, the id it overrode, and the
    item. One transaction: of labels submitted at once, each overrides the one stored before it,
    so the labeler keeps one current label, the last stored."""
    new = assessments.new_assessment(
        trace_id, schema, value, kind=kind, source_type="HUMAN", source_id=labeler, rationale=comment,
        metadata={LABEL_SESSION_KEY: session_id},
    )
    with db.transaction() as conn:
        row = conn.execute(
            "SELECT a.assessment_id FROM assessments a WHERE a.trace_id = :trace_id AND a.name = :name "
            f"AND a.kind = :kind AND a.source_id = :labeler AND {_SESSION_LABEL_WHERE} "
            "ORDER BY a.created_ns DESC LIMIT 1",
            {"trace_id": trace_id, "name": schema, "kind": kind, "labeler": labeler, "session_id": session_id},
        ).fetchone()
        previous = None if row is None else row[0]
        assessments.insert_assessment(conn, new, overrides=previous)
        labeled = conn.execute(
            "SELECT count(DISTINCT a.name) FROM assessments a WHERE a.trace_id = :trace_id "
            f"AND a.name IN (SELECT value FROM json_each(:schemas)) AND {_SESSION_LABEL_WHERE}",
            {"trace_id": trace_id, "schemas": json.dumps(list(schemas)), "session_id": session_id},
        ).fetchone()[0]
        status = "completed" if labeled >= len(set(schemas)) else "pending"
        conn.execute(
            "UPDATE labeling_items SET status = ?, assignee = ?, updated_ns = ? WHERE session_id = ? AND trace_id = ?",
            (status, labeler, time.time_ns(), session_id, trace_id),
        )
        item = conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM labeling_items WHERE session_id = ? AND trace_id = ?", (session_id, trace_id)
        ).fetchone()
    return new.assessment_id, previous, LabelingItemRecord.model_validate(dict(item))


def skip_item(db: Database, session_id: str, trace_id: str, *, assignee: str | None) -> LabelingItemRecord | None:
    """Mark a queued trace 'skipped' (labels it already has are kept); None when it is not queued."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE labeling_items SET status = 'skipped', assignee = coalesce(?, assignee), updated_ns = ? "
            "WHERE session_id = ? AND trace_id = ?",
            (assignee, time.time_ns(), session_id, trace_id),
        )
        row = conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM labeling_items WHERE session_id = ? AND trace_id = ?", (session_id, trace_id)
        ).fetchone()
    return None if row is None else LabelingItemRecord.model_validate(dict(row))
