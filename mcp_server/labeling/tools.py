"""The labeling tools: CreateLabelingSchema, ListLabelingSchemas, CreateLabelingSession,
ListLabelingSessions, AddTracesToLabelingSession, ListLabelingItems, SubmitLabel and
SkipLabelingItem, registered on a server by `add_labeling_tools(server, db, settings)`.

Thin wrappers in the style of mcp_server.judges.tools: each signature is the tool's input schema
and each body calls a typed function in mcp_server.labeling.definitions (schemas, sessions) or
mcp_server.labeling.queue (a session's traces and labels).
"""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.labeling import definitions, queue
from mcp_server.labeling.inputs import LabelInput
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, FilterString, PageToken, TraceId, answer
from store import Database

WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
"""These tools add schemas, sessions, queue entries and labels; a re-label overrides, never deletes."""
REPLACES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)
"""CreateLabelingSchema with overwrite=true replaces a schema's definition."""

Session = Annotated[str, Field(description="Its name or session_id.")]
SchemaName = Annotated[str, Field(description="A labeling schema's name.")]
Labeler = Annotated[str, Field(description="The person, e.g. 'alice'.")]

CREATE_SCHEMA_DESCRIPTION = """\
Define a question people answer about traces; labels are HUMAN assessments of its name (name
it after a judge to align that judge). input: {"kind": "pass_fail"}, {"kind": "categorical",
"options": [...]}, {"kind": "numeric", "minimum": 1, "maximum": 5} or {"kind": "text"}.
Example: CreateLabelingSchema(name="routing", type="feedback", input={"kind": "pass_fail"})"""

LIST_SCHEMAS_DESCRIPTION = """\
The labeling schemas in full.
Example: ListLabelingSchemas()"""

CREATE_SESSION_DESCRIPTION = """\
Create a labeling session: a queue of traces to label with its schemas; fill it with
AddTracesToLabelingSession.
Example: CreateLabelingSession(name="week 12", schemas=["routing"], assignees=["alice"])"""

LIST_SESSIONS_DESCRIPTION = """\
The labeling sessions with schemas, assignees and item counts.
Example: ListLabelingSessions()"""

ADD_TRACES_DESCRIPTION = """\
Queue traces in a labeling session (ones already there are ignored).
Example: AddTracesToLabelingSession(session="week 12", filter_string="feedback.routing = 'no'")"""

LIST_ITEMS_DESCRIPTION = """\
A labeling session's queue: each trace's status, previews, labels so far, schemas missing.
Example: ListLabelingItems(session="week 12", status="pending")"""

SUBMIT_LABEL_DESCRIPTION = """\
Record a person's label for one schema on one queued trace, as a HUMAN assessment; relabeling
overrides. You may pre-fill a value, but submit as the person once they agree.
Example: SubmitLabel(session="week 12", trace_id="4bf92f35...", schema="routing", value="fail", labeler="alice")"""

SKIP_ITEM_DESCRIPTION = """\
Mark a queued trace skipped.
Example: SkipLabelingItem(session="week 12", trace_id="4bf92f35...", labeler="alice")"""


def add_labeling_tools(server: MCPServer, db: Database, settings: Settings) -> None:
    """Register the labeling tools on `server`, over `db` (`settings` for symmetry with the other tool sets)."""
    del settings  # labeling calls no model

    async def create_labeling_schema(
        name: Annotated[str, Field(description="Letters, digits, _ . -; also its labels' name.")],
        type: Annotated[Literal["feedback", "expectation"], Field(description="A verdict or ground truth.")],
        input: Annotated[LabelInput, Field(description="What a label holds (above).")],
        instructions: Annotated[str, Field(description="For the labeler.")] = "",
        enable_comment: Annotated[bool, Field(description="Whether a label may carry a comment.")] = False,
        overwrite: Annotated[bool, Field(description="Replace one of this name.")] = False,
    ) -> Annotated[CallToolResult, definitions.SchemaInfo]:
        return await answer(
            definitions.create_schema, db, name, type, input,
            instructions=instructions, enable_comment=enable_comment, overwrite=overwrite,
        )

    async def list_labeling_schemas(
        max_results: Annotated[int, Field(description=f"1 to {definitions.MAX_RESULTS:,}.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, definitions.SchemaList]:
        return await answer(definitions.list_schemas, db, max_results=max_results, page_token=page_token)

    async def create_labeling_session(
        name: Annotated[str, Field(description="e.g. 'week 12'.")],
        schemas: Annotated[list[str], Field(description=f"Schema names, at most {definitions.MAX_SESSION_SCHEMAS:,}.")],
        assignees: Annotated[list[str] | None, Field(description="Who may label; none for anyone.")] = None,
    ) -> Annotated[CallToolResult, definitions.SessionInfo]:
        return await answer(definitions.create_session, db, name, schemas, assignees=assignees)

    async def list_labeling_sessions(
        max_results: Annotated[int, Field(description=f"1 to {definitions.MAX_RESULTS:,}.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, definitions.SessionList]:
        return await answer(definitions.list_sessions, db, max_results=max_results, page_token=page_token)

    async def add_traces_to_labeling_session(
        session: Session,
        trace_ids: Annotated[list[str] | None, Field(description="In queue order.")] = None,
        filter_string: FilterString = None,
        max_traces: Annotated[int, Field(description=f"1 to {queue.MAX_TRACES_PER_CALL:,}.")] = 1_000,
    ) -> Annotated[CallToolResult, queue.AddTracesResult]:
        return await answer(
            queue.add_traces, db, session, trace_ids=trace_ids, filter_string=filter_string, max_traces=max_traces
        )

    async def list_labeling_items(
        session: Session,
        status: Annotated[
            Literal["pending", "completed", "skipped"] | None, Field(description="Only items of this status.")
        ] = None,
        max_results: Annotated[int, Field(description=f"1 to {queue.MAX_RESULTS:,}.")] = 20,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, queue.ItemList]:
        return await answer(
            queue.list_items, db, session, status=status, max_results=max_results, page_token=page_token
        )

    async def submit_label(
        session: Session,
        trace_id: TraceId,
        schema: SchemaName,
        value: Annotated[
            bool | int | float | str | list[str],
            Field(description="As ListLabelingItems' 'expects' says."),
        ],
        labeler: Labeler,
        comment: Annotated[str | None, Field(description="With enable_comment only.")] = None,
    ) -> Annotated[CallToolResult, queue.SubmitResult]:
        return await answer(queue.submit_label, db, session, trace_id, schema, value, labeler=labeler, comment=comment)

    async def skip_labeling_item(
        session: Session, trace_id: TraceId, labeler: Labeler
    ) -> Annotated[CallToolResult, queue.LabelingItem]:
        return await answer(queue.skip_item, db, session, trace_id, labeler=labeler)

    tools: tuple[tuple[str, Any, str, ToolAnnotations], ...] = (
        ("CreateLabelingSchema", create_labeling_schema, CREATE_SCHEMA_DESCRIPTION, REPLACES),
        ("ListLabelingSchemas", list_labeling_schemas, LIST_SCHEMAS_DESCRIPTION, READ_ONLY),
        ("CreateLabelingSession", create_labeling_session, CREATE_SESSION_DESCRIPTION, WRITES),
        ("ListLabelingSessions", list_labeling_sessions, LIST_SESSIONS_DESCRIPTION, READ_ONLY),
        ("AddTracesToLabelingSession", add_traces_to_labeling_session, ADD_TRACES_DESCRIPTION, WRITES),
        ("ListLabelingItems", list_labeling_items, LIST_ITEMS_DESCRIPTION, READ_ONLY),
        ("SubmitLabel", submit_label, SUBMIT_LABEL_DESCRIPTION, WRITES),
        ("SkipLabelingItem", skip_labeling_item, SKIP_ITEM_DESCRIPTION, WRITES),
    )
    for name, fn, description, annotations in tools:
        server.add_tool(fn, name=name, description=description, annotations=annotations, structured_output=True)
