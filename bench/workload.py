"""Realistic, deterministic OTLP workloads for the benchmarks.

Spans look like what an instrumented agent sends: GenAI chat spans carrying input/output
messages as JSON, tool spans with arguments and results, agent spans around them. Text is drawn
from a Zipf-distributed vocabulary with numbers and ids mixed in, so the full-text index sees as
many distinct terms per span as real traffic (a small vocabulary would flatter it).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

_rng = random.Random(20261122)
_SYLLABLES = ["ka", "ro", "mi", "te", "su", "an", "bil", "ing", "ro", "am", "pla", "net", "wor", "da", "ta", "ser", "vi", "ce"]
VOCABULARY = ["".join(_rng.choice(_SYLLABLES) for _ in range(_rng.randint(2, 4))) for _ in range(8000)]
VOCABULARY[:12] = ["the", "your", "roaming", "charge", "refund", "invoice", "plan", "account", "data", "customer", "billing", "spain"]
_CUM_WEIGHTS = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))


def text(rng: random.Random, chars: int) -> str:
    """About `chars` characters of Zipf-distributed words, with a few numbers and ids."""
    # Mean word length with its space is about 7 characters.
    words = rng.choices(VOCABULARY, cum_weights=_CUM_WEIGHTS, k=max(chars // 7, 1))
    for i in range(0, len(words), 12):
        words[i] = str(rng.randint(0, 99999)) if i % 24 else f"INV-{rng.randint(10000, 99999)}"
    return " ".join(words)[:chars]


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def make_span(
    rng: random.Random,
    trace_id: bytes,
    span_id: int,
    parent_id: int | None,
    start_ns: int,
    duration_ns: int,
    content_chars: int,
    kind: str,
) -> Span:
    """One span of roughly `content_chars` characters of content, GenAI conventions."""
    span = Span(
        trace_id=trace_id,
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent_id.to_bytes(8, "big") if parent_id else b"",
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + duration_ns,
        kind=Span.SPAN_KIND_INTERNAL if kind != "chat" else Span.SPAN_KIND_CLIENT,
    )
    half = max(content_chars // 2 - 60, 10)
    if kind == "chat":
        span.name = "chat gpt-4o-mini"
        messages = [{"role": "user", "parts": [{"type": "text", "content": text(rng, half)}]}]
        output = [{"role": "assistant", "parts": [{"type": "text", "content": text(rng, half)}], "finish_reason": "stop"}]
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.provider.name", "openai"),
                _kv("gen_ai.request.model", "gpt-4o-mini"),
                _kv("gen_ai.usage.input_tokens", half // 4),
                _kv("gen_ai.usage.output_tokens", half // 4),
                _kv("gen_ai.input.messages", json.dumps(messages)),
                _kv("gen_ai.output.messages", json.dumps(output)),
            ]
        )
    elif kind == "tool":
        tool = rng.choice(["lookup_invoice", "search_plans", "get_account", "check_coverage"])
        span.name = f"execute_tool {tool}"
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "execute_tool"),
                _kv("gen_ai.tool.name", tool),
                _kv("gen_ai.tool.call.arguments", json.dumps({"query": text(rng, half)})),
                _kv("gen_ai.tool.call.result", json.dumps({"result": text(rng, half)})),
            ]
        )
        if rng.random() < 0.05:
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="backend timeout"))
    else:
        span.name = "invoke_agent support_router"
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "invoke_agent"),
                _kv("gen_ai.agent.name", "support_router"),
                _kv("gen_ai.conversation.id", f"conv-{rng.randint(0, 10**9)}"),
                _kv("input.value", text(rng, half)),
                _kv("output.value", text(rng, half)),
            ]
        )
    return span


def request(spans: list[Span], service: str = "telecom-support") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    resource_spans = req.resource_spans.add()
    resource_spans.resource.attributes.append(_kv("service.name", service))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "bench"
    scope_spans.spans.extend(spans)
    return req


def agent_traces(n_traces: int, spans_per_trace: int, content_chars: int, seed: int = 1) -> Iterator[list[Span]]:
    """Traces shaped like an agent run: a root agent span, then alternating chat and tool spans."""
    rng = random.Random(seed)
    base = 1_763_800_000_000_000_000
    for t in range(n_traces):
        trace_id = rng.getrandbits(128).to_bytes(16, "big")
        start = base + t * 10_000_000_000
        root_id = (t << 20) + 1
        spans = [make_span(rng, trace_id, root_id, None, start, 5_000_000_000, content_chars, "agent")]
        for i in range(1, spans_per_trace):
            kind = "chat" if i % 2 else "tool"
            span_start = start + i * 1_000_000
            spans.append(make_span(rng, trace_id, root_id + i, root_id, span_start, 900_000, content_chars, kind))
        yield spans


def batches(spans: Iterator[Span] | list[Span], size: int) -> Iterator[list[Span]]:
    batch: list[Span] = []
    for span in spans:
        batch.append(span)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
