"""The issue tools: DiscoverIssues, ListIssues, GetIssue, UpdateIssue, CreateDatasetFromIssue and
CreateJudgeFromIssue, registered by `add_issue_tools(server, db, settings, judge_server)`."""

from typing import TYPE_CHECKING, Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.datasets.from_traces import AddTracesReport
from mcp_server.issues import discovery, judge_from_issue, service
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, FilterString, PageToken, answer
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

SPENDS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
CHANGES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)

DISCOVER_DESCRIPTION = """\
Gather traces' failures (failing spans, verdicts, findings; `judges` run first) into named
issues with trace counts, merged into those found before; without a model each failure group is
its own issue.
Example: DiscoverIssues(filter_string="trace.timestamp_ms > 1767225600000", max_cost_usd=1)"""

LIST_DESCRIPTION = """\
The issues, most traces first (or most recent), by status and category.
Example: ListIssues(status="open")"""

GET_DESCRIPTION = """\
One issue: prevalence over window_days with its trend, and evidence (trace, span, excerpt).
Example: GetIssue(issue_id="iss-3f2a...")"""

UPDATE_DESCRIPTION = """\
Change an issue's fields, merge it into another (merge_into), or split traces out into a new
issue (split_trace_ids).
Example: UpdateIssue(issue_id="iss-3f2a...", status="confirmed")"""

DATASET_DESCRIPTION = """\
Add an issue's traces' inputs to a dataset (default issue-<id>), tagged.
Example: CreateDatasetFromIssue(issue_id="iss-3f2a...")"""

JUDGE_DESCRIPTION = """\
Draft a judge that detects an issue, check it on traces it was not drafted from (the issue's
and others) and report its precision and recall; saved unless save=false.
Example: CreateJudgeFromIssue(issue_id="iss-3f2a...", name="misroute")"""


def add_issue_tools(server: MCPServer, db: Database, settings: Settings, judge_server: "JudgeServer") -> None:
    """Register the six issue tools on `server`, over `db`."""

    async def discover_issues(
        filter_string: FilterString = None,
        trace_ids: list[str] | None = None,
        judges: Annotated[list[str] | None, Field(description="Run first, e.g. ['trace_issues'].")] = None,
        model: str | None = None,
        max_issues: int = 20,
        max_traces: int = discovery.MAX_TRACES,
        max_tokens: int | None = None,
        max_cost_usd: float | None = None,
    ) -> Annotated[CallToolResult, discovery.DiscoveryReport]:
        return await answer(discovery.discover_issues, db, settings=settings, filter_string=filter_string,
                            trace_ids=trace_ids, judges=judges, model=model, max_issues=max_issues,
                            max_traces=max_traces, max_tokens=max_tokens, max_cost_usd=max_cost_usd,
                            server=judge_server)  # fmt: skip

    async def list_issues(
        status: Literal["open", "confirmed", "rejected", "resolved"] | None = None,
        category: str | None = None,
        order: Literal["traces", "recent"] = "traces",
        max_results: int = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, service.IssueList]:
        return await answer(service.list_issues, db, status=status, category=category, order=order,
                            max_results=max_results, page_token=page_token)  # fmt: skip

    async def get_issue(
        issue_id: str, window_days: float = 7, max_results: int = 20, page_token: PageToken = None
    ) -> Annotated[CallToolResult, service.IssueDetail]:
        return await answer(service.get_issue, db, issue_id, window_days=window_days, max_results=max_results,
                            page_token=page_token)  # fmt: skip

    async def update_issue(
        issue_id: str,
        status: Literal["open", "confirmed", "rejected", "resolved"] | None = None,
        severity: Literal["low", "medium", "high", "critical"] | None = None,
        title: str | None = None,
        description: str | None = None,
        category: str | None = None,
        root_cause: str | None = None,
        merge_into: str | None = None,
        split_trace_ids: list[str] | None = None,
        split_title: str | None = None,
    ) -> Annotated[CallToolResult, service.IssueList]:
        changes = {"status": status, "severity": severity, "title": title, "description": description,
                   "category": category, "root_cause": root_cause}  # fmt: skip
        return await answer(service.update_issue, db, issue_id, changes, merge_into=merge_into,
                            split_trace_ids=split_trace_ids, split_title=split_title)  # fmt: skip

    async def create_dataset_from_issue(
        issue_id: str, dataset: str | None = None
    ) -> Annotated[CallToolResult, AddTracesReport]:
        return await answer(service.create_dataset_from_issue, db, issue_id, dataset)

    async def create_judge_from_issue(
        issue_id: str,
        name: str | None = None,
        model: str | None = None,
        filter_string: Annotated[str | None, Field(description="Traces to compare with.")] = None,
        save: bool = True,
        max_cost_usd: float | None = None,
    ) -> Annotated[CallToolResult, judge_from_issue.JudgeFromIssue]:
        return await answer(judge_from_issue.create_judge_from_issue, db, issue_id, settings=settings, name=name,
                            model=model, filter_string=filter_string, save=save, max_cost_usd=max_cost_usd,
                            server=judge_server)  # fmt: skip

    for tool_name, fn, description, annotations in (
        ("DiscoverIssues", discover_issues, DISCOVER_DESCRIPTION, SPENDS),
        ("ListIssues", list_issues, LIST_DESCRIPTION, READ_ONLY),
        ("GetIssue", get_issue, GET_DESCRIPTION, READ_ONLY),
        ("UpdateIssue", update_issue, UPDATE_DESCRIPTION, CHANGES),
        ("CreateDatasetFromIssue", create_dataset_from_issue, DATASET_DESCRIPTION, CHANGES),
        ("CreateJudgeFromIssue", create_judge_from_issue, JUDGE_DESCRIPTION, SPENDS),
    ):
        server.add_tool(fn, name=tool_name, description=description, annotations=annotations, structured_output=True)
