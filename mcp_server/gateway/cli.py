"""The `keys` commands: create, list, show, revoke and spend for the AI gateway's virtual keys, over
the same functions as the gateway tools (mcp_server.gateway.keys, mcp_server.gateway.spend)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcp_server.settings import Settings, split_list
from mcp_server.terminal.commands import AddCommand, database, json_option, print_answer


def _usd(value: float | None) -> str:
    return "" if value is None else f"${value:,.4f}"


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.gateway.keys import create_key
    from mcp_server.gateway.routes import load_config
    from mcp_server.tooling.credentials import lifetime_s

    config = load_config(settings.gateway_config) if settings.gateway_config else None
    expires_in_s = lifetime_s(args.expires, option="--expires") if args.expires else None
    with database(settings) as db:
        made = create_key(db, args.name, split_list(args.routes), rpm=args.rpm, tpm=args.tpm,
                          budget_usd_day=args.budget_usd_day, budget_usd_month=args.budget_usd_month,
                          alert_at=args.alert_at, expires_in_s=expires_in_s,
                          config=config)  # fmt: skip
    if args.json:
        print_answer(args, made, print)
        return 0
    key = made.key
    print(f"gateway key {key.name} ({key.key_id}) for routes {', '.join(key.routes)}"
          + (f", expires {key.expires_time}" if key.expires_time else "") + ".\n"
          "The secret, shown this once (the store keeps only its hash):\n" + made.secret)  # fmt: skip
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.gateway.keys import list_keys
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_keys(db)
    if args.json:
        print_answer(args, result, print)
        return 0
    columns = (Column("name"), Column("prefix", drop=3), Column("routes", fit="wrap"), Column("rpm", justify="right"),
               Column("tpm", justify="right", drop=2), Column("USD/day", justify="right"),
               Column("USD/month", justify="right", drop=1), Column("state"))  # fmt: skip
    rows = [(k.name, k.prefix + "...", ", ".join(k.routes), "" if k.rpm is None else f"{k.rpm:,}",
             "" if k.tpm is None else f"{k.tpm:,}", _usd(k.budget_usd_day), _usd(k.budget_usd_month), k.state)
            for k in result.keys]  # fmt: skip
    print_listing(columns, rows, empty="no gateway keys; make one with `tracejudge keys create --name N --routes R`.")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.gateway.spend import key_details

    with database(settings) as db:
        details = key_details(db, args.name)
    print_answer(args, details, lambda d: print(d.model_dump_json(indent=2)))
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.gateway.keys import revoke_key

    with database(settings) as db:
        key = revoke_key(db, args.name)
    print(f"gateway key {key.name} ({key.prefix}...) revoked at {key.revoked_time}; calls with it now get 401.")
    return 0


def cmd_spend(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.gateway.spend import spend_report
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        report = spend_report(db, args.key, args.days, args.limit)
    if args.json:
        print_answer(args, report, print)
        return 0
    columns = (Column("day"), Column("key"), Column("route"), Column("requests", justify="right"),
               Column("errors", justify="right", drop=2), Column("tokens in", justify="right", drop=1),
               Column("tokens out", justify="right", drop=1), Column("USD", justify="right"))  # fmt: skip
    rows = [(r.day, r.key, r.route, f"{r.requests:,}", f"{r.errors:,}", f"{r.input_tokens:,}", f"{r.output_tokens:,}",
             f"${r.cost_usd:,.4f}") for r in report.rows]  # fmt: skip
    print_listing(columns, rows, empty=f"no gateway spend since {report.since_day}.")
    if report.rows:
        print(f"total ${report.total_usd:,.4f} since {report.since_day}"
              + (" (more rows: pass --limit or --key)" if report.truncated else ""))  # fmt: skip
    for alert in report.alerts:
        print(f"alert: key {alert.key} reached ${alert.spent_usd:,.4f} of its {alert.period} budget ${alert.budget_usd:,.4f} "
              f"({alert.period_start}, at {alert.time})")  # fmt: skip
    return 0


def register_key_commands(sub: Any, add: AddCommand) -> None:
    """Add `keys create|list|show|revoke|spend` to the top-level subparsers `sub`."""
    help = "The AI gateway's virtual keys: routes, rate limits, budgets, spend."
    parser = sub.add_parser("keys", help=help, description=help)
    group = parser.add_subparsers(dest="keys_command", required=True, metavar="SUBCOMMAND")
    create = add(group, "create", cmd_create, "Make a gateway key and print its secret once.")
    create.add_argument("--name", required=True, help="its name: letters, digits, '.', '_' or '-'")
    create.add_argument("--routes", required=True, metavar="R1,R2", help="the routes it may use (comma-separated)")
    create.add_argument("--rpm", type=int, default=None, help="requests per minute (default: unlimited)")
    create.add_argument("--tpm", type=int, default=None, help="tokens per minute (default: unlimited)")
    create.add_argument("--budget-usd-day", type=float, default=None, help="USD per UTC day; refused past it")
    create.add_argument("--budget-usd-month", type=float, default=None, help="USD per calendar month (UTC)")
    create.add_argument("--alert-at", type=float, default=0.8, help="share of a budget that records an alert (default 0.8)")
    create.add_argument("--expires", default=None, metavar="DURATION", help="e.g. 30d or 12h (default: never)")
    create.add_argument("--guardrails", default=None, metavar="G1,G2",
                        help="guardrails of the gateway file applied to this key's calls besides its route's")
    create.add_argument("--gateway-config", type=Path, default=None, metavar="PATH",
                        help="check --routes against this file (or $TRACEJUDGE_GATEWAY_CONFIG)")  # fmt: skip
    create.add_argument("--json", action="store_true", help="print the key and its secret as JSON")
    listing = add(group, "list", cmd_list, "List the gateway keys (never their secrets).")
    json_option(listing, "ListGatewayKeys")
    show = add(group, "show", cmd_show, "Show a key with its spend today and this month and its budget alerts.")
    show.add_argument("name")
    json_option(show, "GetGatewayKey")
    revoke = add(group, "revoke", cmd_revoke, "Revoke a key: calls with it get 401 from then on.")
    revoke.add_argument("name")
    spend = add(group, "spend", cmd_spend, "Spend per key, route and UTC day, and the budget alerts.")
    spend.add_argument("--key", default=None, help="only this key")
    spend.add_argument("--days", type=int, default=30, help="days back, today included (default 30)")
    spend.add_argument("--limit", type=int, default=200, help="most rows (default 200)")
    json_option(spend, "GetGatewaySpend")
