"""Issues as a user reads and curates them: list (by status, category, prevalence), get (with its
evidence, prevalence and trend), update (status, severity, title ...; merge two; split one), and a
dataset made from an issue's traces."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from mcp_server.tooling.paging import issue_token, read_token
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import issues as store
from store.errors import InvalidArgument
from store.issues import STATUSES, Evidence, IssueRecord

if TYPE_CHECKING:
    from mcp_server.datasets.from_traces import AddTracesReport

DAY_NS = 86_400 * 10**9
MAX_RESULTS = 100


class Prevalence(BaseModel):
    window_days: float
    affected: int = Field(description="Traces started in the window that show it.")
    traces: int = Field(description="All traces started in the window.")
    share: float | None = Field(description="affected / traces; none without traces.")
    previous_share: float | None = Field(description="The same share in the window before.")
    trend: Literal["new", "rising", "falling", "steady", "gone", "none"] = Field(
        description="How the share moved from the window before to this one."
    )


class Issue(BaseModel):
    issue_id: str
    title: str
    description: str
    category: str
    severity: str
    status: str
    root_cause: str | None
    trace_count: int
    first_seen: str | None = Field(description="Start of the earliest trace showing it.")
    last_seen: str | None
    merged_into: str | None = Field(None, description="The issue it was merged into, if it was.")


class IssueDetail(Issue):
    prevalence: Prevalence
    evidence: list[Evidence] = Field(description="Traces that show it, newest first, with the span and an excerpt.")
    next_page_token: str | None = None


class IssueList(BaseModel):
    issues: list[Issue]
    total: int
    next_page_token: str | None = None


def answer(record: IssueRecord) -> Issue:
    return Issue(
        issue_id=record.issue_id, title=record.title, description=record.description, category=record.category,
        severity=record.severity, status=record.status, root_cause=record.root_cause, trace_count=record.trace_count,
        first_seen=iso_time(record.first_seen_ns), last_seen=iso_time(record.last_seen_ns), merged_into=record.merged_into,
    )  # fmt: skip


def list_issues(
    db: Database, *, status: str | None = None, category: str | None = None, order: str = "traces",
    max_results: int = 50, page_token: str | None = None,
) -> IssueList:
    if status is not None and status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}; got {status!r}.")
    if order not in ("traces", "recent"):
        raise InvalidArgument(f"order must be 'traces' (most traces first) or 'recent'; got {order!r}.")
    _check_results(max_results)
    state = {"status": status, "category": category, "order": order}
    offset = _offset(page_token, "ListIssues", state)
    records, total = store.list_issues(db, status=status, category=category, order=order,  # type: ignore[arg-type]
                                       limit=max_results, offset=offset)  # fmt: skip
    more = offset + len(records) < total
    return IssueList(issues=[answer(r) for r in records], total=total,
                     next_page_token=issue_token("ListIssues", state, {"offset": offset + len(records)}) if more else None)  # fmt: skip


def _offset(token: str | None, tool: str, arguments: dict[str, Any]) -> int:
    from store.errors import InvalidPageToken

    state = read_token(token, tool, arguments) or {"offset": 0}
    offset = state.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidPageToken(f"page_token is damaged; call {tool} without page_token to start again.")
    return offset


def _check_results(max_results: int) -> None:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
        raise InvalidArgument(f"max_results must be an integer from 1 to {MAX_RESULTS}; got {max_results!r}.")


def prevalence(db: Database, issue_id: str, window_days: float) -> Prevalence:
    if isinstance(window_days, bool) or not isinstance(window_days, int | float) or not 0 < window_days <= 366:
        raise InvalidArgument(f"window_days must be a number of days above 0, at most 366; got {window_days!r}.")
    figures = store.prevalence(db, issue_id, int(window_days * DAY_NS), time.time_ns())
    share = figures["affected"] / figures["total"] if figures["total"] else None
    before = figures["previous_affected"] / figures["previous_total"] if figures["previous_total"] else None
    if not figures["affected"] and not figures["previous_affected"]:
        trend = "none"
    elif not figures["previous_affected"]:
        trend = "new"
    elif not figures["affected"]:
        trend = "gone"
    else:
        assert share is not None and before is not None
        trend = "rising" if share > before * 1.2 else "falling" if share < before / 1.2 else "steady"
    return Prevalence(window_days=window_days, affected=figures["affected"], traces=figures["total"], share=share,
                      previous_share=before, trend=trend)  # type: ignore[arg-type]  # fmt: skip


def get_issue(
    db: Database, issue_id: str, *, window_days: float = 7, max_results: int = 20, page_token: str | None = None
) -> IssueDetail:
    """The issue, its prevalence over the last `window_days` (against the window before), and a
    page of its evidence."""
    _check_results(max_results)
    record = store.get_issue(db, issue_id)
    state = {"issue_id": issue_id}
    offset = _offset(page_token, "GetIssue", state)
    shown = store.evidence(db, issue_id, max_results, offset)
    more = offset + len(shown) < record.trace_count
    return IssueDetail(
        **answer(record).model_dump(), prevalence=prevalence(db, issue_id, window_days), evidence=shown,
        next_page_token=issue_token("GetIssue", state, {"offset": offset + len(shown)}) if more else None,
    )  # fmt: skip


def update_issue(
    db: Database, issue_id: str, changes: dict[str, Any], *, merge_into: str | None = None,
    split_trace_ids: list[str] | None = None, split_title: str | None = None,
) -> IssueList:
    """Change the issue's fields; or merge it into `merge_into`; or split the traces given out into
    a new issue. Returns the issues changed or made."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if "status" in changes and changes["status"] not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}; got {changes['status']!r}.")
    if "severity" in changes and changes["severity"] not in store.SEVERITIES:
        raise InvalidArgument(f"severity must be one of {', '.join(store.SEVERITIES)}; got {changes['severity']!r}.")
    for key in ("title", "description", "category", "root_cause"):
        if key in changes and (not isinstance(changes[key], str) or len(changes[key]) > 2_000 or
                               (key == "title" and not changes[key].strip())):  # fmt: skip
            raise InvalidArgument(f"{key} must be text of at most 2,000 characters{' (not empty)' if key == 'title' else ''}.")
    actions = sum(bool(x) for x in (changes, merge_into, split_trace_ids))
    if actions != 1:
        raise InvalidArgument("give one change: fields (status, severity, title ...), or merge_into, or split_trace_ids.")
    if merge_into:
        store.merge_issues(db, merge_into, issue_id)
        return IssueList(issues=[answer(store.get_issue(db, merge_into)), answer(store.get_issue(db, issue_id))], total=2)
    if split_trace_ids:
        new_id = store.split_issue(db, issue_id, split_trace_ids, split_title or f"{store.get_issue(db, issue_id).title} (split)")
        return IssueList(issues=[answer(store.get_issue(db, issue_id)), answer(store.get_issue(db, new_id))], total=2)
    store.update_issue(db, issue_id, changes)
    return IssueList(issues=[answer(store.get_issue(db, issue_id))], total=1)


def create_dataset_from_issue(db: Database, issue_id: str, dataset: str | None = None) -> "AddTracesReport":
    """A dataset (new, or an existing one added to) of the issue's traces' inputs, each record
    tagged with the issue, so an evaluation on it shows whether a fix fixes it."""
    from mcp_server.datasets.from_traces import add_traces_to_dataset
    from mcp_server.datasets.service import create_dataset
    from store.datasets import resolve_version
    from store.errors import DatasetNotFound

    issue = store.get_issue(db, issue_id)
    name = dataset or f"issue-{issue_id.removeprefix('iss-')}"
    try:
        resolve_version(db, name, None)
    except DatasetNotFound:
        create_dataset(db, name, description=f"Traces of issue {issue_id}: {issue.title}"[:500])
    return add_traces_to_dataset(db, name, trace_ids=store.issue_trace_ids(db, issue_id),
                                 tags={"issue": issue_id, "issue_category": issue.category[:100]})  # fmt: skip
