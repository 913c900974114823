"""USD budgets per key, per UTC day and per calendar month (UTC), from each call's cost.

Before a call: a key whose day or month spend has reached its budget is refused (402, see
mcp_server.gateway.errors for why not 429). After it: its cost is added to the key's spend (per
route and day), and when a period's spend first reaches alert_at of its budget an alert is
recorded, once per key and period, and logged as a warning. Calls in flight together are checked
against the same spend, so the last ones before the refusal may each go past the budget by their own cost.
"""

from __future__ import annotations

import logging
import time

from mcp_server.gateway.errors import GatewayError
from store import Database
from store import gateway as store
from store.gateway import KeyRecord

logger = logging.getLogger(__name__)


def check_budget(db: Database, key: KeyRecord, day: str) -> None:
    """GatewayError 402 when the key has spent its day's or month's budget."""
    if key.budget_usd_day is None and key.budget_usd_month is None:
        return
    day_spent, month_spent = store.spent(db, key.key_id, day)
    for period, budget, spent, resets in (("daily", key.budget_usd_day, day_spent, "at 00:00 UTC"),
                                          ("monthly", key.budget_usd_month, month_spent, "on the 1st (UTC)")):  # fmt: skip
        if budget is not None and spent >= budget:
            raise GatewayError(402, "budget", f"key {key.name!r} has spent ${spent:.4f} of its {period} budget of "
                               f"${budget:.4f}; it resets {resets}. Ask the operator for a larger budget "
                               "(tracejudge keys create ... --budget-usd-day) or wait; retrying now cannot succeed.")  # fmt: skip


def charge(
    db: Database, key: KeyRecord, day: str, route: str, *, input_tokens: int, output_tokens: int, cost_usd: float,
    error: bool,
) -> list[store.BudgetAlertRecord]:
    """Count the call in the key's spend; the alerts it newly crossed (each recorded and logged)."""
    store.add_spend(db, key.key_id, day, route, input_tokens=input_tokens, output_tokens=output_tokens,
                    cost_usd=cost_usd, error=error)  # fmt: skip
    if key.budget_usd_day is None and key.budget_usd_month is None:
        return []
    day_spent, month_spent = store.spent(db, key.key_id, day)
    alerts = []
    for period, start, budget, spent in (("day", day, key.budget_usd_day, day_spent),
                                         ("month", day[:7], key.budget_usd_month, month_spent)):  # fmt: skip
        if budget is None or spent < key.alert_at * budget:
            continue
        alert = store.BudgetAlertRecord(key_id=key.key_id, period=period, period_start=start, spent_usd=spent,
                                        budget_usd=budget, alert_at=key.alert_at, created_ns=time.time_ns())  # fmt: skip
        if store.record_alert(db, alert):
            logger.warning("gateway key %r has spent $%.4f, %.0f%% of its %s budget of $%.4f (alert at %.0f%%)",
                           key.name, spent, 100 * spent / budget, period, budget, 100 * key.alert_at)  # fmt: skip
            alerts.append(alert)
    return alerts
