"""store.evaluations: runs, results (one per run, judge and trace), aggregates in SQL, changed
verdicts between runs; migration 004."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import Database, migrations
from store.errors import EvaluationRunNotFound
from store.evaluations import (
    EvaluationResult,
    add_unjudged_spend,
    changed_verdicts,
    count_changed_verdicts,
    create_run,
    get_run,
    judge_errors,
    judge_stats,
    list_results,
    list_runs,
    missing_trace_ids,
    passed,
    percentile,
    record_results,
    run_totals,
    update_run,
    value_counts,
)

TRACES = [f"{n:032x}" for n in range(1, 6)]
JUDGES = [{"name": "tone", "version": 1, "source_id": "tone@1", "kind": "llm"}]


def result(judge: str, trace_id: str, value: object = None, error: str | None = None, **fields: object) -> EvaluationResult:
    return EvaluationResult(judge=judge, trace_id=trace_id, source_id=f"{judge}@1", value=value, error=error, **fields)


def test_a_new_run_is_running_over_its_traces_with_its_judges_and_limits(db: Database) -> None:
    run = create_run(db, judges=JUDGES, trace_ids=TRACES, filter_string="trace.status = 'OK'",
                     name="nightly", limits={"max_tokens": 100})
    assert run.run_id.startswith("run-") and len(run.run_id) == 36
    assert (run.status, run.trace_count, run.judges, run.limits) == ("running", 5, JUDGES, {"max_tokens": 100})
    assert get_run(db, run.run_id) == run


def test_get_run_with_unknown_id_raises_an_error_naming_it(db: Database) -> None:
    with pytest.raises(EvaluationRunNotFound, match="'run-nope'"):
        get_run(db, "run-nope")


def test_a_pair_with_a_result_keeps_it_and_is_no_longer_missing(db: Database) -> None:
    run = create_run(db, judges=JUDGES, trace_ids=TRACES)
    assert record_results(db, run.run_id, [result("tone", TRACES[0], True), result("tone", TRACES[1], error="boom")]) == 2
    assert record_results(db, run.run_id, [result("tone", TRACES[0], False), result("tone", TRACES[2], True)]) == 1
    assert missing_trace_ids(db, run.run_id, "tone") == TRACES[3:]
    assert missing_trace_ids(db, run.run_id, "other") == TRACES
    first = list_results(db, run.run_id, limit=1)[0]
    assert (first.trace_id, first.value) == (TRACES[0], True)


def test_update_run_sets_status_and_sums_duration(db: Database) -> None:
    run = create_run(db, judges=JUDGES, trace_ids=TRACES)
    update_run(db, run.run_id, status="stopped", stop_reason="budget", add_duration_s=1.5)
    update_run(db, run.run_id, status="completed", add_duration_s=2.0, limits={"max_cost_usd": 1})
    after = get_run(db, run.run_id)
    assert (after.status, after.stop_reason, after.duration_s, after.limits) == ("completed", None, 3.5, {"max_cost_usd": 1})


def test_pass_is_true_yes_or_pass_and_numbers_are_neither() -> None:
    assert [passed(v) for v in (True, False, "yes", " PASS ", "no", "partial", 1, 0.5, None)] == [1, 0, 1, 1, 0, 0, None, None, None]


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.9) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9) == pytest.approx(9.1)


def test_judge_stats_count_values_errors_numbers_and_passes_per_judge(db: Database) -> None:
    run = create_run(db, judges=JUDGES, trace_ids=TRACES)
    record_results(db, run.run_id, [
        result("score", TRACES[0], 1), result("score", TRACES[1], 4.0), result("score", TRACES[2], 5),
        result("score", TRACES[3], error="the model failed"),
        result("tone", TRACES[0], True, input_tokens=10, output_tokens=2, cost=0.01),
        result("tone", TRACES[1], False, input_tokens=5, output_tokens=1, cost=0.02),
        result("verdict", TRACES[0], "yes"), result("verdict", TRACES[1], "no"), result("verdict", TRACES[2], "pass"),
    ])
    stats = {s.judge: s for s in judge_stats(db, run.run_id)}
    score = stats["score"]
    assert (score.results, score.errors, score.numeric, score.min, score.max, score.p50) == (4, 1, 3, 1.0, 5.0, 4.0)
    assert score.mean == pytest.approx(10 / 3) and score.p90 == pytest.approx(4.8) and score.pass_rate is None
    assert (stats["tone"].mean, stats["tone"].pass_rate, stats["tone"].p50) == (0.5, 0.5, 0.5)
    assert (stats["verdict"].pass_rate, stats["verdict"].mean, stats["verdict"].numeric) == (pytest.approx(2 / 3), None, 0)
    totals = run_totals(db, run.run_id)
    assert (totals.results, totals.errors, totals.total_tokens, totals.cost) == (9, 1, 18, pytest.approx(0.03))
    assert judge_errors(db, run.run_id) == {"score": [{"trace_id": TRACES[3], "error": "the model failed"}]}


def test_value_counts_give_each_judges_most_frequent_values_without_errors(db: Database) -> None:
    run = create_run(db, judges=JUDGES, trace_ids=TRACES)
    record_results(db, run.run_id, [
        result("score", TRACES[0], 3), result("score", TRACES[1], 3), result("score", TRACES[2], 1),
        result("score", TRACES[3], 5), result("score", TRACES[4], error="the model failed"),
        result("tone", TRACES[0], True), result("tone", TRACES[1], "True"),
    ])  # fmt: skip
    assert value_counts(db, run.run_id) == {"score": [(3, 2), (1, 1), (5, 1)], "tone": [("True", 1), (True, 1)]}
    assert value_counts(db, run.run_id, per_judge=1) == {"score": [(3, 2)], "tone": [("True", 1)]}


def test_results_page_by_judge_and_trace_and_filter_errors(db: Database) -> None:
    run = create_run(db, judges=JUDGES, trace_ids=TRACES)
    record_results(db, run.run_id, [result(j, t, 1) for j in ("a", "b") for t in TRACES[:3]])
    record_results(db, run.run_id, [result("b", TRACES[4], error="x")])
    page = list_results(db, run.run_id, limit=4)
    assert [(r.judge, r.trace_id) for r in page] == [("a", TRACES[0]), ("a", TRACES[1]), ("a", TRACES[2]), ("b", TRACES[0])]
    rest = list_results(db, run.run_id, limit=10, after=("b", TRACES[0]))
    assert [r.trace_id for r in rest] == [TRACES[1], TRACES[2], TRACES[4]]
    assert [r.error for r in list_results(db, run.run_id, limit=10, errors_only=True)] == ["x"]
    assert len(list_results(db, run.run_id, limit=10, judge="a")) == 3


def test_changed_verdicts_are_value_changes_and_errors_against_values_in_pairs_both_runs_have(db: Database) -> None:
    a = create_run(db, judges=JUDGES, trace_ids=TRACES).run_id
    b = create_run(db, judges=JUDGES, trace_ids=TRACES).run_id
    record_results(db, a, [result("tone", TRACES[0], True), result("tone", TRACES[1], True),
                           result("tone", TRACES[2], error="e1"), result("tone", TRACES[3], error="e1"),
                           result("tone", TRACES[4], True)])
    record_results(db, b, [result("tone", TRACES[0], True), result("tone", TRACES[1], False),
                           result("tone", TRACES[2], True), result("tone", TRACES[3], error="e2")])
    changed = changed_verdicts(db, a, b, limit=10)
    assert [(c.trace_id, c.value_a, c.error_a, c.value_b) for c in changed] == [
        (TRACES[1], True, None, False), (TRACES[2], None, "e1", True)]
    assert [c.trace_id for c in changed_verdicts(db, a, b, limit=10, after=("tone", TRACES[1]))] == [TRACES[2]]
    assert count_changed_verdicts(db, a, b) == {"tone": 2}


def test_migration_004_adds_evaluations_to_a_schema_3_file_and_keeps_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
        patch.setattr(migrations, "SCHEMA_VERSION", 3)
        assert migrations.migrate(conn) == 3
    conn.execute("INSERT INTO traces (trace_id, status) VALUES (?, 'OK')", ("a" * 32,))
    conn.execute("INSERT INTO judges (name, version, instructions, output, created_ns) VALUES ('t', 1, 'x', '{}', 1)")
    conn.close()

    db = Database(path)
    try:
        reader = db.reader()
        assert reader.execute("SELECT name FROM schema_migrations WHERE version = 4").fetchone()[0] == "004_evaluations"
        assert reader.execute("SELECT count(*) FROM traces").fetchone()[0] == 1
        assert reader.execute("SELECT count(*) FROM judges").fetchone()[0] == 1
        run = create_run(db, judges=JUDGES, trace_ids=["a" * 32])
        assert record_results(db, run.run_id, [result("tone", "a" * 32, True)]) == 1
    finally:
        db.close()



def test_migration_011_gives_runs_stored_before_it_no_unjudged_spend_and_no_overshoot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v10.db"
    before = [name for name, _ in migrations.MIGRATIONS].index("011_evaluation_run_spend")
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:before])
        patch.setattr(migrations, "SCHEMA_VERSION", before)
        db = Database(path)
        try:
            conn = db.reader()
            assert "over_budget" not in [c[1] for c in conn.execute("PRAGMA table_info(evaluation_runs)")]
        finally:
            db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO evaluation_runs (run_id, created_ns, updated_ns, status, judges, limits, duration_s) "
        "VALUES ('run-old', 1, 1, 'completed', '[]', '{}', 0.0)"
    )
    conn.execute(
        "INSERT INTO evaluation_results (run_id, judge, trace_id, source_id, input_tokens, output_tokens, cost, "
        "created_ns) VALUES ('run-old', 'tone', ?, 'tone@1', 100, 10, 0.5, 1)",
        (TRACES[0],),
    )
    conn.close()

    db = Database(path)
    try:
        assert get_run(db, "run-old").over_budget is None
        assert run_totals(db, "run-old").total_tokens == 110
        add_unjudged_spend(db, "run-old", 40, 2, 0.25)
        totals = run_totals(db, "run-old")
        assert (totals.results, totals.input_tokens, totals.output_tokens, totals.cost) == (1, 140, 12, 0.75)
        ((_, listed),), _ = list_runs(db, limit=10)
        assert listed == totals
    finally:
        db.close()
