"""The gate tools: CreateGate, GetGate, ListGates and CheckGate, registered by
`add_gate_tools(server, db, settings, judge_server)`."""

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.gates import service
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, FilterString, answer
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
CHECKS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)

CREATE_DESCRIPTION = """\
Store a release gate (next version): metric conditions on an evaluation run, each block or warn,
optionally against a baseline run, and policy judges that must pass on a share of traces.
Example: CreateGate(name="release", conditions=["correctness/mean >= 0.8"], policies=["safety"])"""

CHECK_DESCRIPTION = """\
Check a gate on a run (run_id), or run its judges first over traces (filter_string, trace_ids)
or an agent on a dataset (dataset, target): pass, warn or block, each check with its value, and
the traces that broke a policy.
Example: CheckGate(gate="release", run_id="run-0f3c...")"""


def add_gate_tools(server: MCPServer, db: Database, settings: Settings, judge_server: "JudgeServer") -> None:
    """Register the four gate tools on `server`, over `db`."""

    async def create_gate(
        name: str,
        conditions: Annotated[list[str | dict[str, Any]] | None, Field(description="e.g. 'latency/p90 <= 5000', or {condition, level, max_drop}.")] = None,
        policies: Annotated[list[str | dict[str, Any]] | None, Field(description="e.g. 'safety', or {judge, min_share, level}.")] = None,
        baseline_run_id: str | None = None,
        description: str = "",
    ) -> Annotated[CallToolResult, service.Gate]:
        return await answer(service.create_gate, db, name, conditions=conditions, policies=policies,
                            baseline_run_id=baseline_run_id, description=description)  # fmt: skip

    async def get_gate(name: str, version: int | None = None) -> Annotated[CallToolResult, service.Gate]:
        return await answer(service.get_gate, db, name, version)

    async def list_gates() -> Annotated[CallToolResult, service.GateList]:
        return await answer(service.list_gates, db)

    async def check_gate(
        gate: str,
        version: int | None = None,
        run_id: str | None = None,
        filter_string: FilterString = None,
        trace_ids: list[str] | None = None,
        dataset: str | None = None,
        target: str | None = None,
        max_cost_usd: float | None = None,
    ) -> Annotated[CallToolResult, service.GateReport]:
        return await answer(service.check_gate, db, gate, settings=settings, version=version, run_id=run_id,
                            filter_string=filter_string, trace_ids=trace_ids, dataset=dataset, target=target,
                            max_cost_usd=max_cost_usd, server=judge_server, allowed_targets=settings.targets)  # fmt: skip

    for tool_name, fn, description, annotations in (
        ("CreateGate", create_gate, CREATE_DESCRIPTION, CREATES),
        ("GetGate", get_gate, "One gate (latest version, or version).\nExample: GetGate(name=\"release\")", READ_ONLY),
        ("ListGates", list_gates, "The gates at their latest versions.\nExample: ListGates()", READ_ONLY),
        ("CheckGate", check_gate, CHECK_DESCRIPTION, CHECKS),
    ):
        server.add_tool(fn, name=tool_name, description=description, annotations=annotations, structured_output=True)
