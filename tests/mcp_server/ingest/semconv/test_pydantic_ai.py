"""pydantic-ai's agent run span, as tests/data/instrumentation/pydantic-ai recorded it."""

from __future__ import annotations

import json

from mcp_server.ingest.semconv import normalize
from store.incoming import SpanIn

MESSAGES = [
    {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]},
    {"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}], "finish_reason": "stop"},
]


def test_the_agent_span_shows_its_messages_result_and_aggregated_usage():
    span = SpanIn(
        trace_id="a" * 32, span_id="b" * 16, name="invoke_agent weather_agent", start_ns=1,
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "final_result": "Sunny.",
            "pydantic_ai.all_messages": json.dumps(MESSAGES),
            "gen_ai.aggregated_usage.input_tokens": 120,
            "gen_ai.aggregated_usage.output_tokens": 22,
        },
    )  # fmt: skip
    normalize(span)
    assert span.span_type == "AGENT"
    assert (span.inputs_source, json.loads(span.inputs_json)) == ("pydantic_ai.all_messages", MESSAGES)
    assert (span.outputs_source, json.loads(span.outputs_json)) == ("final_result", "Sunny.")
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (120, 22, 142)
    assert (span.request_text, span.response_text) == ("What is the weather in Paris?", "Sunny.")
