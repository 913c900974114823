"""The LLM judge: a judge without {{ trace }} reads its data rendered into the prompt and answers
once, as {"rationale": ..., "value": ...} in a JSON schema.

The data is the trace's root span inputs and outputs and its expectations, unless the caller
gives them. The value is validated against the judge's output type; an answer that is not a
valid verdict (no JSON object, a value of the wrong type) is sent back once saying what was
wrong, and a second invalid answer becomes an error verdict: never a guessed value. Tokens,
cost and latency are summed over every call made.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import anyio.to_thread

from mcp_server.judges.definition import RATE_LIMITED, STOPPED_BY_BUDGET, JudgeDefinition, JudgeVerdict
from mcp_server.judges.rendering import DATA_FRAMING, PromptTooLarge, render_instructions
from mcp_server.judges.trace_data import root_inputs_outputs, trace_expectations
from mcp_server.models import (
    BudgetExhausted,
    Completion,
    ModelError,
    ModelRateLimited,
    ModelSettings,
    PersistentModelError,
    Sampler,
    StructuredOutputError,
    complete,
)
from mcp_server.models.sampling import TOKENS_ESTIMATED
from store import Database
from store.errors import InvalidArgument, RootSpanNotFound


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()
"""Default of the data arguments: read that part from the trace."""


class MissingJudgeData(Exception):
    """The trace lacks what the judge reads; the message says what to log. Becomes an error verdict."""


def verdict_schema(judge: JudgeDefinition) -> dict[str, Any]:
    """The JSON schema the model answers in: the rationale first, then the value."""
    return {
        "type": "object",
        "properties": {
            "rationale": {"type": "string", "description": "The evidence and reasoning that lead to the value."},
            "value": judge.output.json_schema(),
        },
        "required": ["rationale", "value"],
        "additionalProperties": False,
    }


def system_prompt(judge: JudgeDefinition, trace_id: str) -> str:
    return (
        "You are a careful evaluator of AI systems. You judge one recorded run of another AI "
        f"system (trace {trace_id}), as the instructions in the next message describe; you are "
        "not judging this conversation or yourself.\n\n"
        f"{DATA_FRAMING}\n\n"
        "Base your verdict only on the data shown and on the instructions. Answer with one JSON "
        'object: {"rationale": "<the evidence and reasoning, written before deciding>", '
        f'"value": <{judge.output.describe()}>}}.'
    )


def gather(
    db: Database,
    judge: JudgeDefinition,
    trace_id: str,
    *,
    inputs: Any = NOT_GIVEN,
    outputs: Any = NOT_GIVEN,
    expectations: Any = NOT_GIVEN,
) -> dict[str, Any]:
    """The values of the variables the judge uses, read from the trace where not given.
    Raises MissingJudgeData when the trace has no root span yet or no expectations to compare."""
    used = judge.variables
    values: dict[str, Any] = {}
    if ("inputs" in used and inputs is NOT_GIVEN) or ("outputs" in used and outputs is NOT_GIVEN):
        try:
            root_inputs, root_outputs = root_inputs_outputs(db, trace_id)
        except RootSpanNotFound as exc:
            raise MissingJudgeData(str(exc)) from None
        inputs = root_inputs if inputs is NOT_GIVEN else inputs
        outputs = root_outputs if outputs is NOT_GIVEN else outputs
    if "expectations" in used and expectations is NOT_GIVEN:
        expectations = trace_expectations(db, trace_id)
        if not expectations:
            raise MissingJudgeData(
                f"judge {judge.name!r} compares with {{{{ expectations }}}} and trace {trace_id!r} has none; "
                f"log the ground truth first, e.g. LogExpectation(trace_id={trace_id!r}, "
                "name='expected_response', value='...'), or pass expectations directly."
            )
    for name, value in (("inputs", inputs), ("outputs", outputs), ("expectations", expectations)):
        if name in used:
            values[name] = value
    return values


async def run_llm_judge(
    db: Database,
    judge: JudgeDefinition,
    trace_id: str,
    *,
    settings: ModelSettings,
    inputs: Any = NOT_GIVEN,
    outputs: Any = NOT_GIVEN,
    expectations: Any = NOT_GIVEN,
    sampler: Sampler | None = None,
) -> JudgeVerdict:
    """Judge one trace with an LLM judge, reading what is not given from the trace (in a worker
    thread). Model failures, invalid answers and missing data come back as an error verdict,
    except a PersistentModelError before any answer (no model, a model not allowed, an exhausted
    budget ...), which is raised; an agent judge (which needs the MCP tools) is refused with
    InvalidArgument. `sampler`: the MCP client to ask through sampling (see mcp_server.models.sampling)."""
    if judge.is_agent_judge:
        raise InvalidArgument(f"judge {judge.name!r} uses {{{{ trace }}}}: run it as an agent judge.")
    try:
        values = await anyio.to_thread.run_sync(
            functools.partial(
                gather, db, judge, trace_id, inputs=inputs, outputs=outputs, expectations=expectations
            )
        )
    except MissingJudgeData as exc:
        return JudgeVerdict(judge=judge.source_id, trace_id=trace_id, error=str(exc))
    return await judge_values(judge, trace_id, values, settings=settings, sampler=sampler)


async def judge_values(
    judge: JudgeDefinition,
    trace_id: str,
    values: dict[str, Any],
    *,
    settings: ModelSettings,
    sampler: Sampler | None = None,
) -> JudgeVerdict:
    """Ask the model for a verdict on `values` (one per template variable of the judge)."""
    try:
        prompt, notes = render_instructions(judge.instructions, values)
    except PromptTooLarge as exc:
        return JudgeVerdict(judge=judge.source_id, trace_id=trace_id, error=str(exc))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt(judge, trace_id)},
        {"role": "user", "content": prompt},
    ]
    calls: list[Completion] = []
    started = time.perf_counter()
    problem = None
    for attempt in (1, 2):
        try:
            completion = await complete(
                messages,
                model=judge.model,
                settings=settings,
                response_schema=verdict_schema(judge),
                schema_name="judge_verdict",
                sampler=sampler,
            )
        except StructuredOutputError as exc:
            calls.append(exc.completion)
            completion, problem = exc.completion, "it did not contain a JSON object"
        except ModelError as exc:
            if isinstance(exc, PersistentModelError) and not calls:
                raise  # nothing spent, and every judgment would meet it: the caller stops
            return _verdict(
                judge, trace_id, calls, started, notes, error=f"the judge model failed: {exc}",
                rate_limited=isinstance(exc, ModelRateLimited),
                budget_stop=str(exc) if isinstance(exc, BudgetExhausted) else None,
            )
        else:
            calls.append(completion)
            value, rationale, problem = _read(judge, completion.parsed)
            if problem is None:
                return _verdict(judge, trace_id, calls, started, notes, value=value, rationale=rationale)
        if attempt == 1:
            messages = [
                *messages,
                {"role": "assistant", "content": completion.text},
                {
                    "role": "user",
                    "content": f"That answer could not be used: {problem}. Answer again with only one JSON "
                    f'object: {{"rationale": "<string>", "value": <{judge.output.describe()}>}}.',
                },
            ]
    return _verdict(
        judge,
        trace_id,
        calls,
        started,
        notes,
        error=f"the judge model gave no valid verdict in 2 answers; the last one: {problem}.",
        last_answer=calls[-1].text[:2_000] if calls else None,
    )


def _read(judge: JudgeDefinition, parsed: dict[str, Any] | None) -> tuple[Any, str | None, str | None]:
    """(value, rationale, None) for a valid answer, or (None, None, what was wrong)."""
    if not isinstance(parsed, dict) or "value" not in parsed:
        return None, None, 'the JSON object has no "value" field'
    try:
        value = judge.output.validate_value(parsed["value"])
    except InvalidArgument as exc:
        return None, None, f'"value" is invalid: {exc}'
    rationale = parsed.get("rationale")
    return value, rationale if isinstance(rationale, str) and rationale.strip() else None, None


def _verdict(
    judge: JudgeDefinition,
    trace_id: str,
    calls: list[Completion],
    started: float,
    notes: list[str],
    *,
    value: Any = None,
    rationale: str | None = None,
    error: str | None = None,
    last_answer: str | None = None,
    rate_limited: bool = False,
    budget_stop: str | None = None,
) -> JudgeVerdict:
    metadata: dict[str, Any] = {
        "model": calls[-1].model if calls else judge.model,
        "model_calls": len(calls),
        "input_tokens": sum(c.input_tokens for c in calls),
        "output_tokens": sum(c.output_tokens for c in calls),
        "cost_usd": sum(c.cost_usd for c in calls),
        "latency_s": time.perf_counter() - started,
    }
    if calls and calls[-1].structured_mode:
        metadata["structured_mode"] = calls[-1].structured_mode
    if any(c.tokens_estimated for c in calls):
        metadata[TOKENS_ESTIMATED] = True
        notes = [*notes, *dict.fromkeys(c.cost_note for c in calls if c.cost_note)]
    if notes:
        metadata["warnings"] = notes
    if last_answer is not None:
        metadata["last_answer"] = last_answer
    if rate_limited:
        metadata[RATE_LIMITED] = True
    if budget_stop is not None:
        metadata[STOPPED_BY_BUDGET] = budget_stop
    return JudgeVerdict(
        judge=judge.source_id, trace_id=trace_id, value=value, rationale=rationale, error=error, metadata=metadata
    )
