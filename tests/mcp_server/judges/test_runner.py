"""run_judge: code judges, built-in code and LLM judges on the demo traces and small traces, and
the verdict recorded as feedback that SearchTraces finds."""

from __future__ import annotations

import pytest

from mcp_server.assessments.service import get_assessment, log_expectation
from mcp_server.demo.load import load_demo
from mcp_server.judges import service
from mcp_server.judges.code_judges import code_judge
from mcp_server.judges.runner import run_judge
from mcp_server.models import ModelSettings
from mcp_server.settings import Settings
from mcp_server.traces import search_traces
from store import Database
from store.errors import InvalidArgument, JudgeNotFound, TraceNotFound
from tests.mcp_server.traces.builders import TRACE_ID, small_trace
from tests.support.scripted_openai import ScriptedOpenAI, json_reply

OPERATOR = ModelSettings(allowed_models=None)
"""Judges stored here as the operator's CLI stores them: naming any model."""

EXAMPLES = "tests.mcp_server.judges.example_code_judges"
TOOL_ERROR_TRACE = "484dd8e5517800531ef7f2dda2d05c6e"  # the demo trace whose tool failed


@pytest.fixture
def traced(db: Database) -> Database:
    small_trace(db)
    return db


@pytest.fixture
def demo(db: Database) -> Database:
    load_demo(db)
    return db


def ids(db: Database, filter_string: str) -> set[str]:
    return {t.trace_id for t in search_traces(db, filter_string=filter_string, max_results=100).traces}


async def test_a_code_judge_by_import_path_gets_the_root_outputs_and_its_verdict_is_searchable(traced: Database) -> None:
    verdict = await run_judge(traced, f"{EXAMPLES}:mentions_refund", TRACE_ID, settings=Settings())
    assert (verdict.value, verdict.rationale) == (True, "The answer mentions a refund.")
    stored = get_assessment(traced, verdict.assessment_id)
    assert stored.source_type == "CODE" and stored.source_id == "mentions_refund@1" and stored.value is True
    assert ids(traced, "feedback.mentions_refund = true") == {TRACE_ID}


async def test_a_code_judge_gets_only_the_parameters_it_names_and_may_return_feedback(traced: Database) -> None:
    log_expectation(traced, TRACE_ID, "spans", 4)
    verdict = await run_judge(traced, code_judge(f"{EXAMPLES}:span_count"), TRACE_ID, settings=Settings())
    assert verdict.value == 4 and verdict.rationale == "expected {'spans': 4}" and verdict.metadata["n"] == 1
    assert (await run_judge(traced, f"{EXAMPLES}:async_judge", TRACE_ID, settings=Settings())).value == "yes"


async def test_an_exception_in_user_code_is_an_error_verdict_naming_it_and_is_recorded(traced: Database) -> None:
    verdict = await run_judge(traced, f"{EXAMPLES}:crashes", TRACE_ID, settings=Settings())
    assert verdict.value is None and "raised KeyError: 'customer_id'" in verdict.error
    assert get_assessment(traced, verdict.assessment_id).error == verdict.error
    none = await run_judge(traced, f"{EXAMPLES}:returns_nothing", TRACE_ID, settings=Settings())
    assert "returned no value" in none.error


async def test_bad_import_paths_and_foreign_parameters_are_refused_before_running(traced: Database) -> None:
    with pytest.raises(InvalidArgument, match="cannot be imported"):
        await run_judge(traced, "no_such_module_xyz:f", TRACE_ID, settings=Settings())
    with pytest.raises(InvalidArgument, match="requires threshold"):
        await run_judge(traced, f"{EXAMPLES}:needs_threshold", TRACE_ID, settings=Settings())
    with pytest.raises(JudgeNotFound):
        await run_judge(traced, "no_such_judge", TRACE_ID, settings=Settings())
    with pytest.raises(TraceNotFound):
        await run_judge(traced, "error_spans", "f" * 32, settings=Settings())
    with pytest.raises(InvalidArgument, match="threshold_ms"):
        await run_judge(traced, "latency", TRACE_ID, settings=Settings(), parameters={"limit": 3})


async def test_builtin_error_spans_fails_only_the_demo_trace_with_the_tool_error(demo: Database) -> None:
    for trace_id in ids(demo, "trace.status = 'OK'"):
        verdict = await run_judge(demo, "error_spans", trace_id, settings=Settings())
        assert verdict.value is (trace_id != TOOL_ERROR_TRACE)
    failed = await run_judge(demo, "error_spans", TOOL_ERROR_TRACE, settings=Settings())
    assert len(failed.findings) == 1 and failed.findings[0].category == "error_span"
    assert ids(demo, "feedback.error_spans = false") == {TOOL_ERROR_TRACE}


async def test_builtin_latency_token_usage_and_tool_call_count_on_demo_traces(demo: Database) -> None:
    # The tool-error trace took 8.3 s; the others under 4 s.
    slow = await run_judge(demo, "latency", TOOL_ERROR_TRACE, settings=Settings(), parameters={"threshold_ms": 5000})
    assert slow.value is False and "8,338 ms" in slow.rationale
    fast = await run_judge(demo, "latency", "5a9d9952bd062cabeba29b3c0b0733d9", settings=Settings(), parameters={"threshold_ms": 5000})
    assert fast.value is True
    tokens = await run_judge(demo, "token_usage", "5a9d9952bd062cabeba29b3c0b0733d9", settings=Settings(),
                             parameters={"max_total_tokens": 2000})
    assert tokens.value is False and tokens.metadata["total_tokens"] == 2081
    count = await run_judge(demo, "tool_call_count", "5a9d9952bd062cabeba29b3c0b0733d9", settings=Settings())
    assert count.value == 2 and count.metadata["by_tool"] == {"execute_tool lookup_invoice": 1, "execute_tool explain_charge": 1}


async def test_token_usage_says_unknown_for_the_parts_of_the_usage_no_span_reported(db: Database) -> None:
    from store import write_spans
    from tests.mcp_server.traces.builders import make_span

    # The model span reports its total and its output, never its input.
    write_spans(db, [make_span(1, name="agent", span_type="AGENT"),
                     make_span(2, 1, name="chat", span_type="LLM", total_tokens=1_500, output_tokens=300)])

    verdict = await run_judge(db, "token_usage", TRACE_ID, settings=Settings(), parameters={"max_total_tokens": 2000})

    assert verdict.error is None and verdict.value is True
    assert verdict.rationale == "The trace used 1,500 tokens (unknown in, 300 out); the limit is 2,000."
    assert verdict.metadata["input_tokens"] is None and verdict.metadata["output_tokens"] == 300


async def test_repeated_identical_tool_calls_are_found_with_a_finding_on_the_repeat(db: Database) -> None:
    import json

    from store import write_spans
    from tests.mcp_server.traces.builders import make_span, span_id

    args = json.dumps({"account_id": "NW-1"})
    write_spans(db, [
        make_span(1, name="agent", span_type="AGENT"),
        make_span(2, 1, name="lookup", span_type="TOOL", tool_name="lookup", inputs_json=args),
        make_span(3, 1, name="lookup", span_type="TOOL", tool_name="lookup", inputs_json=json.dumps({"account_id": "NW-2"})),
        make_span(4, 1, name="lookup", span_type="TOOL", tool_name="lookup", inputs_json=args),
    ])
    verdict = await run_judge(db, "repeated_tool_calls", TRACE_ID, settings=Settings())
    assert verdict.value is False
    assert [f.span_id for f in verdict.findings] == [span_id(4)] and span_id(2) in verdict.findings[0].evidence
    assert get_assessment(db, verdict.assessment_id).findings[0].span_id == span_id(4)


async def test_a_stored_llm_judge_by_name_is_recorded_as_llm_judge_feedback(
    traced: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    service.create_judge(traced, "answered", "Does {{ outputs }} answer {{ inputs }}?",
                          output={"kind": "categorical", "categories": ["yes", "no"]}, models=OPERATOR)
    service.create_judge(traced, "answered", "Does {{ outputs }} fully answer {{ inputs }}?",
                          output={"kind": "categorical", "categories": ["yes", "no"]}, models=OPERATOR)
    scripted_openai.push(json_reply({"rationale": "No invoice detail.", "value": "no"}))

    verdict = await run_judge(traced, "answered", TRACE_ID, settings=settings)

    assert verdict.judge == "answered@2" and verdict.value == "no"
    assert "fully answer" in scripted_openai.chat_requests[0].messages[1]["content"]
    stored = get_assessment(traced, verdict.assessment_id)
    assert (stored.source_type, stored.source_id, stored.rationale) == ("LLM_JUDGE", "answered@2", "No invoice detail.")
    assert stored.metadata["model_calls"] == 1
    assert ids(traced, "feedback.answered = 'no'") == {TRACE_ID}


async def test_an_invalid_answer_twice_is_recorded_as_feedback_with_the_error(
    traced: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.push(json_reply({"rationale": "r", "value": "perhaps"}), json_reply({"rationale": "r", "value": "perhaps"}))
    verdict = await run_judge(traced, "relevance_to_query", TRACE_ID, settings=settings)
    stored = get_assessment(traced, verdict.assessment_id)
    assert stored.value is None and "no valid verdict" in stored.error and stored.source_id == "relevance_to_query@1"


async def test_builtin_correctness_reads_expected_facts_and_says_what_to_log_without_them(
    traced: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    missing = await run_judge(traced, "correctness", TRACE_ID, settings=settings)
    assert missing.value is None and "expected_facts" in missing.error and scripted_openai.chat_requests == []

    log_expectation(traced, TRACE_ID, "expected_facts", ["a refund was issued"])
    log_expectation(traced, TRACE_ID, "unrelated", "x")
    scripted_openai.push(json_reply({"rationale": "Stated.", "value": "yes"}))
    verdict = await run_judge(traced, "correctness", TRACE_ID, settings=settings)
    assert verdict.value == "yes"
    prompt = scripted_openai.chat_requests[0].messages[1]["content"]
    assert '"expected_facts": [\n    "a refund was issued"\n  ]' in prompt and "unrelated" not in prompt


async def test_builtin_guidelines_take_a_parameter_and_tool_judges_read_tool_spans(
    demo: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    trace = "5a9d9952bd062cabeba29b3c0b0733d9"
    scripted_openai.push(json_reply({"rationale": "r", "value": "yes"}), json_reply({"rationale": "r", "value": "no"}))
    await run_judge(demo, "guidelines", trace, settings=settings, parameters={"guidelines": "Quote the invoice total"})
    efficiency = await run_judge(demo, "tool_call_efficiency", trace, settings=settings)
    guidelines_prompt = scripted_openai.chat_requests[0].messages[1]["content"]
    assert '"Quote the invoice total"' in guidelines_prompt
    tools_prompt = scripted_openai.chat_requests[1].messages[1]["content"]
    assert '"tool": "lookup_invoice"' in tools_prompt and '"account_id": "NW-20417"' in tools_prompt
    assert efficiency.value == "no"
    no_retriever = await run_judge(demo, "retrieval_relevance", trace, settings=settings)
    assert "no RETRIEVER span" in no_retriever.error
