"""Running one judge on one trace and recording its verdict as feedback.

`run_judge` takes a JudgeDefinition, a CodeJudge, or a name: a built-in judge (LLM, agent or
code), else a stored judge (latest version, or `version`), else (from Python only) a
'module:function' import path. Built-ins come first, so a stored judge under a built-in's name (in
a database from before those names were reserved) never changes what that name runs, and a
version of that name is refused (mcp_server.judges.registry.get_judge, as for GetJudge). It
dispatches to the code, LLM or agent judge, and logs the verdict as feedback named after the judge
(source LLM_JUDGE or CODE, source_id 'name@version').

A judge that fails (the model, the user's code, data the trace lacks) gives an error verdict,
which is recorded too: a failing judgment is never lost and never raises, except for an error
every judgment would meet, raised before anything was spent or recorded (PersistentModelError:
no model, a model not allowed, an exhausted budget ...). A judgment the spending budget stopped
part way (metadata STOPPED_BY_BUDGET) is no verdict at all: it is returned, with what it spent,
but not logged, as the same judgment under a larger budget may well reach one. Unknown judges,
unknown traces and invalid arguments do raise, before anything runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from mcp_server.judges import registry
from mcp_server.judges.agent.prompt import BUILTIN_AGENT_JUDGES
from mcp_server.judges.builtin import BUILTIN_LLM_JUDGES, BuiltinLLMJudge
from mcp_server.judges.code_judges import BUILTIN_CODE_JUDGES, CodeJudge, code_judge, run_code_judge
from mcp_server.judges.definition import STOPPED_BY_BUDGET, JudgeDefinition, JudgeVerdict
from mcp_server.judges.llm_judge import NOT_GIVEN, MissingJudgeData, judge_values, run_llm_judge
from mcp_server.judges.trace_data import trace_expectations
from mcp_server.models.results import Usage
from mcp_server.settings import Settings
from store import Database
from store import assessments as assessment_store
from store.errors import InvalidArgument, JudgeNotFound, RootSpanNotFound, TraceNotFound
from store.ids import normalize_trace_id
from store.traces import trace_exists

if TYPE_CHECKING:
    from collections.abc import Callable

    from mcp.server.mcpserver import MCPServer

    from mcp_server.models import Sampler

    JudgeServer = MCPServer | Callable[[], MCPServer]
    """The MCP server an agent judge investigates through, as its caller gives it: the server itself,
    or a function that makes it on first use (so that a CLI command that runs only LLM and code
    judges never builds one). The caller makes one for a whole run: every judgment shares it."""


@dataclass(frozen=True)
class ResolvedJudge:
    """A judge ready to run: a definition (LLM or agent) or a code judge, and its built-in reader."""

    definition: JudgeDefinition | None = None
    code: CodeJudge | None = None
    builtin: BuiltinLLMJudge | None = None
    parameters: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        """'code', 'agent' or 'llm'."""
        if self.code is not None:
            return "code"
        assert self.definition is not None  # one of the two is always set by resolve_judge
        return "agent" if self.definition.is_agent_judge else "llm"

    @property
    def name(self) -> str:
        return self.code.name if self.code is not None else self.definition.name  # type: ignore[union-attr]

    @property
    def source_id(self) -> str:
        return self.code.source_id if self.code is not None else self.definition.source_id  # type: ignore[union-attr]


def resolve_judge(
    db: Database,
    judge: JudgeDefinition | CodeJudge | str,
    *,
    version: int | None = None,
    parameters: dict[str, Any] | None = None,
    allow_import: bool = True,
) -> ResolvedJudge:
    """The judge `judge` names. JudgeNotFound for an unknown name; InvalidArgument for parameters
    the judge does not take, or a version of a built-in judge."""
    if isinstance(judge, CodeJudge):
        return ResolvedJudge(code=judge)
    if isinstance(judge, JudgeDefinition):
        builtin = BUILTIN_LLM_JUDGES.get(judge.name)
        if builtin is not None and builtin.definition == judge:
            return ResolvedJudge(definition=judge, builtin=builtin, parameters=builtin.check_parameters(parameters))
        _no_parameters(judge.name, parameters)
        return ResolvedJudge(definition=judge)
    if not isinstance(judge, str) or not judge.strip():
        raise InvalidArgument(f"judge must be a judge name; got {judge!r}.")
    name = judge.strip()
    # With a version, only a stored judge is meant: registry.get_judge refuses a built-in's name.
    if version is None and name in BUILTIN_LLM_JUDGES:
        builtin = BUILTIN_LLM_JUDGES[name]
        return ResolvedJudge(definition=builtin.definition, builtin=builtin, parameters=builtin.check_parameters(parameters))
    if version is None and name in BUILTIN_AGENT_JUDGES:
        _no_parameters(name, parameters)
        return ResolvedJudge(definition=BUILTIN_AGENT_JUDGES[name])
    if version is None and name in BUILTIN_CODE_JUDGES:
        return ResolvedJudge(code=BUILTIN_CODE_JUDGES[name].judge(name, parameters))
    try:
        stored = registry.get_judge(db, name, version)
    except JudgeNotFound:
        if version is not None:
            raise
    else:
        _no_parameters(name, parameters)
        return ResolvedJudge(definition=stored)
    if allow_import and ":" in name:
        _no_parameters(name, parameters)
        return ResolvedJudge(code=code_judge(name))
    raise JudgeNotFound(name) from None


def _no_parameters(name: str, parameters: dict[str, Any] | None) -> None:
    if parameters:
        raise InvalidArgument(
            f"judge {name!r} takes no parameters (only built-in judges do: {', '.join(registry.builtin_names())})."
        )


async def run_judge(
    db: Database,
    judge: JudgeDefinition | CodeJudge | str,
    trace_id: str,
    *,
    settings: Settings,
    server: JudgeServer | None = None,
    version: int | None = None,
    parameters: dict[str, Any] | None = None,
    inputs: Any = NOT_GIVEN,
    outputs: Any = NOT_GIVEN,
    expectations: Any = NOT_GIVEN,
    record: bool = True,
    allow_import: bool = True,
    sampler: Sampler | None = None,
) -> JudgeVerdict:
    """Run `judge` on one trace and (unless record=False) log its verdict as feedback.

    inputs, outputs and expectations replace what would be read from the trace. `server` is the
    MCP server an agent judge investigates through (JudgeServer); only agent judges need one.
    `sampler` is the MCP client the judge was started from: its model answers through sampling
    when the judge's model is 'sampling', or when no model is configured and it supports sampling.
    Returns the verdict with `assessment_id` set once recorded.
    """
    trace_id = normalize_trace_id(trace_id)
    if not trace_exists(db, trace_id):
        raise TraceNotFound(trace_id)
    resolved = resolve_judge(db, judge, version=version, parameters=parameters, allow_import=allow_import)
    given = {"inputs": inputs, "outputs": outputs, "expectations": expectations}
    if resolved.code is not None:
        verdict = await run_code_judge(db, resolved.code, trace_id, **given)
    elif resolved.kind == "agent":
        verdict = await _run_agent(
            db, resolved.definition, trace_id, settings, server, expectations, sampler  # type: ignore[arg-type]
        )
    elif resolved.builtin is not None:
        verdict = await _run_builtin(db, resolved, trace_id, settings, given, sampler)
    else:
        verdict = await run_llm_judge(
            db, resolved.definition, trace_id,  # type: ignore[arg-type]
            settings=settings.models, sampler=sampler, **given,
        )
    if record and not stopped_by_budget(verdict):
        verdict = await anyio.to_thread.run_sync(record_verdict, db, verdict, resolved)
    return verdict


def judgment_spend(resolved: ResolvedJudge, verdict: JudgeVerdict) -> Usage:
    """What one judgment spent on model calls, from its verdict's metadata: nothing for a code
    judge, which calls no model (token_usage's figures there are the trace's, not spend)."""
    if resolved.code is not None:
        return Usage()
    meta = verdict.metadata
    return Usage(
        input_tokens=int(meta.get("input_tokens") or 0),
        output_tokens=int(meta.get("output_tokens") or 0),
        cost_usd=float(meta.get("cost_usd") or 0.0),
    )


def stopped_by_budget(verdict: JudgeVerdict) -> str | None:
    """The budget's message when the spending budget stopped the judgment part way, else None."""
    stop = verdict.metadata.get(STOPPED_BY_BUDGET)
    return stop if isinstance(stop, str) else None


async def _run_builtin(
    db: Database,
    resolved: ResolvedJudge,
    trace_id: str,
    settings: Settings,
    given: dict[str, Any],
    sampler: Sampler | None,
) -> JudgeVerdict:
    definition, builtin = resolved.definition, resolved.builtin
    assert definition is not None and builtin is not None  # a built-in LLM judge has both
    try:
        values = await anyio.to_thread.run_sync(
            functools.partial(builtin.values, db, trace_id, resolved.parameters)
        )
    except (MissingJudgeData, RootSpanNotFound) as exc:
        return JudgeVerdict(judge=definition.source_id, trace_id=trace_id, error=str(exc))
    values.update({k: v for k, v in given.items() if v is not NOT_GIVEN and k in definition.variables})
    return await judge_values(definition, trace_id, values, settings=settings.models, sampler=sampler)


async def _run_agent(
    db: Database,
    judge: JudgeDefinition,
    trace_id: str,
    settings: Settings,
    server: JudgeServer | None,
    expectations: Any,
    sampler: Sampler | None,
) -> JudgeVerdict:
    # Imported here: the agent judge pulls in the MCP client, which LLM and code judges never need.
    from mcp.server.mcpserver import MCPServer

    from mcp_server.judges.agent.judge import run_agent_judge

    if server is None:
        raise ValueError(f"the agent judge {judge.name!r} investigates through an MCP server: pass server=")
    if not isinstance(server, MCPServer):
        server = server()
    if expectations is NOT_GIVEN:
        expectations = await anyio.to_thread.run_sync(trace_expectations, db, trace_id) or None
    return await run_agent_judge(
        server, judge, trace_id, settings=settings.models, expectations=expectations, sampler=sampler
    )


def record_verdict(db: Database, verdict: JudgeVerdict, resolved: ResolvedJudge) -> JudgeVerdict:
    """Log the verdict as feedback named after the judge (source CODE or LLM_JUDGE) and return it
    with its assessment_id. A verdict the store refuses (a value too long, findings on unknown
    spans) is logged as an error saying why, so the judgment is still on record."""
    verdict, feedback = verdict_feedback(db, verdict, resolved)
    with db.transaction() as conn:
        assessment_store.insert_assessment(conn, feedback)
    return verdict


def verdict_feedback(
    db: Database, verdict: JudgeVerdict, resolved: ResolvedJudge
) -> tuple[JudgeVerdict, assessment_store.NewAssessment]:
    """The feedback that records `verdict`, checked and ready to insert in the caller's
    transaction, and the verdict as it will be stored (with its assessment_id; an error saying why
    where the store refuses the verdict itself)."""
    name = resolved.name
    trace_id = normalize_trace_id(verdict.trace_id)
    arguments: dict[str, Any] = {
        "kind": "feedback",
        "source_type": "CODE" if resolved.code is not None else "LLM_JUDGE",
        "source_id": verdict.judge,
        "rationale": _clip(verdict.rationale),
        "metadata": verdict.metadata or None,
    }
    try:
        feedback = assessment_store.new_assessment(
            trace_id, name, verdict.value, error=_clip(verdict.error), findings=verdict.findings or None, **arguments
        )
        if feedback.findings:
            assessment_store.check_assessment_spans(db, feedback)
    except InvalidArgument as exc:
        verdict = verdict.model_copy(
            update={"value": None, "findings": [], "error": _clip(f"the verdict could not be stored: {exc}")}
        )
        try:
            feedback = assessment_store.new_assessment(trace_id, name, None, error=verdict.error, **arguments)
        except InvalidArgument:
            # The metadata itself was refused (too large): keep the error, drop the metadata.
            feedback = assessment_store.new_assessment(
                trace_id, name, None, error=verdict.error, **{**arguments, "metadata": None}
            )
    return verdict.model_copy(update={"assessment_id": feedback.assessment_id}), feedback


def _clip(text: str | None, limit: int = 20_000) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 40] + f" [... {len(text) - limit + 40:,} characters cut]"
