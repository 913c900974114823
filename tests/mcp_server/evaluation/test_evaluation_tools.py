"""Evaluate, GetEvaluationRun and CompareEvaluationRuns through the in-process MCP client:
progress notifications, bounded pages, metric deltas and changed verdicts."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mcp_server.evaluation.run import evaluate
from mcp_server.judges import service
from mcp_server.judges.agent.prompt import VERDICT_TOOL
from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from store import Database
from store.errors import EvaluationStopped
from store.evaluations import get_run, list_results
from tests.mcp_server.evaluation.conftest import CODE_JUDGE, ScriptedJudges, helpful, quality, trace_id, write_traces
from tests.support.mcp_session import Session, session
from tests.support.scripted_openai import Reply, ScriptedOpenAI, error, json_reply, scripted_settings, tool_calls

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

async def test_evaluate_sends_progress_notifications_and_returns_the_stored_run(
    db: Database, settings: Settings, judged: ScriptedJudges
) -> None:
    notes: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    ids = [trace_id(n) for n in range(6)]
    async with session(db, settings) as s:
        run = await s.call("Evaluate", progress=on_progress, judges=["helpful", "quality"], trace_ids=ids, name="v1")
        shown = await s.call("GetEvaluationRun", run_id=run["run_id"])

    assert run["status"] == "completed" and run["pairs_done"] == 12 and run["name"] == "v1"
    assert run["metrics"]["quality/mean"] == pytest.approx(sum(quality(n) for n in range(6)) / 6)
    assert [p for p, _, _ in notes] == list(range(13)) + [12]
    assert {t for _, t, _ in notes} == {12} and notes[-1][2] == "completed"
    assert shown["run"]["metrics"] == run["metrics"] and len(shown["results"]) == 12
    first = shown["results"][0]
    assert (first["judge"], first["trace_id"], first["value"]) == ("helpful", ids[0], helpful(0))


async def test_evaluate_refuses_import_paths_and_says_what_was_wrong(
    db: Database, settings: Settings, judged: ScriptedJudges
) -> None:
    async with session(db, settings) as s:
        assert "not in this store" in await s.error("Evaluate", judges=[CODE_JUDGE], trace_ids=[trace_id(0)])
        assert "run-nope" in await s.error("GetEvaluationRun", run_id="run-nope")
        assert "max_concurrency" in await s.error("Evaluate", judges=["quality"], max_concurrency=100)
    assert judged.requests == {}


async def test_get_evaluation_run_pages_results_and_lists_errors_per_judge(
    db: Database, settings: Settings, judged: ScriptedJudges
) -> None:
    ids = [trace_id(n) for n in range(30)]
    run = await evaluate(db, ["quality", CODE_JUDGE], settings=settings, trace_ids=ids)
    async with session(db, settings) as s:
        seen: list[tuple[str, str]] = []
        token = None
        while True:
            page = await s.call("GetEvaluationRun", run_id=run.run_id, max_results=7, **({"page_token": token} if token else {}))
            seen += [(r["judge"], r["trace_id"]) for r in page["results"]]
            token = page["next_page_token"]
            if token is None:
                break
            assert "page_token=" in page["notice"] and "of 60 in all" in page["notice"]
        errors = await s.call("GetEvaluationRun", run_id=run.run_id, errors_only=True)
        bad = await s.error("GetEvaluationRun", run_id=run.run_id, max_results=8, page_token=page_token_of(s, run.run_id))

    assert len(seen) == 60 == len(set(seen)) and seen == sorted(seen)
    crashed = [trace_id(n) for n in range(30) if n % 7 == 0]
    assert [r["trace_id"] for r in errors["results"]] == crashed
    assert [e["trace_id"] for e in errors["errors_by_judge"]["answer_length"]] == crashed[:3]
    assert "other arguments" in bad


def page_token_of(s: Session, run_id: str) -> str:
    from mcp_server.evaluation.reports import GET_TOOL
    from mcp_server.tooling.paging import issue_token

    return issue_token(GET_TOOL, {"run_id": run_id, "max_results": 7, "errors_only": False}, {"after": ["a", "b"]})


async def test_compare_evaluation_runs_gives_metric_deltas_and_the_traces_whose_verdict_changed(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, judged: ScriptedJudges
) -> None:
    ids = [trace_id(n) for n in range(10)]
    before = await evaluate(db, ["helpful", "quality"], settings=settings, trace_ids=ids, name="v1")
    # Version 2 of 'helpful' says true everywhere, and fails on trace 4.
    service.create_judge(db, "helpful", "HELPFUL v2: does {{ outputs }} answer {{ inputs }}?", models=OPERATOR)

    def v2(request: dict) -> Any:
        if "trace " + trace_id(4) in request["messages"][0]["content"] and request["messages"][1]["content"].startswith("HELPFUL"):
            return json_reply({"rationale": "x", "value": "not a bool"})
        if request["messages"][1]["content"].startswith("HELPFUL"):
            return json_reply({"rationale": "v2", "value": True})
        return judged(request)

    scripted_openai.respond_with(v2)
    after = await evaluate(db, ["helpful", "quality"], settings=settings, trace_ids=ids, name="v2")
    assert after.judges[0]["source_id"] == "helpful@2"

    async with session(db, settings) as s:
        comparison = await s.call("CompareEvaluationRuns", run_a=before.run_id, run_b=after.run_id)
        paged = await s.call("CompareEvaluationRuns", run_a=before.run_id, run_b=after.run_id, max_results=2)
        rest = await s.call("CompareEvaluationRuns", run_a=before.run_id, run_b=after.run_id, max_results=2,
                            page_token=paged["next_page_token"])

    # helpful v1 is false on n % 3 == 0 (0, 3, 6, 9) and rate limited on 1; v2 is true except an
    # error on 4.
    changed = {(c["judge"], c["trace_id"]): c for c in comparison["changed"]}
    assert set(changed) == {("helpful", trace_id(n)) for n in (0, 1, 3, 4, 6, 9)}
    assert changed[("helpful", trace_id(1))]["error_a"] and changed[("helpful", trace_id(1))]["b"] is True
    assert (changed[("helpful", trace_id(0))]["a"], changed[("helpful", trace_id(0))]["b"]) == (False, True)
    assert changed[("helpful", trace_id(4))]["a"] is True and changed[("helpful", trace_id(4))]["error_b"]
    assert comparison["changed_count"] == {"helpful": 6}
    deltas = {d["metric"]: d for d in comparison["metrics"]}
    assert deltas["helpful/mean"]["a"] == pytest.approx(5 / 9) and deltas["helpful/mean"]["b"] == 1.0
    assert deltas["helpful/mean"]["delta"] == pytest.approx(4 / 9)
    assert deltas["helpful/error_count"]["delta"] == 0.0 and deltas["quality/mean"]["delta"] == 0.0
    assert (comparison["run_a"]["name"], comparison["run_b"]["name"]) == ("v1", "v2")
    assert [c["trace_id"] for c in paged["changed"] + rest["changed"]] == [trace_id(n) for n in (0, 1, 3, 4)]
    assert "of 6 in all" in paged["notice"]


async def test_evaluate_with_a_judge_on_a_model_not_allowed_stops_at_once_and_answers_an_error(
    db: Database, settings: Settings, judged: ScriptedJudges, scripted_openai: ScriptedOpenAI
) -> None:
    service.create_judge(db, "local", "Polite? {{ outputs }}", model="ollama/llama3", models=OPERATOR)  # as the operator
    async with session(db, settings) as s:
        refused = await s.error("Evaluate", judges=["local"], trace_ids=[trace_id(n) for n in range(20)])
        assert "'ollama/llama3' is not one this server calls for a client" in refused
        (run_id,) = [r[0] for r in db.reader().execute("SELECT run_id FROM evaluation_runs")]
        assert run_id in refused
        shown = (await s.call("GetEvaluationRun", run_id=run_id))["run"]
    assert shown["status"] == "stopped" and "'ollama/llama3' is not one" in shown["stop_reason"]
    assert shown["pairs_done"] == 0 and shown["errors"] == 0 and scripted_openai.requests == []


async def test_evaluate_against_an_api_base_nobody_listens_on_stops_at_the_first_pairs(
    db: Database, judged: ScriptedJudges, scripted_openai: ScriptedOpenAI
) -> None:
    import socket

    with socket.socket() as free:  # a port that was free a moment ago: connections are refused
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    base = scripted_settings(scripted_openai)
    nowhere = base.model_copy(update={"models": base.models.model_copy(update={"api_base": f"http://127.0.0.1:{port}/v1"})})

    with pytest.raises(EvaluationStopped, match="cannot be reached") as caught:
        await evaluate(db, ["helpful"], settings=nowhere, max_concurrency=2)

    (run_id,) = [r[0] for r in db.reader().execute("SELECT run_id FROM evaluation_runs")]
    stored = get_run(db, run_id)
    assert stored.status == "stopped" and "cannot be reached" in stored.stop_reason and run_id in str(caught.value)
    assert list_results(db, run_id, limit=10) == []


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (error(404, "The model `gpt-4o-mini` does not exist or you do not have access to it.",
               code="model_not_found", type="invalid_request_error"), "was not found by its provider"),
        (error(429, "You exceeded your current quota, please check your plan and billing details.",
               code="insufficient_quota", type="insufficient_quota"), "the provider account is out of quota"),
    ],
    ids=["model-not-found", "out-of-quota"],
)
async def test_evaluate_stops_at_the_first_pairs_when_the_provider_knows_no_such_model_or_the_account_has_no_quota(
    db: Database, settings: Settings, judged: ScriptedJudges, scripted_openai: ScriptedOpenAI, answer: Reply, said: str
) -> None:
    scripted_openai.respond_with(lambda request: answer)

    with pytest.raises(EvaluationStopped, match=said) as caught:
        await evaluate(db, ["helpful"], settings=settings, max_concurrency=2)

    (run_id,) = [r[0] for r in db.reader().execute("SELECT run_id FROM evaluation_runs")]
    stored = get_run(db, run_id)
    assert stored.status == "stopped" and said in stored.stop_reason and run_id in str(caught.value)
    assert list_results(db, run_id, limit=10) == []  # the pairs stay to judge once it is fixed
    # Neither retried nor taken for rate limiting: one request per judgment that had started.
    assert len(scripted_openai.chat_requests) <= 2


async def test_a_run_its_last_calls_in_flight_take_past_its_budget_completes_and_says_by_how_much(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    # Two judgments at once, each reserving well under half of max_tokens=6,000, each answered
    # only once both are in flight and reporting 5,010 tokens: both fit, and nothing is left to stop.
    write_traces(db, 2)
    service.create_judge(db, "helpful", "HELPFUL: does {{ outputs }} answer {{ inputs }}?", models=OPERATOR)
    both_sent = threading.Barrier(2, timeout=10)

    def answer(request: dict[str, Any]) -> Reply:
        both_sent.wait()
        return json_reply({"rationale": "scripted", "value": True}, prompt_tokens=5_000, completion_tokens=10)

    scripted_openai.respond_with(answer)
    async with session(db, settings) as s:
        run = await s.call("Evaluate", judges=["helpful"], max_concurrency=2, max_tokens=6_000)
        shown = await s.call("GetEvaluationRun", run_id=run["run_id"])

    assert run["status"] == "completed" and run["pairs_done"] == 2 and run["stop_reason"] is None
    assert run["total_tokens"] == 10_020
    assert run["over_budget"] == (
        "The calls in flight when the budget ran out took the run to 10,020 tokens, 4,020 past max_tokens=6,000."
    )
    assert shown["run"]["over_budget"] == run["over_budget"]


async def test_a_judgment_the_budget_stops_part_way_leaves_its_pair_to_the_resume_and_its_spend_in_the_totals(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    (trace,) = write_traces(db, 1)
    service.create_judge(db, "digger", "Look into {{ trace }} until you are sure.", models=OPERATOR)
    settled = threading.Event()  # until set, the agent judge asks for one more tool call every time

    def answer(request: dict[str, Any]) -> Reply:
        if settled.is_set():
            return tool_calls((VERDICT_TOOL, {"value": True, "rationale": "sure now", "findings": []}),
                              prompt_tokens=3_000, completion_tokens=50)
        return tool_calls(("ListSpans", {"trace_id": trace}), prompt_tokens=3_000, completion_tokens=50)

    scripted_openai.respond_with(answer)
    async with session(db, settings) as s:
        stopped = await s.call("Evaluate", judges=["digger"], trace_ids=[trace], max_tokens=10_000)
        shown = await s.call("GetEvaluationRun", run_id=stopped["run_id"])
        first_calls = len(scripted_openai.chat_requests)
        settled.set()
        resumed = await s.call("Evaluate", run_id=stopped["run_id"], max_tokens=100_000)

    assert 1 < first_calls < 30  # the budget stopped the judgment part way, far before max_iterations
    assert stopped["status"] == "stopped" and stopped["stop_reason"].startswith("token budget reached")
    assert shown["run"]["pairs_done"] == 0 and shown["results"] == [] and shown["run"]["errors"] == 0
    assert shown["run"]["total_tokens"] == first_calls * 3_050 and shown["run"]["cost_usd"] > 0
    assert resumed["status"] == "completed" and resumed["pairs_done"] == 1 and resumed["metrics"]["digger/pass_rate"] == 1
    assert resumed["total_tokens"] == (first_calls + 1) * 3_050
    feedback = db.reader().execute("SELECT count(*) FROM assessments WHERE name = 'digger'").fetchone()[0]
    assert feedback == 1  # the stopped judgment logged nothing; the resumed one its verdict
