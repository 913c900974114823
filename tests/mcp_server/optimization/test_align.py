"""align_judge end to end against the scripted server: human labels on 30 telecom-support traces,
a judge model whose verdicts follow the instructions it is given, and a reflection model that
proposes the rule it lacks (conftest.ScriptedModels)."""

from __future__ import annotations

import re

import pytest

from mcp_server.judges import registry
from mcp_server.optimization.align import LabeledTrace, align_judge, split_labels
from mcp_server.settings import Settings
from store import Database
from store.assessments import list_assessments
from store.errors import InvalidArgument, NotEnoughLabels
from tests.mcp_server.optimization.conftest import (
    INSTRUCTIONS,
    NAME,
    RULE,
    ScriptedModels,
    label,
    routed_right,
    trace_id,
)
from tests.support.scripted_openai import ScriptedOpenAI


async def test_alignment_improves_held_out_agreement_and_registers_the_new_version(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, routing_judge: None
) -> None:
    label(db, 30)
    models = ScriptedModels()
    scripted_openai.respond_with(models)
    notes: list[tuple[int, int, str]] = []

    async def progress(done: int, total: int, message: str) -> None:
        notes.append((done, total, message))

    report = await align_judge(db, NAME, settings=settings, progress=progress)

    # 10 roaming traces (label false) and 20 others: 3 and 6 held out.
    assert (report.labels, report.train_labels, report.held_out_labels) == (30, 21, 9)
    assert report.before.accuracy == pytest.approx(6 / 9) and report.before.kappa == 0.0
    assert report.after.accuracy == 1.0 and report.after.kappa == 1.0 and report.after.errors == 0
    assert report.train_accuracy_before == pytest.approx(14 / 21) and report.train_accuracy_after == 1.0
    assert report.registered and report.new_version == 2 and report.version_before == 1
    stored = registry.get_judge(db, NAME)
    assert stored.version == 2 and RULE in stored.instructions and report.instructions == stored.instructions
    assert stored.output.categories == ["yes", "no"] and stored.description == "Is the request routed to the right team?"
    assert report.message == f"registered {NAME!r} version 2: agreement 67% -> 100% on 9 held-out labels."
    assert report.cost_usd > 0 and report.tokens > 0 and report.stopped_by == "perfect_score"
    # Each search judgment, and the held-out labels judged before and after, once each.
    assert models.judgments == report.metric_calls + 2 * 9
    # The reflection model read the judge's data, its wrong verdicts and the human labels.
    assert models.reflections and INSTRUCTIONS in models.reflections[0]
    assert "the human expert's label is 'false' but the judge said 'true'" in models.reflections[0]
    assert '"topic": "roaming"' in models.reflections[0] or "roaming charges" in models.reflections[0]
    # Judging for alignment logs no feedback: each trace keeps only its human label.
    assert list_assessments(db, trace_id(0))[1] == 1
    assert notes[-1] == (notes[-1][1], notes[-1][1], report.message)
    assert [d for d, _, _ in notes] == sorted(d for d, _, _ in notes)


async def test_nothing_is_registered_when_no_better_instructions_are_found(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, routing_judge: None
) -> None:
    label(db, 20)
    scripted_openai.respond_with(ScriptedModels(proposal=f"{INSTRUCTIONS} Be thorough."))

    report = await align_judge(db, NAME, settings=settings, max_metric_calls=60)

    assert not report.registered and report.new_version is None and report.after == report.before
    assert report.message.startswith("nothing registered: the search found no instructions")
    assert registry.get_judge(db, NAME).version == 1


async def test_too_few_labels_says_how_many_more_are_needed(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, routing_judge: None
) -> None:
    label(db, 10)
    with pytest.raises(NotEnoughLabels, match=re.escape(
        f"judge {NAME!r} has 10 human labels; alignment needs at least 20: label 10 more traces"
    )) as raised:
        await align_judge(db, NAME, settings=settings)
    assert "pass min_labels=10" in str(raised.value)
    with pytest.raises(NotEnoughLabels, match="needs at least 12: label 2 more traces"):
        await align_judge(db, NAME, settings=settings, min_labels=12)
    assert scripted_openai.chat_requests == []


async def test_unaligned_judges_and_bad_options_are_refused(
    db: Database, settings: Settings, routing_judge: None
) -> None:
    with pytest.raises(InvalidArgument, match="'correctness' is a built-in judge"):
        await align_judge(db, "correctness", settings=settings)
    with pytest.raises(InvalidArgument, match="min_labels must be an integer of at least 4"):
        await align_judge(db, NAME, settings=settings, min_labels=1)
    with pytest.raises(InvalidArgument, match="holdout_fraction must be from 0.05 to 0.8"):
        await align_judge(db, NAME, settings=settings, holdout_fraction=0.95)


def test_the_split_is_the_same_every_time_and_holds_out_each_value_in_proportion() -> None:
    items = [LabeledTrace(trace_id=trace_id(n), label=routed_right(n), example="") for n in range(30)]
    train, held = split_labels(items, 0.3)
    again = split_labels(list(reversed(items)), 0.3)
    assert (train, held) == again
    assert sum(not i.label for i in held) == 3 and sum(i.label for i in held) == 6
    assert {i.trace_id for i in train} | {i.trace_id for i in held} == {i.trace_id for i in items}
    one, other = split_labels(items[:2], 0.05)
    assert len(one) == 1 and len(other) == 1


async def test_budgets_too_small_are_refused_before_any_judging(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, routing_judge: None
) -> None:
    label(db, 24)
    with pytest.raises(InvalidArgument, match="too small to try one new version of the instructions"):
        await align_judge(db, NAME, settings=settings, max_metric_calls=1)
    with pytest.raises(InvalidArgument, match="max_cost_usd must be a positive number"):
        await align_judge(db, NAME, settings=settings, max_cost_usd=-5)
    assert scripted_openai.chat_requests == []


def test_the_split_depends_on_what_was_labeled_not_on_the_trace_ids() -> None:
    def labeled(ids: list[str]) -> list[LabeledTrace]:
        return [LabeledTrace(t, n % 3 != 0, f"trace {t}\ninputs: question {n}") for n, t in enumerate(ids)]

    first = split_labels(labeled([f"{n:032x}" for n in range(30)]), 0.3)
    again = split_labels(labeled([f"{(n * 7919 + 11) % 99991:032x}" for n in range(30)]), 0.3)

    def questions(items: list[LabeledTrace]) -> list[str]:
        return sorted(i.example.partition("\n")[2] for i in items)

    assert [questions(part) for part in first] == [questions(part) for part in again]


async def test_max_cost_usd_holds_over_the_held_out_judgments_and_the_search_together(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, routing_judge: None
) -> None:
    label(db, 30)
    models = ScriptedModels(proposal=f"{INSTRUCTIONS} Be strict.")  # never better: the search goes on
    scripted_openai.respond_with(models)

    report = await align_judge(db, NAME, settings=settings, max_cost_usd=0.003)

    judgment = 200 * 0.15e-6 + 20 * 0.6e-6  # gpt-4o-mini's prices for one scripted verdict
    assert report.stopped_by == "max_cost_usd" and "cost budget reached" in report.stop_message
    assert models.judgments * judgment <= report.cost_usd <= 0.003 + judgment
