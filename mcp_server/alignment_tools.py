"""The judge alignment tools: JudgeAgreement and AlignJudge, registered on a server by
`add_alignment_tools(server, db, settings)`.

Thin wrappers in the style of mcp_server.evaluation_tools over mcp_server.optimization.agreement
and mcp_server.optimization.align. AlignJudge reports its progress as MCP progress notifications.
"""

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.models import Sampler
from mcp_server.optimization.agreement import MAX_DISAGREEMENTS, MAX_TRACE_IDS, AgreementReport, judge_agreement
from mcp_server.optimization.align import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_MIN_LABELS,
    MIN_LABELS_FLOOR,
    AlignmentReport,
    align_judge,
)
from mcp_server.settings import Settings
from mcp_server.tool_boundary import READ_ONLY, answer
from store import Database

ALIGNS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
"""AlignJudge calls model providers (open world) and may add a judge version; it changes nothing else."""

JUDGE_AGREEMENT_DESCRIPTION = f"""\
How well a judge agrees with people. Human feedback named after the judge (source HUMAN, from a
labeling session or LogFeedback) is the label set; on each labeled trace the latest label is
compared with the judge's latest verdict (its feedback of the same name). Values are compared
after normalizing (true/'yes'/'pass' and false/'no'/'fail' are equal; numbers by value; text
without case). Returns: pairs compared, accuracy, Cohen's kappa (agreement beyond chance; none
with the reason when undefined), the confusion matrix (human value -> judge value -> traces),
the disagreeing traces (first {MAX_DISAGREEMENTS}: human value, judge value, the judge's rationale
cut short), which judge versions gave the verdicts, and the labeled traces the judge has not
judged yet (run Evaluate on them). trace_ids: compare on these traces only (up to
{MAX_TRACE_IDS:,}). Improve the agreement with AlignJudge.

Example: JudgeAgreement(judge="routing_accuracy")"""

ALIGN_JUDGE_DESCRIPTION = f"""\
Rewrite a stored judge's instructions so its verdicts agree with the human labels of its name,
and register the result as the judge's next version. The labels are split the same way every
time into training labels ({1 - DEFAULT_HOLDOUT_FRACTION:.0%}) and held-out labels
({DEFAULT_HOLDOUT_FRACTION:.0%}); a GEPA search (reflective evolution) runs the judge with
candidate instructions on the training labels, has reflection_model rewrite them from the
disagreements, and keeps those that agree with more labels. The best instructions are
registered only if they also agree with more held-out labels, which the search never saw.
Needs at least min_labels labels (default {DEFAULT_MIN_LABELS}; the error says how many more to
label); holdout_fraction: the held-out share (default {DEFAULT_HOLDOUT_FRACTION}).
reflection_model: a model the server allows (TRACEJUDGE_ALLOWED_MODELS), e.g. 'openai:/gpt-4o'
(default: the default judge model). max_metric_calls:
judgments the search may make (default 4 x the training labels + 30). max_cost_usd: the
search's budget (judging and reflection); judging the held-out labels before and after comes
on top. No feedback is logged. Returns agreement (accuracy, kappa) on the held-out labels
before and after, the new version (or why none was registered), the search's judgments, stop
reason and cost. Progress is sent as MCP progress notifications.

Example: AlignJudge(judge="routing_accuracy", max_cost_usd=2.0)"""


def add_alignment_tools(server: MCPServer, db: Database, settings: Settings) -> None:
    """Register JudgeAgreement and AlignJudge on `server`, over `db`, with `settings` for the models."""

    async def judge_agreement_tool(
        judge: Annotated[str, Field(description="The judge's name, which is also its human labels' name.")],
        trace_ids: Annotated[
            list[str] | None, Field(description="Compare on these traces only; none for every labeled trace.")
        ] = None,
    ) -> Annotated[CallToolResult, AgreementReport]:
        return await answer(judge_agreement, db, judge, trace_ids=trace_ids)

    async def align_judge_tool(
        ctx: Context,
        judge: Annotated[str, Field(description="A stored judge's name (CreateJudge), with human labels of that name.")],
        reflection_model: Annotated[
            str | None,
            Field(description="The model that rewrites the instructions, one the server allows; none for the "
                  "default judge model."),
        ] = None,
        max_metric_calls: Annotated[
            int | None, Field(description="Judgments the search may make; none for 4 x the training labels + 30.")
        ] = None,
        max_cost_usd: Annotated[float | None, Field(description="The search's budget in USD; none for no limit.")] = None,
        min_labels: Annotated[
            int, Field(description=f"Labels needed at least, {MIN_LABELS_FLOOR} or more; fewer make a noisy comparison.")
        ] = DEFAULT_MIN_LABELS,
        holdout_fraction: Annotated[
            float, Field(description="The share of labels held out to compare before and after, 0.05 to 0.8.")
        ] = DEFAULT_HOLDOUT_FRACTION,
    ) -> Annotated[CallToolResult, AlignmentReport]:
        async def progress(done: int, total: int, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return await answer(
            align_judge,
            db,
            judge,
            settings=settings,
            reflection_model=reflection_model,
            max_metric_calls=max_metric_calls,
            max_cost_usd=max_cost_usd,
            min_labels=min_labels,
            holdout_fraction=holdout_fraction,
            progress=progress,
            sampler=Sampler.from_context(ctx),
            server=server,  # an agent judge investigates through this server's own tools
        )

    for tool_name, fn, description, annotations in (
        ("JudgeAgreement", judge_agreement_tool, JUDGE_AGREEMENT_DESCRIPTION, READ_ONLY),
        ("AlignJudge", align_judge_tool, ALIGN_JUDGE_DESCRIPTION, ALIGNS),
    ):
        server.add_tool(fn, name=tool_name, description=description, annotations=annotations, structured_output=True)
