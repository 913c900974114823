"""JudgeAgreement and AlignJudge through the in-process MCP client: agreement before, alignment
with progress notifications, agreement after the new version has judged, and the errors."""

from __future__ import annotations

from mcp_server.evaluation.run import evaluate
from mcp_server.settings import Settings
from store import Database
from store.assessments import log_assessment, new_assessment
from tests.mcp_server.optimization.conftest import (
    NAME,
    RULE,
    ScriptedModels,
    label,
    routing_judge,
    scripted_openai,
    settings,
    trace_id,
)
from tests.support.mcp_session import session
from tests.support.scripted_openai import ScriptedOpenAI

__all__ = ["routing_judge", "scripted_openai", "settings"]


async def test_agreement_then_alignment_then_agreement_again_from_an_mcp_client(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, routing_judge: None
) -> None:
    label(db, 30)
    models = ScriptedModels()
    scripted_openai.respond_with(models)
    ids = [trace_id(n) for n in range(30)]
    await evaluate(db, [NAME], settings=settings, trace_ids=ids)
    notes: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    async with session(db, settings) as s:
        before = await s.call("JudgeAgreement", judge=NAME)
        aligned = await s.call("AlignJudge", progress=on_progress, judge=NAME, max_cost_usd=5.0)
        await evaluate(db, [NAME], settings=settings, trace_ids=ids)
        after = await s.call("JudgeAgreement", judge=NAME)
        shown = await s.call("GetJudge", name=NAME)

    assert before["pairs"] == 30 and before["accuracy"] == 20 / 30 and before["kappa"] == 0.0
    assert before["confusion_matrix"] == {"false": {"true": 10}, "true": {"true": 20}}
    assert before["disagreement_count"] == 10 and before["judge_versions"] == {f"{NAME}@1": 30}
    assert aligned["registered"] and aligned["new_version"] == 2
    assert aligned["before"]["accuracy"] < aligned["after"]["accuracy"] == 1.0
    assert shown["version"] == 2 and RULE in shown["instructions"]
    assert after["accuracy"] == 1.0 and after["kappa"] == 1.0 and after["judge_versions"] == {f"{NAME}@2": 30}
    assert notes and notes[-1][2] == aligned["message"] and notes[-1][0] == notes[-1][1]
    assert any("search: candidate 1 accepted" in (m or "") for _, _, m in notes)


async def test_errors_say_what_to_do(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI, routing_judge: None
) -> None:
    label(db, 5)
    log_assessment(db, new_assessment(trace_id(0), "other", True, source_type="HUMAN"))
    async with session(db, settings) as s:
        too_few = await s.error("AlignJudge", judge=NAME)
        unknown = await s.error("AlignJudge", judge="nobody")
        missing = await s.error("JudgeAgreement", judge=NAME, trace_ids=[trace_id(0), "e" * 32])
        nothing = await s.call("JudgeAgreement", judge="other")

    assert "has 5 human labels; alignment needs at least 20: label 15 more traces" in too_few
    assert "judge 'nobody' is not in this store" in unknown
    assert "'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee' is not in this store" in missing
    assert nothing["pairs"] == 0 and "Evaluate(judges=['other']" in nothing["message"]
    assert scripted_openai.chat_requests == []


async def test_align_judge_with_no_judge_model_answers_one_error_saying_what_to_set(
    db: Database, scripted_openai: ScriptedOpenAI, routing_judge: None
) -> None:
    label(db, 30)
    async with session(db, Settings()) as s:
        refused = await s.error("AlignJudge", judge=NAME)
    assert "no judge model is configured: set TRACEJUDGE_JUDGE_MODEL" in refused
    assert scripted_openai.chat_requests == []
