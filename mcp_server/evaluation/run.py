"""`evaluate`: judges over traces, concurrently, within a budget, resumable.

Every (trace, judge) pair of a run ends with one stored result: the judge's value (also logged as
feedback on the trace by run_judge), or the error that kept it from one. A judge failing on a
trace is that pair's error and never stops the run; but an error every pair would meet (no judge
model, a model the server does not allow or its provider does not know, credentials refused, an
account out of quota, an api base it cannot reach: a PersistentModelError before anything was spent) stops it at once, records nothing for that pair,
and evaluate raises EvaluationStopped with the stored stop reason.

Concurrency: at most `max_concurrency` judgments in flight, through an AdaptiveLimiter that
halves the limit when a judgment meets rate limiting (a 429 being retried, or a verdict whose
metadata says rate_limited: the model layer retried 429s with backoff and still got one; never a
guess from the error's wording) and grows it back by one after each round of clean answers.

Budget: max_tokens and max_cost_usd cover the whole run, resumptions included, and bound every
model call in it, agent judges' included (mcp_server.models.budget): each call reserves its
estimate before it is sent, a call that no longer fits is not sent, and its judgment stops. Such a
judgment leaves its pair unjudged (a resume judges it), whether it stopped before it spent anything
or part way (an agent judge between its calls); what it spent stays in the run's totals
(store.evaluations.add_unjudged_spend), and so in the budget of a resume. Once the budget is
reached no new pair starts, and the run is 'stopped' with a reason that says how to go on. It goes
past its budget only by what calls in flight spent beyond their estimates (at most one call per
worker), and its over_budget says by how much, whether it stopped or those calls completed it.

Resuming: evaluate(..., run_id=...) judges only the run's pairs that have no result yet; an error
is a result, so it is not retried. New limits replace the stored ones.

On a dataset: evaluate(..., dataset=..., target='module:function') first runs the target on each
record of the pinned dataset version (mcp_server.evaluation.targets: one fresh stored trace per
record), within the same limiter and budget (a target's tokens and cost are its trace's), then
judges each new trace, passing the record's expectations to the judges. A target that raises
leaves its trace and an error result for each judge. The prompt versions a target loads through
mcp_server.prompts.load_prompt are linked to the run.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from mcp_server.evaluation.limiter import AdaptiveLimiter, Slot
from mcp_server.evaluation.summary import ConcurrencyReport, EvaluationRun, summarize
from mcp_server.evaluation.targets import DEFAULT_TIMEOUT_S, check_allowed, import_target, run_target
from mcp_server.judges.agent.prompt import BUILTIN_AGENT_JUDGES
from mcp_server.judges.definition import RATE_LIMITED
from mcp_server.judges.llm_judge import NOT_GIVEN
from mcp_server.judges.runner import ResolvedJudge, judgment_spend, resolve_judge, run_judge, stopped_by_budget
from mcp_server.models import BudgetExhausted, PersistentModelError, Sampler
from mcp_server.models.budget import SpendBudget, spending_within
from mcp_server.models.retry import observe_retries
from mcp_server.prompts import record_loaded_prompts, use_database
from mcp_server.settings import Settings
from store import Database, datasets, prompts
from store import evaluations as store
from store.datasets import DatasetRecordRow
from store.errors import EvaluationStopped, InvalidArgument, TraceNotFound
from store.search import search_trace_ids
from store.traces import get_trace, get_traces, known_trace_ids

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

logger = logging.getLogger(__name__)

MAX_CONCURRENCY = 64
MAX_JUDGES = 20
MAX_TRACES = 10_000
"""Default cap on the traces one run covers; evaluate's max_traces raises it."""


ProgressCallback = Callable[[int, int, str], Awaitable[None] | None]
"""progress(done, total, message): done and total count (trace, judge) pairs."""


@dataclass
class _Pair:
    trace_id: str
    judge: ResolvedJudge
    expectations: Any = NOT_GIVEN


@dataclass
class _DatasetWork:
    """What a run on a dataset needs besides its judges: the target, and its records by id."""

    target: Callable[..., Any]
    records: dict[str, DatasetRecordRow]
    trace_records: dict[str, str]  # trace id -> record id, for the records the target has run on
    timeout_s: float = DEFAULT_TIMEOUT_S


async def evaluate(
    db: Database,
    judges: Sequence[str] | None,
    *,
    settings: Settings,
    filter_string: str | None = None,
    trace_ids: Sequence[str] | None = None,
    dataset: str | None = None,
    dataset_version: int | None = None,
    target: str | Callable[..., Any] | None = None,
    run_id: str | None = None,
    name: str | None = None,
    max_concurrency: int = 8,
    max_tokens: int | None = None,
    max_cost_usd: float | None = None,
    max_traces: int = MAX_TRACES,
    target_timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: ProgressCallback | None = None,
    server: JudgeServer | None = None,
    allow_import: bool = True,
    allowed_targets: Sequence[str] | None = None,
    sampler: Sampler | None = None,
) -> EvaluationRun:
    """Run `judges` (stored or built-in judge names; from Python also 'module:function' code
    judges unless allow_import=False) over the traces `filter_string` matches (all traces when
    neither it nor trace_ids is given) or over `trace_ids`, and return the stored run. With
    `dataset` (and `dataset_version`, default the latest), run `target` (an import path
    'module:function', or from Python a callable) on each record's inputs instead and judge the
    traces it makes.

    With `run_id`, resume that run instead: its judges (pass none, or the same names) and its
    traces, judging only the pairs without a result. `progress(done, total, message)` is called
    once at the start, after each pair, and at the end. `sampler` is the MCP client the run was
    started from: judges on model 'sampling' (or with no model configured) ask its model. Raises
    before anything runs for unknown judges or traces, a bad filter, or limits out of range; and
    EvaluationStopped, after storing the run as stopped, when an error every pair would meet (no
    judge model, a model the settings do not allow ...) stopped it. `allowed_targets`, when
    given, lists the only import paths `target` may name (an MCP client's call passes the
    server's list). A target taking more than `target_timeout_s` on a record is abandoned and
    that record is an error.
    """
    _check_limits(max_concurrency, max_tokens, max_cost_usd, max_traces)
    if isinstance(target_timeout_s, bool) or not isinstance(target_timeout_s, int | float) or not target_timeout_s > 0:
        raise InvalidArgument(f"target_timeout_s must be a positive number of seconds; got {target_timeout_s!r}.")
    limits = {"max_concurrency": max_concurrency, "max_tokens": max_tokens, "max_cost_usd": max_cost_usd}
    resuming = run_id is not None
    if run_id is not None:
        if any(x is not None for x in (filter_string, trace_ids, dataset, dataset_version, target)):
            raise InvalidArgument(
                f"a resumed run judges the traces (or dataset records) it started with; pass run_id={run_id!r} "
                "without filter_string, trace_ids, dataset or target, or start a new run without run_id."
            )
        run = await anyio.to_thread.run_sync(store.get_run, db, run_id)
        stored_names = [j["name"] for j in run.judges]
        if judges and list(judges) not in (stored_names, [j["ref"] for j in run.judges]):
            raise InvalidArgument(
                f"run {run_id!r} was started with judges {stored_names}; resume it with those judges "
                "(or none), or start a new run for other judges."
            )
        resolved = [
            resolve_judge(db, j["ref"], version=j["version"], allow_import=allow_import) for j in run.judges
        ]
        work = None
        if run.dataset is not None:
            work = await anyio.to_thread.run_sync(
                _dataset_work, db, run_id, run.dataset, run.dataset_version,
                resolve_target(run.target or "", allowed_targets)[0], target_timeout_s,
            )
    else:
        resolved = resolve_judges(db, judges, allow_import)
        described = [_describe(r, ref) for r, ref in zip(resolved, judges, strict=True)]  # type: ignore[arg-type]
        work = None
        if dataset is not None or target is not None:
            if filter_string is not None or trace_ids is not None:
                raise InvalidArgument("pass a dataset and target, or filter_string / trace_ids, not both.")
            if dataset is None or target is None:
                raise InvalidArgument(
                    "a target runs on a dataset's records: pass both dataset (CreateDataset, AddTracesToDataset) "
                    "and target ('module:function'); to judge stored traces, pass neither."
                )
            version = await anyio.to_thread.run_sync(datasets.resolve_version, db, dataset, dataset_version)
            target_fn, target_ref = resolve_target(target, allowed_targets)
            records = await anyio.to_thread.run_sync(datasets.all_records, db, dataset, version)
            if not records:
                raise InvalidArgument(f"dataset {dataset!r} version {version} has no records; add some first.")
            if len(records) > max_traces:
                raise InvalidArgument(f"dataset {dataset!r} has {len(records):,} records, more than max_traces={max_traces:,}; raise max_traces.")
            run = await anyio.to_thread.run_sync(
                functools.partial(
                    store.create_run, db, judges=described, trace_ids=(), name=name, limits=limits,
                    dataset=dataset, dataset_version=version, target=target_ref,
                    record_ids=[r.record_id for r in records],
                )
            )
            work = _DatasetWork(target_fn, {r.record_id: r for r in records}, {}, target_timeout_s)
        else:
            selected = await anyio.to_thread.run_sync(_select_traces, db, filter_string, trace_ids, max_traces)
            run = await anyio.to_thread.run_sync(
                functools.partial(
                    store.create_run, db, judges=described, trace_ids=selected,
                    filter_string=filter_string, name=name, limits=limits,
                )
            )
        run_id = run.run_id
    runner = _Runner(
        db, run_id, resolved, settings, server, max_concurrency, max_tokens, max_cost_usd, progress, sampler, work
    )
    with _claimed(db, run_id):
        if resuming:
            # Only once this call holds the run: a resume refused as a duplicate changes nothing.
            await anyio.to_thread.run_sync(
                functools.partial(store.update_run, db, run_id, status="running", limits=limits)
            )
        await runner.run()
    if runner.failure is not None:
        raise EvaluationStopped(runner.stop_reason or str(runner.failure))
    return await anyio.to_thread.run_sync(functools.partial(summarize, db, run_id, concurrency=runner.report()))


def resolve_target(
    target: str | Callable[..., Any], allowed: Sequence[str] | None = None
) -> tuple[Callable[..., Any], str]:
    """The target callable and the import path that finds it again when the run is resumed."""
    if isinstance(target, str):
        if allowed is not None:
            check_allowed(target, list(allowed))
        return import_target(target), target.strip()
    if allowed is not None:
        raise InvalidArgument("a target from a client must be an import path 'module:function'.")
    if not callable(target):
        raise InvalidArgument(f"target must be an import path 'module:function' or a callable; got {target!r}.")
    return target, f"{target.__module__}:{target.__qualname__}"


_ACTIVE: set[tuple[str, str]] = set()
"""(database path, run id) of the runs this process is evaluating now."""


@contextmanager
def _claimed(db: Database, run_id: str) -> Iterator[None]:
    # Two calls resuming one run at once (a client retrying after a timeout) would each run the
    # missing pairs; the second is refused instead. A run left 'running' by a killed process is
    # not claimed by anyone, so it can still be resumed.
    key = (db.path, run_id)
    if key in _ACTIVE:
        raise InvalidArgument(
            f"run {run_id!r} is being evaluated by another call right now; wait for it (GetEvaluationRun shows "
            "its progress) instead of resuming it twice."
        )
    _ACTIVE.add(key)
    try:
        yield
    finally:
        _ACTIVE.discard(key)


def _trace_spend(db: Database, trace_id: str) -> tuple[int, float]:
    """(tokens, cost) of a target's trace; nothing when it could not be stored."""
    try:
        trace = get_trace(db, trace_id)
    except TraceNotFound:
        return 0, 0.0
    return trace.total_tokens or 0, trace.cost or 0.0  # unknown usage spent nothing we can count


def _dataset_work(
    db: Database, run_id: str, dataset: str, version: int | None, target: Callable[..., Any], timeout_s: float
) -> _DatasetWork:
    records = {r.record_id: r for r in datasets.all_records(db, dataset, version)}
    return _DatasetWork(target, records, store.record_traces(db, run_id), timeout_s)


def _check_limits(max_concurrency: int, max_tokens: int | None, max_cost_usd: float | None, max_traces: int) -> None:
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise InvalidArgument(f"max_concurrency must be an integer from 1 to {MAX_CONCURRENCY}; got {max_concurrency!r}.")
    SpendBudget.limiting(max_tokens, max_cost_usd)  # checks both limits
    if isinstance(max_traces, bool) or not isinstance(max_traces, int) or max_traces < 1:
        raise InvalidArgument(f"max_traces must be a positive integer; got {max_traces!r}.")


def resolve_judges(db: Database, judges: Sequence[str] | None, allow_import: bool) -> list[ResolvedJudge]:
    if not judges:
        raise InvalidArgument("judges must name at least one judge, e.g. judges=['correctness']; ListJudges lists them.")
    if len(judges) > MAX_JUDGES:
        raise InvalidArgument(f"one run takes at most {MAX_JUDGES} judges; got {len(judges)}. Split them over runs.")
    resolved = [resolve_judge(db, j, allow_import=allow_import) for j in judges]
    names = [r.name for r in resolved]
    if len(set(names)) != len(names):
        raise InvalidArgument(f"judges must be distinct; got {names}.")
    return resolved


def _describe(judge: ResolvedJudge, ref: str) -> dict[str, Any]:
    # `ref` is what resolves the judge again on resume (an import path for a code judge); only
    # stored judges have versions to pin.
    stored = judge.code is None and judge.builtin is None and judge.name not in BUILTIN_AGENT_JUDGES
    version = judge.definition.version if stored and judge.definition is not None else None
    return {"name": judge.name, "ref": ref.strip(), "version": version, "source_id": judge.source_id, "kind": judge.kind}


def _select_traces(
    db: Database, filter_string: str | None, trace_ids: Sequence[str] | None, max_traces: int
) -> list[str]:
    if trace_ids is not None:
        if filter_string is not None:
            raise InvalidArgument("pass filter_string or trace_ids, not both.")
        if not trace_ids:
            raise InvalidArgument("trace_ids is empty; pass the ids of the traces to judge, or a filter_string.")
        return known_trace_ids(
            db,
            trace_ids,
            limit=max_traces,
            too_many=lambda n: f"{n:,} trace_ids is more than max_traces={max_traces:,}; raise max_traces or split the run.",
        )
    ids = search_trace_ids(db, filter_string, None, max_traces + 1)
    if len(ids) > max_traces:
        raise InvalidArgument(
            f"the filter matches more than max_traces={max_traces:,} traces; narrow filter_string or raise max_traces."
        )
    if not ids:
        raise InvalidArgument(f"no trace matches filter_string={filter_string!r}; SearchTraces shows what it matches.")
    return ids


class _Runner:
    """One Evaluate call's state: the limiter, the budget and the progress counter."""

    def __init__(
        self,
        db: Database,
        run_id: str,
        judges: list[ResolvedJudge],
        settings: Settings,
        server: JudgeServer | None,
        max_concurrency: int,
        max_tokens: int | None,
        max_cost_usd: float | None,
        progress: ProgressCallback | None,
        sampler: Sampler | None,
        work: _DatasetWork | None = None,
    ) -> None:
        self.db, self.run_id, self.judges, self.settings, self.server = db, run_id, judges, settings, server
        self.work = work
        self.stop_reason: str | None = None  # set by a task that stops starting pairs
        self.failure: PersistentModelError | None = None  # what stopped the run, when an error did
        self.task_group: TaskGroup | None = None
        self.sampler = sampler  # the calling MCP client, for judges on MCP sampling
        self.progress = progress
        self.limiter = AdaptiveLimiter(max_concurrency)
        self.progress_lock = anyio.Lock()
        self.budget = SpendBudget(max_tokens, max_cost_usd)
        self.limited = max_tokens is not None or max_cost_usd is not None
        self.done = 0
        self.total = 0

    def report(self) -> ConcurrencyReport:
        return ConcurrencyReport(
            max_concurrency=self.limiter.maximum, lowest=self.limiter.lowest, final=self.limiter.limit,
            rate_limit_signals=self.limiter.rate_limit_signals,
        )

    async def run(self) -> None:
        started = time.perf_counter()
        try:
            pairs = await anyio.to_thread.run_sync(self._missing_pairs)
            pending = await anyio.to_thread.run_sync(store.pending_record_ids, self.db, self.run_id) if self.work else []
            totals = await anyio.to_thread.run_sync(store.run_totals, self.db, self.run_id)
            self.budget.add(totals.total_tokens, totals.cost)
            self.done = totals.results
            if self.work is not None:
                self.budget.add(*await anyio.to_thread.run_sync(self._target_tokens_and_cost))
            self.total = totals.results + len(pairs) + len(pending) * len(self.judges)
            await self._report(
                f"evaluating {len(pairs) + len(pending) * len(self.judges):,} pairs ({self.done:,} already have results)"
                + (f"; running the target on {len(pending):,} records first" if pending else "")
            )
            stop_reason = None
            async with anyio.create_task_group() as tg:
                self.task_group = tg
                for index, record_id in enumerate(pending):
                    slot = await self.limiter.acquire()
                    stop_reason = self._over_budget(f"run the target on the {len(pending) - index:,} remaining records")
                    if stop_reason is not None:
                        self.limiter.release(slot)
                        break
                    tg.start_soon(self._run_target, record_id, slot)
                for index, pair in enumerate(pairs if stop_reason is None else ()):
                    slot = await self.limiter.acquire()
                    stop_reason = self._over_budget(f"judge the {len(pairs) - index:,} remaining pairs")
                    if stop_reason is not None:
                        self.limiter.release(slot)
                        break
                    tg.start_soon(self._judge, pair, slot)
            stop_reason = stop_reason or self.stop_reason
            status = "stopped" if stop_reason is not None else "completed"
            await self._finish(status, stop_reason, started)
        except BaseException as exc:
            # A crash or cancellation leaves every finished pair stored; the run says it stopped
            # so a later call resumes it.
            with anyio.CancelScope(shield=True):
                await self._finish("stopped", f"interrupted ({type(exc).__name__}); resume with run_id={self.run_id!r}.", started)
            raise
        await self._report(stop_reason or "completed")

    async def _finish(self, status: str, stop_reason: str | None, started: float) -> None:
        # Said whether or not the run stopped: the last calls in flight can overshoot the budget
        # of a run they complete as much as of one they stop.
        over = self.budget.overshoot()
        await anyio.to_thread.run_sync(
            functools.partial(
                store.update_run, self.db, self.run_id, status=status, stop_reason=stop_reason,
                add_duration_s=time.perf_counter() - started,
                over_budget=f"The calls in flight when the budget ran out took the run to {over}." if over else None,
            )
        )

    def _missing_pairs(self) -> list[_Pair]:
        missing = {j.name: set(store.missing_trace_ids(self.db, self.run_id, j.name)) for j in self.judges}
        traces = sorted(set().union(*missing.values()))
        # Trace by trace, so a stopped run has whole traces judged rather than whole judges.
        return [self._pair(t, j) for t in traces for j in self.judges if t in missing[j.name]]

    def _pair(self, trace_id: str, judge: ResolvedJudge) -> _Pair:
        # On a dataset the record's expectations are what the judges compare against.
        record_id = self.work.trace_records.get(trace_id) if self.work else None
        record = self.work.records.get(record_id) if self.work and record_id else None
        return _Pair(trace_id, judge, record.expectations if record and record.expectations else NOT_GIVEN)

    def _target_tokens_and_cost(self) -> tuple[int, float]:  # on resume: what the targets already spent
        traces = get_traces(self.db, list(self.work.trace_records)) if self.work else []
        # Unknown usage spent nothing we can count.
        return sum(t.total_tokens or 0 for t in traces), sum(t.cost or 0.0 for t in traces)

    def _over_budget(self, remaining: str) -> str | None:
        if self.stop_reason is not None:  # a pair met an error that stops the run, or the budget
            return self.stop_reason
        reached = self.budget.reached()
        return None if reached is None else f"{reached}; {self._resume_hint(remaining)}"

    def _resume_hint(self, remaining: str) -> str:
        return f"resume with run_id={self.run_id!r} and a larger limit to {remaining}."

    async def _run_target(self, record_id: str, slot: Slot) -> None:
        assert self.work is not None
        record = self.work.records[record_id]
        try:
            with record_loaded_prompts() as loaded, use_database(self.db):
                outcome = await run_target(
                    self.db, self.work.target, record.inputs,
                    attributes={"tracejudge.evaluation.run_id": self.run_id, "tracejudge.dataset.record_id": record_id},
                    timeout_s=self.work.timeout_s,
                )
            spent = await anyio.to_thread.run_sync(_trace_spend, self.db, outcome.trace_id)
            await anyio.to_thread.run_sync(
                functools.partial(
                    store.set_record_trace, self.db, self.run_id, record_id, outcome.trace_id,
                    error=outcome.error, latency_s=outcome.latency_s,
                )
            )
            for prompt, version in sorted((n, v) for n, v in loaded if v is not None):
                await anyio.to_thread.run_sync(prompts.link_run_prompt, self.db, self.run_id, prompt, version)
        finally:
            self.limiter.release(slot)
        self.work.trace_records[outcome.trace_id] = record_id
        self.budget.add(*spent)
        if outcome.error is not None:
            failed = [
                store.EvaluationResult(
                    judge=j.name, trace_id=outcome.trace_id, source_id=j.source_id,
                    error=f"the target failed on record {record_id}, so there is nothing to judge: {outcome.error}",
                )
                for j in self.judges
            ]
            await anyio.to_thread.run_sync(store.record_results, self.db, self.run_id, failed)
            async with self.progress_lock:
                self.done += len(failed)
                await self._report(f"target failed on record {record_id}: {outcome.error[:200]}")
            return
        for judge in self.judges:
            slot = await self.limiter.acquire()
            stop_reason = self._over_budget("judge the remaining pairs")
            if stop_reason is not None:
                self.limiter.release(slot)
                self.stop_reason = self.stop_reason or stop_reason
                return
            assert self.task_group is not None
            self.task_group.start_soon(self._judge, self._pair(outcome.trace_id, judge), slot)

    async def _judge(self, pair: _Pair, slot: Slot) -> None:
        try:
            # A 429 retried deep inside the judge's model calls slows the run down at once; and
            # each of those calls reserves its cost from the run's budget before it is sent.
            with observe_retries(functools.partial(self.limiter.on_retry, slot)), (
                spending_within(self.budget) if self.limited else nullcontext()
            ):
                result, rate_limited = await self._result(pair)
        except BaseException:
            self.limiter.release(slot)
            raise
        if result is None:  # stopped (by an error every pair meets, or the budget): judged on resume
            self.limiter.release(slot)
            return
        self.limiter.release(slot, rate_limited=rate_limited)
        await anyio.to_thread.run_sync(store.record_results, self.db, self.run_id, [result])
        async with self.progress_lock:
            self.done += 1
            outcome = "error" if result.error is not None else f"{result.value!r}"[:80]
            await self._report(f"{pair.judge.name} on {pair.trace_id}: {outcome}")

    async def _result(self, pair: _Pair) -> tuple[store.EvaluationResult | None, bool]:
        """The pair's result and whether it met rate limiting; no result when an error every pair
        would meet stopped it before it spent anything, or the budget stopped it (the run then stops)."""
        started = time.perf_counter()
        try:
            verdict = await run_judge(
                self.db,
                pair.judge.code or pair.judge.definition,  # type: ignore[arg-type]
                pair.trace_id,
                settings=self.settings,
                server=self.server,
                sampler=self.sampler,
                expectations=pair.expectations,
            )
        except PersistentModelError as exc:
            self._halt(pair, exc)
            return None, False
        except Exception as exc:
            # Whatever failed (the store, a bug in a judge path), it is this pair's error, on record.
            logger.warning("judge %s failed on trace %s", pair.judge.name, pair.trace_id, exc_info=True)
            return store.EvaluationResult(
                judge=pair.judge.name, trace_id=pair.trace_id, source_id=pair.judge.source_id,
                error=f"{type(exc).__name__}: {exc}", latency_s=time.perf_counter() - started,
            ), False
        spent = judgment_spend(pair.judge, verdict)
        if (budget_stop := stopped_by_budget(verdict)) is not None:
            # No verdict, only spend: the pair stays to judge on resume, the spend stays the run's.
            await anyio.to_thread.run_sync(
                store.add_unjudged_spend, self.db, self.run_id, spent.input_tokens, spent.output_tokens, spent.cost_usd
            )
            self._halt(pair, BudgetExhausted(budget_stop))
            return None, verdict.metadata.get(RATE_LIMITED) is True
        return store.EvaluationResult(
            judge=pair.judge.name, trace_id=pair.trace_id, source_id=verdict.judge,
            assessment_id=verdict.assessment_id, value=verdict.value if verdict.error is None else None,
            error=verdict.error, input_tokens=spent.input_tokens, output_tokens=spent.output_tokens,
            cost=spent.cost_usd, latency_s=time.perf_counter() - started,
        ), verdict.metadata.get(RATE_LIMITED) is True

    def _halt(self, pair: _Pair, exc: PersistentModelError) -> None:
        """Stop starting pairs: recording `exc` on each of them would only repeat it."""
        if self.stop_reason is not None:
            return
        if isinstance(exc, BudgetExhausted):
            self.stop_reason = f"{exc}; {self._resume_hint('judge the remaining pairs')}"
        else:
            self.failure = exc
            self.stop_reason = (
                f"stopped at {pair.judge.name} on trace {pair.trace_id}, which was not judged: {exc} Once that "
                f"is fixed, resume with run_id={self.run_id!r}."
            )

    async def _report(self, message: str) -> None:
        if self.progress is None:
            return
        outcome = self.progress(self.done, self.total, message)
        if inspect.isawaitable(outcome):
            await outcome
