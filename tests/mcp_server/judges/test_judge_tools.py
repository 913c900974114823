"""CreateJudge, ListJudges, GetJudge and RunJudge through the in-process MCP client."""

from __future__ import annotations

import pytest

from mcp_server.settings import Settings
from store import Database
from store import evaluations as store_evaluations
from store import judges as store_judges
from tests.mcp_server.traces.builders import TRACE_ID, small_trace
from tests.support.mcp_session import session
from tests.support.scripted_openai import ScriptedOpenAI, json_reply

YES_NO = {"kind": "categorical", "categories": ["yes", "no"]}


async def test_tools_are_listed_with_descriptions_examples_and_honest_annotations(db: Database) -> None:
    async with session(db, Settings()) as s:
        listed = {t.name: t for t in (await s.client.list_tools()).tools}
    for name in ("CreateJudge", "ListJudges", "GetJudge", "RunJudge"):
        assert "Example: " + name in listed[name].description
    assert listed["ListJudges"].annotations.read_only_hint and listed["GetJudge"].annotations.read_only_hint
    assert not listed["CreateJudge"].annotations.read_only_hint and not listed["RunJudge"].annotations.read_only_hint


async def test_create_makes_versions_and_get_and_list_show_them(db: Database) -> None:
    async with session(db, Settings()) as s:
        first = await s.call("CreateJudge", name="routing", instructions="Routed right? {{ inputs }} {{ outputs }}",
                             output_type=YES_NO)
        second = await s.call("CreateJudge", name="routing", instructions="Routed well? {{ outputs }}")
        assert (first["version"], second["version"], first["kind"]) == (1, 2, "llm")
        assert (await s.call("GetJudge", name="routing"))["instructions"] == "Routed well? {{ outputs }}"
        assert (await s.call("GetJudge", name="routing", version=1))["output"]["categories"] == ["yes", "no"]
        agent = await s.call("CreateJudge", name="issues", instructions="Find problems in {{ trace }}.")
        assert agent["kind"] == "agent"
        listed = await s.call("ListJudges", max_results=1)
        assert [j["name"] for j in listed["judges"]] == ["issues"] and listed["total"] == 2
        builtins = {j["name"]: j for j in listed["builtin_judges"]}
        assert builtins["latency"]["parameters"] == {"threshold_ms": 30000} and builtins["correctness"]["kind"] == "llm"
        rest = await s.call("ListJudges", max_results=1, page_token=listed["next_page_token"])
        assert [(j["name"], j["version"]) for j in rest["judges"]] == [("routing", 2)] and rest["builtin_judges"] == []
        assert (await s.call("GetJudge", name="safety"))["builtin"] is True


async def test_invalid_judges_are_tool_errors_naming_the_allowed_variables_and_types(db: Database) -> None:
    async with session(db, Settings()) as s:
        bad_variable = await s.error("CreateJudge", name="x", instructions="Is {{ answer }} right?")
        assert "{{ answer }}" in bad_variable and "{{ inputs }}, {{ outputs }}, {{ expectations }}, {{ trace }}" in bad_variable
        none = await s.error("CreateJudge", name="x", instructions="Is it right?")
        assert "at least one template variable" in none
        bad_output = await s.error("CreateJudge", name="x", instructions="{{ outputs }}",
                                   output_type={"kind": "categorical"})
        assert "categories" in bad_output
        assert "ListJudges" in await s.error("GetJudge", name="nope")


async def test_run_judge_records_feedback_that_search_traces_finds(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    small_trace(db)
    scripted_openai.push(json_reply({"rationale": "Routed to billing.", "value": "yes"}))
    async with session(db, settings) as s:
        await s.call("CreateJudge", name="routing", instructions="Routed right? {{ inputs }} {{ outputs }}", output_type=YES_NO)
        ran = await s.call("RunJudge", judge="routing", trace_id=TRACE_ID.upper())
        assert ran["verdict"]["value"] == "yes" and ran["verdict"]["judge"] == "routing@1"
        found = await s.call("SearchTraces", filter_string="feedback.routing = 'yes'")
        assert [t["trace_id"] for t in found["traces"]] == [TRACE_ID]
        stored = await s.call("GetAssessment", assessment_id=ran["verdict"]["assessment_id"])
        assert stored["source_type"] == "LLM_JUDGE"

        errors = await s.call("RunJudge", judge="error_spans", trace_id=TRACE_ID)
        assert errors["verdict"]["value"] is False and errors["verdict"]["findings"]
        assert "not in this store" in await s.error("RunJudge", judge="routing", trace_id="f" * 32)
        # A client may not run arbitrary functions on the server by import path.
        assert "ListJudges" in await s.error("RunJudge", judge="os:getcwd", trace_id=TRACE_ID)


@pytest.mark.parametrize("name", ["latency", "correctness", "safety", "trace_issues", "error_spans"])
async def test_a_client_cannot_take_a_built_in_judges_name(db: Database, name: str) -> None:
    async with session(db, Settings()) as s:
        refused = await s.error("CreateJudge", name=name, instructions="Is {{ outputs }} any good?")
        assert f"{name!r} is a built-in judge" in refused and f"'my_{name}'" in refused
        assert (await s.call("GetJudge", name=name))["builtin"] is True
    assert store_judges.list_judges(db)[1] == 0


async def test_a_stored_judge_with_a_built_in_name_never_shadows_the_built_in(db: Database) -> None:
    # A database from before names were reserved may hold one.
    small_trace(db)
    store_judges.create_judge_version(db, "latency", "Is {{ outputs }} fast?", output={"kind": "bool"})
    async with session(db, Settings()) as s:
        ran = await s.call("RunJudge", judge="latency", trace_id=TRACE_ID)
        assert ran["verdict"]["error"] is None and ran["verdict"]["value"] is True
        feedback = await s.call("GetAssessment", assessment_id=ran["verdict"]["assessment_id"])
        assert feedback["source_type"] == "CODE"
        assert (await s.call("GetJudge", name="latency"))["kind"] == "code"
        run = await s.call("Evaluate", judges=["latency"], trace_ids=[TRACE_ID])
        assert run["judges"][0]["kind"] == "code" and run["errors"] == 0
        refused = await s.error("RunJudge", judge="latency", trace_id=TRACE_ID, version=1)
        assert "built-in judge" in refused and "version" in refused
        # GetJudge means what RunJudge runs, with or without a version; ListJudges lists only that.
        shown = await s.error("GetJudge", name="latency", version=1)
        assert shown.split(": ", 1)[1] == refused.split(": ", 1)[1]
        listed = await s.call("ListJudges")
        assert listed["judges"] == [] and listed["total"] == 0
        assert [j["kind"] for j in listed["builtin_judges"] if j["name"] == "latency"] == ["code"]


async def test_a_run_started_with_a_stored_judge_under_a_built_in_name_is_not_resumed_with_the_built_in(
    db: Database,
) -> None:
    # An older tracejudge resolved stored judges first, so its run may hold the stored 'latency'.
    small_trace(db)
    store_judges.create_judge_version(db, "latency", "Is {{ outputs }} fast?", output={"kind": "bool"})
    run = store_evaluations.create_run(
        db, trace_ids=[TRACE_ID],
        judges=[{"name": "latency", "ref": "latency", "version": 1, "source_id": "latency@1", "kind": "llm"}],
    )  # fmt: skip
    async with session(db, Settings()) as s:
        refused = await s.error("Evaluate", run_id=run.run_id)
    assert "'latency' is a built-in judge" in refused and "cannot be resumed" in refused
    assert store_evaluations.run_totals(db, run.run_id).results == 0


async def test_instructions_repeating_a_variable_thousands_of_times_are_refused_saying_what_to_change(
    db: Database,
) -> None:
    # 4,999 uses fit the 50,000-character instructions; each would repeat up to 30,000 characters.
    async with session(db, Settings()) as s:
        refused = await s.error("CreateJudge", name="repeats", instructions="{{inputs}}" * 4_999)
        assert "{{ inputs }} 4,999 times" in refused and "200,000" in refused and "once" in refused
        agent = await s.error("CreateJudge", name="repeats", instructions="{{trace}}" * 4_999)
        assert "{{ trace }} 4,999 times" in agent
        fine = await s.call("CreateJudge", name="twice", instructions="Is {{ outputs }} right? Check {{ outputs }}.")
        assert fine["version"] == 1


async def test_a_stored_judge_whose_prompt_renders_too_large_is_an_error_and_no_model_is_called(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    small_trace(db)
    # Stored directly, as a database from before the cap may hold it.
    store_judges.create_judge_version(db, "repeats", "{{inputs}}" * 4_999, output={"kind": "bool"})
    async with session(db, settings) as s:
        ran = await s.call("RunJudge", judge="repeats", trace_id=TRACE_ID)
    error = ran["verdict"]["error"]
    assert "{{ inputs }} 4,999 times" in error and "more than the 200,000" in error
    assert scripted_openai.chat_requests == []
