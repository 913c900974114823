"""Typed records the read side of the store returns for traces and spans.

Single records (a trace, a span) are pydantic models. Rows that come by the thousand per call
(a 30,000-span skeleton, timing rows, text chunks for regex search) are NamedTuples: building one
costs a fraction of a microsecond, a pydantic model several, and these lists are rebuilt on every
ListSpans or GetSpanTimingReport call.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, Field


class AssessmentCount(BaseModel):
    """How many valid assessments of one name and kind a trace carries."""

    name: str
    kind: str
    count: int


class TraceRecord(BaseModel):
    """One row of `traces` with its tags, metadata and assessment summary."""

    trace_id: str
    name: str | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    status: str
    root_span_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    service_name: str | None = None
    span_count: int = 0
    error_count: int = 0
    # None while no model span of the trace reports them: unknown, not zero.
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)
    assessments: list[AssessmentCount] = Field(default_factory=list)

    @property
    def duration_ns(self) -> int | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return self.end_ns - self.start_ns


class SpanRecord(BaseModel):
    """One span's full row. The `*_json` fields hold JSON text exactly as stored."""

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    span_type: str
    kind: str | None = None
    start_ns: int
    end_ns: int | None = None
    status_code: str
    status_message: str | None = None
    inputs_json: str | None = None
    outputs_json: str | None = None
    inputs_source: str | None = None
    outputs_source: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    tool_name: str | None = None
    attributes_json: str | None = None
    events_json: str | None = None
    links_json: str | None = None
    resource_json: str | None = None
    scope_json: str | None = None
    content_chars: int = 0


class SpanNode(NamedTuple):
    """A span in the skeleton of its trace, in tree order; never any content column."""

    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    status_code: str
    start_ns: int
    end_ns: int | None
    content_chars: int
    depth: int
    child_count: int
    orphan: bool
    """True when the span names a parent that is not (yet) in the trace, or sits in a parent
    cycle; it is then shown as a root."""
    row_id: int
    """The span's storage row: rows are numbered in arrival order, so spans with row_id at most
    some n are the spans stored when n was the last."""


class SpanTiming(NamedTuple):
    """What the timing report needs of a span."""

    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    start_ns: int
    end_ns: int | None


SEARCHED_FIELDS: tuple[str, ...] = ("name", "status_message", "inputs", "outputs", "attributes", "events")
"""The span columns regex search scans, in the order matches are reported."""


class SpanText(NamedTuple):
    """A span's searchable text as UTF-8 bytes exactly as stored (JSON text for the JSON columns),
    so a regex engine scans it without a decode and re-encode; `texts` follows SEARCHED_FIELDS."""

    row_id: int
    span_id: str
    name: str
    texts: tuple[bytes | None, ...]
