"""`align_judge`: rewrite a stored judge's instructions so its verdicts agree with the human
labels of the same name, with the GEPA search of mcp_server.optimization.search.

The labels (each labeled trace's latest HUMAN feedback named after the judge) are split, the
same way on every run, into training labels and held-out labels, in proportion per label value.
The search starts from the judge's instructions, reflects on the training labels it disagrees
with and keeps instructions that agree with more of them. Then the current and the best
instructions judge the held-out labels, which the search never saw: the best instructions are
registered as the judge's next version only when they agree with more held-out labels.
Judging here never logs feedback (run_judge with record=False).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field, ValidationError

from mcp_server.judges import registry, service
from mcp_server.judges.definition import JudgeDefinition, JudgeVerdict
from mcp_server.judges.runner import ResolvedJudge, judgment_spend, run_judge
from mcp_server.judges.trace_data import root_inputs_outputs
from mcp_server.models import BudgetExhausted, Sampler, check_model_allowed
from mcp_server.models.budget import SpendBudget, spending_within
from mcp_server.optimization.agreement import (
    AgreementScore,
    Label,
    agreement_score,
    labels_and_verdicts,
    normalize_label,
    show_label,
)
from mcp_server.optimization.alignment_limits import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_MIN_LABELS,
    MAX_HOLDOUT_FRACTION,
    MIN_HOLDOUT_FRACTION,
    MIN_LABELS_FLOOR,
)
from mcp_server.optimization.search import Scored, SearchResult, minimum_metric_calls, optimize_text, score_each
from mcp_server.settings import Settings
from store import Database
from store.errors import InvalidArgument, NotEnoughLabels, RootSpanNotFound

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

METRIC_CALLS_PER_LABEL = 4
METRIC_CALLS_BASE = 30
"""With no max_metric_calls the search may make METRIC_CALLS_PER_LABEL judgments per training label
and METRIC_CALLS_BASE more."""
MAX_CONCURRENCY = 8
"""Judgments in flight while scoring a batch of labels."""
EXAMPLE_CHARS = 1_500
"""Of a trace's inputs and of its outputs, shown to the reflection model."""
RATIONALE_CHARS = 600
NO_VERDICT = "(no verdict)"

Progress = Callable[[int, int, str], Awaitable[None]]

REFLECTION_PROMPT = """\
You are improving the instructions of an AI judge so that its verdicts agree with the labels \
human experts gave. The judge's current instructions:
```
<curr_param>
```

Below are traces the judge evaluated with these instructions: the data it read, and feedback \
comparing its verdict with the human label:
```
<side_info>
```

Write new instructions for the judge. Work out from the disagreements which criteria the human \
experts apply that the instructions miss or get wrong, and state them explicitly and generally \
(not tied to one example). Keep every template variable exactly as the current instructions \
write it ({{ inputs }}, {{ outputs }}, {{ expectations }} or {{ trace }}): the judge reads its \
data through them, and no other {{ ... }} variable is allowed. Keep the judge's allowed values \
unchanged.

Provide the new instructions within ``` blocks."""


@dataclass(frozen=True)
class LabeledTrace:
    trace_id: str
    label: Label
    example: str
    """The trace's inputs and outputs as the reflection model reads them."""


class HeldOutAgreement(AgreementScore):
    errors: int = Field(description="Held-out traces where the judge gave no verdict (counted as disagreeing).")


class AlignmentReport(BaseModel):
    judge: str
    version_before: int
    new_version: int | None = Field(description="The version registered; None when nothing was.")
    registered: bool
    message: str
    labels: int
    train_labels: int
    held_out_labels: int
    before: HeldOutAgreement = Field(description="The current instructions on the held-out labels.")
    after: HeldOutAgreement = Field(description="The best instructions found on the held-out labels.")
    train_accuracy_before: float = Field(description="The current instructions on the training labels.")
    train_accuracy_after: float = Field(description="The best instructions found on the training labels.")
    candidates: int = Field(description="Instructions the search accepted, the current ones included.")
    metric_calls: int = Field(description="Judgments made by the search.")
    stopped_by: str
    stop_message: str
    cost_usd: float = Field(description="The search and the held-out judgments together.")
    tokens: int
    instructions: str | None = Field(None, description="The new version's instructions, when one was registered.")


def _problems(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


def _with_instructions(judge: JudgeDefinition, instructions: str) -> JudgeDefinition:
    """The judge with other instructions; InvalidArgument when they are not valid for it."""
    try:
        candidate = JudgeDefinition(**{**judge.model_dump(), "instructions": instructions})
    except ValidationError as exc:
        raise InvalidArgument(_problems(exc)) from None
    if candidate.is_agent_judge != judge.is_agent_judge:
        kind = "must use" if judge.is_agent_judge else "must not use"
        raise InvalidArgument(f"the instructions {kind} {{{{ trace }}}}, as the judge's current ones")
    return candidate


def _cut(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit:,} characters cut]"


def _example(db: Database, trace_id: str) -> str:
    try:
        inputs, outputs = root_inputs_outputs(db, trace_id)
    except RootSpanNotFound:
        return f"trace {trace_id} (its root span has not arrived)"
    return f"trace {trace_id}\ninputs: {_cut(inputs, EXAMPLE_CHARS)}\noutputs: {_cut(outputs, EXAMPLE_CHARS)}"


def split_labels(labeled: list[LabeledTrace], holdout_fraction: float, seed: int = 0) -> tuple[list[LabeledTrace], list[LabeledTrace]]:
    """(train, held out): the same split for the same labeled content every time, each label value
    held out in proportion, and at least one trace on each side.

    Ordered by what was labeled (the example) before the seeded shuffle, not by trace id: trace
    ids are random, so the same labels on fresh traces of the same agent would split differently
    from one run to the next."""
    groups: dict[str, list[LabeledTrace]] = {}
    def content(item: LabeledTrace) -> bytes:  # the example less its first line, which names the trace
        return hashlib.sha256(item.example.partition("\n")[2].encode()).digest()

    for item in sorted(labeled, key=lambda i: (content(i), i.trace_id)):
        groups.setdefault(show_label(item.label), []).append(item)
    rng = random.Random(seed)
    train: list[LabeledTrace] = []
    held: list[LabeledTrace] = []
    for value in sorted(groups):
        group = groups[value]
        rng.shuffle(group)
        cut = round(len(group) * holdout_fraction)
        held += group[:cut]
        train += group[cut:]
    if not held:
        held.append(train.pop())
    if not train:
        train.append(held.pop())
    return train, held


async def align_judge(
    db: Database,
    judge_name: str,
    *,
    settings: Settings,
    reflection_model: str | None = None,
    min_labels: int = DEFAULT_MIN_LABELS,
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    max_metric_calls: int | None = None,
    max_cost_usd: float | None = None,
    progress: Progress | None = None,
    sampler: Sampler | None = None,
    server: JudgeServer | None = None,
    seed: int = 0,
) -> AlignmentReport:
    """AlignJudge: optimize the stored judge `judge_name`'s instructions against its human labels.

    min_labels (default 20): fewer labels raise NotEnoughLabels saying how many more to label.
    holdout_fraction (default 0.3): the share of labels kept out of the search to compare the
    judge before and after. reflection_model: the model that rewrites the instructions (None: the
    default judge model). max_metric_calls: judgments the search may make (default 4 x the
    training labels + 30); max_cost_usd caps what the whole call spends: every model call (the
    held-out judgments before and after, the search's judging and reflection) draws from one
    budget, and one that no longer fits is not sent (the search stops; held-out judging it cuts
    short registers nothing).
    `progress(done, total, message)` hears each step; `sampler` is the calling MCP client;
    `server`, the MCP server an agent judge investigates through (one is made when None).
    """
    if reflection_model is not None:
        check_model_allowed(reflection_model, settings.models)
    judge = _stored_judge(db, judge_name)
    _check_options(min_labels, holdout_fraction)
    labels, _, _ = await anyio.to_thread.run_sync(labels_and_verdicts, db, judge.name)
    if len(labels) < min_labels:
        raise NotEnoughLabels(_too_few(judge.name, len(labels), min_labels))
    labeled = [
        LabeledTrace(trace_id=t, label=label, example=await anyio.to_thread.run_sync(_example, db, t))
        for t, (label, _) in sorted(labels.items())
    ]
    train, held = split_labels(labeled, holdout_fraction, seed)
    if max_metric_calls is None:
        max_metric_calls = default_metric_calls(len(train))
    # Checked before any judging, in the caller's terms (optimize_text would check after the
    # held-out labels were already judged, and speak of validation items).
    needed = minimum_metric_calls(len(train))
    if isinstance(max_metric_calls, bool) or not isinstance(max_metric_calls, int) or max_metric_calls < needed:
        raise InvalidArgument(
            f"max_metric_calls={max_metric_calls!r} is too small to try one new version of the instructions on the "
            f"{len(train)} training labels; pass at least {needed} (or none for {default_metric_calls(len(train))})."
        )
    if max_cost_usd is not None and (
        isinstance(max_cost_usd, bool) or not isinstance(max_cost_usd, int | float) or not max_cost_usd > 0
    ):
        raise InvalidArgument(f"max_cost_usd must be a positive number of dollars, or none; got {max_cost_usd!r}.")
    total = max_metric_calls + 2 * len(held)
    judged = _Judging(db, judge, settings, sampler, server)

    async def search_progress(done: int, _: int, message: str) -> None:
        if progress is not None:
            await progress(len(held) + done, total, f"search: {message}")

    if progress is not None:
        await progress(0, total, f"judging the {len(held)} held-out labels with the current instructions")
    budget = SpendBudget(max_cost_usd=max_cost_usd)
    with spending_within(budget):
        before = await judged.agreement(judge, held)
    result = await optimize_text(
        judge.instructions,
        component="instructions",
        train=train,
        val=train,
        score=judged.score,
        reflection_model=reflection_model,
        settings=settings.models,
        max_metric_calls=max_metric_calls,
        budget=budget,
        progress=search_progress,
        seed_rng=seed,
        reflection_prompt=REFLECTION_PROMPT,
        sampler=sampler,
    )
    best = result.best_candidate
    refused: BudgetExhausted | None = None
    after = before
    if result.best != 0:
        if progress is not None:
            await progress(len(held) + max_metric_calls, total, "judging the held-out labels with the best instructions")
        try:
            with spending_within(budget):
                after = await judged.agreement(_with_instructions(judge, best.text), held)
        except BudgetExhausted as exc:  # no comparison on the held-out labels: nothing to register on
            refused = exc
    new: service.JudgeInfo | None = None
    if result.best != 0 and refused is None and (after.accuracy or 0) > (before.accuracy or 0):
        new = await anyio.to_thread.run_sync(
            functools.partial(
                service.create_judge, db, judge.name, best.text, models=settings.models, output=judge.output,
                model=judge.model, description=judge.description,
            )
        )
    report = AlignmentReport(
        judge=judge.name,
        version_before=judge.version,
        new_version=new.version if new else None,
        registered=new is not None,
        message=_outcome(judge, result, before, after, new) if refused is None else (
            f"nothing registered: max_cost_usd ran out before the best instructions were judged on the held-out "
            f"labels ({refused}); run again with a larger max_cost_usd."
        ),
        labels=len(labeled),
        train_labels=len(train),
        held_out_labels=len(held),
        before=before,
        after=after,
        train_accuracy_before=result.seed_score,
        train_accuracy_after=result.best_score,
        candidates=len(result.candidates),
        metric_calls=result.metric_calls,
        stopped_by=result.stopped_by,
        stop_message=result.stop_message,
        cost_usd=budget.spent_cost_usd,
        tokens=budget.spent_tokens,
        instructions=new.instructions if new else None,
    )
    if progress is not None:
        await progress(total, total, report.message)
    return report


def _stored_judge(db: Database, judge_name: object) -> JudgeDefinition:
    if not isinstance(judge_name, str) or not judge_name.strip():
        raise InvalidArgument(f"judge must be a stored judge's name, e.g. 'routing_accuracy'; got {judge_name!r}.")
    name = judge_name.strip()
    if name in registry.builtin_names():
        raise InvalidArgument(
            f"{name!r} is a built-in judge, and AlignJudge rewrites a stored judge's instructions. Store one "
            f"with CreateJudge under another name (GetJudge(name={name!r}) shows the built-in's instructions "
            "to start from), label traces with feedback of its name, then align it."
        )
    return registry.get_judge(db, name)


def default_metric_calls(training_labels: int) -> int:
    """The judgments AlignJudge's search may make when the caller sets no max_metric_calls."""
    return METRIC_CALLS_PER_LABEL * training_labels + METRIC_CALLS_BASE


def _check_options(min_labels: object, holdout_fraction: object) -> None:
    if isinstance(min_labels, bool) or not isinstance(min_labels, int) or min_labels < MIN_LABELS_FLOOR:
        raise InvalidArgument(
            f"min_labels must be an integer of at least {MIN_LABELS_FLOOR}; got {min_labels!r} "
            f"(the default, {DEFAULT_MIN_LABELS}, leaves a held-out set that can show a real gain)."
        )
    if (
        isinstance(holdout_fraction, bool)
        or not isinstance(holdout_fraction, int | float)
        or not MIN_HOLDOUT_FRACTION <= holdout_fraction <= MAX_HOLDOUT_FRACTION
    ):
        raise InvalidArgument(
            f"holdout_fraction must be from {MIN_HOLDOUT_FRACTION} to {MAX_HOLDOUT_FRACTION}; got {holdout_fraction!r} "
            f"(default {DEFAULT_HOLDOUT_FRACTION})."
        )


def _too_few(name: str, have: int, need: int) -> str:
    text = (
        f"judge {name!r} has {have} human label{'s' if have != 1 else ''}; alignment needs at least {need}: "
        f"label {need - have} more trace{'s' if need - have != 1 else ''} with feedback named {name!r} "
        f"(source HUMAN), e.g. with a labeling session (CreateLabelingSchema named {name!r}, "
        "CreateLabelingSession, SubmitLabel) or LogFeedback."
    )
    if have >= MIN_LABELS_FLOOR:
        text += f" Or pass min_labels={have} to align on these (the held-out comparison will be noisy)."
    return text


def _outcome(
    judge: JudgeDefinition,
    result: SearchResult,
    before: HeldOutAgreement,
    after: HeldOutAgreement,
    new: service.JudgeInfo | None,
) -> str:
    held = f"{before.accuracy:.0%} -> {after.accuracy:.0%} on {before.pairs} held-out labels"
    if new is not None:
        return f"registered {judge.name!r} version {new.version}: agreement {held}."
    if result.best == 0:
        return (
            f"nothing registered: the search found no instructions that agree with more training labels than "
            f"version {judge.version} ({result.stop_message}); try a larger max_metric_calls or more labels."
        )
    return (
        f"nothing registered: the best instructions agree with more training labels "
        f"({result.seed_score:.0%} -> {result.best_score:.0%}) but not with more held-out ones ({held})."
    )


class _Judging:
    """Runs the judge with candidate instructions on labeled traces and scores the verdicts."""

    def __init__(
        self, db: Database, judge: JudgeDefinition, settings: Settings, sampler: Sampler | None,
        server: JudgeServer | None,
    ) -> None:
        self.db = db
        self.judge = judge
        self.settings = settings
        self.sampler = sampler
        self.server = server
        self.limiter = anyio.CapacityLimiter(MAX_CONCURRENCY)

    async def verdicts(self, judge: JudgeDefinition, items: list[LabeledTrace]) -> list[JudgeVerdict]:
        async def verdict(item: LabeledTrace) -> JudgeVerdict:
            return await run_judge(
                self.db, judge, item.trace_id, settings=self.settings, record=False, allow_import=False,
                sampler=self.sampler, server=self.server,
            )

        return await score_each(items, verdict, self.limiter)

    async def agreement(self, judge: JudgeDefinition, held: list[LabeledTrace]) -> HeldOutAgreement:
        verdicts = await self.verdicts(judge, held)
        pairs = [(item.label, _label(v)) for item, v in zip(held, verdicts, strict=True)]
        score = agreement_score(pairs)
        return HeldOutAgreement(**score.model_dump(), errors=sum(v.value is None for v in verdicts))

    async def score(self, instructions: str, batch: list[LabeledTrace]) -> list[Scored]:
        """The search's score: 1 where the judge with these instructions gives the human label."""
        try:
            candidate = _with_instructions(self.judge, instructions)
        except InvalidArgument as exc:
            feedback = (
                f"These instructions cannot be used: {exc}. Keep the template variables of the current "
                "instructions and no others."
            )
            return [Scored(score=0.0, feedback=feedback, example=item.example) for item in batch]
        verdicts = await self.verdicts(candidate, batch)
        return [
            Scored(score=float(_label(v) == item.label), feedback=_feedback(item, v), cost_usd=spent.cost_usd,
                   tokens=spent.total_tokens, example=item.example)
            for item, v in zip(batch, verdicts, strict=True)
            for spent in [judgment_spend(ResolvedJudge(definition=candidate), v)]
        ]


def _label(verdict: JudgeVerdict) -> Label:
    label = normalize_label(verdict.value) if verdict.value is not None else None
    return NO_VERDICT if label is None else label


def _feedback(item: LabeledTrace, verdict: JudgeVerdict) -> str:
    human = show_label(item.label)
    if verdict.value is None:
        return f"The judge gave no verdict ({_cut(verdict.error or 'no value', RATIONALE_CHARS)}); the human label is {human!r}."
    judged = show_label(_label(verdict))
    rationale = _cut(verdict.rationale or "(none given)", RATIONALE_CHARS)
    if _label(verdict) == item.label:
        return f"Right: the judge said {judged!r}, as the human expert did. The judge's rationale: {rationale}"
    return (
        f"Wrong: the human expert's label is {human!r} but the judge said {judged!r}. "
        f"The judge's rationale: {rationale}"
    )
