"""Forged page tokens, to every tool that pages, through the in-process MCP client: each one is
answered, or refused with an error that names page_token; none crashes a handler.

A forged token here is a real token of the tool (so it passes the tool and arguments checks)
whose state was rewritten: out-of-range and negative integers, NaN and infinities, wrong types,
huge strings, lone surrogates, missing keys.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from mcp_server.judges import service
from mcp_server.models import ModelSettings
from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database, datasets, issues, labeling, prompts, write_spans
from store.assessments import log_assessment, new_assessment
from store.evaluations import EvaluationResult, create_run, record_results
from tests.mcp_server.traces.builders import TRACE_ID, make_span, small_trace

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

BIG_TRACE = "0af7651916cd43dd8448eb211c80319c"
JUDGES = [{"name": name, "ref": name, "version": 1, "source_id": f"{name}@1", "kind": "llm"} for name in ("a", "b")]


def _fill(db: Database) -> dict[str, dict[str, Any]]:
    """Two of everything each paging tool lists; the arguments that make each tool's first page
    end with a next_page_token."""
    small_trace(db)
    write_spans(db, [make_span(1, trace_id=BIG_TRACE, name="big", inputs_json=json.dumps("aaaa " * 2_000))])
    for n in range(2):
        log_assessment(db, new_assessment(TRACE_ID, f"check{n}", True))
        datasets.create_dataset(db, f"set{n}")
        prompts.register_prompt_version(db, f"prompt{n}", "Answer {{ question }}")
        service.create_judge(db, f"judge{n}", "Is {{ outputs }} polite?", models=OPERATOR)
        labeling.put_schema(db, f"schema{n}", "feedback", {"kind": "pass_fail"})
        labeling.create_session(db, f"session{n}", ["schema0"])
    datasets.upsert_records(db, "set0", [{"inputs": {"q": "one"}}, {"inputs": {"q": "two"}}])
    for n in range(2):
        issues.save_issue(db, issues.IssueRecord(issue_id=f"iss-{n:012x}", title=f"issue {n}", category="custom"),
                          [issues.Evidence(trace_id=t, span_id=None, excerpt="failed", source="check", signature=f"s{n}")
                           for t in (TRACE_ID, BIG_TRACE)], [f"s{n}"])  # fmt: skip
    prompts.register_prompt_version(db, "prompt0", "Answer {{ question }} briefly")
    session = labeling.get_session(db, "session0")
    labeling.add_items(db, session.session_id, [TRACE_ID, BIG_TRACE])
    runs = []
    for value in ("yes", "no"):
        run_id = create_run(db, judges=JUDGES, trace_ids=[TRACE_ID, BIG_TRACE]).run_id
        record_results(db, run_id, [
            EvaluationResult(judge=j["name"], trace_id=t, source_id=j["source_id"], value=value)
            for j in JUDGES for t in (TRACE_ID, BIG_TRACE)
        ])
        runs.append(run_id)
    one = {"max_results": 1}
    return {
        "SearchTraces": one,
        "ListSpans": {"trace_id": TRACE_ID, **one},
        "GetSpan": {"trace_id": BIG_TRACE, "span_id": f"{1:016x}", "max_content_length": 1_000},
        "GetRootSpan": {"trace_id": BIG_TRACE, "max_content_length": 1_000},
        "SearchTraceRegex": {"trace_id": BIG_TRACE, "pattern": "a+", "max_matches": 1},
        "ListAssessments": {"trace_id": TRACE_ID, **one},
        "ListDatasets": one,
        "ListDatasetRecords": {"dataset": "set0", **one},
        "ListPrompts": one,
        "ListPromptVersions": {"name": "prompt0", **one},
        "ListJudges": one,
        "GetEvaluationRun": {"run_id": runs[0], **one},
        "ListEvaluationRuns": one,
        "CompareEvaluationRuns": {"run_a": runs[0], "run_b": runs[1], **one},
        "ListLabelingSchemas": one,
        "ListLabelingSessions": one,
        "ListLabelingItems": {"session": "session0", **one},
        "ListIssues": one,
        "GetIssue": {"issue_id": f"iss-{0:012x}", **one},
    }


@dataclass(repr=False)
class Paging:
    portal: BlockingPortal
    client: Client
    first_pages: dict[str, dict[str, Any]]
    tokens: dict[str, str]

    def __repr__(self) -> str:
        return "Paging(...)"  # hypothesis prints the arguments of a failing example

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        return self.portal.call(self.client.call_tool, tool, arguments)


@pytest.fixture(scope="module")
def paging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paging]:
    db = Database(Path(tmp_path_factory.mktemp("tokens")) / "traces.db")
    first_pages = _fill(db)
    # One client for every example: the event loop lives in the portal's thread, and hypothesis
    # drives it from this one.
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(
        Client(create_server(Settings(), db))
    ) as client:
        paging = Paging(portal, client, first_pages, {})
        for tool, arguments in first_pages.items():
            result = paging.call(tool, arguments)
            assert not result.is_error, result.content
            paging.tokens[tool] = result.structured_content["next_page_token"]
            assert paging.tokens[tool], f"{tool}'s first page has no next page; give it more to list"
        yield paging
    db.close()


def _decode(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _encode(body: dict[str, Any]) -> str:
    # json.dumps writes NaN and Infinity, as a forger would.
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def test_every_tool_that_pages_is_covered(paging: Paging) -> None:
    tools = paging.portal.call(paging.client.list_tools).tools
    assert {t.name for t in tools if "page_token" in t.input_schema["properties"]} == set(paging.first_pages)


def test_a_real_token_pages_on(paging: Paging) -> None:
    for tool, token in paging.tokens.items():
        result = paging.call(tool, {**paging.first_pages[tool], "page_token": token})
        assert not result.is_error, (tool, result.content)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
forged_values = st.one_of(
    st.integers(min_value=2**63 - 1, max_value=2**80),
    st.integers(max_value=-1),
    st.integers(min_value=-(2**80), max_value=-(2**63)),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 0.5]),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),
    st.integers(min_value=1_000, max_value=300_000).map(lambda n: "x" * n),
    st.sampled_from([True, False, None, "", "0", [], {}, [0, 0], ["a", "b", "c"]]),
    json_values,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_forged_token_is_answered_or_refused_naming_page_token(paging: Paging, data: st.DataObject) -> None:
    tool = data.draw(st.sampled_from(sorted(paging.tokens)), label="tool")
    body = _decode(paging.tokens[tool])
    state: Any = dict(body["state"])
    key = data.draw(st.sampled_from(sorted(state)), label="key")
    how = data.draw(st.sampled_from(["replace", "delete", "whole state"]), label="how")
    if how == "replace":
        state[key] = data.draw(forged_values, label="value")
    elif how == "delete":
        del state[key]
    else:
        state = data.draw(forged_values, label="state")
    result = paging.call(tool, {**paging.first_pages[tool], "page_token": _encode({**body, "state": state})})
    if result.is_error:
        assert "page_token" in result.content[0].text, result.content[0].text[:500]


@pytest.mark.parametrize("value", [2**63, 2**64 + 5, -1, float("nan"), "1", None, [1]])
def test_a_forged_position_is_an_error_naming_page_token(paging: Paging, value: Any) -> None:
    body = _decode(paging.tokens["ListSpans"])
    token = _encode({**body, "state": {**body["state"], "upto": value}})
    result = paging.call("ListSpans", {**paging.first_pages["ListSpans"], "page_token": token})
    assert result.is_error and "page_token" in result.content[0].text and "ListSpans" in result.content[0].text
