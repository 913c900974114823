"""The optimization commands: `tracejudge optimize` (OptimizePrompt from the shell, with a progress
bar; the target is the user's own agent on their machine, so any import path runs, and any model may
be named) and `tracejudge judge agreement` / `judge align` (JudgeAgreement and AlignJudge), over the
same functions as the tools (mcp_server.optimization)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, operator_settings, print_answer

if TYPE_CHECKING:
    from rich.console import Console

    from mcp_server.optimization.agreement import AgreementReport, AgreementScore
    from mcp_server.optimization.align import AlignmentReport


def cmd_optimize(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.optimization.prompt import optimize_prompt
    from mcp_server.terminal.progress import progress_bar
    from mcp_server.terminal.tables import Column, output_console, print_table

    with database(settings) as db, progress_bar("optimizing") as report:

        async def progress(done: int, total: int, message: str) -> None:
            report(done, total, message)

        result = anyio.run(
            lambda: optimize_prompt(
                db, args.prompt, dataset=args.dataset, judges=args.judges, target=args.target,
                settings=operator_settings(settings), dataset_version=args.dataset_version,
                server=args.judge_server(settings, db),
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


def _score(score: AgreementScore) -> str:
    if score.accuracy is None:
        return "no pairs"
    kappa = f"kappa {score.kappa:.2f}" if score.kappa is not None else "kappa undefined"
    return f"accuracy {score.accuracy:.0%} ({kappa}) on {score.pairs} traces"


def print_agreement(report: AgreementReport, console: Console | None = None) -> None:
    from mcp_server.terminal.tables import Column, output_console, print_table

    console = console or output_console()
    console.print(f"{report.judge}: {_score(report)}", markup=False)
    console.print(report.message, markup=False)
    if report.confusion_matrix:
        judged = sorted({j for row in report.confusion_matrix.values() for j in row})
        columns = [Column("human \\ judge")] + [Column(value, justify="right") for value in judged]
        rows = [(human, *(str(row.get(j, 0)) for j in judged)) for human, row in sorted(report.confusion_matrix.items())]
        print_table(console, columns, rows, title="confusion matrix")
    if report.disagreements:
        columns = (Column("trace_id"), Column("human", fit="line"), Column("judge", fit="line"),
                   Column("rationale", fit="wrap", drop=1))  # fmt: skip
        rows = [(d.trace_id, d.human_value, d.judge_value, d.judge_rationale or "-") for d in report.disagreements]
        print_table(console, columns, rows, title=f"disagreements ({report.disagreement_count})")
    if report.judge_versions:
        console.print("verdicts from: " + ", ".join(f"{k} ({v})" for k, v in report.judge_versions.items()))


def print_alignment(report: AlignmentReport, console: Console | None = None) -> None:
    from rich.text import Text

    from mcp_server.terminal.tables import output_console

    console = console or output_console()
    style = "green" if report.registered else "yellow"
    console.print(Text.assemble((report.judge, "bold"), ": ", (report.message, style)))
    console.print(
        f"labels: {report.labels} ({report.train_labels} training, {report.held_out_labels} held out)\n"
        f"held out before: {_score(report.before)}\n"
        f"held out after:  {_score(report.after)}\n"
        f"training: {report.train_accuracy_before:.0%} -> {report.train_accuracy_after:.0%}; "
        f"{report.candidates} candidate(s), {report.metric_calls} judgments; {report.stop_message}\n"
        f"cost {report.cost_usd:.4f} USD, {report.tokens:,} tokens",
        markup=False,
    )
    if report.instructions:
        console.print("[dim]new instructions:[/]")
        console.print(report.instructions, markup=False)


def cmd_judge_agreement(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.optimization.agreement import judge_agreement

    with database(settings) as db:
        report = judge_agreement(db, args.name, trace_ids=args.trace_ids)
    print_answer(args, report, print_agreement)
    return 0


def cmd_judge_align(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.optimization.align import align_judge
    from mcp_server.terminal.progress import progress_bar

    with database(settings) as db:
        with progress_bar("aligning") as report_progress:

            async def progress(done: int, total: int, message: str) -> None:
                report_progress(done, total, message)

            report = anyio.run(
                lambda: align_judge(
                    db,
                    args.name,
                    settings=operator_settings(settings),
                    server=args.judge_server(settings, db),
                    reflection_model=args.reflection_model,
                    min_labels=args.min_labels,
                    holdout_fraction=args.holdout_fraction,
                    max_metric_calls=args.max_metric_calls,
                    max_cost_usd=args.max_cost_usd,
                    progress=progress,
                )
            )
    print_answer(args, report, print_alignment)
    return 0 if report.registered else 1


def register_alignment_commands(judge: Any, add: AddCommand) -> None:
    """Add `agreement` and `align` to the `judge` command group's subparsers."""
    from mcp_server.optimization.alignment_limits import DEFAULT_HOLDOUT_FRACTION, DEFAULT_MIN_LABELS

    agreement = add(judge, "agreement", cmd_judge_agreement,
                    "How well a judge agrees with the human labels of its name: accuracy, kappa, disagreements.")
    agreement.add_argument("name")
    agreement.add_argument("--trace-id", action="append", dest="trace_ids", default=None,
                           help="compare on this trace only (repeatable)")
    json_option(agreement, "JudgeAgreement")
    align = add(judge, "align", cmd_judge_align,
                "Rewrite a judge's instructions to agree with its human labels; registers a new version if "
                "it agrees with more held-out labels, else exits 1.")
    align.add_argument("name")
    align.add_argument("--reflection-model", default=None,
                       help="the model that rewrites the instructions (default: the default judge model)")
    align.add_argument("--min-labels", type=int, default=DEFAULT_MIN_LABELS,
                       help=f"labels needed at least (default {DEFAULT_MIN_LABELS})")
    align.add_argument("--holdout-fraction", type=float, default=DEFAULT_HOLDOUT_FRACTION,
                       help=f"share of labels held out to compare before and after (default {DEFAULT_HOLDOUT_FRACTION})")
    align.add_argument("--max-metric-calls", type=int, default=None,
                       help="judgments the search may make (default 4 x the training labels + 30)")
    align.add_argument("--max-cost-usd", type=float, default=None, help="the search's budget in USD")
    json_option(align, "AlignJudge")
