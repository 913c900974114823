"""decode_request on OTLP/JSON bodies: the OTLP/JSON mapping and what real exporters send."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from mcp_server.otlp import InvalidOtlp, decode_request

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def _body(*spans: dict[str, Any], resource: list[dict[str, Any]] | None = None) -> bytes:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": resource or []},
                    "scopeSpans": [{"scope": {"name": "app", "version": "1.0"}, "spans": list(spans)}],
                }
            ]
        }
    ).encode()


def _span(**fields: Any) -> dict[str, Any]:
    span = {"traceId": TRACE, "spanId": SPAN, "name": "work", "startTimeUnixNano": "1700000000000000000"}
    span.update(fields)
    return span


def test_uppercase_hex_and_base64_ids_normalize_to_lowercase_hex():
    batch = decode_request(
        _body(
            _span(traceId=TRACE.upper(), spanId=SPAN.upper(), parentSpanId="AAAAAAAAAAE="),
            _span(traceId=base64.b64encode(bytes.fromhex(TRACE)).decode(), spanId=base64.b64encode(bytes.fromhex(SPAN)).decode()),
        ),
        "json",
    )
    assert batch.rejected == []
    assert [(s.trace_id, s.span_id) for s in batch.spans] == [(TRACE, SPAN), (TRACE, SPAN)]
    assert batch.spans[0].parent_span_id == "0000000000000001"


def test_64_bit_integers_may_be_strings_or_numbers():
    batch = decode_request(
        _body(
            _span(
                startTimeUnixNano=1700000000000000000,
                endTimeUnixNano="1700000000500000000",
                attributes=[
                    {"key": "as.string", "value": {"intValue": "9223372036854775807"}},
                    {"key": "as.number", "value": {"intValue": -3}},
                ],
            )
        ),
        "json",
    )
    (span,) = batch.spans
    assert (span.start_ns, span.end_ns) == (1700000000000000000, 1700000000500000000)
    assert span.attributes == {"as.string": 9223372036854775807, "as.number": -3}


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (2, 2, ("SERVER", "ERROR")),
        ("SPAN_KIND_CLIENT", "STATUS_CODE_OK", ("CLIENT", "OK")),
        ("SPAN_KIND_UNSPECIFIED", "STATUS_CODE_UNSET", ("INTERNAL", "UNSET")),
        (5, 1, ("CONSUMER", "OK")),
        (42, "SOMETHING_NEW", ("INTERNAL", "UNSET")),
    ],
)
def test_enums_are_read_as_numbers_or_names(kind, status, expected):
    (span,) = decode_request(_body(_span(kind=kind, status={"code": status, "message": "m"})), "json").spans
    assert (span.kind, span.status_code) == expected


def test_snake_case_field_names_are_accepted_too():
    body = json.dumps(
        {
            "resource_spans": [
                {
                    "scope_spans": [
                        {
                            "spans": [
                                {
                                    "trace_id": TRACE,
                                    "span_id": SPAN,
                                    "parent_span_id": "",
                                    "name": "work",
                                    "start_time_unix_nano": "1",
                                    "attributes": [{"key": "k", "value": {"string_value": "v"}}],
                                    "events": [{"name": "e", "time_unix_nano": "2"}],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    (span,) = decode_request(body, "json").spans
    assert span.parent_span_id is None
    assert span.attributes == {"k": "v"}
    assert span.events == [{"name": "e", "time_ns": 2, "attributes": {}}]


def test_every_attribute_type_decodes_to_plain_python():
    attributes = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "b", "value": {"boolValue": False}},
        {"key": "d", "value": {"doubleValue": 1.5}},
        {"key": "d.int", "value": {"doubleValue": 2}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "bytes", "value": {"bytesValue": "AP8="}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "two"}]}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "inner", "value": {"boolValue": True}}]}}},
        {"key": "none", "value": {}},
        {"key": "json.text", "value": {"stringValue": '{"kept": "as text"}'}},
    ]
    (span,) = decode_request(_body(_span(attributes=attributes)), "json").spans
    assert span.attributes == {
        "s": "x",
        "b": False,
        "d": 1.5,
        "d.int": 2.0,
        "nan": "nan",
        "bytes": "AP8=",
        "arr": [1, "two"],
        "kv": {"inner": True},
        "none": None,
        "json.text": '{"kept": "as text"}',
    }


def test_resource_scope_service_links_and_events_are_kept():
    body = _body(
        _span(
            links=[{"traceId": TRACE, "spanId": "0000000000000002", "attributes": [{"key": "why", "value": {"stringValue": "batch"}}]}],
            events=[{"name": "exception", "timeUnixNano": "1700000000000000001", "attributes": [{"key": "exception.type", "value": {"stringValue": "ValueError"}}]}],
        ),
        resource=[{"key": "service.name", "value": {"stringValue": "api"}}],
    )
    (span,) = decode_request(body, "json").spans
    assert span.service_name == "api"
    assert span.resource == {"service.name": "api"}
    assert span.scope == {"name": "app", "version": "1.0"}
    assert span.links == [{"trace_id": TRACE, "span_id": "0000000000000002", "attributes": {"why": "batch"}}]
    assert span.events == [
        {"name": "exception", "time_ns": 1700000000000000001, "attributes": {"exception.type": "ValueError"}}
    ]


def test_bad_spans_are_rejected_one_message_each_and_good_neighbours_kept():
    body = _body(
        _span(name="good.0"),
        _span(traceId="zz"),
        _span(name=None),
        _span(startTimeUnixNano="soon"),
        _span(attributes=[{"key": "x", "value": {"intValue": "1.5"}}]),
        "not a span",
        _span(name="good.1", endTimeUnixNano="1700000000000000001"),
    )
    batch = decode_request(body, "json")
    assert [s.name for s in batch.spans] == ["good.0", "good.1"]
    assert len(batch.rejected) == 5
    assert batch.rejected[0] == (
        "span 1 'work' of scope 'app' in resource 0: trace_id 'zz' is not 32 hex characters "
        "(or 16 bytes in base64)"
    )
    assert "span has no name" in batch.rejected[1]
    assert "startTimeUnixNano 'soon' is not a non-negative integer" in batch.rejected[2]
    assert "intValue '1.5' is not an integer" in batch.rejected[3]
    assert "span 5 of scope 'app' in resource 0: is str, not an object" == batch.rejected[4]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "the JSON body is list, not an object"),
        (b"null", "the JSON body is null"),
        (b'{"info": {}, "data": {}}', "has no resourceSpans (its keys: 'info', 'data')"),
        (b'{"resourceSpans": {"oops": 1}}', "resourceSpans is dict, not a list"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": 3}]}]}', "spans is int, not a list"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_bodies_that_are_not_an_otlp_export_raise_invalid_otlp_saying_what_to_send(body, says):
    with pytest.raises(InvalidOtlp) as raised:
        decode_request(body, "json")
    assert says in str(raised.value)
    assert "resourceSpans" in str(raised.value) or "OTLP" in str(raised.value)


def test_an_export_with_no_spans_is_empty_not_an_error():
    assert decode_request(b'{"resourceSpans": []}', "json").spans == []
