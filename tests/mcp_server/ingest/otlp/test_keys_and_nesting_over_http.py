"""Through the live endpoint: attributes whose empty key a proto3 JSON encoder omitted are kept
under "", and a value nested too deeply rejects its own span (or its resource's spans), never the
request, in JSON and in protobuf alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from mcp_server.ingest.otlp.span_parts import MAX_VALUE_DEPTH
from mcp_server.settings import Settings
from tests.support.live_server import LiveServer, start_live_server

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(Settings(db_path=tmp_path / "traces.db", port=0))
    yield live
    live.stop()


def _request(n_spans: int = 2) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = "support"
    spans = resource_spans.scope_spans.add().spans
    for i in range(n_spans):
        spans.add(
            trace_id=TRACE, span_id=bytes(7) + bytes([i + 1]), name=f"s{i}",
            start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_001_000_000_000,
        )  # fmt: skip
    return request


def _nest(value: AnyValue, levels: int) -> None:
    """Make value `levels` AnyValues deep: arrays and kvlists in turn around a string."""
    for i in range(levels - 1):
        value = value.array_value.values.add() if i % 2 else value.kvlist_value.values.add(key="k").value
    value.string_value = "leaf"


def _as_otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """The proto3 JSON mapping, which omits fields at their default (an empty key among them);
    its base64 ids are accepted as OTLP/JSON's hex ones are."""
    return json.dumps(json_format.MessageToDict(request)).encode()


def _post(server: LiveServer, request: ExportTraceServiceRequest, encoding: str) -> tuple[int, int, str]:
    """Status, rejected spans and the error message of posting the request in that encoding."""
    if encoding == "json":
        response = httpx2.post(
            f"{server.url}/v1/traces", content=_as_otlp_json(request), headers={"content-type": "application/json"}
        )
        partial = response.json().get("partialSuccess", {}) if response.status_code == 200 else {}
        return response.status_code, int(partial.get("rejectedSpans", 0)), partial.get("errorMessage", response.text)
    response = httpx2.post(
        f"{server.url}/v1/traces",
        content=request.SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    if response.status_code != 200:
        return response.status_code, 0, response.text
    answer = ExportTraceServiceResponse.FromString(response.content).partial_success
    return 200, answer.rejected_spans, answer.error_message


def _stored(server: LiveServer) -> dict[str, tuple[str | None, str | None]]:
    rows = server.db.reader().execute("SELECT name, attributes, resource FROM spans ORDER BY name")
    return {row["name"]: (row["attributes"], row["resource"]) for row in rows}


def test_json_attribute_with_its_empty_key_omitted_is_stored_under_the_empty_key(server: LiveServer) -> None:
    request = _request()
    request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="").value.string_value = "unnamed"
    request.resource_spans[0].resource.attributes.add(key="").value.int_value = 7
    body = json.loads(_as_otlp_json(request))
    assert body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] == [{"value": {"stringValue": "unnamed"}}]

    assert _post(server, request, "json")[:2] == (200, 0)

    stored = _stored(server)
    assert json.loads(stored["s0"][0]) == {"": "unnamed"}
    assert json.loads(stored["s1"][1]) == {"service.name": "support", "": 7}


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
@pytest.mark.parametrize("where", ["attribute", "event attribute"])
def test_a_value_nested_too_deeply_rejects_its_span_alone(server: LiveServer, encoding: str, where: str) -> None:
    request = _request()
    deep_span = request.resource_spans[0].scope_spans[0].spans[1]
    if where == "attribute":
        _nest(deep_span.attributes.add(key="tree").value, 60)
    else:
        event = deep_span.events.add(name="e", time_unix_nano=1_700_000_000_500_000_000)
        _nest(event.attributes.add(key="tree").value, 60)

    status, rejected, message = _post(server, request, encoding)

    assert (status, rejected) == (200, 1), message
    assert "span 1 's1'" in message and f"nested more than {MAX_VALUE_DEPTH} levels deep" in message
    assert list(_stored(server)) == ["s0"]


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_a_value_at_the_depth_limit_is_stored_and_one_past_it_is_rejected(server: LiveServer, encoding: str) -> None:
    request = _request()
    _nest(request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="tree").value, MAX_VALUE_DEPTH)
    _nest(request.resource_spans[0].scope_spans[0].spans[1].attributes.add(key="tree").value, MAX_VALUE_DEPTH + 1)

    status, rejected, message = _post(server, request, encoding)

    assert (status, rejected) == (200, 1), message
    assert "'s1'" in message
    assert list(_stored(server)) == ["s0"]


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_a_resource_value_nested_too_deeply_rejects_that_resources_spans_only(server: LiveServer, encoding: str) -> None:
    request = _request()
    _nest(request.resource_spans[0].resource.attributes.add(key="tree").value, 60)
    healthy = request.resource_spans.add()
    healthy.scope_spans.add().spans.add(
        trace_id=TRACE, span_id=bytes(7) + b"\x09", name="elsewhere",
        start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_001_000_000_000,
    )  # fmt: skip

    status, rejected, message = _post(server, request, encoding)

    assert (status, rejected) == (200, 2), message
    assert "its resource" in message and f"nested more than {MAX_VALUE_DEPTH} levels deep" in message
    assert list(_stored(server)) == ["elsewhere"]
