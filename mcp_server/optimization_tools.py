"""The prompt optimization tool, OptimizePrompt, registered on a server by
`add_optimization_tools(server, db, settings)`; a thin wrapper over
mcp_server.optimization.prompt.optimize_prompt that reports progress as MCP notifications."""

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server.models import Sampler
from mcp_server.optimization.prompt import PromptOptimization, optimize_prompt
from mcp_server.settings import Settings
from mcp_server.tool_boundary import answer
from store import Database

OPTIMIZES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
"""OptimizePrompt calls model providers, runs an agent, and adds prompt versions; it changes nothing else."""

OPTIMIZE_PROMPT_DESCRIPTION = """\
Improve a registered prompt so that an agent (target, loading it with load_prompt) scores better
under judges on a dataset (GEPA); each accepted candidate becomes a new prompt version.
Example: OptimizePrompt(prompt="router", dataset="misrouted", judges=["routing"],
target="mcp_server.demo_target:answer", max_cost_usd=1.0)"""


def add_optimization_tools(server: MCPServer, db: Database, settings: Settings) -> None:
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
        max_concurrency: Annotated[int, Field(description="Records scored at once, 1 to 64.")] = 8,
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
            server=server,
            sampler=Sampler.from_context(ctx),
            allow_import=False,  # a client must not run any function on this server by naming it
            allowed_targets=settings.targets,
        )

    server.add_tool(
        optimize_prompt_tool, name="OptimizePrompt", description=OPTIMIZE_PROMPT_DESCRIPTION,
        annotations=OPTIMIZES, structured_output=True,
    )
