"""Demo data: the Northwind Mobile support agent's traces, put into a store without a server, and
the agent's router prompt in the prompt registry (version 1, alias production), which the agent
as an evaluation target (mcp_server.demo.target) reads.

The spans take the same road as an agent's: made by the OpenTelemetry SDK, encoded as an OTLP
protobuf request, decoded by the OTLP endpoint's decoder and written in one batch. Ids, clock and
seed are fixed, so loading the demo twice replaces the same spans instead of adding copies.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_server.demo.agent import DEMO_SEED, ROUTER_SYSTEM_PROMPT, SeededIdGenerator, build_conversations, demo_resource
from mcp_server.demo.target import ROUTER_PROMPT
from mcp_server.ingest.otlp import decode_request
from store import Database, prompts, write_spans
from store.errors import PromptNotFound


def demo_spans() -> list[ReadableSpan]:
    """Run the scripted conversations once and return their finished spans (always the same)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=demo_resource(), id_generator=SeededIdGenerator(DEMO_SEED))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    build_conversations(provider)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def demo_request() -> bytes:
    """The demo as one OTLP/HTTP protobuf request body (ExportTraceServiceRequest)."""
    return encode_spans(demo_spans()).SerializeToString()


def load_demo(db: Database) -> int:
    """Write the demo traces into `db` (and the router prompt, unless the store has it) and return
    how many traces were written (10)."""
    batch = decode_request(demo_request(), "protobuf")
    if batch.rejected:
        raise RuntimeError(f"the OTLP decoder rejected demo spans: {batch.rejected}")
    written = write_spans(db, batch.spans).traces_touched
    register_router_prompt(db)
    return written


def register_router_prompt(db: Database) -> None:
    """Register the router prompt the demo traces were made with, as version 1 with the alias
    production, unless the store already has that prompt (its versions are the user's then)."""
    try:
        prompts.latest_prompt_version(db, ROUTER_PROMPT)
    except PromptNotFound:
        prompts.register_prompt_version(
            db, ROUTER_PROMPT, ROUTER_SYSTEM_PROMPT, commit_message="the router prompt the demo traces were made with",
            description="Northwind Mobile's triage prompt: routes a customer message to a specialist.",
        )
        prompts.set_prompt_alias(db, ROUTER_PROMPT, "production", 1)
