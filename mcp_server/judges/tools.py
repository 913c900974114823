"""The judge tools: CreateJudge, ListJudges, GetJudge and RunJudge, registered on a server by
`add_judge_tools(server, db, settings)`.

Thin wrappers in the style of mcp_server.assessments.tools: each signature is the tool's input
schema and each body calls a typed function in mcp_server.judges.service.
"""

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import Field

from mcp_server.judges import service
from mcp_server.judges.definition import OutputType
from mcp_server.models import Sampler
from mcp_server.models.sampling import with_sampling
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, PageToken, TraceId, answer
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
"""CreateJudge adds a version and RunJudge logs feedback; neither changes or removes anything."""
RUNS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
"""RunJudge may call a model provider (open world) and logs feedback."""

JudgeName = Annotated[str, Field(description="e.g. 'routing', or a built-in such as 'correctness'.")]
Version = Annotated[int | None, Field(description="A stored judge's version.")]

CREATE_JUDGE_DESCRIPTION = """\
Create an LLM judge, or its next version. instructions use {{ inputs }}, {{ outputs }} (the root
span's request and response), {{ expectations }}, or {{ trace }} (an agent judge with the trace
tools). output_type kinds: bool, text, categorical (categories), int or float (minimum, maximum).
model: one the server allows, or 'sampling'.
Example: CreateJudge(name="routing", instructions="Was {{ inputs }} routed right?")"""

LIST_JUDGES_DESCRIPTION = """\
The stored judges and, on the first page, the built-in ones with their parameters.
Example: ListJudges()"""

GET_JUDGE_DESCRIPTION = """\
One judge in full: instructions, output type, model, kind, parameters.
Example: GetJudge(name="routing", version=2)"""

RUN_JUDGE_DESCRIPTION = """\
Run a judge on one trace and log its verdict as feedback named after the judge (an unreachable
verdict is logged as an error). parameters: built-in judges only, e.g. {"threshold_ms": 5000}.
Example: RunJudge(judge="correctness", trace_id="4bf92f35...")"""


def add_judge_tools(server: MCPServer, db: Database, settings: Settings, judge_server: "JudgeServer") -> None:
    """Register the four judge tools on `server`, over `db`, with `settings` for the judge model."""

    async def create_judge(
        name: JudgeName,
        instructions: Annotated[
            str, Field(description="The prompt, with the template variables above.")
        ],
        output_type: Annotated[
            OutputType | None, Field(description='Default {"kind": "bool"}.')
        ] = None,
        model: Annotated[str | None, Field(description="e.g. 'openai:/gpt-4o-mini'.")] = None,
        description: Annotated[str, Field(description="What it checks, one sentence.")] = "",
    ) -> Annotated[CallToolResult, service.JudgeInfo]:
        return await answer(
            service.create_judge, db, name, instructions, models=settings.models, output=output_type, model=model,
            description=description,
        )

    async def list_judges(
        max_results: Annotated[int, Field(description=f"1 to {service.MAX_RESULTS:,}.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, service.JudgeList]:
        return await answer(service.list_judges, db, max_results=max_results, page_token=page_token)

    async def get_judge(name: JudgeName, version: Version = None) -> Annotated[CallToolResult, service.JudgeInfo]:
        return await answer(service.get_judge, db, name, version=version)

    async def run_judge(
        judge: Annotated[str, Field(description="A stored or built-in judge's name.")],
        trace_id: TraceId,
        version: Version = None,
        parameters: Annotated[
            dict[str, Any] | None, Field(description="A built-in judge's (GetJudge lists them).")
        ] = None,
        max_tokens: Annotated[
            int | None, Field(description="Token budget.")
        ] = None,
        max_cost_usd: Annotated[
            float | None, Field(description="Budget in USD.")
        ] = None,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, service.RunResult] | InputRequiredResult:
        # The calling client: with model 'sampling' (or none configured) its own model judges, on
        # 2026-07-28 through multi round-trip requests (the judgment runs again with each answer).
        async def run(sampler: Sampler | None) -> CallToolResult:
            return await answer(
                service.run_judge_tool, db, judge, trace_id, settings=settings, server=judge_server,
                version=version, parameters=parameters, sampler=sampler, max_tokens=max_tokens,
                max_cost_usd=max_cost_usd,
            )

        return await with_sampling(ctx, run) if ctx is not None else await run(None)

    for name, fn, description, annotations in (
        ("CreateJudge", create_judge, CREATE_JUDGE_DESCRIPTION, CREATES),
        ("ListJudges", list_judges, LIST_JUDGES_DESCRIPTION, READ_ONLY),
        ("GetJudge", get_judge, GET_JUDGE_DESCRIPTION, READ_ONLY),
        ("RunJudge", run_judge, RUN_JUDGE_DESCRIPTION, RUNS),
    ):
        server.add_tool(fn, name=name, description=description, annotations=annotations, structured_output=True)
