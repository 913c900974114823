"""`tracejudge issues discover|update|dataset|judge` print what the matching tools answer with
--json; the judge command drafts through the configured judge model (scripted here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_server.cli import main
from mcp_server.demo.load import load_demo
from store import Database
from tests.support.mcp_session import session
from tests.support.northwind import new_agent_traces
from tests.support.scripted_openai import Reply, ScriptedOpenAI, json_reply, scripted_openai

__all__ = ["scripted_openai"]


def _json(argv: list[str], path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main([*argv, "--db", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _tool(path: Path, tool: str, **arguments: Any) -> dict:
    async def call() -> dict:
        db = Database(path)
        try:
            async with session(db) as s:
                return await s.call(tool, **arguments)
        finally:
            db.close()

    return anyio.run(call)


def test_the_issue_commands_print_what_the_tools_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    scripted_openai: ScriptedOpenAI,
) -> None:
    path = tmp_path / "issues.db"
    db = Database(path)
    load_demo(db)
    new_agent_traces(db)  # a second coverage timeout: an issue of two traces
    db.close()
    found = _json(["issues", "discover"], path, capsys)
    (issue,) = found["issues"]
    assert (issue["category"], issue["trace_count"], found["named_by_model"]) == ("Timeout Issues", 2, False)
    assert _json(["issues", "show", issue["issue_id"]], path, capsys) == _tool(path, "GetIssue", issue_id=issue["issue_id"])
    updated = _json(["issues", "update", issue["issue_id"], "--status", "confirmed"], path, capsys)
    assert updated == {"issues": [_tool(path, "ListIssues")["issues"][0]], "total": 1, "next_page_token": None}
    assert updated["issues"][0]["status"] == "confirmed"
    first_trace = _tool(path, "GetIssue", issue_id=issue["issue_id"])["evidence"][0]["trace_id"]
    split = _json(["issues", "update", issue["issue_id"], "--split", first_trace, "--split-title", "the newest"], path, capsys)
    assert [(i["title"], i["trace_count"]) for i in split["issues"]][1] == ("the newest", 1)
    again = _json(["issues", "discover"], path, capsys)  # the split-out trace is not added back
    assert [(i["issue_id"], i["trace_count"], i["new_traces"]) for i in again["issues"]] == [(issue["issue_id"], 1, 0)]
    merged = _json(["issues", "update", split["issues"][1]["issue_id"], "--merge-into", issue["issue_id"]], path, capsys)
    assert merged["issues"][0]["trace_count"] == 2
    capsys.readouterr()
    assert main(["issues", "update", split["issues"][1]["issue_id"], "--status", "open", "--db", str(path)]) == 2
    assert "was merged into" in capsys.readouterr().err
    dataset = _json(["issues", "dataset", issue["issue_id"], "--dataset", "timeouts"], path, capsys)
    # The two traces asked the same question: one record (records are keyed by their inputs).
    assert dataset["dataset"] == "timeouts" and (dataset["traces"], dataset["added"]) == (2, 1)
    assert _tool(path, "GetDataset", name="timeouts")["record_count"] == 1

    def respond(request: dict[str, Any]) -> Reply:
        if "You write the instructions" in json.dumps(request["messages"]):
            return json_reply({"instructions": "Did {{ outputs }} apologise for a coverage timeout? Answer yes or no."})
        return json_reply({"rationale": "scripted", "value": "no" if "coverage" in json.dumps(request) else "yes"})

    scripted_openai.respond_with(respond)
    monkeypatch.setenv("TRACEJUDGE_JUDGE_MODEL", "openai:/gpt-4o-mini")
    monkeypatch.setenv("TRACEJUDGE_JUDGE_API_BASE", scripted_openai.url)
    monkeypatch.setenv("TRACEJUDGE_JUDGE_API_KEY", "sk-scripted")
    made = _json(["issues", "judge", issue["issue_id"], "--no-save"], path, capsys)
    assert made["version"] is None and len(made["drafted_from"]) == 1 and len(made["checked"]) == 2
    assert made["recall"] is not None and "drafted (not saved)" in made["message"]
