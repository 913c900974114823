"""ListEvaluationRuns through the in-process MCP client: every run found again, newest first, with
what it judged and how far it got; pages of runs, and page tokens checked."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT
from mcp_server.demo.target import ROUTER_PROMPT
from store import Database, datasets, prompts
from tests.mcp_server.evaluation.conftest import trace_id, write_traces
from tests.support.mcp_session import session

TARGET = "mcp_server.demo_target:answer"


async def test_every_run_is_listed_newest_first_with_what_it_judged_and_its_counts(db: Database) -> None:
    ids = write_traces(db, 4)
    datasets.create_dataset(db, "support")
    datasets.upsert_records(db, "support", [{"inputs": {"question": "Which plans include unlimited 5G data?"}}])
    prompts.register_prompt_version(db, ROUTER_PROMPT, ROUTER_SYSTEM_PROMPT)
    prompts.set_prompt_alias(db, ROUTER_PROMPT, "production", 1)
    async with session(db) as s:
        empty = await s.call("ListEvaluationRuns")
        by_filter = await s.call("Evaluate", judges=["latency"], filter_string="trace.status = 'OK'", name="all ok")
        by_ids = await s.call("Evaluate", judges=["latency", "error_spans"], trace_ids=ids[:2])
        on_dataset = await s.call("Evaluate", judges=["tool_call_count"], dataset="support", target=TARGET)
        listed = await s.call("ListEvaluationRuns")

    assert empty == {"runs": [], "total": 0, "next_page_token": None, "notice": None}
    assert listed["total"] == 3 and listed["next_page_token"] is None
    newest, middle, oldest = listed["runs"]
    assert [r["run_id"] for r in listed["runs"]] == [on_dataset["run_id"], by_ids["run_id"], by_filter["run_id"]]
    assert (oldest["name"], oldest["filter_string"], oldest["judges"], oldest["dataset"]) == (
        "all ok", "trace.status = 'OK'", ["latency"], None
    )
    assert (oldest["trace_count"], oldest["pairs_total"], oldest["pairs_done"], oldest["errors"]) == (4, 4, 4, 0)
    assert (middle["judges"], middle["filter_string"], middle["pairs_total"], middle["pairs_done"]) == (
        ["latency", "error_spans"], None, 4, 4
    )
    assert (newest["dataset"], newest["dataset_version"], newest["target"], newest["record_count"]) == (
        "support", 1, TARGET, 1
    )
    assert newest["pairs_total"] == newest["pairs_done"] == 1 and newest["prompts"] == ["northwind-router/1"]
    for run, evaluated in ((newest, on_dataset), (middle, by_ids), (oldest, by_filter)):
        assert run["status"] == "completed" and run["total_tokens"] == evaluated["total_tokens"]
        started, ended = datetime.fromisoformat(run["started_time"]), datetime.fromisoformat(run["ended_time"])
        assert started <= ended and started.utcoffset() is not None
    assert datetime.fromisoformat(oldest["started_time"]) <= datetime.fromisoformat(newest["started_time"])


async def test_runs_page_with_tokens_that_belong_to_their_arguments(db: Database) -> None:
    write_traces(db, 2)
    async with session(db) as s:
        made = [(await s.call("Evaluate", judges=["latency"], trace_ids=[trace_id(0)]))["run_id"] for _ in range(3)]
        seen, notices, tokens = [], [], [None]
        while True:
            page = await s.call("ListEvaluationRuns", max_results=1, page_token=tokens[-1])
            seen += [r["run_id"] for r in page["runs"]]
            notices.append(page["notice"])
            if page["next_page_token"] is None:
                break
            tokens.append(page["next_page_token"])
        other = await s.error("ListEvaluationRuns", max_results=2, page_token=tokens[1])
        state = {"tool": "ListEvaluationRuns", "args": "x", "state": {"before": [2**70, "run-x"], "shown": 1}}
        forged = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        damaged = await s.error("ListEvaluationRuns", max_results=1, page_token=forged)
        too_many = await s.error("ListEvaluationRuns", max_results=101)

    assert seen == made[::-1] and len(tokens) == 3
    assert notices[0].startswith("showing runs 1 to 1 of 3;") and notices[1].startswith("showing runs 2 to 2 of 3;")
    assert notices[2] is None
    assert "other arguments" in other and "without page_token" in other
    assert "without page_token" in damaged
    assert "max_results must be an integer from 1 to 100" in too_many
