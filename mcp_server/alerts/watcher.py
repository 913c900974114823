"""The alert rules at work: inside `tracejudge serve` (beside the monitors' loop), every poll it
computes each rule's metric over its window of the monitor's judgments and, once the window holds
min_judgments, fires the rule when its condition holds and resolves it when it no longer does.

Each change is stored as an event (store.alerts.transition: one process wins it), written to the
log, and, for a rule with a webhook, POSTed signed (mcp_server.alerts.webhooks) in a task of its
own, so a slow receiver never holds up the checks; its delivery is recorded on the event.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from mcp_server.alerts.service import condition_text
from mcp_server.alerts.webhooks import deliver
from mcp_server.settings import Settings
from mcp_server.tooling.conditions import holds
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import alerts as store
from store.alerts import AlertEventRecord, AlertRuleRecord

logger = logging.getLogger(__name__)


@dataclass
class AlertWatcher:
    db: Database
    settings: Settings
    poll_s: float = 1.0

    async def run(self) -> None:
        """Check the rules every poll_s until cancelled."""
        async with anyio.create_task_group() as group:
            while True:
                try:
                    await self.check(group)
                except Exception:  # the store busy past its timeout: the next round tries again
                    logger.warning("alerts: a round of checks failed; trying again", exc_info=True)
                await anyio.sleep(self.poll_s)

    async def check(self, group: TaskGroup) -> list[AlertEventRecord]:
        """One round over the rules; returns the events this process stored (their webhooks are
        sent in `group`)."""
        events = []
        for rule in await anyio.to_thread.run_sync(store.list_rules, self.db):
            event = await self._check(rule)
            if event is not None:
                events.append(event)
                if rule.webhook_url:
                    group.start_soon(self._send, rule.webhook_url, event)
        return events

    async def _check(self, rule: AlertRuleRecord) -> AlertEventRecord | None:
        now = time.time_ns()
        since = now - int(rule.window_s * 1e9)
        if rule.monitor is None:  # a rule on issues: its figure over the traces that arrived in the window
            value, judgments = await anyio.to_thread.run_sync(store.issue_figures, self.db, rule.judge, rule.metric, since)
        else:
            figures = await anyio.to_thread.run_sync(store.window_figures, self.db, rule.monitor, rule.judge, since)
            value, judgments = figures[rule.metric], int(figures["judgments"] or 0)
        if (value, judgments) != (rule.last_value, rule.last_judgments) or now - (rule.last_checked_ns or 0) > 60 * 10**9:
            # One write per change (and a minute), not per rule and poll.
            await anyio.to_thread.run_sync(store.record_check, self.db, rule.name, value, judgments)
        if judgments < rule.min_judgments or value is None:
            return None  # too few judgments in the window to say either way: the state stays
        firing = holds(rule.op, value, rule.threshold)
        if firing == (rule.state == "firing"):
            return None
        to = "firing" if firing else "ok"
        condition = condition_text(rule)
        counted = "judgments" if rule.monitor else "traces"
        message = (
            f"{rule.monitor or 'issues'}: {rule.judge}/{rule.metric} is {value:.4g} over the last {rule.window_s:g} s "
            f"({judgments:,} {counted}): {'fired' if firing else 'resolved'}, the condition {condition} "
            f"{'holds' if firing else 'no longer holds'}."
        )
        payload = {
            "event": "fired" if firing else "resolved", "rule": rule.name, "monitor": rule.monitor,
            "judge": rule.judge, "metric": rule.metric, "condition": condition, "threshold": rule.threshold,
            "value": value, "judgments": judgments, "window_s": rule.window_s, "time": iso_time(now),
            "message": message,
        }  # fmt: skip
        event = await anyio.to_thread.run_sync(
            lambda: store.transition(self.db, rule.name, to, value=value, judgments=judgments, message=message,
                                     payload=payload, webhook=bool(rule.webhook_url))  # fmt: skip
        )
        if event is not None:
            logger.warning("alert %s %s: %s", rule.name, event.kind, message)
        return event

    async def _send(self, url: str, event: AlertEventRecord) -> None:
        body = json.dumps({**(event.payload or {}), "event_id": event.event_id}, separators=(",", ":")).encode()
        outcome = await deliver(url, body, event.event_id, self.settings)
        status = "delivered" if outcome.delivered else "failed"
        await anyio.to_thread.run_sync(store.delivery, self.db, event.event_id, status, outcome.attempts, outcome.error)
        if not outcome.delivered:
            logger.warning("alert %s: webhook to %s failed after %d tries: %s", event.rule, url, outcome.attempts,
                           outcome.error)  # fmt: skip
