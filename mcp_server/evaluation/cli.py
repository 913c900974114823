"""The evaluate and runs commands: `tracejudge evaluate` (Evaluate from the shell, with a progress bar) and `tracejudge runs list|show|compare` (ListEvaluationRuns, GetEvaluationRun, CompareEvaluationRuns), over the same functions as the tools (mcp_server.evaluation)."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import (
    AddCommand,
    command_group,
    database,
    json_option,
    operator_settings,
    page_token_option,
    print_answer,
)
from store.errors import InvalidArgument


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.evaluation.cli_format import print_evaluation_run
    from mcp_server.evaluation.run import evaluate
    from mcp_server.terminal.progress import progress_bar

    if not args.judges and args.run_id is None:
        raise InvalidArgument("name at least one judge, e.g. 'tracejudge evaluate error_spans'; "
                              "'tracejudge judge list' lists them.")
    with database(settings) as db:
        with progress_bar() as progress:
            run = anyio.run(
                lambda: evaluate(
                    db,
                    args.judges or None,
                    settings=operator_settings(settings),
                    server=args.judge_server(settings, db),
                    filter_string=args.filter,
                    trace_ids=args.trace_ids,
                    dataset=args.dataset,
                    dataset_version=args.dataset_version,
                    target=args.target,  # the user's own agent, on their machine: any import path
                    run_id=args.run_id,
                    name=args.name,
                    max_concurrency=args.max_concurrency,
                    max_tokens=args.max_tokens,
                    max_cost_usd=args.max_cost_usd,
                    progress=progress,
                    allow_import=False,
                )
            )
    print_answer(args, run, print_evaluation_run)
    return 0 if run.status == "completed" else 1


def cmd_runs_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.evaluation.cli_format import print_run_report
    from mcp_server.evaluation.reports import get_evaluation_run

    with database(settings) as db:
        report = get_evaluation_run(
            db, args.run_id, max_results=args.limit, errors_only=args.errors, page_token=args.page_token
        )
    print_answer(args, report, print_run_report)
    return 0


def cmd_runs_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.evaluation.cli_format import print_runs
    from mcp_server.evaluation.listing import list_evaluation_runs

    with database(settings) as db:
        runs = list_evaluation_runs(db, max_results=args.limit, page_token=args.page_token)
    print_answer(args, runs, print_runs)
    return 0


def cmd_runs_compare(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.evaluation.cli_format import print_comparison
    from mcp_server.evaluation.reports import compare_evaluation_runs

    with database(settings) as db:
        comparison = compare_evaluation_runs(
            db, args.run_a, args.run_b, max_results=args.limit, page_token=args.page_token
        )
    print_answer(args, comparison, print_comparison)
    return 0


def register_evaluation_commands(sub: Any, add: AddCommand) -> None:
    """Add `evaluate` and `runs` to the top-level subparsers `sub`; `add` makes a command with --db."""
    evaluate = add(sub, "evaluate", cmd_evaluate,
                   "Run judges over many traces within a budget; exits 1 when the run stopped early.")
    evaluate.add_argument("judges", nargs="*", metavar="JUDGE", help="judge names (none when resuming with --run-id)")
    which = evaluate.add_mutually_exclusive_group()
    which.add_argument("--filter", default=None, help="traces to judge, e.g. \"trace.status = 'ERROR'\" (default: all)")
    which.add_argument("--trace-id", action="append", dest="trace_ids", default=None, help="a trace to judge (repeatable)")
    which.add_argument("--dataset", default=None, help="run --target on this dataset's records and judge its traces")
    evaluate.add_argument("--dataset-version", type=int, default=None, help="the dataset version (default: the latest)")
    evaluate.add_argument("--target", default=None, help="the agent to run on each record, 'module:function'")
    evaluate.add_argument("--run-id", default=None, help="resume this run: judge only its pairs without a result")
    evaluate.add_argument("--name", default=None, help="a name for the run")
    evaluate.add_argument("--max-concurrency", type=int, default=8, help="judgments in flight at most (default 8)")
    evaluate.add_argument("--max-tokens", type=int, default=None,
                          help="the run's token budget: no model call is sent that would exceed it")
    evaluate.add_argument("--max-cost-usd", type=float, default=None,
                          help="the run's budget in USD: no model call is sent that would exceed it")
    json_option(evaluate, "Evaluate")

    runs = command_group(sub, "runs", "List the evaluation runs, show one, or compare two.")
    listing = add(runs, "list", cmd_runs_list, "List the evaluation runs, newest first: judges, what they judged, counts.")
    listing.add_argument("--limit", type=int, default=20, help="runs to show (default 20, at most 100)")
    page_token_option(listing, "ListEvaluationRuns")
    json_option(listing, "ListEvaluationRuns")
    show_run = add(runs, "show", cmd_runs_show, "Show a run's summary, metrics, errors and results.")
    show_run.add_argument("run_id")
    show_run.add_argument("--errors", action="store_true", help="list only results with an error")
    show_run.add_argument("--limit", type=int, default=50, help="results to show (default 50, at most 200)")
    page_token_option(show_run, "GetEvaluationRun")
    json_option(show_run, "GetEvaluationRun")
    compare = add(runs, "compare", cmd_runs_compare, "Compare two runs: metric deltas and changed verdicts.")
    compare.add_argument("run_a")
    compare.add_argument("run_b")
    compare.add_argument("--limit", type=int, default=50, help="changed verdicts to show (default 50, at most 200)")
    page_token_option(compare, "CompareEvaluationRuns")
    json_option(compare, "CompareEvaluationRuns")
