"""The optimization tools registered on an MCP server: OptimizePrompt (`add_optimization_tools`,
over mcp_server.optimization.prompt) and JudgeAgreement and AlignJudge (`add_alignment_tools`, over
mcp_server.optimization.agreement and .align). Thin wrappers; the long runs report their progress
as MCP progress notifications."""

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.models import Sampler
from mcp_server.optimization import prompt as prompt_optimization
from mcp_server.optimization.agreement import AgreementReport, judge_agreement
from mcp_server.optimization.align import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_MIN_LABELS,
    MAX_HOLDOUT_FRACTION,
    METRIC_CALLS_BASE,
    METRIC_CALLS_PER_LABEL,
    MIN_HOLDOUT_FRACTION,
    MIN_LABELS_FLOOR,
    AlignmentReport,
    align_judge,
)
from mcp_server.optimization.prompt import PromptOptimization, optimize_prompt
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, answer
from store import Database

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

OPTIMIZES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
"""OptimizePrompt calls model providers, runs an agent, and adds prompt versions; it changes nothing else."""

OPTIMIZE_PROMPT_DESCRIPTION = """\
Improve a registered prompt so that an agent (target, loading it with load_prompt) scores better
under judges on a dataset (GEPA); each accepted candidate becomes a new prompt version.
Example: OptimizePrompt(prompt="router", dataset="misrouted", judges=["routing"],
target="mcp_server.demo_target:answer", max_cost_usd=1.0)"""


def add_optimization_tools(server: MCPServer, db: Database, settings: Settings, judge_server: "JudgeServer") -> None:
    """Register OptimizePrompt on `server`, over `db`, with `settings` for the judge and reflection models."""

    async def optimize_prompt_tool(
        ctx: Context,
        prompt: Annotated[str, Field(description="'name', 'prompts:/name/3' or 'prompts:/name@alias'.")],
        dataset: Annotated[str, Field(description="Records the target runs on.")],
        judges: Annotated[list[str], Field(description="Judge names that score it.")],
        target: Annotated[str, Field(description="'module:function', allowed by the server.")],
        dataset_version: Annotated[int | None, Field(description="Of the dataset.")] = None,
        reflection_model: Annotated[str | None, Field(description="One the server allows.")] = None,
        max_metric_calls: Annotated[int, Field(description="Records scored, all candidates.")] = 60,
        max_cost_usd: Annotated[float | None, Field(description="Budget in USD.")] = None,
        val_fraction: Annotated[float, Field(description="Share held out for validation.")] = 0.5,
        max_concurrency: Annotated[
            int, Field(description=f"Records scored at once, 1 to {prompt_optimization.MAX_CONCURRENCY:,}.")
        ] = 8,
    ) -> Annotated[CallToolResult, PromptOptimization]:
        async def progress(done: int, total: int, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return await answer(
            optimize_prompt,
            db,
            prompt,
            dataset=dataset,
            judges=judges,
            target=target,
            settings=settings,
            dataset_version=dataset_version,
            reflection_model=reflection_model,
            max_metric_calls=max_metric_calls,
            max_cost_usd=max_cost_usd,
            val_fraction=val_fraction,
            max_concurrency=max_concurrency,
            progress=progress,
            server=judge_server,
            sampler=Sampler.from_context(ctx),
            allow_import=False,  # a client must not run any function on this server by naming it
            allowed_targets=settings.targets,
        )

    server.add_tool(
        optimize_prompt_tool, name="OptimizePrompt", description=OPTIMIZE_PROMPT_DESCRIPTION,
        annotations=OPTIMIZES, structured_output=True,
    )


ALIGNS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
"""AlignJudge calls model providers (open world) and may add a judge version; it changes nothing else."""


JUDGE_AGREEMENT_DESCRIPTION = """\
How well a judge agrees with the HUMAN feedback of its name: accuracy, Cohen's kappa, confusion
matrix, disagreeing traces. Improve it with AlignJudge.
Example: JudgeAgreement(judge="routing")"""


_TRAINING_SHARE = f"{1 - DEFAULT_HOLDOUT_FRACTION:.0%}"  # of the labels, by default; the rest is held out

ALIGN_JUDGE_DESCRIPTION = f"""\
Rewrite a stored judge's instructions (GEPA on {_TRAINING_SHARE} of its human labels); registers them as its
next version only if they agree better on the held-out rest. Spends up to max_cost_usd.
Example: AlignJudge(judge="routing", max_cost_usd=2.0)"""


def add_alignment_tools(server: MCPServer, db: Database, settings: Settings, judge_server: "JudgeServer") -> None:
    """Register JudgeAgreement and AlignJudge on `server`, over `db`, with `settings` for the models."""

    async def judge_agreement_tool(
        judge: Annotated[str, Field(description="Also its human labels' name.")],
        trace_ids: Annotated[
            list[str] | None, Field(description="Only these traces.")
        ] = None,
    ) -> Annotated[CallToolResult, AgreementReport]:
        return await answer(judge_agreement, db, judge, trace_ids=trace_ids)

    async def align_judge_tool(
        ctx: Context,
        judge: Annotated[str, Field(description="A stored judge with human labels of its name.")],
        reflection_model: Annotated[str | None, Field(description="One the server allows.")] = None,
        max_metric_calls: Annotated[
            int | None,
            Field(
                description=f"Judgments allowed; default {METRIC_CALLS_PER_LABEL} x training labels "
                f"+ {METRIC_CALLS_BASE}."
            ),
        ] = None,
        max_cost_usd: Annotated[float | None, Field(description="Budget in USD.")] = None,
        min_labels: Annotated[
            int, Field(description=f"Labels needed, {MIN_LABELS_FLOOR} or more.")
        ] = DEFAULT_MIN_LABELS,
        holdout_fraction: Annotated[
            float, Field(description=f"Share held out to compare, {MIN_HOLDOUT_FRACTION} to {MAX_HOLDOUT_FRACTION}.")
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
            server=judge_server,
        )

    for tool_name, fn, description, annotations in (
        ("JudgeAgreement", judge_agreement_tool, JUDGE_AGREEMENT_DESCRIPTION, READ_ONLY),
        ("AlignJudge", align_judge_tool, ALIGN_JUDGE_DESCRIPTION, ALIGNS),
    ):
        server.add_tool(fn, name=tool_name, description=description, annotations=annotations, structured_output=True)
