"""decode_logs_request: OTLP logs exports (protobuf and JSON alike) into the span-event form of each
record, and a message for each record it cannot keep."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from mcp_server.ingest.otlp import InvalidOtlp
from mcp_server.ingest.otlp.decode import decode_logs_request
from mcp_server.ingest.otlp.span_parts import MAX_VALUE_DEPTH

TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
SPAN = bytes.fromhex("00f067aa0ba902b7")


def _request() -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    scope_logs.scope.name = "opentelemetry.instrumentation.openai_v2"
    return request


def _both(request: ExportLogsServiceRequest):
    """The request decoded from protobuf and from its proto3 JSON; the two must agree."""
    from_protobuf = decode_logs_request(request.SerializeToString(), "protobuf")
    from_json = decode_logs_request(json.dumps(json_format.MessageToDict(request)).encode(), "json")
    assert from_protobuf == from_json
    return from_protobuf


def test_a_record_becomes_the_span_event_of_its_name_with_body_attributes_and_severity() -> None:
    request = _request()
    record = request.resource_logs[0].scope_logs[0].log_records.add(
        trace_id=TRACE, span_id=SPAN, time_unix_nano=1_700_000_000_000_000_001, event_name="gen_ai.choice",
        severity_number=9,
    )  # fmt: skip
    record.attributes.add(key="gen_ai.system").value.string_value = "openai"
    message = record.body.kvlist_value.values.add(key="message").value.kvlist_value
    message.values.add(key="content").value.string_value = "Refunded."
    record.body.kvlist_value.values.add(key="index").value.int_value = 0

    (log,) = _both(request).logs

    assert (log.trace_id, log.span_id) == (TRACE.hex(), SPAN.hex())
    assert log.event == {
        "name": "gen_ai.choice", "time_ns": 1_700_000_000_000_000_001, "attributes": {"gen_ai.system": "openai"},
        "body": {"message": {"content": "Refunded."}, "index": 0},
        "log": {"scope": "opentelemetry.instrumentation.openai_v2", "severity": "INFO"},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("event_name", "attributes", "expected"),
    [
        ("gen_ai.user.message", {"event.name": "ignored"}, "gen_ai.user.message"),
        ("", {"event.name": "gen_ai.user.message"}, "gen_ai.user.message"),
        ("", {"event_name": "gen_ai.content.prompt"}, "gen_ai.content.prompt"),
        ("", {}, "log"),
    ],
)
def test_the_event_name_comes_from_the_field_then_the_attributes_sdks_and_litellm_use(event_name, attributes, expected) -> None:
    request = _request()
    record = request.resource_logs[0].scope_logs[0].log_records.add(trace_id=TRACE, span_id=SPAN, event_name=event_name)
    for key, value in attributes.items():
        record.attributes.add(key=key).value.string_value = value

    (log,) = _both(request).logs

    assert log.event["name"] == expected


def test_observed_time_stands_in_for_a_missing_time_and_severity_text_wins_over_the_number() -> None:
    request = _request()
    request.resource_logs[0].scope_logs[0].log_records.add(
        trace_id=TRACE, span_id=SPAN, observed_time_unix_nano=42, severity_number=17, severity_text="oops"
    )

    (log,) = _both(request).logs

    assert log.event["time_ns"] == 42 and log.event["log"]["severity"] == "oops"
    assert "body" not in log.event


def test_bad_records_are_rejected_alone_with_their_position_and_reason() -> None:
    request = _request()
    records = request.resource_logs[0].scope_logs[0].log_records
    records.add(trace_id=TRACE, span_id=SPAN, event_name="kept")
    records.add(event_name="no ids")
    records.add(trace_id=TRACE, span_id=SPAN, event_name="late", time_unix_nano=2**63)
    deep = records.add(trace_id=TRACE, span_id=SPAN, event_name="deep").body
    for _ in range(MAX_VALUE_DEPTH):
        deep = deep.array_value.values.add()
    deep.string_value = "leaf"

    decoded = _both(request)

    assert [log.event["name"] for log in decoded.logs] == ["kept"]
    scope = "of scope 'opentelemetry.instrumentation.openai_v2' in resource 0"
    assert decoded.rejected == [
        f"log record 1 'no ids' {scope}: has no trace_id and span_id; tracejudge keeps a log record as an "
        "event of the span it names, so emit it while that span is current (the SDK then sets both ids)",
        f"log record 2 'late' {scope}: time_unix_nano {2**63} is after the year 2262 (beyond 2**63-1 ns), "
        "later than the store can hold; send nanoseconds since the Unix epoch",
        f"log record 3 'deep' {scope}: the body is nested more than {MAX_VALUE_DEPTH} levels deep; send a "
        "structure that deep as JSON text in a string attribute",
    ]


def test_a_body_too_deep_for_protobuf_to_parse_rejects_only_its_record() -> None:
    request = _request()
    records = request.resource_logs[0].scope_logs[0].log_records
    records.add(trace_id=TRACE, span_id=SPAN, event_name="kept")
    value: AnyValue = records.add(trace_id=TRACE, span_id=SPAN, event_name="deep").body
    for _ in range(60):
        value = value.kvlist_value.values.add(key="k").value

    decoded = decode_logs_request(request.SerializeToString(), "protobuf")

    assert [log.event["name"] for log in decoded.logs] == ["kept"]
    assert decoded.rejected[0].startswith("log record 1 'deep' of scope")
    assert f"nested more than {MAX_VALUE_DEPTH} levels deep" in decoded.rejected[0]


@pytest.mark.parametrize(
    ("body", "encoding", "says"),
    [
        (b"\x0a\x03abc\xff", "protobuf", "not an OTLP ExportLogsServiceRequest in protobuf"),
        (b'{"resourceSpans": []}', "json", "This is an OTLP ExportTraceServiceRequest: POST it to /v1/traces."),
        (b"[1]", "json", 'send an OTLP/JSON ExportLogsServiceRequest such as {"resourceLogs": [...]}'),
        (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": {}}]}]}', "json", "logRecords is dict, not a list"),
    ],
)
def test_a_body_that_is_no_logs_export_is_invalid_otlp_saying_what_to_send(body: bytes, encoding: str, says: str) -> None:
    with pytest.raises(InvalidOtlp) as raised:
        decode_logs_request(body, encoding)  # type: ignore[arg-type]
    assert says in str(raised.value)
