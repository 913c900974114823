"""The seed scenario of the improvement loop, start to finish from an MCP client (the real client,
in process), with every model call answered by the scripted OpenAI-compatible server through
litellm's real HTTP code:

a routing judge finds the misrouted Northwind traces -> they (and the well-routed ones, as a
regression guard) become a dataset -> the router prompt is optimized into a new version -> the
evaluation on the dataset shows the gain side by side with the old version -> human labels show
where the judge disagrees with people, and aligning it registers a version that agrees more on
held-out labels.

The scripted models (tests/support/northwind.py, shared with the example's test) know the right
specialist for each message but the judge has a blind spot until aligned. People label every
evaluated trace with the truth.
"""

from __future__ import annotations

import json

import pytest

from mcp_server.demo.load import load_demo
from mcp_server.demo.target import ROUTER_PROMPT
from mcp_server.judges.trace_data import root_inputs_outputs
from mcp_server.settings import Settings
from store import Database
from tests.support.mcp_session import Session, session
from tests.support.northwind import EXTRA_CASES, INSTRUCTIONS, PLAN_RULE, ScriptedModels, question_of, truth
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai, scripted_settings

__all__ = ["scripted_openai"]

TARGET = "mcp_server.demo_target:answer"


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "loop.db")
    load_demo(database)  # what `tracejudge serve --demo` loads: the traces and the router prompt
    yield database
    database.close()


@pytest.fixture
def settings(scripted_openai: ScriptedOpenAI) -> Settings:
    return scripted_settings(scripted_openai)


async def run_traces(client: Session, run_id: str) -> list[str]:
    report = await client.call("GetEvaluationRun", run_id=run_id, max_results=200)
    return [r["trace_id"] for r in report["results"]]


@pytest.mark.slow
async def test_the_improvement_loop_from_an_mcp_client(db: Database, settings: Settings, scripted_openai: ScriptedOpenAI):
    models = ScriptedModels()
    scripted_openai.respond_with(models)
    async with session(db, settings) as client:
        # 1. A routing judge finds the misrouted traces.
        await client.call(
            "CreateJudge", name="routing", instructions=INSTRUCTIONS,
            output_type={"kind": "categorical", "categories": ["yes", "no"]},
        )
        run0 = await client.call("Evaluate", judges=["routing"])
        assert run0["status"] == "completed" and run0["pairs_done"] == 10
        flagged = await client.call("SearchTraces", filter_string="feedback.routing = 'no'")
        flagged_questions = {r["request_preview"] for r in flagged["traces"]}
        assert any("roaming in Spain" in q for q in flagged_questions)

        # 2. They become a dataset, with the well-routed ones and a few hand-written cases.
        await client.call("CreateDataset", name="routing-cases", description="Router regressions")
        added = await client.call("AddTracesToDataset", dataset="routing-cases", filter_string="feedback.routing = 'no'")
        assert added["added"] == len(flagged["traces"])
        await client.call("AddTracesToDataset", dataset="routing-cases", filter_string="feedback.routing = 'yes'")
        await client.call(
            "UpsertDatasetRecords", dataset="routing-cases", records=[{"inputs": {"question": q}} for q in EXTRA_CASES]
        )
        dataset = await client.call("GetDataset", name="routing-cases")
        assert dataset["record_count"] == 15

        # 3. The agent on the dataset with the production router prompt (version 1).
        before = await client.call("Evaluate", judges=["routing"], dataset="routing-cases", target=TARGET, name="router v1")
        assert before["prompts"] == [f"{ROUTER_PROMPT}/1"] and before["pairs_done"] == 15
        assert before["errors"] == 0, await client.call("GetEvaluationRun", run_id=before["run_id"], errors_only=True)

        # 4. Optimize the router prompt.
        optimized = await client.call(
            "OptimizePrompt", prompt=f"prompts:/{ROUTER_PROMPT}@production", dataset="routing-cases",
            judges=["routing"], target=TARGET, max_metric_calls=60,
        )
        assert optimized["start_version"] == 1 and optimized["best_version"] == 2 and optimized["gain"] > 0
        diff = await client.call("DiffPromptVersions", name=ROUTER_PROMPT, from_version=1, to_version=2)
        assert "+1. bill, invoice" in diff["diff"] and "-1. roaming" in diff["diff"]

        # 5. Ship it and evaluate again: the gain, side by side, record by record.
        await client.call("SetPromptAlias", name=ROUTER_PROMPT, alias="production", version=2)
        after = await client.call("Evaluate", judges=["routing"], dataset="routing-cases", target=TARGET, name="router v2")
        assert after["prompts"] == [f"{ROUTER_PROMPT}/2"]
        comparison = await client.call("CompareEvaluationRuns", run_a=before["run_id"], run_b=after["run_id"])
        [pass_rate] = [m for m in comparison["metrics"] if m["metric"] == "routing/pass_rate"]
        assert pass_rate["b"] > pass_rate["a"] and pass_rate["delta"] == pytest.approx(3 / 15)
        fixed = [c for c in comparison["changed"] if (c["a"], c["b"]) == ("no", "yes")]
        assert len(fixed) == 3 and all(c["record_id"] for c in fixed)  # the three roaming charges

        # 6. People label the evaluated traces; the judge's agreement, before and after alignment.
        await client.call("CreateLabelingSchema", name="routing", type="feedback", input={"kind": "pass_fail"},
                          instructions="Did the right specialist answer?")
        await client.call("CreateLabelingSession", name="routing review", schemas=["routing"])
        traces = await run_traces(client, before["run_id"]) + await run_traces(client, after["run_id"])
        await client.call("AddTracesToLabelingSession", session="routing review", trace_ids=traces)
        for trace_id in traces:
            inputs, outputs = root_inputs_outputs(db, trace_id)
            question = question_of(json.dumps(inputs))
            correct = outputs["specialist"] == truth(question)
            await client.call("SubmitLabel", session="routing review", trace_id=trace_id, schema="routing",
                              value="pass" if correct else "fail", labeler="expert")
        agreement = await client.call("JudgeAgreement", judge="routing")
        assert agreement["pairs"] == 30 and agreement["accuracy"] < 1
        # Where people and the judge differ: plan changes the account specialist rightly handled.
        for disagreement in agreement["disagreements"]:
            inputs, outputs = root_inputs_outputs(db, disagreement["trace_id"])
            assert "plan" in json.dumps(inputs).lower() and outputs["specialist"] == "account_specialist"
            assert (disagreement["human_value"], disagreement["judge_value"]) == ("true", "false")  # pass/yes, fail/no

        aligned = await client.call("AlignJudge", judge="routing")
        assert aligned["registered"] and aligned["new_version"] == 2
        assert aligned["after"]["accuracy"] > aligned["before"]["accuracy"]
        judge = await client.call("GetJudge", name="routing")
        assert PLAN_RULE in judge["instructions"]
    assert models.judgments > 0 and models.reflections
