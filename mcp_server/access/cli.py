"""The `tokens` commands: create, list and revoke access tokens, and show which token made which
write; over the same functions as the token tools (mcp_server.access.service). The CLI is the
operator's: it may make a token of any role."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_server.access.roles import ROLES
from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, print_answer


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.access.service import create_token

    with database(settings) as db:
        created = create_token(db, args.name, args.role, expires=args.expires)
    print_answer(args, created, lambda t: print(
        f"{t.token}\n\nthe {t.role} token {t.name!r}"
        + (f", valid until {t.expires_time}" if t.expires_time else ", valid until revoked")
        + ". It is shown this once (the store keeps a hash): put it in the client's configuration now, e.g.\n"
        "  Authorization: Bearer <token>   (an OTLP exporter's headers, an MCP client's --header)"))  # fmt: skip
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.access.service import list_tokens
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_tokens(db)
    if args.json:
        print_answer(args, result, print)
        return 0
    columns = (Column("name"), Column("role"), Column("state"), Column("prefix", drop=2),
               Column("last used", drop=1), Column("expires", drop=3))  # fmt: skip
    rows = [(t.name, t.role, t.state, t.prefix + "…", t.last_used_time or "never", t.expires_time or "never")
            for t in result.tokens]  # fmt: skip
    print_listing(columns, rows, empty="no tokens; make one with `tracejudge tokens create --name NAME --role read`.")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.access.service import revoke_token

    with database(settings) as db:
        token = revoke_token(db, args.name)
    print_answer(args, token, lambda t: print(f"the {t.role} token {t.name!r} is revoked ({t.revoked_time})."))
    return 0


def cmd_writes(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.access.service import list_writes
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        writes = list_writes(db, token=args.name, max_results=args.limit)
    if args.json:
        print_answer(args, writes, print)
        return 0
    columns = (Column("time"), Column("token"), Column("role", drop=2), Column("via", drop=1),
               Column("action", fit="wrap"), Column("outcome"))  # fmt: skip
    rows = [(w.time, w.token or "(operator)", w.role, w.via, w.action, w.outcome) for w in writes.writes]
    print_listing(columns, rows, empty="no writes recorded yet.")
    return 0


def register_token_commands(sub: Any, add: AddCommand) -> None:
    """Add `tokens create|list|revoke|writes` to the top-level subparsers `sub`."""
    help = "Access tokens with roles (ingest, read, write, admin) for the HTTP server: make, list, revoke."
    parser = sub.add_parser("tokens", help=help, description=help)
    group = parser.add_subparsers(dest="tokens_command", required=True, metavar="SUBCOMMAND")
    create = add(group, "create", cmd_create, "Make a token; it is printed once.")
    create.add_argument("--name", required=True, help="what it is for, e.g. ci or claude-code")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--expires", default=None, metavar="DURATION", help="e.g. 90d or 12h (default: until revoked)")
    json_option(create, "CreateToken")
    listing = add(group, "list", cmd_list, "List the tokens (never the tokens themselves).")
    json_option(listing, "ListTokens")
    revoke = add(group, "revoke", cmd_revoke, "Revoke a token, at once, in every server process.")
    revoke.add_argument("name")
    json_option(revoke, "RevokeToken")
    writes = add(group, "writes", cmd_writes, "The latest writes made through MCP, the pages and OTLP, with their tokens.")
    writes.add_argument("name", nargs="?", default=None, help="only this token's")
    writes.add_argument("--limit", type=int, default=50)
    writes.add_argument("--json", action="store_true", help="print the writes as JSON, for scripts and coding agents")
