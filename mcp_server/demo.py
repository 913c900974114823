"""Demo data: the Northwind Mobile support agent's traces, put into a store without a server.

The spans take the same road as an agent's: made by the OpenTelemetry SDK, encoded as an OTLP
protobuf request, decoded by the OTLP endpoint's decoder and written in one batch. Ids, clock and
seed are fixed, so loading the demo twice replaces the same spans instead of adding copies.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_server.demo_agent import DEMO_SEED, SeededIdGenerator, build_conversations, demo_resource
from mcp_server.otlp import decode_request
from store import Database, write_spans


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
    """Write the demo traces into `db` and return how many traces were written (10)."""
    batch = decode_request(demo_request(), "protobuf")
    if batch.rejected:
        raise RuntimeError(f"the OTLP decoder rejected demo spans: {batch.rejected}")
    return write_spans(db, batch.spans).traces_touched
