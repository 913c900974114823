"""Labeling schemas and sessions as typed functions with bounded answers: CreateLabelingSchema,
ListLabelingSchemas, CreateLabelingSession and ListLabelingSessions. A session's queue and its
labels are in mcp_server.labeling.queue. The MCP tools (mcp_server.labeling.tools) and the CLI
(mcp_server.labeling.cli) are thin wrappers over both.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from mcp_server.labeling.inputs import CategoricalInput, NumericInput, PassFailInput, TextInput, parse_input
from mcp_server.tooling.paging import (
    ENVELOPE_RESERVE,
    Page,
    check_range,
    issue_token,
    next_page_notice,
    read_token,
    state_int,
)
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import labeling as store
from store.errors import InvalidArgument, InvalidPageToken

MAX_RESULTS = 100
ANSWER_CHARS = 40_000
"""Size cap of a list answer; a page holds fewer entries rather than exceed it."""
MAX_INSTRUCTIONS_CHARS = 5_000
MAX_SESSION_SCHEMAS = 20
MAX_ASSIGNEES = 100

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


class SessionInfo(BaseModel):
    session_id: str
    name: str
    schemas: list[str]
    assignees: list[str] = Field(description="Who may label; empty for anyone.")
    status_counts: dict[str, int] = Field(description="Items pending, completed and skipped.")
    labeled_by: dict[str, int] = Field(description="How many of its traces each labeler has labeled in it.")
    created_time: str | None


class SessionList(BaseModel):
    sessions: list[SessionInfo]
    total: int
    next_page_token: str | None = None
    notice: str | None = None


# --- checks -------------------------------------------------------------------------------------


def check_name(value: object, what: str, *, limit: int = 200) -> str:
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
    return list(dict.fromkeys(check_name(v, f"an entry of {what}") for v in values))


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
        labeled_by=record.labeled_by,
        created_time=iso_time(record.created_ns),
    )


def schema_infos(db: Database, names: list[str]) -> list[SchemaInfo]:
    """The schemas of these names, in full (a session's questions, for the page that asks them)."""
    return [_schema_info(record) for record in store.get_schemas(db, names)]


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
    name = check_name(name, "name")
    schema_names = _names(schemas, "schemas", MAX_SESSION_SCHEMAS)
    if not schema_names:
        raise InvalidArgument(
            "schemas is empty; name at least one labeling schema (ListLabelingSchemas lists them, "
            "CreateLabelingSchema makes one)."
        )
    return _session_info(store.create_session(db, name, schema_names, _names(assignees, "assignees", MAX_ASSIGNEES)))


def get_session(db: Database, session: str) -> SessionInfo:
    """One session by its name or session_id, as ListLabelingSessions lists it."""
    return _session_info(store.get_session(db, session))


def list_sessions(db: Database, *, max_results: int = 50, page_token: str | None = None) -> SessionList:
    """A page of sessions by name, with how many items each has per status."""
    fetch = functools.partial(store.list_sessions, db)
    items, total, token, notice = _page_by_name(
        "ListLabelingSessions", "sessions", fetch, _session_info, max_results, page_token
    )
    return SessionList(sessions=items, total=total, next_page_token=token, notice=notice)
