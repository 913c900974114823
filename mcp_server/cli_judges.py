"""The `judge`, `evaluate` and `runs` commands: parsing, then the same services the judge and
evaluation MCP tools call (mcp_server.judges.tool_service, mcp_server.evaluation)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mcp_server.cli_alignment import register_alignment_commands
from mcp_server.cli_support import AddCommand, database, json_option, operator_settings, page_token_option, print_answer
from mcp_server.settings import Settings
from store.errors import InvalidArgument


OUTPUT_KINDS = ("bool", "int", "float", "categorical", "text")


def cmd_judge_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.cli_format_runs import print_judges
    from mcp_server.judges.tool_service import list_judges

    with database(settings) as db:
        judges = list_judges(db, max_results=args.limit, page_token=args.page_token)
    print_answer(args, judges, print_judges)
    return 0


def cmd_judge_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.cli_format_runs import print_judge
    from mcp_server.judges.tool_service import get_judge

    with database(settings) as db:
        info = get_judge(db, args.name, version=args.version)
    print_answer(args, info, print_judge)
    return 0


def _output(args: argparse.Namespace) -> dict[str, Any]:
    output: dict[str, Any] = {"kind": args.output_type}
    if args.categories is not None:
        output["categories"] = [c.strip() for c in args.categories.split(",") if c.strip()]
    if args.min is not None:
        output["minimum"] = args.min
    if args.max is not None:
        output["maximum"] = args.max
    return output


def cmd_judge_create(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.cli_format_runs import print_judge
    from mcp_server.judges.tool_service import create_judge

    with database(settings) as db:
        info = create_judge(
            db, args.name, args.instructions, models=operator_settings(settings).models, output=_output(args),
            model=args.model, description=args.description,
        )
    print_judge(info)
    return 0


def _parameters(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"--parameters is not JSON ({exc}); pass an object, e.g. '{{\"threshold_ms\": 5000}}'.") from None
    if not isinstance(value, dict):
        raise InvalidArgument("--parameters must be a JSON object, e.g. '{\"threshold_ms\": 5000}'.")
    return value


def cmd_judge_run(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.cli_format_runs import print_verdict
    from mcp_server.judges.tool_service import run_judge_tool

    parameters = _parameters(args.parameters)
    with database(settings) as db:
        result = anyio.run(
            lambda: run_judge_tool(
                db, args.name, args.trace_id, settings=operator_settings(settings), version=args.version,
                parameters=parameters, max_tokens=args.max_tokens, max_cost_usd=args.max_cost_usd,
            )
        )
    print_answer(args, result, print_verdict)
    return 1 if result.verdict.error else 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.cli_format_runs import print_evaluation_run, progress_bar
    from mcp_server.evaluation import evaluate

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
    print_evaluation_run(run)
    return 0 if run.status == "completed" else 1


def cmd_runs_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.cli_format_runs import print_run_report
    from mcp_server.evaluation.reports import get_evaluation_run

    with database(settings) as db:
        report = get_evaluation_run(
            db, args.run_id, max_results=args.limit, errors_only=args.errors, page_token=args.page_token
        )
    print_answer(args, report, print_run_report)
    return 0


def cmd_runs_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.cli_format_runs import print_runs
    from mcp_server.evaluation.listing import list_evaluation_runs

    with database(settings) as db:
        runs = list_evaluation_runs(db, max_results=args.limit, page_token=args.page_token)
    print_answer(args, runs, print_runs)
    return 0


def cmd_runs_compare(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.cli_format_runs import print_comparison
    from mcp_server.evaluation.reports import compare_evaluation_runs

    with database(settings) as db:
        comparison = compare_evaluation_runs(
            db, args.run_a, args.run_b, max_results=args.limit, page_token=args.page_token
        )
    print_answer(args, comparison, print_comparison)
    return 0


def _group(sub: Any, name: str, help: str) -> Any:
    parser = sub.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="SUBCOMMAND")


def register_judge_commands(sub: Any, add: AddCommand) -> None:
    """Add `judge`, `evaluate` and `runs` to the top-level subparsers `sub`; `add` makes a command with --db."""
    judge = _group(sub, "judge", "List, show, create and run judges; their agreement with human labels, and alignment.")
    listing = add(judge, "list", cmd_judge_list, "List the stored judges (latest versions) and the built-in judges.")
    listing.add_argument("--limit", type=int, default=50, help="stored judges to show (default 50, at most 100)")
    page_token_option(listing, "ListJudges")
    json_option(listing, "ListJudges")
    show = add(judge, "show", cmd_judge_show, "Show one judge: instructions, output type, model.")
    show.add_argument("name")
    show.add_argument("--version", type=int, default=None, help="a stored version (default: the latest)")
    json_option(show, "GetJudge")
    create = add(judge, "create", cmd_judge_create, "Store a judge, or the next version of an existing one.")
    create.add_argument("name", help="letters, digits, _ . -; starting with a letter")
    create.add_argument("--instructions", required=True,
                        help="the prompt, using {{ inputs }}, {{ outputs }}, {{ expectations }} or {{ trace }}")
    create.add_argument("--output-type", choices=OUTPUT_KINDS, default="bool", help="the value's type (default bool)")
    create.add_argument("--categories", default=None, help="the allowed values of a categorical output, e.g. yes,no")
    create.add_argument("--min", type=float, default=None, help="lowest allowed value (int and float outputs)")
    create.add_argument("--max", type=float, default=None, help="highest allowed value (int and float outputs)")
    create.add_argument("--model", default=None, help="e.g. 'openai:/gpt-4o-mini' (default: the default judge model)")
    create.add_argument("--description", default="", help="one line on what the judge checks")
    run = add(judge, "run", cmd_judge_run,
              "Run a judge on one trace and log its verdict as feedback; exits 1 when the judge gave an error.")
    run.add_argument("name")
    run.add_argument("trace_id")
    run.add_argument("--version", type=int, default=None, help="a stored version (default: the latest)")
    run.add_argument("--parameters", default=None, help="built-in judge parameters as JSON, e.g. '{\"threshold_ms\": 5000}'")
    run.add_argument("--max-tokens", type=int, default=None,
                     help="the judgment's token budget: no model call is sent that would exceed it")
    run.add_argument("--max-cost-usd", type=float, default=None,
                     help="the judgment's budget in USD: no model call is sent that would exceed it")
    json_option(run, "RunJudge")
    register_alignment_commands(judge, add)

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

    runs = _group(sub, "runs", "List the evaluation runs, show one, or compare two.")
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
