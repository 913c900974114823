"""The evaluation tools: Evaluate, GetEvaluationRun and CompareEvaluationRuns, registered on a
server by `add_evaluation_tools(server, db, settings)`, and ListEvaluationRuns by
`add_run_listing_tool(server, db)`.

Thin wrappers in the style of mcp_server.judge_tools: each signature is the tool's input schema
and each body calls a typed function in mcp_server.evaluation. Evaluate reports its progress as
MCP progress notifications (to a client that sent a progress token).
"""

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.evaluation import listing, reports
from mcp_server.evaluation.run import MAX_CONCURRENCY, MAX_JUDGES, MAX_TRACES, evaluate
from mcp_server.evaluation.summary import EvaluationRun
from mcp_server.models import Sampler
from mcp_server.settings import Settings
from mcp_server.tool_boundary import READ_ONLY, FilterString, PageToken, answer
from store import Database

EVALUATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
"""Evaluate calls model providers (open world) and logs feedback and a run; it changes nothing else."""

RunId = Annotated[str, Field(description="An evaluation run's id, 'run-' and 32 hex characters, as Evaluate returns it.")]
MaxResults = Annotated[int, Field(description=f"Rows per page, 1 to {reports.MAX_RESULTS}.")]

EVALUATE_DESCRIPTION = f"""\
Run judges over many traces concurrently and store the run: each judge's verdict on each trace is
logged as feedback on the trace (as RunJudge does), and the run keeps every result and its
metrics. judges: up to {MAX_JUDGES} stored or built-in judge names (ListJudges lists them).
Traces: those filter_string matches (SearchTraces syntax; none for all traces) or the given
trace_ids; at most {MAX_TRACES:,}. Or evaluate an agent on a dataset: pass dataset (and
dataset_version; default the latest, and the run is pinned to it) and target, an agent's import
path 'module:function' that this server allows (TRACEJUDGE_TARGETS; the demo agent
'mcp_server.demo_target:answer' by default): the target runs on each record's inputs, each call
stored as a new trace that the judges then score against the record's expectations; the run
lists the prompt versions the target loaded, and CompareEvaluationRuns matches two such runs
record by record. A judge failing on a trace is recorded as an error for that
trace and never stops the run; an error every judgment would meet (no judge model, a model the
server does not allow, refused credentials, a model server it cannot reach) stops the run at
once, records nothing for it, and is Evaluate's answer (resume with run_id once it is fixed).
max_concurrency: judgments in flight, 1 to {MAX_CONCURRENCY}
(default 8; halved automatically when the provider rate-limits, grown back as answers come).
max_tokens and max_cost_usd: a budget for the whole run: every model call reserves its estimate
first and one that would not fit is not sent, so the run is 'stopped' with the reason; a judgment
stopped part way leaves its trace unjudged (its spend is counted). A run goes past the budget at
most by what calls in flight spent beyond their estimates, and its over_budget says how much.
To continue a stopped or interrupted run, call Evaluate(run_id=...) (with a larger budget if it
stopped on one): only the pairs without a result are judged. Returns the run: status, totals (tokens, cost, duration,
errors) and metrics named '<judge>/mean', '/min', '/max', '/p50', '/p90' (numbers; booleans as
1/0), '/pass_rate' (true, 'yes', 'pass' or 'no issues' pass), '/count', '/error_count'. Progress
is sent as MCP progress notifications. Look at results with GetEvaluationRun; compare with
CompareEvaluationRuns.

Example: Evaluate(judges=["correctness", "latency"], filter_string="trace.status = 'OK'", max_cost_usd=2.0)
Example: Evaluate(judges=["routing"], dataset="misrouted", target="mcp_server.demo_target:answer")"""

GET_EVALUATION_RUN_DESCRIPTION = f"""\
One evaluation run: its status (running, completed, stopped and why), judges and versions,
totals (pairs done, errors, tokens, cost, duration), metrics per judge, up to
{reports.ERRORS_PER_JUDGE} errors per judge, and a page of results ((judge, trace_id) order:
value, error, assessment_id of the feedback, tokens, cost, latency; values and errors cut to
{reports.VALUE_CHARS} characters). errors_only=true lists only the results with errors.
max_results: 1 to {reports.MAX_RESULTS} (default 50); page_token: next_page_token of the previous
answer.

Example: GetEvaluationRun(run_id="run-0f3c...", errors_only=true)"""

COMPARE_EVALUATION_RUNS_DESCRIPTION = f"""\
Compare two evaluation runs (run_a before, run_b after): every metric of either run with its
value in each and the delta b - a; how many traces changed verdict per judge; and a page of
those traces (judged by the same judge name in both runs, with a different value, or an error in
one run and a value in the other), with both verdicts. max_results: 1 to {reports.MAX_RESULTS}
(default 50); page_token: next_page_token of the previous answer.

Example: CompareEvaluationRuns(run_a="run-0f3c...", run_b="run-9ad1...")"""


def add_evaluation_tools(server: MCPServer, db: Database, settings: Settings) -> None:
    """Register the three evaluation tools on `server`, over `db`, with `settings` for the judges' model."""

    async def evaluate_tool(
        ctx: Context,
        judges: Annotated[
            list[str] | None,
            Field(description="Judge names, e.g. ['correctness', 'latency']; none when resuming with run_id."),
        ] = None,
        filter_string: FilterString = None,
        trace_ids: Annotated[list[str] | None, Field(description="Judge these traces instead of a filter.")] = None,
        dataset: Annotated[str | None, Field(description="Run the target on this dataset's records.")] = None,
        dataset_version: Annotated[int | None, Field(description="The dataset version; none for the latest.")] = None,
        target: Annotated[
            str | None, Field(description="The agent to run on each record, 'module:function' (allowed by the server).")
        ] = None,
        run_id: Annotated[
            str | None, Field(description="Resume this run: judge only its pairs without a result.")
        ] = None,
        name: Annotated[str | None, Field(description="A name for the run, e.g. 'prompt v2'.")] = None,
        max_concurrency: Annotated[int, Field(description=f"Judgments in flight, 1 to {MAX_CONCURRENCY}.")] = 8,
        max_tokens: Annotated[int | None, Field(description="Token budget of the whole run; none for no limit.")] = None,
        max_cost_usd: Annotated[float | None, Field(description="Cost budget in USD; none for no limit.")] = None,
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
            server=server,
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
        run_a: Annotated[str, Field(description="The baseline run's id.")],
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


LIST_EVALUATION_RUNS_DESCRIPTION = f"""\
List the stored evaluation runs, newest first, to find a run again (its run_id for
GetEvaluationRun, CompareEvaluationRuns, or Evaluate(run_id=...) to resume a stopped one). Each
run: run_id, name, status (running, completed, stopped and why), the judges' names, when it
started and ended, seconds spent, what it judged (filter_string for a run over stored traces, or
dataset, dataset_version, target and the prompt versions it loaded for a run on a dataset), how
many traces or records it covers, pairs done of pairs total, errors, tokens and cost. Names,
filters and stop reasons are cut to {listing.TEXT_CHARS} characters. max_results: 1 to
{listing.MAX_RUNS} (default 20); page_token: next_page_token of the previous page, for older runs.

Example: ListEvaluationRuns(max_results=5)"""


def add_run_listing_tool(server: MCPServer, db: Database) -> None:
    """Register ListEvaluationRuns on `server`, over `db`."""

    async def list_evaluation_runs(
        max_results: Annotated[int, Field(description=f"Runs per page, 1 to {listing.MAX_RUNS}.")] = 20,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, listing.EvaluationRunList]:
        return await answer(listing.list_evaluation_runs, db, max_results=max_results, page_token=page_token)

    server.add_tool(
        list_evaluation_runs, name="ListEvaluationRuns", description=LIST_EVALUATION_RUNS_DESCRIPTION,
        annotations=READ_ONLY, structured_output=True,
    )  # fmt: skip
