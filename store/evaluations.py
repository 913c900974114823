"""Evaluation runs and their results: one row per run, the traces it covers, and one result per
(run, judge, trace), so a resumed run judges only the pairs that have no result yet.

A result holds the judge's value (JSON), or the error that kept it from one, with its tokens,
cost and latency. Each value is also stored as a number (booleans as 1/0) and as pass/fail, so
the per-judge aggregates are SQL over indexed rows rather than JSON decoded in Python.

Pass/fail: a value passes when it is true, or a string equal to 'yes', 'pass' or 'no issues'
(trace_issues' verdict on a clean trace; any case); false and any other string fail; numbers are
neither (their metrics are mean, min, max, p50, p90).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from store.connection import Database
from store.errors import EvaluationRunNotFound
from store.json_text import dumps

RUN_STATUSES = ("running", "completed", "stopped")
PASSING_STRINGS = frozenset({"yes", "pass", "no issues"})


class EvaluationRunRecord(BaseModel):
    """An evaluation run as stored; totals and metrics are computed from its results."""

    run_id: str
    name: str | None
    created_ns: int
    updated_ns: int
    status: str = Field(description="running, completed or stopped")
    stop_reason: str | None
    judges: list[dict[str, Any]] = Field(description="name, version (stored judges), source_id, kind")
    filter_string: str | None
    limits: dict[str, Any]
    duration_s: float = Field(description="Seconds spent evaluating, summed over resumptions.")
    trace_count: int
    dataset: str | None = None
    dataset_version: int | None = None
    target: str | None = Field(default=None, description="The agent run on each dataset record, 'module:function'.")
    record_count: int = Field(default=0, description="Dataset records the run covers (0 for a run over traces).")
    prompts: list[str] = Field(default_factory=list, description="Prompt versions its target loaded, 'name/version'.")
    over_budget: str | None = Field(
        default=None, description="How far past max_tokens / max_cost_usd the run's spend went, if it did."
    )


class EvaluationResult(BaseModel):
    """One judge's outcome on one trace in a run: a value, or an error."""

    judge: str
    trace_id: str
    source_id: str
    record_id: str | None = Field(default=None, description="The dataset record, read back for a run on a dataset.")
    assessment_id: str | None = None
    value: bool | int | float | str | None = None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency_s: float | None = None


class RunTotals(BaseModel):
    """What a run's results add up to; its tokens and cost also count what judgments that left no
    result spent (stopped part way by the budget: add_unjudged_spend)."""

    results: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float


class JudgeStats(BaseModel):
    """One judge's aggregates over a run's results; None where no result has such a value."""

    judge: str
    results: int
    errors: int
    numeric: int = Field(description="Results whose value is a number or a boolean.")
    mean: float | None
    min: float | None
    max: float | None
    p50: float | None
    p90: float | None
    pass_rate: float | None = Field(description="Passing share of boolean and string values.")


class ChangedVerdict(BaseModel):
    """A trace (or, between runs on a dataset, a record) whose verdict by `judge` differs between
    two runs (value, or error against value)."""

    judge: str
    trace_id: str = Field(description="The trace judged in run a.")
    record_id: str | None = Field(default=None, description="The dataset record, when both runs ran a target on one.")
    trace_id_b: str | None = Field(default=None, description="The trace judged in run b, when it is another one.")
    value_a: bool | int | float | str | None
    error_a: str | None
    value_b: bool | int | float | str | None
    error_b: str | None


def new_run_id() -> str:
    return "run-" + secrets.token_hex(16)


def passed(value: Any) -> int | None:
    """1 or 0 for a value that passes or fails (see the module docstring), None for others."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return int(value.strip().lower() in PASSING_STRINGS)
    return None


def value_number(value: Any) -> float | None:
    """The value as a number: booleans as 1/0, numbers as themselves, None for the rest."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


_RUN_COLUMNS = (
    "run_id, name, created_ns, updated_ns, status, stop_reason, judges, filter_string, limits, duration_s, "
    "dataset, dataset_version, target, over_budget"
)


def create_run(
    db: Database,
    *,
    judges: Sequence[dict[str, Any]],
    trace_ids: Sequence[str],
    filter_string: str | None = None,
    name: str | None = None,
    limits: dict[str, Any] | None = None,
    dataset: str | None = None,
    dataset_version: int | None = None,
    target: str | None = None,
    record_ids: Sequence[str] = (),
) -> EvaluationRunRecord:
    """Store a new run (status running) over `trace_ids`, or over the dataset records `record_ids`,
    whose traces the target makes as the run goes (see set_record_trace), and return it."""
    now = time.time_ns()
    row = {
        "run_id": new_run_id(),
        "name": name,
        "created_ns": now,
        "updated_ns": now,
        "status": "running",
        "stop_reason": None,
        "judges": dumps(list(judges)),
        "filter_string": filter_string,
        "limits": dumps(limits or {}),
        "duration_s": 0.0,
        "dataset": dataset,
        "dataset_version": dataset_version,
        "target": target,
        "over_budget": None,
    }
    with db.transaction() as conn:
        conn.execute(
            f"INSERT INTO evaluation_runs ({_RUN_COLUMNS}) VALUES (:run_id, :name, :created_ns, :updated_ns, "
            ":status, :stop_reason, :judges, :filter_string, :limits, :duration_s, :dataset, :dataset_version, "
            ":target, :over_budget)",
            row,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO evaluation_run_records (run_id, record_id) VALUES (?, ?)",
            ((row["run_id"], record_id) for record_id in record_ids),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO evaluation_run_traces (run_id, trace_id) VALUES (?, ?)",
            ((row["run_id"], trace_id) for trace_id in trace_ids),
        )
    return get_run(db, row["run_id"])


def get_run(db: Database, run_id: str) -> EvaluationRunRecord:
    """The run `run_id`; EvaluationRunNotFound when there is none."""
    conn = db.reader()
    row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM evaluation_runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise EvaluationRunNotFound(run_id)
    count = conn.execute("SELECT count(*) FROM evaluation_run_traces WHERE run_id = ?", (run_id,)).fetchone()[0]
    records = conn.execute("SELECT count(*) FROM evaluation_run_records WHERE run_id = ?", (run_id,)).fetchone()[0]
    prompts = [
        f"{name}/{version}"
        for name, version in conn.execute(
            "SELECT prompt, version FROM evaluation_run_prompts WHERE run_id = ? ORDER BY prompt, version", (run_id,)
        )
    ]
    return _run_record(row, trace_count=count, record_count=records, prompts=prompts)


def _run_record(row: sqlite3.Row, **counts: Any) -> EvaluationRunRecord:
    data = {key: row[key] for key in _RUN_COLUMNS.split(", ")}
    data["judges"] = json.loads(data["judges"])
    data["limits"] = json.loads(data["limits"])
    return EvaluationRunRecord.model_validate({**data, **counts})


_LIST_RUNS = (
    # One page of runs, newest first, then each page run's counts: a results scan per run, not per row.
    f"WITH page AS (SELECT {_RUN_COLUMNS}, unjudged_input_tokens, unjudged_output_tokens, unjudged_cost "
    "FROM evaluation_runs WHERE (created_ns, run_id) < (:before_ns, :before_id) "
    "ORDER BY created_ns DESC, run_id DESC LIMIT :limit), "
    "totals AS (SELECT run_id, count(*) AS results, count(error) AS errors, sum(input_tokens) AS input_tokens, "
    "sum(output_tokens) AS output_tokens, sum(cost) AS cost FROM evaluation_results "
    "WHERE run_id IN (SELECT run_id FROM page) GROUP BY run_id) "
    "SELECT page.*, "
    "(SELECT count(*) FROM evaluation_run_traces t WHERE t.run_id = page.run_id) AS trace_count, "
    "(SELECT count(*) FROM evaluation_run_records r WHERE r.run_id = page.run_id) AS record_count, "
    "(SELECT json_group_array(prompt || '/' || version) FROM (SELECT prompt, version FROM evaluation_run_prompts p "
    "WHERE p.run_id = page.run_id ORDER BY prompt, version)) AS prompts, "
    "coalesce(totals.results, 0) AS results, coalesce(totals.errors, 0) AS errors, "
    "coalesce(totals.input_tokens, 0) + unjudged_input_tokens AS input_tokens, "
    "coalesce(totals.output_tokens, 0) + unjudged_output_tokens AS output_tokens, "
    "coalesce(totals.cost, 0.0) + unjudged_cost AS cost "
    "FROM page LEFT JOIN totals USING (run_id) "
    "ORDER BY page.created_ns DESC, page.run_id DESC"
)


def list_runs(
    db: Database, *, limit: int, before: tuple[int, str] | None = None
) -> tuple[list[tuple[EvaluationRunRecord, RunTotals]], int]:
    """Runs newest first (by start, then run id), at most `limit`, starting after `before`
    (created_ns, run_id), each with its result totals; and how many runs there are."""
    conn = db.reader()
    total = conn.execute("SELECT count(*) FROM evaluation_runs").fetchone()[0]
    # Past every real key: 2^63 - 1 is SQLite's largest integer, and run ids sort below '~'.
    before_ns, before_id = before or (2**63 - 1, "~")
    rows = conn.execute(_LIST_RUNS, {"before_ns": before_ns, "before_id": before_id, "limit": limit}).fetchall()
    return [
        (
            _run_record(row, trace_count=row["trace_count"], record_count=row["record_count"],
                        prompts=json.loads(row["prompts"])),
            RunTotals(results=row["results"], errors=row["errors"], input_tokens=row["input_tokens"],
                      output_tokens=row["output_tokens"], total_tokens=row["input_tokens"] + row["output_tokens"],
                      cost=row["cost"]),
        )
        for row in rows
    ], total  # fmt: skip


def pending_record_ids(db: Database, run_id: str) -> list[str]:
    """The run's dataset records the target has not run on yet (a failed target is not retried)."""
    rows = db.reader().execute(
        "SELECT record_id FROM evaluation_run_records WHERE run_id = ? AND trace_id IS NULL AND error IS NULL "
        "ORDER BY record_id",
        (run_id,),
    )
    return [row[0] for row in rows]


def set_record_trace(
    db: Database, run_id: str, record_id: str, trace_id: str, *, error: str | None = None, latency_s: float | None = None
) -> None:
    """Record the trace the target made for a record (and its error, if it failed); the trace joins
    the run's traces, so the judges' missing pairs include it."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE evaluation_run_records SET trace_id = ?, error = ?, latency_s = ? WHERE run_id = ? AND record_id = ?",
            (trace_id, error, latency_s, run_id, record_id),
        )
        conn.execute("INSERT OR IGNORE INTO evaluation_run_traces (run_id, trace_id) VALUES (?, ?)", (run_id, trace_id))


def record_traces(db: Database, run_id: str) -> dict[str, str]:
    """trace id -> dataset record id, for the run's records the target has run on."""
    rows = db.reader().execute(
        "SELECT trace_id, record_id FROM evaluation_run_records WHERE run_id = ? AND trace_id IS NOT NULL", (run_id,)
    )
    return {trace_id: record_id for trace_id, record_id in rows}


def target_errors(db: Database, run_id: str) -> dict[str, str]:
    """trace id -> the target's error, for the run's records whose target failed."""
    rows = db.reader().execute(
        "SELECT trace_id, error FROM evaluation_run_records WHERE run_id = ? AND error IS NOT NULL", (run_id,)
    )
    return {trace_id: error for trace_id, error in rows}



def update_run(
    db: Database,
    run_id: str,
    *,
    status: str,
    stop_reason: str | None = None,
    add_duration_s: float = 0.0,
    limits: dict[str, Any] | None = None,
    over_budget: str | None = None,
) -> None:
    """Set the run's status (and stop reason, and how far it went past its budget), add to its
    duration, and replace its limits if given."""
    if status not in RUN_STATUSES:
        raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")
    with db.transaction() as conn:
        conn.execute(
            "UPDATE evaluation_runs SET status = ?, stop_reason = ?, over_budget = ?, duration_s = duration_s + ?, "
            "limits = coalesce(?, limits), updated_ns = ? WHERE run_id = ?",
            (status, stop_reason, over_budget, add_duration_s, dumps(limits) if limits is not None else None,
             time.time_ns(), run_id),
        )


def missing_trace_ids(db: Database, run_id: str, judge: str) -> list[str]:
    """The run's traces that have no result from `judge` yet, by trace id."""
    rows = db.reader().execute(
        "SELECT t.trace_id FROM evaluation_run_traces t WHERE t.run_id = :run_id AND NOT EXISTS "
        "(SELECT 1 FROM evaluation_results r WHERE r.run_id = :run_id AND r.judge = :judge "
        "AND r.trace_id = t.trace_id) ORDER BY t.trace_id",
        {"run_id": run_id, "judge": judge},
    )
    return [row[0] for row in rows]


_INSERT_RESULT = (
    "INSERT OR IGNORE INTO evaluation_results (run_id, judge, trace_id, source_id, assessment_id, value, "
    "value_number, passed, error, input_tokens, output_tokens, cost, latency_s, created_ns) VALUES "
    "(:run_id, :judge, :trace_id, :source_id, :assessment_id, :value, :value_number, :passed, :error, "
    ":input_tokens, :output_tokens, :cost, :latency_s, :created_ns)"
)


def _result_rows(run_id: str, results: Iterable[EvaluationResult]) -> list[dict[str, Any]]:
    now = time.time_ns()
    return [
        {
            **r.model_dump(exclude={"value", "record_id"}),
            "run_id": run_id,
            "value": dumps(r.value) if r.value is not None else None,
            "value_number": value_number(r.value) if r.error is None else None,
            "passed": passed(r.value) if r.error is None else None,
            "created_ns": now,
        }
        for r in results
    ]


def record_results(db: Database, run_id: str, results: Iterable[EvaluationResult]) -> int:
    """Store results in one transaction; a pair that already has a result keeps it. Returns how
    many were new."""
    rows = _result_rows(run_id, results)
    with db.transaction() as conn:
        before = conn.total_changes
        conn.executemany(_INSERT_RESULT, rows)
        return conn.total_changes - before


def add_unjudged_spend(db: Database, run_id: str, input_tokens: int, output_tokens: int, cost: float) -> None:
    """Count what a judgment that leaves no result spent (the budget stopped it part way) in the
    run's totals; its pair stays missing, so a resume judges it."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE evaluation_runs SET unjudged_input_tokens = unjudged_input_tokens + ?, "
            "unjudged_output_tokens = unjudged_output_tokens + ?, unjudged_cost = unjudged_cost + ? WHERE run_id = ?",
            (input_tokens, output_tokens, cost, run_id),
        )


def run_totals(db: Database, run_id: str) -> RunTotals:
    """Results and errors counted over the run's results; tokens and cost summed over them and
    what judgments that left no result spent."""
    row = db.reader().execute(
        "SELECT count(r.run_id), count(r.error), coalesce(sum(r.input_tokens), 0) + run.unjudged_input_tokens, "
        "coalesce(sum(r.output_tokens), 0) + run.unjudged_output_tokens, "
        "coalesce(sum(r.cost), 0.0) + run.unjudged_cost "
        "FROM evaluation_runs run LEFT JOIN evaluation_results r ON r.run_id = run.run_id WHERE run.run_id = ? "
        "GROUP BY run.run_id",
        (run_id,),
    ).fetchone()
    if row is None:  # no such run: nothing to add up
        return RunTotals(results=0, errors=0, input_tokens=0, output_tokens=0, total_tokens=0, cost=0.0)
    return RunTotals(
        results=row[0], errors=row[1], input_tokens=row[2], output_tokens=row[3],
        total_tokens=row[2] + row[3], cost=row[4],
    )


def judge_stats(db: Database, run_id: str) -> list[JudgeStats]:
    """Each judge's aggregates over the run, by judge name. Percentiles interpolate linearly
    between the closest ranks (numpy's default): p = v[k] + (v[k+1] - v[k]) * frac at rank
    q * (n - 1)."""
    conn = db.reader()
    rows = conn.execute(
        "SELECT judge, count(*), count(error), count(value_number), avg(value_number), min(value_number), "
        "max(value_number), avg(passed) FROM evaluation_results WHERE run_id = ? GROUP BY judge ORDER BY judge",
        (run_id,),
    ).fetchall()
    stats = []
    for judge, results, errors, numeric, mean, low, high, pass_rate in rows:
        values = [
            r[0]
            for r in conn.execute(
                "SELECT value_number FROM evaluation_results WHERE run_id = ? AND judge = ? "
                "AND value_number IS NOT NULL ORDER BY value_number",
                (run_id, judge),
            )
        ]
        stats.append(
            JudgeStats(
                judge=judge, results=results, errors=errors, numeric=numeric, mean=mean, min=low, max=high,
                p50=percentile(values, 0.5), p90=percentile(values, 0.9), pass_rate=pass_rate,
            )
        )
    return stats


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) of ascending `ordered`, interpolating linearly; None when empty."""
    if not ordered:
        return None
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def judge_errors(db: Database, run_id: str, *, per_judge: int = 5) -> dict[str, list[dict[str, str]]]:
    """Up to `per_judge` errors of each judge (trace_id, error), by trace id."""
    rows = db.reader().execute(
        "SELECT judge, trace_id, error FROM (SELECT judge, trace_id, error, row_number() OVER "
        "(PARTITION BY judge ORDER BY trace_id) AS n FROM evaluation_results WHERE run_id = ? AND error IS NOT NULL) "
        "WHERE n <= ? ORDER BY judge, trace_id",
        (run_id, per_judge),
    )
    errors: dict[str, list[dict[str, str]]] = {}
    for judge, trace_id, error in rows:
        errors.setdefault(judge, []).append({"trace_id": trace_id, "error": error})
    return errors


def value_counts(db: Database, run_id: str, *, per_judge: int = 20) -> dict[str, list[tuple[Any, int]]]:
    """Each judge's `per_judge` most frequent values over the run's results that have one, as
    (value, results) by frequency and then value: the histogram of a run's report."""
    rows = db.reader().execute(
        "SELECT judge, value, n FROM (SELECT judge, value, count(*) AS n, row_number() OVER "
        "(PARTITION BY judge ORDER BY count(*) DESC, value) AS rank FROM evaluation_results "
        "WHERE run_id = ? AND error IS NULL AND value IS NOT NULL GROUP BY judge, value) "
        "WHERE rank <= ? ORDER BY judge, rank",
        (run_id, per_judge),
    )
    counts: dict[str, list[tuple[Any, int]]] = {}
    for judge, value, n in rows:
        counts.setdefault(judge, []).append((json.loads(value), n))
    return counts


def _result(row: sqlite3.Row) -> EvaluationResult:
    data = dict(row)
    data["value"] = json.loads(data["value"]) if data["value"] is not None else None
    return EvaluationResult.model_validate(data)


def list_results(
    db: Database,
    run_id: str,
    *,
    limit: int,
    after: tuple[str, str] | None = None,
    judge: str | None = None,
    errors_only: bool = False,
) -> list[EvaluationResult]:
    """Up to `limit` results of the run ordered by (judge, trace_id), starting after `after`."""
    after_judge, after_trace = after or ("", "")
    rows = db.reader().execute(
        "SELECT r.judge, r.trace_id, r.source_id, rr.record_id, r.assessment_id, r.value, r.error, r.input_tokens, "
        "r.output_tokens, r.cost, r.latency_s FROM evaluation_results r LEFT JOIN evaluation_run_records rr "
        "ON rr.run_id = r.run_id AND rr.trace_id = r.trace_id WHERE r.run_id = :run_id "
        "AND (r.judge, r.trace_id) > (:aj, :at) AND (:judge IS NULL OR r.judge = :judge) "
        "AND (:errors_only = 0 OR r.error IS NOT NULL) ORDER BY r.judge, r.trace_id LIMIT :limit",
        {"run_id": run_id, "aj": after_judge, "at": after_trace, "judge": judge,
         "errors_only": int(errors_only), "limit": limit},
    )
    return [_result(row) for row in rows]


_KEYED_RESULTS = (
    # A run's results keyed by dataset record where the run ran a target, else by trace: two runs
    # on a dataset judge different traces of the same records.
    "{alias} AS (SELECT r.judge, coalesce(rr.record_id, r.trace_id) AS key, rr.record_id, r.trace_id, r.value, "
    "r.error FROM evaluation_results r LEFT JOIN evaluation_run_records rr ON rr.run_id = r.run_id "
    "AND rr.trace_id = r.trace_id WHERE r.run_id = :{alias})"
)
_PAIRED = (
    f"WITH {_KEYED_RESULTS.format(alias='a')}, {_KEYED_RESULTS.format(alias='b')} "
    "SELECT {columns} FROM a JOIN b ON b.judge = a.judge AND b.key = a.key "
)
_CHANGED = _PAIRED + "WHERE (a.value IS NOT b.value OR (a.error IS NULL) != (b.error IS NULL)) {where}"


def changed_verdicts(
    db: Database, run_a: str, run_b: str, *, limit: int, after: tuple[str, str] | None = None
) -> list[ChangedVerdict]:
    """Traces (records, between runs on a dataset) judged by the same judge in both runs whose
    value or error state differs, ordered by (judge, trace id or record id), at most `limit`
    starting after `after`. Two errors with different messages are not a change of verdict."""
    after_judge, after_key = after or ("", "")
    sql = _CHANGED.format(
        columns="a.judge, a.key, a.record_id, a.trace_id, b.trace_id, a.value, a.error, b.value, b.error",
        where="AND (a.judge, a.key) > (:aj, :ak) ORDER BY a.judge, a.key LIMIT :limit",
    )
    rows = db.reader().execute(sql, {"a": run_a, "b": run_b, "aj": after_judge, "ak": after_key, "limit": limit})
    return [
        ChangedVerdict(
            judge=judge, trace_id=trace_a, record_id=record_id,
            trace_id_b=trace_b if trace_b != trace_a else None,
            value_a=json.loads(va) if va is not None else None, error_a=ea,
            value_b=json.loads(vb) if vb is not None else None, error_b=eb,
        )
        for judge, _key, record_id, trace_a, trace_b, va, ea, vb, eb in rows
    ]


def count_compared(db: Database, run_a: str, run_b: str) -> int:
    """How many (judge, trace or record) results the two runs have in common."""
    sql = _PAIRED.format(columns="count(*)")
    return db.reader().execute(sql, {"a": run_a, "b": run_b}).fetchone()[0]


def count_changed_verdicts(db: Database, run_a: str, run_b: str) -> dict[str, int]:
    """How many verdicts changed between the runs, per judge."""
    sql = _CHANGED.format(columns="a.judge, count(*)", where="GROUP BY a.judge ORDER BY a.judge")
    rows = db.reader().execute(sql, {"a": run_a, "b": run_b})
    return {judge: n for judge, n in rows}
