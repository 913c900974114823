"""A stored LLM judge as a guardrail, through the real path: the judge runs on a trace in a real
store, litellm's real HTTP code asks the scripted OpenAI-compatible server, the verdict is logged
as the judge's feedback, and the guardrail passes, blocks, or meets its timeout open or closed."""

from __future__ import annotations

import pytest

from mcp_server.guardrails.config import parse_guardrails
from mcp_server.guardrails.service import JudgeContext, apply_guardrails, decision_feedback
from mcp_server.judges import service
from mcp_server.models import ModelSettings
from store import Database
from store import assessments as assessment_store
from tests.mcp_server.traces.builders import TRACE_ID, small_trace
from tests.support.scripted_openai import ScriptedOpenAI, json_reply, scripted_settings

ANSWER = [{"role": "assistant", "content": "You were refunded."}]


@pytest.fixture
def judging(db: Database, scripted_openai: ScriptedOpenAI) -> JudgeContext:
    small_trace(db)
    service.create_judge(db, "refund_policy", "Does {{ outputs }} follow the refund policy? Answer yes or no.",
                         models=ModelSettings(allowed_models=None))  # fmt: skip
    return JudgeContext(db=db, settings=scripted_settings(scripted_openai), server=None, trace_id=TRACE_ID)


def guardrail(**options: object) -> list:
    table = {"kind": "judge", "stages": ["output"], "action": "block", "judge": "refund_policy", **options}
    return list(parse_guardrails({"policy": table}).values())


def judge_feedback(db: Database) -> list:
    return [a for a in assessment_store.list_assessments(db, TRACE_ID)[0] if a.name == "refund_policy"]


async def test_a_passing_verdict_passes_and_is_logged_as_the_judge_s_feedback(
    judging: JudgeContext, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.push(json_reply({"rationale": "It follows the policy.", "value": "yes"}))

    outcome = await apply_guardrails(guardrail(), "output", ANSWER, judging=judging)

    [decision] = outcome.decisions
    assert decision.outcome == "pass" and outcome.blocked is None and decision.error is None
    [logged] = judge_feedback(judging.db)
    assert logged.value is True and logged.assessment_id == decision.judge_assessment_id
    assert "You were refunded" in str(scripted_openai.chat_requests[0].messages)
    assert decision_feedback(decision)["value"] is True


async def test_a_failing_verdict_blocks_naming_the_judge(judging: JudgeContext, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.push(json_reply({"rationale": "It promises a refund the policy forbids.", "value": "no"}))

    outcome = await apply_guardrails(guardrail(), "output", ANSWER, judging=judging)

    assert outcome.blocked is not None and outcome.blocked.outcome == "block"
    assert "refund_policy" in outcome.blocked.detail and "not passing" in outcome.blocked.detail
    assert "forbids" not in outcome.blocked.detail  # the rationale stays in the judge's own feedback
    assert judge_feedback(judging.db)[0].value is False


async def test_a_judge_that_times_out_passes_when_open(judging: JudgeContext, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.push(json_reply({"rationale": "late", "value": "no"}).after(30))

    outcome = await apply_guardrails(guardrail(timeout_s=0.2, on_error="open"), "output", ANSWER, judging=judging)

    [decision] = outcome.decisions
    assert decision.outcome == "error" and outcome.blocked is None
    assert "timed out after 0.2 s" in decision.error and "on_error is 'open'" in decision.detail
    assert judge_feedback(judging.db) == []
    feedback = decision_feedback(decision)
    assert feedback["value"] is False and feedback["error"] == decision.error


async def test_a_judge_that_times_out_blocks_when_closed(judging: JudgeContext, scripted_openai: ScriptedOpenAI) -> None:
    scripted_openai.push(json_reply({"rationale": "late", "value": "yes"}).after(30))

    outcome = await apply_guardrails(guardrail(timeout_s=0.2, on_error="closed"), "output", ANSWER, judging=judging)

    assert outcome.blocked is not None and outcome.blocked.outcome == "block"
    assert "timed out" in outcome.blocked.error and "on_error is 'closed'" in outcome.blocked.detail


async def test_an_unknown_judge_is_an_error_and_a_version_is_honoured(judging: JudgeContext, scripted_openai: ScriptedOpenAI) -> None:
    missing = await apply_guardrails(guardrail(judge="no_such_judge", on_error="closed"), "output", ANSWER, judging=judging)
    assert missing.blocked is not None and "JudgeNotFound" in missing.blocked.error

    service.create_judge(judging.db, "refund_policy", "Version 2: is {{ outputs }} polite? yes or no.",
                         models=ModelSettings(allowed_models=None))  # fmt: skip
    scripted_openai.push(json_reply({"rationale": "fine", "value": "yes"}))
    outcome = await apply_guardrails(guardrail(judge="refund_policy@1"), "output", ANSWER, judging=judging)
    assert outcome.decisions[0].outcome == "pass"
    assert "Version 2" not in str(scripted_openai.chat_requests[-1].messages)


async def test_a_judge_guardrail_without_a_judging_context_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="judging=JudgeContext"):
        await apply_guardrails(guardrail(), "output", ANSWER)


@pytest.mark.parametrize(("tone_passes", "blocked"), [(True, False), (False, True)])
async def test_a_gates_policy_judges_each_judge_the_live_call(
    judging: JudgeContext, scripted_openai: ScriptedOpenAI, tone_passes: bool, blocked: bool
) -> None:
    from mcp_server.gates.service import create_gate

    service.create_judge(judging.db, "polite", "Is {{ outputs }} polite? Answer yes or no.",
                         models=ModelSettings(allowed_models=None))  # fmt: skip
    create_gate(judging.db, "release", policies=["refund_policy", {"judge": "polite", "min_share": 0.9}])
    # The two judges ask side by side, so each answer is picked by what its prompt asks.
    scripted_openai.respond_with(lambda request: json_reply({"rationale": "-", "value": "yes" if (
        "refund policy" in str(request["messages"]) or tone_passes) else "no"}))  # fmt: skip
    [spec] = list(parse_guardrails({"release": {"kind": "judge", "stages": ["output"], "action": "block",
                                                "gate": "release"}}).values())  # fmt: skip

    outcome = await apply_guardrails([spec], "output", ANSWER, judging=judging)

    [decision] = outcome.decisions
    assert (outcome.blocked is not None) is blocked
    assert "the gate 'release' v1" in decision.detail and "'polite'" in decision.detail
    assert len(scripted_openai.chat_requests) == 2  # one call per policy judge
    names = {a.name for a in assessment_store.list_assessments(judging.db, TRACE_ID)[0]}
    assert {"refund_policy", "polite"} <= names


def test_a_judge_guardrail_names_a_judge_or_a_gate_not_both() -> None:
    for options in ({}, {"judge": "a", "gate": "b"}):
        with pytest.raises(ValueError, match="either judge"):
            parse_guardrails({"g": {"kind": "judge", "stages": ["output"], "action": "block", **options}})
