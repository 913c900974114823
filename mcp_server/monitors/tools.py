"""The monitor tools: CreateMonitor, ListMonitors, GetMonitor, UpdateMonitor, DeleteMonitor and
BackfillMonitor, registered by `add_monitor_tools(server, db)`.

Thin wrappers over mcp_server.monitors.service; the judging itself happens inside `tracejudge
serve` (mcp_server.monitors.runner), not in a tool call. A client names judges, never code: a
'module:function' judge can be given a monitor from the CLI only.
"""

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.monitors import service
from mcp_server.tooling.boundary import READ_ONLY, FilterString, answer
from store import Database
from store.monitors import DEFAULT_SETTLE_S, DEFAULT_TIMEOUT_S

CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
CHANGES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
REMOVES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)

Judges = Annotated[list[str], Field(description="Judge names; 'name@3' pins a version.")]
SampleRate = Annotated[float, Field(description="Share judged, (0, 1].")]
SettleS = Annotated[float, Field(description="Quiet seconds after the root span ends.")]
TimeoutS = Annotated[float, Field(description="Quiet seconds if the root never ends.")]

CREATE_DESCRIPTION = """\
Create a monitor: `tracejudge serve` runs its judges on each new trace matching filter_string
once complete; verdicts become feedback. Limits are per UTC hour or day. Older traces:
BackfillMonitor.
Example: CreateMonitor(name="routing", judges=["routing"], sample_rate=0.5, max_cost_usd_per_day=5)"""

LIST_DESCRIPTION = """\
The monitors, with status, counts and today's spend.
Example: ListMonitors()"""

GET_DESCRIPTION = """\
One monitor: configuration, state, metrics per judge and UTC hour or day (judgments, pass
rate, mean, errors, cost, lag) and latest results.
Example: GetMonitor(name="routing", granularity="day")"""

UPDATE_DESCRIPTION = """\
Change a monitor: only the arguments given change; a limit of 0 removes it, filter_string ''
watches all traces.
Example: UpdateMonitor(name="routing", paused=true)"""

DELETE_DESCRIPTION = """\
Delete a monitor and its record; the feedback it logged stays.
Example: DeleteMonitor(name="routing")"""

BACKFILL_DESCRIPTION = """\
Queue older traces (started in [start_ms, end_ms), ms since epoch) that a monitor's filter and
sample take and it has not judged; `tracejudge serve` judges them.
Example: BackfillMonitor(name="routing", start_ms=1767225600000)"""


def add_monitor_tools(server: MCPServer, db: Database) -> None:
    """Register the six monitor tools on `server`, over `db`."""

    async def create_monitor(
        name: str,
        judges: Judges,
        filter_string: FilterString = None,
        sample_rate: SampleRate = 1.0,
        settle_s: SettleS = DEFAULT_SETTLE_S,
        timeout_s: TimeoutS = DEFAULT_TIMEOUT_S,
        max_judgments_per_hour: int | None = None,
        max_tokens_per_day: int | None = None,
        max_cost_usd_per_day: float | None = None,
    ) -> Annotated[CallToolResult, service.Monitor]:
        return await answer(
            service.create_monitor, db, name, judges, filter_string=filter_string, sample_rate=sample_rate,
            settle_s=settle_s, timeout_s=timeout_s, max_judgments_per_hour=max_judgments_per_hour,
            max_tokens_per_day=max_tokens_per_day, max_cost_usd_per_day=max_cost_usd_per_day,
        )  # fmt: skip

    async def list_monitors() -> Annotated[CallToolResult, service.MonitorList]:
        return await answer(service.list_monitors, db)

    async def get_monitor(
        name: str,
        granularity: Literal["hour", "day"] = "hour",
        periods: Annotated[int | None, Field(description="Default 24 hours, 30 days.")] = None,
        recent: Annotated[int, Field(description="Latest results, 0 to 100.")] = 10,
    ) -> Annotated[CallToolResult, service.MonitorDetail]:
        return await answer(service.get_monitor, db, name, granularity=granularity, periods=periods, recent=recent)

    async def update_monitor(
        name: str,
        paused: Annotated[bool | None, Field(description="false resumes.")] = None,
        judges: list[str] | None = None,
        filter_string: str | None = None,
        sample_rate: float | None = None,
        settle_s: float | None = None,
        timeout_s: float | None = None,
        max_judgments_per_hour: int | None = None,
        max_tokens_per_day: int | None = None,
        max_cost_usd_per_day: float | None = None,
    ) -> Annotated[CallToolResult, service.Monitor]:
        given = {
            "paused": paused, "judges": judges, "filter_string": filter_string, "sample_rate": sample_rate,
            "settle_s": settle_s, "timeout_s": timeout_s, "max_judgments_per_hour": max_judgments_per_hour,
            "max_tokens_per_day": max_tokens_per_day, "max_cost_usd_per_day": max_cost_usd_per_day,
        }  # fmt: skip
        return await answer(service.update_monitor, db, name, service.changes_given(given))

    async def delete_monitor(name: str) -> Annotated[CallToolResult, service.Deleted]:
        return await answer(service.delete_monitor, db, name)

    async def backfill_monitor(
        name: str,
        start_ms: float | None = None,
        end_ms: Annotated[float | None, Field(description="Default now.")] = None,
        max_traces: Annotated[int, Field(description="Refused past it.")] = service.MAX_BACKFILL,
    ) -> Annotated[CallToolResult, service.BackfillReport]:
        return await answer(service.backfill, db, name, start_ms=start_ms, end_ms=end_ms, max_traces=max_traces)

    for tool_name, fn, description, annotations in (
        ("CreateMonitor", create_monitor, CREATE_DESCRIPTION, CREATES),
        ("ListMonitors", list_monitors, LIST_DESCRIPTION, READ_ONLY),
        ("GetMonitor", get_monitor, GET_DESCRIPTION, READ_ONLY),
        ("UpdateMonitor", update_monitor, UPDATE_DESCRIPTION, CHANGES),
        ("DeleteMonitor", delete_monitor, DELETE_DESCRIPTION, REMOVES),
        ("BackfillMonitor", backfill_monitor, BACKFILL_DESCRIPTION, CHANGES),
    ):
        server.add_tool(fn, name=tool_name, description=description, annotations=annotations, structured_output=True)
