"""What the web judge builder needs beside the four judge tools: the choices it offers (template
variables, output kinds, the models this server calls for a client), trying a definition that is not
stored on a few traces without logging anything, and the line diff of two stored versions'
instructions. Saving is CreateJudge itself (mcp_server.judges.service.create_judge)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

import anyio
from pydantic import BaseModel, Field

from mcp_server.judges import registry
from mcp_server.judges.definition import TEMPLATE_VARIABLES, JudgeVerdict, OutputType
from mcp_server.judges.runner import run_judge, stopped_by_budget
from mcp_server.judges.service import BudgetSpent, JudgeInfo, check_judge, judge_info
from mcp_server.models import BudgetExhausted
from mcp_server.models.budget import SpendBudget, spending_within
from mcp_server.models.names import SAMPLING, parse_model_name
from mcp_server.settings import Settings
from mcp_server.tooling.text_diff import unified_line_diff
from store import Database
from store.errors import InvalidArgument, JudgeNotFound, TraceJudgeError, TraceNotFound
from store.ids import normalize_trace_id
from store.traces import trace_exists

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

MAX_TRY_TRACES = 5
"""The most traces one try judges: each is a model call the server pays for."""
TRY_MAX_TOKENS = 50_000
"""The token budget of a try that names none, so that no try is unbounded."""

VARIABLE_HELP = {
    "inputs": "the root span's request",
    "outputs": "the root span's response",
    "expectations": "the expectations logged on the trace",
    "trace": "the whole trace, investigated with the read-only trace tools (an agent judge)",
}


class TemplateVariable(BaseModel):
    name: str
    help: str


class BuilderOptions(BaseModel):
    template_variables: list[TemplateVariable]
    output_kinds: list[str]
    default_model: str | None = Field(description="The judge model used when a judge names none.")
    models: list[str] = Field(description="The models a judge saved or tried here may name besides the default.")
    max_traces: int = Field(description="The most traces one try judges.")
    max_tokens: int = Field(description="A try's token budget unless it names one.")
    read_only: bool = Field(description="True when the server neither stores nor runs judges for clients.")


class JudgeTrial(BaseModel):
    judge: JudgeInfo = Field(description="The definition tried, as CreateJudge would store it (not stored).")
    verdicts: list[JudgeVerdict] = Field(description="One per trace, in the order given; none was logged.")
    budget: BudgetSpent


class JudgeDiff(BaseModel):
    name: str
    from_version: int
    to_version: int
    identical: bool = Field(description="True when the two versions' instructions are the same text.")
    diff: str = Field(description="Unified diff of the instructions; '' when identical.")
    from_judge: JudgeInfo
    to_judge: JudgeInfo


def builder_options(settings: Settings) -> BuilderOptions:
    """What the builder offers, from the server's settings. 'sampling' is left out of the models: a
    page is no MCP client with a model to sample."""
    models = settings.models
    listed = [m for m in models.allowed_models or () if m != SAMPLING]
    return BuilderOptions(
        template_variables=[TemplateVariable(name=v, help=VARIABLE_HELP[v]) for v in TEMPLATE_VARIABLES],
        output_kinds=list(get_args(OutputType.model_fields["kind"].annotation)),
        default_model=parse_model_name(models.judge_model).litellm_name if models.judge_model else None,
        models=listed,
        max_traces=MAX_TRY_TRACES,
        max_tokens=TRY_MAX_TOKENS,
        read_only=settings.read_only,
    )


async def try_judge(
    db: Database,
    name: str,
    instructions: str,
    trace_ids: list[str],
    *,
    settings: Settings,
    server: JudgeServer | None = None,
    output: OutputType | dict[str, Any] | None = None,
    model: str | None = None,
    description: str = "",
    max_tokens: int | None = None,
    max_cost_usd: float | None = None,
) -> JudgeTrial:
    """Judge up to MAX_TRY_TRACES traces with a definition checked as CreateJudge checks it, neither
    storing it nor logging any verdict (run_judge with record=False), all under one budget (max_tokens,
    TRY_MAX_TOKENS when neither limit is given; max_cost_usd). Each trace's verdict or error comes back
    in the order given. An agent judge ({{ trace }}) investigates through `server`'s trace tools
    (mcp_server.server.judge_server_for), as RunJudge's would."""
    judge = check_judge(name, instructions, models=settings.models, output=output, model=model, description=description)
    if judge.is_agent_judge and server is None:
        raise InvalidArgument(
            "an agent judge ({{ trace }}) investigates through the MCP tools, and this try was given no server to "
            "investigate through; try it on {{ inputs }} and {{ outputs }}, or save it and run it with RunJudge."
        )
    ids = list(dict.fromkeys(normalize_trace_id(t) for t in trace_ids))
    if not ids:
        raise InvalidArgument("pick at least one trace to try the judge on.")
    if len(ids) > MAX_TRY_TRACES:
        raise InvalidArgument(f"a try judges at most {MAX_TRY_TRACES} traces (got {len(ids)}); pick fewer.")
    for trace_id in ids:  # before any model call, so that a wrong id spends nothing
        if not trace_exists(db, trace_id):
            raise TraceNotFound(trace_id)
    budget = SpendBudget.limiting(max_tokens, max_cost_usd) or SpendBudget(TRY_MAX_TOKENS)
    # The version it would be saved as, so its verdicts name it as RunJudge's would then.
    try:
        judge = judge.model_copy(update={"version": registry.get_judge(db, judge.name).version + 1})
    except JudgeNotFound:
        pass  # a new name: the judge would be its version 1, as the definition already says
    verdicts: list[JudgeVerdict | None] = [None] * len(ids)
    refused: list[Exception] = []

    async def judge_one(index: int, trace_id: str) -> None:
        # What run_judge raises (no model configured, a model refused, the budget too small for one
        # call) every judgment meets alike, before it spends: kept out of the task group's
        # ExceptionGroup, to be raised as itself.
        try:
            verdicts[index] = await run_judge(db, judge, trace_id, settings=settings, server=server, record=False,
                                              allow_import=False)  # fmt: skip
        except TraceJudgeError as exc:
            refused.append(exc)

    with spending_within(budget):
        async with anyio.create_task_group() as group:
            for index, trace_id in enumerate(ids):
                group.start_soon(judge_one, index, trace_id)
    if refused:
        if isinstance(refused[0], BudgetExhausted):
            raise BudgetExhausted(f"{refused[0]}; nothing was logged. Raise max_tokens or max_cost_usd.") from None
        raise refused[0]
    done = [v for v in verdicts if v is not None]
    stopped = next((reason for v in done if (reason := stopped_by_budget(v))), None)
    return JudgeTrial(
        judge=judge_info(judge, builtin=False),
        verdicts=done,
        budget=BudgetSpent(
            max_tokens=budget.max_tokens, max_cost_usd=budget.max_cost_usd, spent_tokens=budget.spent_tokens,
            spent_cost_usd=budget.spent_cost_usd, stopped=stopped, over_budget=budget.overshoot(),
        ),
    )


def diff_judge_versions(db: Database, name: str, from_version: int, to_version: int) -> JudgeDiff:
    """The line diff of stored judge `name`'s instructions from `from_version` to `to_version`, and
    both versions; JudgeNotFound if either is not stored."""
    old = registry.get_judge(db, name, from_version)
    new = registry.get_judge(db, name, to_version)
    return JudgeDiff(
        name=name,
        from_version=from_version,
        to_version=to_version,
        identical=old.instructions == new.instructions,
        diff=unified_line_diff(
            old.instructions, new.instructions, fromfile=f"{name} v{from_version}", tofile=f"{name} v{to_version}"
        ),
        from_judge=judge_info(old, builtin=False),
        to_judge=judge_info(new, builtin=False),
    )

