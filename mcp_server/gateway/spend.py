"""What the gateway's keys have spent: per key, route and UTC day, and the budget alerts recorded."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from mcp_server.gateway.keys import GatewayKey, answer, utc_day
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import gateway as store
from store.errors import InvalidArgument

MAX_SPEND_ROWS = 1_000


class SpendRow(store.SpendCounts):
    key: str = Field(description="The key's name.")


class BudgetAlert(BaseModel):
    key: str
    period: str = Field(description="day or month.")
    period_start: str
    spent_usd: float
    budget_usd: float
    alert_at: float
    time: str | None


class SpendReport(BaseModel):
    since_day: str
    rows: list[SpendRow] = Field(description="Newest day first.")
    total_usd: float
    truncated: bool = Field(description="More rows than max_results: narrow with key or days.")
    alerts: list[BudgetAlert]


class KeyDetails(BaseModel):
    key: GatewayKey
    spent_today_usd: float
    spent_this_month_usd: float
    alerts: list[BudgetAlert]


def _names(db: Database) -> dict[str, str]:
    return {k.key_id: k.name for k in store.list_keys(db)}


def _alert(a: store.BudgetAlertRecord, names: dict[str, str]) -> BudgetAlert:
    return BudgetAlert(key=names.get(a.key_id, a.key_id), period=a.period, period_start=a.period_start,
                       spent_usd=a.spent_usd, budget_usd=a.budget_usd, alert_at=a.alert_at,
                       time=iso_time(a.created_ns))  # fmt: skip


def key_details(db: Database, name: str) -> KeyDetails:
    """One key (no secret) with what it spent today and this month (UTC) and its budget alerts."""
    record = store.get_key(db, name)
    today, month = store.spent(db, record.key_id, utc_day())
    names = {record.key_id: record.name}
    return KeyDetails(key=answer(record), spent_today_usd=today, spent_this_month_usd=month,
                      alerts=[_alert(a, names) for a in store.list_alerts(db, record.key_id, 50)])  # fmt: skip


def spend_report(db: Database, key: str | None = None, days: int = 30, max_results: int = 200) -> SpendReport:
    """Spend per key, route and day over the last `days` days (today included), newest first."""
    if not 1 <= days <= 3_660:
        raise InvalidArgument(f"days is 1 to 3660; got {days}.")
    if not 1 <= max_results <= MAX_SPEND_ROWS:
        raise InvalidArgument(f"max_results is 1 to {MAX_SPEND_ROWS:,}; got {max_results}.")
    key_id = store.get_key(db, key).key_id if key else None
    since = (dt.date.fromisoformat(utc_day()) - dt.timedelta(days=days - 1)).isoformat()
    rows = store.spend_rows(db, key_id=key_id, since_day=since, limit=max_results + 1)
    names = _names(db)
    shown = [SpendRow(key=names.get(r.key_id, r.key_id), **r.model_dump(exclude={"key_id"})) for r in rows[:max_results]]
    return SpendReport(since_day=since, rows=shown, total_usd=sum(r.cost_usd for r in shown),
                       truncated=len(rows) > max_results,
                       alerts=[_alert(a, names) for a in store.list_alerts(db, key_id, 50)])  # fmt: skip
