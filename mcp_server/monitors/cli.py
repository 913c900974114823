"""The `monitors` commands: create, list, show, update, delete and backfill monitors over the same
functions as the monitor tools (mcp_server.monitors.service), and `monitors run`, the monitors'
loop without the HTTP server (mcp_server.monitors.runner), for a second process on the store or a
server started with --no-monitors."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, print_answer
from store.errors import InvalidArgument


def _limits(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "max_judgments_per_hour": args.max_per_hour, "max_tokens_per_day": args.max_tokens_per_day,
        "max_cost_usd_per_day": args.max_cost_per_day,
    }  # fmt: skip


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.monitors.service import create_monitor

    with database(settings) as db:
        monitor = create_monitor(
            db, args.name, args.judges, filter_string=args.filter, sample_rate=args.sample_rate,
            settle_s=args.settle_s, timeout_s=args.timeout_s, allow_import=True, **_limits(args),
        )  # fmt: skip
    print_answer(args, monitor, _show_monitor)
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.monitors.service import list_monitors
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_monitors(db)
    if args.json:
        print_answer(args, result, print)
        return 0
    columns = (Column("name"), Column("status"), Column("judges", fit="wrap"), Column("sample", justify="right", drop=3),
               Column("judged", justify="right"), Column("today", justify="right", drop=2),
               Column("filter", fit="wrap", drop=1))  # fmt: skip
    rows = [(m.name, m.status, ", ".join(_judge(j) for j in m.judges), f"{m.sample_rate:g}", f"{m.counts.judged:,}",
             f"{m.today.judgments:,} · ${m.today.cost_usd:.2f}", m.filter_string or "all traces")
            for m in result.monitors]  # fmt: skip
    print_listing(columns, rows, empty="no monitors; create one with `tracejudge monitors create NAME --judge JUDGE`.")
    return 0


def _judge(judge: Any) -> str:
    return judge.name if judge.version is None else f"{judge.name}@{judge.version}"


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.monitors.service import get_monitor

    with database(settings) as db:
        detail = get_monitor(db, args.name, granularity=args.granularity, periods=args.periods)
    print_answer(args, detail, _show_detail)
    return 0


def _show_monitor(monitor: Any) -> None:
    limits = [f"{monitor.max_judgments_per_hour:,}/hour" if monitor.max_judgments_per_hour else None,
              f"{monitor.max_tokens_per_day:,} tokens/day" if monitor.max_tokens_per_day else None,
              f"${monitor.max_cost_usd_per_day:g}/day" if monitor.max_cost_usd_per_day else None]  # fmt: skip
    counts = monitor.counts
    print(f"monitor {monitor.name}: {monitor.status}. {monitor.status_message}\n"
          f"  judges:  {', '.join(_judge(j) for j in monitor.judges)}\n"
          f"  watches: {monitor.filter_string or 'all traces'}, sample {monitor.sample_rate:g}, judged "
          f"{monitor.settle_s:g} s after the last span (root ended) or {monitor.timeout_s:g} s (root never ended)\n"
          f"  limits:  {', '.join(x for x in limits if x) or 'none'}\n"
          f"  traces:  {counts.judged:,} judged, {counts.in_flight:,} being judged, {counts.queued:,} queued, "
          f"{counts.sampled_out:,} sampled out, {counts.skipped:,} skipped\n"
          f"  today:   {monitor.today.judgments:,} judged, {monitor.today.tokens:,} tokens, "
          f"${monitor.today.cost_usd:.4f}")  # fmt: skip


def _show_detail(detail: Any) -> None:
    from mcp_server.terminal.tables import Column, print_listing

    _show_monitor(detail)
    for reason, count in detail.skipped_because.items():
        print(f"  skipped: {count:,} because {reason}")
    columns = (Column(detail.granularity), Column("judge"), Column("judged", justify="right"),
               Column("pass rate", justify="right"), Column("mean", justify="right", drop=3),
               Column("errors", justify="right"), Column("cost", justify="right", drop=2),
               Column("lag", justify="right", drop=1))  # fmt: skip
    rows = [(p.start[: 13 if detail.granularity == "hour" else 10].replace("T", " ") + ("h" if detail.granularity == "hour" else ""),
             p.judge, f"{p.judgments:,}", "" if p.pass_rate is None else f"{p.pass_rate:.0%}",
             "" if p.mean is None else f"{p.mean:.3g}", f"{p.errors:,}", f"${p.cost_usd:.4f}",
             "" if p.mean_lag_s is None else f"{p.mean_lag_s:.1f} s")
            for p in detail.metrics]  # fmt: skip
    print()
    print_listing(columns, rows, empty="no judgments in this window yet.")


def cmd_update(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.monitors.service import changes_given, update_monitor

    given = {"paused": args.paused, "judges": args.judges, "filter_string": args.filter, "sample_rate": args.sample_rate,
             "settle_s": args.settle_s, "timeout_s": args.timeout_s, **_limits(args)}  # fmt: skip
    with database(settings) as db:
        monitor = update_monitor(db, args.name, changes_given(given), allow_import=True)
    print_answer(args, monitor, _show_monitor)
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.monitors.service import delete_monitor

    with database(settings) as db:
        deleted = delete_monitor(db, args.name)
    print_answer(args, deleted, lambda d: print(d.message))
    return 0


def instant_ms(text: str | None, what: str) -> float | None:
    """Milliseconds since the epoch from '24h' (that long ago), '7d' ..., or an ISO 8601 time."""
    from mcp_server.tooling.timestamps import duration_s

    if text is None:
        return None
    ago = duration_s(text)
    if ago is not None:
        return time.time() * 1000 - ago * 1000
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgument(
            f"{what} {text[:40]!r} is neither a time ago (30m, 24h, 7d, 2w) nor an ISO 8601 time (2026-12-01 or "
            "2026-12-01T09:00:00+00:00)."
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.monitors.service import backfill

    start_ms, end_ms = instant_ms(args.since, "--since"), instant_ms(args.until, "--until")
    with database(settings) as db:
        report = backfill(db, args.name, start_ms=start_ms, end_ms=end_ms, max_traces=args.max_traces)
    print_answer(args, report, lambda r: print(r.message))
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    import anyio

    from mcp_server.alerts.watcher import AlertWatcher
    from mcp_server.monitors.runner import MonitorRunner
    from store.monitors import list_monitors

    with database(settings, checkpoint=True) as db:
        runner = MonitorRunner.for_settings(db, settings, args.judge_server(settings, db))
        alerts = AlertWatcher(db, settings, settings.monitor_poll_s)
        names = ", ".join(m.name for m in list_monitors(db)) or "none yet: it picks up those created later"
        print(f"tracejudge: running the monitors of {settings.db_path} ({names}) as {runner.owner}; "
              "Ctrl-C stops", file=sys.stderr, flush=True)  # fmt: skip

        async def run_until_a_stop_signal() -> None:
            async with anyio.create_task_group() as group:
                group.start_soon(runner.run)
                group.start_soon(alerts.run)
                # Taken in the event loop, so the runner gives back the traces it holds as it stops.
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        group.cancel_scope.cancel()
                        break

        anyio.run(run_until_a_stop_signal)
    return 0


def register_monitor_commands(sub: Any, add: AddCommand) -> None:
    """Add `monitors list|show|create|update|delete|backfill|run` to the top-level subparsers `sub`."""
    help = "Monitors: judges that `tracejudge serve` runs by itself on the traces that arrive."
    parser = sub.add_parser("monitors", help=help, description=help)
    group = parser.add_subparsers(dest="monitors_command", required=True, metavar="SUBCOMMAND")
    listing = add(group, "list", cmd_list, "List the monitors: status, judges, traces judged, today's spend.")
    json_option(listing, "ListMonitors")
    show = add(group, "show", cmd_show, "Show a monitor: its state and its metrics per hour or day.")
    show.add_argument("name", help="the monitor's name")
    show.add_argument("--granularity", choices=("hour", "day"), default="hour", help="metrics per UTC hour (default) or day")
    show.add_argument("--periods", type=int, default=None, help="how many hours (default 24) or days (default 30)")
    json_option(show, "GetMonitor")
    create = add(group, "create", cmd_create, "Create a monitor: its judges run on each trace that arrives, once complete.")
    create.add_argument("name", help="its name: letters, digits, '.', '_' or '-'")
    create.add_argument("--judge", dest="judges", action="append", required=True, metavar="JUDGE",
                        help="a judge to run (repeatable): a name, NAME@VERSION, or module:function")  # fmt: skip
    _settings_options(create, creating=True)
    json_option(create, "CreateMonitor")
    update = add(group, "update", cmd_update, "Change a monitor: pause, resume, judges, filter, sampling, limits.")
    update.add_argument("name", help="the monitor's name")
    state = update.add_mutually_exclusive_group()
    state.add_argument("--pause", dest="paused", action="store_const", const=True, default=None, help="stop judging")
    state.add_argument("--resume", dest="paused", action="store_const", const=False, help="judge again")
    update.add_argument("--judge", dest="judges", action="append", default=None, metavar="JUDGE",
                        help="replace the judges (repeatable)")  # fmt: skip
    _settings_options(update, creating=False)
    json_option(update, "UpdateMonitor")
    delete = add(group, "delete", cmd_delete, "Delete a monitor; the feedback it logged stays on the traces.")
    delete.add_argument("name", help="the monitor's name")
    json_option(delete, "DeleteMonitor")
    fill = add(group, "backfill", cmd_backfill, "Queue older traces for a monitor to judge (serve judges them).")
    fill.add_argument("name", help="the monitor's name")
    fill.add_argument("--since", default=None, help="traces started since: 24h, 7d ... ago, or an ISO time (default: all)")
    fill.add_argument("--until", default=None, help="traces started before: a time ago or an ISO time (default: now)")
    fill.add_argument("--max-traces", type=int, default=10_000, help="refuse past this many (default 10,000)")
    json_option(fill, "BackfillMonitor")
    add(group, "run", cmd_run, "Run the monitors and their alert rules in this process, without the HTTP server, until Ctrl-C.")


def _settings_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    from store.monitors import DEFAULT_SETTLE_S, DEFAULT_TIMEOUT_S

    keep = "" if creating else " (default: unchanged)"
    parser.add_argument("--filter", default=None, help=f"the traces to watch, SearchTraces' filter_string{keep or ' (default: all)'}")
    parser.add_argument("--sample-rate", type=float, default=1.0 if creating else None,
                        help=f"share of traces judged, above 0 up to 1{keep or ' (default 1)'}")  # fmt: skip
    parser.add_argument("--settle-s", type=float, default=DEFAULT_SETTLE_S if creating else None,
                        help=f"seconds without a new span after the root ended{keep or f' (default {DEFAULT_SETTLE_S:g})'}")  # fmt: skip
    parser.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S if creating else None,
                        help=f"seconds without a new span for a trace whose root never ends{keep or f' (default {DEFAULT_TIMEOUT_S:g})'}")  # fmt: skip
    zero = "" if creating else "; 0 removes it"
    parser.add_argument("--max-per-hour", type=int, default=None, help=f"most traces judged per UTC hour{zero}")
    parser.add_argument("--max-tokens-per-day", type=int, default=None, help=f"most model tokens per UTC day{zero}")
    parser.add_argument("--max-cost-per-day", type=float, default=None, help=f"most USD per UTC day{zero}")

