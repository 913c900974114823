"""Record what real instrumentation libraries export (OTLP traces and logs) for one scripted
tool-calling conversation, as the golden fixtures in the folders beside this file.

Not run by the test suite: it needs the libraries themselves, which tracejudge does not depend
on. Run it in a scratch virtualenv that has the library (see each folder's README.md), e.g.

    python3.11 -m venv /tmp/rec-openai
    /tmp/rec-openai/bin/pip install openai opentelemetry-sdk opentelemetry-exporter-otlp-proto-http \
        opentelemetry-instrumentation-openai-v2
    /tmp/rec-openai/bin/python tests/data/instrumentation/record_logs.py openai_v2_events

Everything stays on 127.0.0.1: a scripted OpenAI-compatible server answers the two calls (a
tool call, then the answer) and an OTLP/HTTP receiver keeps what the exporters POST. Both are
written as OTLP/JSON (ids in hex, as the OTLP/JSON mapping writes them) to <folder>/traces.json
and <folder>/logs.json, resources trimmed to service.name and the telemetry.sdk.* keys, and span
attributes whose value is "" left out.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SYSTEM = "You are Northwind's billing assistant. Use the tools to look up invoices."
QUESTION = "Why was I charged twice for roaming in March?"
TOOL_RESULT = '{"roaming": 12.0, "day_pass": 12.0}'
ANSWER = "You were charged once for roaming and once for a day pass; I have refunded the day pass."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_invoice",
            "description": "The invoice lines of one month.",
            "parameters": {"type": "object", "properties": {"month": {"type": "string"}}, "required": ["month"]},
        },
    }
]
MODEL = "gpt-4o-mini"


def _replies() -> Iterator[dict[str, Any]]:
    """The two chat completions: a call of lookup_invoice, then the answer."""
    call = {"id": "call_8f3a", "type": "function", "function": {"name": "lookup_invoice", "arguments": '{"month": "2024-03"}'}}
    yield {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls", (52, 17)
    yield {"role": "assistant", "content": ANSWER}, "stop", (88, 24)


@contextmanager
def _scripted_openai() -> Iterator[str]:
    replies = _replies()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            message, finish, (prompt, completion) = next(replies)
            body = json.dumps(
                {
                    "id": f"chatcmpl-{finish}", "object": "chat.completion", "created": 1_717_000_000, "model": MODEL,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
                }  # fmt: skip
            ).encode()
            _answer(self, 200, "application/json", body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _serving(Handler) as url:
        yield f"{url}/v1"


@contextmanager
def _otlp_receiver() -> Iterator[tuple[str, dict[str, list[bytes]]]]:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    received: dict[str, list[bytes]] = {"/v1/traces": [], "/v1/logs": []}
    answers = {"/v1/traces": ExportTraceServiceResponse(), "/v1/logs": ExportLogsServiceResponse()}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.setdefault(self.path, []).append(body)
            answer = answers[self.path].SerializeToString() if self.path in answers else b""
            _answer(self, 200 if self.path in answers else 404, "application/x-protobuf", answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _serving(Handler) as url:
        yield url, received


def _answer(handler: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _conversation(send: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> None:
    """The two turns, each through the library's own client; send returns the assistant message."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    call = send(messages)
    messages.append(call)
    for tool_call in call["tool_calls"]:
        messages.append({"role": "tool", "tool_call_id": tool_call["id"], "content": TOOL_RESULT})
    send(messages)


def _sdk_providers(otlp: str) -> tuple[Any, Any]:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": "billing-agent"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp}/v1/traces")))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{otlp}/v1/logs")))
    return tracer_provider, logger_provider


def _openai_v2(openai_url: str, otlp: str) -> None:
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    tracer_provider, logger_provider = _sdk_providers(otlp)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    client = openai.OpenAI(base_url=openai_url, api_key="not-a-key")

    def send(messages: list[dict[str, Any]]) -> dict[str, Any]:
        response = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
        return response.choices[0].message.model_dump(exclude_none=True)

    _conversation(send)
    tracer_provider.shutdown()
    logger_provider.shutdown()


def _litellm(openai_url: str, otlp: str) -> None:
    os.environ.update(
        OTEL_EXPORTER="otlp_http", OTEL_ENDPOINT=f"{otlp}/v1/traces", OTEL_SERVICE_NAME="billing-agent",
        LITELLM_OTEL_INTEGRATION_ENABLE_EVENTS="true", LITELLM_LOCAL_MODEL_COST_MAP="True",
    )  # fmt: skip
    import litellm
    from litellm.integrations.opentelemetry import OpenTelemetry

    otel = OpenTelemetry()
    litellm.callbacks = [otel]

    def send(messages: list[dict[str, Any]]) -> dict[str, Any]:
        response = litellm.completion(
            model=f"openai/{MODEL}", messages=messages, tools=TOOLS, api_base=openai_url, api_key="not-a-key"
        )
        message = response.choices[0].message
        return {"role": "assistant", "content": message.content, "tool_calls": [c.model_dump() for c in message.tool_calls or []]}

    _conversation(send)


def _traceloop(openai_url: str, otlp: str) -> None:
    import openai
    from opentelemetry import _logs
    from traceloop.sdk import Traceloop

    # With attributes off, Traceloop's instrumentations emit through the global LoggerProvider,
    # which the application configures (Traceloop.init does not).
    _logs.set_logger_provider(_sdk_providers(otlp)[1])
    Traceloop.init(
        app_name="billing-agent", api_endpoint=otlp, disable_batch=True, use_attributes=False,
        telemetry_enabled=False, should_enrich_metrics=False,
    )  # fmt: skip
    client = openai.OpenAI(base_url=openai_url, api_key="not-a-key")

    def send(messages: list[dict[str, Any]]) -> dict[str, Any]:
        response = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
        return response.choices[0].message.model_dump(exclude_none=True)

    _conversation(send)


def _flush_until_both_calls_arrived(received: dict[str, list[bytes]]) -> None:
    """Libraries that export from a background thread (litellm's success callbacks) or through
    global providers: flush those until both calls' spans have come, for at most 30 s."""
    from opentelemetry import trace
    from opentelemetry._logs import get_logger_provider
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for provider in (trace.get_tracer_provider(), get_logger_provider()):
            if hasattr(provider, "force_flush"):
                provider.force_flush()
        spans = [ExportTraceServiceRequest.FromString(body) for body in received["/v1/traces"]]
        if sum(len(s.spans) for request in spans for r in request.resource_spans for s in r.scope_spans) >= 2:
            return
        time.sleep(0.2)
    raise SystemExit("the library exported fewer than 2 spans within 30 s")


SETUPS: dict[str, tuple[dict[str, str], Callable[[str, str], None]]] = {
    # The deprecated (v1.30) conventions, openai-v2's default: messages as log records only.
    "openai_v2_events": ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, _openai_v2),
    # litellm's OTel callback with content capture: per-message gen_ai.content.prompt/completion.
    "litellm_otel_events": ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, _litellm),
    # The latest conventions, content in events only: one operation.details record per call.
    "litellm_otel_latest_events": (
        {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "event_only"},
        _litellm,
    ),
    "traceloop_events": ({"TRACELOOP_TRACE_CONTENT": "true", "TRACELOOP_METRICS_ENABLED": "false"}, _traceloop),
}

_KEPT_RESOURCE = ("service.name", "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version")


def _as_otlp_json(message: Any) -> dict[str, Any]:
    """The proto3 JSON of an export, with ids in hex and the resource trimmed."""
    import base64

    from google.protobuf import json_format

    body = json_format.MessageToDict(message)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("traceId", "spanId", "parentSpanId"):
                if node.get(key):
                    node[key] = base64.b64decode(node[key]).hex()
            if isinstance(node.get("resource"), dict):
                attributes = node["resource"].get("attributes", [])
                node["resource"]["attributes"] = [a for a in attributes if a.get("key") in _KEPT_RESOURCE]
            if "spanId" in node and "attributes" in node:
                # litellm sends some forty metadata.* keys as "": they say nothing and fill the file.
                node["attributes"] = [a for a in node["attributes"] if a.get("value") != {"stringValue": ""}]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return body


def record(setup: str) -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    environment, run = SETUPS[setup]
    os.environ.update(environment)
    with _scripted_openai() as openai_url, _otlp_receiver() as (otlp, received):
        run(openai_url, otlp)
        _flush_until_both_calls_arrived(received)
    traces, logs = ExportTraceServiceRequest(), ExportLogsServiceRequest()
    for body in received["/v1/traces"]:
        traces.MergeFromString(body)
    for body in received["/v1/logs"]:
        logs.MergeFromString(body)
    folder = HERE / setup
    folder.mkdir(exist_ok=True)
    for name, message in (("traces.json", traces), ("logs.json", logs)):
        (folder / name).write_text(json.dumps(_as_otlp_json(message), indent=1) + "\n")
    spans = sum(len(s.spans) for r in traces.resource_spans for s in r.scope_spans)
    records = sum(len(s.log_records) for r in logs.resource_logs for s in r.scope_logs)
    print(f"{setup}: {spans} spans, {records} log records -> {folder}")


if __name__ == "__main__":
    record(sys.argv[1])
