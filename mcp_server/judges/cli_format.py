"""How the judge, evaluate and runs commands show their results: rich tables, and the progress
bar evaluate draws on stderr."""

from __future__ import annotations

from rich.text import Text

from mcp_server.judges.definition import OutputType
from mcp_server.judges.service import JudgeInfo, JudgeList, RunResult
from mcp_server.terminal.tables import Column, output_console, print_next_page, print_table, value_text


def _bound(value: float) -> str:
    return f"{value:g}"


def _output(output: OutputType) -> str:
    if output.kind == "categorical":
        return "one of " + ", ".join(output.categories or [])
    low, high = output.minimum, output.maximum
    if low is not None and high is not None:
        return f"{output.kind} in [{_bound(low)}, {_bound(high)}]"
    if low is not None:
        return f"{output.kind} >= {_bound(low)}"
    if high is not None:
        return f"{output.kind} <= {_bound(high)}"
    return output.kind


_JUDGE_COLUMNS = (
    Column("name"), Column("version"), Column("kind", drop=3), Column("output", fit="wrap", drop=2),
    Column("model", fit="line", drop=4), Column("description", fit="wrap", drop=1),
)  # fmt: skip


def print_judges(judges: JudgeList) -> None:
    console = output_console()
    rows = [
        (info.name, "built-in" if info.builtin else str(info.version), info.kind, _output(info.output),
         info.model or "-", info.description or "-")
        for info in [*judges.judges, *judges.builtin_judges]
    ]  # fmt: skip
    print_table(console, _JUDGE_COLUMNS, rows, title="judges")
    console.print(f"{judges.total} stored judge(s), {len(judges.builtin_judges)} built-in")
    print_next_page(console, judges.next_page_token, "stored judges")


def print_judge(info: JudgeInfo) -> None:
    console = output_console()
    version = "built-in" if info.builtin else f"version {info.version}"
    console.print(Text.assemble((info.name, "bold"), f"  {version}  {info.kind} judge"))
    console.print(f"output: {_output(info.output)}", markup=False)
    console.print(f"model: {info.model or '(the default judge model)'}", markup=False)
    if info.description:
        console.print(f"description: {info.description}", markup=False)
    if info.parameters:
        console.print("parameters: " + ", ".join(f"{k}={v}" for k, v in info.parameters.items()), markup=False)
    if info.instructions:
        console.print("[dim]instructions:[/]", markup=True)
        console.print(info.instructions, markup=False)


def print_verdict(result: RunResult) -> None:
    console = output_console()
    verdict = result.verdict
    console.print(Text.assemble((verdict.judge, "bold"), f" on {verdict.trace_id}: ", value_text(verdict.value)))
    if verdict.error:
        console.print(Text.assemble(("error: ", "red"), verdict.error))
    if verdict.rationale:
        console.print(Text.assemble(("rationale: ", "dim"), verdict.rationale))
    if verdict.findings:
        columns = (Column("span_id"), Column("category", fit="line"), Column("impact", fit="line", drop=2),
                   Column("evidence", fit="wrap", drop=1))  # fmt: skip
        rows = [(f.span_id, f.category, f.impact or "-", f.evidence) for f in verdict.findings]
        print_table(console, columns, rows, title="findings")
    if verdict.assessment_id:
        console.print(Text(f"logged as feedback '{result.feedback_name}' ({verdict.assessment_id})", style="dim"))
    if result.budget is not None:
        spent = result.budget
        limits = ", ".join(
            f"{name}={limit:g}" for name, limit in (("max_tokens", spent.max_tokens), ("max_cost_usd", spent.max_cost_usd))
            if limit is not None
        )
        console.print(Text.assemble(
            ("budget: ", "dim"), f"{spent.spent_tokens:,} tokens and {spent.spent_cost_usd:.4f} USD spent of {limits}",
            ("; stopped before its verdict, nothing logged" if spent.stopped else "", "yellow"),
        ))  # fmt: skip
