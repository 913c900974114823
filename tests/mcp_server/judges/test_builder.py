"""The web judge builder's services: trying an unsaved judge judges the traces and stores nothing (no
judge version, no feedback), within its bounds; the builder's choices; the diff of two versions."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver import MCPServer

from mcp_server.judges import builder, service
from mcp_server.judges.agent.prompt import VERDICT_TOOL
from mcp_server.models import BudgetExhausted, ModelSettings
from mcp_server.settings import Settings
from store import Database
from store.errors import InvalidArgument, JudgeNotFound, TraceNotFound
from tests.support.scripted_openai import ScriptedOpenAI, json_reply, tool_calls

OPERATOR = ModelSettings(allowed_models=None)


def assessment_count(db: Database) -> int:
    return db.reader().execute("SELECT count(*) FROM assessments").fetchone()[0]


def judge_count(db: Database) -> int:
    return db.reader().execute("SELECT count(*) FROM judges").fetchone()[0]


async def test_trying_a_judge_gives_each_traces_verdict_and_stores_no_judge_and_no_feedback(
    db: Database, server: MCPServer, roaming: str, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    other = db.reader().execute("SELECT trace_id FROM traces WHERE trace_id != ? LIMIT 1", (roaming,)).fetchone()[0]
    scripted_openai.respond_with(lambda request: json_reply(
        {"rationale": "sent to the wrong specialist", "value": False} if "roaming in Spain" in request["messages"][1]["content"]
        else {"rationale": "routed right", "value": True}))  # fmt: skip
    before = assessment_count(db)
    trial = await builder.try_judge(db, "routing", "Was {{ inputs }} routed right?", [roaming, other], settings=settings)
    assert [(v.trace_id, v.value, v.rationale) for v in trial.verdicts] == [
        (roaming, False, "sent to the wrong specialist"), (other, True, "routed right")]
    assert all(v.assessment_id is None and v.judge == "routing@1" for v in trial.verdicts)
    assert trial.budget.max_tokens == builder.TRY_MAX_TOKENS and trial.budget.spent_tokens > 0
    assert assessment_count(db) == before and judge_count(db) == 0
    service.create_judge(db, "routing", "v1 {{ inputs }}", models=OPERATOR)
    again = await builder.try_judge(db, "routing", "Was {{ inputs }} routed right?", [other], settings=settings)
    assert again.verdicts[0].judge == "routing@2" and judge_count(db) == 1


async def test_a_try_is_bounded_and_checked_before_any_model_call(
    db: Database, server: MCPServer, roaming: str, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    ids = [row[0] for row in db.reader().execute("SELECT trace_id FROM traces LIMIT 6")]
    with pytest.raises(InvalidArgument, match="at most 5 traces"):
        await builder.try_judge(db, "routing", "{{ inputs }}", ids, settings=settings)
    with pytest.raises(InvalidArgument, match="at least one template variable"):
        await builder.try_judge(db, "routing", "no variables", [roaming], settings=settings)
    with pytest.raises(InvalidArgument, match="given no server to investigate through"):
        await builder.try_judge(db, "routing", "Investigate {{ trace }}", [roaming], settings=settings)
    with pytest.raises(TraceNotFound):
        await builder.try_judge(db, "routing", "{{ inputs }}", [roaming, "0" * 32], settings=settings)
    with pytest.raises(BudgetExhausted, match="Raise max_tokens"):
        await builder.try_judge(db, "routing", "{{ inputs }}", [roaming], settings=settings, max_tokens=5)
    assert scripted_openai.chat_requests == [] and assessment_count(db) == 0


def test_the_builder_offers_the_variables_output_kinds_and_the_models_a_client_may_name() -> None:
    settings = Settings(models=ModelSettings(judge_model="openai:/gpt-4o-mini", allowed_models="sampling,openai/gpt-4o"))
    options = builder.builder_options(settings)
    assert [v.name for v in options.template_variables] == ["inputs", "outputs", "expectations", "trace"]
    assert options.output_kinds == ["bool", "int", "float", "categorical", "text"]
    assert (options.default_model, options.models, options.max_traces) == ("openai/gpt-4o-mini", ["openai/gpt-4o"], 5)


def test_the_diff_of_two_versions_marks_the_lines_added_and_removed(db: Database) -> None:
    service.create_judge(db, "routing", "Was {{ inputs }} routed right?\nBe strict.", models=OPERATOR)
    service.create_judge(db, "routing", "Was {{ inputs }} routed right?\nBe lenient.\n", models=OPERATOR)
    diff = builder.diff_judge_versions(db, "routing", 1, 2)
    assert not diff.identical and "-Be strict.\n" in diff.diff and "+Be lenient.\n" in diff.diff
    assert " Was {{ inputs }} routed right?\n" in diff.diff and diff.to_judge.version == 2
    assert builder.diff_judge_versions(db, "routing", 2, 2).diff == ""
    with pytest.raises(JudgeNotFound):
        builder.diff_judge_versions(db, "routing", 1, 3)


async def test_an_agent_judge_is_tried_through_the_servers_trace_tools_and_logs_nothing(
    db: Database, server: MCPServer, roaming: str, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.push(
        tool_calls(("ListSpans", {"trace_id": roaming})),
        tool_calls((VERDICT_TOOL, {"value": "no", "rationale": "billing question sent to product", "findings": []})),
    )
    before = assessment_count(db)
    trial = await builder.try_judge(db, "routing_agent", "Was {{ trace }} routed to the right specialist?", [roaming],
                                    settings=settings, server=server, output={"kind": "categorical", "categories": ["yes", "no"]})  # fmt: skip
    (verdict,) = trial.verdicts
    assert (verdict.value, verdict.rationale, verdict.judge) == ("no", "billing question sent to product", "routing_agent@1")
    # The model read the trace through the real ListSpans: its answer went into the next request.
    assert "invoke_agent product_specialist" in scripted_openai.chat_requests[1].messages[-1]["content"]
    assert assessment_count(db) == before and judge_count(db) == 0
