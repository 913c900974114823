"""Evaluation datasets: named, versioned sets of records (inputs, expectations, tags, source trace).

Versions: creating a dataset makes version 0, with no records. Every later change (an upsert
batch, a batch of traces, a deletion) that changes something makes exactly one new version; a
batch that changes nothing makes none and says so. Record rows are never updated except to close
them (removed_version), so the records of version v are the rows with added_version <= v and
removed_version unset or > v, and an evaluation pinned to v reads exactly what it ran on.

De-duplication: records are keyed by their inputs (store.dataset_inputs). A record whose inputs
are in the latest version merges into it: expectations and tags are dict-merged, new values
winning per key; the record keeps its first source_trace_id (a later one only fills a gap). A
merge that changes something closes the old row and adds the merged one at the new version.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from store.connection import Database
from store.dataset_inputs import NewRecord, canonical_json, check_record_id, parse_record
from store.errors import DatasetNotFound, InvalidArgument
from store.json_text import dumps

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,99}$")
MAX_DESCRIPTION_CHARS = 2_000
READ_CHUNK = 1_000
"""Rows all_records reads per query."""


class DatasetBase(BaseModel):
    """A dataset at its latest version, less its times: DatasetRecord adds `created_ns` and
    `updated_ns`, the tool model (mcp_server.datasets.service.DatasetSummary) `created_time` and
    `updated_time`, so each field is declared here once."""

    name: str
    description: str
    version: int = Field(description="The latest version; 0 is the empty dataset as created.")
    record_count: int = Field(description="Records in the latest version.")


class DatasetRecord(DatasetBase):
    """A dataset as stored, at its latest version."""

    created_ns: int
    updated_ns: int


class DatasetVersionBase(BaseModel):
    """One version of a dataset, less its time (as DatasetBase)."""

    version: int
    change: str = Field(description="What made this version.")
    record_count: int


class DatasetVersion(DatasetVersionBase):
    created_ns: int


class DatasetInfo(DatasetRecord):
    """A dataset with its versions, newest first (at most `max_versions` of them)."""

    versions: list[DatasetVersion]
    version_count: int


class DatasetRecordRow(BaseModel):
    """One record as of some version."""

    record_id: str
    inputs: dict[str, Any]
    expectations: dict[str, Any]
    tags: dict[str, str]
    source_trace_id: str | None
    added_version: int = Field(description="The version this form of the record (inputs, expectations, tags) arrived in.")
    created_ns: int


class UpsertReport(BaseModel):
    """What a batch of records did to a dataset, counted per record given, in order."""

    dataset: str
    version: int = Field(description="The dataset's version after the batch (unchanged when nothing changed).")
    changed: bool = Field(description="False when the batch changed nothing and made no version.")
    added: int = Field(description="Records whose inputs were new.")
    merged: int = Field(description="Records whose inputs existed and whose expectations or tags changed them.")
    unchanged: int = Field(description="Records already present exactly as given.")
    record_count: int
    record_ids: list[str] = Field(description="The record_id of each record given, in order.")


class DeleteReport(BaseModel):
    dataset: str
    version: int
    changed: bool
    deleted: list[str]
    not_found: list[str] = Field(description="Ids not in the latest version (never there, or deleted before).")
    record_count: int


# --- datasets -------------------------------------------------------------------------------------

_DATASET_COLUMNS = (
    "d.name, d.description, d.version, d.created_ns, d.updated_ns, "
    "(SELECT record_count FROM dataset_versions v WHERE v.dataset = d.name AND v.version = d.version) AS record_count"
)


def check_name(name: object) -> str:
    """A dataset name: a letter, then letters, digits, _ . - (at most 100)."""
    if not isinstance(name, str) or not NAME.match(name.strip()):
        raise InvalidArgument(
            f"dataset name {name!r} is not allowed; use a letter followed by letters, digits, '_', '.' or '-' "
            "(at most 100), e.g. 'routing_failures'."
        )
    return name.strip()


def _dataset_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.name = ?", (name,)).fetchone()
    if row is None:
        raise DatasetNotFound(name)
    return row


def create_dataset(db: Database, name: str, description: str = "") -> DatasetRecord:
    """Store an empty dataset at version 0; InvalidArgument when the name is taken or not allowed."""
    name = check_name(name)
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidArgument(f"description must be a string of at most {MAX_DESCRIPTION_CHARS:,} characters.")
    now = time.time_ns()
    with db.transaction() as conn:
        existing = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.name = ?", (name,)).fetchone()
        if existing is not None:
            raise InvalidArgument(
                f"dataset {name!r} already exists (version {existing['version']}, {existing['record_count']} "
                "records); add records to it with UpsertDatasetRecords or AddTracesToDataset, or choose another name."
            )
        conn.execute(
            "INSERT INTO datasets (name, description, version, created_ns, updated_ns) VALUES (?, ?, 0, ?, ?)",
            (name, description, now, now),
        )
        conn.execute(
            "INSERT INTO dataset_versions (dataset, version, change, record_count, created_ns) "
            "VALUES (?, 0, 'created', 0, ?)",
            (name, now),
        )
    return DatasetRecord(name=name, description=description, version=0, record_count=0, created_ns=now, updated_ns=now)


def get_dataset(db: Database, name: str, *, max_versions: int = 50) -> DatasetInfo:
    """The dataset at its latest version, with its newest `max_versions` versions."""
    conn = db.reader()
    row = _dataset_row(conn, name)
    versions = conn.execute(
        "SELECT version, change, record_count, created_ns FROM dataset_versions WHERE dataset = ? "
        "ORDER BY version DESC LIMIT ?",
        (name, max_versions),
    ).fetchall()
    return DatasetInfo(
        **dict(row),
        versions=[DatasetVersion(**dict(v)) for v in versions],
        version_count=row["version"] + 1,
    )


def list_datasets(db: Database, *, limit: int = 50, after: str | None = None) -> tuple[list[DatasetRecord], int]:
    """Datasets by name, at most `limit` starting after the name `after`; and how many there are."""
    conn = db.reader()
    total = conn.execute("SELECT count(*) FROM datasets").fetchone()[0]
    rows = conn.execute(
        f"SELECT {_DATASET_COLUMNS} FROM datasets d WHERE d.name > ? ORDER BY d.name LIMIT ?",
        (after if after is not None else "", limit),
    ).fetchall()
    return [DatasetRecord(**dict(row)) for row in rows], total


def resolve_version(db: Database, name: str, version: int | None) -> int:
    """`version` checked against the dataset's versions, or its latest version when None."""
    latest = _dataset_row(db.reader(), name)["version"]
    if version is None:
        return latest
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= latest:
        raise DatasetNotFound(name, version, latest)
    return version


# --- records --------------------------------------------------------------------------------------

_RECORD_COLUMNS = "record_id, inputs, expectations, tags, source_trace_id, added_version, created_ns"
_AT_VERSION = "dataset = :name AND added_version <= :v AND (removed_version IS NULL OR removed_version > :v)"


def _row(row: sqlite3.Row) -> DatasetRecordRow:
    data = dict(row)
    for field in ("inputs", "expectations", "tags"):
        data[field] = json.loads(data[field])
    return DatasetRecordRow.model_validate(data)


def list_records(
    db: Database, name: str, version: int | None = None, *, limit: int = 100, after: str | None = None
) -> tuple[list[DatasetRecordRow], int]:
    """The records of `version` (default: the latest) by record_id, at most `limit` starting after
    the record_id `after`; and how many records that version has."""
    v = resolve_version(db, name, version)
    conn = db.reader()
    params = {"name": name, "v": v, "after": after or "", "limit": limit}
    total = conn.execute(f"SELECT count(*) FROM dataset_records WHERE {_AT_VERSION}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM dataset_records WHERE {_AT_VERSION} AND record_id > :after "
        "ORDER BY record_id LIMIT :limit",
        params,
    ).fetchall()
    return [_row(row) for row in rows], total


def all_records(db: Database, name: str, version: int | None = None) -> list[DatasetRecordRow]:
    """Every record of `version` (default: the latest), by record_id."""
    v = resolve_version(db, name, version)
    out: list[DatasetRecordRow] = []
    while True:
        page, _ = list_records(db, name, v, limit=READ_CHUNK, after=out[-1].record_id if out else None)
        out += page
        if len(page) < READ_CHUNK:
            return out


class _Live(NamedTuple):
    row_id: int | None  # None: added earlier in this batch, not stored yet
    expectations: dict[str, Any]
    tags: dict[str, str]
    source_trace_id: str | None


def _same(a: _Live, b: _Live) -> bool:
    return (
        a.source_trace_id == b.source_trace_id
        and canonical_json(a.expectations) == canonical_json(b.expectations)
        and canonical_json(a.tags) == canonical_json(b.tags)
    )


def _live_row(conn: sqlite3.Connection, name: str, inputs_key: str) -> _Live | None:
    row = conn.execute(
        "SELECT row_id, expectations, tags, source_trace_id FROM dataset_records "
        "WHERE dataset = ? AND inputs_key = ? AND removed_version IS NULL",
        (name, inputs_key),
    ).fetchone()
    if row is None:
        return None
    return _Live(row["row_id"], json.loads(row["expectations"]), json.loads(row["tags"]), row["source_trace_id"])


def _new_version(conn: sqlite3.Connection, name: str, version: int, change: str, record_count: int, now: int) -> None:
    conn.execute(
        "INSERT INTO dataset_versions (dataset, version, change, record_count, created_ns) VALUES (?, ?, ?, ?, ?)",
        (name, version, change, record_count, now),
    )
    conn.execute("UPDATE datasets SET version = ?, updated_ns = ? WHERE name = ?", (version, now, name))


def upsert_records(
    db: Database, name: str, records: Sequence[dict[str, Any]], *, change: str | None = None
) -> UpsertReport:
    """Add or merge `records` into the dataset as one new version (none if nothing changes).

    Every record is checked before anything is written; InvalidArgument names the first bad one
    (`records[i]`) and its field. `change` describes the version (default: the counts)."""
    parsed = [parse_record(raw, f"records[{i}]") for i, raw in enumerate(records)]
    return upsert_parsed(db, name, parsed, change=change)


def upsert_parsed(
    db: Database, name: str, parsed: Sequence[NewRecord], *, change: str | None = None
) -> UpsertReport:
    """upsert_records for records already checked by store.dataset_inputs.parse_record."""
    added = merged = unchanged = 0
    now = time.time_ns()
    with db.transaction() as conn:
        dataset = _dataset_row(conn, name)
        current: dict[str, _Live | None] = {}
        first: dict[str, NewRecord] = {}
        stored: dict[str, int | None] = {}  # inputs_key -> the live row it replaces (None: a new record)
        for record in parsed:
            key = record.inputs_key
            if key not in current:
                current[key] = _live_row(conn, name, key)
                first[key] = record
            live = current[key]
            if live is None:
                current[key] = _Live(None, dict(record.expectations), dict(record.tags), record.source_trace_id)
                stored[key] = None
                added += 1
                continue
            merged_live = _Live(
                live.row_id,
                {**live.expectations, **record.expectations},
                {**live.tags, **record.tags},
                live.source_trace_id or record.source_trace_id,
            )
            # Compared as JSON: in Python True == 1, but an expectation changed from 1 to true has changed.
            if _same(merged_live, live):
                unchanged += 1
                continue
            current[key] = merged_live
            stored.setdefault(key, live.row_id)
            merged += 1
        version = dataset["version"]
        count = dataset["record_count"]
        if stored:
            version += 1
            count += sum(1 for replaced in stored.values() if replaced is None)
            _write(conn, name, version, now, [
                (first[k], live, replaced) for k, replaced in stored.items() if (live := current[k]) is not None
            ])
            _new_version(conn, name, version, change or _counts(added, merged, unchanged), count, now)
    return UpsertReport(
        dataset=name, version=version, changed=bool(stored), added=added, merged=merged, unchanged=unchanged,
        record_count=count, record_ids=[r.record_id for r in parsed],
    )


def _write(conn: sqlite3.Connection, name: str, version: int, now: int,
           changes: list[tuple[NewRecord, _Live, int | None]]) -> None:
    closed = [(version, row_id) for _, _, row_id in changes if row_id is not None]
    # Close first: the live-row index allows one open row per inputs.
    conn.executemany("UPDATE dataset_records SET removed_version = ? WHERE row_id = ?", closed)
    conn.executemany(
        "INSERT INTO dataset_records (dataset, record_id, inputs_key, inputs, expectations, tags, source_trace_id, "
        "added_version, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (name, record.record_id, record.inputs_key, dumps(record.inputs), dumps(live.expectations),
             dumps(live.tags), live.source_trace_id, version, now)
            for record, live, _ in changes
        ],
    )


def _counts(added: int, merged: int, unchanged: int) -> str:
    return f"upserted {added + merged + unchanged} records: {added} added, {merged} merged, {unchanged} unchanged"


def delete_records(
    db: Database, name: str, record_ids: Sequence[str], *, change: str | None = None
) -> DeleteReport:
    """Remove records from the dataset as one new version; ids not in the latest version are
    reported in not_found, and when none is found no version is made."""
    if isinstance(record_ids, str):
        raise InvalidArgument("record_ids must be a list of record ids, e.g. ['r-0123456789abcdef'].")
    wanted = list(dict.fromkeys(check_record_id(r) for r in record_ids))
    if not wanted:
        raise InvalidArgument("record_ids is empty; pass the ids of the records to delete (ListDatasetRecords shows them).")
    now = time.time_ns()
    with db.transaction() as conn:
        dataset = _dataset_row(conn, name)
        rows = {
            record_id: conn.execute(
                "SELECT row_id FROM dataset_records WHERE dataset = ? AND record_id = ? AND removed_version IS NULL",
                (name, record_id),
            ).fetchone()
            for record_id in wanted
        }
        deleted = [r for r in wanted if rows[r] is not None]
        version, count = dataset["version"], dataset["record_count"]
        if deleted:
            version += 1
            count -= len(deleted)
            conn.executemany(
                "UPDATE dataset_records SET removed_version = ? WHERE row_id = ?",
                [(version, rows[r]["row_id"]) for r in deleted],
            )
            _new_version(conn, name, version, change or f"deleted {len(deleted)} records", count, now)
    return DeleteReport(
        dataset=name, version=version, changed=bool(deleted), deleted=deleted,
        not_found=[r for r in wanted if rows[r] is None], record_count=count,
    )
