"""The `judge` commands (list, show, create, run): parsing, then the same services the judge MCP
tools call (mcp_server.judges.service); `judge agreement` and `judge align` join this group from
mcp_server.optimization.cli."""

from __future__ import annotations

import argparse
import json
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

OUTPUT_KINDS = ("bool", "int", "float", "categorical", "text")


def cmd_judge_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.judges.cli_format import print_judges
    from mcp_server.judges.service import list_judges

    with database(settings) as db:
        judges = list_judges(db, max_results=args.limit, page_token=args.page_token)
    print_answer(args, judges, print_judges)
    return 0


def cmd_judge_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.judges.cli_format import print_judge
    from mcp_server.judges.service import get_judge

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
    from mcp_server.judges.cli_format import print_judge
    from mcp_server.judges.service import create_judge

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

    from mcp_server.judges.cli_format import print_verdict
    from mcp_server.judges.service import run_judge_tool

    parameters = _parameters(args.parameters)
    with database(settings) as db:
        result = anyio.run(
            lambda: run_judge_tool(
                db, args.name, args.trace_id, settings=operator_settings(settings), version=args.version, server=args.judge_server(settings, db),
                parameters=parameters, max_tokens=args.max_tokens, max_cost_usd=args.max_cost_usd,
            )
        )
    print_answer(args, result, print_verdict)
    return 1 if result.verdict.error else 0












def register_judge_commands(sub: Any, add: AddCommand) -> Any:
    """Add `judge` to the top-level subparsers `sub` (`add` makes a command with --db); returns
    the group, for the commands of other features that belong under it."""
    judge = command_group(sub, "judge", "List, show, create and run judges; their agreement with human labels, and alignment.")
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
    return judge
