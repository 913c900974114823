"""The `labeling` commands: read-only views of labeling schemas, sessions and a session's queue,
over the same functions the labeling MCP tools call (mcp_server.labeling). Labels are given
through SubmitLabel (an MCP client, or an assistant pre-filling them for a person)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, page_token_option, print_json


def cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.labeling.definitions import list_schemas
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_schemas(db, max_results=args.limit, page_token=args.page_token)
    if args.json:
        print_json(result)
        return 0
    columns = (Column("name"), Column("type"), Column("expects", fit="wrap"), Column("comment", drop=2),
               Column("instructions", fit="wrap", drop=1))  # fmt: skip
    rows = [(schema.name, schema.type, schema.expects, "yes" if schema.enable_comment else "no", schema.instructions)
            for schema in result.schemas]  # fmt: skip
    print_listing(columns, rows, empty="no labeling schemas; create one with the CreateLabelingSchema tool.",
                  next_page_token=result.next_page_token, more=f"schemas ({result.total} in all)")  # fmt: skip
    return 0


def cmd_sessions(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.labeling.definitions import list_sessions
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_sessions(db, max_results=args.limit, page_token=args.page_token)
    if args.json:
        print_json(result)
        return 0
    columns = (Column("name"), Column("session_id", drop=1), Column("schemas", fit="wrap", drop=2),
               Column("assignees", fit="wrap", drop=3), Column("pending", justify="right"),
               Column("completed", justify="right"), Column("skipped", justify="right", drop=4))  # fmt: skip
    rows = [(s.name, s.session_id, ", ".join(s.schemas), ", ".join(s.assignees) or "anyone",
             str(s.status_counts["pending"]), str(s.status_counts["completed"]), str(s.status_counts["skipped"]))
            for s in result.sessions]  # fmt: skip
    print_listing(columns, rows, empty="no labeling sessions; create one with the CreateLabelingSession tool.",
                  next_page_token=result.next_page_token, more=f"sessions ({result.total} in all)")  # fmt: skip
    return 0


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def cmd_items(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.labeling.queue import list_items
    from mcp_server.terminal.tables import Column, output_console, preview_text, print_listing

    with database(settings) as db:
        result = list_items(db, args.session, status=args.status, max_results=args.limit, page_token=args.page_token)
    if args.json:
        print_json(result)
        return 0
    console = output_console()
    counts = result.status_counts
    console.print(f"session {result.session_name} ({result.session_id}): {counts['pending']} pending, "
                  f"{counts['completed']} completed, {counts['skipped']} skipped", markup=False)  # fmt: skip
    columns = (Column("#", justify="right", drop=4), Column("trace_id"), Column("status"),
               Column("request", fit="line", drop=1), Column("labels", fit="wrap", drop=2),
               Column("missing", fit="wrap", drop=3))  # fmt: skip
    rows = [
        (str(item.position), item.trace_id, item.status, preview_text(item.request_preview),
         "\n".join(f"{lbl.schema_name} = {_value(lbl.value if lbl.value_preview is None else lbl.value_preview)}"
                   f" ({lbl.labeler})" for lbl in item.labels),
         ", ".join(item.missing_schemas))
        for item in result.items
    ]  # fmt: skip
    print_listing(columns, rows, console=console, next_page_token=result.next_page_token,
                  more=f"items ({result.total_matching} match)")  # fmt: skip
    return 0


def register_labeling_commands(sub: Any, add: AddCommand) -> None:
    """Add `labeling schemas|sessions|items` to the top-level subparsers `sub`."""
    help = "Show labeling schemas, sessions and a session's queue of traces."
    labeling = sub.add_parser("labeling", help=help, description=help)
    group = labeling.add_subparsers(dest="labeling_command", required=True, metavar="SUBCOMMAND")
    schemas = add(group, "schemas", cmd_schemas, "List the labeling schemas: type, what a label may be, instructions.")
    schemas.add_argument("--limit", type=int, default=50, help="schemas to show (default 50, at most 100)")
    page_token_option(schemas, "ListLabelingSchemas")
    json_option(schemas, "ListLabelingSchemas")
    sessions = add(group, "sessions", cmd_sessions, "List the labeling sessions with their pending/completed counts.")
    sessions.add_argument("--limit", type=int, default=50, help="sessions to show (default 50, at most 100)")
    page_token_option(sessions, "ListLabelingSessions")
    json_option(sessions, "ListLabelingSessions")
    items = add(group, "items", cmd_items, "Show a labeling session's queue: traces, their labels and what is missing.")
    items.add_argument("session", help="the session's name or session_id")
    items.add_argument("--status", choices=("pending", "completed", "skipped"), default=None, help="only these items")
    items.add_argument("--limit", type=int, default=20, help="items to show (default 20, at most 100)")
    page_token_option(items, "ListLabelingItems")
    json_option(items, "ListLabelingItems")
