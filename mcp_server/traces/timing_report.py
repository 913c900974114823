"""GetSpanTimingReport: where a trace's time went, in a bounded answer.

Self time of a span is its duration minus the time covered by at least one of its children
(clipped to the span), so self times add up without counting overlap twice. The critical path
starts at the root and repeatedly steps to the child that finished last: the chain that decided
when the trace ended. A span without an end time counts as zero long.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, Field

from mcp_server.tooling.paging import answer_chars, check_range, clip
from mcp_server.tooling.timestamps import ms
from store import Database
from store.ids import normalize_trace_id
from store.records import SpanTiming
from store.spans import list_span_timings

MAX_RESULTS = 100
"""Largest max_results accepted (entries per list)."""
ANSWER_CHARS = 40_000
"""Size cap of one answer; lists are shortened (with a notice) to stay under it."""
NAME_CHARS = 80

DESCRIPTION = """\
Where one trace's time went: critical path, slowest spans by self time, time by span type,
concurrent siblings. For latency questions.
Example: GetSpanTimingReport(trace_id="4bf92f35...", max_results=10)"""


class TimedSpan(BaseModel):
    span_id: str
    name: str
    span_type: str
    start_offset_ms: float
    duration_ms: float
    self_time_ms: float


class TypeTime(BaseModel):
    span_type: str
    span_count: int
    self_time_ms: float
    total_time_ms: float = Field(description="Sum of durations; overlaps and nesting count more than once.")


class ConcurrentChildren(BaseModel):
    parent_span_id: str
    parent_name: str
    child_count: int
    overlapping_children: int
    max_concurrency: int = Field(description="Most children running at the same moment.")
    overlap_ms: float = Field(description="Time during which two or more children ran at once.")
    example_span_ids: list[str]


class SpanTimingReport(BaseModel):
    trace_id: str
    span_count: int
    unfinished_spans: int
    trace_duration_ms: float
    critical_path: list[TimedSpan]
    critical_path_length: int
    critical_path_omitted: int = Field(description="Spans from the middle of the critical path left out.")
    slowest_by_self_time: list[TimedSpan]
    time_by_span_type: list[TypeTime]
    concurrent_siblings: list[ConcurrentChildren]
    parents_with_concurrency: int
    notices: list[str] = Field(default_factory=list)


def get_span_timing_report(db: Database, trace_id: str, *, max_results: int = 20) -> SpanTimingReport:
    """Self time, critical path, slowest spans, time by type and concurrent siblings of a trace."""
    trace_id = normalize_trace_id(trace_id)
    check_range("max_results", max_results, 1, MAX_RESULTS)
    spans = list_span_timings(db, trace_id)
    by_id = {span.span_id: span for span in spans}
    end = {span.span_id: span.end_ns if span.end_ns is not None else span.start_ns for span in spans}
    children: dict[str, list[SpanTiming]] = defaultdict(list)
    roots: list[SpanTiming] = []
    for span in spans:
        if span.parent_span_id in by_id and span.parent_span_id != span.span_id:
            children[span.parent_span_id].append(span)  # type: ignore[index]
        else:
            roots.append(span)
    self_ns = {span.span_id: _self_time(span.start_ns, end[span.span_id], children.get(span.span_id, ()), end) for span in spans}
    trace_start = min((span.start_ns for span in spans), default=0)
    trace_end = max(end.values(), default=0)

    def timed(span: SpanTiming) -> TimedSpan:
        return TimedSpan(
            span_id=span.span_id,
            name=clip(span.name, NAME_CHARS),
            span_type=span.span_type,
            start_offset_ms=ms(span.start_ns - trace_start) or 0.0,
            duration_ms=ms(end[span.span_id] - span.start_ns) or 0.0,
            self_time_ms=ms(self_ns[span.span_id]) or 0.0,
        )

    path = _critical_path(roots, children, end)
    slowest = sorted(spans, key=lambda span: (-self_ns[span.span_id], span.span_id))
    types: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for span in spans:
        entry = types[span.span_type]
        entry[0] += 1
        entry[1] += self_ns[span.span_id]
        entry[2] += end[span.span_id] - span.start_ns
    by_type = sorted(types.items(), key=lambda item: (-item[1][1], item[0]))
    concurrent = [
        found
        for parent_id, kids in children.items()
        if len(kids) > 1 and (found := _concurrency(by_id[parent_id], kids, end)) is not None
    ]
    concurrent.sort(key=lambda entry: (-entry.overlap_ms, entry.parent_span_id))

    limit = max_results
    while True:
        head = (limit + 1) // 2
        shown_path = path if len(path) <= limit else path[:head] + path[len(path) - (limit - head) :]
        report = SpanTimingReport(
            trace_id=trace_id,
            span_count=len(spans),
            unfinished_spans=sum(1 for span in spans if span.end_ns is None),
            trace_duration_ms=ms(trace_end - trace_start) or 0.0,
            critical_path=[timed(span) for span in shown_path],
            critical_path_length=len(path),
            critical_path_omitted=len(path) - len(shown_path),
            slowest_by_self_time=[timed(span) for span in slowest[:limit]],
            time_by_span_type=[
                TypeTime(span_type=name, span_count=n, self_time_ms=ms(own) or 0.0, total_time_ms=ms(total) or 0.0)
                for name, (n, own, total) in by_type[:limit]
            ],
            concurrent_siblings=concurrent[:limit],
            parents_with_concurrency=len(concurrent),
        )
        if answer_chars(report) <= ANSWER_CHARS - 1_000 or limit == 1:  # room for the notices
            break
        limit = max(1, limit // 2)
    notices: list[str] = []
    if limit < max_results:
        notices.append(f"lists were shortened to {limit} entries to keep the answer under {ANSWER_CHARS:,} characters.")
    if len(path) > len(shown_path):
        notices.append(
            f"the critical path has {len(path):,} spans; showing the first {head} and last "
            f"{limit - head}; ListSpans shows the spans between."
        )
    report.notices = notices
    return report


def _self_time(start: int, stop: int, kids: list[SpanTiming] | tuple[()], end: dict[str, int]) -> int:
    """Duration minus the union of the children's intervals clipped to [start, stop]."""
    covered = 0
    reach = start
    for kid_start, kid_end in sorted((max(kid.start_ns, start), min(end[kid.span_id], stop)) for kid in kids):
        if kid_end <= reach:
            continue
        covered += kid_end - max(kid_start, reach)
        reach = kid_end
    return max(0, stop - start - covered)


def _critical_path(roots: list[SpanTiming], children: dict[str, list[SpanTiming]], end: dict[str, int]) -> list[SpanTiming]:
    if not roots:
        return []
    # The root that ends last (the trace's own root, unless orphans outlive it).
    node = max(roots, key=lambda span: (end[span.span_id], span.parent_span_id is None, -span.start_ns))
    path = [node]
    seen = {node.span_id}
    while kids := [kid for kid in children.get(node.span_id, ()) if kid.span_id not in seen]:
        node = max(kids, key=lambda span: (end[span.span_id], -span.start_ns, span.span_id))
        path.append(node)
        seen.add(node.span_id)
    return path


def _concurrency(parent: SpanTiming, kids: list[SpanTiming], end: dict[str, int]) -> ConcurrentChildren | None:
    """Sweep the children's start/end points: the most running at once and the time two or more
    ran together; None when they never overlapped."""
    points = sorted(
        [(kid.start_ns, 1) for kid in kids if end[kid.span_id] > kid.start_ns]
        + [(end[kid.span_id], -1) for kid in kids if end[kid.span_id] > kid.start_ns]
    )  # at equal times ends (-1) sort first: touching spans do not overlap
    running = best = 0
    overlap = 0
    last = 0
    for at, step in points:
        if running >= 2:
            overlap += at - last
        running += step
        best = max(best, running)
        last = at
    if best < 2:
        return None
    overlapping: dict[str, None] = {}  # an ordered set
    reach, reach_id = -1, ""
    for kid in sorted(kids, key=lambda span: (span.start_ns, span.span_id)):
        if kid.start_ns < reach:
            overlapping[reach_id] = None
            overlapping[kid.span_id] = None
        if end[kid.span_id] > reach:
            reach, reach_id = end[kid.span_id], kid.span_id
    return ConcurrentChildren(
        parent_span_id=parent.span_id,
        parent_name=clip(parent.name, NAME_CHARS),
        child_count=len(kids),
        overlapping_children=len(overlapping),
        max_concurrency=best,
        overlap_ms=ms(overlap) or 0.0,
        example_span_ids=list(overlapping)[:5],
    )
