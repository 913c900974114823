"""`tracejudge judge agreement` and `tracejudge judge align`: parsing and printing over the same
functions as the JudgeAgreement and AlignJudge tools (mcp_server.optimization)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mcp_server.cli_support import AddCommand, database, json_option, operator_settings, print_answer
from mcp_server.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from mcp_server.optimization.agreement import AgreementReport, AgreementScore
    from mcp_server.optimization.align import AlignmentReport


def _score(score: AgreementScore) -> str:
    if score.accuracy is None:
        return "no pairs"
    kappa = f"kappa {score.kappa:.2f}" if score.kappa is not None else "kappa undefined"
    return f"accuracy {score.accuracy:.0%} ({kappa}) on {score.pairs} traces"


def print_agreement(report: AgreementReport, console: Console | None = None) -> None:
    from mcp_server.cli_format import Column, output_console, print_table

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
    from mcp_server.cli_format import output_console

    from rich.text import Text

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

    from mcp_server.cli_format_runs import progress_bar
    from mcp_server.optimization.align import align_judge

    with database(settings) as db:
        with progress_bar("aligning") as report_progress:

            async def progress(done: int, total: int, message: str) -> None:
                report_progress(done, total, message)

            report = anyio.run(
                lambda: align_judge(
                    db,
                    args.name,
                    settings=operator_settings(settings),
                    reflection_model=args.reflection_model,
                    min_labels=args.min_labels,
                    holdout_fraction=args.holdout_fraction,
                    max_metric_calls=args.max_metric_calls,
                    max_cost_usd=args.max_cost_usd,
                    progress=progress,
                )
            )
    print_alignment(report)
    return 0 if report.registered else 1


def register_alignment_commands(judge: Any, add: AddCommand) -> None:
    """Add `agreement` and `align` to the `judge` command group's subparsers."""
    from mcp_server.optimization.align import DEFAULT_HOLDOUT_FRACTION, DEFAULT_MIN_LABELS

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
