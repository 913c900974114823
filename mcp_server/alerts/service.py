"""Alert rules as a user manages them: create (from a condition such as 'routing/pass_rate < 0.8'),
list with their state and latest events, delete.

A rule on a monitor watches one judge's metric over the last `window_s` of its judgments, and
decides only once the window holds at least `min_judgments` of them: it fires when the condition
holds and resolves when it no longer does. A rule without a monitor watches the issues over the
traces that arrived in the window: 'issues/new_high_severity >= 1' (issues of high or critical
severity found in it), 'issues/max_share > 0.05' (the largest share of those traces an open issue
shows) or '<issue id>/share > 0.05', deciding once the window holds min_judgments traces.
mcp_server.alerts.watcher evaluates them inside `tracejudge serve`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from mcp_server.alerts.webhooks import check_webhook
from mcp_server.settings import Settings
from mcp_server.tooling import conditions
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import alerts as store
from store import issues as issue_store
from store import monitors as monitor_store
from store.alerts import ISSUE_METRICS, METRICS, AlertEventRecord, AlertRuleRecord
from store.errors import InvalidArgument

_ALL_METRICS = (*METRICS, *ISSUE_METRICS["issues"], *ISSUE_METRICS["issue"])
_ISSUE_FORMS = ("Without a monitor: 'issues/new_high_severity >= 1', 'issues/max_share > 0.05' or "
                "'<issue id>/share > 0.05'.")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_WINDOW_S = 30 * 86_400.0


class AlertEvent(BaseModel):
    event_id: str
    rule: str
    kind: str = Field(description="fired or resolved")
    value: float | None
    judgments: int
    message: str
    time: str | None
    webhook_status: str = Field(description="none (no webhook), pending, delivered, or failed (see webhook_error)")
    webhook_attempts: int
    webhook_error: str | None


class AlertRule(BaseModel):
    name: str
    monitor: str | None = Field(description="The monitor it watches; none for a rule on issues.")
    condition: str = Field(description="'<judge>/<metric> <op> <threshold>'")
    window_s: float
    min_judgments: int
    webhook: str | None = Field(description="Where its changes are sent: the webhook's scheme and host (its path and "
                                "query, which often hold the receiver's secret, are not shown).")
    state: str = Field(description="ok or firing")
    state_since: str | None
    last_value: float | None = Field(description="The metric at the last check; none while the window held no judgment.")
    last_judgments: int | None = Field(description="Judgments in the window at the last check.")
    last_checked: str | None
    recent_events: list[AlertEvent]


class AlertList(BaseModel):
    rules: list[AlertRule]
    events: list[AlertEvent] = Field(description="What fired and resolved, newest first, over every rule listed.")


class Deleted(BaseModel):
    rule: str
    events: int
    message: str


def parse_condition(condition: str) -> tuple[str, str, str, float]:
    """(judge, metric, op, threshold) from 'routing/pass_rate < 0.8', or a rule on issues."""
    return conditions.parse_condition(condition, _ALL_METRICS, _ISSUE_FORMS)


def create_rule(
    db: Database, settings: Settings, name: str, monitor: str | None, condition: str, *, window_s: float = 3_600.0,
    min_judgments: int = 20, webhook_url: str | None = None,
) -> AlertRule:
    """Store a rule on `monitor`'s metric (or, with none, on issues); `tracejudge serve` checks it."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(f"a rule's name is 1 to 100 letters, digits, '.', '_' or '-'; got {name!r}.")
    judge, metric, op, threshold = parse_condition(condition)
    if monitor is None:
        _check_issue_condition(db, judge, metric, condition)
    else:
        watched = monitor_store.get_monitor(db, monitor)
        judges = [j["name"] for j in watched.judges]
        if judge not in judges or metric not in METRICS:
            raise InvalidArgument(
                f"monitor {monitor!r} runs {', '.join(judges)}: name one of those and a metric of {', '.join(METRICS)} "
                f"in the condition (got {condition!r}); a rule on issues takes no monitor."
            )
    if isinstance(window_s, bool) or not isinstance(window_s, int | float) or not 1 <= window_s <= MAX_WINDOW_S:
        raise InvalidArgument(f"window_s must be a number of seconds from 1 to {MAX_WINDOW_S:,.0f}; got {window_s!r}.")
    if isinstance(min_judgments, bool) or not isinstance(min_judgments, int) or not 0 <= min_judgments <= 1_000_000:
        raise InvalidArgument(f"min_judgments must be an integer from 0 to 1,000,000; got {min_judgments!r}.")
    if webhook_url is not None:
        webhook_url = check_webhook(webhook_url, settings)
    record = store.create_rule(db, AlertRuleRecord(
        name=name, monitor=monitor, judge=judge, metric=metric, op=op, threshold=threshold,  # type: ignore[arg-type]
        window_s=float(window_s), min_judgments=min_judgments, webhook_url=webhook_url,
    ))  # fmt: skip
    return describe(db, record)


def _check_issue_condition(db: Database, subject: str, metric: str, condition: str) -> None:
    if subject == "issues" and metric in ISSUE_METRICS["issues"]:
        return
    if subject.startswith("iss-") and metric in ISSUE_METRICS["issue"]:
        issue_store.get_issue(db, subject)  # IssueNotFound for one that is not an issue
        return
    raise InvalidArgument(
        f"without a monitor a rule watches issues: 'issues/new_high_severity >= 1', 'issues/max_share > 0.05' or "
        f"'<issue id>/share > 0.05'; got {condition!r}. A judge's metric needs its monitor."
    )


def condition_text(record: AlertRuleRecord) -> str:
    return f"{record.judge}/{record.metric} {record.op} {record.threshold:g}"


def _shown(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/…"


def event_answer(event: AlertEventRecord) -> AlertEvent:
    return AlertEvent(
        event_id=event.event_id, rule=event.rule, kind=event.kind, value=event.value, judgments=event.judgments,
        message=event.message, time=iso_time(event.created_ns), webhook_status=event.webhook_status,
        webhook_attempts=event.attempts, webhook_error=event.last_error,
    )  # fmt: skip


def describe(db: Database, record: AlertRuleRecord, recent: int = 5) -> AlertRule:
    return AlertRule(
        name=record.name, monitor=record.monitor, condition=condition_text(record), window_s=record.window_s,
        min_judgments=record.min_judgments, webhook=_shown(record.webhook_url), state=record.state,
        state_since=iso_time(record.state_since_ns), last_value=record.last_value,
        last_judgments=record.last_judgments, last_checked=iso_time(record.last_checked_ns),
        recent_events=[event_answer(e) for e in store.list_events(db, [record.name], recent)],
    )  # fmt: skip


def list_alerts(db: Database, monitor: str | None = None, max_events: int = 50) -> AlertList:
    """The rules (of one monitor, or all) with their state, and what fired and resolved, newest first."""
    if monitor is not None:
        monitor_store.get_monitor(db, monitor)  # MonitorNotFound for a name that is not one
    if isinstance(max_events, bool) or not isinstance(max_events, int) or not 0 <= max_events <= 500:
        raise InvalidArgument(f"max_events must be an integer from 0 to 500; got {max_events!r}.")
    rules = store.list_rules(db, monitor)
    events = store.list_events(db, [r.name for r in rules] if monitor is not None else None, max_events)
    return AlertList(rules=[describe(db, r) for r in rules], events=[event_answer(e) for e in events])


def delete_rule(db: Database, name: str) -> Deleted:
    events = store.delete_rule(db, name)
    return Deleted(rule=name, events=events, message=f"alert rule {name!r} deleted with its {events:,} events.")
