"""Property tests: decode_request never fails on input other than with InvalidOtlp, a mixed
batch yields exactly its valid spans plus one message per invalid span, and whatever it accepts
the store writes (hostile input included: unpaired surrogates, times up to 2**64-1, NaN and
Infinity, integers beyond 64 bits, deep JSON), while what it rejects leaves the store as it was."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from mcp_server.ingest.otlp import InvalidOtlp, decode_request
from store import Database, SpanIn, write_spans

# Text with unpaired surrogates: json.dumps writes them as "\\ud800" escapes, which orjson
# refuses and the standard parser reads.
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
nasty_text = st.text(alphabet=st.characters() | surrogates, max_size=20)
huge_ints = st.integers() | st.integers(2**63 - 2, 2**70) | st.integers(-(2**70), -(2**63) + 1)

json_values = st.recursive(
    st.none() | st.booleans() | huge_ints | st.floats() | nasty_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
otlp_keys = st.sampled_from(
    ["traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano",
     "attributes", "events", "links", "status", "stringValue", "intValue", "arrayValue",
     "kvlistValue", "values", "key", "value", "code", "message", "timeUnixNano"]
)  # fmt: skip
otlp_shaped = st.recursive(
    st.none() | st.booleans() | huge_ints | st.floats() | nasty_text,
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


# too_slow, as for the hostile batches below: on a loaded machine drawing 12 spans takes over a
# second, and the health check failed the test on the base commit too.
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
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


# Hostile but well-formed spans ---------------------------------------------------------------

times = st.integers(0, 2**64 - 1) | st.integers(2**63 - 3, 2**63 + 3) | st.integers(1, 2**62)
json_texts_that_are_not_strict_json = st.sampled_from(
    [
        '{"temperature": NaN}',
        "[Infinity, -Infinity, 1e999]",
        '{"a": "\\ud800"}',
        '["\\udc00x"]',
        "[" * 990 + "]" * 990,
        '{"big": 123456789012345678901234567890}',
    ]
)
hostile_values = st.one_of(
    nasty_text.map(lambda v: {"stringValue": v}),
    json_texts_that_are_not_strict_json.map(lambda v: {"stringValue": v}),
    huge_ints.map(lambda v: {"intValue": v}),
    huge_ints.map(lambda v: {"intValue": str(v)}),
    st.floats().map(lambda v: {"doubleValue": v}),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(lambda v: {"doubleValue": v}),
    st.lists(st.floats() | huge_ints, max_size=3).map(lambda vs: {"arrayValue": {"values": [{"doubleValue": v} for v in vs]}}),
)
# Keys that the conventions read as JSON, move to inputs/outputs or unflatten.
hostile_keys = nasty_text | st.sampled_from(
    ["gen_ai.input.messages", "gen_ai.tool.definitions", "input.value", "llm.invocation_parameters",
     "metadata", "llm.input_messages.0.message.content", "gen_ai.usage.input_tokens",
     "llm.token_count.total", "session.id", "gen_ai.system", "gen_ai.request.model"]
)  # fmt: skip


def _attributes(draw: Any) -> list[dict[str, Any]]:
    pairs = draw(st.dictionaries(hostile_keys, hostile_values, max_size=4))
    return [{"key": key, "value": value} for key, value in pairs.items()]


def _time(draw: Any, value: int) -> Any:
    return str(value) if draw(st.booleans()) else value


@st.composite
def hostile_spans(draw: Any) -> dict[str, Any]:
    start = draw(times)
    end = draw(st.just(start) | times)
    span: dict[str, Any] = {
        "traceId": draw(hex_ids),
        "spanId": draw(span_ids),
        "name": draw(nasty_text.filter(bool)),
        "startTimeUnixNano": _time(draw, start),
        "endTimeUnixNano": _time(draw, end),
        "attributes": _attributes(draw),
        "status": {"code": draw(st.integers(0, 2)), "message": draw(nasty_text)},
    }
    if draw(st.booleans()):
        span["events"] = [{"name": draw(nasty_text), "timeUnixNano": _time(draw, draw(times)), "attributes": _attributes(draw)}]
    return span


def _hostile_body(spans: list[dict[str, Any]], resource: list[dict[str, Any]], raw_utf8: bool) -> bytes:
    body = {"resourceSpans": [{"resource": {"attributes": resource}, "scopeSpans": [{"scope": {"name": "s"}, "spans": spans}]}]}
    if raw_utf8:
        # Surrogates as raw UTF-8 bytes instead of escapes: only the standard parser reads them.
        return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(body).encode()


SEED_TRACE = "f" * 32


def _seeded_store(path: Any) -> Database:
    db = Database(path)
    seed = [
        SpanIn(trace_id=SEED_TRACE, span_id=f"{i + 1:016x}", name=f"seed {i}", start_ns=1_700_000_000_000_000_000 + i,
               end_ns=1_700_000_000_000_000_100 + i, parent_span_id=None if i == 0 else "0000000000000001",
               span_type="LLM", input_tokens=3, attributes={"k": [i, "é"]})
        for i in range(3)
    ]  # fmt: skip
    write_spans(db, seed)
    return db


def _checksum(db: Database, where_seed: bool = False) -> str:
    """A digest of every row of every table (or of the seed trace's spans and trace row)."""
    reader = db.reader()
    digest = hashlib.sha256()
    if where_seed:
        queries = [("SELECT * FROM spans WHERE trace_id = ? ORDER BY id", (SEED_TRACE,)),
                   ("SELECT * FROM traces WHERE trace_id = ?", (SEED_TRACE,))]  # fmt: skip
    else:
        tables = [r[0] for r in reader.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
        queries = [(f"SELECT * FROM {table} ORDER BY 1, 2", ()) for table in tables]
    for sql, params in queries:
        for row in reader.execute(sql, params):
            digest.update(repr(tuple(row)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _assert_all_stored_json_is_valid(db: Database) -> None:
    reader = db.reader()
    for column in ("inputs", "outputs", "attributes", "events", "links", "resource", "scope"):
        bad = reader.execute(f"SELECT count(*) FROM spans WHERE {column} IS NOT NULL AND NOT json_valid({column})").fetchone()[0]
        assert bad == 0, column
    # The attribute filters read every row with json_each; one invalid row would break them all.
    reader.execute("SELECT count(*) FROM spans, json_each(spans.attributes)").fetchone()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.booleans(), valid_spans(), hostile_spans()), min_size=1, max_size=6),
    # A resource attribute of the wrong type is InvalidOtlp (the request's fault); strings are not.
    st.dictionaries(hostile_keys, (nasty_text | json_texts_that_are_not_strict_json).map(lambda v: {"stringValue": v}), max_size=2),
    st.booleans(),
)
def test_hostile_json_batches_decode_to_spans_the_store_writes_and_report_every_other(tmp_path, choices, resource, raw_utf8):
    spans = [valid if keep else hostile for keep, valid, hostile in choices]
    body = _hostile_body(spans, [{"key": k, "value": v} for k, v in resource.items()], raw_utf8)

    batch = decode_request(body, "json")

    assert len(batch.spans) + len(batch.rejected) == len(spans)
    assert all(isinstance(message, str) and message for message in batch.rejected)
    db = _seeded_store(tmp_path / f"{uuid.uuid4().hex}.db")
    try:
        before = _checksum(db, where_seed=True)
        write_spans(db, batch.spans)
        _assert_all_stored_json_is_valid(db)
        stored = db.reader().execute("SELECT count(*) FROM spans WHERE trace_id != ?", (SEED_TRACE,)).fetchone()[0]
        assert stored == len({(s.trace_id, s.span_id) for s in batch.spans})
        assert _checksum(db, where_seed=True) == before
    finally:
        db.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(hostile_spans(), min_size=1, max_size=4), st.binary(max_size=40), st.booleans())
def test_a_batch_decode_rejects_leaves_an_existing_store_unchanged(tmp_path, spans, junk, raw_utf8):
    # Make every span unstorable one way or another, or the whole body unreadable.
    for i, span in enumerate(spans):
        span.update([("startTimeUnixNano", str(2**63 + i)), ("name", ""), ("spanId", "00" * 8)][i % 3:i % 3 + 1])
    body = _hostile_body(spans, [], raw_utf8)
    db = _seeded_store(tmp_path / f"{uuid.uuid4().hex}.db")
    try:
        before = _checksum(db)
        for candidate, encoding in ((body, "json"), (junk, "json"), (junk, "protobuf"), (body[: len(body) // 2], "json")):
            try:
                batch = decode_request(candidate, encoding)  # type: ignore[arg-type]
            except InvalidOtlp:
                continue
            assert batch.spans == [] and len(batch.rejected) == (len(spans) if candidate is body else len(batch.rejected))
            write_spans(db, batch.spans)
        assert _checksum(db) == before
    finally:
        db.close()


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(times, times, st.lists(st.floats() | st.integers(-(2**63), 2**63 - 1), max_size=3)), min_size=1, max_size=5),
)
def test_hostile_protobuf_batches_decode_to_spans_the_store_writes(tmp_path_factory, spans):
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i, (start, end, numbers) in enumerate(spans):
        span = scope.spans.add(trace_id=bytes(15) + b"\x01", span_id=bytes(7) + bytes([i + 1]), name=f"s{i}")
        span.start_time_unix_nano, span.end_time_unix_nano = start, end
        span.events.add(name="e", time_unix_nano=end)
        for j, number in enumerate(numbers):
            value = span.attributes.add(key=f"a{j}").value
            if isinstance(number, float):
                value.double_value = number
            else:
                value.int_value = number

    batch = decode_request(request.SerializeToString(), "protobuf")

    assert len(batch.spans) + len(batch.rejected) == len(spans)
    db = Database(tmp_path_factory.mktemp("pb") / "traces.db")
    try:
        write_spans(db, batch.spans)
        _assert_all_stored_json_is_valid(db)
    finally:
        db.close()
