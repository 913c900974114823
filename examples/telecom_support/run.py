"""Northwind Mobile's support agent, sending its traces to tracejudge over OTLP/HTTP.

    tracejudge serve                          # terminal 1: MCP at /mcp, OTLP at /v1/traces
    python examples/telecom_support/run.py    # terminal 2: ten customer messages, ten traces

The agent itself (a router, three specialists, nine tools and a scripted model: no LLM is
called) lives in mcp_server/demo/agent.py. This file is the part you copy into your own agent:
a TracerProvider that names the service, a BatchSpanProcessor around the OTLP/HTTP exporter
pointed at tracejudge, and a flush before the process exits.

Exits 1 when any export failed (server down, wrong token, rejected body), so a script or CI job
notices. One of the traces shows the router's bug: a question about a roaming *charge* goes to
the product specialist. examples/mcp_client_tour.py finds it through the MCP tools.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from mcp_server.demo.agent import build_conversations, demo_resource

DEFAULT_ENDPOINT = "http://127.0.0.1:8080/v1/traces"


class CheckedExporter(SpanExporter):
    """Counts what the wrapped exporter sent and what it failed to send. BatchSpanProcessor
    exports on a background thread and its force_flush() returns True even when every export
    failed, so this is the only place a failure can be seen."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.sent = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.exporter.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.sent += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoint",
        default=DEFAULT_ENDPOINT,
        help=f"OTLP/HTTP traces URL (default {DEFAULT_ENDPOINT})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("TRACEJUDGE_TOKEN"),
        help="bearer token, when the server was started with --token (default $TRACEJUDGE_TOKEN)",
    )
    args = parser.parse_args(argv)

    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    exporter = CheckedExporter(OTLPSpanExporter(endpoint=args.endpoint, headers=headers))
    provider = TracerProvider(resource=demo_resource())
    provider.add_span_processor(BatchSpanProcessor(exporter))

    # A fresh seed each run: new conversation ids and latencies, so every run adds ten traces.
    # The simulated clock starts 20 minutes ago so that every span lies in the past.
    turns = build_conversations(
        provider, seed=secrets.randbits(32), start_ns=time.time_ns() - 20 * 60 * 10**9
    )
    flushed = provider.force_flush()  # False only when the flush itself timed out
    provider.shutdown()

    for turn in turns:
        flag = "  <- tool error" if turn.tool_errors else ""
        print(f"{turn.trace_id}  {turn.route:<19} {turn.question}{flag}")
    if exporter.failed or not exporter.sent or not flushed:
        print(
            f"error: {exporter.failed} spans failed to export to {args.endpoint} "
            f"({exporter.sent} sent); is `tracejudge serve` running there, with the same token?",
            file=sys.stderr,
        )
        return 1
    print(f"sent {exporter.sent} spans in {len(turns)} traces to {args.endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
