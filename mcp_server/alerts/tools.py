"""The alert tools: CreateAlertRule, ListAlerts and DeleteAlertRule, registered by
`add_alert_tools(server, db, settings)`; the rules are checked inside `tracejudge serve`
(mcp_server.alerts.watcher), not in a tool call."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.alerts import service
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, answer
from store import Database

CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
REMOVES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)

CREATE_DESCRIPTION = """\
Create an alert rule on a monitor's metric (pass_rate, mean, errors, error_rate, judgments,
cost_usd), or without a monitor on issues (issues/new_high_severity, issues/max_share,
<issue id>/share), over a sliding window: it fires when the condition holds (min_judgments in
the window) and resolves when not; changes are stored, logged and sent to webhook_url (signed).
Example: CreateAlertRule(name="routing-drop", monitor="routing", condition="routing/pass_rate < 0.8")"""

LIST_DESCRIPTION = """\
The alert rules with their state, and what fired and resolved when, newest first.
Example: ListAlerts(monitor="routing")"""

DELETE_DESCRIPTION = """\
Delete an alert rule and its events.
Example: DeleteAlertRule(name="routing-drop")"""


def add_alert_tools(server: MCPServer, db: Database, settings: Settings) -> None:
    """Register the three alert tools on `server`, over `db`; `settings` hold the webhook allow-list."""

    async def create_alert_rule(
        name: str,
        condition: Annotated[str, Field(description="'<judge>/<metric> <op> <number>'.")],
        window_s: Annotated[float, Field(description="Seconds of judgments looked at.")] = 3_600.0,
        min_judgments: Annotated[int, Field(description="Fewer in the window: no change.")] = 20,
        monitor: str | None = None,
        webhook_url: str | None = None,
    ) -> Annotated[CallToolResult, service.AlertRule]:
        return await answer(service.create_rule, db, settings, name, monitor, condition, window_s=window_s,
                            min_judgments=min_judgments, webhook_url=webhook_url)  # fmt: skip

    async def list_alerts(
        monitor: str | None = None,
        max_events: Annotated[int, Field(description="0 to 500.")] = 50,
    ) -> Annotated[CallToolResult, service.AlertList]:
        return await answer(service.list_alerts, db, monitor, max_events)

    async def delete_alert_rule(name: str) -> Annotated[CallToolResult, service.Deleted]:
        return await answer(service.delete_rule, db, name)

    for tool_name, fn, description, annotations in (
        ("CreateAlertRule", create_alert_rule, CREATE_DESCRIPTION, CREATES),
        ("ListAlerts", list_alerts, LIST_DESCRIPTION, READ_ONLY),
        ("DeleteAlertRule", delete_alert_rule, DELETE_DESCRIPTION, REMOVES),
    ):
        server.add_tool(fn, name=tool_name, description=description, annotations=annotations, structured_output=True)
