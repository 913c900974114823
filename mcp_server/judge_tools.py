"""The judge tools: CreateJudge, ListJudges, GetJudge and RunJudge, registered on a server by
`add_judge_tools(server, db, settings)`.

Thin wrappers in the style of mcp_server.assessment_tools: each signature is the tool's input
schema and each body calls a typed function in mcp_server.judges.tool_service.
"""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import Field

from mcp_server.judges import tool_service as service
from mcp_server.judges.definition import OutputType
from mcp_server.models import Sampler
from mcp_server.models.sampling import with_sampling
from mcp_server.settings import Settings
from mcp_server.tool_boundary import READ_ONLY, PageToken, TraceId, answer
from store import Database

CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
"""CreateJudge adds a version and RunJudge logs feedback; neither changes or removes anything."""
RUNS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
"""RunJudge may call a model provider (open world) and logs feedback."""

JudgeName = Annotated[str, Field(description="The judge's name, e.g. 'routing_accuracy' or a built-in such as 'correctness'.")]
Version = Annotated[int | None, Field(description="A stored judge's version; none for the latest.")]

CREATE_JUDGE_DESCRIPTION = """\
Create an LLM judge (or a new version of one: an existing name gets version n+1; old versions are
kept). The instructions are the judge's prompt and must use at least one template variable, and
only these: {{ inputs }} and {{ outputs }} (the trace's root span request and response),
{{ expectations }} (the trace's logged expectations, name -> value), {{ trace }} (makes it an
agent judge that investigates the whole trace with the read-only trace tools). output_type sets
the value: {"kind": "bool"}, {"kind": "categorical", "categories": ["yes", "no"]},
{"kind": "int" or "float", "minimum": 1, "maximum": 5}, or {"kind": "text"}. model:
'provider:/model' or 'provider/model', one the server allows (its default judge model,
'sampling' for your own model through MCP sampling, and those the operator lists in
TRACEJUDGE_ALLOWED_MODELS); none uses the server's default judge model. Returns the stored judge
with its version; run it with RunJudge.

Example: CreateJudge(name="routing_accuracy", instructions="Was the customer's request in
{{ inputs }} sent to the right specialist, judging by {{ outputs }}? Answer yes or no.",
output_type={"kind": "categorical", "categories": ["yes", "no"]})"""

LIST_JUDGES_DESCRIPTION = """\
List the stored judges (latest version of each, by name, instructions cut to 300 characters) and,
on the first page, the built-in judges anyone can run by name: LLM judges (correctness,
relevance_to_query, safety, guidelines, expectations_guidelines, retrieval_groundedness,
retrieval_relevance, tool_call_correctness, tool_call_efficiency) and code judges that need no
model (latency, error_spans, token_usage, tool_call_count, repeated_tool_calls), with the
parameters each takes. max_results: 1 to 100 (default 50); page_token: next_page_token of the
previous page.

Example: ListJudges()"""

GET_JUDGE_DESCRIPTION = """\
One judge in full: its instructions, output type, model, kind (llm, agent or code), and the
parameters a built-in judge takes. A stored judge by name (latest version, or version=n); a
built-in judge by its name.

Example: GetJudge(name="routing_accuracy", version=2)"""

RUN_JUDGE_DESCRIPTION = """\
Run a judge on one trace and log its verdict as feedback on the trace: feedback named after the
judge, source LLM_JUDGE (or CODE for code judges), source_id 'name@version'. Returns the verdict
(value, rationale, findings anchored to spans, metadata with tokens, cost and latency) and the
assessment_id. A judge that cannot reach a verdict (the model failed or answered invalidly
twice, the trace lacks the expectations the judge compares with) returns and logs an error
instead of a value; one that cannot run at all (no judge model, a model the server does not
allow) is a tool error saying what to set, and logs nothing. Afterwards SearchTraces(filter_string="feedback.correctness = 'no'") finds
the traces it failed. judge: a stored judge's name or a built-in judge (ListJudges lists them).
parameters: only for built-in judges, e.g. {"threshold_ms": 5000} for latency,
{"max_total_tokens": 20000} for token_usage, {"guidelines": ["Answer in English"]} for guidelines.
max_tokens and max_cost_usd: a budget for this judgment's model calls (an agent judge makes
many): each call reserves its estimate first and one that would exceed the budget is not sent;
a judgment it stops before its verdict returns an error, budget.stopped and what it spent, and
logs nothing. The answer's budget says what was spent of it.

Example: RunJudge(judge="correctness", trace_id="4bf92f3577b34da6a3ce929d0e0e4736")"""


def add_judge_tools(server: MCPServer, db: Database, settings: Settings) -> None:
    """Register the four judge tools on `server`, over `db`, with `settings` for the judge model."""

    async def create_judge(
        name: JudgeName,
        instructions: Annotated[
            str, Field(description="The prompt, using {{ inputs }}, {{ outputs }}, {{ expectations }} or {{ trace }}.")
        ],
        output_type: Annotated[
            OutputType | None, Field(description='The value\'s type; default {"kind": "bool"}.')
        ] = None,
        model: Annotated[str | None, Field(description="e.g. 'openai:/gpt-4o-mini'; none for the default.")] = None,
        description: Annotated[str, Field(description="What the judge checks, in one sentence.")] = "",
    ) -> Annotated[CallToolResult, service.JudgeInfo]:
        return await answer(
            service.create_judge, db, name, instructions, models=settings.models, output=output_type, model=model,
            description=description,
        )

    async def list_judges(
        max_results: Annotated[int, Field(description="Stored judges per page, 1 to 100.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, service.JudgeList]:
        return await answer(service.list_judges, db, max_results=max_results, page_token=page_token)

    async def get_judge(name: JudgeName, version: Version = None) -> Annotated[CallToolResult, service.JudgeInfo]:
        return await answer(service.get_judge, db, name, version=version)

    async def run_judge(
        judge: Annotated[str, Field(description="A stored judge's name or a built-in judge's name.")],
        trace_id: TraceId,
        version: Version = None,
        parameters: Annotated[
            dict[str, Any] | None, Field(description="Parameters of a built-in judge (GetJudge lists them).")
        ] = None,
        max_tokens: Annotated[
            int | None, Field(description="Token budget of this judgment's model calls; none for no limit.")
        ] = None,
        max_cost_usd: Annotated[
            float | None, Field(description="Cost budget in USD of this judgment's model calls; none for no limit.")
        ] = None,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, service.RunResult] | InputRequiredResult:
        # The calling client: with model 'sampling' (or none configured) its own model judges, on
        # 2026-07-28 through multi round-trip requests (the judgment runs again with each answer).
        async def run(sampler: Sampler | None) -> CallToolResult:
            return await answer(
                service.run_judge_tool, db, judge, trace_id, settings=settings, server=server,
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
