"""A tiny real OTLP/HTTP receiver on 127.0.0.1: records each POSTed body (header names
lower-cased) and answers with an empty ExportTraceServiceResponse, or with the status a test
asks for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass
class Received:
    url: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def spans(self) -> list[dict[str, Any]]:
        """Every received span as a plain dict: ids in hex, attributes decoded, resource merged."""
        out = []
        for _path, _headers, body in self.requests:
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = attributes_of(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        out.append(
                            {
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex() or None,
                                "name": span.name,
                                "kind": span.kind,
                                "start_ns": span.start_time_unix_nano,
                                "end_ns": span.end_time_unix_nano,
                                "status_code": span.status.code,
                                "status_message": span.status.message,
                                "attributes": attributes_of(span.attributes),
                                "events": [
                                    {
                                        "name": e.name,
                                        "time_ns": e.time_unix_nano,
                                        "attributes": attributes_of(e.attributes),
                                    }
                                    for e in span.events
                                ],
                                "resource": resource,
                                "scope": scope_spans.scope.name,
                            }
                        )
        return out


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def attributes_of(key_values: Any) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in key_values}


@contextmanager
def otlp_receiver(status: int = 200) -> Iterator[Received]:
    """Serve OTLP/HTTP on a free loopback port for the duration of the block."""
    received = Received(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.requests.append(
                (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            payload = (
                ExportTraceServiceResponse().SerializeToString()
                if status == 200
                else b"rejected by test"
            )
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/x-protobuf" if status == 200 else "text/plain"
            )
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
