"""decode_request on OTLP/JSON bodies: the OTLP/JSON mapping and what real exporters send."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from mcp_server.ingest.otlp import InvalidOtlp, decode_request

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


# Values the store cannot hold: each rejects its span alone, and what is accepted always writes.


def _decode_and_write(db: Any, body: bytes) -> Any:
    from store import write_spans

    batch = decode_request(body, "json")
    write_spans(db, batch.spans)
    return batch


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"startTimeUnixNano": "18446744073709551615", "endTimeUnixNano": "18446744073709551615"}, "start_time_unix_nano 18446744073709551615 is after the year 2262"),
        ({"startTimeUnixNano": str(2**63)}, "start_time_unix_nano 9223372036854775808"),
        ({"endTimeUnixNano": "99999999999999999999"}, "end_time_unix_nano 99999999999999999999"),
        ({"endTimeUnixNano": 1e30}, "end_time_unix_nano"),
        ({"events": [{"name": "tick", "timeUnixNano": str(2**64 - 1)}]}, "event 'tick' time_unix_nano 18446744073709551615"),
    ],
)
def test_a_time_beyond_int64_rejects_its_span_and_the_good_neighbour_is_written(db, fields, says):
    good = _span(spanId="eee19b7ec3c1b171")
    bad = _span(spanId="eee19b7ec3c1b172", **fields)

    batch = _decode_and_write(db, _body(good, bad))

    assert [s.span_id for s in batch.spans] == ["eee19b7ec3c1b171"]
    (message,) = batch.rejected
    assert says in message and "span 1 'work'" in message
    assert db.reader().execute("SELECT count(*) FROM spans").fetchone()[0] == 1


def test_the_latest_time_the_store_holds_is_accepted(db):
    batch = _decode_and_write(db, _body(_span(startTimeUnixNano=str(2**63 - 1), endTimeUnixNano=str(2**63 - 1))))
    assert batch.rejected == [] and batch.spans[0].start_ns == 2**63 - 1


def _with_escape(body: bytes, placeholder: str, escape: str) -> bytes:
    # json.dumps would escape the backslash; the body must carry the JSON escape itself.
    return body.replace(placeholder.encode(), escape.encode())


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("name", "a string in the span holds an unpaired UTF-16 surrogate"),
        ("attribute", "a string in the span holds an unpaired UTF-16 surrogate"),
        ("event", "a string in the span holds an unpaired UTF-16 surrogate"),
    ],
)
def test_an_unpaired_surrogate_rejects_its_span_and_the_good_neighbour_is_written(db, where, says):
    fields: dict[str, Any] = {
        "name": {"name": "xPLACEHOLDERy"},
        "attribute": {"attributes": [{"key": "k", "value": {"stringValue": "PLACEHOLDER"}}]},
        "event": {"events": [{"name": "e", "timeUnixNano": "1700000000000000001", "attributes": [{"key": "PLACEHOLDER", "value": {"intValue": 1}}]}]},
    }[where]
    body = _with_escape(_body(_span(spanId="eee19b7ec3c1b171"), _span(spanId="eee19b7ec3c1b172", **fields)), "PLACEHOLDER", "\\ud800")

    batch = _decode_and_write(db, body)

    assert [s.span_id for s in batch.spans] == ["eee19b7ec3c1b171"]
    (message,) = batch.rejected
    assert says in message and "span 1" in message


def test_an_unpaired_surrogate_as_raw_bytes_rejects_its_span_too(db):
    # The standard parser decodes bytes with surrogatepass, so UTF-8-encoded surrogates get through it.
    body = _body(_span(spanId="eee19b7ec3c1b171"), _span(spanId="eee19b7ec3c1b172", name="xPLACEHOLDER")).replace(b"PLACEHOLDER", b"\xed\xa0\x80")
    batch = _decode_and_write(db, body)
    assert [s.span_id for s in batch.spans] == ["eee19b7ec3c1b171"] and len(batch.rejected) == 1


def test_an_unpaired_surrogate_in_the_resource_rejects_the_spans_of_that_resource_only(db):
    body = json.dumps(
        {
            "resourceSpans": [
                {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "PLACEHOLDER"}}]}, "scopeSpans": [{"spans": [_span(spanId="eee19b7ec3c1b172")]}]},
                {"scopeSpans": [{"spans": [_span(spanId="eee19b7ec3c1b171")]}]},
            ]
        }
    ).encode()
    batch = _decode_and_write(db, _with_escape(body, "PLACEHOLDER", "\\udfff"))
    assert [s.span_id for s in batch.spans] == ["eee19b7ec3c1b171"]
    assert "a string in its resource holds an unpaired UTF-16 surrogate" in batch.rejected[0]


def test_a_surrogate_pair_written_as_two_escapes_is_text_and_kept(db):
    body = _with_escape(_body(_span(name="PLACEHOLDER")), "PLACEHOLDER", "\\ud83d\\ude00")
    batch = _decode_and_write(db, body)
    assert batch.spans[0].name == "\U0001f600"


def test_json_text_in_an_attribute_with_an_unpaired_surrogate_stays_the_text_it_came_as(db):
    text = '{"role": "user", "content": "\\ud800"}'
    attributes = [{"key": "gen_ai.tool.definitions", "value": {"stringValue": text}}, {"key": "gen_ai.input.messages", "value": {"stringValue": text}}]
    batch = _decode_and_write(db, _body(_span(attributes=attributes)))
    (span,) = batch.spans
    assert span.attributes["gen_ai.tool.definitions"] == text
    assert json.loads(span.inputs_json) == text


def test_nan_and_infinity_in_a_json_body_are_kept_as_text_and_the_store_stays_valid_json(db):
    body = _body(
        _span(
            attributes=[
                {"key": "llm.invocation_parameters", "value": {"stringValue": '{"temperature": NaN, "top_p": Infinity, "x": -1e999}'}},
                {"key": "bare", "value": {"doubleValue": 0}},
            ]
        )
    ).replace(b'"doubleValue": 0', b'"doubleValue": -Infinity')

    (span,) = _decode_and_write(db, body).spans

    assert span.attributes["llm.invocation_parameters"] == {"temperature": "nan", "top_p": "inf", "x": "-inf"}
    assert span.attributes["bare"] == "-inf"
    reader = db.reader()
    assert reader.execute("SELECT count(*) FROM spans, json_each(spans.attributes)").fetchone()[0] == 2


def test_nan_in_json_text_moved_to_inputs_is_encoded_again_not_kept_as_invalid_text(db):
    attributes = [
        {"key": "input.value", "value": {"stringValue": '{"temperature": NaN}'}},
        {"key": "input.mime_type", "value": {"stringValue": "application/json"}},
    ]
    (span,) = _decode_and_write(db, _body(_span(attributes=attributes))).spans
    assert json.loads(span.inputs_json) == {"temperature": "nan"}
    assert db.reader().execute("SELECT json_valid(inputs) FROM spans").fetchone()[0] == 1


def test_json_text_nested_deeper_than_the_store_can_write_stays_text(db):
    deep = "[" * 995 + "]" * 995
    attributes = [{"key": "gen_ai.tool.definitions", "value": {"stringValue": deep}}]
    (span,) = _decode_and_write(db, _body(_span(attributes=attributes))).spans
    assert span.attributes["gen_ai.tool.definitions"] == deep
