"""Property tests: decode_request never fails on input other than with InvalidOtlp, and a mixed
batch yields exactly its valid spans plus one message per invalid span."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_server.otlp import InvalidOtlp, decode_request
from store import Database, write_spans

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
otlp_keys = st.sampled_from(
    ["traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano",
     "attributes", "events", "links", "status", "stringValue", "intValue", "arrayValue",
     "kvlistValue", "values", "key", "value", "code", "message", "timeUnixNano"]
)  # fmt: skip
otlp_shaped = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(otlp_keys, children, max_size=6),
    max_leaves=30,
)


def _decodes_or_invalid(body: bytes, encoding: str) -> None:
    try:
        batch = decode_request(body, encoding)  # type: ignore[arg-type]
    except InvalidOtlp:
        return
    assert all(isinstance(message, str) and message for message in batch.rejected)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_nothing_but_invalid_otlp(body):
    _decodes_or_invalid(body, "protobuf")
    _decodes_or_invalid(body, "json")


@given(json_values)
def test_arbitrary_json_raises_nothing_but_invalid_otlp(value):
    _decodes_or_invalid(json.dumps(value).encode(), "json")


@given(st.lists(otlp_shaped, max_size=4), otlp_shaped)
def test_arbitrary_spans_inside_a_valid_envelope_raise_nothing_but_invalid_otlp(spans, resource):
    body = {"resourceSpans": [{"resource": {"attributes": resource}, "scopeSpans": [{"spans": spans}]}]}
    _decodes_or_invalid(json.dumps(body).encode(), "json")


hex_ids = st.binary(min_size=16, max_size=16).filter(any).map(bytes.hex)
span_ids = st.binary(min_size=8, max_size=8).filter(any).map(bytes.hex)
attribute_values = st.one_of(
    st.text(max_size=30).map(lambda v: {"stringValue": v}),
    st.integers(-(2**63), 2**63 - 1).map(lambda v: {"intValue": str(v)}),
    st.booleans().map(lambda v: {"boolValue": v}),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: {"doubleValue": v}),
)


@st.composite
def valid_spans(draw: Any) -> dict[str, Any]:
    start = draw(st.integers(1, 2**62))
    return {
        "traceId": draw(hex_ids),
        "spanId": draw(span_ids),
        "name": draw(st.text(min_size=1, max_size=20)),
        "kind": draw(st.integers(0, 5)),
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + draw(st.integers(0, 10**12))),
        "attributes": [
            {"key": key, "value": value}
            for key, value in draw(st.dictionaries(st.text(min_size=1, max_size=10), attribute_values, max_size=5)).items()
        ],
    }


invalid_spans = st.one_of(
    valid_spans().map(lambda s: {**s, "traceId": "not-an-id"}),
    valid_spans().map(lambda s: {**s, "spanId": "00" * 8}),
    valid_spans().map(lambda s: {**s, "name": ""}),
    valid_spans().map(lambda s: {**s, "startTimeUnixNano": "0"}),
    valid_spans().map(lambda s: {**s, "endTimeUnixNano": "1", "startTimeUnixNano": "2"}),
    valid_spans().map(lambda s: {**s, "attributes": [{"key": "k", "value": {"intValue": "x"}}]}),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.booleans(), valid_spans(), invalid_spans), min_size=1, max_size=12))
def test_a_mixed_batch_yields_exactly_the_valid_spans_and_the_store_holds_them(db: Database, choices):
    spans = [valid if keep else invalid for keep, valid, invalid in choices]
    expected = [(s["traceId"], s["spanId"], s["name"]) for (keep, s, _) in choices if keep]
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()

    batch = decode_request(body, "json")

    assert [(s.trace_id, s.span_id, s.name) for s in batch.spans] == expected
    assert len(batch.rejected) == len(choices) - len(expected)
    write_spans(db, batch.spans)
    stored = {
        (row["trace_id"], row["span_id"]): row["name"]
        for row in db.reader().execute("SELECT trace_id, span_id, name FROM spans")
    }
    # Within a batch the last copy of a repeated (trace_id, span_id) wins, as in the store.
    assert {(t, s): n for t, s, n in expected}.items() <= stored.items()
