"""The monitor routes: the monitors (ListMonitors, and beside them each one's last 24 hours of metrics
for the list's sparklines), a monitor (GetMonitor, per hour or day), a change to one (UpdateMonitor:
pause, resume, its sample rate, waits or limits) and a backfill (BackfillMonitor). Changing and
backfilling write: a read-only server refuses them. A page names judges, never code: a
'module:function' judge can be given a monitor from the CLI only, as over MCP. Beside them, a
monitor's alert rules with their events (ListAlerts)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.routing import Route

from mcp_server.alerts import service as alerts
from mcp_server.monitors import service
from mcp_server.web.api.answers import json_body, known_fields, query_int, query_text, route, run_service
from store import Database

UPDATE_FIELDS = (
    "paused", "judges", "filter_string", "sample_rate", "settle_s", "timeout_s", *service.LIMITS,
)  # fmt: skip
"""What a change's body may hold: UpdateMonitor's arguments (null leaves one as it is; a limit of 0 removes it)."""
BACKFILL_FIELDS = ("start_ms", "end_ms", "max_traces")
SPARKLINE_HOURS = 24


def _metrics(db: Database, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each monitor's metrics over the last SPARKLINE_HOURS hours, by name."""
    return {
        name: [point.model_dump(mode="json") for point in service.get_monitor(
            db, name, granularity="hour", periods=SPARKLINE_HOURS, recent=0).metrics]
        for name in names
    }  # fmt: skip


async def list_monitors(request: Request, db: Database) -> dict[str, Any]:
    """ListMonitors, and beside the monitors their hourly metrics of the last 24 hours (`metrics`, by name)."""
    found = await run_service(service.list_monitors, db)
    found["metrics"] = await anyio.to_thread.run_sync(_metrics, db, [m["name"] for m in found["monitors"]])
    return found


async def get_monitor(request: Request, db: Database) -> dict[str, Any]:
    """GetMonitor (granularity, periods, recent)."""
    return await run_service(
        service.get_monitor, db, request.path_params["name"], granularity=query_text(request, "granularity") or "hour",
        periods=query_int(request, "periods", None), recent=query_int(request, "recent", 10),
    )  # fmt: skip


async def list_alerts(request: Request, db: Database) -> dict[str, Any]:
    """ListAlerts (max_events) of the path's monitor: its rules with their state and recent events."""
    return await run_service(alerts.list_alerts, db, request.path_params["name"],
                             max_events=query_int(request, "max_events", 50))  # fmt: skip


async def update_monitor(request: Request, db: Database) -> dict[str, Any]:
    """UpdateMonitor ({"paused"?, "sample_rate"?, a limit?, ...}): the monitor as it now is."""
    body = known_fields(await json_body(request), UPDATE_FIELDS)
    return await run_service(service.update_monitor, db, request.path_params["name"], service.changes_given(body))


async def backfill_monitor(request: Request, db: Database) -> dict[str, Any]:
    """BackfillMonitor ({"start_ms"?, "end_ms"?, "max_traces"?}): how many traces it queued, and a message."""
    body = known_fields(await json_body(request), BACKFILL_FIELDS)
    return await run_service(service.backfill, db, request.path_params["name"], start_ms=body.get("start_ms"),
                             end_ms=body.get("end_ms"), max_traces=body.get("max_traces") or service.MAX_BACKFILL)  # fmt: skip


def routes(db: Database) -> list[Route]:
    return [
        route("/api/monitors", list_monitors, db),
        route("/api/monitors/{name}", get_monitor, db),
        route("/api/monitors/{name}/alerts", list_alerts, db),
        route("/api/monitors/{name}", update_monitor, db, "POST"),
        route("/api/monitors/{name}/backfill", backfill_monitor, db, "POST"),
    ]
