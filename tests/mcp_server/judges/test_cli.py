"""The judge, evaluate and runs commands as a person uses them, with the built-in code judges
(no model needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_server.cli import main
from store import Database, judges
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai, tool_calls

__all__ = ["scripted_openai"]

RUN_ID = re.compile(r"\brun-[0-9a-f]{32}\b")


@pytest.fixture
def demo_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "cli.db"
    assert main(["demo", "--db", str(path)]) == 0
    capsys.readouterr()
    return str(path)


def _error_trace(db: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["traces", "trace.error_count > 0", "--db", db]) == 0
    (trace_id,) = set(re.findall(r"\b[0-9a-f]{32}\b", capsys.readouterr().out))
    return trace_id


def _evaluate(db: str, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["evaluate", *args, "--db", db]) == 0
    (run_id,) = set(RUN_ID.findall(capsys.readouterr().out))
    return run_id


def test_judge_list_shows_the_builtin_judges(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["judge", "list", "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "error_spans" in out and "trace_issues" in out and "built-in" in out


def test_a_judge_stored_under_a_built_in_name_is_never_listed_or_shown(
    demo_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database from before built-in names were reserved may hold one.
    db = Database(Path(demo_db))
    judges.create_judge_version(db, "safety", "Is {{ outputs }} SHADOW-safe?", output={"kind": "bool"})
    db.close()
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["judge", "list", "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "0 stored judge(s)" in out and "SHADOW" not in out
    assert main(["judge", "show", "safety", "--db", demo_db]) == 0
    assert "SHADOW" not in capsys.readouterr().out
    assert main(["judge", "show", "safety", "--version", "1", "--db", demo_db]) == 2
    error = capsys.readouterr().err
    assert "'safety' is a built-in judge, which has no versions" in error and "'my_safety'" in error


def test_judge_run_error_spans_on_a_failed_trace_shows_the_finding(
    demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id = _error_trace(demo_db, capsys)
    assert main(["judge", "run", "error_spans", trace_id, "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert f"error_spans@1 on {trace_id}: false" in out
    assert "error_span" in out and "check_coverage" in out and "logged as feedback 'error_spans'" in out


def test_judge_create_then_list_and_show_it(
    demo_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # every column shown (test_cli_tables: 80 and 130 columns)
    args = ["judge", "create", "helpfulness", "--instructions", "Rate {{ outputs }} for {{ inputs }}.",
            "--output-type", "int", "--min", "1", "--max", "5", "--description", "How helpful", "--db", demo_db]
    assert main(args) == 0
    assert "version 1" in capsys.readouterr().out
    assert main(args) == 0
    assert "version 2" in capsys.readouterr().out
    assert main(["judge", "list", "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "helpfulness" in out and "int in [1, 5]" in out and "1 stored judge(s)" in out
    assert main(["judge", "show", "helpfulness", "--version", "1", "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "version 1" in out and "Rate {{ outputs }} for {{ inputs }}." in out and "How helpful" in out


def test_judge_create_with_a_categorical_output_needs_categories(
    demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["judge", "create", "tone", "--instructions", "Tone of {{ outputs }}?", "--output-type",
                 "categorical", "--categories", "polite,rude", "--db", demo_db]) == 0
    assert "one of polite, rude" in capsys.readouterr().out
    assert main(["judge", "create", "tone", "--instructions", "Tone of {{ outputs }}?", "--output-type",
                 "categorical", "--db", demo_db]) == 2
    assert "categories" in capsys.readouterr().err


def test_evaluate_code_judges_over_a_filter_shows_a_metrics_table(
    demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "error_spans", "latency", "--filter", "trace.span_count > 0", "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "completed" in out and "10 traces x 2 judges: 20/20 judged, 0 errors" in out
    assert re.search(r"error_spans\s*│\s*10\s*│\s*0\s*│", out) and "pass_rate" in out


def test_runs_show_lists_the_results_and_errors_only(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _evaluate(demo_db, capsys, "error_spans", "--filter", "trace.span_count > 0", "--name", "nightly")
    assert main(["runs", "show", run_id, "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "nightly" in out and out.count("error_spans") >= 10 and "results" in out
    assert main(["runs", "show", run_id, "--errors", "--db", demo_db]) == 0
    assert "no results to show." in capsys.readouterr().out


def test_runs_compare_shows_metric_deltas_and_changed_verdicts(
    demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id = _error_trace(demo_db, capsys)
    run_a = _evaluate(demo_db, capsys, "error_spans", "--trace-id", trace_id)
    run_b = _evaluate(demo_db, capsys, "error_spans", "--trace-id", trace_id)
    assert main(["runs", "compare", run_a, run_b, "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "error_spans/pass_rate" in out and "+0" in out and "no verdict changed" in out


def test_evaluate_resumes_a_finished_run_without_judging_again(
    demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _evaluate(demo_db, capsys, "latency", "--filter", "trace.span_count > 0")
    assert main(["evaluate", "--run-id", run_id, "--db", demo_db]) == 0
    assert "20/20" not in (out := capsys.readouterr().out) and "10/10 judged" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["judge", "run", "no_such_judge", "TRACE"],
        ["judge", "show", "no_such_judge"],
        ["evaluate", "no_such_judge", "--filter", "trace.span_count > 0"],
    ],
)
def test_an_unknown_judge_exits_2_naming_it(demo_db: str, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    argv = [_error_trace(demo_db, capsys) if a == "TRACE" else a for a in argv]
    assert main([*argv, "--db", demo_db]) == 2
    err = capsys.readouterr().err
    assert "'no_such_judge'" in err and "ListJudges" in err


def test_evaluate_without_judges_or_run_id_exits_2(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--db", demo_db]) == 2
    assert "judge list" in capsys.readouterr().err


def test_runs_show_with_an_unknown_run_exits_2(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show", "run-" + "0" * 32, "--db", demo_db]) == 2
    assert "is not in this store" in capsys.readouterr().err


def test_code_judges_spend_no_tokens_so_a_token_budget_never_stops_them(
    demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # token_usage reports the traces' own tokens (thousands on the demo traces): data, not spend.
    assert main(["evaluate", "token_usage", "latency", "--filter", "trace.span_count > 0", "--max-tokens", "100",
                 "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "completed" in out and "20/20 judged, 0 errors, 0 tokens, cost 0.0000 USD" in out


def test_evaluate_without_a_judge_model_stops_at_once_and_exits_non_zero(
    demo_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACEJUDGE_JUDGE_MODEL", raising=False)
    assert main(["evaluate", "safety", "--filter", "trace.span_count > 0", "--db", demo_db]) == 2
    err = capsys.readouterr().err
    assert "no judge model is configured: set TRACEJUDGE_JUDGE_MODEL" in err
    (run_id,) = set(RUN_ID.findall(err))
    assert main(["runs", "show", run_id, "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "stopped" in out and "0/10 judged, 0 errors" in out and "no judge model is configured" in out


@pytest.fixture
def digger(demo_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
           scripted_openai: ScriptedOpenAI) -> str:
    """An agent judge 'digger' served by the scripted model, which never settles: every answer asks
    for another tool call and reports 3,050 tokens. Returns the id of the trace to judge."""
    monkeypatch.setenv("TRACEJUDGE_JUDGE_MODEL", "openai:/gpt-4o-mini")
    monkeypatch.setenv("TRACEJUDGE_JUDGE_API_BASE", scripted_openai.url)
    monkeypatch.setenv("TRACEJUDGE_JUDGE_API_KEY", "sk-scripted")
    trace_id = _error_trace(demo_db, capsys)
    scripted_openai.respond_with(
        lambda request: tool_calls(("ListSpans", {"trace_id": trace_id}), prompt_tokens=3_000, completion_tokens=50)
    )
    assert main(["judge", "create", "digger", "--instructions", "Look into {{ trace }}.", "--db", demo_db]) == 0
    capsys.readouterr()
    return trace_id


def test_judge_run_within_max_tokens_stops_an_agent_judge_and_says_what_it_spent(
    demo_db: str, digger: str, capsys: pytest.CaptureFixture[str], scripted_openai: ScriptedOpenAI
) -> None:
    trace_id = digger
    assert main(["judge", "run", "digger", trace_id, "--max-tokens", "10000", "--db", demo_db]) == 1
    out = " ".join(capsys.readouterr().out.split())
    spent = len(scripted_openai.chat_requests) * 3_050
    assert "stopped before its verdict: token budget reached" in out
    assert re.search(rf"budget: {spent:,} tokens and 0\.\d{{4}} USD spent of max_tokens=10000; stopped before its "
                     "verdict, nothing logged", out)
    assert "logged as feedback" not in out


def test_runs_show_counts_what_a_judgment_the_budget_stopped_spent_and_leaves_its_pair_unjudged(
    demo_db: str, digger: str, capsys: pytest.CaptureFixture[str], scripted_openai: ScriptedOpenAI
) -> None:
    assert main(["evaluate", "digger", "--trace-id", digger, "--max-tokens", "10000", "--db", demo_db]) == 1
    (run_id,) = set(RUN_ID.findall(capsys.readouterr().out))
    assert main(["runs", "show", run_id, "--db", demo_db]) == 0
    out = " ".join(capsys.readouterr().out.split())
    spent = len(scripted_openai.chat_requests) * 3_050
    assert f"0/1 judged, 0 errors, {spent:,} tokens" in out and "stopped: token budget reached" in out
