"""pydantic-ai's agent run span (instrumentation versions 2+): the GenAI conventions for its model
and tool spans, and on the `invoke_agent` span its own names for the run's whole conversation
(`pydantic_ai.all_messages`, GenAI messages as JSON), its result (`final_result`, text or JSON)
and the usage of all its model calls (`gen_ai.aggregated_usage.*`). That usage repeats the model
spans' own; the store counts tokens on model spans only, so an agent span's never adds to the
trace's totals twice. Model spans carry their price as `operation.cost` (genai-prices)."""

from __future__ import annotations

from mcp_server.ingest.semconv.payloads import Attr

JSON_KEYS = frozenset({"pydantic_ai.all_messages"})
INPUTS = (Attr("pydantic_ai.all_messages"),)
OUTPUTS = (Attr("final_result"),)
INPUT_TOKEN_KEYS = ("gen_ai.aggregated_usage.input_tokens",)
OUTPUT_TOKEN_KEYS = ("gen_ai.aggregated_usage.output_tokens",)
COST_KEYS = ("operation.cost",)
