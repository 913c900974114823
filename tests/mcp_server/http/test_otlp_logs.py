"""POST /v1/logs through the live server: the real OpenTelemetry SDK log exporter, logs before and
after their spans, read back through the real MCP client; JSON and protobuf; bad bodies, records
without a span, the bound on records waiting for their span."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from mcp_server.cli import main
from mcp_server.settings import Settings, settings_from_env
from tests.support.live_server import LiveServer
from tests.support.mcp_session import session

QUESTION = "Why was I charged twice for roaming in March?"
SYSTEM = "You are Northwind's billing assistant."
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup_invoice", "arguments": '{"month": "2024-03"}'}}
ANSWER = "You were charged once for roaming and once for the day pass; I have refunded the day pass."

# The chat call's content as the GenAI event conventions define it: (event name, body).
CHAT_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("gen_ai.system.message", {"content": SYSTEM}),
    ("gen_ai.user.message", {"content": QUESTION}),
    ("gen_ai.assistant.message", {"tool_calls": [TOOL_CALL]}),
    ("gen_ai.tool.message", {"id": "call_1", "content": '{"roaming": 12.0, "day_pass": 12.0}'}),
    ("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}),
]


@contextmanager
def _providers(server: LiveServer, *, spans_first: bool) -> Iterator[tuple[TracerProvider, LoggerProvider]]:
    """A tracer and a logger exporting to the server. Logs go out as they are emitted and spans as
    they end (logs first), or logs only at shutdown, after the spans (spans first)."""
    resource = Resource.create({"service.name": "billing-agent"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", timeout=10))
    )
    logger_provider = LoggerProvider(resource=resource)
    log_exporter = OTLPLogExporter(endpoint=f"{server.url}/v1/logs", compression=Compression.Gzip, timeout=10)
    processor = BatchLogRecordProcessor(log_exporter, schedule_delay_millis=60_000) if spans_first else SimpleLogRecordProcessor(log_exporter)
    logger_provider.add_log_record_processor(processor)
    try:
        yield tracer_provider, logger_provider
    finally:
        tracer_provider.shutdown()
        logger_provider.shutdown()


def _chat(tracer_provider: TracerProvider, logger_provider: LoggerProvider, *, as_logs: bool) -> tuple[str, str]:
    """One chat call whose messages are log records (as_logs) or span events; its ids in hex."""
    logger = logger_provider.get_logger("opentelemetry.instrumentation.openai_v2")
    with tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2").start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"})
        for name, body in CHAT_EVENTS:
            if as_logs:
                logger.emit(event_name=name, body=body, attributes={"gen_ai.system": "openai"})
            else:
                span.add_event(name, {k: v if isinstance(v, str | int) else json.dumps(v) for k, v in body.items()})
    context = span.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


async def _read(server: LiveServer, trace_id: str, span_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    async with session(server.db) as mcp:
        span = await mcp.call("GetSpan", trace_id=trace_id, span_id=span_id)
        trace = await mcp.call("GetTraceInfo", trace_id=trace_id)
    return span, trace


def _assert_chat_content(span: dict[str, Any], trace: dict[str, Any]) -> None:
    assert span["inputs"] == [
        {"content": SYSTEM, "role": "system"},
        {"content": QUESTION, "role": "user"},
        {"tool_calls": [TOOL_CALL], "role": "assistant"},
        {"id": "call_1", "content": {"roaming": 12.0, "day_pass": 12.0}, "role": "tool"},
    ]
    assert span["outputs"] == [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}]
    assert QUESTION in trace["request_preview"]
    assert ANSWER in trace["response_preview"]


@pytest.mark.parametrize("spans_first", [False, True], ids=["logs-before-span", "logs-after-span"])
async def test_sdk_log_records_become_the_spans_inputs_outputs_and_the_traces_previews(
    live_server: LiveServer, spans_first: bool
) -> None:
    with _providers(live_server, spans_first=spans_first) as (tracer_provider, logger_provider):
        trace_id, span_id = _chat(tracer_provider, logger_provider, as_logs=True)

    span, trace = await _read(live_server, trace_id, span_id)

    _assert_chat_content(span, trace)
    assert span["inputs_source"] == "event:gen_ai.system.message,gen_ai.user.message,gen_ai.assistant.message,gen_ai.tool.message"
    assert span["outputs_source"] == "event:gen_ai.choice"
    assert [e["name"] for e in span["events"]] == [name for name, _ in CHAT_EVENTS]
    assert span["events"][1]["body"] == {"content": QUESTION}
    assert span["events"][1]["log"] == {"scope": "opentelemetry.instrumentation.openai_v2"}
    assert live_server.db.reader().execute("SELECT count(*) FROM pending_logs").fetchone()[0] == 0


async def test_logs_read_back_exactly_as_the_same_content_sent_as_span_events(live_server: LiveServer) -> None:
    with _providers(live_server, spans_first=False) as (tracer_provider, logger_provider):
        from_logs = _chat(tracer_provider, logger_provider, as_logs=True)
        from_events = _chat(tracer_provider, logger_provider, as_logs=False)

    (log_span, log_trace), (event_span, event_trace) = [await _read(live_server, *ids) for ids in (from_logs, from_events)]

    _assert_chat_content(event_span, event_trace)
    for field in ("inputs", "outputs", "inputs_source", "outputs_source", "span_type", "model"):
        assert log_span[field] == event_span[field], field
    for field in ("request_preview", "response_preview", "span_count", "total_tokens"):
        assert log_trace[field] == event_trace[field], field
    async with session(live_server.db) as mcp:
        found = await mcp.call("SearchTraces", filter_string="span.content LIKE '%refunded the day pass%'")
    assert {t["trace_id"] for t in found["traces"]} >= {from_logs[0], from_events[0]}


def _logs_json(*records: dict[str, Any]) -> bytes:
    return json.dumps(
        {"resourceLogs": [{"resource": {}, "scopeLogs": [{"scope": {"name": "litellm"}, "logRecords": list(records)}]}]}
    ).encode()


def _record(event: str, body: dict[str, Any], *, trace_id: str, span_id: str, time_ns: int) -> dict[str, Any]:
    """A record in OTLP/JSON as SDKs before LogRecord.event_name write it: the name as an attribute."""
    values = [{"key": k, "value": {"stringValue": v} if isinstance(v, str) else {"intValue": str(v)}} for k, v in body.items()]
    return {
        "timeUnixNano": str(time_ns),
        "traceId": trace_id,
        "spanId": span_id,
        "attributes": [{"key": "event.name", "value": {"stringValue": event}}],
        "body": {"kvlistValue": {"values": values}},
    }


def _span_json(trace_id: str, span_id: str) -> bytes:
    span = {
        "traceId": trace_id, "spanId": span_id, "name": "litellm_request", "kind": 3,
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000002000000000",
        "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}],
    }  # fmt: skip
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


def _post(server: LiveServer, path: str, body: bytes, content_type: str = "application/json") -> httpx2.Response:
    return httpx2.post(f"{server.url}{path}", content=body, headers={"content-type": content_type}, timeout=10)


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


async def test_json_logs_with_the_event_name_attribute_reach_their_span_and_a_resent_span_keeps_them(
    live_server: LiveServer,
) -> None:
    question = _record("gen_ai.user.message", {"content": QUESTION}, trace_id=TRACE, span_id=SPAN, time_ns=1_700_000_000_500_000_000)
    answer = _record("gen_ai.choice", {"index": 0, "finish_reason": "stop"}, trace_id=TRACE, span_id=SPAN, time_ns=1_700_000_001_500_000_000)
    answer["body"]["kvlistValue"]["values"].append(
        {"key": "message", "value": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": ANSWER}}]}}}
    )
    assert _post(live_server, "/v1/logs", _logs_json(question)).json() == {}
    assert _post(live_server, "/v1/traces", _span_json(TRACE, SPAN)).status_code == 200
    assert _post(live_server, "/v1/logs", _logs_json(answer)).json() == {}
    # An exporter's retry of the logs, and the span sent again: still one copy of each event.
    assert _post(live_server, "/v1/logs", _logs_json(question, answer)).json() == {}
    assert _post(live_server, "/v1/traces", _span_json(TRACE, SPAN)).status_code == 200

    span, trace = await _read(live_server, TRACE, SPAN)

    assert span["inputs"] == [{"content": QUESTION, "role": "user"}]
    assert span["outputs"] == [{"index": 0, "finish_reason": "stop", "message": {"content": ANSWER}}]
    assert [e["name"] for e in span["events"]] == ["gen_ai.user.message", "gen_ai.choice"]
    assert trace["request_preview"] is not None and QUESTION in trace["request_preview"]
    assert trace["span_count"] == 1


async def test_a_span_imported_again_keeps_the_content_its_logs_gave_it(live_server: LiveServer, tmp_path: Path) -> None:
    """`tracejudge import` writes spans through the same write as OTLP: a span it replaces keeps
    its log events and what they gave it (inputs, outputs, the trace's previews)."""
    question = _record("gen_ai.user.message", {"content": QUESTION}, trace_id=TRACE, span_id=SPAN, time_ns=1_700_000_000_500_000_000)
    assert _post(live_server, "/v1/logs", _logs_json(question)).json() == {}
    assert _post(live_server, "/v1/traces", _span_json(TRACE, SPAN)).status_code == 200
    export = tmp_path / "export.json"
    export.write_bytes(_span_json(TRACE, SPAN))

    assert main(["import", str(export), "--db", str(live_server.settings.db_path)]) == 0

    span, trace = await _read(live_server, TRACE, SPAN)
    assert span["inputs"] == [{"content": QUESTION, "role": "user"}]
    assert [e["name"] for e in span["events"]] == ["gen_ai.user.message"]
    assert trace["request_preview"] == QUESTION


def _chat_span_json(trace_id: str, span_id: str, inputs: list[Any], outputs: list[Any]) -> bytes:
    """A chat span whose gen_ai.input.messages and gen_ai.output.messages are as given."""
    span = json.loads(_span_json(trace_id, span_id))
    attributes = span["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    for key, value in (("gen_ai.input.messages", inputs), ("gen_ai.output.messages", outputs)):
        attributes.append({"key": key, "value": {"stringValue": json.dumps(value)}})
    return json.dumps(span).encode()


EMPTY_INPUTS = [{"role": "user", "parts": []}]
EMPTY_OUTPUTS = [{"role": "assistant", "parts": []}]


def _content_logs(encoding: str, trace_id: str, span_id: str) -> tuple[bytes, str]:
    """The question and the answer as log records, in OTLP/JSON or protobuf."""
    if encoding == "json":
        question = _record("gen_ai.user.message", {"content": QUESTION}, trace_id=trace_id, span_id=span_id, time_ns=1_700_000_000_500_000_000)
        answer = _record("gen_ai.choice", {"index": 0, "finish_reason": "stop"}, trace_id=trace_id, span_id=span_id, time_ns=1_700_000_001_500_000_000)
        answer["body"]["kvlistValue"]["values"].append(
            {"key": "message", "value": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": ANSWER}}]}}}
        )
        return _logs_json(question, answer), "application/json"
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    ids = {"trace_id": bytes.fromhex(trace_id), "span_id": bytes.fromhex(span_id)}
    question = records.add(event_name="gen_ai.user.message", time_unix_nano=1_700_000_000_500_000_000, **ids)
    question.body.kvlist_value.values.add(key="content").value.string_value = QUESTION
    answer = records.add(event_name="gen_ai.choice", time_unix_nano=1_700_000_001_500_000_000, **ids)
    answer.body.kvlist_value.values.add(key="index").value.int_value = 0
    answer.body.kvlist_value.values.add(key="finish_reason").value.string_value = "stop"
    message = answer.body.kvlist_value.values.add(key="message").value.kvlist_value
    message.values.add(key="content").value.string_value = ANSWER
    return request.SerializeToString(), "application/x-protobuf"


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
@pytest.mark.parametrize("logs_first", [True, False], ids=["logs-before-span", "logs-after-span"])
async def test_log_content_fills_a_span_whose_messages_attributes_are_empty(
    live_server: LiveServer, encoding: str, logs_first: bool
) -> None:
    """litellm's and openai-v2's shape: the span carries gen_ai.*.messages without content, the
    content comes as log records; the span and the trace's previews show the records' content."""
    body, content_type = _content_logs(encoding, TRACE, SPAN)
    span_body = _chat_span_json(TRACE, SPAN, EMPTY_INPUTS, EMPTY_OUTPUTS)
    sends = [("/v1/logs", body, content_type), ("/v1/traces", span_body, "application/json")]
    for path, data, media in sends if logs_first else reversed(sends):
        assert _post(live_server, path, data, media).status_code == 200

    span, trace = await _read(live_server, TRACE, SPAN)

    assert span["inputs"] == [{"content": QUESTION, "role": "user"}]
    assert span["outputs"] == [{"index": 0, "finish_reason": "stop", "message": {"content": ANSWER}}]
    assert span["inputs_source"] == "event:gen_ai.user.message" and span["outputs_source"] == "event:gen_ai.choice"
    # The empty attributes stay as they came.
    assert span["attributes"]["gen_ai.input.messages"] == EMPTY_INPUTS
    assert span["attributes"]["gen_ai.output.messages"] == EMPTY_OUTPUTS
    assert trace["request_preview"] == QUESTION and trace["response_preview"] == ANSWER


@pytest.mark.parametrize("logs_first", [True, False], ids=["logs-before-span", "logs-after-span"])
async def test_log_content_does_not_replace_messages_the_span_has(live_server: LiveServer, logs_first: bool) -> None:
    inputs = [{"role": "user", "parts": [{"type": "text", "content": "the span's own question"}]}]
    outputs = [{"role": "assistant", "parts": [{"type": "text", "content": "the span's own answer"}]}]
    body, content_type = _content_logs("json", TRACE, SPAN)
    sends = [("/v1/logs", body, content_type), ("/v1/traces", _chat_span_json(TRACE, SPAN, inputs, outputs), "application/json")]
    for path, data, media in sends if logs_first else reversed(sends):
        assert _post(live_server, path, data, media).status_code == 200

    span, trace = await _read(live_server, TRACE, SPAN)

    assert (span["inputs"], span["outputs"]) == (inputs, outputs)
    assert (span["inputs_source"], span["outputs_source"]) == ("gen_ai.input.messages", "gen_ai.output.messages")
    assert [e["name"] for e in span["events"]] == ["gen_ai.user.message", "gen_ai.choice"]
    assert trace["request_preview"] == "the span's own question" and trace["response_preview"] == "the span's own answer"


async def test_a_record_that_is_not_genai_is_kept_as_an_event_of_its_span(live_server: LiveServer) -> None:
    record = {
        "timeUnixNano": "1700000000700000000", "traceId": TRACE, "spanId": SPAN, "severityNumber": "SEVERITY_NUMBER_WARN",
        "body": {"stringValue": "refund service answered slowly"},
    }  # fmt: skip
    assert _post(live_server, "/v1/traces", _span_json(TRACE, SPAN)).status_code == 200
    assert _post(live_server, "/v1/logs", _logs_json(record)).json() == {}

    span, _ = await _read(live_server, TRACE, SPAN)

    assert span["events"] == [
        {"name": "log", "time_ns": 1700000000700000000, "attributes": {}, "body": "refund service answered slowly",
         "log": {"scope": "litellm", "severity": "WARN"}}
    ]  # fmt: skip
    assert span["inputs"] is None and span["outputs"] is None


def test_records_without_a_span_are_counted_in_partial_success_with_the_reason(live_server: LiveServer) -> None:
    kept = _record("gen_ai.user.message", {"content": QUESTION}, trace_id=TRACE, span_id=SPAN, time_ns=1)
    orphan = {"body": {"stringValue": "service started"}}
    zero = {**orphan, "traceId": "0" * 32, "spanId": "0" * 16}
    bad = {**orphan, "traceId": TRACE, "spanId": "xyz"}

    response = _post(live_server, "/v1/logs", _logs_json(kept, orphan, zero, bad))

    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedLogRecords"]) == 3
    assert "log record 1 of scope 'litellm' in resource 0: has no trace_id and span_id" in partial["errorMessage"]
    assert "log record 2 " in partial["errorMessage"] and "log record 3 " in partial["errorMessage"]
    assert "span_id 'xyz'" in partial["errorMessage"]
    assert live_server.db.reader().execute("SELECT count(*) FROM pending_logs").fetchone()[0] == 1


def test_protobuf_logs_answer_in_protobuf_with_partial_success(live_server: LiveServer) -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(trace_id=bytes.fromhex(TRACE), span_id=bytes.fromhex(SPAN), event_name="gen_ai.user.message").body.string_value = QUESTION
    records.add(event_name="gen_ai.choice").body.string_value = ANSWER

    response = _post(live_server, "/v1/logs", request.SerializeToString(), "application/x-protobuf")

    assert response.status_code == 200 and response.headers["content-type"] == "application/x-protobuf"
    answer = ExportLogsServiceResponse.FromString(response.content).partial_success
    assert answer.rejected_log_records == 1
    assert "log record 1 'gen_ai.choice'" in answer.error_message


def test_unreadable_logs_bodies_are_400_saying_what_to_send(live_server: LiveServer) -> None:
    response = _post(live_server, "/v1/logs", b"\xff\x00 not protobuf", "application/x-protobuf")
    assert response.status_code == 400
    message = status_pb2.Status.FromString(response.content).message
    assert "not an OTLP ExportLogsServiceRequest in protobuf" in message
    assert "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest" in message

    response = _post(live_server, "/v1/logs", _span_json(TRACE, SPAN))
    assert response.status_code == 400
    assert response.json()["message"] == (
        "the JSON object has no resourceLogs (its keys: 'resourceSpans'); send an OTLP/JSON "
        'ExportLogsServiceRequest such as {"resourceLogs": [...]}. This is an OTLP '
        "ExportTraceServiceRequest: POST it to /v1/traces."
    )
    response = _post(live_server, "/v1/logs", b"{nope")
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]
    response = _post(live_server, "/v1/logs", b"x", "text/plain")
    assert response.status_code == 415 and "application/x-protobuf" in response.json()["message"]
    assert live_server.db.reader().execute("SELECT count(*) FROM pending_logs").fetchone()[0] == 0


def test_logs_need_the_token_and_an_allowed_host_like_traces(start_server) -> None:
    server = start_server(token="s3cret")
    body = _logs_json(_record("gen_ai.user.message", {"content": QUESTION}, trace_id=TRACE, span_id=SPAN, time_ns=1))
    assert _post(server, "/v1/logs", body).status_code == 401
    response = httpx2.post(
        f"{server.url}/v1/logs", content=body,
        headers={"content-type": "application/json", "authorization": "Bearer s3cret", "host": "evil.example"},
    )  # fmt: skip
    assert response.status_code == 421
    response = httpx2.post(
        f"{server.url}/v1/logs", content=body, headers={"content-type": "application/json", "authorization": "Bearer s3cret"}
    )
    assert response.status_code == 200


def test_past_the_waiting_bound_the_oldest_records_make_room_and_records_for_stored_spans_are_not_counted(
    start_server,
) -> None:
    server = start_server(pending_logs_max_bytes=1_000)
    other = "1" * 16
    records = [_record("gen_ai.user.message", {"content": f"question {i} " + "x" * 200}, trace_id=TRACE, span_id=SPAN, time_ns=i + 1) for i in range(8)]
    assert _post(server, "/v1/traces", _span_json(TRACE, other)).status_code == 200

    waiting = _post(server, "/v1/logs", _logs_json(*records)).json()["partialSuccess"]
    attached = _post(server, "/v1/logs", _logs_json(*[{**r, "spanId": other} for r in records])).json()
    later = _post(server, "/v1/logs", _logs_json(*[{**r, "spanId": "2" * 16} for r in records[:2]])).json()

    # The request's first records make room for its last ones.
    assert 0 < int(waiting["rejectedLogRecords"]) < 8
    assert "deleted to make room for this request's later records" in waiting["errorMessage"]
    assert "TRACEJUDGE_PENDING_LOGS_MAX_BYTES" in waiting["errorMessage"]
    assert attached == {}
    stored_events = server.db.reader().execute("SELECT events FROM spans WHERE span_id = ?", (other,)).fetchone()[0]
    assert len(json.loads(stored_events)) == 8
    # A later request's records are kept, the oldest waiting ones deleted, and the answer says so.
    assert "rejectedLogRecords" not in later["partialSuccess"]
    assert "deleted 2 older OTLP log records that waited" in later["partialSuccess"]["errorMessage"]
    spans = [row[0] for row in server.db.reader().execute("SELECT span_id FROM pending_logs ORDER BY id")]
    assert spans == ["2" * 16] * 2
    assert server.db.reader().execute("SELECT sum(size) FROM pending_logs").fetchone()[0] <= 1_000


@pytest.mark.parametrize("logs_first", [True, False], ids=["logs-before-span", "logs-after-span"])
def test_records_past_the_per_span_bounds_are_refused_naming_the_setting(start_server, logs_first: bool) -> None:
    server = start_server(max_log_events_per_span=3)
    records = [_record("gen_ai.user.message", {"content": f"question {i}"}, trace_id=TRACE, span_id=SPAN, time_ns=i + 1) for i in range(5)]
    if not logs_first:
        assert _post(server, "/v1/traces", _span_json(TRACE, SPAN)).status_code == 200

    answer = _post(server, "/v1/logs", _logs_json(*records)).json()["partialSuccess"]
    assert _post(server, "/v1/logs", _logs_json(*records[:3])).json() == {}  # a retry of those kept
    if logs_first:
        assert _post(server, "/v1/traces", _span_json(TRACE, SPAN)).status_code == 200

    assert int(answer["rejectedLogRecords"]) == 2
    assert "the most one span keeps (3, TRACEJUDGE_MAX_LOG_EVENTS_PER_SPAN)" in answer["errorMessage"]
    events = json.loads(server.db.reader().execute("SELECT events FROM spans").fetchone()[0])
    assert [e["body"]["content"] for e in events] == ["question 0", "question 1", "question 2"]

    by_bytes = start_server(max_log_event_bytes_per_span=500)
    answer = _post(by_bytes, "/v1/logs", _logs_json(records[0], {**records[1], "body": {"stringValue": "x" * 500}})).json()
    assert int(answer["partialSuccess"]["rejectedLogRecords"]) == 1
    assert "(500, TRACEJUDGE_MAX_LOG_EVENT_BYTES_PER_SPAN)" in answer["partialSuccess"]["errorMessage"]


def test_batched_sdk_exports_in_any_order_lose_nothing(live_server: LiveServer) -> None:
    """Many calls, spans and logs both batched (as deployed): every span gets all its messages."""
    resource = Resource.create({"service.name": "billing-agent"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces", timeout=10), max_export_batch_size=7))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{live_server.url}/v1/logs", timeout=10), max_export_batch_size=11))
    ids = [_chat(tracer_provider, logger_provider, as_logs=True) for _ in range(40)]
    tracer_provider.shutdown()
    logger_provider.shutdown()

    rows = live_server.db.reader().execute("SELECT span_id, inputs, outputs, events FROM spans").fetchall()
    assert {row["span_id"] for row in rows} == {span_id for _, span_id in ids}
    for row in rows:
        assert QUESTION in row["inputs"] and ANSWER in row["outputs"]
        assert len(json.loads(row["events"])) == len(CHAT_EVENTS)
    assert live_server.db.reader().execute("SELECT count(*) FROM pending_logs").fetchone()[0] == 0


def test_the_waiting_bounds_are_read_from_the_environment() -> None:
    settings = settings_from_env(
        {
            "TRACEJUDGE_PENDING_LOGS_MAX_BYTES": "1000", "TRACEJUDGE_PENDING_LOGS_TTL_S": "90",
            "TRACEJUDGE_MAX_LOG_EVENTS_PER_SPAN": "7", "TRACEJUDGE_MAX_LOG_EVENT_BYTES_PER_SPAN": "2048",
        }
    )  # fmt: skip

    assert (settings.pending_logs_max_bytes, settings.pending_logs_ttl_s) == (1000, 90.0)
    assert (settings.max_log_events_per_span, settings.max_log_event_bytes_per_span) == (7, 2048)
    assert (Settings().max_log_events_per_span, Settings().max_log_event_bytes_per_span) == (1_000, 4 * 1024 * 1024)
