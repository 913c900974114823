"""GetEvaluationRun and CompareEvaluationRuns services: every answer fits ANSWER_CHARS whatever
the results hold, with a page token for the rest."""

from __future__ import annotations

import pytest

from mcp_server.evaluation.reports import ANSWER_CHARS, ERROR_CHARS, compare_evaluation_runs, get_evaluation_run
from mcp_server.tooling.paging import answer_chars
from store import Database
from store.errors import InvalidArgument, InvalidPageToken
from store.evaluations import EvaluationResult, create_run, record_results

JUDGES = [{"name": f"judge{j}", "ref": f"judge{j}", "version": 1, "source_id": f"judge{j}@1", "kind": "llm"} for j in range(20)]
TRACES = [f"{n:032x}" for n in range(1, 101)]


def fill(db: Database, value: str, error: str | None) -> str:
    run_id = create_run(db, judges=JUDGES, trace_ids=TRACES).run_id
    record_results(db, run_id, [
        EvaluationResult(judge=j["name"], trace_id=t, source_id=j["source_id"], value=None if error else value, error=error)
        for j in JUDGES for t in TRACES
    ])
    return run_id


def test_a_run_full_of_long_errors_answers_within_the_budget_with_a_next_page(db: Database) -> None:
    run_id = fill(db, "", "x" * 50_000)
    report = get_evaluation_run(db, run_id, max_results=200)
    assert answer_chars(report) <= ANSWER_CHARS
    assert report.next_page_token is not None and 0 < len(report.results) < 200
    assert all(len(r.error) == ERROR_CHARS for r in report.results)
    assert len(report.errors_by_judge) == 20 and all(len(e) == 3 for e in report.errors_by_judge.values())
    following = get_evaluation_run(db, run_id, max_results=200, page_token=report.next_page_token)
    assert following.results[0].trace_id > report.results[-1].trace_id or following.results[0].judge > report.results[-1].judge


def test_a_comparison_of_long_values_answers_within_the_budget(db: Database) -> None:
    a, b = fill(db, "a" * 50_000, None), fill(db, "b" * 50_000, None)
    comparison = compare_evaluation_runs(db, a, b, max_results=200)
    assert answer_chars(comparison) <= ANSWER_CHARS and comparison.next_page_token is not None
    assert comparison.changed_count == {j["name"]: 100 for j in JUDGES}


def test_bad_limits_and_tokens_say_what_to_do(db: Database) -> None:
    run_id = fill(db, "yes", None)
    with pytest.raises(InvalidArgument, match="max_results must be an integer from 1 to 200"):
        get_evaluation_run(db, run_id, max_results=0)
    with pytest.raises(InvalidPageToken, match="without page_token"):
        compare_evaluation_runs(db, run_id, run_id, page_token="garbage")
