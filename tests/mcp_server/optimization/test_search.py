"""optimize_text: GEPA over a score function, with the reflection model answered by the scripted
server through litellm's real HTTP code; budgets of metric calls and USD stop it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mcp_server.models.budget import count_spent
from mcp_server.optimization.search import Scored, minimum_metric_calls, optimize_text
from mcp_server.settings import Settings
from store.errors import InvalidArgument
from tests.support.scripted_openai import Reply, ScriptedOpenAI, server_error, text

SEED = "Answer the question."
RULE = "Always cite the order number."
TRAIN = list(range(9))
VAL = list(range(100, 106))


def scorer(cost_per_item: float = 0.0):
    """Scores 1 for every item when the text has RULE; without it, odd items fail. Each item
    spends `cost_per_item` (as a target agent's trace would) against the search's budget."""
    calls: list[tuple[str, list[int]]] = []

    async def score(candidate: str, batch: list[int]) -> list[Scored]:
        calls.append((candidate, batch))
        results = []
        for item in batch:
            good = RULE in candidate or item % 2 == 0
            count_spent(10, cost_per_item)
            feedback = "correct" if good else f"item {item}: the order number was not cited"
            results.append(Scored(score=1.0 if good else 0.0, feedback=feedback, cost_usd=cost_per_item,
                                  tokens=10, example=f"question {item}"))
        return results

    score.calls = calls  # type: ignore[attr-defined]
    return score


def proposes(new_text: str, **reply: Any):
    def respond(request: dict[str, Any]) -> Reply:
        return text(f"Here is a better instruction:\n```\n{new_text}\n```", **reply)

    return respond


async def test_the_search_finds_the_text_the_score_prefers_and_the_validation_score_rises(
    settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(proposes(f"{SEED} {RULE}"))
    score = scorer()
    notes: list[tuple[int, int, str]] = []

    async def progress(done: int, total: int, message: str) -> None:
        notes.append((done, total, message))

    result = await optimize_text(
        SEED, component="instructions", train=TRAIN, val=VAL, score=score, reflection_model=None,
        settings=settings.models, max_metric_calls=60, progress=progress,
    )

    assert result.candidates[0].text == SEED and result.candidates[0].parent is None
    assert result.seed_score == pytest.approx(0.5) and result.candidates[0].val_scores == [1, 0, 1, 0, 1, 0]
    assert result.best_candidate.text == f"{SEED} {RULE}" and result.best_candidate.parent == 0
    assert result.best_score == 1.0 and result.stopped_by == "perfect_score"
    # The start is scored on the validation set before anything else.
    assert score.calls[0] == (SEED, VAL)
    # Seed on val (6), parent and child minibatches (3 + 3), child on val (6).
    assert result.metric_calls == 18 and result.tokens > 180
    assert result.reflection_calls == 1 and result.reflection_cost_usd > 0
    [reflection] = scripted_openai.chat_requests
    prompt = reflection.messages[0]["content"]
    assert SEED in prompt and "the order number was not cited" in prompt and "question " in prompt
    assert [n[0] for n in notes] == sorted(n[0] for n in notes) and {n[1] for n in notes} == {60}
    assert "candidate 1 accepted: validation score 1.00" in " ".join(n[2] for n in notes)


async def test_the_metric_call_budget_stops_a_search_that_finds_nothing_better(
    settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    counter = iter(range(1000))
    scripted_openai.respond_with(lambda request: text(f"```\nTry harder, attempt {next(counter)}.\n```"))
    score = scorer()

    result = await optimize_text(
        SEED, component="instructions", train=TRAIN, val=VAL, score=score, reflection_model=None,
        settings=settings.models, max_metric_calls=40,
    )

    # 6 for the start, then steps of 3 (+ 3 after a proposal; a minibatch of even items is
    # already perfect and gets none) while a whole step (3 + 3 + 6) still fits in 40.
    assert result.stopped_by == "max_metric_calls" and 40 - 12 < result.metric_calls <= 40
    assert f"{result.metric_calls} of 40 metric calls used" in result.stop_message
    assert sum(len(batch) for _, batch in score.calls) == result.metric_calls
    assert [c.text for c in result.candidates] == [SEED] and result.best == 0
    assert result.reflection_calls >= 3


async def test_the_usd_budget_counts_scoring_cost_and_stops_before_the_next_batch(
    settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(proposes("Try harder."))
    score = scorer(cost_per_item=0.01)

    result = await optimize_text(
        SEED, component="instructions", train=TRAIN, val=VAL, score=score, reflection_model=None,
        settings=settings.models, max_metric_calls=1000, max_cost_usd=0.1,
    )

    assert result.stopped_by == "max_cost_usd"
    assert re.match(r"stopped: cost budget reached: \$0\.12\d\d spent of max_cost_usd=0\.1", result.stop_message)
    # The start (6 items) and one step (3 + 3) reach $0.12; no batch starts after that.
    assert result.metric_calls == 12 and result.scoring_cost_usd == pytest.approx(0.12)
    assert result.cost_usd == pytest.approx(0.12 + result.reflection_cost_usd)


async def test_the_usd_budget_counts_reflection_cost(settings: Settings, scripted_openai: ScriptedOpenAI) -> None:
    # A million prompt tokens of gpt-4o-mini cost $0.15 in litellm's price map.
    scripted_openai.respond_with(proposes("Try harder.", prompt_tokens=1_000_000, completion_tokens=10))

    result = await optimize_text(
        SEED, component="instructions", train=TRAIN, val=VAL, score=scorer(), reflection_model=None,
        settings=settings.models, max_metric_calls=1000, max_cost_usd=0.25,
    )

    assert result.stopped_by == "max_cost_usd" and result.scoring_cost_usd == 0
    assert result.reflection_calls == 2 and result.reflection_cost_usd == pytest.approx(0.3, rel=0.01)


async def test_a_failing_reflection_model_stops_the_search_with_the_reason(
    settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(lambda request: server_error(500))

    result = await optimize_text(
        SEED, component="instructions", train=TRAIN, val=VAL, score=scorer(), reflection_model=None,
        settings=settings.models, max_metric_calls=1000,
    )

    assert result.stopped_by == "reflection_failed" and "reflection model failed" in result.stop_message
    assert result.best == 0 and result.metric_calls == 6 + 3
    assert len(scripted_openai.chat_requests) == 2  # one call, retried once (max_attempts=2)


async def test_a_budget_too_small_for_one_step_is_refused_with_the_minimum(settings: Settings) -> None:
    needed = minimum_metric_calls(len(VAL))
    with pytest.raises(InvalidArgument, match=re.escape(f"pass at least {needed}")):
        await optimize_text(SEED, component="instructions", train=TRAIN, val=VAL, score=scorer(),
                            reflection_model=None, settings=settings.models, max_metric_calls=needed - 1)
    with pytest.raises(InvalidArgument, match="max_cost_usd must be a positive number"):
        await optimize_text(SEED, component="instructions", train=TRAIN, val=VAL, score=scorer(),
                            reflection_model=None, settings=settings.models, max_metric_calls=100, max_cost_usd=0)
    with pytest.raises(InvalidArgument, match="training and validation items"):
        await optimize_text(SEED, component="instructions", train=[], val=VAL, score=scorer(),
                            reflection_model=None, settings=settings.models, max_metric_calls=100)


async def test_a_score_function_that_raises_ends_the_search_with_its_error(settings: Settings) -> None:
    async def broken(candidate: str, batch: list[int]) -> list[Scored]:
        raise LookupError("record 3 is gone")

    with pytest.raises(LookupError, match="record 3 is gone"):
        await optimize_text(SEED, component="instructions", train=TRAIN, val=VAL, score=broken,
                            reflection_model=None, settings=settings.models, max_metric_calls=100)
