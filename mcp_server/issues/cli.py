"""The `issues` commands: discover issues across traces, list and show them, curate them, and make
a dataset or a judge from one, over the same functions as the issue tools (mcp_server.issues)."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, operator_settings, print_answer


def cmd_discover(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.issues.discovery import discover_issues

    settings = operator_settings(settings)
    with database(settings) as db:
        report = anyio.run(lambda: discover_issues(
            db, settings=settings, filter_string=args.filter, judges=args.judges, model=args.model,
            max_issues=args.max_issues, max_traces=args.max_traces, max_cost_usd=args.max_cost,
            server=args.judge_server(settings, db), allow_import=True,
        ))  # fmt: skip
    print_answer(args, report, _show_report)
    return 0


def _show_report(report: Any) -> None:
    from mcp_server.terminal.tables import Column, print_listing

    print(report.message)
    columns = (Column("issue_id"), Column("title", fit="wrap"), Column("category", drop=2), Column("severity", drop=1),
               Column("traces", justify="right"), Column("new", justify="right", drop=3))  # fmt: skip
    print_listing(columns, [(i.issue_id, i.title, i.category, i.severity, f"{i.trace_count:,}", f"+{i.new_traces:,}")
                            for i in report.issues], empty="no failures found in those traces.")  # fmt: skip


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.issues.service import list_issues
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_issues(db, status=args.status, category=args.category, order=args.order,
                             max_results=args.limit, page_token=args.page_token)  # fmt: skip
    if args.json:
        print_answer(args, result, print)
        return 0
    columns = (Column("issue_id"), Column("title", fit="wrap"), Column("status"), Column("severity", drop=1),
               Column("category", drop=2), Column("traces", justify="right"), Column("last seen", drop=3))  # fmt: skip
    rows = [(i.issue_id, i.title, i.status, i.severity, i.category, f"{i.trace_count:,}", (i.last_seen or "")[:16])
            for i in result.issues]  # fmt: skip
    print_listing(columns, rows, empty="no issues; find them with `tracejudge issues discover`.",
                  next_page_token=result.next_page_token, more=f"issues ({result.total} in all)")  # fmt: skip
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.issues.service import get_issue

    with database(settings) as db:
        detail = get_issue(db, args.issue_id, window_days=args.window_days, max_results=args.limit,
                           page_token=args.page_token)
    print_answer(args, detail, _show_detail)
    return 0


def _show_detail(detail: Any) -> None:
    from mcp_server.terminal.tables import Column, print_listing

    p = detail.prevalence
    share = "n/a" if p.share is None else f"{p.share:.1%}"
    print(f"{detail.issue_id}: {detail.title}\n  {detail.status}, {detail.severity}, {detail.category}; "
          f"{detail.trace_count:,} traces, first seen {detail.first_seen}, last seen {detail.last_seen}\n"
          f"  last {p.window_days:g} days: {p.affected:,} of {p.traces:,} traces ({share}), {p.trend}")  # fmt: skip
    if detail.description:
        print(f"  {detail.description}")
    if detail.root_cause:
        print(f"  root cause: {detail.root_cause}")
    columns = (Column("trace_id"), Column("span_id", drop=1), Column("source", drop=2), Column("excerpt", fit="wrap"))
    print_listing(columns, [(e.trace_id, e.span_id or "", e.source, e.excerpt) for e in detail.evidence], empty="",
                  next_page_token=detail.next_page_token, more="evidence")  # fmt: skip


def cmd_update(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.issues.service import update_issue

    changes = {"status": args.status, "severity": args.severity, "title": args.title}
    with database(settings) as db:
        result = update_issue(db, args.issue_id, changes, merge_into=args.merge_into, split_trace_ids=args.split,
                              split_title=args.split_title)  # fmt: skip
    print_answer(args, result, lambda r: [print(f"{i.issue_id}: {i.title} ({i.status}, {i.trace_count:,} traces"
                                                f"{', merged into ' + i.merged_into if i.merged_into else ''})")
                                          for i in r.issues])  # fmt: skip
    return 0


def cmd_dataset(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.issues.service import create_dataset_from_issue

    with database(settings) as db:
        report = create_dataset_from_issue(db, args.issue_id, args.dataset)
    print_answer(args, report, lambda r: print(r.message))
    return 0


def cmd_judge(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.issues.judge_from_issue import create_judge_from_issue

    settings = operator_settings(settings)
    with database(settings) as db:
        made = anyio.run(lambda: create_judge_from_issue(
            db, args.issue_id, settings=settings, name=args.name, model=args.model, filter_string=args.filter,
            save=not args.no_save, max_cost_usd=args.max_cost, server=args.judge_server(settings, db),
        ))  # fmt: skip
    print_answer(args, made, lambda m: print(m.message))
    return 0


def register_issue_commands(sub: Any, add: AddCommand) -> None:
    """Add `issues discover|list|show|update|dataset|judge` to the top-level subparsers `sub`."""
    from mcp_server.terminal.commands import page_token_option

    help = "Issues discovered across traces: what fails, how often, and datasets and judges made from them."
    parser = sub.add_parser("issues", help=help, description=help)
    group = parser.add_subparsers(dest="issues_command", required=True, metavar="SUBCOMMAND")
    discover = add(group, "discover", cmd_discover, "Gather the traces' failures into named issues with their counts.")
    discover.add_argument("--filter", default=None, help="the traces to triage (SearchTraces' filter_string; default all)")
    discover.add_argument("--judge", dest="judges", action="append", default=None, metavar="JUDGE",
                          help="run this judge first (repeatable), e.g. trace_issues")  # fmt: skip
    discover.add_argument("--model", default=None, help="the model that names the issues (default the judge model)")
    discover.add_argument("--max-issues", type=int, default=20, help="most issues made or added to (default 20)")
    discover.add_argument("--max-traces", type=int, default=1_000, help="refuse past this many traces (default 1,000)")
    discover.add_argument("--max-cost", type=float, default=None, help="USD budget for every model call it makes")
    json_option(discover, "DiscoverIssues")
    listing = add(group, "list", cmd_list, "List the issues, most traces first.")
    listing.add_argument("--status", choices=("open", "confirmed", "rejected", "resolved"), default=None)
    listing.add_argument("--category", default=None, help="only this category")
    listing.add_argument("--order", choices=("traces", "recent"), default="traces")
    listing.add_argument("--limit", type=int, default=50, help="issues to show (default 50, at most 100)")
    page_token_option(listing, "ListIssues")
    json_option(listing, "ListIssues")
    show = add(group, "show", cmd_show, "Show an issue: prevalence, trend and evidence.")
    show.add_argument("issue_id")
    show.add_argument("--window-days", type=float, default=7, help="the prevalence window (default 7 days)")
    show.add_argument("--limit", type=int, default=20, help="evidence rows to show (default 20)")
    page_token_option(show, "GetIssue")
    json_option(show, "GetIssue")
    update = add(group, "update", cmd_update, "Change an issue's status, severity or title; merge it into another, or split it.")
    update.add_argument("issue_id")
    update.add_argument("--status", choices=("open", "confirmed", "rejected", "resolved"), default=None)
    update.add_argument("--severity", choices=("low", "medium", "high", "critical"), default=None)
    update.add_argument("--title", default=None)
    update.add_argument("--merge-into", default=None, metavar="ISSUE_ID", help="move its traces into that issue")
    update.add_argument("--split", action="append", default=None, metavar="TRACE_ID",
                        help="move this trace (repeatable) out into a new issue")  # fmt: skip
    update.add_argument("--split-title", default=None, help="the new issue's title (with --split)")
    json_option(update, "UpdateIssue")
    dataset = add(group, "dataset", cmd_dataset, "Add an issue's traces' inputs to a dataset, tagged with the issue.")
    dataset.add_argument("issue_id")
    dataset.add_argument("--dataset", default=None, help="the dataset (default issue-<id>, made if new)")
    json_option(dataset, "CreateDatasetFromIssue")
    judge = add(group, "judge", cmd_judge, "Draft a judge that finds an issue and report its precision and recall.")
    judge.add_argument("issue_id")
    judge.add_argument("--name", default=None, help="the judge's name (default issue_<id>)")
    judge.add_argument("--model", default=None, help="the model that drafts and runs it (default the judge model)")
    judge.add_argument("--filter", default=None, help="where the traces without the issue come from (default all)")
    judge.add_argument("--no-save", action="store_true", help="report only; save no judge")
    judge.add_argument("--max-cost", type=float, default=None, help="USD budget")
    json_option(judge, "CreateJudgeFromIssue")
