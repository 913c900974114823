"""A labeling session's queue and its labels as typed functions with bounded answers:
AddTracesToLabelingSession, ListLabelingItems, SubmitLabel and SkipLabelingItem. Labels are HUMAN
assessments named after their schema (store.assessments), tagged with the session they were given
in; a session's schemas and assignees come from mcp_server.labeling.definitions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mcp_server.labeling.definitions import ANSWER_CHARS, MAX_RESULTS, check_name
from mcp_server.labeling.inputs import parse_input
from mcp_server.tooling.paging import (
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
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import labeling as store
from store.errors import InvalidArgument
from store.ids import normalize_trace_id
from store.search import search_trace_ids
from store.traces import get_traces

MAX_TRACES_PER_CALL = 10_000
"""Most traces one AddTracesToLabelingSession call adds (by ids or by a filter)."""
PREVIEW_CHARS = 500
"""A queued trace's request and response previews are cut to this many characters."""
LABEL_VALUE_CHARS = 300
LABEL_COMMENT_CHARS = 300
MAX_LABELS_SHOWN = 20
"""Labels shown per item in ListLabelingItems; more are counted, not shown."""
ADDED_SHOWN = 100
"""AddTracesToLabelingSession lists the first this many trace ids it added; it counts them all."""


# --- answers ------------------------------------------------------------------------------------


class SchemaBrief(BaseModel):
    name: str
    type: str
    expects: str


class AddTracesResult(BaseModel):
    session_id: str
    added: int
    already_queued: int = Field(description="Traces that were in the session already (or repeated), ignored.")
    added_trace_ids: list[str] = Field(description=f"The first {ADDED_SHOWN:,} traces added, in queue order.")
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


# --- the queue ----------------------------------------------------------------------------------


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
        ids = search_trace_ids(db, filter_string, None, max_traces + 1)
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
        added_trace_ids=added[:ADDED_SHOWN],
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


def check_labeler(record: store.LabelingSessionRecord, labeler: object) -> str:
    name = check_name(labeler, "labeler")
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
    labeler = check_labeler(record, labeler)
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
    assessment_id, previous, item = store.put_label(
        db, record.session_id, trace_id, schema, kind, stored, labeler=labeler, comment=comment, schemas=record.schemas
    )
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
    labeler = check_labeler(record, labeler)
    item = store.skip_item(db, record.session_id, trace_id, assignee=labeler)
    # None: the trace is not queued, and _queued_item raises the error that says how to queue it.
    return _shown_items(db, record, [item or _queued_item(db, record, trace_id)])[0]
