"""The monitors at work: inside `tracejudge serve` (or `tracejudge monitors run`), a loop that finds
the traces each monitor should judge, takes a lease on them in the store and judges them.

Every `poll_s`, and as soon as a judgment ends while traces wait for room, it reads, per active
monitor, the traces that completed since its checkpoint and the ones queued for it (backfill,
leases given back or expired), decides the sample, takes leases on what it has room for
(store.monitors.claim: one process wins each trace), and starts a judgment per trace. A judgment
runs the monitor's judges through the same model layer as Evaluate, with its retries, within an
AdaptiveLimiter of `concurrency` judgments for the whole process (halved under rate limiting),
and within the monitor's daily budget (a SpendBudget that every model call reserves from, synced
with what every process recorded today). Its verdicts become feedback on the trace in the
transaction that marks the trace judged, and only while the lease is still held.

Leases are renewed while judgments run and given back when the loop stops; a process killed part
way leaves leases that expire after `lease_s` and are taken again. So a restart neither skips a
trace (the checkpoint moves only past traces decided) nor judges one twice (a verdict is stored
only under a held lease, with the decision).

What stops a monitor is said, never hidden: a limit reached skips the traces completing meanwhile
(reason on each, BackfillMonitor can take them later); an error every judgment would meet (no
judge model, a model not allowed) puts the traces back, stores the error on the monitor (GetMonitor
shows it as failing) and is tried again after RETRY_AFTER_S.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from mcp_server.evaluation.limiter import AdaptiveLimiter, Slot
from mcp_server.judges.definition import RATE_LIMITED
from mcp_server.judges.runner import judgment_spend, resolve_judge, run_judge, stopped_by_budget, verdict_feedback
from mcp_server.models import BudgetExhausted, PersistentModelError
from mcp_server.models.budget import SpendBudget, spending_within
from mcp_server.models.retry import observe_retries
from mcp_server.monitors.service import in_sample, limit_reached
from mcp_server.settings import Settings
from store import Database
from store import monitors as store
from store.monitors import CHECKPOINT_MARGIN_NS, DAY_NS, HOUR_NS, Candidate, MonitorRecord, MonitorResult

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 60.0
"""How long a monitor that met an error every judgment would meet waits before it tries again."""
SCAN_BATCH = 500
"""Complete traces read per monitor and poll: the sample and the free slots pick from them."""


def new_owner() -> str:
    """This process's name on the leases it holds: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _daily(message: str) -> str:
    """The spending budget's message, in the names of the monitor's limits."""
    message = message.replace("max_tokens=", "max_tokens_per_day=").replace("max_cost_usd=", "max_cost_usd_per_day=")
    return f"daily budget: {message}"


@dataclass
class _DayBudget:
    day: int
    limits: tuple[int | None, float | None]
    budget: SpendBudget


@dataclass
class MonitorRunner:
    """The loop of one process. `run()` runs until cancelled; `poll()` does one round (tests and
    benchmarks drive it directly) and `idle()` waits for the judgments it started."""

    db: Database
    settings: Settings
    judge_server: JudgeServer | None
    concurrency: int = 4
    poll_s: float = 1.0
    lease_s: float = 60.0
    owner: str = field(default_factory=new_owner)

    def __post_init__(self) -> None:
        self.limiter = AdaptiveLimiter(self.concurrency)
        self.in_flight: dict[str, int] = {}  # monitor -> judgments running in this process
        self._budgets: dict[str, _DayBudget] = {}
        self._retry_at: dict[str, float] = {}  # monitor -> monotonic time before which it waits
        self._group: TaskGroup | None = None
        self._done = anyio.Event()
        # Set when a judgment ends while the last round left traces for want of room: the loop looks
        # again at once rather than after poll_s, so a freed slot does not idle until the next round.
        self._wake = anyio.Event()
        self._left_behind = False
        self._seen_at = float("-inf")  # when this process last said in the store that it runs

    @classmethod
    def for_settings(cls, db: Database, settings: Settings, judge_server: JudgeServer | None) -> MonitorRunner:
        return cls(db, settings, judge_server, concurrency=settings.monitor_concurrency,
                   poll_s=settings.monitor_poll_s, lease_s=settings.monitor_lease_s)  # fmt: skip

    async def run(self) -> None:
        """Judge what the monitors should, until cancelled; then give the leases held back."""
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self._renew_leases)
                while True:
                    try:
                        await self.poll()
                    except Exception:  # the store busy past its timeout, a bug: the next round tries again
                        logger.warning("monitors: a round failed; trying again", exc_info=True)
                    with anyio.move_on_after(self.poll_s):
                        await self._wake.wait()
                    self._wake = anyio.Event()
        finally:
            with anyio.CancelScope(shield=True):
                released = await anyio.to_thread.run_sync(store.release, self.db, self.owner)
                await anyio.to_thread.run_sync(store.runner_gone, self.db, self.owner)
                if released:
                    logger.warning("monitors: gave back %d traces being judged as the server stopped", released)

    async def poll(self, group: TaskGroup | None = None) -> int:
        """One round over the monitors; starts the judgments it took (in `group`, or the loop's)
        and returns how many."""
        group = group or self._group
        if group is None:
            raise RuntimeError("poll() outside run() needs a task group")
        started, left_behind = 0, False
        if time.monotonic() - self._seen_at >= self.poll_s:  # rounds back to back in a backlog: one write per poll_s
            await anyio.to_thread.run_sync(store.runner_seen, self.db, self.owner, self.poll_s)
            self._seen_at = time.monotonic()
        for record in await anyio.to_thread.run_sync(store.list_monitors, self.db):
            if record.paused or self._retry_at.get(record.name, 0.0) > time.monotonic():
                continue
            try:
                taken, left = await self._poll_monitor(record, group)
                started, left_behind = started + taken, left_behind or left
            except Exception:
                logger.warning("monitors: monitor %r could not be polled", record.name, exc_info=True)
        self._left_behind = left_behind
        return started

    async def _poll_monitor(self, record: MonitorRecord, group: TaskGroup) -> tuple[int, bool]:
        """Claim and start what the monitor has room for: how many started, and whether it left
        traces waiting for want of room."""
        now = time.time_ns()
        # The spend reads sum a day of results: only a monitor with a limit needs them.
        nothing = store.Spend(0, 0, 0.0)
        hour = (await anyio.to_thread.run_sync(store.spend_since, self.db, record.name, now // HOUR_NS * HOUR_NS)
                if record.max_judgments_per_hour is not None else nothing)  # fmt: skip
        day = (await anyio.to_thread.run_sync(store.spend_since, self.db, record.name, now // DAY_NS * DAY_NS)
               if record.max_tokens_per_day is not None or record.max_cost_usd_per_day is not None else nothing)  # fmt: skip
        budget = self._budget(record, now, day)
        running = self.in_flight.get(record.name, 0)
        reached = limit_reached(record, store.Spend(hour.judgments + running, hour.tokens, hour.cost_usd), day, now)
        if reached is None and budget is not None:
            reached = budget.reached()
        room = 0 if reached else max(0, self.limiter.limit - sum(self.in_flight.values()))
        if record.max_judgments_per_hour is not None:
            room = min(room, max(0, record.max_judgments_per_hour - hour.judgments - running))
        if not room and not reached:
            return 0, True  # every slot is busy: the next round, when one frees, reads what waits
        scanned = await anyio.to_thread.run_sync(store.complete_traces, self.db, record, now, SCAN_BATCH)
        waiting = [] if reached else await anyio.to_thread.run_sync(store.waiting_traces, self.db, record.name, now, room)
        new: list[tuple[Candidate, bool]] = []
        left = room - len(waiting)
        for candidate in scanned:
            sampled = in_sample(record.name, candidate.trace_id, record.sample_rate)
            if sampled and not reached:
                if left <= 0:
                    break  # no room: this one and those after it wait for the next round
                left -= 1
            new.append((candidate, sampled))
        lease_until = now + int(self.lease_s * 1e9)
        # No room for them all (room 0: perhaps queued ones): look again as soon as a judgment ends.
        left_behind = not reached and (len(new) < len(scanned) or len(waiting) >= room)
        held = await anyio.to_thread.run_sync(
            functools.partial(store.claim, self.db, record.name, self.owner, lease_until, new, waiting, now)
        )
        if len(scanned) < SCAN_BATCH and len(new) == len(scanned):
            # Everything complete up to now is decided, and whatever arrived before now - timeout is
            # complete: the next scans need not read it again.
            checkpoint = now - int(record.timeout_s * 1e9) - CHECKPOINT_MARGIN_NS
            if checkpoint > record.checkpoint_ns:
                await anyio.to_thread.run_sync(store.advance_checkpoint, self.db, record.name, checkpoint)
        started = 0
        for candidate in held:
            if reached:
                await anyio.to_thread.run_sync(store.skip, self.db, record.name, candidate.trace_id, self.owner, reached)
                continue
            slot = await self.limiter.acquire()
            if not sum(self.in_flight.values()):
                self._done = anyio.Event()
            self.in_flight[record.name] = self.in_flight.get(record.name, 0) + 1
            group.start_soon(self._judge, record, candidate, budget, slot)
            started += 1
        return started, left_behind

    def _budget(self, record: MonitorRecord, now: int, day: store.Spend) -> SpendBudget | None:
        """Today's budget of the monitor in this process, with what every process recorded today."""
        limits = (record.max_tokens_per_day, record.max_cost_usd_per_day)
        if limits == (None, None):
            return None
        current = self._budgets.get(record.name)
        if current is None or current.day != now // DAY_NS or current.limits != limits:
            current = _DayBudget(now // DAY_NS, limits, SpendBudget(*limits))
            self._budgets[record.name] = current
        budget = current.budget
        # Other processes' spend reaches this one through the store; this process's own is in both.
        budget.spent_tokens = max(budget.spent_tokens, day.tokens)
        budget.spent_cost_usd = max(budget.spent_cost_usd, day.cost_usd)
        return budget

    async def idle(self) -> None:
        """Wait until no judgment this process started is running."""
        while sum(self.in_flight.values()):
            await self._done.wait()

    async def _judge(self, record: MonitorRecord, candidate: Candidate, budget: SpendBudget | None, slot: Slot) -> None:
        rate_limited = False
        try:
            rate_limited = await self._judge_trace(record, candidate, budget, slot)
        except Exception:
            logger.warning("monitors: %r failed on trace %s", record.name, candidate.trace_id, exc_info=True)
            await anyio.to_thread.run_sync(store.release, self.db, self.owner, record.name, candidate.trace_id)
        finally:
            self.limiter.release(slot, rate_limited=rate_limited)
            self.in_flight[record.name] -= 1
            if not sum(self.in_flight.values()):
                self._done.set()
            if self._left_behind:
                self._wake.set()

    async def _judge_trace(
        self, record: MonitorRecord, candidate: Candidate, budget: SpendBudget | None, slot: Slot
    ) -> bool:
        """Run every judge of the monitor on the trace and store the outcome; whether it met rate limiting."""
        results: list[MonitorResult] = []
        feedback = []
        rate_limited = False
        stopped: str | None = None
        for pinned in record.judges:
            resolved = resolve_judge(self.db, pinned["ref"], version=pinned.get("version"), allow_import=True)
            started = time.perf_counter()
            try:
                with observe_retries(functools.partial(self.limiter.on_retry, slot)), (
                    spending_within(budget) if budget is not None else nullcontext()
                ):
                    verdict = await run_judge(
                        self.db, resolved.code or resolved.definition,  # type: ignore[arg-type]
                        candidate.trace_id, settings=self.settings, server=self.judge_server, record=False,
                    )
            except BudgetExhausted as exc:
                stopped = _daily(str(exc))
                break
            except PersistentModelError as exc:
                # Every judgment would meet it: put the trace back and say so on the monitor.
                await anyio.to_thread.run_sync(store.release, self.db, self.owner, record.name, candidate.trace_id)
                await anyio.to_thread.run_sync(store.set_error, self.db, record.name, str(exc))
                self._retry_at[record.name] = time.monotonic() + RETRY_AFTER_S
                logger.warning("monitors: %r cannot judge: %s", record.name, exc)
                return False
            except Exception as exc:
                # Whatever failed (a bug in a judge path, the trace gone), it is this judgment's error, on record.
                logger.warning("monitors: judge %s failed on trace %s", resolved.name, candidate.trace_id, exc_info=True)
                results.append(MonitorResult(judge=resolved.name, source_id=resolved.source_id, outcome="error",
                                             error=f"{type(exc).__name__}: {exc}",
                                             latency_s=time.perf_counter() - started))  # fmt: skip
                continue
            spent = judgment_spend(resolved, verdict)
            rate_limited = rate_limited or verdict.metadata.get(RATE_LIMITED) is True
            common = {"judge": resolved.name, "source_id": verdict.judge, "input_tokens": spent.input_tokens,
                      "output_tokens": spent.output_tokens, "cost": spent.cost_usd,
                      "latency_s": time.perf_counter() - started}  # fmt: skip
            if (budget_stop := stopped_by_budget(verdict)) is not None:
                results.append(MonitorResult(outcome="stopped", error=budget_stop, **common))
                stopped = _daily(budget_stop)
                break
            verdict = verdict.model_copy(update={"metadata": {**verdict.metadata, "monitor": record.name}})
            verdict, new = await anyio.to_thread.run_sync(verdict_feedback, self.db, verdict, resolved)
            feedback.append(new)
            if verdict.error is not None:
                results.append(MonitorResult(outcome="error", error=verdict.error, **common))
            else:
                results.append(MonitorResult(outcome="value", value=verdict.value, **common))
        if stopped is not None:
            # Half-judged by the budget: no verdict of this trace is kept, only what it spent; and
            # the monitor stops until the next UTC day (or a larger limit) instead of trying each trace.
            feedback = []
            results = [r.model_copy(update={"outcome": "stopped", "value": None}) for r in results]
            next_day = (time.time_ns() // DAY_NS + 1) * DAY_NS
            reason = f"{stopped}; judging resumes at 00:00 UTC"
            await anyio.to_thread.run_sync(store.set_limited, self.db, record.name, next_day, reason)
        ids = await anyio.to_thread.run_sync(
            functools.partial(
                store.record_judgments, self.db, record.name, candidate.trace_id, self.owner, results, feedback,
                candidate.completed_ns, skipped=stopped,
            )
        )
        if ids is None:
            logger.warning("monitors: %r lost its lease on trace %s; its verdict was not stored", record.name,
                           candidate.trace_id)  # fmt: skip
        elif record.last_error is not None:
            await anyio.to_thread.run_sync(store.set_error, self.db, record.name, None)
        return rate_limited

    async def _renew_leases(self) -> None:
        while True:
            await anyio.sleep(self.lease_s / 3)
            if sum(self.in_flight.values()):
                lease_until = time.time_ns() + int(self.lease_s * 1e9)
                try:
                    await anyio.to_thread.run_sync(store.renew_leases, self.db, self.owner, lease_until)
                except Exception:  # the store busy: the lease has two more tries before it expires
                    logger.warning("monitors: leases could not be renewed", exc_info=True)
