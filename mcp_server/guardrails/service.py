"""Applying guardrails to a call's messages at one stage, and their decisions as feedback.

apply_guardrails runs the guardrails configured for the stage in order, each on the messages as
the ones before it left them (a redaction is what the next guardrail, the provider and the
stored trace see), and stops at the first that blocks. Each gives a GuardrailDecision: pass,
flag, redact, block, or error (a judge that could not judge, with on_error 'open'). A decision's
detail and its feedback name entity types, signal families, counts and places, never the text
that was found: the feedback is stored, shown and searched, and would otherwise leak what the
guardrail caught.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import anyio.to_thread

from mcp_server.guardrails import injection, pii
from mcp_server.guardrails.config import GuardrailSpec
from mcp_server.guardrails.judge_check import JudgeContext, check_with_judge
from mcp_server.guardrails.message_text import TextField, redact_arguments, redact_text, text_fields, with_replaced

__all__ = ["Finding", "GuardrailDecision", "GuardrailOutcome", "JudgeContext", "apply_guardrails", "decision_feedback"]

Stage = Literal["input", "output"]
Outcome = Literal["pass", "flag", "redact", "block", "error"]


@dataclass(frozen=True)
class Finding:
    """What a guardrail found: an entity type or signal family, its span in one text field of one
    message (part: the field's path, e.g. 'content' or 'tool_calls[0].function.arguments'), and
    the detector's score. Never the text itself."""

    type: str
    start: int
    end: int
    score: float
    message_index: int
    part: str


@dataclass(frozen=True)
class GuardrailDecision:
    """One guardrail's decision on one stage of one call."""

    guardrail: str
    kind: str
    stage: str
    action: str
    outcome: Outcome
    findings: tuple[Finding, ...]
    detail: str
    error: str | None
    elapsed_ms: float
    score: float | None = None  # injection: the highest score of a screened text
    judge_assessment_id: str | None = None  # judge: the verdict the judge logged on the trace


@dataclass(frozen=True)
class GuardrailOutcome:
    """The messages as the guardrails left them (a copy; redactions applied), every decision, and
    the first blocking one (None when the call may go on)."""

    messages: list[dict[str, Any]]
    decisions: list[GuardrailDecision] = field(default_factory=list)
    blocked: GuardrailDecision | None = None


async def apply_guardrails(
    specs: Sequence[GuardrailSpec],
    stage: Stage,
    messages: list[dict[str, Any]],
    *,
    judging: JudgeContext | None = None,
) -> GuardrailOutcome:
    """Run the guardrails among `specs` that apply at `stage` on `messages` (OpenAI chat messages;
    for 'output', the answer's assistant message(s)), in order, stopping at the first block.
    `judging` is required when a judge guardrail applies. `messages` is never mutated."""
    if stage not in ("input", "output"):
        raise ValueError(f"stage must be 'input' or 'output'; got {stage!r}")
    current = messages
    decisions: list[GuardrailDecision] = []
    for spec in specs:
        if stage not in spec.stages:
            continue
        started = time.perf_counter()
        if spec.kind == "pii":
            decision, current = await anyio.to_thread.run_sync(_pii, spec, stage, current, limiter=_scanners())
        elif spec.kind == "injection":
            decision = await anyio.to_thread.run_sync(_injection, spec, stage, current, limiter=_scanners())
        else:
            if judging is None:
                raise ValueError(f"guardrail {spec.name!r} runs a judge on the call's trace: pass judging=JudgeContext(...)")
            decision = await _judge(spec, stage, judging)
        decision = _timed(decision, started)
        decisions.append(decision)
        if decision.outcome == "block":
            return GuardrailOutcome(_copy(messages, current), decisions, decision)
    return GuardrailOutcome(_copy(messages, current), decisions, None)


SCANNERS = 2
"""Texts read at once in one process (pii and injection are CPU work that holds the GIL): more calls
wait their turn rather than take the event loop's time from every other request."""
_limiters: weakref.WeakKeyDictionary[Any, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _scanners() -> anyio.CapacityLimiter:
    """The event loop's limiter (one per loop: a limiter's waiters belong to the loop they wait in)."""
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(SCANNERS)
    return _limiters[loop]


def _copy(original: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return with_replaced(original, {}) if current is original else current


def _timed(decision: GuardrailDecision, started: float) -> GuardrailDecision:
    from dataclasses import replace

    return replace(decision, elapsed_ms=round((time.perf_counter() - started) * 1000, 3))


def _decision(spec: GuardrailSpec, stage: str, outcome: Outcome, detail: str, findings: Sequence[Finding] = (),
              **extra: Any) -> GuardrailDecision:  # fmt: skip
    return GuardrailDecision(guardrail=spec.name, kind=spec.kind, stage=stage, action=spec.action, outcome=outcome,
                             findings=tuple(findings), detail=detail, error=extra.pop("error", None), elapsed_ms=0.0,
                             **extra)  # fmt: skip


_DONE = {"block": "blocked", "flag": "flagged", "redact": "redacted"}


def _pii(spec: GuardrailSpec, stage: str, messages: list[dict[str, Any]]) -> tuple[GuardrailDecision, list[dict[str, Any]]]:
    findings: list[Finding] = []
    replacements: dict[tuple[int, str], str] = {}
    fields = list(text_fields(messages))
    if (unread := _too_long(spec, stage, fields)) is not None:
        return unread, messages
    for text_field in fields:
        found = pii.detect(text_field.text, spec.entities, min_score=spec.min_score)
        if not found:
            continue
        findings += [Finding(d.type, d.start, d.end, d.score, text_field.message_index, text_field.part) for d in found]
        if spec.action == "redact":
            replacements[(text_field.message_index, text_field.part)] = _redacted(spec, text_field, found)
    if not findings:
        return _decision(spec, stage, "pass", f"no personal data or secrets found in {_fields(len(fields))}"), messages
    outcome: Outcome = spec.action  # type: ignore[assignment]
    detail = f"{_DONE[spec.action]} the {stage}: found {_counts(findings)} in {_places(findings)}"
    redacted = with_replaced(messages, replacements) if replacements else messages
    return _decision(spec, stage, outcome, detail, findings), redacted


def _redacted(spec: GuardrailSpec, text_field: TextField, found: list[pii.Detection]) -> str:
    spans = [(d.start, d.end, pii.placeholder(d.type)) for d in found]
    if not text_field.part.endswith("function.arguments"):
        return redact_text(text_field.text, spans)

    def redact_value(value: str) -> str:
        inner = pii.detect(value, spec.entities, min_score=spec.min_score)
        return redact_text(value, [(d.start, d.end, pii.placeholder(d.type)) for d in inner])

    return redact_arguments(text_field.text, spans, redact_value)


def _injection(spec: GuardrailSpec, stage: str, messages: list[dict[str, Any]]) -> GuardrailDecision:
    screened = [f for f in text_fields(messages) if f.role in spec.roles]
    if (unread := _too_long(spec, stage, screened)) is not None:
        return unread
    worst, findings, over = 0.0, [], []
    for text_field in screened:
        result = injection.screen(text_field.text)
        worst = max(worst, result.score)
        if result.score >= spec.threshold:
            over.append(text_field)
            findings += [Finding(s.type, s.start, s.end, s.score, text_field.message_index, text_field.part)
                         for s in result.signals]  # fmt: skip
    roles = "/".join(spec.roles)
    if not over:
        return _decision(spec, stage, "pass", f"no prompt injection found in {_fields(len(screened))} of {roles} text "
                         f"(highest score {worst:.2f}, threshold {spec.threshold:g})", score=worst)  # fmt: skip
    families = sorted({f.type for f in findings})
    where = ", ".join(f"message {f.message_index} ({f.role}, {f.part})" for f in over[:5]) + (" ..." if len(over) > 5 else "")
    detail = (f"{_DONE[spec.action]} the {stage}: prompt injection score {worst:.2f} (threshold {spec.threshold:g}) "
              f"in {where}; signals: {', '.join(families)}")  # fmt: skip
    return _decision(spec, stage, spec.action, detail, findings, score=worst)  # type: ignore[arg-type]


async def _judge(spec: GuardrailSpec, stage: str, context: JudgeContext) -> GuardrailDecision:
    check = await check_with_judge(spec, context)
    extra = {"error": check.error, "judge_assessment_id": check.assessment_id}
    if check.passed:
        return _decision(spec, stage, "pass", check.detail, **extra)
    if check.passed is None and spec.on_error == "open":
        return _decision(spec, stage, "error", f"{check.detail}; on_error is 'open', so the call goes on", **extra)
    why = "; on_error is 'closed', so this counts as failing" if check.passed is None else ""
    return _decision(spec, stage, spec.action, f"{_DONE[spec.action]} the {stage}: {check.detail}{why}", **extra)  # type: ignore[arg-type]


def _too_long(spec: GuardrailSpec, stage: str, fields: Sequence[TextField]) -> GuardrailDecision | None:
    """The decision on text past spec.max_chars: caught unread (blocked; flagged by a flag guardrail)."""
    total = sum(len(f.text) for f in fields)
    if total <= spec.max_chars:
        return None
    outcome: Outcome = "flag" if spec.action == "flag" else "block"
    return _decision(spec, stage, outcome, f"{_DONE[outcome]} the {stage} unread: its {total:,} characters of text are "
                     f"over the guardrail's max_chars of {spec.max_chars:,}; send less, or raise max_chars")  # fmt: skip


def _counts(findings: Sequence[Finding]) -> str:
    counts = Counter(f.type for f in findings)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _places(findings: Sequence[Finding]) -> str:
    places = list(dict.fromkeys((f.message_index, f.part) for f in findings))
    shown = ", ".join(f"message {i} {part}" for i, part in places[:5])
    return shown + (f" and {len(places) - 5} more fields" if len(places) > 5 else "")


def _fields(n: int) -> str:
    return f"{n} text field" + ("" if n == 1 else "s")


def decision_feedback(decision: GuardrailDecision) -> dict[str, Any]:
    """The feedback the gateway logs for a decision on the call's trace: keyword arguments of
    store.assessments.new_assessment after the trace id (name 'guardrail/<name>', source CODE,
    value True when it passed, the detail as rationale, its error, and metadata with the stage,
    action, outcome and the finding types and counts). Never the matched text."""
    metadata: dict[str, Any] = {
        "kind": decision.kind,
        "stage": decision.stage,
        "action": decision.action,
        "outcome": decision.outcome,
        "findings": dict(sorted(Counter(f.type for f in decision.findings).items())),
        "finding_count": len(decision.findings),
        "messages": sorted({f.message_index for f in decision.findings}),
        "elapsed_ms": decision.elapsed_ms,
    }
    if decision.score is not None:
        metadata["score"] = decision.score
    if decision.judge_assessment_id is not None:
        metadata["judge_assessment_id"] = decision.judge_assessment_id
    return {
        "name": f"guardrail/{decision.guardrail}",
        "value": decision.outcome == "pass",
        "kind": "feedback",
        "source_type": "CODE",
        "source_id": f"guardrail/{decision.guardrail}",
        "rationale": decision.detail,
        "error": decision.error,
        "metadata": metadata,
    }
