"""`optimize_text`: improve one piece of text (a prompt, a judge's instructions) against an async
score function, with the `gepa` package's reflective evolution and Pareto front, within a budget
of metric calls and of USD.

GEPA is synchronous: it calls the adapter's `evaluate` and the reflection model as plain
functions. Our scoring and our model calls are coroutines bound to the caller's event loop (the
MCP session a sampling model answers through, litellm's async clients, the store's worker
threads), so GEPA runs in a worker thread (`anyio.to_thread.run_sync`) and every score and
reflection call goes back to that loop with `anyio.from_thread.run`. A private event loop per
call would cut those ties: MCP sampling could not reach the client, and concurrent scoring
inside one batch would lose the caller's loop.

Budgets: a metric call is one item scored. No batch starts that would take the metric calls
past `max_metric_calls`, and no step starts that could not finish (score a minibatch before and
after a proposal, then the validation set). Money is a SpendBudget (mcp_server.models.budget),
one per tool call, shared with whatever else the caller spends on (AlignJudge's held-out
judgments): every scoring and reflection model call reserves its estimate from it before it is
sent, a call that no longer fits is refused (BudgetExhausted) and ends the search with what was
accepted, so max_cost_usd holds over the whole search to within what calls spend beyond their
estimates. The search also stops once a candidate scores perfectly on the validation set.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from pydantic import BaseModel, Field

from mcp_server.models import BudgetExhausted, ModelError, ModelSettings, PersistentModelError, Sampler, complete
from mcp_server.models.budget import SpendBudget, spending_within
from store.errors import InvalidArgument

if TYPE_CHECKING:
    from gepa.core.adapter import EvaluationBatch

T = TypeVar("T")
R = TypeVar("R")
logger = logging.getLogger(__name__)

PERFECT_SCORE = 1.0
DEFAULT_MINIBATCH_SIZE = 3


@dataclass(frozen=True)
class Scored:
    """One item scored with one candidate text."""

    score: float
    """From 0 to 1; 1 is perfect."""
    feedback: str
    """What went right or wrong on this item, for the reflection model to learn from."""
    cost_usd: float = 0.0
    tokens: int = 0
    example: str = ""
    """The item as the reflection model should see it (its inputs, what was expected)."""


ScoreFn = Callable[[str, list[T]], Awaitable[list[Scored]]]
"""(candidate text, batch) -> one Scored per item of the batch, in order."""
Progress = Callable[[int, int, str], Awaitable[None]]
"""(metric calls used, max_metric_calls, message)."""

StopReason = Literal["max_metric_calls", "max_cost_usd", "perfect_score", "reflection_failed"]


class SearchCandidate(BaseModel):
    """A candidate the search accepted (index 0 is the starting text) and its validation scores."""

    index: int
    text: str
    parent: int | None = Field(description="The candidate it was proposed from; None for the starting text.")
    val_score: float = Field(description="Mean score on the validation items.")
    val_scores: list[float] = Field(description="The score on each validation item, in the order given.")


class SearchResult(BaseModel):
    candidates: list[SearchCandidate] = Field(description="Every accepted candidate in order; [0] is the start.")
    best: int = Field(description="Index of the best candidate by validation score (the earliest on a tie).")
    metric_calls: int = Field(description="Items scored, all candidates together.")
    scoring_cost_usd: float
    reflection_cost_usd: float
    reflection_calls: int
    tokens: int = Field(description="Tokens of scoring and reflection together.")
    stopped_by: StopReason
    stop_message: str

    @property
    def best_candidate(self) -> SearchCandidate:
        return self.candidates[self.best]

    @property
    def seed_score(self) -> float:
        return self.candidates[0].val_score

    @property
    def best_score(self) -> float:
        return self.best_candidate.val_score

    @property
    def cost_usd(self) -> float:
        return self.scoring_cost_usd + self.reflection_cost_usd


class _Stopped(Exception):
    """Raised inside GEPA's thread when a budget is spent or the caller went away; caught by
    optimize_text, which returns what was accepted until then."""


class _GepaLog:
    """GEPA prints to stdout by default, which is the protocol channel of an MCP stdio server."""

    def log(self, message: str) -> None:
        logger.debug("gepa: %s", message)


class _Search(Generic[T]):
    """The state of one search, shared by the adapter, the reflection model, the stopper and the
    callback GEPA calls; all of them run in GEPA's one worker thread."""

    def __init__(
        self,
        *,
        component: str,
        val_size: int,
        score: ScoreFn[T],
        reflection_model: str | None,
        settings: ModelSettings,
        sampler: Sampler | None,
        max_metric_calls: int,
        budget: SpendBudget,
        minibatch_size: int,
        progress: Progress | None,
    ) -> None:
        self.component = component
        self.val_size = val_size
        self.score = score
        self.reflection_model = reflection_model
        self.settings = settings
        self.sampler = sampler
        self.max_metric_calls = max_metric_calls
        self.budget = budget
        self.minibatch_size = minibatch_size
        self.progress = progress
        self.metric_calls = 0
        self.scoring_cost_usd = 0.0
        self.reflection_cost_usd = 0.0
        self.reflection_calls = 0
        self.tokens = 0
        self.candidates: dict[int, SearchCandidate] = {}
        self.stopped_by: StopReason | None = None
        self.stop_message = ""
        self.cancelled = False

    # budgets

    @property
    def cost_usd(self) -> float:
        return self.scoring_cost_usd + self.reflection_cost_usd

    @property
    def total_cost(self) -> float:
        """GEPA reads a reflection model's spend here; ours covers scoring too."""
        return self.cost_usd

    def _stop(self, reason: StopReason, message: str) -> None:
        if self.stopped_by is None:
            self.stopped_by, self.stop_message = reason, message

    def _cost_spent(self) -> bool:
        reached = self.budget.reached()
        if reached is not None:
            self._stop("max_cost_usd", f"stopped: {reached}.")
        return self.stopped_by is not None

    def _on_loop(self, fn: Callable[..., Awaitable[R]], *args: Any) -> R:
        """`fn(*args)` on the caller's event loop, its model calls drawing from the budget; a call
        the budget refuses ends the search."""

        async def within_budget() -> R:
            with spending_within(self.budget):
                return await fn(*args)

        try:
            return anyio.from_thread.run(within_budget)
        except BudgetExhausted as exc:
            self._stop("max_cost_usd", f"stopped: {exc}.")
            raise _Stopped(self.stop_message) from exc

    def _check(self, upcoming_calls: int = 0) -> None:
        if self.cancelled:
            raise _Stopped("the caller went away")
        if self.metric_calls + upcoming_calls > self.max_metric_calls:
            self._stop("max_metric_calls", self._metric_calls_message())
        if self._cost_spent():
            raise _Stopped(self.stop_message)

    def _metric_calls_message(self) -> str:
        return (
            f"stopped with {self.metric_calls} of {self.max_metric_calls} metric calls used: another step "
            f"needs up to {self.step_calls} (a minibatch of {self.minibatch_size} scored before and after "
            f"a proposal, then the {self.val_size} validation items)."
        )

    @property
    def step_calls(self) -> int:
        return 2 * self.minibatch_size + self.val_size

    def should_stop(self, state: Any) -> bool:
        """GEPA's stop condition, checked before each step."""
        if self.cancelled:
            return True
        if self.candidates and max(c.val_score for c in self.candidates.values()) >= PERFECT_SCORE:
            self._stop("perfect_score", "stopped: a candidate scores perfectly on every validation item.")
        if self.metric_calls + self.step_calls > self.max_metric_calls:
            self._stop("max_metric_calls", self._metric_calls_message())
        return self._cost_spent()

    # calls back into the caller's event loop

    def _report(self, message: str) -> None:
        if self.progress is not None:
            anyio.from_thread.run(self.progress, self.metric_calls, self.max_metric_calls, message)

    def evaluate(self, batch: list[T], candidate: dict[str, str], capture_traces: bool = False) -> EvaluationBatch:
        from gepa.core.adapter import EvaluationBatch

        self._check(len(batch))
        scored = self._on_loop(self.score, candidate[self.component], list(batch))
        if len(scored) != len(batch):
            raise RuntimeError(f"the score function returned {len(scored)} results for {len(batch)} items")
        self.metric_calls += len(batch)
        self.scoring_cost_usd += sum(s.cost_usd for s in scored)
        self.tokens += sum(s.tokens for s in scored)
        scores = [_clamp(s.score) for s in scored]
        self._report(f"scored {len(batch)} items (mean {sum(scores) / len(scores):.2f}); {self._summary()}")
        return EvaluationBatch(
            outputs=[s.feedback for s in scored],
            scores=scores,
            trajectories=list(scored) if capture_traces else None,
        )

    def make_reflective_dataset(
        self, candidate: dict[str, str], eval_batch: EvaluationBatch, components_to_update: list[str]
    ) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        records = []
        for scored, score in zip(eval_batch.trajectories or [], eval_batch.scores, strict=True):
            record: dict[str, Any] = {}
            if scored.example:
                record["Inputs"] = scored.example
            record["Score"] = f"{score:g} (1 is perfect)"
            record["Feedback"] = scored.feedback
            records.append(record)
        return {name: records for name in components_to_update}

    def reflect(self, prompt: str | list[dict[str, Any]]) -> str:
        """GEPA's reflection model: one call of ours, so litellm's HTTP path, retries and cost apply."""
        self._check()
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        try:
            completion = self._on_loop(
                functools.partial(
                    complete, messages, model=self.reflection_model, settings=self.settings, sampler=self.sampler
                )
            )
        except ModelError as exc:
            # `complete` already retried what can be retried; more steps would only spend on scoring.
            self._stop("reflection_failed", f"stopped: the reflection model failed: {exc}")
            raise
        self.reflection_calls += 1
        self.reflection_cost_usd += completion.cost_usd
        self.tokens += completion.input_tokens + completion.output_tokens
        return completion.text

    def on_valset_evaluated(self, event: Mapping[str, Any]) -> None:
        """GEPA's callback for each candidate scored on the validation set: the accepted ones."""
        index = int(event["candidate_idx"])
        parents = [p for p in event.get("parent_ids") or [] if p is not None]
        scores = event["scores_by_val_id"]
        val_scores = [float(scores[i]) for i in sorted(scores)]
        self.candidates[index] = SearchCandidate(
            index=index,
            text=event["candidate"][self.component],
            parent=int(parents[0]) if parents else None,
            val_score=sum(val_scores) / len(val_scores) if val_scores else 0.0,
            val_scores=val_scores,
        )
        what = "the starting text" if index == 0 else f"candidate {index} accepted"
        self._report(f"{what}: validation score {self.candidates[index].val_score:.2f}; {self._summary()}")

    def _summary(self) -> str:
        text = f"{self.metric_calls} of {self.max_metric_calls} metric calls, ${self.cost_usd:.4f}"
        if self.candidates:
            best = max(c.val_score for c in self.candidates.values())
            text += f", best validation score {best:.2f} (start {self.candidates[0].val_score:.2f})"
        return text

    # the search itself, in the worker thread

    def run(self, seed: str, train: list[T], val: list[T], seed_rng: int, reflection_prompt: str | None) -> None:
        from gepa.api import optimize

        try:
            optimize(
                seed_candidate={self.component: seed},
                trainset=train,
                valset=val,
                adapter=self,  # type: ignore[arg-type]  # structurally a GEPAAdapter
                reflection_lm=self,
                reflection_prompt_template=reflection_prompt,
                reflection_minibatch_size=self.minibatch_size,
                perfect_score=PERFECT_SCORE,
                stop_callbacks=[self.should_stop],
                callbacks=[self],
                logger=_GepaLog(),
                # No cache: GEPA keys it by position in the list, so train item 2 and validation
                # item 2 would share an entry.
                cache_evaluation=False,
                track_best_outputs=False,
                display_progress_bar=False,
                raise_on_exception=True,
                seed=seed_rng,
            )
        except _Stopped:
            pass

    # GEPA calls the reflection model as `lm(prompt)` and reads `lm.total_cost`.
    __call__ = reflect

    # Not a custom proposer: GEPA's reflective mutation proposes through `reflect`.
    propose_new_texts = None


async def score_each(
    items: Sequence[T], score: Callable[[T], Awaitable[R]], limiter: anyio.CapacityLimiter
) -> list[R]:
    """`score(item)` for every item, as many at once as `limiter` allows, in the items' order. A
    PersistentModelError (no model, a model the server does not allow ...) cancels the rest and is
    raised as itself, not inside the task group's ExceptionGroup: every item would meet it, and the
    tool that started the search answers it."""
    results: dict[int, R] = {}
    stopped: list[PersistentModelError] = []

    async def one(n: int, item: T) -> None:
        async with limiter:
            try:
                results[n] = await score(item)
            except PersistentModelError as exc:
                stopped.append(exc)
                group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        for n, item in enumerate(items):
            group.start_soon(one, n, item)
    if stopped:
        raise stopped[0]
    return [results[n] for n in range(len(items))]


def _clamp(score: float) -> float:
    if not isinstance(score, int | float) or not math.isfinite(score):
        raise RuntimeError(f"the score function returned a score that is not a finite number: {score!r}")
    return min(max(float(score), 0.0), PERFECT_SCORE)


def minimum_metric_calls(val_size: int, minibatch_size: int = DEFAULT_MINIBATCH_SIZE) -> int:
    """The smallest max_metric_calls that tries one candidate: the start scored on the validation
    set, then one step (a minibatch before and after a proposal, and the validation set)."""
    return 2 * val_size + 2 * minibatch_size


async def optimize_text(
    seed: str,
    *,
    component: str,
    train: Sequence[T],
    val: Sequence[T],
    score: ScoreFn[T],
    reflection_model: str | None,
    settings: ModelSettings,
    max_metric_calls: int,
    max_cost_usd: float | None = None,
    budget: SpendBudget | None = None,
    progress: Progress | None = None,
    seed_rng: int = 0,
    minibatch_size: int = DEFAULT_MINIBATCH_SIZE,
    reflection_prompt: str | None = None,
    sampler: Sampler | None = None,
) -> SearchResult:
    """Search for a better version of `seed` with GEPA.

    The starting text is scored on `val` first; each step scores a minibatch of `train` with a
    candidate, asks `reflection_model` (None: the default judge model) for an improved text from
    the scores and feedback, and keeps the new text if it scores higher on that minibatch and
    then on `val`. `score(text, batch)` returns one Scored per item, scores from 0 to 1.
    `component` names the text for the reflection model (e.g. 'instructions').
    `reflection_prompt`: GEPA's reflection template, with <curr_param> (the text) and
    <side_info> (the scored examples); None for GEPA's default. `sampler`: the MCP client, for
    a reflection model reached through sampling. Budgets as the module docstring says: `budget`
    is a SpendBudget the caller shares with its own spending (then its limit replaces
    max_cost_usd); without one the search gets its own, of max_cost_usd.
    Returns every accepted candidate and the best; a score function that raises ends the search
    with that exception.
    """
    if not isinstance(seed, str) or not seed.strip():
        raise InvalidArgument("the starting text is empty; give the text to improve.")
    if not train or not val:
        raise InvalidArgument(
            f"the search needs training and validation items; got {len(train)} and {len(val)}."
        )
    if isinstance(minibatch_size, bool) or not isinstance(minibatch_size, int) or minibatch_size < 1:
        raise InvalidArgument(f"minibatch_size must be a positive integer; got {minibatch_size!r}.")
    needed = minimum_metric_calls(len(val), minibatch_size)
    if isinstance(max_metric_calls, bool) or not isinstance(max_metric_calls, int) or max_metric_calls < needed:
        raise InvalidArgument(
            f"max_metric_calls={max_metric_calls!r} cannot try a single candidate: scoring the starting text "
            f"on the {len(val)} validation items and one step (a minibatch of {minibatch_size} before and after "
            f"a proposal, then the validation items again) need {needed}; pass at least {needed}."
        )
    if max_cost_usd is not None and (
        isinstance(max_cost_usd, bool) or not isinstance(max_cost_usd, int | float) or not max_cost_usd > 0
    ):
        raise InvalidArgument(f"max_cost_usd must be a positive number of dollars, or none; got {max_cost_usd!r}.")
    search = _Search(
        component=component,
        val_size=len(val),
        score=score,
        reflection_model=reflection_model,
        settings=settings,
        sampler=sampler,
        max_metric_calls=max_metric_calls,
        budget=budget if budget is not None else SpendBudget(max_cost_usd=max_cost_usd),
        minibatch_size=minibatch_size,
        progress=progress,
    )
    try:
        # abandon_on_cancel: a cancelled caller returns at once; the flag below makes the worker
        # stop at its next score or reflection call instead of spending on.
        await anyio.to_thread.run_sync(
            functools.partial(search.run, seed, list(train), list(val), seed_rng, reflection_prompt),
            abandon_on_cancel=True,
        )
    finally:
        search.cancelled = True
    # Validation above makes room for scoring the start in max_metric_calls; only the budget can
    # leave it unscored.
    if 0 not in search.candidates:
        raise BudgetExhausted(
            f"the budget ran out before the starting text was scored on the {len(val)} validation items "
            f"({search.stop_message}); raise max_cost_usd."
        )
    candidates = [search.candidates[i] for i in sorted(search.candidates)]
    best = max(range(len(candidates)), key=lambda i: (candidates[i].val_score, -i))
    return SearchResult(
        candidates=candidates,
        best=best,
        metric_calls=search.metric_calls,
        scoring_cost_usd=search.scoring_cost_usd,
        reflection_cost_usd=search.reflection_cost_usd,
        reflection_calls=search.reflection_calls,
        tokens=search.tokens,
        stopped_by=search.stopped_by or "max_metric_calls",
        stop_message=search.stop_message or search._metric_calls_message(),
    )
