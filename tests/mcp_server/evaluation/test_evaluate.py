"""evaluate: 200 traces x 3 judges through litellm's real HTTP path against the scripted server,
with 429s and a crashing code judge; budgets, resuming, progress."""

from __future__ import annotations

import re
import statistics
import threading

import anyio
import pytest

from mcp_server.assessments.service import get_assessment
from mcp_server.evaluation.run import evaluate
from mcp_server.evaluation.summary import EvaluationRun
from mcp_server.judges import service
from mcp_server.models import ModelSettings
from mcp_server.server import investigation_server
from mcp_server.settings import Settings
from store import Database, SpanIn, write_spans
from store.errors import InvalidArgument, JudgeNotFound, TraceNotFound
from store.evaluations import get_run, list_results, missing_trace_ids
from tests.mcp_server.evaluation.conftest import (
    CODE_JUDGE,
    COMPLETION_TOKENS,
    JUDGES,
    PROMPT_TOKENS,
    T0,
    TRACES,
    ScriptedJudges,
    always_rate_limited,
    helpful,
    number,
    quality,
    rate_limited_once,
    trace_id,
    write_traces,
)
from tests.support.scripted_openai import Reply, ScriptedOpenAI, json_reply, scripted_settings, tool_calls

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

CODE_NAME = "answer_length"


def results_by_pair(db: Database, run_id: str) -> dict[tuple[str, str], object]:
    return {(r.judge, r.trace_id): r for r in list_results(db, run_id, limit=10_000)}


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def p(values: list[float], q: int) -> float:
    """The q-th percentile by statistics' inclusive method (linear between closest ranks)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def test_200_traces_by_3_judges_end_every_pair_with_feedback_or_error_and_right_aggregates(
    db: Database, settings: Settings, judged: ScriptedJudges
) -> None:
    run = await evaluate(db, JUDGES, settings=settings, max_concurrency=16, name="nightly")

    assert (run.status, run.stop_reason, run.trace_count, run.pairs_total) == ("completed", None, TRACES, 3 * TRACES)
    assert [j["name"] for j in run.judges] == ["helpful", "quality", CODE_NAME]
    assert [j["source_id"] for j in run.judges] == ["helpful@1", "quality@1", f"{CODE_NAME}@1"]
    results = results_by_pair(db, run.run_id)
    assert len(results) == run.pairs_done == 3 * TRACES
    for (judge, trace), result in results.items():
        n = number(trace)
        if result.error is None:
            feedback = get_assessment(db, result.assessment_id)
            assert (feedback.trace_id, feedback.name, feedback.value) == (trace, judge, result.value)
        expected_error = (judge == "helpful" and always_rate_limited(n)) or (judge == CODE_NAME and n % 7 == 0)
        assert (result.error is not None) == expected_error, (judge, n, result.error)
    assert "429" in results[("helpful", trace_id(1))].error
    assert "cannot judge answer 7" in results[(CODE_NAME, trace_id(7))].error
    # A 429 once is retried by the model layer and ends with a value.
    assert results[("quality", trace_id(3))].value == quality(3) and judged.requests[("quality", 3)] == 2

    helpful_values = [float(helpful(n)) for n in range(TRACES) if not always_rate_limited(n)]
    quality_values = [float(quality(n)) for n in range(TRACES)]
    lengths = [float(len(f"Your order ships tomorrow, ticket {n}")) for n in range(TRACES) if n % 7]
    m = run.metrics
    assert m["helpful/error_count"] == sum(always_rate_limited(n) for n in range(TRACES)) == 4
    assert m["helpful/count"] == len(helpful_values)
    assert m["helpful/mean"] == pytest.approx(statistics.fmean(helpful_values))
    assert m["helpful/pass_rate"] == pytest.approx(statistics.fmean(helpful_values))
    assert (m["helpful/min"], m["helpful/max"]) == (0.0, 1.0)
    assert m["quality/error_count"] == 0 and "quality/pass_rate" not in m
    assert m["quality/mean"] == pytest.approx(statistics.fmean(quality_values))
    assert (m["quality/min"], m["quality/max"]) == (1.0, 5.0)
    assert m["quality/p50"] == pytest.approx(statistics.median(quality_values))
    assert m["quality/p90"] == pytest.approx(p(quality_values, 90))
    assert m[f"{CODE_NAME}/error_count"] == sum(1 for n in range(TRACES) if n % 7 == 0)
    assert m[f"{CODE_NAME}/mean"] == pytest.approx(statistics.fmean(lengths))
    assert m[f"{CODE_NAME}/p90"] == pytest.approx(p(lengths, 90))
    assert m[f"{CODE_NAME}/p50"] == pytest.approx(statistics.median(lengths))

    llm_answers = 2 * TRACES - 4  # every LLM pair but the always-429 ones got one answer
    assert (run.input_tokens, run.output_tokens) == (PROMPT_TOKENS * llm_answers, COMPLETION_TOKENS * llm_answers)
    assert run.errors == 4 + m[f"{CODE_NAME}/error_count"]
    assert run.cost_usd > 0 and run.duration_s > 0
    # Every judgment that met a 429 slows the run: the 20 whose retry succeeded (seen through the
    # model layer's retry notices) and the 4 that ran out of attempts.
    assert sum(1 for n in range(TRACES) if rate_limited_once(n)) == 20
    assert run.concurrency is not None and run.concurrency.rate_limit_signals == 20 + 4
    assert run.concurrency.lowest < 16


async def test_a_budget_in_tokens_stops_the_run_cleanly_and_a_resume_judges_only_the_missing_pairs(
    db: Database, settings: Settings, judged: ScriptedJudges
) -> None:
    run = await evaluate(db, ["quality"], settings=settings, max_concurrency=4, max_tokens=2_000)

    per_pair = PROMPT_TOKENS + COMPLETION_TOKENS
    assert run.status == "stopped" and "token budget reached" in run.stop_reason and run.run_id in run.stop_reason
    # Each call reserves its estimate first (more than these answers use), so the run never goes
    # over; it stops at the call whose estimate no longer fits, which is not sent.
    prompt, answer = map(_number, re.search(r"needs about ([\d,]+) tokens of prompt and up to ([\d,]+)",
                                             run.stop_reason).groups())
    assert 2_000 - prompt - answer < run.total_tokens <= 2_000
    assert run.pairs_done == run.total_tokens // per_pair < TRACES
    first = set(results_by_pair(db, run.run_id))
    assert len(missing_trace_ids(db, run.run_id, "quality")) == TRACES - run.pairs_done
    asked = sum(judged.requests.values())

    resumed = await evaluate(db, None, settings=settings, run_id=run.run_id, max_concurrency=4)

    assert (resumed.run_id, resumed.status, resumed.stop_reason) == (run.run_id, "completed", None)
    assert resumed.pairs_done == TRACES and resumed.metrics["quality/count"] == TRACES
    assert first < set(results_by_pair(db, run.run_id))
    # Only the missing pairs were judged again: one request each (plus the 429s retried).
    new_requests = sum(judged.requests.values()) - asked
    missing = [n for n in range(TRACES) if ("quality", trace_id(n)) not in first]
    assert new_requests == len(missing) + sum(1 for n in missing if rate_limited_once(n))
    assert resumed.duration_s > run.duration_s
    assert get_run(db, run.run_id).limits["max_tokens"] is None


async def test_a_budget_in_dollars_stops_the_run(db: Database, settings: Settings, judged: ScriptedJudges) -> None:
    one = await evaluate(db, ["quality"], settings=settings, trace_ids=[trace_id(0)])
    cost_per_pair = one.cost_usd
    assert cost_per_pair > 0

    budget = cost_per_pair * 100
    run = await evaluate(db, ["quality"], settings=settings, max_concurrency=1, max_cost_usd=budget)

    assert run.status == "stopped" and "cost budget reached" in run.stop_reason
    # The next call's estimate (its prompt and a full answer, at litellm's prices) did not fit.
    (estimate,) = map(float, re.search(r"would cost about \$([\d.]+)", run.stop_reason).groups())
    assert budget - estimate - 0.00005 < run.cost_usd <= budget  # the message rounds to 4 decimals
    assert run.cost_usd == pytest.approx(cost_per_pair * run.pairs_done) and 0 < run.pairs_done < 100


async def test_progress_is_reported_at_start_after_each_pair_and_at_the_end(
    db: Database, settings: Settings, judged: ScriptedJudges
) -> None:
    seen: list[tuple[int, int, str]] = []

    async def progress(done: int, total: int, message: str) -> None:
        seen.append((done, total, message))

    ids = [trace_id(n) for n in range(5)]
    run = await evaluate(db, ["quality", CODE_JUDGE], settings=settings, trace_ids=ids, progress=progress)

    assert seen[0] == (0, 10, "evaluating 10 pairs (0 already have results)")
    assert [done for done, _, _ in seen[1:-1]] == list(range(1, 11))
    assert all(total == 10 for _, total, _ in seen)
    assert seen[-1] == (10, 10, "completed")
    assert any(m == f"{CODE_NAME} on {trace_id(0)}: error" for _, _, m in seen)
    assert any(m == f"quality on {trace_id(1)}: {quality(1)}" for _, _, m in seen)

    resumed: list[tuple[int, int, str]] = []
    await evaluate(db, None, settings=settings, run_id=run.run_id, progress=lambda *a: resumed.append(a))
    assert resumed == [(10, 10, "evaluating 0 pairs (10 already have results)"), (10, 10, "completed")]


async def test_an_error_verdict_from_rate_limiting_halves_concurrency(
    db: Database, settings: Settings, judged: ScriptedJudges
) -> None:
    ids = [trace_id(n) for n in range(TRACES) if always_rate_limited(n)]
    run = await evaluate(db, ["helpful"], settings=settings, trace_ids=ids, max_concurrency=1)
    assert run.concurrency.rate_limit_signals == len(ids) and run.concurrency.lowest == 1
    assert run.errors == len(ids)


async def test_arguments_are_checked_before_anything_runs(db: Database, settings: Settings, judged: ScriptedJudges) -> None:
    with pytest.raises(JudgeNotFound):
        await evaluate(db, ["no_such_judge"], settings=settings)
    with pytest.raises(TraceNotFound):
        await evaluate(db, ["quality"], settings=settings, trace_ids=["f" * 32])
    with pytest.raises(InvalidArgument, match="not both"):
        await evaluate(db, ["quality"], settings=settings, trace_ids=[trace_id(0)], filter_string="trace.status = 'OK'")
    with pytest.raises(InvalidArgument, match="max_concurrency must be an integer from 1 to 64"):
        await evaluate(db, ["quality"], settings=settings, max_concurrency=0)
    with pytest.raises(InvalidArgument, match="max_traces=10"):
        await evaluate(db, ["quality"], settings=settings, max_traces=10)
    with pytest.raises(InvalidArgument, match="no trace matches"):
        await evaluate(db, ["quality"], settings=settings, filter_string="trace.name = 'nothing'")
    with pytest.raises(InvalidArgument, match="distinct"):
        await evaluate(db, ["quality", "quality"], settings=settings)
    run = await evaluate(db, ["quality"], settings=settings, trace_ids=[trace_id(0)])
    with pytest.raises(InvalidArgument, match="was started with judges"):
        await evaluate(db, ["helpful"], settings=settings, run_id=run.run_id)
    with pytest.raises(InvalidArgument, match="without filter_string"):
        await evaluate(db, None, settings=settings, run_id=run.run_id, trace_ids=[trace_id(1)])
    assert sum(judged.requests.values()) == 1


async def test_a_filter_selects_the_traces(db: Database, settings: Settings, judged: ScriptedJudges) -> None:
    run = await evaluate(db, ["latency"], settings=settings, filter_string="trace.execution_time_ms > 1500")
    # Durations are (n % 4 + 1) * 500 ms: the traces with n % 4 == 3 take 2,000 ms.
    assert run.trace_count == TRACES // 4 and run.metrics["latency/pass_rate"] == 1.0
    assert run.filter_string == "trace.execution_time_ms > 1500" and judged.requests == {}


async def test_an_interrupted_run_says_so_keeps_what_finished_and_resumes_with_the_rest(
    db: Database, settings: Settings, judged: ScriptedJudges
) -> None:
    import anyio

    done: list[int] = []
    ids = [trace_id(n) for n in range(40)]
    with anyio.CancelScope() as scope:

        def progress(n: int, total: int, message: str) -> None:
            done.append(n)
            if n == 10:
                scope.cancel()

        # A code judge: cancelling litellm mid-call leaves one of its coroutines unawaited, a
        # warning this suite turns into an error.
        await evaluate(db, ["latency"], settings=settings, trace_ids=ids, max_concurrency=4, progress=progress)
    assert scope.cancelled_caught
    run_id = next(iter(db.reader().execute("SELECT run_id FROM evaluation_runs")))[0]
    stopped = get_run(db, run_id)
    assert stopped.status == "stopped" and stopped.stop_reason.startswith("interrupted (CancelledError); resume with run_id=")
    kept = len(list_results(db, run_id, limit=100))
    assert 10 <= kept < 40

    resumed = await evaluate(db, ["latency"], settings=settings, run_id=run_id)
    assert (resumed.status, resumed.pairs_done, resumed.errors) == ("completed", 40, 0)


async def test_a_judge_path_that_raises_is_that_pairs_error_and_the_run_goes_on(
    db: Database, settings: Settings, judged: ScriptedJudges, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_server.evaluation import run as run_module

    real = run_module.run_judge

    async def flaky(db: Database, judge: object, trace: str, **kwargs: object) -> object:
        if trace == trace_id(2):
            raise RuntimeError("the store went away")
        return await real(db, judge, trace, **kwargs)

    monkeypatch.setattr(run_module, "run_judge", flaky)
    run = await evaluate(db, ["latency"], settings=settings, trace_ids=[trace_id(n) for n in range(4)])
    results = results_by_pair(db, run.run_id)
    assert run.status == "completed" and run.errors == 1
    assert results[("latency", trace_id(2))].error == "RuntimeError: the store went away"
    assert results[("latency", trace_id(3))].value is True


async def test_a_refused_resume_leaves_the_runs_stored_limits_as_they_were(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    write_traces(db, 2)
    service.create_judge(db, "helpful", "HELPFUL: does {{ outputs }} answer {{ inputs }}?", models=OPERATOR)
    arrived, release = threading.Event(), threading.Event()

    def held_answer(request: dict) -> Reply:
        arrived.set()
        release.wait(30)
        return json_reply({"rationale": "scripted", "value": True})

    scripted_openai.respond_with(held_answer)
    finished: list[EvaluationRun] = []

    async def first() -> None:
        finished.append(await evaluate(db, ["helpful"], settings=settings, max_concurrency=1, max_tokens=50_000))

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            assert await anyio.to_thread.run_sync(arrived.wait, 60)
            (run_id,) = [r[0] for r in db.reader().execute("SELECT run_id FROM evaluation_runs")]
            with pytest.raises(InvalidArgument, match="being evaluated by another call"):
                await evaluate(db, None, settings=settings, run_id=run_id, max_concurrency=3, max_tokens=7)
            stored = get_run(db, run_id)
            assert stored.limits == {"max_concurrency": 1, "max_tokens": 50_000, "max_cost_usd": None}
            release.set()
    finally:
        release.set()
    assert finished[0].status == "completed" and get_run(db, run_id).limits["max_tokens"] == 50_000


async def test_an_error_that_mentions_429_in_a_trace_id_does_not_slow_the_run(db: Database) -> None:
    # 0.65% of random trace ids contain "429"; correctness says which trace lacks expectations.
    ids = [f"{n:029x}429" for n in range(1, 9)]
    write_spans(db, [
        SpanIn(trace_id=t, span_id=f"{n + 1:016x}", name="agent", start_ns=T0 + n, end_ns=T0 + n + 1,
               inputs_json='"q"', outputs_json='"a"')
        for n, t in enumerate(ids)
    ])

    run = await evaluate(db, ["correctness"], settings=Settings(), trace_ids=ids, max_concurrency=8)

    assert run.errors == len(ids) and all("429" in r.error for r in list_results(db, run.run_id, limit=10))
    assert run.concurrency is not None
    assert (run.concurrency.rate_limit_signals, run.concurrency.lowest) == (0, 8)


async def test_a_429_on_the_only_attempt_still_halves_concurrency(
    db: Database, scripted_openai: ScriptedOpenAI, judged: ScriptedJudges
) -> None:
    one_attempt = scripted_settings(scripted_openai)
    one_attempt = one_attempt.model_copy(update={"models": one_attempt.models.model_copy(update={"max_attempts": 1})})
    ids = [trace_id(n) for n in range(TRACES) if always_rate_limited(n)]

    run = await evaluate(db, ["helpful"], settings=one_attempt, trace_ids=ids, max_concurrency=4)

    assert run.errors == len(ids) and run.concurrency.rate_limit_signals >= 1 and run.concurrency.lowest < 4


async def test_trace_issues_passes_a_trace_with_no_issues(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    ids = write_traces(db, 4)
    clean = set(ids[:3])

    def verdict(request: dict) -> Reply:
        task = request["messages"][1]["content"]
        value = "no issues" if any(t in task for t in clean) else "issues found"
        return tool_calls(("submit_verdict", {"value": value, "rationale": "scripted", "findings": []}))

    scripted_openai.respond_with(verdict)

    run = await evaluate(db, ["trace_issues"], settings=settings, trace_ids=ids, server=investigation_server(settings, db))

    assert run.errors == 0 and run.metrics["trace_issues/pass_rate"] == pytest.approx(3 / 4)


async def never_settling_agent_run(
    db: Database, settings: Settings, scripted: ScriptedOpenAI, *, prompt_tokens: int, delay_s: float = 0.0
) -> EvaluationRun:
    """8 traces judged 4 at a time within max_tokens=20,000 by an agent judge that never settles:
    each answer asks for another tool call (up to 30 a judgment) and reports `prompt_tokens`,
    `delay_s` after the request came."""
    ids = write_traces(db, 8)
    service.create_judge(db, "digger", "Look into {{ trace }} until you are sure.", models=OPERATOR)
    scripted.respond_with(
        lambda request: tool_calls(("ListSpans", {"trace_id": "0" * 32}), prompt_tokens=prompt_tokens,
                                   completion_tokens=50).after(delay_s)
    )
    return await evaluate(db, ["digger"], settings=settings, trace_ids=ids, max_concurrency=4, max_tokens=20_000,
                          server=investigation_server(settings, db))


async def test_a_small_token_budget_stops_agent_judgments_within_one_call_per_worker_of_it(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    run = await never_settling_agent_run(db, settings, scripted_openai, prompt_tokens=3_000)

    per_call = 3_000 + 50
    assert run.total_tokens == len(scripted_openai.chat_requests) * per_call  # every call's spend is on record
    assert run.total_tokens <= 20_000 + 4 * per_call
    stored = get_run(db, run.run_id)
    assert stored.status == "stopped" and stored.stop_reason.startswith("token budget reached")
    assert "max_tokens=20,000" in stored.stop_reason and run.run_id in stored.stop_reason


async def test_calls_that_spend_more_than_their_estimate_overshoot_by_at_most_one_call_per_worker_and_say_so(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    # Each answer reports far more prompt tokens than the request's size suggests. The answers are
    # slow, so that every worker's call is in flight before the first spend is known (on a loaded
    # machine the first answer could otherwise come back before the other workers have started).
    run = await never_settling_agent_run(db, settings, scripted_openai, prompt_tokens=9_000, delay_s=2.0)

    per_call = 9_000 + 50
    assert 20_000 < run.total_tokens == len(scripted_openai.chat_requests) * per_call <= 20_000 + 4 * per_call
    over = run.total_tokens - 20_000
    assert f"took the run to {run.total_tokens:,} tokens, {over:,} past max_tokens=20,000." in run.over_budget
    assert run.stop_reason.startswith("token budget reached") and "past" not in run.stop_reason
