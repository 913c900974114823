"""The labeling tools as typed functions with bounded answers: schemas, sessions, their queues of
traces, and labels, which are HUMAN assessments named after their schema (store.assessments),
tagged with the session they were given in. The MCP tools (mcp_server.labeling_tools) and the CLI
(mcp_server.cli_labeling) are thin wrappers over these.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from mcp_server.labeling.inputs import CategoricalInput, NumericInput, PassFailInput, TextInput, parse_input
from mcp_server.tools.paging import (
    ENVELOPE_RESERVE,
    Page,
    check_range,
    clip,
    dumps,
    issue_token,
    next_page_notice,
    read_token,
    state_int,
)
from mcp_server.tools.timestamps import iso_time
from store import Database
from store import assessments as assessment_store
from store import labeling as store
from store.errors import InvalidArgument, InvalidPageToken
from store.ids import normalize_trace_id
from store.search import search_trace_ids
from store.traces import get_traces

MAX_RESULTS = 100
ANSWER_CHARS = 40_000
"""Size cap of a list answer; a page holds fewer entries rather than exceed it."""
MAX_INSTRUCTIONS_CHARS = 5_000
MAX_SESSION_SCHEMAS = 20
MAX_ASSIGNEES = 100
MAX_TRACES_PER_CALL = 10_000
"""Most traces one AddTracesToLabelingSession call adds (by ids or by a filter)."""
PREVIEW_CHARS = 500
"""A queued trace's request and response previews are cut to this many characters."""
LABEL_VALUE_CHARS = 300
LABEL_COMMENT_CHARS = 300
MAX_LABELS_SHOWN = 20
"""Labels shown per item in ListLabelingItems; more are counted, not shown."""

_SCHEMA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,99}")

Item = TypeVar("Item", bound=BaseModel)
Input = PassFailInput | CategoricalInput | NumericInput | TextInput


# --- answers ------------------------------------------------------------------------------------


class SchemaInfo(BaseModel):
    name: str = Field(description="Also the name of the assessments its labels are stored as.")
    type: str = Field(description="'feedback' (a verdict on the trace) or 'expectation' (the ground truth).")
    input: Input
    expects: str = Field(description="What SubmitLabel accepts as value, in words.")
    instructions: str
    enable_comment: bool
    created_time: str | None


class SchemaList(BaseModel):
    schemas: list[SchemaInfo]
    total: int
    next_page_token: str | None = None
    notice: str | None = None


class SchemaBrief(BaseModel):
    name: str
    type: str
    expects: str


class SessionInfo(BaseModel):
    session_id: str
    name: str
    schemas: list[str]
    assignees: list[str] = Field(description="Who may label; empty for anyone.")
    status_counts: dict[str, int] = Field(description="Items pending, completed and skipped.")
    created_time: str | None


class SessionList(BaseModel):
    sessions: list[SessionInfo]
    total: int
    next_page_token: str | None = None
    notice: str | None = None


class AddTracesResult(BaseModel):
    session_id: str
    added: int
    already_queued: int = Field(description="Traces that were in the session already (or repeated), ignored.")
    added_trace_ids: list[str] = Field(description="The first 100 traces added, in queue order.")
    status_counts: dict[str, int]
    notice: str | None = None


class LabelShown(BaseModel):
    schema_name: str
    labeler: str | None
    value: Any = Field(description="None when too long to list; see value_preview.")
    value_preview: str | None = None
    comment: str | None
    assessment_id: str


class LabelingItem(BaseModel):
    trace_id: str
    position: int = Field(description="Place in the queue, from 0, in the order traces were added.")
    status: str = Field(description="pending, completed (every schema has a label) or skipped.")
    assignee: str | None = Field(description="Who labeled (or skipped) it last.")
    updated_time: str | None
    trace_name: str | None
    request_preview: str | None
    response_preview: str | None
    labels: list[LabelShown] = Field(description="Labels given in this session, oldest first.")
    labels_not_shown: int = 0
    missing_schemas: list[str] = Field(description="Schemas of the session with no label on this trace yet.")


class ItemList(BaseModel):
    session_id: str
    session_name: str
    schemas: list[SchemaBrief]
    status_counts: dict[str, int]
    total_matching: int
    items: list[LabelingItem]
    next_page_token: str | None = None
    notice: str | None = None


class SubmitResult(BaseModel):
    assessment_id: str = Field(description="The label, a HUMAN assessment named after the schema.")
    overrode: str | None = Field(description="The labeler's previous label of this trace under this schema, now invalid.")
    schema_name: str
    kind: str
    value: Any = Field(description="The value as stored (normalized, e.g. 'pass' -> true).")
    item_status: str
    missing_schemas: list[str]
    next_pending_trace_id: str | None = Field(description="The next pending trace in the queue, if any.")


# --- checks -------------------------------------------------------------------------------------


def _name(value: object, what: str, *, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise InvalidArgument(f"{what} must be a non-blank string of at most {limit} characters; got {value!r}.")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidArgument(f"{what} {value[:80]!r} contains control characters; use printable text.")
    return value.strip()


def _names(values: object, what: str, limit: int) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise InvalidArgument(f"{what} must be a list of names; got {type(values).__name__}.")
    if len(values) > limit:
        raise InvalidArgument(f"{what} has {len(values)} entries; the limit is {limit}.")
    return list(dict.fromkeys(_name(v, f"an entry of {what}") for v in values))


def _schema_info(record: store.LabelingSchemaRecord) -> SchemaInfo:
    kind = parse_input(record.input)
    return SchemaInfo(
        name=record.name,
        type=record.type,
        input=kind,
        expects=kind.describe(),
        instructions=record.instructions,
        enable_comment=record.enable_comment,
        created_time=iso_time(record.created_ns),
    )


def _session_info(record: store.LabelingSessionRecord) -> SessionInfo:
    return SessionInfo(
        session_id=record.session_id,
        name=record.name,
        schemas=record.schemas,
        assignees=record.assignees,
        status_counts=record.status_counts,
        created_time=iso_time(record.created_ns),
    )


def _after_name(state: dict[str, Any] | None, tool: str) -> str | None:
    if state is None:
        return None
    after = state.get("after")
    if not isinstance(after, str) or len(after) > 200:
        raise InvalidPageToken(f"page_token is damaged; call {tool} without page_token to start again.")
    return after


# --- schemas ------------------------------------------------------------------------------------


def create_schema(
    db: Database,
    name: str,
    type: str,
    input: Input | dict[str, Any],
    *,
    instructions: str = "",
    enable_comment: bool = False,
    overwrite: bool = False,
) -> SchemaInfo:
    """Store a labeling schema; an existing name is an error unless `overwrite`."""
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
        raise InvalidArgument(
            f"schema name {name!r} must start with a letter and hold only letters, digits, '_', '.' and '-' "
            "(at most 100 characters), e.g. 'routing_correct'; labels are stored as assessments of that name."
        )
    if type not in ("feedback", "expectation"):
        raise InvalidArgument(
            f"type {type!r} is not 'feedback' (a verdict on the trace, e.g. was it routed right) or "
            "'expectation' (the ground truth, e.g. the right department)."
        )
    kind = parse_input(input)
    if not isinstance(instructions, str) or len(instructions) > MAX_INSTRUCTIONS_CHARS:
        raise InvalidArgument(f"instructions must be a string of at most {MAX_INSTRUCTIONS_CHARS:,} characters.")
    record = store.put_schema(
        db,
        name,
        type,  # type: ignore[arg-type]  # checked above
        kind.model_dump(),
        instructions=instructions,
        enable_comment=bool(enable_comment),
        overwrite=bool(overwrite),
    )
    return _schema_info(record)


def _page_by_name(
    tool: str, what: str, fetch: Callable[..., tuple[list[Any], int]], show: Callable[[Any], Item],
    max_results: int, page_token: str | None,
) -> tuple[list[Item], int, str | None, str | None]:
    """One page of a list kept in name order (schemas, sessions): its entries, the total, and the
    next page's token and notice."""
    check_range("max_results", max_results, 1, MAX_RESULTS)
    arguments = {"max_results": max_results}
    state = read_token(page_token, tool, arguments)
    after = _after_name(state, tool)
    shown_before = 0 if state is None else state_int(state, "shown", tool)
    records, total = fetch(limit=max_results + 1, after=after)
    page: Page[Item] = Page(ANSWER_CHARS - ENVELOPE_RESERVE, max_results)
    for record in records:
        if not page.offer(show(record)):
            break
    token = notice = None
    if len(records) > len(page.items):
        shown = shown_before + len(page.items)
        token = issue_token(tool, arguments, {"after": records[len(page.items) - 1].name, "shown": shown})
        notice = next_page_notice(tool, what, shown_before + 1, shown, total, token)
    return page.items, total, token, notice


def list_schemas(db: Database, *, max_results: int = 50, page_token: str | None = None) -> SchemaList:
    """A page of schemas by name, in full."""
    fetch = functools.partial(store.list_schemas, db)
    items, total, token, notice = _page_by_name(
        "ListLabelingSchemas", "schemas", fetch, _schema_info, max_results, page_token
    )
    return SchemaList(schemas=items, total=total, next_page_token=token, notice=notice)


# --- sessions -----------------------------------------------------------------------------------


def create_session(
    db: Database, name: str, schemas: list[str], *, assignees: list[str] | None = None
) -> SessionInfo:
    """A new, empty labeling session asking `schemas` of each trace added to it."""
    name = _name(name, "name")
    schema_names = _names(schemas, "schemas", MAX_SESSION_SCHEMAS)
    if not schema_names:
        raise InvalidArgument(
            "schemas is empty; name at least one labeling schema (ListLabelingSchemas lists them, "
            "CreateLabelingSchema makes one)."
        )
    return _session_info(store.create_session(db, name, schema_names, _names(assignees, "assignees", MAX_ASSIGNEES)))


def list_sessions(db: Database, *, max_results: int = 50, page_token: str | None = None) -> SessionList:
    """A page of sessions by name, with how many items each has per status."""
    fetch = functools.partial(store.list_sessions, db)
    items, total, token, notice = _page_by_name(
        "ListLabelingSessions", "sessions", fetch, _session_info, max_results, page_token
    )
    return SessionList(sessions=items, total=total, next_page_token=token, notice=notice)


def add_traces(
    db: Database,
    session: str,
    *,
    trace_ids: list[str] | None = None,
    filter_string: str | None = None,
    max_traces: int = 1_000,
) -> AddTracesResult:
    """Queue traces in a session: the ids given, in that order, or the traces matching
    filter_string, newest first (at most max_traces). Traces already queued are ignored."""
    record = store.get_session(db, session)
    check_range("max_traces", max_traces, 1, MAX_TRACES_PER_CALL)
    if (trace_ids is None) == (filter_string is None):
        raise InvalidArgument(
            "give either trace_ids (a list of trace ids) or filter_string (e.g. \"feedback.routing = 'no'\"), not "
            "both or neither."
        )
    notice = None
    if trace_ids is not None:
        if len(trace_ids) > max_traces:
            raise InvalidArgument(
                f"{len(trace_ids):,} trace ids; at most max_traces={max_traces:,} per call (up to "
                f"{MAX_TRACES_PER_CALL:,}); add them in parts."
            )
        ids = [normalize_trace_id(t) for t in trace_ids]
    else:
        ids = search_trace_ids(db, filter_string, None, max_traces + 1, 0)
        if len(ids) > max_traces:
            ids = ids[:max_traces]
            notice = (
                f"more than max_traces={max_traces:,} traces match; the newest {max_traces:,} were considered. "
                "Narrow filter_string or raise max_traces to queue the rest."
            )
    added, already = store.add_items(db, record.session_id, ids)
    counts = store.get_session(db, record.session_id).status_counts
    return AddTracesResult(
        session_id=record.session_id,
        added=len(added),
        already_queued=already,
        added_trace_ids=added[:100],
        status_counts=counts,
        notice=notice,
    )


def _brief(schemas: list[store.LabelingSchemaRecord]) -> list[SchemaBrief]:
    return [SchemaBrief(name=s.name, type=s.type, expects=clip(parse_input(s.input).describe(), 300)) for s in schemas]


def _label_shown(label: store.SessionLabel) -> LabelShown:
    value, preview = label.value, None
    if len(dumps(label.value)) > LABEL_VALUE_CHARS:
        value, preview = None, clip(dumps(label.value), LABEL_VALUE_CHARS)
    return LabelShown(
        schema_name=label.schema_name,
        labeler=label.labeler,
        value=value,
        value_preview=preview,
        comment=None if label.comment is None else clip(label.comment, LABEL_COMMENT_CHARS),
        assessment_id=label.assessment_id,
    )


def _shown_items(
    db: Database, record: store.LabelingSessionRecord, items: list[store.LabelingItemRecord]
) -> list[LabelingItem]:
    """Queued traces with their previews and the labels given in the session so far (three reads)."""
    ids = [item.trace_id for item in items]
    traces = {t.trace_id: t for t in get_traces(db, ids)}
    labels: dict[str, list[store.SessionLabel]] = {t: [] for t in ids}
    for label in store.session_labels(db, record.session_id, ids, record.schemas):
        labels[label.trace_id].append(label)
    shown = []
    for item in items:
        trace = traces.get(item.trace_id)
        given = labels[item.trace_id]
        labeled = {label.schema_name for label in given}
        shown.append(
            LabelingItem(
                trace_id=item.trace_id,
                position=item.position,
                status=item.status,
                assignee=item.assignee,
                updated_time=iso_time(item.updated_ns),
                trace_name=trace.name if trace else None,
                request_preview=_preview(trace.request_preview if trace else None),
                response_preview=_preview(trace.response_preview if trace else None),
                labels=[_label_shown(label) for label in given[:MAX_LABELS_SHOWN]],
                labels_not_shown=max(0, len(given) - MAX_LABELS_SHOWN),
                missing_schemas=[s for s in record.schemas if s not in labeled],
            )
        )
    return shown


def _preview(text: str | None) -> str | None:
    return None if text is None else clip(text, PREVIEW_CHARS)


def list_items(
    db: Database,
    session: str,
    *,
    status: str | None = None,
    max_results: int = 20,
    page_token: str | None = None,
) -> ItemList:
    """A page of the session's queue in order, each trace with its previews and its labels so far."""
    tool = "ListLabelingItems"
    record = store.get_session(db, session)
    check_range("max_results", max_results, 1, MAX_RESULTS)
    if status is not None and status not in store.ITEM_STATUSES:
        raise InvalidArgument(f"status {status!r} is not one of {', '.join(store.ITEM_STATUSES)}; or leave it out for all.")
    arguments = {"session_id": record.session_id, "status": status, "max_results": max_results}
    state = read_token(page_token, tool, arguments)
    after = None if state is None else state_int(state, "after", tool)
    shown_before = 0 if state is None else state_int(state, "shown", tool)
    items, total = store.list_items(
        db, record.session_id, status=status, limit=max_results + 1, after_position=after  # type: ignore[arg-type]
    )
    schemas = store.get_schemas(db, record.schemas)
    brief = _brief(schemas)
    page: Page[LabelingItem] = Page(ANSWER_CHARS - ENVELOPE_RESERVE - len(dumps([b.model_dump() for b in brief])), max_results)
    for shown in _shown_items(db, record, items):
        if not page.offer(shown):
            break
    token = notice = None
    if len(items) > len(page.items):
        shown = shown_before + len(page.items)
        token = issue_token(tool, arguments, {"after": page.items[-1].position, "shown": shown})
        notice = next_page_notice(tool, "items", shown_before + 1, shown, total, token)
    return ItemList(
        session_id=record.session_id,
        session_name=record.name,
        schemas=brief,
        status_counts=record.status_counts,
        total_matching=total,
        items=page.items,
        next_page_token=token,
        notice=notice,
    )


# --- labels -------------------------------------------------------------------------------------


def _queued_item(db: Database, record: store.LabelingSessionRecord, trace_id: str) -> store.LabelingItemRecord:
    item = store.get_item(db, record.session_id, trace_id)
    if item is None:
        raise InvalidArgument(
            f"trace {trace_id!r} is not queued in labeling session {record.name!r}; call "
            f"AddTracesToLabelingSession(session={record.name!r}, trace_ids=[{trace_id!r}]) first."
        )
    return item


def _labeler(record: store.LabelingSessionRecord, labeler: object) -> str:
    name = _name(labeler, "labeler")
    if record.assignees and name not in record.assignees:
        raise InvalidArgument(
            f"labeler {name!r} is not assigned to labeling session {record.name!r}; its assignees are "
            f"{', '.join(repr(a) for a in record.assignees)}. Label as one of them."
        )
    return name


def _next_pending(db: Database, session_id: str, position: int) -> str | None:
    after, _ = store.list_items(db, session_id, status="pending", limit=1, after_position=position)
    if after:
        return after[0].trace_id
    first, _ = store.list_items(db, session_id, status="pending", limit=1)
    return first[0].trace_id if first and first[0].position != position else None


def submit_label(
    db: Database,
    session: str,
    trace_id: str,
    schema: str,
    value: Any,
    *,
    labeler: str,
    comment: str | None = None,
) -> SubmitResult:
    """Validate `value` against the schema's input and store it as the labeler's HUMAN assessment
    of the trace; a second label by the same labeler in the same session overrides the first."""
    record = store.get_session(db, session)
    if schema not in record.schemas:
        raise InvalidArgument(
            f"labeling session {record.name!r} does not ask schema {schema!r}; it asks "
            f"{', '.join(repr(s) for s in record.schemas)}."
        )
    schema_record = store.get_schema(db, schema)
    trace_id = normalize_trace_id(trace_id)
    item = _queued_item(db, record, trace_id)
    labeler = _labeler(record, labeler)
    if comment is not None and not schema_record.enable_comment:
        raise InvalidArgument(
            f"schema {schema!r} does not take comments (enable_comment is false); leave comment out, or "
            "recreate the schema with enable_comment=true and overwrite=true."
        )
    try:
        stored = parse_input(schema_record.input).check(value)
    except InvalidArgument as exc:
        raise InvalidArgument(f"value for schema {schema!r}: {exc}. Nothing was stored.") from None
    kind = schema_record.type
    metadata = {store.LABEL_SESSION_KEY: record.session_id}
    previous = store.find_label(db, record.session_id, trace_id, schema, kind, labeler)
    if previous is None:
        assessment_id = assessment_store.log_assessment(
            db, trace_id, schema, stored, kind=kind, source_type="HUMAN", source_id=labeler,
            rationale=comment, metadata=metadata,
        )
    else:
        assessment_id = assessment_store.override_assessment(
            db, previous, stored, source_type="HUMAN", source_id=labeler, rationale=comment, metadata=metadata
        )
    item = store.refresh_item(db, record.session_id, trace_id, record.schemas, assignee=labeler)
    labeled = {label.schema_name for label in store.session_labels(db, record.session_id, [trace_id], record.schemas)}
    return SubmitResult(
        assessment_id=assessment_id,
        overrode=previous,
        schema_name=schema,
        kind=kind,
        value=stored,
        item_status=item.status,
        missing_schemas=[s for s in record.schemas if s not in labeled],
        next_pending_trace_id=_next_pending(db, record.session_id, item.position),
    )


def skip_item(db: Database, session: str, trace_id: str, *, labeler: str) -> LabelingItem:
    """Mark a queued trace skipped; labels it already has are kept, and a later label un-skips it."""
    record = store.get_session(db, session)
    trace_id = normalize_trace_id(trace_id)
    labeler = _labeler(record, labeler)
    item = store.skip_item(db, record.session_id, trace_id, assignee=labeler)
    # None: the trace is not queued, and _queued_item raises the error that says how to queue it.
    return _shown_items(db, record, [item or _queued_item(db, record, trace_id)])[0]
