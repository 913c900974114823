"""The built-in Agent-as-a-Judge: a model investigates one trace with the read-only MCP tools.

The judge gets no private shortcut to the data: it connects to the same MCP server external
clients use (in process) and is offered an explicit list of read-only tools that inspect the one
trace it judges (JUDGE_TOOLS), each also annotated readOnlyHint=True, so nothing it does can write
and nothing shows it another judge's verdict or the human labels it is scored against: its
verdict is its own. GetTraceInfo answers it without the trace's assessment summary. The loop is
bounded by AgentLimits (model calls, total tokens, cost, wall clock, context size), and under
Evaluate by the run's budget (each call reserves from it: mcp_server.models.budget); every limit
and what it cost are reported in the verdict's metadata, with tokens and cost summed over every
model call.

How the verdict comes back: the model calls a `submit_verdict` tool whose parameters are the
verdict's schema. With tool-calling models that is the natural way to finish (the model decides to
stop in the same turn as it would call another tool, and no provider has to combine
response_format with tools, which many local servers cannot). When the loop must stop early (a
limit) or the model answers in prose, one last request without tools asks for the same object
through structured output (`complete(..., response_schema=...)`).

A model without tool calling (an MCP client whose sampling does not support tool use) gets the
same loop with the tools written into the system prompt and one JSON action per answer
(mcp_server.judges.agent.actions.TextActions); a malformed action goes back as an error and uses
a turn. Sampled calls report no usage: their tokens are estimates (metadata tokens_estimated).

The trace is data, not instructions: each tool result goes back wrapped in
<untrusted_tool_result> markers (any marker inside the content is defused) with a reminder, and
the system prompt says what the markers mean and that this conversation is not what is judged.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import anyio
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import TextContent
from pydantic import BaseModel, Field

from mcp_server.judges.agent import prompt
from mcp_server.judges.agent.actions import NativeTools, TextActions, ToolProtocol
from mcp_server.judges.definition import RATE_LIMITED, STOPPED_BY_BUDGET, JudgeDefinition, JudgeVerdict
from mcp_server.judges.rendering import PromptTooLarge, check_prompt_size, render_value
from mcp_server.models import (
    SAMPLING,
    BudgetExhausted,
    Completion,
    ContextLengthExceeded,
    ModelError,
    ModelRateLimited,
    ModelSettings,
    PersistentModelError,
    Sampler,
    StructuredOutputError,
    ToolCall,
    complete,
    resolve_model,
    sampling_route,
)
from mcp_server.models.litellm_import import load_litellm
from mcp_server.models.sampling import TOKENS_ESTIMATED
from mcp_server.models.sampling_rounds import SamplingInputRequired
from mcp_server.models.structured import extract_json_object
from mcp_server.models.token_estimate import estimate_tokens, tokens_in_chars
from mcp_server.tooling.paging import dumps
from store.assessments import Finding
from store.errors import InvalidArgument

JUDGE_TOOLS = ("GetTraceInfo", "ListSpans", "GetSpan", "GetRootSpan", "SearchTraceRegex", "GetSpanTimingReport")
"""The tools the judge is offered. Every other read-only tool shows verdicts or labels, which would
bias an independent judgment (and let one judge copy another's mistakes): ListAssessments,
GetAssessment, GetEvaluationRun, JudgeAgreement, the labeling tools; and SearchTraces and
CountTraces, whose filters read feedback.*, expectation.* and assessment.*, so they answer yes or
no about any verdict (and they look across traces, while a judgment is about one)."""
HIDDEN_FIELDS = {"GetTraceInfo": "assessments"}
"""The part of a tool's answer the judge is not shown: GetTraceInfo's names and counts of the
feedback and expectations logged on the trace."""


DEFAULT_CONTEXT_TOKENS = 100_000
CONTEXT_WINDOW_SHARE = 0.8  # of the model's input window; the rest is left for its answer
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_MARKER = re.compile(r"<(/?)\s*(untrusted_tool_result)", re.IGNORECASE)


class AgentLimits(BaseModel):
    """How far one judgment may go. Every field is reported in the verdict's metadata."""

    model_config = {"frozen": True}

    max_iterations: int = Field(30, ge=1, le=1_000, description="Model calls that may use tools.")
    max_total_tokens: int | None = Field(
        None, ge=1, description="Input plus output tokens over every model call; None: no limit."
    )
    max_cost_usd: float | None = Field(None, gt=0, description="USD over every model call; None: no limit.")
    timeout_s: float | None = Field(600.0, gt=0, description="Wall-clock seconds for the whole judgment.")
    context_tokens: int | None = Field(
        None,
        ge=1_000,
        description="Conversation size beyond which the oldest tool exchanges are dropped; None: "
        f"{CONTEXT_WINDOW_SHARE:.0%} of the model's input window as litellm knows it, else "
        f"{DEFAULT_CONTEXT_TOKENS:,}.",
    )


class _Stop(Exception):
    """Ends the judgment with an error verdict (a limit with no budget left, a model failure)."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class _Conversation:
    """System prompt and task message (never dropped), then tool exchanges, oldest first.

    An exchange is an assistant message and the tool results answering its calls: dropped as one
    unit, since a tool result without its call (or a call without results) is an invalid request.
    """

    def __init__(self, head: list[dict[str, Any]]) -> None:
        self.head = head
        self.exchanges: list[list[dict[str, Any]]] = []
        self.dropped = 0

    def messages(self) -> list[dict[str, Any]]:
        out = list(self.head)
        if self.dropped:
            out.append({"role": "user", "content": prompt.DROPPED_NOTE.format(count=self.dropped)})
        for exchange in self.exchanges:
            out.extend(exchange)
        return out

    def drop_oldest(self) -> bool:
        """Drop the oldest exchange; the latest one stays (it answers the model's last request)."""
        if len(self.exchanges) <= 1:
            return False
        self.exchanges.pop(0)
        self.dropped += 1
        return True


def verdict_schema(judge: JudgeDefinition) -> dict[str, Any]:
    """The JSON schema of the final answer: value, rationale and span-anchored findings."""
    finding = {
        "type": "object",
        "properties": {
            "span_id": {"type": "string", "description": "The span (16 hex characters) where the problem shows."},
            "category": {"type": "string", "description": "A TRAIL category, e.g. 'Tool Selection Errors'."},
            "evidence": {"type": "string", "description": "A quote or short description of what the span shows."},
            "impact": {"type": "string", "description": "HIGH, MEDIUM or LOW, and what it caused."},
        },
        "required": ["span_id", "category", "evidence", "impact"],
    }
    return {
        "type": "object",
        "properties": {
            "value": {**judge.output.json_schema(), "description": f"The verdict: {judge.output.describe()}."},
            "rationale": {"type": "string", "description": "Why, citing the spans and quotes that show it."},
            "findings": {"type": "array", "items": finding},
        },
        "required": ["value", "rationale", "findings"],
    }


async def run_agent_judge(
    server: MCPServer,
    judge: JudgeDefinition,
    trace_id: str,
    *,
    settings: ModelSettings,
    limits: AgentLimits | None = None,
    expectations: Any = None,
    sampler: Sampler | None = None,
) -> JudgeVerdict:
    """Run an agent judge (instructions with {{ trace }}) on one trace of `server`'s store.

    The model investigates through the server's read-only tools and answers through
    `submit_verdict`. `sampler` is the MCP client the judge was started from: with model
    'sampling' (or no model configured) the model calls go to it, never to the judge's own
    in-process session. Failures (a model error, a limit with no budget left for a final answer,
    an invalid verdict after one retry) come back as a verdict with `error` set, never as a
    made-up value. A PersistentModelError before any model answer (no model, a model not
    allowed, an exhausted budget ...) is raised, so a run stops at it; otherwise only bugs raise.
    """
    run = _AgentRun(server, judge, trace_id, settings, limits or AgentLimits(), expectations, sampler)
    return await run.run()


class _AgentRun:
    def __init__(
        self,
        server: MCPServer,
        judge: JudgeDefinition,
        trace_id: str,
        settings: ModelSettings,
        limits: AgentLimits,
        expectations: Any,
        sampler: Sampler | None = None,
    ) -> None:
        self.server = server
        self.judge = judge
        self.trace_id = trace_id
        self.settings = settings
        self.limits = limits
        self.expectations = expectations
        self.sampler = sampler
        self.client: Client | None = None
        self.tool_names: set[str] = set()
        self.tool_specs: list[dict[str, Any]] = []
        self.conversation = _Conversation([])
        self.iterations = 0  # model answers received, every call counted
        self.loop_calls = 0  # of which calls with tools (what max_iterations bounds)
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0
        self.tool_calls: Counter[str] = Counter()
        self.actions: ToolProtocol = NativeTools()
        self.malformed_actions = 0
        self.warnings: list[str] = []
        self.context_errors = 0
        self.invalid_verdicts = 0
        self.limit_hit: str | None = None
        self.rate_limited = False
        self.budget_stop: str | None = None  # the budget's refusal, when it ended the judgment
        self.model = judge.model or settings.judge_model or ""
        self.context_tokens = limits.context_tokens or DEFAULT_CONTEXT_TOKENS
        self.task_message = ""
        self._last: Completion | None = None
        self._chars_at_last = 0
        self._dropped_at_last = 0
        self._started = 0.0

    # the run

    async def run(self) -> JudgeVerdict:
        self._started = time.perf_counter()
        verdict: JudgeVerdict | None = None
        try:
            client = sampling_route(self.judge.model, self.settings, self.sampler)
            if client is not None:
                self.model = SAMPLING
                if not client.supports_tools:
                    self.actions = TextActions()
            else:
                self.model = resolve_model(self.judge.model, self.settings).name.litellm_name
        except PersistentModelError:
            raise  # nothing spent, and every judgment would meet it: the caller stops
        except ModelError as exc:
            return self._error(str(exc))
        try:
            self.task_message = self._task_message()
        except PromptTooLarge as exc:  # long instructions stored before the cap, and the expectations
            return self._error(str(exc))
        self.context_tokens = self.limits.context_tokens or (
            # The client's model and its window are unknown here (and litellm need not be loaded).
            DEFAULT_CONTEXT_TOKENS if self.model == SAMPLING else self._model_context_tokens()
        )
        stopped: _Stop | None = None
        raised: SamplingInputRequired | PersistentModelError | None = None
        with anyio.move_on_after(self.limits.timeout_s) as scope:
            async with Client(self.server) as client:
                self.client = client
                try:
                    verdict = await self._judge()
                except _Stop as stop:  # caught here: the client's task group would wrap it in a group
                    stopped = stop
                # The next round's question (protocol 2026-07-28); or an error met before any answer.
                except (SamplingInputRequired, PersistentModelError) as exc:
                    raised = exc
                finally:
                    self.client = None
        if raised is not None:
            raise raised
        if stopped is not None:
            self.limit_hit = stopped.limit or self.limit_hit
            return self._error(str(stopped))
        if scope.cancelled_caught or verdict is None:
            self.limit_hit = "timeout_s"
            return self._error(
                f"the judgment hit timeout_s={self.limits.timeout_s:g} s of wall-clock time after "
                f"{self.iterations} model calls, with no verdict; raise timeout_s or use a faster model."
            )
        return verdict

    async def _judge(self) -> JudgeVerdict:
        info = await self._client().call_tool("GetTraceInfo", {"trace_id": self.trace_id})
        if info.is_error:
            raise _Stop(f"cannot judge trace {self.trace_id!r}: {_text(info)}")
        await self._discover_tools()
        self.conversation = _Conversation([
            {"role": "system", "content": self._system_prompt()},
            {"role": "user", "content": self.task_message},
        ])
        while True:
            reason = self._limit_before_loop_call()
            if reason is not None:
                break
            completion = await self._call(tools=self.actions.offered(self.tool_specs))
            self.loop_calls += 1
            turn = self.actions.read(completion)
            if turn.problem is not None:  # a text action that is no action: say so, at a turn's cost
                self.malformed_actions += 1
                self.conversation.exchanges.append([
                    self.actions.assistant_message(completion),
                    {"role": "user", "content": prompt.MALFORMED_ACTION.format(
                        problem=turn.problem, verdict_tool=prompt.VERDICT_TOOL)},
                ])
                continue
            if not turn.calls:
                reason = prompt.TEXT_ANSWER_REASON.format(verdict_tool=prompt.VERDICT_TOOL)
                submitted = _json_verdict(completion.text)
                if submitted is not None and self._problem(submitted) is None:
                    return await self._verdict(submitted)
                self.conversation.exchanges.append([completion.assistant_message()])
                break
            verdict = await self._answer_tool_calls(completion, turn.calls)
            if verdict is not None:
                return verdict
        return await self._final_answer(reason)

    async def _answer_tool_calls(self, completion: Completion, calls: list[ToolCall]) -> JudgeVerdict | None:
        exchange = [self.actions.assistant_message(completion)]
        self.conversation.exchanges.append(exchange)
        verdict: JudgeVerdict | None = None
        for call in calls:
            if call.name == prompt.VERDICT_TOOL and call.arguments_error is None:
                if verdict is not None:
                    content = "A verdict was already received in this turn; this one is ignored."
                elif (problem := self._problem(call.arguments)) is not None:
                    self._count_invalid(problem)
                    content = prompt.REJECTED_VERDICT.format(
                        problem=problem, value_type=self.judge.output.describe(),
                        verdict_tool=prompt.VERDICT_TOOL,
                    )
                else:
                    verdict = await self._verdict(call.arguments)
                    content = "Verdict received."
            else:
                content = await self._run_tool(call.name, call.arguments, call.arguments_error)
            exchange.append(self.actions.result_message(call, content))
        return verdict

    async def _final_answer(self, reason: str) -> JudgeVerdict:
        """One request without tools asking for the verdict now (retried once if invalid)."""
        if not self._final_allowed():
            raise _Stop(self._limit_message(reason), self.limit_hit)
        schema = verdict_schema(self.judge)
        note = prompt.FINAL_REQUEST.format(
            reason=reason, verdict_tool=prompt.VERDICT_TOOL, value_type=self.judge.output.describe()
        )
        extra: list[dict[str, Any]] = [{"role": "user", "content": note}]
        while True:
            try:
                completion = await self._call(tools=None, extra=extra, response_schema=schema)
                answer = completion.parsed or {}
                problem = self._problem(answer)
            except StructuredOutputError as exc:
                completion, answer = exc.completion, {}
                problem = "the answer holds no complete JSON object"
            if problem is None:
                return await self._verdict(answer)
            self._count_invalid(problem)
            if not self._final_allowed():
                raise _Stop(self._limit_message(f"the verdict was invalid ({problem})"), self.limit_hit)
            retry = prompt.REJECTED_VERDICT_FINAL.format(
                problem=problem, value_type=self.judge.output.describe()
            )
            extra = [*extra, completion.assistant_message(), {"role": "user", "content": retry}]

    # model calls

    async def _call(
        self,
        *,
        tools: list[dict[str, Any]] | None,
        extra: list[dict[str, Any]] | None = None,
        response_schema: dict[str, Any] | None = None,
    ) -> Completion:
        """One model call; on a context-length error, drop the oldest exchange and try again."""
        while True:
            self._fit_context(tools)
            messages = [*self.conversation.messages(), *(extra or [])]
            try:
                completion = await complete(
                    messages,
                    model=self.judge.model,
                    settings=self.settings,
                    tools=tools or None,
                    response_schema=response_schema,
                    schema_name="verdict",
                    sampler=self.sampler,
                )
            except StructuredOutputError as exc:
                self._count(exc.completion, messages)
                raise
            except ContextLengthExceeded as exc:
                self.context_errors += 1
                if not self.conversation.drop_oldest():
                    raise _Stop(
                        f"the conversation does not fit model {self.model!r}'s context window even "
                        f"with only the latest tool exchange ({exc}); lower max_content_length in "
                        "the tools or use a model with a larger window."
                    ) from exc
                self.warnings.append(
                    "the model reported its context window exceeded; the oldest tool exchange was dropped"
                )
                continue
            except ModelError as exc:
                if isinstance(exc, PersistentModelError) and self.iterations == 0:
                    raise  # nothing spent, and every judgment would meet it: the caller stops
                self.rate_limited = isinstance(exc, ModelRateLimited)
                if isinstance(exc, BudgetExhausted):
                    self.budget_stop = str(exc)
                    raise _Stop(f"the judgment stopped before its verdict: {exc}.", "run_budget") from exc
                raise _Stop(f"the judge's model call failed: {exc}") from exc
            self._count(completion, messages)
            return completion

    def _count(self, completion: Completion, messages: list[dict[str, Any]]) -> None:
        self.iterations += 1
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens
        self.cost_usd += completion.cost_usd
        if completion.cost_note and completion.cost_note not in self.warnings:
            self.warnings.append(completion.cost_note)
        self._last = completion
        self._chars_at_last = len(json.dumps(messages, ensure_ascii=False))
        self._dropped_at_last = self.conversation.dropped

    def _fit_context(self, tools: list[dict[str, Any]] | None) -> None:
        while estimate_tokens([self.conversation.messages(), tools or []]) > self.context_tokens:
            if not self.conversation.drop_oldest():
                return  # nothing left to drop: let the model say whether it fits

    def _model_context_tokens(self) -> int:
        try:
            info = load_litellm().get_model_info(model=self.model)
        except Exception:  # noqa: BLE001 - litellm raises plain Exception for a model missing from its map
            return DEFAULT_CONTEXT_TOKENS
        window = info.get("max_input_tokens") or info.get("max_tokens")
        return int(window * CONTEXT_WINDOW_SHARE) if window else DEFAULT_CONTEXT_TOKENS

    # limits

    def _next_input_tokens(self) -> int:
        """The next request's input: the last call's reported input plus what was added since."""
        chars = len(json.dumps(self.conversation.messages(), ensure_ascii=False))
        if self._last is None or self.conversation.dropped != self._dropped_at_last:
            return estimate_tokens([self.conversation.messages(), self.tool_specs])
        added = tokens_in_chars(chars - self._chars_at_last)
        return self._last.input_tokens + added + self._last.output_tokens

    def _next_cost(self, tokens: int) -> float:
        spent = self.input_tokens + self.output_tokens
        return tokens * self.cost_usd / spent if spent else 0.0

    def _limit_before_loop_call(self) -> str | None:
        """Why the loop must stop before its next call (leaving room for a final answer), or None."""
        limits = self.limits
        if self.loop_calls >= limits.max_iterations:
            self.limit_hit = "max_iterations"
            return f"max_iterations={limits.max_iterations} model calls were made"
        tokens = self._next_input_tokens()
        if limits.max_total_tokens is not None and (
            self._spent_tokens() + 2 * tokens > limits.max_total_tokens
        ):
            self.limit_hit = "max_total_tokens"
            return (
                f"max_total_tokens={limits.max_total_tokens:,} leaves no room for another step and "
                f"a verdict ({self._spent_tokens():,} tokens spent, about {tokens:,} per call)"
            )
        if limits.max_cost_usd is not None and self.cost_usd + 2 * self._next_cost(tokens) > limits.max_cost_usd:
            self.limit_hit = "max_cost_usd"
            return (
                f"max_cost_usd={limits.max_cost_usd:g} leaves no room for another step and a verdict "
                f"(${self.cost_usd:.4f} spent)"
            )
        return None

    def _final_allowed(self) -> bool:
        tokens = self._next_input_tokens()
        if self.limits.max_total_tokens is not None and self._spent_tokens() + tokens > self.limits.max_total_tokens:
            self.limit_hit = self.limit_hit or "max_total_tokens"
            return False
        if self.limits.max_cost_usd is not None and self.cost_usd + self._next_cost(tokens) > self.limits.max_cost_usd:
            self.limit_hit = self.limit_hit or "max_cost_usd"
            return False
        return True

    def _limit_message(self, reason: str) -> str:
        return (
            f"no verdict: the judgment stopped because {reason}, and the budget left "
            f"({self._spent_tokens():,} tokens and ${self.cost_usd:.4f} spent) does not allow a "
            f"final answer; raise {self.limit_hit or 'the limit'} or use a cheaper model."
        )

    def _spent_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    # tools

    def _client(self) -> Client:
        if self.client is None:
            raise RuntimeError("the MCP client is used outside its session")
        return self.client

    async def _discover_tools(self) -> None:
        cursor: str | None = None
        while True:
            page = await self._client().list_tools(cursor=cursor)
            for tool in page.tools:
                if tool.name not in JUDGE_TOOLS:
                    continue
                if tool.annotations is None or tool.annotations.read_only_hint is not True:
                    continue  # the judge never gets a tool that may write
                self.tool_names.add(tool.name)
                self.tool_specs.append({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description or "",
                        "parameters": tool.input_schema or {"type": "object", "properties": {}},
                    },
                })
            cursor = page.next_cursor
            if cursor is None:
                break
        self.tool_specs.append({
            "type": "function",
            "function": {
                "name": prompt.VERDICT_TOOL,
                "description": "Give your verdict on the trace and end the investigation. Call it once.",
                "parameters": verdict_schema(self.judge),
            },
        })

    async def _run_tool(self, name: str, arguments: dict[str, Any], arguments_error: str | None) -> str:
        """A tool's answer as the model will read it: framed as untrusted, or as an error."""
        self.tool_calls[name] += 1
        if arguments_error is not None:
            return _tool_error(name, f"the call was not run: {arguments_error}")
        if name not in self.tool_names:
            known = ", ".join(sorted(self.tool_names | {prompt.VERDICT_TOOL}))
            return _tool_error(name, f"there is no tool named {name!r}; the tools are: {known}.")
        result = await self._client().call_tool(name, arguments)
        text = _text(result)
        hidden = HIDDEN_FIELDS.get(name)
        if hidden is not None and not result.is_error and isinstance(result.structured_content, dict):
            text = dumps(_without(result.structured_content, hidden))
        return _untrusted(name, text, error=bool(result.is_error))

    # the verdict

    def _problem(self, answer: Mapping[str, Any]) -> str | None:
        """Why `answer` is not a valid verdict, or None."""
        if "value" not in answer:
            return "it has no 'value'"
        try:
            self.judge.output.validate_value(answer["value"])
        except InvalidArgument as exc:
            return f"'value' is invalid: {exc}"
        rationale = answer.get("rationale")
        if not isinstance(rationale, str) or not rationale.strip():
            return "'rationale' must be a non-empty string"
        return None

    def _count_invalid(self, problem: str) -> None:
        """One invalid verdict is answered with its error; the second ends the judgment."""
        self.invalid_verdicts += 1
        if self.invalid_verdicts > 1:
            raise _Stop(
                f"the model gave no valid verdict after one retry ({problem}); the value must be "
                f"{self.judge.output.describe()}. Run the judge again, or use a stronger model."
            )

    async def _verdict(self, answer: Mapping[str, Any]) -> JudgeVerdict:
        value = self.judge.output.validate_value(answer["value"])
        findings = await self._checked_findings(answer.get("findings"))
        return JudgeVerdict(
            judge=self.judge.source_id,
            trace_id=self.trace_id,
            value=value,
            rationale=str(answer["rationale"]),
            findings=findings,
            metadata=self._metadata(),
        )

    async def _checked_findings(self, raw: Any) -> list[Finding]:
        """The findings whose span is a span of this trace (asked through GetSpan); others dropped."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.warnings.append(f"findings were dropped: expected a list, got {type(raw).__name__}")
            return []
        findings: list[Finding] = []
        known: dict[str, str | None] = {}
        for number, item in enumerate(raw, 1):
            if not isinstance(item, Mapping) or not isinstance(item.get("span_id"), str):
                self.warnings.append(f"finding {number} was dropped: it has no span_id string")
                continue
            span_id = item["span_id"].strip()
            if span_id not in known:
                known[span_id] = await self._span_of_trace(span_id)
            canonical = known[span_id]
            if canonical is None:
                self.warnings.append(
                    f"finding {number} was dropped: span_id {span_id!r} is not a span of trace {self.trace_id}"
                )
                continue
            impact = item.get("impact")
            findings.append(Finding(
                span_id=canonical,
                category=str(item.get("category") or "uncategorized"),
                evidence=str(item.get("evidence") or ""),
                impact=None if impact is None else str(impact),
            ))
        return findings

    async def _span_of_trace(self, span_id: str) -> str | None:
        result = await self._client().call_tool(
            "GetSpan",
            {"trace_id": self.trace_id, "span_id": span_id, "attributes_to_fetch": [], "max_content_length": 1_000},
        )
        if result.is_error or not isinstance(result.structured_content, dict):
            return None
        found = result.structured_content.get("span_id")
        return found if isinstance(found, str) else None

    def _error(self, message: str) -> JudgeVerdict:
        return JudgeVerdict(
            judge=self.judge.source_id, trace_id=self.trace_id, error=message, metadata=self._metadata()
        )

    def _metadata(self) -> dict[str, Any]:
        return {
            "iterations": self.iterations,
            "tool_calls": sum(self.tool_calls.values()),
            "tool_calls_by_tool": dict(self.tool_calls),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "latency_s": time.perf_counter() - self._started if self._started else 0.0,
            "model": self.model,
            "limits": {**self.limits.model_dump(), "context_tokens": self.context_tokens},
            "limit_hit": self.limit_hit,
            "dropped_exchanges": self.conversation.dropped,
            "context_length_errors": self.context_errors,
            "tool_protocol": self.actions.name,
            "malformed_actions": self.malformed_actions,
            # The MCP client reports no usage: the token counts are estimates, and its model's cost
            # is the client's, never this server's.
            TOKENS_ESTIMATED: self.model == SAMPLING,
            "warnings": list(self.warnings),
            **({RATE_LIMITED: True} if self.rate_limited else {}),
            **({STOPPED_BY_BUDGET: self.budget_stop} if self.budget_stop is not None else {}),
        }

    # prompt assembly

    def _system_prompt(self) -> str:
        return prompt.SYSTEM_PROMPT.format(
            tag=prompt.UNTRUSTED_TAG,
            verdict_tool=prompt.VERDICT_TOOL,
            taxonomy=prompt.trail_taxonomy_text(),
            max_iterations=self.limits.max_iterations,
        ) + self.actions.system_note(self.tool_specs)

    def _task_message(self) -> str:
        expectations = ""
        if self.expectations is not None:
            # Logged on the trace or copied from a dataset record: framed and capped like any trace data.
            block, note = render_value("expectations", self.expectations)
            expectations = prompt.EXPECTATIONS_BLOCK.format(block=block)
            if note is not None:
                self.warnings.append(note)
        added = {"expectations": len(expectations)} if expectations else None
        check_prompt_size(self.judge.instructions, prompt.REFERENCE_CHARS, added=added)

        def reference(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "trace":
                return prompt.TRACE_REFERENCE.format(trace_id=self.trace_id)
            return prompt.VARIABLE_REFERENCES.get(name, match.group(0))

        return prompt.TASK_MESSAGE.format(
            trace_id=self.trace_id,
            instructions=_VARIABLE.sub(reference, self.judge.instructions),
            value_type=self.judge.output.describe(),
            expectations=expectations,
            verdict_tool=prompt.VERDICT_TOOL,
        )


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def _without(answer: dict[str, Any], field: str) -> dict[str, Any]:
    """`answer` without `field`, nor the notices that speak of it (e.g. how many were shown)."""
    shown = {k: v for k, v in answer.items() if k != field}
    if isinstance(shown.get("notices"), list):
        word = field.rstrip("s")
        shown["notices"] = [n for n in shown["notices"] if word not in str(n)]
    return shown


def _untrusted(tool: str, content: str, *, error: bool) -> str:
    """Tool output framed as untrusted; markers inside it are defused so it cannot close the frame."""
    defused = _MARKER.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}", content)
    status = ' status="error"' if error else ""
    return (
        f'<{prompt.UNTRUSTED_TAG} tool="{tool}"{status}>\n{defused}\n</{prompt.UNTRUSTED_TAG}>\n'
        f"{prompt.UNTRUSTED_REMINDER}"
    )


def _tool_error(tool: str, message: str) -> str:
    """An error from the harness itself (not trace content): the call was not run."""
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", tool)[:100]
    return f'<tool_error tool="{safe}">\n{message}\n</tool_error>'


def _json_verdict(text: str) -> dict[str, Any] | None:
    """A verdict object the model wrote as text instead of calling submit_verdict, if any."""
    try:
        value = extract_json_object(text)
    except ValueError:
        return None
    return value if "value" in value else None
