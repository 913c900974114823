"""The `alerts` commands: create, list and delete alert rules over the same functions as the alert
tools (mcp_server.alerts.service)."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, print_answer
from store.errors import InvalidArgument


def window_seconds(text: str) -> float:
    """Seconds from '1h', '30m', '7d' ... or a plain number of seconds."""
    from mcp_server.tooling.timestamps import duration_s

    seconds = duration_s(text)
    if seconds is not None:
        return float(seconds)
    try:
        return float(text)
    except ValueError:
        raise InvalidArgument(f"--window {text[:40]!r} is neither a duration (30m, 1h, 7d) nor a number of seconds.") from None


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.alerts.service import create_rule

    with database(settings) as db:
        rule = create_rule(db, settings, args.name, args.monitor, args.when, window_s=window_seconds(args.window),
                           min_judgments=args.min_judgments, webhook_url=args.webhook)  # fmt: skip
    print_answer(args, rule, lambda r: print(f"alert rule {r.name}: fires when {r.condition} over the last "
                                             f"{r.window_s:g} s of {'monitor ' + r.monitor if r.monitor else 'traces'} "
                                             f"(at least {r.min_judgments:,}){'; webhook ' + r.webhook if r.webhook else ''}."))  # fmt: skip
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.alerts.service import list_alerts
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_alerts(db, args.monitor)
    if args.json:
        print_answer(args, result, print)
        return 0
    columns = (Column("rule"), Column("monitor", drop=2), Column("condition", fit="wrap"), Column("state"),
               Column("value", justify="right"), Column("judgments", justify="right", drop=1),
               Column("webhook", fit="wrap", drop=3))  # fmt: skip
    rows = [(r.name, r.monitor or "(issues)", f"{r.condition} over {r.window_s:g} s", r.state,
             "" if r.last_value is None else f"{r.last_value:.4g}",
             "" if r.last_judgments is None else f"{r.last_judgments:,}", r.webhook or "")
            for r in result.rules]  # fmt: skip
    print_listing(columns, rows, empty="no alert rules; create one with `tracejudge alerts create NAME --monitor M "
                                       "--when 'JUDGE/pass_rate < 0.8'`.")  # fmt: skip
    if result.events:
        print()
        events = (Column("time"), Column("rule"), Column("event"), Column("webhook", drop=1),
                  Column("message", fit="wrap", drop=2))  # fmt: skip
        print_listing(events, [((e.time or "")[:19].replace("T", " "), e.rule, e.kind, e.webhook_status, e.message)
                               for e in result.events], empty="")  # fmt: skip
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.alerts.service import delete_rule

    with database(settings) as db:
        deleted = delete_rule(db, args.name)
    print_answer(args, deleted, lambda d: print(d.message))
    return 0


def register_alert_commands(sub: Any, add: AddCommand) -> None:
    """Add `alerts list|create|delete` to the top-level subparsers `sub`."""
    help = "Alert rules on monitors' metrics: what fired and resolved, and where it was sent."
    parser = sub.add_parser("alerts", help=help, description=help)
    group = parser.add_subparsers(dest="alerts_command", required=True, metavar="SUBCOMMAND")
    listing = add(group, "list", cmd_list, "List the alert rules with their state, then what fired and resolved.")
    listing.add_argument("--monitor", default=None, help="only this monitor's rules")
    json_option(listing, "ListAlerts")
    create = add(group, "create", cmd_create, "Create an alert rule on a monitor's metric over a sliding window.")
    create.add_argument("name", help="its name: letters, digits, '.', '_' or '-'")
    create.add_argument("--monitor", default=None, help="the monitor whose judgments it watches (none: a rule on issues)")
    create.add_argument("--when", required=True, metavar="CONDITION",
                        help="e.g. 'routing/pass_rate < 0.8' (metrics: pass_rate, mean, errors, error_rate, "
                        "judgments, cost_usd); without --monitor 'issues/new_high_severity >= 1', "
                        "'issues/max_share > 0.05' or 'ISSUE_ID/share > 0.05'")  # fmt: skip
    create.add_argument("--window", default="1h", help="how far back it looks: 30m, 1h, 1d ... (default 1h)")
    create.add_argument("--min-judgments", type=int, default=20, help="fewer in the window: no change (default 20)")
    create.add_argument("--webhook", default=None, metavar="URL",
                        help="POST each change here, signed (its host must be in TRACEJUDGE_WEBHOOK_HOSTS)")  # fmt: skip
    json_option(create, "CreateAlertRule")
    delete = add(group, "delete", cmd_delete, "Delete an alert rule and its events.")
    delete.add_argument("name", help="the rule's name")
    json_option(delete, "DeleteAlertRule")
