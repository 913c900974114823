"""decode_request on protobuf bodies, checked against the real OpenTelemetry SDK and exporter encoder."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from mcp_server.ingest.otlp import InvalidOtlp, decode_request

DATA = Path(__file__).parents[3] / "data"


def _fixture_message() -> ExportTraceServiceRequest:
    """The OTLP/JSON fixture as a protobuf message. OTLP/JSON writes ids in hex where the generic
    proto3 JSON mapping (json_format) expects base64, so the ids are converted first."""
    request = json.loads((DATA / "otlp_genai.json").read_text())
    for span in request["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return json_format.ParseDict(request, ExportTraceServiceRequest())


def _sdk_spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.roundtrip", "1.2.3")
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.route", "/pay")
        linked = root.get_span_context()
        with tracer.start_as_current_span(
            "child", kind=SpanKind.CLIENT, links=[Link(linked, {"link.reason": "retry"})]
        ) as child:
            child.set_attributes(
                {
                    "a.str": "text",
                    "a.bool": True,
                    "a.int": 9007199254740993,
                    "a.neg": -5,
                    "a.float": 0.25,
                    "a.strs": ["x", "y"],
                    "a.ints": [1, 2, 3],
                    "a.floats": [1.5, 2.5],
                    "a.bools": [True, False],
                }
            )
            child.add_event("cache.miss", {"cache.key": "k1", "cache.size": 3})
            child.set_status(Status(StatusCode.ERROR, "card declined"))
    provider.shutdown()
    return exporter.get_finished_spans()


def test_spans_from_the_real_sdk_round_trip_every_field():
    finished = _sdk_spans()
    body = encode_spans(finished).SerializeToString()

    batch = decode_request(body, "protobuf")

    assert batch.rejected == []
    by_name = {span.name: span for span in batch.spans}
    for sdk_span in finished:
        span = by_name[sdk_span.name]
        assert span.trace_id == format(sdk_span.context.trace_id, "032x")
        assert span.span_id == format(sdk_span.context.span_id, "016x")
        assert span.start_ns == sdk_span.start_time
        assert span.end_ns == sdk_span.end_time
        assert span.resource == dict(sdk_span.resource.attributes)
        assert span.service_name == "checkout"
        assert span.scope == {"name": "tests.roundtrip", "version": "1.2.3"}
    root, child = by_name["root"], by_name["child"]
    assert root.parent_span_id is None
    assert child.parent_span_id == root.span_id
    assert (root.kind, child.kind) == ("SERVER", "CLIENT")
    assert root.attributes == {"http.route": "/pay"}
    assert child.attributes == {
        "a.str": "text",
        "a.bool": True,
        "a.int": 9007199254740993,
        "a.neg": -5,
        "a.float": 0.25,
        "a.strs": ["x", "y"],
        "a.ints": [1, 2, 3],
        "a.floats": [1.5, 2.5],
        "a.bools": [True, False],
    }
    (event,) = child.events
    assert event == {
        "name": "cache.miss",
        "time_ns": finished[0].events[0].timestamp,
        "attributes": {"cache.key": "k1", "cache.size": 3},
    }
    assert child.links == [{"trace_id": root.trace_id, "span_id": root.span_id, "attributes": {"link.reason": "retry"}}]
    assert (child.status_code, child.status_message) == ("ERROR", "card declined")
    assert (root.status_code, root.status_message) == ("UNSET", None)
    assert root.span_type == child.span_type == "UNKNOWN"


def test_protobuf_and_json_of_the_same_request_give_identical_spans():
    text = (DATA / "otlp_genai.json").read_text()
    message = _fixture_message()

    from_protobuf = decode_request(message.SerializeToString(), "protobuf")
    from_json = decode_request(text.encode(), "json")
    from_reference_json = decode_request(json_format.MessageToJson(message).encode(), "json")

    assert from_protobuf.rejected == from_json.rejected == []
    assert len(from_protobuf.spans) == 3
    assert from_protobuf.spans == from_json.spans == from_reference_json.spans


def test_kvlist_and_bytes_values_decode_to_dict_and_base64():
    message = _fixture_message()
    span = message.resource_spans[0].scope_spans[0].spans[0]
    extra = span.attributes.add(key="nested")
    inner = extra.value.kvlist_value.values.add(key="k")
    inner.value.array_value.values.add().int_value = 7
    span.attributes.add(key="blob").value.bytes_value = b"\x00\xff"
    span.attributes.add(key="empty")

    (decoded, *_) = decode_request(message.SerializeToString(), "protobuf").spans

    assert decoded.attributes["nested"] == {"k": [7]}
    assert decoded.attributes["blob"] == "AP8="
    assert decoded.attributes["empty"] is None


def test_a_span_with_a_bad_id_is_rejected_alone_with_its_position():
    message = _fixture_message()
    message.resource_spans[0].scope_spans[0].spans[1].trace_id = b"\x01\x02"

    batch = decode_request(message.SerializeToString(), "protobuf")

    assert [span.name for span in batch.spans] == ["invoke_agent weather", "execute_tool get_weather"]
    assert batch.rejected == [
        "span 1 'chat gpt-4o' of scope 'opentelemetry.instrumentation.openai_v2' in resource 0: "
        "trace_id is 2 bytes, not 16"
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: setattr(s, "name", ""), "span has no name"),
        (lambda s: setattr(s, "span_id", b"\x00" * 8), "span_id is all zeros"),
        (lambda s: setattr(s, "start_time_unix_nano", 0), "start_time_unix_nano is missing or 0"),
        (lambda s: setattr(s, "end_time_unix_nano", 5), "is before start_time_unix_nano"),
        (lambda s: setattr(s, "parent_span_id", b"\x01"), "parent_span_id is 1 bytes, not 8"),
    ],
)
def test_unusable_spans_are_rejected_with_the_reason(change, reason):
    message = _fixture_message()
    change(message.resource_spans[0].scope_spans[0].spans[0])

    batch = decode_request(message.SerializeToString(), "protobuf")

    assert len(batch.spans) == 2
    assert len(batch.rejected) == 1 and reason in batch.rejected[0]


def test_unknown_kind_and_status_numbers_are_accepted_as_internal_and_unset():
    message = _fixture_message()
    span = message.resource_spans[0].scope_spans[0].spans[0]
    span.kind = 0
    span.status.code = 0

    decoded = decode_request(message.SerializeToString(), "protobuf").spans[0]

    assert (decoded.kind, decoded.status_code) == ("INTERNAL", "UNSET")


def test_an_empty_body_is_an_empty_export():
    assert decode_request(b"", "protobuf").spans == []


def test_json_sent_as_protobuf_is_invalid_otlp_saying_to_change_the_content_type():
    body = (DATA / "otlp_genai.json").read_bytes()
    with pytest.raises(InvalidOtlp, match="Content-Type: application/json"):
        decode_request(body, "protobuf")


def test_bytes_that_are_not_an_export_are_invalid_otlp():
    with pytest.raises(InvalidOtlp, match="ExportTraceServiceRequest"):
        decode_request(b"\x08\x96\x01", "protobuf")
    with pytest.raises(InvalidOtlp):
        decode_request(b"\xff\xff\xff", "protobuf")


def _request_with(*starts: int, event_time: int | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i, start in enumerate(starts):
        span = scope.spans.add(trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"), span_id=bytes(7) + bytes([i + 1]), name=f"s{i}")
        span.start_time_unix_nano = span.end_time_unix_nano = start
        if event_time is not None and i == len(starts) - 1:
            span.events.add(name="tick", time_unix_nano=event_time)
    return request


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        (_request_with(1_700_000_000_000_000_000, 2**63 + 5), "start_time_unix_nano 9223372036854775813 is after the year 2262"),
        (_request_with(1_700_000_000_000_000_000, 1_700_000_000_000_000_000, event_time=2**64 - 1), "event 'tick' time_unix_nano 18446744073709551615"),
    ],
)
def test_a_uint64_time_beyond_int64_rejects_its_span_and_the_good_neighbour_is_written(db, request_, says):
    from store import write_spans

    batch = decode_request(request_.SerializeToString(), "protobuf")

    assert [s.name for s in batch.spans] == ["s0"]
    assert len(batch.rejected) == 1 and says in batch.rejected[0]
    write_spans(db, batch.spans)


def test_non_finite_doubles_are_kept_as_text_the_store_can_write(db):
    from store import write_spans

    request = _request_with(1_700_000_000_000_000_000)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    for key, number in (("nan", float("nan")), ("inf", float("inf")), ("ninf", float("-inf"))):
        span.attributes.add(key=key).value.double_value = number

    (decoded,) = decode_request(request.SerializeToString(), "protobuf").spans

    assert {k: decoded.attributes[k] for k in ("nan", "inf", "ninf")} == {"nan": "nan", "inf": "inf", "ninf": "-inf"}
    write_spans(db, [decoded])
    assert db.reader().execute("SELECT json_valid(attributes) FROM spans").fetchone()[0] == 1


def test_invalid_utf8_in_a_protobuf_string_is_refused_by_the_parser_as_invalid_otlp():
    request = _request_with(1_700_000_000_000_000_000)
    request.resource_spans[0].scope_spans[0].spans[0].name = "xPLACEHOLDERy"
    body = request.SerializeToString().replace(b"PLACEHOLDER", b"\xed\xa0\x80" + b"\x00" * 8)
    with pytest.raises(InvalidOtlp, match="does not parse as protobuf"):
        decode_request(body, "protobuf")


def test_flattened_keys_too_deep_to_rebuild_reject_their_span_not_the_request():
    request = _request_with(1_700_000_000_000_000_000, 1_700_000_000_000_000_000)
    span = request.resource_spans[0].scope_spans[0].spans[1]
    span.attributes.add(key="llm.input_messages.0.message.role").value.string_value = "user"
    span.attributes.add(key="llm.input_messages.1" + ".0" * 5000).value.string_value = "deep"

    batch = decode_request(request.SerializeToString(), "protobuf")

    assert [s.name for s in batch.spans] == ["s0"]
    assert "could not be read (RecursionError" in batch.rejected[0]
