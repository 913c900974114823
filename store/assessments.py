"""Assessments: feedback and expectations on a trace or on one of its spans.

An assessment is never replaced or deleted. Overriding one writes a new assessment that names the
old one in `overrides` and marks the old one invalid, in one transaction; at most one assessment
overrides another (a unique index), so an assessment's history is a chain. Only valid assessments
count in GetTraceInfo's summary and match `feedback.<name>` filters.

Every part of an assessment is capped on the way in, so reading one back is bounded too.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from store.connection import Database
from store.errors import AssessmentNotFound, InvalidArgument, SpanNotFound, TraceNotFound
from store.ids import normalize_span_id
from store.traces import trace_exists

Kind = Literal["feedback", "expectation"]
KINDS: tuple[str, ...] = ("feedback", "expectation")
SOURCE_TYPES: tuple[str, ...] = ("HUMAN", "LLM_JUDGE", "CODE")

MAX_NAME_CHARS = 200
"""Assessment names and source ids."""
MAX_TEXT_CHARS = 20_000
"""A rationale or an error message."""
MAX_VALUE_CHARS = 10_000
"""A value as compact JSON text."""
MAX_METADATA_CHARS = 10_000
"""Metadata as compact JSON text."""
MAX_FINDINGS = 100
MAX_FINDINGS_CHARS = 20_000
"""Findings as compact JSON text, all of them together."""
MAX_JSON_DEPTH = 32
"""Nesting of lists and objects in a value or in metadata."""

_ASSESSMENT_ID = re.compile(r"a-[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class Finding(BaseModel):
    """A problem the assessment found, anchored to one span of the trace."""

    model_config = ConfigDict(extra="forbid")

    span_id: str = Field(description="The span it is about.")
    category: str = Field(description="e.g. 'tool_selection_error' (TRAIL taxonomy).")
    evidence: str = Field(description="A quote or short description.")
    impact: str | None = Field(None, description="e.g. 'HIGH', or what it caused.")


class AssessmentBase(BaseModel):
    """An assessment as the store reads it and GetAssessment shows it, less its time: the record
    below adds `created_ns`, the tool model (mcp_server.assessments.service.Assessment) adds
    `created_time`, so each field is declared here once."""

    assessment_id: str
    trace_id: str
    span_id: str | None
    name: str
    kind: Kind
    source_type: str
    source_id: str | None
    value: Any
    rationale: str | None
    error: str | None
    metadata: dict[str, Any]
    findings: list[Finding]
    valid: bool
    overrides: str | None
    overridden_by: str | None


class AssessmentRecord(AssessmentBase):
    """One row of `assessments`, its JSON columns decoded, with the id of the assessment that
    overrides it (if any)."""

    created_ns: int


_COLUMNS = (
    "a.assessment_id, a.trace_id, a.span_id, a.name, a.kind, a.source_type, a.source_id, a.value, "
    "a.rationale, a.error, a.metadata, a.findings, a.valid, a.overrides, a.created_ns, "
    "o.assessment_id AS overridden_by"
)
# The unique index on `overrides` finds the (one) assessment that overrides each row.
_FROM = "assessments a LEFT JOIN assessments o ON o.overrides = a.assessment_id"


# --- validation: pure, before any lock is taken ---------------------------------------------------


def _check_name(name: object, what: str, *, required: bool) -> str | None:
    if name is None and not required:
        return None
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument(f"{what} must be a non-empty string; got {name!r}.")
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        raise InvalidArgument(
            f"{what} is {len(name):,} characters; the limit is {MAX_NAME_CHARS}; use a shorter {what}."
        )
    if _CONTROL.search(name):
        raise InvalidArgument(f"{what} {name[:80]!r} contains control characters; use printable text.")
    return name


def _check_text(text: object, what: str) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidArgument(f"{what} must be a string; got {type(text).__name__}.")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidArgument(
            f"{what} is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}. Shorten it (quote "
            f"the key evidence and point at spans instead of copying them), then log it again; nothing was stored."
        )
    if "\x00" in text:
        raise InvalidArgument(f"{what} contains a NUL character; remove it and log again.")
    return text


def _check_json(value: object, what: str, depth: int = 0) -> None:
    """Raise InvalidArgument unless `value` is plain JSON: None, bool, int, finite float, str, and
    lists and string-keyed dicts of those, nested at most MAX_JSON_DEPTH deep."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{what} contains {value!r}; JSON has no NaN or infinity, use null or a number.")
        return
    if depth >= MAX_JSON_DEPTH:
        raise InvalidArgument(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep; flatten it.")
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item, what, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgument(f"{what} has a key {key!r} that is not a string; JSON object keys are strings.")
            _check_json(item, what, depth + 1)
        return
    raise InvalidArgument(
        f"{what} contains a {type(value).__name__}; use a bool, number, string, list or object (JSON)."
    )


def _encode(value: object, what: str, limit: int) -> str:
    _check_json(value, what)
    text = _dumps(value)
    if len(text) > limit:
        raise InvalidArgument(
            f"{what} is {len(text):,} characters as JSON; the limit is {limit:,}. Log a smaller {what} "
            "(a summary, or a reference to where the full data lives); nothing was stored."
        )
    return text


def encode_value(value: object, *, error: str | None = None) -> str | None:
    """The value as stored JSON text; None (no value) is allowed only beside an error."""
    if value is None:
        if error is None:
            raise InvalidArgument(
                "value is missing; give a bool, number, string, list or object (e.g. 'yes', 0.8, true), "
                "or an error saying why there is no value."
            )
        return None
    return _encode(value, "value", MAX_VALUE_CHARS)


def _encode_metadata(metadata: object) -> str | None:
    if metadata is None or metadata == {}:
        return None
    if not isinstance(metadata, dict):
        raise InvalidArgument(f"metadata must be an object of JSON values; got {type(metadata).__name__}.")
    return _encode(metadata, "metadata", MAX_METADATA_CHARS)


def _parse_findings(findings: object) -> list[Finding]:
    if findings is None:
        return []
    if not isinstance(findings, list | tuple):
        raise InvalidArgument(
            f"findings must be a list of {{span_id, category, evidence, impact}}; got {type(findings).__name__}."
        )
    if len(findings) > MAX_FINDINGS:
        raise InvalidArgument(f"{len(findings):,} findings; the limit is {MAX_FINDINGS}; keep the most important ones.")
    parsed: list[Finding] = []
    for n, item in enumerate(findings):
        try:
            finding = item if isinstance(item, Finding) else Finding.model_validate(item)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
            raise InvalidArgument(
                f"findings[{n}] is not {{span_id, category, evidence, impact}}: {problems}."
            ) from None
        parsed.append(finding.model_copy(update={"span_id": normalize_span_id(finding.span_id)}))
    return parsed


def _check_source_type(source_type: object) -> str:
    if isinstance(source_type, str) and source_type.strip().upper() in SOURCE_TYPES:
        return source_type.strip().upper()
    raise InvalidArgument(f"source_type {source_type!r} is not one of {', '.join(SOURCE_TYPES)}.")


# --- writing ------------------------------------------------------------------------------------


def _check_spans(conn: sqlite3.Connection, trace_id: str, span_id: str | None, findings: list[Finding]) -> None:
    """TraceNotFound / SpanNotFound / InvalidArgument unless the trace and every named span exist."""
    if conn.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() is None:
        raise TraceNotFound(trace_id)
    wanted = list(dict.fromkeys(([span_id] if span_id is not None else []) + [f.span_id for f in findings]))
    if not wanted:
        return
    present = {
        row[0]
        for row in conn.execute(
            "SELECT span_id FROM spans WHERE trace_id = ? AND span_id IN (SELECT value FROM json_each(?))",
            (trace_id, json.dumps(wanted)),
        )
    }
    if span_id is not None and span_id not in present:
        raise SpanNotFound(trace_id, span_id)
    unknown = [s for s in wanted if s not in present]
    if unknown:
        shown = ", ".join(repr(s) for s in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise InvalidArgument(
            f"findings name spans that are not in trace {trace_id!r}: {shown}; call "
            f"ListSpans(trace_id={trace_id!r}) to see its span ids, or leave those findings out. Nothing was stored."
        )


def _insert(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO assessments (assessment_id, trace_id, span_id, name, kind, source_type, source_id, "
        "value, rationale, error, metadata, findings, valid, overrides, created_ns) VALUES (:assessment_id, "
        ":trace_id, :span_id, :name, :kind, :source_type, :source_id, :value, :rationale, :error, "
        ":metadata, :findings, 1, :overrides, :created_ns)",
        row,
    )


def new_assessment_id() -> str:
    """'a-' and 32 hex characters."""
    return "a-" + uuid.uuid4().hex


@dataclass(frozen=True)
class NewAssessment:
    """An assessment checked and ready to insert: its row (without created_ns) and its findings,
    whose spans the insert checks against the trace."""

    row: dict[str, Any]
    findings: list[Finding]

    @property
    def assessment_id(self) -> str:
        return self.row["assessment_id"]


def new_assessment(
    trace_id: str,
    name: str,
    value: object,
    *,
    kind: Kind = "feedback",
    span_id: str | None = None,
    source_type: str = "HUMAN",
    source_id: str | None = None,
    rationale: str | None = None,
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
    findings: list[Finding] | list[dict[str, Any]] | None = None,
) -> NewAssessment:
    """A new valid assessment, checked (InvalidArgument for anything invalid) but not stored;
    `log_assessment` or `insert_assessment` stores it. `trace_id` and `span_id` must be normalized
    ids. Reads nothing: the trace and spans are checked on insert."""
    if kind not in KINDS:
        raise InvalidArgument(f"kind {kind!r} is not one of {', '.join(KINDS)}.")
    if kind == "expectation" and (error is not None or findings):
        raise InvalidArgument("an expectation has no error or findings; log those as feedback.")
    error = _check_text(error, "error")
    row = {
        "assessment_id": new_assessment_id(),
        "trace_id": trace_id,
        "span_id": span_id,
        "name": _check_name(name, "name", required=True),
        "kind": kind,
        "source_type": _check_source_type(source_type),
        "source_id": _check_name(source_id, "source_id", required=False),
        "value": encode_value(value, error=error),
        "rationale": _check_text(rationale, "rationale"),
        "error": error,
        "metadata": _encode_metadata(metadata),
        "overrides": None,
    }
    parsed = _parse_findings(findings)
    row["findings"] = _encode([f.model_dump() for f in parsed], "findings", MAX_FINDINGS_CHARS) if parsed else None
    return NewAssessment(row, parsed)


def check_assessment_spans(db: Database, new: NewAssessment) -> None:
    """Before a write: TraceNotFound / SpanNotFound / InvalidArgument unless the trace, the span and
    every finding's span exist, so a caller can fall back before its batch's transaction (traces
    and spans are never deleted, so the insert's own check then passes)."""
    _check_spans(db.reader(), new.row["trace_id"], new.row["span_id"], new.findings)


def insert_assessment(conn: sqlite3.Connection, new: NewAssessment, *, overrides: str | None = None) -> None:
    """Store `new` inside the caller's transaction (db.transaction()), checking its trace and spans
    first: TraceNotFound / SpanNotFound / InvalidArgument before anything is written. With
    `overrides`, `new` replaces that valid assessment (of the same trace, span, name and kind),
    which is marked invalid; errors as for override_assessment."""
    _check_spans(conn, new.row["trace_id"], new.row["span_id"], new.findings)
    if overrides is None:
        _insert(conn, {**new.row, "created_ns": time.time_ns()})
    else:
        _overridable(conn, overrides)
        _insert_override(conn, new.row, overrides)


def log_assessment(db: Database, new: NewAssessment) -> str:
    """Store `new` (from new_assessment) in a transaction of its own and return its id; the trace
    (TraceNotFound), the span (SpanNotFound) and every finding's span (InvalidArgument) must exist,
    or nothing is written."""
    with db.transaction() as conn:
        insert_assessment(conn, new)
    return new.assessment_id


def override_assessment(
    db: Database,
    assessment_id: str,
    value: object,
    *,
    source_type: str = "HUMAN",
    source_id: str | None = None,
    rationale: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Replace a valid assessment's verdict: a new assessment of the same trace, span, name and
    kind with `overrides` = `assessment_id`, and the old one marked invalid, in one transaction.
    Returns the new id. AssessmentNotFound for an unknown id; InvalidArgument when the assessment
    was already overridden (the message names the one to override instead)."""
    row = {
        "assessment_id": new_assessment_id(),
        "source_type": _check_source_type(source_type),
        "source_id": _check_name(source_id, "source_id", required=False),
        "value": encode_value(value),
        "rationale": _check_text(rationale, "rationale"),
        "error": None,
        "metadata": _encode_metadata(metadata),
        "findings": None,
    }
    with db.transaction() as conn:
        old = _overridable(conn, assessment_id)
        row.update(trace_id=old["trace_id"], span_id=old["span_id"], name=old["name"], kind=old["kind"])
        _insert_override(conn, row, assessment_id)
    return row["assessment_id"]


def _overridable(conn: sqlite3.Connection, assessment_id: str) -> sqlite3.Row:
    """The valid assessment `assessment_id`; AssessmentNotFound, or InvalidArgument when it was
    overridden (naming the one to override instead) or marked invalid."""
    old = conn.execute(
        f"SELECT a.trace_id, a.span_id, a.name, a.kind, a.valid, o.assessment_id AS overridden_by FROM {_FROM} "
        "WHERE a.assessment_id = ?",
        (assessment_id,),
    ).fetchone()
    if old is None:
        raise AssessmentNotFound(assessment_id)
    if not old["valid"]:
        if old["overridden_by"] is not None:
            raise InvalidArgument(
                f"assessment {assessment_id!r} was already overridden by {old['overridden_by']!r}; "
                f"override that one instead (GetAssessment(assessment_id={old['overridden_by']!r}) shows it)."
            )
        raise InvalidArgument(
            f"assessment {assessment_id!r} is marked invalid; log a new assessment named {old['name']!r} instead."
        )
    return old


def _insert_override(conn: sqlite3.Connection, row: dict[str, Any], assessment_id: str) -> None:
    _insert(conn, {**row, "overrides": assessment_id, "created_ns": time.time_ns()})
    conn.execute("UPDATE assessments SET valid = 0 WHERE assessment_id = ?", (assessment_id,))


# --- reading ------------------------------------------------------------------------------------


def _record(row: sqlite3.Row) -> AssessmentRecord:
    data = dict(row)
    # Rows written by other tools (or by hand) may hold text that is not JSON: shown as that text.
    value = data["value"]
    if value is not None:
        try:
            data["value"] = json.loads(value)
        except ValueError:
            pass
    data["metadata"] = json.loads(data["metadata"]) if data["metadata"] else {}
    data["findings"] = json.loads(data["findings"]) if data["findings"] else []
    data["valid"] = bool(data["valid"])
    return AssessmentRecord.model_validate(data)


def normalize_assessment_id(assessment_id: object) -> str:
    """The id as stored ('a-' and 32 lowercase hex) or, for anything else, the text as given."""
    if not isinstance(assessment_id, str):
        raise InvalidArgument(f"assessment_id must be a string like 'a-<32 hex>'; got {type(assessment_id).__name__}.")
    text = assessment_id.strip()
    return text.lower() if _ASSESSMENT_ID.fullmatch(text.lower()) else text


def get_assessment(db: Database, assessment_id: str) -> AssessmentRecord:
    """One assessment, valid or not; AssessmentNotFound for an unknown id."""
    row = db.reader().execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE a.assessment_id = ?", (assessment_id,)).fetchone()
    if row is None:
        raise AssessmentNotFound(assessment_id)
    return _record(row)


def get_assessments(db: Database, assessment_ids: list[str]) -> list[AssessmentRecord]:
    """The assessments of `assessment_ids` that exist, valid or not, in one statement (a page of
    results shows each one's rationale); unknown ids are left out."""
    rows = db.reader().execute(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE a.assessment_id IN (SELECT value FROM json_each(:ids))",
        {"ids": json.dumps(assessment_ids)},
    ).fetchall()
    return [_record(row) for row in rows]


def list_assessments(
    db: Database,
    trace_id: str,
    *,
    name: str | None = None,
    kind: Kind | None = None,
    include_invalid: bool = False,
    limit: int = 50,
    after: tuple[int, str] | None = None,
) -> tuple[list[AssessmentRecord], int]:
    """A trace's assessments in the order they were logged, at most `limit` of them, starting after
    the (created_ns, assessment_id) position `after`; and how many match in all. TraceNotFound for
    an unknown trace."""
    if not trace_exists(db, trace_id):
        raise TraceNotFound(trace_id)
    where = ["a.trace_id = :trace_id"]
    params: dict[str, Any] = {"trace_id": trace_id, "limit": limit}
    if name is not None:
        where.append("a.name = :name")
        params["name"] = name
    if kind is not None:
        where.append("a.kind = :kind")
        params["kind"] = kind
    if not include_invalid:
        where.append("a.valid = 1")
    conn = db.reader()
    total = conn.execute(f"SELECT count(*) FROM assessments a WHERE {' AND '.join(where)}", params).fetchone()[0]
    if after is not None:
        where.append("(a.created_ns, a.assessment_id) > (:after_ns, :after_id)")
        params.update(after_ns=after[0], after_id=after[1])
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE {' AND '.join(where)} "
        "ORDER BY a.created_ns, a.assessment_id LIMIT :limit",
        params,
    ).fetchall()
    return [_record(row) for row in rows], total


def feedback_named(
    db: Database, name: str, *, trace_ids: list[str] | None = None, limit: int = 100_000
) -> list[AssessmentRecord]:
    """Valid trace-level feedback named `name` from every source, by trace and then in the order
    logged, at most `limit` rows: a judge's verdicts beside the human labels of the same name.
    Only on `trace_ids` (normalized ids) when given."""
    where = "a.name = :name AND a.valid = 1 AND a.kind = 'feedback' AND a.span_id IS NULL"
    params: dict[str, Any] = {"name": name, "limit": limit}
    if trace_ids is not None:
        where += " AND a.trace_id IN (SELECT value FROM json_each(:trace_ids))"
        params["trace_ids"] = json.dumps(trace_ids)
    rows = db.reader().execute(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE {where} ORDER BY a.trace_id, a.created_ns, a.assessment_id "
        "LIMIT :limit",
        params,
    ).fetchall()
    return [_record(row) for row in rows]


def latest_feedback(db: Database, trace_ids: list[str], *, per_trace: int = 10) -> list[AssessmentRecord]:
    """The newest valid trace-level feedback of each name on each of `trace_ids` (normalized ids), at
    most `per_trace` names per trace, by trace and name: what a list of traces shows beside each one.
    One statement, whatever the number of traces."""
    rows = db.reader().execute(
        f"SELECT * FROM (SELECT {_COLUMNS}, row_number() OVER (PARTITION BY a.trace_id, a.name "
        "ORDER BY a.created_ns DESC, a.assessment_id DESC) AS newest FROM " + _FROM + " "
        "WHERE a.valid = 1 AND a.kind = 'feedback' AND a.span_id IS NULL "
        "AND a.trace_id IN (SELECT value FROM json_each(:trace_ids))) WHERE newest = 1 ORDER BY trace_id, name",
        {"trace_ids": json.dumps(trace_ids)},
    ).fetchall()
    kept: list[AssessmentRecord] = []
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["trace_id"]] = counts.get(row["trace_id"], 0) + 1
        if counts[row["trace_id"]] <= per_trace:
            kept.append(_record(row))
    return kept
