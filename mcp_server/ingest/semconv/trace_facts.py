"""Trace facts carried on spans as prefixed properties (Traceloop association properties, Vercel
AI SDK telemetry metadata): a property named like a session or user id names the trace's, the
others become trace metadata. The dialects differ only in the names and in whether an id is also
kept as metadata, so both route through `route_property`."""

from __future__ import annotations

from typing import Any

from mcp_server.ingest.semconv.values import as_tag_value, as_text
from store.incoming import SpanIn


def route_property(
    span: SpanIn,
    name: str,
    value: Any,
    *,
    session_names: frozenset[str],
    user_names: frozenset[str],
    ids_in_metadata: bool,
) -> None:
    """Set the span's session or user id from a property named in session_names / user_names
    (the first value wins); every other property, and with ids_in_metadata the ids too, goes to
    the trace metadata (first write wins)."""
    is_id = True
    if name in session_names:
        span.session_id = span.session_id or as_text(value)
    elif name in user_names:
        span.user_id = span.user_id or as_text(value)
    else:
        is_id = False
    if ids_in_metadata or not is_id:
        span.trace_metadata.setdefault(name, as_tag_value(value))
