"""The `labeling` commands: views of labeling schemas, sessions and a session's queue, over the same
functions the labeling MCP tools call (mcp_server.labeling); and the share links that let a domain
expert label a session in the browser (`share`, `links`, `revoke`: mcp_server.labeling.links).
Labels are given on that page, or through SubmitLabel (an MCP client, or an assistant pre-filling
them for a person)."""

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


WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def base_url(settings: Settings, given: str | None) -> str:
    """Where people reach the server: --base-url, else the address `serve` listens on."""
    if given:
        return given.rstrip("/")
    host = "localhost" if settings.host in WILDCARD_HOSTS else settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


def cmd_share(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from mcp_server.labeling.links import share_session

    with database(settings) as db:
        link = share_session(db, args.session, labeler=args.labeler, expires=args.expires)
    url = base_url(settings, args.base_url) + link.path
    if args.json:
        print_json(link.model_copy(update={"path": url}))
        return 0
    print(url)
    who = f"as {link.labeler}" if link.labeler else "under the name they give"
    print(f"labels session {link.session_name} {who}, until {link.expires_time}; it opens nothing else. "
          f"Revoke it with: tracejudge labeling revoke {link.link_id}", file=sys.stderr)  # fmt: skip
    if not args.base_url and settings.host in WILDCARD_HOSTS + ("127.0.0.1", "localhost", "::1"):
        print("(the address is this machine's; give --base-url with the one others reach the server at)", file=sys.stderr)
    return 0


def cmd_links(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.labeling.links import list_links
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_links(db, args.session)
    if args.json:
        print_json(result)
        return 0
    columns = (Column("link_id"), Column("session"), Column("labeler", drop=2), Column("state"),
               Column("expires", drop=1), Column("created", drop=3))  # fmt: skip
    rows = [(link.link_id, link.session_name, link.labeler or "(they give a name)", link.state,
             link.expires_time or "", link.created_time or "") for link in result.links]  # fmt: skip
    print_listing(columns, rows, empty="no labeling links; make one with: tracejudge labeling share SESSION",
                  next_page_token=None, more=f"links ({result.total} in all)")  # fmt: skip
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.labeling.links import revoke_link

    with database(settings) as db:
        link = revoke_link(db, args.link_id)
    if args.json:
        print_json(link)
    else:
        print(f"revoked {link.link_id} (session {link.session_name}): it opens nothing from now on.")
    return 0


def register_labeling_commands(sub: Any, add: AddCommand) -> None:
    """Add `labeling schemas|sessions|items` to the top-level subparsers `sub`."""
    help = "Show labeling schemas, sessions and their queues; share a session with a person by a link."
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
    share = add(group, "share", cmd_share,
                "Make a link with which a person labels one session in the browser, and reaches nothing else.")  # fmt: skip
    share.add_argument("session", help="the session's name or session_id")
    share.add_argument("--labeler", default=None, help="label as this name (default: the person gives one on the page)")
    share.add_argument("--expires", default="7d", help="how long the link works: 30m, 12h, 7d, 2w ... (default 7d)")
    share.add_argument("--base-url", default=None, metavar="URL",
                       help="the address people reach the server at (default: the one `serve` listens on)")  # fmt: skip
    share.add_argument("--json", action="store_true", help="print the link as JSON (its token, link_id, expiry)")
    links = add(group, "links", cmd_links, "List the share links (newest first): session, labeler, state, expiry.")
    links.add_argument("session", nargs="?", default=None, help="only this session's links (name or session_id)")
    links.add_argument("--json", action="store_true", help="print the list as JSON")
    revoke = add(group, "revoke", cmd_revoke, "Revoke a share link at once.")
    revoke.add_argument("link_id", help="the link's link_id (tracejudge labeling links lists them)")
    revoke.add_argument("--json", action="store_true", help="print the revoked link as JSON")
