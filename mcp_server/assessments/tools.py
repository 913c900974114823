"""The feedback tools: LogFeedback, LogExpectation, ListAssessments, GetAssessment and
OverrideAssessment, registered on a server by `add_assessment_tools(server, db)`.

Thin wrappers in the style of mcp_server.server: each signature is the tool's input schema and
each body calls the typed function in mcp_server.assessments.service through mcp_server.tooling.boundary.answer.
"""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.assessments import service
from mcp_server.tooling.boundary import READ_ONLY, PageToken, TraceId, answer
from store import Database
from store import assessments as limits
from store.assessments import Finding

WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
"""The log tools add rows and never change or remove one; calling one twice logs twice."""

# The limits the descriptions state are the constants the store checks, so the two cannot drift apart.
AssessmentName = Annotated[
    str, Field(description=f"e.g. 'correctness', at most {limits.MAX_NAME_CHARS:,} characters.")
]
Value = Annotated[
    bool | int | float | str | list[Any] | dict[str, Any],
    Field(description="e.g. 'yes', 0.8, true."),
]
OptionalSpanId = Annotated[
    str | None,
    Field(description="None for the whole trace."),
]
Rationale = Annotated[str | None, Field(description=f"At most {limits.MAX_TEXT_CHARS:,} characters.")]
SourceType = Annotated[
    Literal["HUMAN", "LLM_JUDGE", "CODE"],
    Field(description="A person, a model or a program."),
]
SourceId = Annotated[str | None, Field(description="e.g. a user or judge name.")]
Metadata = Annotated[
    dict[str, Any] | None,
    Field(description=f"Extra facts, at most {limits.MAX_METADATA_CHARS:,} characters."),
]
AssessmentId = Annotated[
    str,
    Field(description="'a-' and 32 hex characters."),
]


def add_assessment_tools(server: MCPServer, db: Database) -> None:
    """Register the five feedback tools on `server`, over `db`."""

    async def log_feedback(
        trace_id: TraceId,
        name: AssessmentName,
        value: Value,
        span_id: OptionalSpanId = None,
        rationale: Rationale = None,
        source_type: SourceType = "HUMAN",
        source_id: SourceId = None,
        metadata: Metadata = None,
        findings: Annotated[
            list[Finding] | None,
            Field(
                description=f"Problems found on spans of this trace, at most {limits.MAX_FINDINGS:,}."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, service.LoggedAssessment]:
        return await answer(
            service.log_feedback,
            db,
            trace_id,
            name,
            value,
            span_id=span_id,
            rationale=rationale,
            source_type=source_type,
            source_id=source_id,
            metadata=metadata,
            findings=findings,
        )

    async def log_expectation(
        trace_id: TraceId,
        name: AssessmentName,
        value: Value,
        span_id: OptionalSpanId = None,
        source_type: SourceType = "HUMAN",
        source_id: SourceId = None,
        metadata: Metadata = None,
    ) -> Annotated[CallToolResult, service.LoggedAssessment]:
        return await answer(
            service.log_expectation,
            db,
            trace_id,
            name,
            value,
            span_id=span_id,
            source_type=source_type,
            source_id=source_id,
            metadata=metadata,
        )

    async def list_assessments(
        trace_id: TraceId,
        name: Annotated[str | None, Field(description="Only this name.")] = None,
        kind: Annotated[
            Literal["feedback", "expectation"] | None, Field(description="Only feedback, or only expectations.")
        ] = None,
        include_invalid: Annotated[bool, Field(description="Also overridden ones (valid=false).")] = False,
        max_results: Annotated[int, Field(description=f"Assessments per page, 1 to {service.MAX_RESULTS:,}.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, service.AssessmentList]:
        return await answer(
            service.list_assessments,
            db,
            trace_id,
            name=name,
            kind=kind,
            include_invalid=include_invalid,
            max_results=max_results,
            page_token=page_token,
        )

    async def get_assessment(assessment_id: AssessmentId) -> Annotated[CallToolResult, service.Assessment]:
        return await answer(service.get_assessment, db, assessment_id)

    async def override_assessment(
        assessment_id: AssessmentId,
        value: Value,
        rationale: Rationale = None,
        source_type: SourceType = "HUMAN",
        source_id: SourceId = None,
    ) -> Annotated[CallToolResult, service.OverrideResult]:
        return await answer(
            service.override_assessment,
            db,
            assessment_id,
            value,
            rationale=rationale,
            source_type=source_type,
            source_id=source_id,
        )

    for name, fn, description, annotations in (
        ("LogFeedback", log_feedback, service.LOG_FEEDBACK_DESCRIPTION, WRITES),
        ("LogExpectation", log_expectation, service.LOG_EXPECTATION_DESCRIPTION, WRITES),
        ("ListAssessments", list_assessments, service.LIST_ASSESSMENTS_DESCRIPTION, READ_ONLY),
        ("GetAssessment", get_assessment, service.GET_ASSESSMENT_DESCRIPTION, READ_ONLY),
        ("OverrideAssessment", override_assessment, service.OVERRIDE_ASSESSMENT_DESCRIPTION, WRITES),
    ):
        server.add_tool(fn, name=name, description=description, annotations=annotations, structured_output=True)
