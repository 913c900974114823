"""The evaluation tools: Evaluate, GetEvaluationRun and CompareEvaluationRuns, registered on a
server by `add_evaluation_tools(server, db, settings)`, and ListEvaluationRuns by
`add_run_listing_tool(server, db)`.

Thin wrappers in the style of mcp_server.judges.tools: each signature is the tool's input schema
and each body calls a typed function in mcp_server.evaluation. Evaluate reports its progress as
MCP progress notifications (to a client that sent a progress token).
"""

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.evaluation import listing, reports
from mcp_server.evaluation.run import MAX_CONCURRENCY, evaluate
from mcp_server.evaluation.summary import EvaluationRun
from mcp_server.models import Sampler
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, FilterString, PageToken, answer
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

EVALUATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
"""Evaluate calls model providers (open world) and logs feedback and a run; it changes nothing else."""

RunId = Annotated[str, Field(description="'run-' and 32 hex characters.")]
MaxResults = Annotated[int, Field(description=f"1 to {reports.MAX_RESULTS:,}.")]

EVALUATE_DESCRIPTION = """\
Run judges over traces (filter_string or trace_ids), or an agent (target) over a dataset's
records and judge its answers; logs each verdict as feedback and stores the run with metrics.
A failing judgment never stops the run; resume a stopped run with run_id. Read it with
GetEvaluationRun.
Example: Evaluate(judges=["correctness"], filter_string="trace.status = 'OK'", max_cost_usd=2.0)"""

GET_EVALUATION_RUN_DESCRIPTION = """\
One evaluation run: status, judges, totals, metrics and a page of results.
Example: GetEvaluationRun(run_id="run-0f3c...", errors_only=true)"""

COMPARE_EVALUATION_RUNS_DESCRIPTION = """\
Compare run_a (before) with run_b (after): metric deltas and the traces or records whose
verdict changed.
Example: CompareEvaluationRuns(run_a="run-0f3c...", run_b="run-9ad1...")"""


def add_evaluation_tools(server: MCPServer, db: Database, settings: Settings, judge_server: "JudgeServer") -> None:
    """Register the three evaluation tools on `server`, over `db`, with `settings` for the judges' model."""

    async def evaluate_tool(
        ctx: Context,
        judges: Annotated[
            list[str] | None,
            Field(description="e.g. ['correctness']; none with run_id."),
        ] = None,
        filter_string: FilterString = None,
        trace_ids: Annotated[list[str] | None, Field(description="Instead of filter_string.")] = None,
        dataset: Annotated[str | None, Field(description="Records for the target.")] = None,
        dataset_version: Annotated[int | None, Field(description="Of the dataset.")] = None,
        target: Annotated[
            str | None, Field(description="'module:function', allowed by the server.")
        ] = None,
        run_id: Annotated[
            str | None, Field(description="Resume this run.")
        ] = None,
        name: Annotated[str | None, Field(description="e.g. 'prompt v2'.")] = None,
        max_concurrency: Annotated[int, Field(description=f"Judgments in flight, 1 to {MAX_CONCURRENCY:,}.")] = 8,
        max_tokens: Annotated[int | None, Field(description="Token budget.")] = None,
        max_cost_usd: Annotated[float | None, Field(description="Budget in USD.")] = None,
    ) -> Annotated[CallToolResult, EvaluationRun]:
        async def progress(done: int, total: int, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return await answer(
            evaluate,
            db,
            judges,
            settings=settings,
            filter_string=filter_string,
            trace_ids=trace_ids,
            dataset=dataset,
            dataset_version=dataset_version,
            target=target,
            allowed_targets=settings.targets,  # a client runs only the agents the server lists
            run_id=run_id,
            name=name,
            max_concurrency=max_concurrency,
            max_tokens=max_tokens,
            max_cost_usd=max_cost_usd,
            progress=progress,
            server=judge_server,
            allow_import=False,  # a client must not run any function on this server by naming it
            sampler=Sampler.from_context(ctx),
        )

    async def get_evaluation_run(
        run_id: RunId,
        max_results: MaxResults = 50,
        page_token: PageToken = None,
        errors_only: Annotated[bool, Field(description="List only results with an error.")] = False,
    ) -> Annotated[CallToolResult, reports.EvaluationRunReport]:
        return await answer(
            reports.get_evaluation_run, db, run_id, max_results=max_results, page_token=page_token,
            errors_only=errors_only,
        )

    async def compare_evaluation_runs(
        run_a: Annotated[str, Field(description="The baseline.")],
        run_b: Annotated[str, Field(description="The run compared with it.")],
        max_results: MaxResults = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, reports.RunComparison]:
        return await answer(
            reports.compare_evaluation_runs, db, run_a, run_b, max_results=max_results, page_token=page_token
        )

    for tool_name, fn, description, annotations in (
        ("Evaluate", evaluate_tool, EVALUATE_DESCRIPTION, EVALUATES),
        ("GetEvaluationRun", get_evaluation_run, GET_EVALUATION_RUN_DESCRIPTION, READ_ONLY),
        ("CompareEvaluationRuns", compare_evaluation_runs, COMPARE_EVALUATION_RUNS_DESCRIPTION, READ_ONLY),
    ):
        server.add_tool(fn, name=tool_name, description=description, annotations=annotations, structured_output=True)


LIST_EVALUATION_RUNS_DESCRIPTION = """\
The evaluation runs, newest first, with status, judges and totals.
Example: ListEvaluationRuns(max_results=5)"""


def add_run_listing_tool(server: MCPServer, db: Database) -> None:
    """Register ListEvaluationRuns on `server`, over `db`."""

    async def list_evaluation_runs(
        max_results: Annotated[int, Field(description=f"1 to {listing.MAX_RUNS:,}.")] = 20,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, listing.EvaluationRunList]:
        return await answer(listing.list_evaluation_runs, db, max_results=max_results, page_token=page_token)

    server.add_tool(
        list_evaluation_runs, name="ListEvaluationRuns", description=LIST_EVALUATION_RUNS_DESCRIPTION,
        annotations=READ_ONLY, structured_output=True,
    )  # fmt: skip
