"""CreateJudge, GetJudge, ListJudges and RunJudge as typed functions with bounded answers; the
MCP tools in mcp_server.judges.tools and the `judge` commands are thin wrappers over them.
create_judge is the one way a judge is stored (alignment stores its next versions through it too);
reading stored judges is mcp_server.judges.registry's, which the runner below this module shares."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from mcp_server.judges import registry
from mcp_server.judges.agent.prompt import BUILTIN_AGENT_JUDGES, REFERENCE_CHARS
from mcp_server.judges.builtin import BUILTIN_LLM_JUDGES
from mcp_server.judges.code_judges import BUILTIN_CODE_JUDGES
from mcp_server.judges.definition import JudgeDefinition, JudgeVerdict, OutputType
from mcp_server.judges.rendering import check_prompt_size, max_block_chars
from mcp_server.judges.runner import run_judge, stopped_by_budget
from mcp_server.models import BudgetExhausted, ModelSettings, check_model_allowed, parse_model_name
from mcp_server.models.budget import SpendBudget, spending_within
from mcp_server.settings import Settings
from mcp_server.tooling.paging import check_range, issue_token, read_token
from store import Database
from store import judges as store
from store.errors import InvalidArgument, InvalidPageToken

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

LIST_TOOL = "ListJudges"
MAX_RESULTS = 100
LIST_INSTRUCTIONS_CHARS = 300
"""ListJudges shows the start of each judge's instructions; GetJudge shows them whole."""


class JudgeInfo(BaseModel):
    """A judge as the tools show it."""

    name: str
    version: int | None = Field(description="The stored version; None for a built-in judge.")
    kind: Literal["llm", "agent", "code"] = Field(
        description="llm: reads inputs/outputs/expectations in one model call; agent: investigates the trace with "
        "the read-only tools ({{ trace }}); code: a program, no model."
    )
    builtin: bool
    description: str
    instructions: str | None = Field(None, description="The prompt with its template variables (LLM and agent judges).")
    output: OutputType
    model: str | None = Field(None, description="None: the default judge model.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="What RunJudge's parameters may set (built-ins).")


class JudgeList(BaseModel):
    judges: list[JudgeInfo] = Field(description="Stored judges, latest version of each, by name.")
    total: int = Field(description="How many stored judges there are.")
    builtin_judges: list[JudgeInfo] = Field(
        default_factory=list, description="The built-in judges (first page only), runnable by name with RunJudge."
    )
    next_page_token: str | None = None


class BudgetSpent(BaseModel):
    """What a RunJudge call with max_tokens or max_cost_usd spent of them."""

    max_tokens: int | None
    max_cost_usd: float | None
    spent_tokens: int
    spent_cost_usd: float
    stopped: str | None = Field(
        None, description="Set when the budget stopped the judgment before its verdict: which limit, with the figures. "
        "Nothing was logged; run it again with a larger budget."
    )
    over_budget: str | None = Field(
        None, description="How far past the budget the last call went (calls spend beyond their estimates), if it did."
    )


class RunResult(BaseModel):
    verdict: JudgeVerdict
    feedback_name: str = Field(description="The feedback name the verdict was logged under (the judge's name).")
    budget: BudgetSpent | None = Field(None, description="What the call spent of max_tokens / max_cost_usd, when given.")


def judge_info(judge: JudgeDefinition, *, builtin: bool, parameters: dict[str, Any] | None = None,
               clip_instructions: bool = False) -> JudgeInfo:
    instructions = judge.instructions
    if clip_instructions and len(instructions) > LIST_INSTRUCTIONS_CHARS:
        instructions = instructions[:LIST_INSTRUCTIONS_CHARS] + " [... cut; GetJudge shows it whole]"
    return JudgeInfo(
        name=judge.name,
        version=None if builtin else judge.version,
        kind="agent" if judge.is_agent_judge else "llm",
        builtin=builtin,
        description=judge.description,
        instructions=instructions,
        output=judge.output,
        model=judge.model,
        parameters=parameters or {},
    )


def _builtins(*, clip_instructions: bool) -> list[JudgeInfo]:
    out = [
        judge_info(b.definition, builtin=True, parameters=dict(b.parameters), clip_instructions=clip_instructions)
        for b in BUILTIN_LLM_JUDGES.values()
    ]
    out += [
        judge_info(definition, builtin=True, parameters={}, clip_instructions=clip_instructions)
        for definition in BUILTIN_AGENT_JUDGES.values()
    ]
    out += [
        JudgeInfo(name=name, version=None, kind="code", builtin=True, description=b.description,
                  output=b.output, parameters=b.parameters)
        for name, b in BUILTIN_CODE_JUDGES.items()
    ]
    return out


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def check_judge(
    name: str,
    instructions: str,
    *,
    models: ModelSettings,
    output: OutputType | dict[str, Any] | None = None,
    model: str | None = None,
    description: str = "",
) -> JudgeDefinition:
    """The judge CreateJudge would store, checked as create_judge checks it (ModelNotAllowed,
    InvalidArgument saying what is wrong), without storing it: what the web judge builder tries."""
    if model is not None and model.strip():
        check_model_allowed(model, models)
    try:
        output_type = output if isinstance(output, OutputType) else OutputType.model_validate(output or {})
        judge = JudgeDefinition(
            name=name, instructions=instructions, output=output_type, model=model or None, description=description
        )
    except ValidationError as exc:
        raise InvalidArgument(f"the judge is not valid: {_problems(exc)}") from None
    if judge.name in registry.builtin_names():
        raise InvalidArgument(
            f"{judge.name!r} is a built-in judge, which every client runs by that name, so a stored judge "
            f"cannot take it; choose another name for yours, e.g. 'my_{judge.name}'."
        )
    if judge.model is not None:
        parse_model_name(judge.model)  # InvalidModelName lists the accepted forms
    # An agent judge's variables become short references; an LLM judge's, data blocks up to their cap.
    sizes = REFERENCE_CHARS if judge.is_agent_judge else {v: max_block_chars(v) for v in judge.variables}
    check_prompt_size(judge.instructions, sizes, at_most=True)
    return judge


def create_judge(
    db: Database,
    name: str,
    instructions: str,
    *,
    models: ModelSettings,
    output: OutputType | dict[str, Any] | None = None,
    model: str | None = None,
    description: str = "",
) -> JudgeInfo:
    """Store a judge, as version 1 of a new name or the next version of an existing one, and show it.

    `models` say which models it may name (a client's are held to allowed_models: ModelNotAllowed;
    the operator's, allowed_models None, to none). Then the definition is checked (check_judge: name,
    template variables, output type, model name, the largest prompt it can render; InvalidArgument
    saying what is wrong) before anything is written. The built-in judges' names are refused: a stored
    judge under one would change what every client's runs of that built-in do."""
    judge = check_judge(name, instructions, models=models, output=output, model=model, description=description)
    record = store.create_judge_version(
        db,
        judge.name,
        judge.instructions,
        output=judge.output.model_dump(exclude_none=True),
        model=judge.model,
        description=judge.description,
    )
    return judge_info(registry.definition(record), builtin=False)


def get_judge(db: Database, name: str, *, version: int | None = None) -> JudgeInfo:
    """A built-in judge, else a stored judge (latest or `version`): the judge RunJudge runs by that name."""
    if version is None:
        for info in _builtins(clip_instructions=False):
            if info.name == name:
                return info
    return judge_info(registry.get_judge(db, name, version), builtin=False)


def list_judges(db: Database, *, max_results: int = 50, page_token: str | None = None) -> JudgeList:
    """A page of stored judges by name, and the built-in judges on the first page."""
    check_range("max_results", max_results, 1, MAX_RESULTS)
    state = read_token(page_token, LIST_TOOL, {"max_results": max_results})
    after = None
    if state is not None:
        after = state.get("after")
        if not isinstance(after, str) or len(after) > 200:
            raise InvalidPageToken(f"page_token is damaged; call {LIST_TOOL} without page_token to start again.")
    judges, total = registry.list_judges(db, limit=max_results + 1, after=after)
    token = None
    if len(judges) > max_results:
        judges = judges[:max_results]
        token = issue_token(LIST_TOOL, {"max_results": max_results}, {"after": judges[-1].name})
    return JudgeList(
        judges=[judge_info(j, builtin=False, clip_instructions=True) for j in judges],
        total=total,
        builtin_judges=_builtins(clip_instructions=True) if state is None else [],
        next_page_token=token,
    )


async def run_judge_tool(
    db: Database,
    judge: str,
    trace_id: str,
    *,
    settings: Settings,
    server: JudgeServer | None = None,
    version: int | None = None,
    parameters: dict[str, Any] | None = None,
    sampler: Any = None,
    max_tokens: int | None = None,
    max_cost_usd: float | None = None,
) -> RunResult:
    """RunJudge: a stored or built-in judge by name, never an import path (that would let a
    client run any function on this server). `sampler`: the calling client, for MCP sampling.

    max_tokens and max_cost_usd bound the judgment's model calls as Evaluate's bound a run's
    (mcp_server.models.budget): each call reserves its estimate first and one that would go past
    them is not sent. BudgetExhausted when the first call does not fit; a judgment stopped part
    way returns its error and spend and logs nothing (mcp_server.judges.runner)."""
    budget = SpendBudget.limiting(max_tokens, max_cost_usd)
    try:
        with spending_within(budget) if budget is not None else nullcontext():
            verdict = await run_judge(
                db, judge, trace_id, settings=settings, server=server, version=version, parameters=parameters,
                allow_import=False, sampler=sampler,
            )
    except BudgetExhausted as exc:
        raise BudgetExhausted(f"{exc}; nothing was spent or logged. Raise max_tokens or max_cost_usd.") from None
    spent = None
    if budget is not None:
        spent = BudgetSpent(
            max_tokens=max_tokens, max_cost_usd=max_cost_usd, spent_tokens=budget.spent_tokens,
            spent_cost_usd=budget.spent_cost_usd, stopped=stopped_by_budget(verdict), over_budget=budget.overshoot(),
        )
    return RunResult(verdict=verdict, feedback_name=judge.strip(), budget=spent)
