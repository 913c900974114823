"""The `optimize` command: OptimizePrompt from the shell (mcp_server.optimization.prompt), with a
progress bar; the target is the user's own agent on their machine, so any import path runs, and
any model may be named."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_server.cli_support import AddCommand, database, operator_settings
from mcp_server.settings import Settings


def cmd_optimize(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.cli_format import Column, output_console, print_table
    from mcp_server.cli_format_runs import progress_bar
    from mcp_server.optimization.prompt import optimize_prompt

    with database(settings) as db, progress_bar("optimizing") as report:

        async def progress(done: int, total: int, message: str) -> None:
            report(done, total, message)

        result = anyio.run(
            lambda: optimize_prompt(
                db, args.prompt, dataset=args.dataset, judges=args.judges, target=args.target,
                settings=operator_settings(settings), dataset_version=args.dataset_version,
                reflection_model=args.reflection_model, max_metric_calls=args.max_metric_calls,
                max_cost_usd=args.max_cost_usd, progress=progress,
            )
        )
    console = output_console()
    console.print(
        f"{result.prompt}: version {result.start_version} scored {result.start_val_score:.3f} on "
        f"{result.val_records} validation records; best version {result.best_version} scored "
        f"{result.best_val_score:.3f} (gain {result.gain:+.3f})",
        markup=False,
    )
    if result.registered:
        columns = [Column(header, justify="right") for header in ("version", "parent", "validation score")]
        rows = [(str(v.version), str(v.parent_version), f"{v.val_score:.3f}") for v in result.registered]
        print_table(console, columns, rows, title="registered versions")
    console.print(
        f"{result.metric_calls} records scored, {result.reflection_calls} reflections, {result.tokens:,} tokens, "
        f"cost {result.cost_usd:.4f} USD; stopped: {result.stop_message}"
    )
    if result.notice:
        console.print(f"[yellow]{result.notice}[/]")
    return 0


def register_optimize_commands(sub: Any, add_command: AddCommand) -> None:
    optimize = add_command(sub, "optimize", cmd_optimize, "Improve a registered prompt against judges on a dataset (GEPA).")
    optimize.add_argument("prompt", help="'name', 'prompts:/name/3' or 'prompts:/name@alias'")
    optimize.add_argument("--dataset", required=True, help="the dataset whose records the target runs on")
    optimize.add_argument("--dataset-version", type=int, default=None, help="the dataset version (default: the latest)")
    optimize.add_argument("--judge", action="append", dest="judges", required=True, help="a judge that scores (repeatable)")
    optimize.add_argument("--target", required=True, help="the agent, 'module:function'; it must load the prompt with load_prompt")
    optimize.add_argument("--reflection-model", default=None, help="the model proposing new text (default: the judge model)")
    optimize.add_argument("--max-metric-calls", type=int, default=60, help="records scored at most (default 60)")
    optimize.add_argument("--max-cost-usd", type=float, default=None, help="stop past this cost")
