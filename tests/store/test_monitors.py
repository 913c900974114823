"""store.monitors: when a trace is complete, the lease that makes each trace judged once, the
checkpoint, backfill, and the figures a monitor's metrics are made of."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from store import Database, SpanIn, migrations, write_spans
from store import monitors as store
from store.assessments import new_assessment
from store.errors import InvalidArgument, MonitorNotFound
from store.monitors import Candidate, MonitorRecord, MonitorResult

SECOND = 10**9
JUDGES = [{"name": "error_spans", "ref": "error_spans", "version": None, "kind": "code", "source_id": "error_spans"}]


def _trace(db: Database, n: int, *, root_ended: bool = True, status: str = "OK") -> str:
    trace_id = f"{n:032x}"
    write_spans(db, [SpanIn(trace_id=trace_id, span_id=f"{n:016x}", name="agent", start_ns=n * SECOND,
                            end_ns=n * SECOND + 1 if root_ended else None, status_code=status)])  # fmt: skip
    return trace_id


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "m.db")
    yield database
    database.close()


def _monitor(db: Database, **fields: object) -> MonitorRecord:
    return store.create_monitor(db, MonitorRecord(name="m", judges=JUDGES, **fields))


def test_a_trace_is_complete_once_its_root_ended_and_no_span_came_for_the_settle_time(db: Database) -> None:
    monitor = _monitor(db, settle_s=30, timeout_s=600)
    ended = _trace(db, 1)
    open_root = _trace(db, 2, root_ended=False)
    now = time.time_ns()
    assert store.complete_traces(db, monitor, now, 10) == []
    ready = store.complete_traces(db, monitor, now + 31 * SECOND, 10)
    assert [c.trace_id for c in ready] == [ended]
    received = db.reader().execute("SELECT received_ns FROM traces WHERE trace_id = ?", (ended,)).fetchone()[0]
    assert ready[0].completed_ns == received + 30 * SECOND
    # A span arriving later makes it wait again; the trace whose root never ends waits for the timeout.
    write_spans(db, [SpanIn(trace_id=ended, span_id="00000000000000aa", parent_span_id=f"{1:016x}", name="late",
                            start_ns=2, end_ns=3)])  # fmt: skip
    assert store.complete_traces(db, monitor, time.time_ns() + 29 * SECOND, 10) == []
    later = store.complete_traces(db, monitor, time.time_ns() + 601 * SECOND, 10)
    assert {c.trace_id for c in later} == {ended, open_root}


def test_the_filter_selects_what_a_monitor_watches_and_traces_from_before_it_are_not_its(db: Database) -> None:
    before = _trace(db, 1, status="ERROR")
    monitor = _monitor(db, settle_s=0, filter_string="trace.status = 'ERROR'")
    failed, _ = _trace(db, 2, status="ERROR"), _trace(db, 3)
    assert [c.trace_id for c in store.complete_traces(db, monitor, time.time_ns(), 10)] == [failed]
    assert before != failed


def test_two_processes_claiming_the_same_traces_each_get_a_trace_once(db: Database) -> None:
    monitor = _monitor(db, settle_s=0)
    ids = [_trace(db, n) for n in range(1, 5)]
    now = time.time_ns()
    ready = store.complete_traces(db, monitor, now, 10)
    a = store.claim(db, "m", "a", now + SECOND, [(c, True) for c in ready], [], now)
    b = store.claim(db, "m", "b", now + SECOND, [(c, True) for c in ready], [], now)
    assert [c.trace_id for c in a] == ids and b == []
    assert store.complete_traces(db, monitor, now, 10) == []  # decided: no later scan reads them


def test_an_expired_lease_is_taken_by_another_process_and_the_first_can_no_longer_record(db: Database) -> None:
    _monitor(db, settle_s=0)
    trace_id = _trace(db, 1)
    now = time.time_ns()
    (held,) = store.claim(db, "m", "a", now + SECOND, [(Candidate(trace_id, now), True)], [], now)
    assert store.waiting_traces(db, "m", now, 10) == []  # the lease holds
    later = now + 2 * SECOND
    (waiting,) = store.waiting_traces(db, "m", later, 10)
    assert store.claim(db, "m", "b", later + SECOND, [], [waiting], later) == [waiting]
    assert store.claim(db, "m", "c", later + SECOND, [], [waiting], later) == []  # b holds it now
    result = MonitorResult(judge="error_spans", outcome="value", value=True)
    feedback = new_assessment(trace_id, "error_spans", True, source_type="CODE")
    assert store.record_judgments(db, "m", trace_id, "a", [result], [feedback], held.completed_ns) is None
    assert db.reader().execute("SELECT count(*) FROM assessments").fetchone()[0] == 0  # nothing of a's stored
    ids = store.record_judgments(db, "m", trace_id, "b", [result], [feedback], held.completed_ns)
    assert ids == {"error_spans": feedback.assessment_id}
    assert store.state_counts(db, "m")["judged"] == 1
    assert store.record_judgments(db, "m", trace_id, "b", [result], [feedback], None) is None  # once only


def test_leases_given_back_are_queued_for_any_process_and_renewed_leases_do_not_expire(db: Database) -> None:
    _monitor(db, settle_s=0)
    one, two = _trace(db, 1), _trace(db, 2)
    now = time.time_ns()
    store.claim(db, "m", "a", now + SECOND, [(Candidate(one, now), True), (Candidate(two, now), True)], [], now)
    assert store.renew_leases(db, "a", now + 100 * SECOND) == 2
    assert store.waiting_traces(db, "m", now + 50 * SECOND, 10) == []
    assert store.release(db, "a", "m", one) == 1
    assert [c.trace_id for c in store.waiting_traces(db, "m", now, 10)] == [one]
    assert store.release(db, "a") == 1
    assert store.state_counts(db, "m")["queued"] == 2


def test_the_checkpoint_only_moves_forward(db: Database) -> None:
    monitor = _monitor(db)
    store.advance_checkpoint(db, "m", monitor.checkpoint_ns + 5)
    store.advance_checkpoint(db, "m", monitor.checkpoint_ns - 100)
    assert store.get_monitor(db, "m").checkpoint_ns == monitor.checkpoint_ns + 5


def test_backfill_queues_older_unjudged_traces_in_the_range_and_the_sample(db: Database) -> None:
    old = [_trace(db, n) for n in range(1, 7)]
    monitor = _monitor(db, settle_s=0)
    _trace(db, 50)  # arrived after the checkpoint: the scans take it, not a backfill
    matched, queued, sampled_out = store.backfill(db, monitor, 2 * SECOND, 6 * SECOND, 100, lambda t: t != old[2])
    assert (matched, queued, sampled_out) == (4, 3, 1)  # traces 2..5
    assert [c.trace_id for c in store.waiting_traces(db, "m", time.time_ns(), 10)] == [old[1], old[3], old[4]]
    # Again, wider: the queued ones are not matched twice; the sample now takes the one left out.
    assert store.backfill(db, monitor, 0, 100 * SECOND, 100, lambda t: True) == (3, 3, 0)
    assert store.state_counts(db, "m")["queued"] == 6
    other = store.create_monitor(db, MonitorRecord(name="other", judges=JUDGES))
    with pytest.raises(InvalidArgument, match="more than max_traces=2"):
        store.backfill(db, other, 0, 100 * SECOND, 2, lambda t: True)
    assert store.state_counts(db, "other")["queued"] == 0


def test_series_count_judgments_per_judge_and_hour_with_pass_rate_mean_errors_cost_and_lag(db: Database) -> None:
    _monitor(db, settle_s=0)
    now = time.time_ns()
    outcomes = [("value", True, 0.1), ("value", False, 0.2), ("error", None, 0.05), ("stopped", None, 0.3)]
    for n, (outcome, value, cost) in enumerate(outcomes, start=1):
        trace_id = _trace(db, n)
        store.claim(db, "m", "a", now + 60 * SECOND, [(Candidate(trace_id, now - SECOND), True)], [], now)
        result = MonitorResult(judge="error_spans", outcome=outcome, value=value, cost=cost, input_tokens=10,
                               error="boom" if outcome != "value" else None)  # fmt: skip
        store.record_judgments(db, "m", trace_id, "a", [result], [], now - SECOND,
                               skipped="daily budget" if outcome == "stopped" else None)  # fmt: skip
    (point,) = store.series(db, "m", store.HOUR_NS, 0)
    assert point.start_ns == time.time_ns() // store.HOUR_NS * store.HOUR_NS
    assert (point.judgments, point.errors, point.pass_rate, point.mean) == (3, 1, 0.5, 0.5)
    assert point.cost_usd == pytest.approx(0.65) and point.tokens == 40
    assert point.mean_lag_s is not None and 1.0 <= point.mean_lag_s < 60
    assert store.state_counts(db, "m") | {} == {"queued": 0, "leased": 0, "judged": 3, "sampled_out": 0, "skipped": 1}
    assert store.skip_reasons(db, "m", 0) == {"daily budget": 1}
    spend = store.spend_since(db, "m", now - 60 * SECOND)
    assert (spend.judgments, spend.tokens, round(spend.cost_usd, 2)) == (4, 40, 0.65)


def test_deleting_a_monitor_deletes_its_decisions_and_keeps_the_feedback(db: Database) -> None:
    _monitor(db, settle_s=0)
    trace_id = _trace(db, 1)
    now = time.time_ns()
    store.claim(db, "m", "a", now + SECOND, [(Candidate(trace_id, now), True)], [], now)
    feedback = new_assessment(trace_id, "error_spans", True, source_type="CODE")
    store.record_judgments(db, "m", trace_id, "a", [MonitorResult(judge="error_spans", outcome="value", value=True)],
                           [feedback], now)  # fmt: skip
    assert store.delete_monitor(db, "m") == 1
    with pytest.raises(MonitorNotFound, match="ListMonitors"):
        store.get_monitor(db, "m")
    conn = db.reader()
    assert conn.execute("SELECT count(*) FROM monitor_traces").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM assessments").fetchone()[0] == 1


def test_migration_013_takes_traces_stored_before_it_as_received_when_they_were_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v12.db"
    before = [name for name, _ in migrations.MIGRATIONS].index("013_monitors")
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:before])
        patch.setattr(migrations, "SCHEMA_VERSION", before)
        Database(path).close()
    trace_id, created = "a" * 32, time.time_ns() - 3_600 * SECOND
    conn = sqlite3.connect(path, isolation_level=None)
    assert "received_ns" not in [c[1] for c in conn.execute("PRAGMA table_info(traces)")]
    conn.execute("INSERT INTO traces (trace_id, start_ns, created_ns) VALUES (?, 1, ?)", (trace_id, created))
    conn.close()
    db = Database(path)
    try:
        row = db.reader().execute("SELECT received_ns FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
        assert row[0] == created
        monitor = _monitor(db, settle_s=0)
        assert store.complete_traces(db, monitor, time.time_ns(), 10) == []  # older than the monitor
        assert store.backfill(db, monitor, 0, time.time_ns(), 10, lambda t: True)[1] == 1
    finally:
        db.close()
