"""Judges stored as data: one row per version of a judge, never changed once written.

Creating a judge whose name exists writes its next version (n+1) in the same transaction that
reads n, so two writers never make the same version. What a judge means (template variables,
output types) is checked above the store, in mcp_server.judges; the store keeps text and JSON.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from store.connection import Database
from store.errors import JudgeNotFound
from store.json_text import dumps


class JudgeRecord(BaseModel):
    """One version of a judge as stored; `output` is the output type's JSON object."""

    name: str
    version: int
    instructions: str
    output: dict[str, Any]
    model: str | None
    description: str
    created_ns: int


_COLUMNS = "name, version, instructions, output, model, description, created_ns"


def _record(row: sqlite3.Row) -> JudgeRecord:
    data = dict(row)
    data["output"] = json.loads(data["output"])
    return JudgeRecord.model_validate(data)


def create_judge_version(
    db: Database,
    name: str,
    instructions: str,
    *,
    output: dict[str, Any],
    model: str | None = None,
    description: str = "",
) -> JudgeRecord:
    """Store the next version of judge `name` (1 for a new name) and return it."""
    output_json = dumps(output)
    with db.transaction() as conn:
        current = conn.execute("SELECT coalesce(max(version), 0) FROM judges WHERE name = ?", (name,)).fetchone()[0]
        row = {
            "name": name,
            "version": current + 1,
            "instructions": instructions,
            "output": output_json,
            "model": model,
            "description": description,
            "created_ns": time.time_ns(),
        }
        conn.execute(
            f"INSERT INTO judges ({_COLUMNS}) VALUES "
            "(:name, :version, :instructions, :output, :model, :description, :created_ns)",
            row,
        )
    return JudgeRecord.model_validate({**row, "output": output})


def get_judge(db: Database, name: str, version: int | None = None) -> JudgeRecord:
    """Version `version` of the judge, or its latest version; JudgeNotFound when there is none."""
    conn = db.reader()
    if version is None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM judges WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
        ).fetchone()
    else:
        row = conn.execute(f"SELECT {_COLUMNS} FROM judges WHERE name = ? AND version = ?", (name, version)).fetchone()
    if row is None:
        raise JudgeNotFound(name, version)
    return _record(row)


def list_judges(
    db: Database, *, limit: int = 50, after: str | None = None, exclude: Sequence[str] = ()
) -> tuple[list[JudgeRecord], int]:
    """The latest version of each judge, by name, at most `limit` of them starting after the name
    `after`, leaving out the names in `exclude`; and how many judges there are in all, less those."""
    conn = db.reader()
    excluded = {f"x{n}": name for n, name in enumerate(exclude)}
    not_in = f" AND name NOT IN ({', '.join(':' + key for key in excluded)})" if excluded else ""
    total = conn.execute(f"SELECT count(DISTINCT name) FROM judges WHERE 1{not_in}", excluded).fetchone()[0]
    # The primary key (name, version) gives each name's latest version by one index seek.
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM judges j WHERE name > :after{not_in} AND version = "
        "(SELECT max(version) FROM judges WHERE name = j.name) ORDER BY name LIMIT :limit",
        {"after": after if after is not None else "", "limit": limit, **excluded},
    ).fetchall()
    return [_record(row) for row in rows], total
