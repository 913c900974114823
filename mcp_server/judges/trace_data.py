"""What judges read from a stored trace: the root span's inputs and outputs, the trace's
expectations, retrieved documents and tool calls. Reads go through the store's typed functions;
each one reads only the spans it needs.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from store import Database
from store import assessments as assessment_store
from store.records import SpanNode
from store.spans import get_root_span, get_span, list_span_tree

EXPECTATIONS_PAGE = 200


def decode(text: str | None) -> Any:
    """A stored JSON column as a value (None when empty; the text itself if it is not JSON)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def root_inputs_outputs(db: Database, trace_id: str) -> tuple[Any, Any]:
    """The root span's inputs and outputs, decoded. RootSpanNotFound while it has not arrived."""
    root = get_root_span(db, trace_id)
    return decode(root.inputs_json), decode(root.outputs_json)


def trace_expectations(db: Database, trace_id: str) -> dict[str, Any]:
    """The trace's valid expectations, name -> value (the latest logged wins for a repeated name)."""
    found: dict[str, Any] = {}
    after = None
    while True:
        records, _ = assessment_store.list_assessments(
            db, trace_id, kind="expectation", limit=EXPECTATIONS_PAGE, after=after
        )
        for record in records:
            found[record.name] = record.value
        if len(records) < EXPECTATIONS_PAGE:
            return found
        after = (records[-1].created_ns, records[-1].assessment_id)


class SpanCall(BaseModel):
    """A span of one type as judges see it: where it is, what went in and what came out."""

    span_id: str
    name: str
    tool_name: str | None = None
    status: str
    inputs: Any = None
    outputs: Any = None


def spans_of_type(db: Database, trace_id: str, span_type: str, *, limit: int = 200) -> list[SpanCall]:
    """The trace's spans of `span_type` (e.g. TOOL, RETRIEVER) in tree order, at most `limit`."""
    wanted = [node for node in list_span_tree(db, trace_id) if node.span_type == span_type][:limit]
    return [_call(db, trace_id, node) for node in wanted]


def _call(db: Database, trace_id: str, node: SpanNode) -> SpanCall:
    span = get_span(db, trace_id, node.span_id)
    return SpanCall(
        span_id=span.span_id,
        name=span.name,
        tool_name=span.tool_name,
        status=span.status_code,
        inputs=decode(span.inputs_json),
        outputs=decode(span.outputs_json),
    )
