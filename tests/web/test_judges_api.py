"""The judges' JSON API through a real server over HTTP: the judges and a judge answer what ListJudges
and GetJudge answer over MCP; the builder tries a judge on demo traces with litellm's real HTTP code
against the scripted OpenAI-compatible server, storing neither feedback nor a judge version; a save is
CreateJudge's next version; a read-only server refuses both; errors say what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from mcp_server.judges import service
from mcp_server.models import ModelSettings
from store import Database
from tests.support.live_server import LiveServer
from tests.support.scripted_openai import ScriptedOpenAI, json_reply, scripted_settings
from tests.web.conftest import MISROUTED, demo_server
from tests.web.test_api import WRITE, tool

ROUTING_V1 = "Was {{ inputs }} routed to the right specialist?"
ROUTING_V2 = "Was {{ inputs }} routed to the right specialist?\nA billing question belongs to billing.\n"


def counts(server: LiveServer) -> tuple[int, int]:
    """How many assessments and judge versions the server's store holds."""
    db = Database(server.settings.db_path)
    try:
        conn = db.reader()
        return tuple(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("assessments", "judges"))
    finally:
        db.close()


def two_traces(server: LiveServer) -> list[str]:
    """The misrouted roaming trace and one other demo trace."""
    (misrouted,) = httpx2.get(f"{server.url}/api/traces", params={"filter_string": f"trace.text LIKE '%{MISROUTED}%'"}).json()["traces"]
    others = httpx2.get(f"{server.url}/api/traces", params={"max_results": 3}).json()["traces"]
    other = next(t for t in others if t["trace_id"] != misrouted["trace_id"])
    return [misrouted["trace_id"], other["trace_id"]]


@pytest.fixture
def judging_server(tmp_path: Path, scripted_openai: ScriptedOpenAI) -> Iterator[LiveServer]:
    """A demo server whose judge model is the scripted server, with a stored judge 'routing' (version 1)."""
    server = demo_server(tmp_path, models=scripted_settings(scripted_openai).models)
    service.create_judge(server.db, "routing", ROUTING_V1, models=ModelSettings(allowed_models=None))
    yield server
    server.stop()


async def test_the_judges_and_a_judge_answer_as_list_judges_and_get_judge(judging_server: LiveServer) -> None:
    url = judging_server.url
    listed = httpx2.get(f"{url}/api/judges").json()
    assert listed == await tool(judging_server, "ListJudges", {})
    assert [j["name"] for j in listed["judges"]] == ["routing"] and listed["builtin_judges"]
    builtin = httpx2.get(f"{url}/api/judges/correctness").json()
    assert builtin == await tool(judging_server, "GetJudge", {"name": "correctness"}) and builtin["builtin"] is True
    stored = httpx2.get(f"{url}/api/judges/routing", params={"version": 1}).json()
    assert stored == await tool(judging_server, "GetJudge", {"name": "routing", "version": 1})


async def test_trying_judges_two_demo_traces_and_stores_no_assessment_and_no_judge_version(
    judging_server: LiveServer, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(lambda request: json_reply(
        {"rationale": "A roaming charge is billing, not product.", "value": False}
        if "roaming in Spain" in request["messages"][1]["content"] else {"rationale": "Routed right.", "value": True}))  # fmt: skip
    traces = two_traces(judging_server)
    before = counts(judging_server)
    body = {"name": "routing", "instructions": ROUTING_V2, "trace_ids": traces}
    tried = httpx2.post(f"{judging_server.url}/api/judge-builder/try", json=body, headers=WRITE, timeout=60)
    assert tried.status_code == 200, tried.text
    trial = tried.json()
    assert [(v["trace_id"], v["value"], v["rationale"]) for v in trial["verdicts"]] == [
        (traces[0], False, "A roaming charge is billing, not product."), (traces[1], True, "Routed right.")]
    assert {v["judge"] for v in trial["verdicts"]} == {"routing@2"} and trial["budget"]["spent_tokens"] > 0
    assert len(scripted_openai.chat_requests) == 2 and counts(judging_server) == before


async def test_saving_is_create_judge_and_makes_version_2_with_a_diff_from_version_1(judging_server: LiveServer) -> None:
    url = judging_server.url
    assert httpx2.post(f"{url}/api/judges", json={"name": "routing", "instructions": ROUTING_V2}).status_code == 403
    saved = httpx2.post(f"{url}/api/judges", json={"name": "routing", "instructions": ROUTING_V2}, headers=WRITE)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    assert saved.json() == await tool(judging_server, "GetJudge", {"name": "routing", "version": 2})
    diff = httpx2.get(f"{url}/api/judges/routing/diff", params={"from_version": 1, "to_version": 2}).json()
    assert "+A billing question belongs to billing.\n" in diff["diff"] and not diff["identical"]


def test_errors_say_what_to_do(judging_server: LiveServer) -> None:
    url = judging_server.url
    [roaming, _] = two_traces(judging_server)

    def post(path: str, body: dict) -> tuple[int, str]:
        answer = httpx2.post(f"{url}{path}", json=body, headers=WRITE)
        return answer.status_code, answer.json()["error"]

    status, error = post("/api/judges", {"name": "routing", "instructions": "Was it routed right?"})
    assert status == 400 and "must use at least one template variable" in error
    status, error = post("/api/judges", {"name": "correctness", "instructions": "{{ inputs }}"})
    assert status == 400 and "choose another name" in error
    status, error = post("/api/judges", {"name": "routing", "instructions": "{{ inputs }}", "model": "openai:/gpt-5"})
    assert status == 400 and "TRACEJUDGE_ALLOWED_MODELS" in error
    status, error = post("/api/judges", {"name": "routing", "instructions": "{{ inputs }}", "admin": True})
    assert status == 400 and "unknown fields admin" in error
    six = [roaming, *(c * 32 for c in "abcde")]
    status, error = post("/api/judge-builder/try", {"name": "routing", "instructions": "{{ inputs }}", "trace_ids": six})
    assert status == 400 and "at most 5 traces" in error and "pick fewer" in error
    status, error = post("/api/judge-builder/try", {"name": "routing", "instructions": "{{ inputs }}", "trace_ids": ["0" * 32]})
    assert status == 404 and "0" * 32 in error
    missing = httpx2.get(f"{url}/api/judges/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]
    no_versions = httpx2.get(f"{url}/api/judges/routing/diff", params={"from_version": 1})
    assert no_versions.status_code == 400 and "to_version is missing" in no_versions.json()["error"]
    assert counts(judging_server) == (0, 1)


@pytest.fixture
def read_only_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = demo_server(tmp_path, read_only=True)
    yield server
    server.stop()


def test_a_read_only_server_shows_judges_but_refuses_to_try_or_save_them(read_only_server: LiveServer) -> None:
    url = read_only_server.url
    assert httpx2.get(f"{url}/api/judges").status_code == 200
    assert httpx2.get(f"{url}/api/judge-builder").json()["read_only"] is True
    body = {"name": "routing", "instructions": ROUTING_V1}
    for path, extra in (("/api/judges", {}), ("/api/judge-builder/try", {"trace_ids": two_traces(read_only_server)})):
        refused = httpx2.post(f"{url}{path}", json={**body, **extra}, headers=WRITE)
        assert refused.status_code == 403 and "read-only" in refused.json()["error"], path
    assert counts(read_only_server) == (0, 0)


async def test_running_a_judge_from_the_trace_page_logs_its_verdict_as_run_judge_does(
    judging_server: LiveServer, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(lambda request: json_reply({"rationale": "A roaming charge is billing.", "value": False}))
    misrouted, _ = two_traces(judging_server)
    url = f"{judging_server.url}/api/traces/{misrouted}/judge"
    ran = httpx2.post(url, json={"judge": "routing"}, headers=WRITE, timeout=60)
    assert ran.status_code == 200, ran.text
    answer = ran.json()
    assert (answer["feedback_name"], answer["verdict"]["value"], answer["verdict"]["judge"]) == ("routing", False, "routing@1")
    assert answer["budget"]["max_cost_usd"] == 0.25 and answer["budget"]["spent_tokens"] > 0  # a click's bound
    logged = await tool(judging_server, "ListAssessments", {"trace_id": misrouted})
    assert [(a["name"], a["value"], a["source_id"]) for a in logged["assessments"]] == [("routing", False, "routing@1")]
    # A code judge needs no model; its findings point at spans.
    code = httpx2.post(url, json={"judge": "error_spans"}, headers=WRITE).json()
    assert code["verdict"]["value"] is True and code["verdict"]["findings"] == []
    unknown = httpx2.post(url, json={"judge": "no_such_judge"}, headers=WRITE)
    assert unknown.status_code == 404 and "ListJudges" in unknown.json()["error"]
    missing = httpx2.post(url, json={}, headers=WRITE)
    assert missing.status_code == 400 and "judge is missing" in missing.json()["error"]
    assert httpx2.post(url, json={"judge": "routing"}).status_code == 403  # no request header


def test_a_read_only_server_refuses_to_run_a_judge_from_the_trace_page(read_only_server: LiveServer) -> None:
    (trace,) = httpx2.get(f"{read_only_server.url}/api/traces", params={"max_results": 1}).json()["traces"]
    refused = httpx2.post(f"{read_only_server.url}/api/traces/{trace['trace_id']}/judge", json={"judge": "error_spans"},
                          headers=WRITE)  # fmt: skip
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]
    assert counts(read_only_server) == (0, 0)
