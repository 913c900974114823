"""`optimize_prompt`: improve a registered prompt so that an agent using it scores better under
judges on a dataset, with GEPA (mcp_server.optimization.search), and register what it finds.

Scoring a candidate text on a record runs the target on the record's inputs inside
`override_prompt(name, candidate)` (so the agent's own `load_prompt(name...)` returns the
candidate, whatever version or alias it asks for), stores that run as a trace like Evaluate does,
and runs the judges on it without logging feedback (candidates are trials, and their verdicts
would crowd the real feedback searches see). The record's score is the mean of its judges'
scores, each from 0 to 1: a boolean or a passing string ('yes', 'pass') is 1, other strings 0, a
number is placed in its judge's minimum..maximum; an error (target or judge) scores 0 and says
why, so the reflection model sees it.

The dataset is split into train (what the reflection model learns from) and validation (what
decides between candidates) with a fixed seed; a dataset of fewer than 4 records is used whole
for both, and the report says so. Every accepted candidate is registered as a new version of
the prompt with its parent and scores; aliases are not moved: the caller decides what ships.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field

from mcp_server.evaluation.run import resolve_judges, resolve_target
from mcp_server.evaluation.targets import run_target
from mcp_server.judges.definition import JudgeVerdict
from mcp_server.judges.llm_judge import NOT_GIVEN
from mcp_server.judges.runner import ResolvedJudge, judgment_spend, run_judge
from mcp_server.models import PersistentModelError, Sampler, check_model_allowed
from mcp_server.models.budget import SpendBudget, count_spent
from mcp_server.optimization.search import DEFAULT_MINIBATCH_SIZE, Progress, Scored, optimize_text, score_each
from mcp_server.prompts import override_prompt, parse_prompt_ref, record_loaded_prompts, use_database
from mcp_server.settings import Settings
from store import Database, datasets
from store import prompts as prompt_store
from store.datasets import DatasetRecordRow
from store.errors import InvalidArgument
from store.evaluations import passed
from store.traces import get_trace

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

SMALL_DATASET = 4
"""Below this many records the whole dataset is both the train and the validation set."""
FEEDBACK_CHARS = 600
"""Characters of a target's answer or a judge's rationale shown to the reflection model."""
MAX_CONCURRENCY = 64
"""The largest max_concurrency OptimizePrompt accepts: records scored at once."""


class OptimizedVersion(BaseModel):
    version: int
    parent_version: int
    val_score: float = Field(description="Mean score on the validation records, 0 to 1.")


class PromptOptimization(BaseModel):
    """OptimizePrompt's answer."""

    prompt: str
    start_version: int
    start_val_score: float = Field(description="The starting version's mean score on the validation records.")
    best_version: int = Field(description="The best version by validation score (the start when nothing beat it).")
    best_val_score: float
    gain: float = Field(description="best_val_score - start_val_score")
    registered: list[OptimizedVersion] = Field(description="Every candidate the search accepted, now a prompt version.")
    dataset: str
    dataset_version: int
    train_records: int
    val_records: int
    judges: list[str]
    metric_calls: int = Field(description="Records scored (target + judges), all candidates together.")
    reflection_calls: int
    cost_usd: float = Field(description="Judges, target traces and reflection together (batches the budget cut short included).")
    tokens: int
    stopped_by: str
    stop_message: str
    notice: str | None = None


def split_records(records: Sequence[DatasetRecordRow], val_fraction: float, seed: int) -> tuple[list, list, str | None]:
    """(train, validation, notice): a seeded shuffle cut at val_fraction, or the whole set for both
    when it is too small to cut."""
    if len(records) < SMALL_DATASET:
        return list(records), list(records), (
            f"the dataset has {len(records)} records, too few to hold some out: all of them were used for both "
            "training and validation, so the validation score may flatter the result; add records for a fair one."
        )
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    cut = min(len(shuffled) - 1, max(1, round(len(shuffled) * val_fraction)))
    return shuffled[cut:], shuffled[:cut], None


def judge_score(judge: ResolvedJudge, verdict: JudgeVerdict) -> float:
    """The verdict as a score from 0 to 1 (see the module docstring)."""
    value = verdict.value
    verdict_passed = passed(value)
    if verdict_passed is not None:
        return float(verdict_passed)
    if isinstance(value, int | float):
        output = judge.definition.output if judge.definition is not None else None
        low = output.minimum if output is not None and output.minimum is not None else 0.0
        high = output.maximum if output is not None and output.maximum is not None else 1.0
        if high <= low:
            return 1.0 if value >= high else 0.0
        return min(max((float(value) - low) / (high - low), 0.0), 1.0)
    return 0.0


def _cut(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= FEEDBACK_CHARS else text[:FEEDBACK_CHARS] + "..."


class _Scorer:
    """Scores candidate texts of one prompt on dataset records."""

    def __init__(
        self, db: Database, prompt: str, target: Callable[..., Any], judges: list[ResolvedJudge],
        settings: Settings, server: JudgeServer | None, sampler: Sampler | None, max_concurrency: int,
    ) -> None:
        self.db, self.prompt, self.target, self.judges = db, prompt, target, judges
        self.settings, self.server, self.sampler = settings, server, sampler
        self.limiter = anyio.CapacityLimiter(max_concurrency)
        self.loaded = False  # whether the target has loaded the prompt under trial at least once
        self.target_errors = 0  # of the batch being scored before the prompt was first loaded
        self.first_error: str | None = None

    async def __call__(self, candidate: str, batch: list[DatasetRecordRow]) -> list[Scored]:
        try:
            prompt_store.check_template(candidate)
        except InvalidArgument as exc:  # a proposal the registry could not hold scores 0, and says why
            return [Scored(0.0, f"this candidate was rejected before running the agent: {exc}") for _ in batch]
        results = await score_each(batch, lambda record: self._score(candidate, record), self.limiter)
        if not self.loaded and self.target_errors == len(batch):
            raise InvalidArgument(
                f"the target failed on all {len(batch)} records it was tried on, so nothing can be optimized; "
                f"the first error: {self.first_error}"
            )
        if not self.loaded:
            # Every candidate would score the same: say so rather than search in vain.
            raise InvalidArgument(
                f"the target never loaded prompt {self.prompt!r} on {len(batch)} records, so no candidate text "
                f"could change what it does; the agent must read it with load_prompt('prompts:/{self.prompt}@...')."
            )
        return results

    async def _score(self, candidate: str, record: DatasetRecordRow) -> Scored:
        example = _cut({"inputs": record.inputs, "expectations": record.expectations})
        with override_prompt(self.prompt, candidate), use_database(self.db), record_loaded_prompts() as loaded:
            outcome = await run_target(
                self.db, self.target, record.inputs,
                attributes={"tracejudge.optimization.prompt": self.prompt, "tracejudge.dataset.record_id": record.record_id},
            )
        self.loaded = self.loaded or (self.prompt, None) in loaded
        trace = await anyio.to_thread.run_sync(get_trace, self.db, outcome.trace_id)
        cost, tokens = trace.cost or 0.0, trace.total_tokens or 0  # unknown usage spent nothing we can count
        count_spent(tokens, cost)  # the agent's own model calls: not ours to reserve, but they spend the budget
        if outcome.error is not None:
            self.target_errors += 1
            self.first_error = self.first_error or _cut(outcome.error)
            return Scored(0.0, f"the agent failed: {_cut(outcome.error)}", cost, tokens, example)
        scores, notes = [], [f"the agent answered: {_cut(outcome.output)}"]
        for judge in self.judges:
            try:
                verdict = await run_judge(
                    self.db, judge.code or judge.definition,  # type: ignore[arg-type]
                    outcome.trace_id, settings=self.settings, server=self.server, sampler=self.sampler,
                    expectations=record.expectations or NOT_GIVEN, record=False,
                )
            except PersistentModelError:
                raise  # every record would meet it (no model, a model not allowed ...): the search stops
            except Exception as exc:  # a judge failing is this record's 0, explained; the search goes on
                scores.append(0.0)
                notes.append(f"judge {judge.name} failed: {type(exc).__name__}: {_cut(str(exc))}")
                continue
            spent = judgment_spend(judge, verdict)
            cost += spent.cost_usd
            tokens += spent.total_tokens
            if verdict.error is not None:
                scores.append(0.0)
                notes.append(f"judge {judge.name} could not judge: {_cut(verdict.error)}")
                continue
            scores.append(judge_score(judge, verdict))
            notes.append(f"judge {judge.name} said {verdict.value!r}: {_cut(verdict.rationale or '')}")
        return Scored(sum(scores) / len(scores), "\n".join(notes), cost, tokens, example)


async def optimize_prompt(
    db: Database,
    prompt: str,
    *,
    dataset: str,
    judges: Sequence[str],
    target: str | Callable[..., Any],
    settings: Settings,
    dataset_version: int | None = None,
    reflection_model: str | None = None,
    max_metric_calls: int = 60,
    max_cost_usd: float | None = None,
    val_fraction: float = 0.5,
    seed: int = 0,
    max_concurrency: int = 8,
    minibatch_size: int = DEFAULT_MINIBATCH_SIZE,
    progress: Progress | None = None,
    server: JudgeServer | None = None,
    sampler: Sampler | None = None,
    allow_import: bool = True,
    allowed_targets: Sequence[str] | None = None,
) -> PromptOptimization:
    """Search for a better version of the text prompt `prompt` (a name, 'prompts:/name/3' or
    'prompts:/name@alias'; a bare name starts from the latest version) that makes `target` score
    higher under `judges` on `dataset`, and register the candidates it accepts."""
    if reflection_model is not None:
        check_model_allowed(reflection_model, settings.models)
    ref = parse_prompt_ref(prompt)
    start = await anyio.to_thread.run_sync(_start_version, db, ref)
    if start.kind != "text":
        raise InvalidArgument(
            f"prompt {ref.name!r} version {start.version} is a chat prompt; OptimizePrompt improves text prompts. "
            "Register the part to optimize (e.g. the system message) as a text prompt the agent formats."
        )
    if not 0 < val_fraction < 1:
        raise InvalidArgument(f"val_fraction must be between 0 and 1; got {val_fraction!r}.")
    if (
        isinstance(max_concurrency, bool)
        or not isinstance(max_concurrency, int)
        or not 1 <= max_concurrency <= MAX_CONCURRENCY
    ):
        raise InvalidArgument(
            f"max_concurrency must be an integer from 1 to {MAX_CONCURRENCY}; got {max_concurrency!r}."
        )
    if reflection_model is None and settings.models.judge_model is None and sampler is None:
        raise InvalidArgument(
            "no reflection model: pass reflection_model (e.g. 'openai:/gpt-4o'), set TRACEJUDGE_JUDGE_MODEL, "
            "or call from an MCP client that supports sampling."
        )
    resolved = resolve_judges(db, judges, allow_import)
    target_fn, _ = resolve_target(target, allowed_targets)
    version = await anyio.to_thread.run_sync(datasets.resolve_version, db, dataset, dataset_version)
    records = await anyio.to_thread.run_sync(datasets.all_records, db, dataset, version)
    if not records:
        raise InvalidArgument(f"dataset {dataset!r} version {version} has no records; add some first.")
    train, val, notice = split_records(records, val_fraction, seed)
    scorer = _Scorer(db, ref.name, target_fn, resolved, settings, server, sampler, max_concurrency)
    budget = SpendBudget(max_cost_usd=max_cost_usd)  # every model call of this optimization draws from it
    result = await optimize_text(
        str(start.template),
        component=f"prompt {ref.name!r}",
        train=train,
        val=val,
        score=scorer,
        reflection_model=reflection_model,
        settings=settings.models,
        max_metric_calls=max_metric_calls,
        max_cost_usd=max_cost_usd,
        budget=budget,
        progress=progress,
        seed_rng=seed,
        minibatch_size=minibatch_size,
        sampler=sampler,
    )
    # Registered in the order found, so each candidate's parent has its version already.
    versions = {0: start.version}
    registered = []
    for candidate in result.candidates[1:]:
        parent = versions[candidate.parent if candidate.parent is not None else 0]
        record = await anyio.to_thread.run_sync(
            lambda c=candidate, p=parent: prompt_store.register_prompt_version(
                db, ref.name, c.text,
                commit_message=(
                    f"OptimizePrompt: validation score {result.seed_score:.3f} -> {c.val_score:.3f} on dataset "
                    f"{dataset!r} v{version} (from version {p})"
                ),
                parent_version=p,
                metadata={
                    "optimization": {
                        "val_score": c.val_score, "val_scores": c.val_scores, "start_version": start.version,
                        "start_val_score": result.seed_score, "dataset": dataset, "dataset_version": version,
                        "judges": [j.name for j in resolved],
                    }
                },
            )
        )
        versions[candidate.index] = record.version
        registered.append(OptimizedVersion(version=record.version, parent_version=parent, val_score=candidate.val_score))
    best = result.best_candidate
    return PromptOptimization(
        prompt=ref.name,
        start_version=start.version,
        start_val_score=result.seed_score,
        best_version=versions[best.index],
        best_val_score=best.val_score,
        gain=best.val_score - result.seed_score,
        registered=registered,
        dataset=dataset,
        dataset_version=version,
        train_records=len(train),
        val_records=len(val),
        judges=[j.name for j in resolved],
        metric_calls=result.metric_calls,
        reflection_calls=result.reflection_calls,
        cost_usd=budget.spent_cost_usd,
        tokens=budget.spent_tokens,
        stopped_by=result.stopped_by,
        stop_message=result.stop_message,
        notice=notice,
    )


def _start_version(db: Database, ref: Any) -> prompt_store.PromptVersionRecord:
    if ref.version is not None:
        return prompt_store.get_prompt_version(db, ref.name, ref.version)
    if ref.alias is not None:
        return prompt_store.get_prompt_by_alias(db, ref.name, ref.alias)
    return prompt_store.latest_prompt_version(db, ref.name)
