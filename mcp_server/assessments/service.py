"""LogFeedback, LogExpectation, ListAssessments, GetAssessment and OverrideAssessment as typed
functions: feedback and expectations on traces and spans, never replaced or deleted.

Answers are bounded: every part of an assessment is capped when it is logged (store.assessments),
so GetAssessment's answer is too; a list shows each assessment's long parts cut short and pages
within ANSWER_CHARS.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mcp_server.tooling.paging import (
    ENVELOPE_RESERVE,
    check_range,
    clip,
    dumps,
    issue_token,
    item_chars,
    read_token,
    state_int,
)
from mcp_server.tooling.timestamps import with_iso_times
from store import Database
from store import assessments as store
from store.assessments import AssessmentBase, AssessmentRecord, Finding
from store.errors import InvalidArgument, InvalidPageToken
from store.ids import normalize_span_id, normalize_trace_id

LIST_TOOL = "ListAssessments"
MAX_RESULTS = 200
"""Largest max_results ListAssessments accepts."""
ANSWER_CHARS = 40_000
"""Size cap of a ListAssessments answer; a page holds fewer assessments rather than exceed it."""
SUMMARY_VALUE_CHARS = 1_000
"""A value longer than this (as JSON) is shown in a list as a cut preview, not as the value."""
SUMMARY_TEXT_CHARS = 1_000
"""Rationale and error are cut to this many characters in a list."""


LOG_FEEDBACK_DESCRIPTION = """\
Record feedback (a named verdict) on a trace or span, with rationale, source, metadata and
span-anchored findings; never replaces (correct with OverrideAssessment). Filter as feedback.<name>.
Example: LogFeedback(trace_id="4bf92f35...", name="correctness", value="no", rationale="...")"""

LOG_EXPECTATION_DESCRIPTION = """\
Record an expectation (ground truth a judge compares with) on a trace or span. Filter as
expectation.<name>.
Example: LogExpectation(trace_id="4bf92f35...", name="expected_facts", value=["refund issued"])"""

LIST_ASSESSMENTS_DESCRIPTION = f"""\
The feedback and expectations on one trace, oldest first (rationales cut to {SUMMARY_TEXT_CHARS:,} characters;
GetAssessment has them whole).
Example: ListAssessments(trace_id="4bf92f35...", name="correctness")"""

GET_ASSESSMENT_DESCRIPTION = """\
One assessment in full: value, rationale, metadata, findings, source, validity, overrides.
Example: GetAssessment(assessment_id="a-3f2b8c1d9e0a4b5c8d7e6f5a4b3c2d1e")"""

OVERRIDE_ASSESSMENT_DESCRIPTION = """\
Correct an assessment: logs a new one (same trace, span, name, kind) and marks the old one
invalid (kept, no longer counted or filtered on).
Example: OverrideAssessment(assessment_id="a-3f2b...", value="yes", source_id="alice")"""


# Not an AssessmentBase: a listing shows a count for the findings and no metadata, and its fields
# carry the descriptions a client reads; summarize fills the shared ones from the record.
class AssessmentSummary(BaseModel):
    """An assessment as lists show it: long parts cut short."""

    assessment_id: str
    trace_id: str
    span_id: str | None = Field(description="The span it is on; None for the whole trace.")
    name: str
    kind: str = Field(description="'feedback' or 'expectation'.")
    source_type: str
    source_id: str | None
    value: Any = Field(description="The value; None when it is too long to list (see value_preview) or absent.")
    value_preview: str | None = Field(None, description="The value's JSON cut short, when too long to list.")
    rationale: str | None
    error: str | None
    finding_count: int
    valid: bool = Field(description="False once overridden: then it no longer counts.")
    overrides: str | None = Field(description="The assessment this one replaced.")
    overridden_by: str | None = Field(description="The assessment that replaced this one.")
    created_time: str | None
    cut: list[str] = Field(default_factory=list, description="Fields cut short here; GetAssessment has them in full.")


class Assessment(AssessmentBase):
    """One assessment in full."""

    kind: str  # the schema says string, as AssessmentSummary's does, not the store's enum of KINDS
    created_time: str | None


class LoggedAssessment(BaseModel):
    """What LogFeedback and LogExpectation answer: the new assessment's id and summary."""

    assessment_id: str
    assessment: AssessmentSummary


class OverrideResult(BaseModel):
    """The new assessment and the one it replaced (now invalid)."""

    assessment_id: str = Field(description="The new assessment's id.")
    assessment: AssessmentSummary
    overridden: AssessmentSummary


class AssessmentList(BaseModel):
    """A page of a trace's assessments in the order they were logged."""

    trace_id: str
    total_matching: int
    assessments: list[AssessmentSummary]
    next_page_token: str | None = None
    notice: str | None = None


def summarize(record: AssessmentRecord) -> AssessmentSummary:
    """The listing form of an assessment: value, rationale and error cut to fit a page."""
    cut: list[str] = []
    value, preview = record.value, None
    value_json = dumps(record.value)
    if len(value_json) > SUMMARY_VALUE_CHARS:
        value, preview = None, clip(value_json, SUMMARY_VALUE_CHARS)
        cut.append("value")
    texts = {}
    for field in ("rationale", "error"):
        text = getattr(record, field)
        texts[field] = None if text is None else clip(text, SUMMARY_TEXT_CHARS)
        if texts[field] != text:
            cut.append(field)
    return AssessmentSummary.model_validate({
        **with_iso_times(record),
        "value": value,
        "value_preview": preview,
        **texts,
        "finding_count": len(record.findings),
        "cut": cut,
    })


def _span(span_id: str | None) -> str | None:
    return None if span_id is None or span_id == "" else normalize_span_id(span_id)


def log_feedback(
    db: Database,
    trace_id: str,
    name: str,
    value: Any,
    *,
    span_id: str | None = None,
    rationale: str | None = None,
    source_type: str = "HUMAN",
    source_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    findings: list[Finding] | list[dict[str, Any]] | None = None,
    error: str | None = None,
) -> LoggedAssessment:
    """Log feedback on a trace or one of its spans. `value` may be None only with an `error`
    (a judge that could not reach a verdict)."""
    feedback = store.new_assessment(
        normalize_trace_id(trace_id),
        name,
        value,
        kind="feedback",
        span_id=_span(span_id),
        source_type=source_type,
        source_id=source_id,
        rationale=rationale,
        error=error,
        metadata=metadata,
        findings=findings,
    )
    assessment_id = store.log_assessment(db, feedback)
    return LoggedAssessment(assessment_id=assessment_id, assessment=summarize(store.get_assessment(db, assessment_id)))


def log_expectation(
    db: Database,
    trace_id: str,
    name: str,
    value: Any,
    *,
    span_id: str | None = None,
    source_type: str = "HUMAN",
    source_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> LoggedAssessment:
    """Log an expectation (ground truth) on a trace or one of its spans."""
    expectation = store.new_assessment(
        normalize_trace_id(trace_id),
        name,
        value,
        kind="expectation",
        span_id=_span(span_id),
        source_type=source_type,
        source_id=source_id,
        metadata=metadata,
    )
    assessment_id = store.log_assessment(db, expectation)
    return LoggedAssessment(assessment_id=assessment_id, assessment=summarize(store.get_assessment(db, assessment_id)))


def get_assessment(db: Database, assessment_id: str) -> Assessment:
    """One assessment in full, valid or not."""
    record = store.get_assessment(db, store.normalize_assessment_id(assessment_id))
    return Assessment.model_validate(with_iso_times(record))


def override_assessment(
    db: Database,
    assessment_id: str,
    value: Any,
    *,
    rationale: str | None = None,
    source_type: str = "HUMAN",
    source_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> OverrideResult:
    """Replace a valid assessment's value with a new, linked assessment; the old one is kept, invalid."""
    old_id = store.normalize_assessment_id(assessment_id)
    new_id = store.override_assessment(
        db, old_id, value, rationale=rationale, source_type=source_type, source_id=source_id, metadata=metadata
    )
    return OverrideResult(
        assessment_id=new_id,
        assessment=summarize(store.get_assessment(db, new_id)),
        overridden=summarize(store.get_assessment(db, old_id)),
    )


def list_assessments(
    db: Database,
    trace_id: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    include_invalid: bool = False,
    max_results: int = 50,
    page_token: str | None = None,
) -> AssessmentList:
    """A page of the trace's assessments in the order they were logged, within ANSWER_CHARS."""
    trace_id = normalize_trace_id(trace_id)
    check_range("max_results", max_results, 1, MAX_RESULTS)
    if kind is not None and kind not in store.KINDS:
        raise InvalidArgument(f"kind {kind!r} is not one of {', '.join(store.KINDS)}; or leave it out for both.")
    name = None if name is None else name.strip()
    arguments = {
        "trace_id": trace_id,
        "name": name,
        "kind": kind,
        "include_invalid": include_invalid,
        "max_results": max_results,
    }
    state = read_token(page_token, LIST_TOOL, arguments)
    after = None
    if state is not None:
        after_id = state.get("after_id")
        if not isinstance(after_id, str) or len(after_id) > 100:
            raise InvalidPageToken(f"page_token is damaged; call {LIST_TOOL} without page_token to start again.")
        after = (state_int(state, "after_ns", LIST_TOOL), after_id)
    # One record beyond the page tells whether another page exists.
    records, total = store.list_assessments(
        db,
        trace_id,
        name=name,
        kind=kind,  # type: ignore[arg-type]  # checked against store.KINDS above
        include_invalid=include_invalid,
        limit=max_results + 1,
        after=after,
    )
    budget = ANSWER_CHARS - ENVELOPE_RESERVE
    page: list[AssessmentSummary] = []
    for record in records[:max_results]:
        summary = summarize(record)
        budget -= item_chars(summary)
        if budget < 0 and page:
            break
        page.append(summary)
    token = None
    if page and len(records) > len(page):
        last = records[len(page) - 1]
        token = issue_token(LIST_TOOL, arguments, {"after_ns": last.created_ns, "after_id": last.assessment_id})
    notice = None
    if token is not None:
        notice = (
            f"showing {len(page)} of {total:,} assessments; call {LIST_TOOL} again with the same arguments "
            f"and page_token='{token}' for the next ones."
        )
    return AssessmentList(
        trace_id=trace_id, total_matching=total, assessments=page, next_page_token=token, notice=notice
    )


def latest_feedback(db: Database, trace_ids: list[str]) -> dict[str, list[AssessmentSummary]]:
    """For each of `trace_ids` (normalized, as SearchTraces returns them), the newest valid feedback
    of each name on the whole trace, summarized: what a list of traces shows beside each (the web
    page's feedback chips). Traces without feedback are left out."""
    shown: dict[str, list[AssessmentSummary]] = {}
    for record in store.latest_feedback(db, trace_ids):
        shown.setdefault(record.trace_id, []).append(summarize(record))
    return shown


def rationales(db: Database, assessment_ids: list[str]) -> dict[str, str]:
    """The rationale of each of `assessment_ids` that has one, cut as listings cut it: what a page
    of evaluation results shows beside each verdict (a result holds its assessment's id only)."""
    return {
        record.assessment_id: clip(record.rationale, SUMMARY_TEXT_CHARS)
        for record in store.get_assessments(db, assessment_ids)
        if record.rationale is not None
    }
