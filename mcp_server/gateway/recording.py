"""Every gateway call as a trace: one span in the OpenTelemetry GenAI conventions, written through the
same path as OTLP ingest (the conventions layer, then store.write_spans), so the store derives its
inputs, outputs, model, tokens and cost as for any model span, and every trace tool, judge and
monitor reads gateway traffic like any other.

The span ('chat <route>', type CHAT_MODEL) holds the messages sent (gen_ai.input.messages, after
the input step), the answer (gen_ai.output.messages), the route's provider model asked for and the
model that answered, tokens, cost, and under tracejudge.gateway.*: the route, the route that
answered, the key's id and name (never its secret), the API the client spoke, whether it streamed,
the latency and each attempt of the fallback chain. A caller's W3C `traceparent` makes the span a
child of the caller's span in the caller's trace; otherwise it is the root of a new trace. Each
guardrail decision is feedback on the span ('guardrail/<name>', source CODE: mcp_server.guardrails).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from mcp_server.gateway.forwarding import Attempt
from mcp_server.guardrails.service import GuardrailDecision, decision_feedback
from mcp_server.ingest.otlp.span_parts import build_span
from store import Database, write_spans
from store.assessments import insert_assessment, new_assessment

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
SERVICE_NAME = "tracejudge-gateway"


def parent_of(traceparent: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) from a W3C traceparent header; None when absent or invalid (the
    spec says to start a new trace then)."""
    if not traceparent:
        return None
    match = _TRACEPARENT.fullmatch(traceparent.strip().lower())
    if match is None or match[1] == "ff" or (match[1] == "00" and match[5]):
        return None
    trace_id, span_id = match[2], match[3]
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return trace_id, span_id


@dataclass
class CallRecord:
    """What one gateway call did, filled in as it goes."""

    api: str  # openai, anthropic
    route: str
    key_id: str
    key_name: str
    traceparent: str | None
    stream: bool
    started_ns: int = field(default_factory=time.time_ns)
    request_model: str | None = None
    messages: list[Any] = field(default_factory=list)
    tools: list[Any] | None = None
    request_options: dict[str, Any] = field(default_factory=dict)
    output_messages: list[Any] = field(default_factory=list)
    response_model: str | None = None
    answered_by: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    cost_note: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None
    status: int = 200
    decisions: list[GuardrailDecision] = field(default_factory=list)
    """The guardrails' decisions so far, logged as feedback on the call's span."""
    logged: int = 0
    """How many of `decisions` are stored already (a judge guardrail needs the span written before it runs)."""
    trace_id: str = ""
    parent_span_id: str | None = None
    span_id: str = field(default_factory=lambda: secrets.token_hex(8))

    def __post_init__(self) -> None:
        # Fixed once: the span may be written more than once (before a judge guardrail, then whole).
        parent = parent_of(self.traceparent)
        self.trace_id, self.parent_span_id = parent if parent else (secrets.token_hex(16), None)


def span_of(call: CallRecord, ended_ns: int) -> Any:
    """The call's span (a store SpanIn) with the conventions applied."""
    trace_id, parent_span_id = call.trace_id, call.parent_span_id
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": (call.request_model or "").split("/", 1)[0] or None,
        "gen_ai.request.model": call.request_model,
        "gen_ai.response.model": call.response_model,
        "gen_ai.input.messages": json.dumps(call.messages, default=str),
        "gen_ai.output.messages": json.dumps(call.output_messages, default=str) if call.output_messages else None,
        "gen_ai.tool.definitions": json.dumps(call.tools, default=str) if call.tools else None,
        "gen_ai.usage.input_tokens": call.input_tokens,
        "gen_ai.usage.output_tokens": call.output_tokens,
        "gen_ai.usage.cost": call.cost_usd,
        "gen_ai.response.finish_reasons": [call.finish_reason] if call.finish_reason else None,
        "tracejudge.gateway.api": call.api,
        "tracejudge.gateway.route": call.route,
        "tracejudge.gateway.answered_by": call.answered_by,
        "tracejudge.gateway.key_id": call.key_id,
        "tracejudge.gateway.key_name": call.key_name,
        "tracejudge.gateway.stream": call.stream,
        "tracejudge.gateway.status": call.status,
        "tracejudge.gateway.latency_ms": round((ended_ns - call.started_ns) / 1e6, 3),
        "tracejudge.gateway.attempts": [
            {"route": a.route, "model": a.model, "duration_ms": round(a.duration_ms, 3), "error": a.error,
             "status": a.status} for a in call.attempts
        ],  # fmt: skip
        "tracejudge.gateway.cost_note": call.cost_note,
        **{f"gen_ai.request.{k}": v for k, v in call.request_options.items()},
        "error.type": str(call.status) if call.error else None,
    }
    span = build_span(
        trace_id=trace_id, span_id=call.span_id, parent_span_id=parent_span_id, name=f"chat {call.route}",
        start_ns=call.started_ns, end_ns=max(ended_ns, call.started_ns), kind="CLIENT",
        status_code="ERROR" if call.error else "OK", status_message=call.error or "",
        attributes={k: v for k, v in attributes.items() if v is not None},
        events=[], links=[], resource={"attributes": {"service.name": SERVICE_NAME}},
        scope={"name": "tracejudge.gateway"}, service_name=SERVICE_NAME,
    )  # fmt: skip
    span.trace_tags.update({"gateway.key": call.key_name, "gateway.route": call.route})
    return span


def record_call(db: Database, call: CallRecord) -> str:
    """Write the call's span (again, when it was written before: the same ids replace it), then the
    guardrail decisions not stored yet as feedback on it; returns its trace id."""
    span = span_of(call, time.time_ns())
    write_spans(db, [span])
    if pending := call.decisions[call.logged:]:
        with db.transaction() as conn:
            for decision in pending:
                insert_assessment(conn, new_assessment(call.trace_id, span_id=call.span_id, **decision_feedback(decision)))
        call.logged = len(call.decisions)
    return span.trace_id
