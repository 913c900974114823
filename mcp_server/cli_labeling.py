"""The `labeling` commands: read-only views of labeling schemas, sessions and a session's queue,
over the same functions the labeling MCP tools call (mcp_server.labeling). Labels are given
through SubmitLabel (an MCP client, or an assistant pre-filling them for a person)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mcp_server.cli_support import AddCommand, database
from mcp_server.settings import Settings


def cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from rich.table import Table

    from mcp_server.cli_format import output_console
    from mcp_server.labeling.definitions import list_schemas

    with database(settings) as db:
        result = list_schemas(db, max_results=args.limit)
    console = output_console()
    if not result.schemas:
        console.print("no labeling schemas; create one with the CreateLabelingSchema tool.")
        return 0
    table = Table()
    for column in ("name", "type", "expects", "comment", "instructions"):
        table.add_column(column, overflow="fold")
    for schema in result.schemas:
        table.add_row(schema.name, schema.type, schema.expects, "yes" if schema.enable_comment else "no",
                      schema.instructions)
    console.print(table)
    if result.notice:
        console.print(f"{len(result.schemas)} of {result.total} schemas shown; raise --limit for more.")
    return 0


def cmd_sessions(args: argparse.Namespace, settings: Settings) -> int:
    from rich.table import Table

    from mcp_server.cli_format import output_console
    from mcp_server.labeling.definitions import list_sessions

    with database(settings) as db:
        result = list_sessions(db, max_results=args.limit)
    console = output_console()
    if not result.sessions:
        console.print("no labeling sessions; create one with the CreateLabelingSession tool.")
        return 0
    table = Table()
    for column in ("name", "session_id", "schemas", "assignees", "pending", "completed", "skipped"):
        table.add_column(column, overflow="fold")
    for s in result.sessions:
        counts = s.status_counts
        table.add_row(s.name, s.session_id, ", ".join(s.schemas), ", ".join(s.assignees) or "anyone",
                      str(counts["pending"]), str(counts["completed"]), str(counts["skipped"]))
    console.print(table)
    if result.notice:
        console.print(f"{len(result.sessions)} of {result.total} sessions shown; raise --limit for more.")
    return 0


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def cmd_items(args: argparse.Namespace, settings: Settings) -> int:
    from rich.table import Table

    from mcp_server.cli_format import output_console
    from mcp_server.labeling.queue import list_items

    with database(settings) as db:
        result = list_items(db, args.session, status=args.status, max_results=args.limit)
    console = output_console()
    counts = result.status_counts
    console.print(f"session {result.session_name} ({result.session_id}): {counts['pending']} pending, "
                  f"{counts['completed']} completed, {counts['skipped']} skipped")
    table = Table()
    for column in ("#", "trace_id", "status", "request", "labels", "missing"):
        table.add_column(column, overflow="fold")
    for item in result.items:
        labels = "\n".join(f"{lbl.schema_name} = {_value(lbl.value if lbl.value_preview is None else lbl.value_preview)}"
                           f" ({lbl.labeler})" for lbl in item.labels)
        table.add_row(str(item.position), item.trace_id, item.status, item.request_preview or "", labels,
                      ", ".join(item.missing_schemas))
    console.print(table)
    if result.notice:
        console.print(f"{len(result.items)} of {result.total_matching} items shown; raise --limit for more.")
    return 0


def register_labeling_commands(sub: Any, add: AddCommand) -> None:
    """Add `labeling schemas|sessions|items` to the top-level subparsers `sub`."""
    help = "Show labeling schemas, sessions and a session's queue of traces."
    labeling = sub.add_parser("labeling", help=help, description=help)
    group = labeling.add_subparsers(dest="labeling_command", required=True, metavar="SUBCOMMAND")
    schemas = add(group, "schemas", cmd_schemas, "List the labeling schemas: type, what a label may be, instructions.")
    schemas.add_argument("--limit", type=int, default=50, help="schemas to show (default 50, at most 100)")
    sessions = add(group, "sessions", cmd_sessions, "List the labeling sessions with their pending/completed counts.")
    sessions.add_argument("--limit", type=int, default=50, help="sessions to show (default 50, at most 100)")
    items = add(group, "items", cmd_items, "Show a labeling session's queue: traces, their labels and what is missing.")
    items.add_argument("session", help="the session's name or session_id")
    items.add_argument("--status", choices=("pending", "completed", "skipped"), default=None, help="only these items")
    items.add_argument("--limit", type=int, default=20, help="items to show (default 20, at most 100)")
