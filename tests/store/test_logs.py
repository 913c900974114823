"""store.logs: log records attached to their spans, kept waiting for them, and the bounds on waiting
(bytes, age), with the real semantic-convention attach the server uses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_server.semconv import attach_events
from store import Database, SpanIn, write_spans
from store.logs import LogIn, PendingLogs

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SECOND = 10**9


def _message(span_id: str, text: str, time_ns: int = 1_700_000_000_000_000_000, trace_id: str = TRACE) -> LogIn:
    event = {"name": "gen_ai.user.message", "time_ns": time_ns, "attributes": {}, "body": {"content": text}, "log": {"scope": "t"}}
    return LogIn(trace_id=trace_id, span_id=span_id, event=event)


def _span(span_id: str) -> SpanIn:
    return SpanIn(trace_id=TRACE, span_id=span_id, name="chat", start_ns=1_700_000_000_000_000_000, span_type="CHAT_MODEL")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """The store as the servers open it: log events derive the span's payloads."""
    database = Database(tmp_path / "traces.db", attach_events=attach_events)
    yield database
    database.close()


def _waiting(db: Database) -> list[tuple[str, str]]:
    return [tuple(r) for r in db.reader().execute("SELECT trace_id, span_id FROM pending_logs ORDER BY id")]


def test_records_waiting_longer_than_the_ttl_are_deleted_and_the_warning_names_their_traces(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1_000 * SECOND]
    logs = PendingLogs(ttl_s=60, clock=lambda: now[0])
    assert logs.write(db, [_message("00000000000000a1", "first")]).waiting == 1
    now[0] += 59 * SECOND
    assert logs.write(db, [_message("00000000000000a2", "second")]).expired == 0

    now[0] += 2 * SECOND
    with caplog.at_level(logging.WARNING, logger="store.logs"):
        result = logs.write(db, [_message("00000000000000a3", "third")])

    assert result.expired == 1
    assert _waiting(db) == [(TRACE, "00000000000000a2"), (TRACE, "00000000000000a3")]
    assert f"deleted 1 OTLP log records that waited 60 s for spans that never arrived (traces {TRACE})" in caplog.text
    assert "TRACEJUDGE_PENDING_LOGS_TTL_S" in caplog.text


def test_the_span_that_arrives_takes_its_waiting_records_and_only_those(db: Database) -> None:
    logs = PendingLogs()
    logs.write(db, [_message("00000000000000a1", "for a1"), _message("00000000000000b2", "for b2")])

    write_spans(db, [_span("00000000000000a1")])

    assert _waiting(db) == [(TRACE, "00000000000000b2")]
    inputs = db.reader().execute("SELECT inputs FROM spans WHERE span_id = '00000000000000a1'").fetchone()[0]
    assert inputs == '[{"content":"for a1","role":"user"}]'


def test_a_span_sent_again_keeps_the_log_events_its_records_gave_it(db: Database) -> None:
    PendingLogs().write(db, [_message("00000000000000a1", "from a log")])
    write_spans(db, [_span("00000000000000a1")])

    write_spans(db, [_span("00000000000000a1")])

    events, inputs = db.reader().execute("SELECT events, inputs FROM spans").fetchone()
    assert events.count("from a log") == 1 and "from a log" in inputs


def test_the_byte_bound_counts_only_waiting_records_and_refuses_those_past_it(db: Database) -> None:
    logs = PendingLogs(max_bytes=600)
    write_spans(db, [_span("00000000000000c3")])
    waiting = [_message("00000000000000a1", f"waiting {i}", time_ns=1_700_000_000_000_000_000 + i) for i in range(6)]
    stored = [_message("00000000000000c3", f"stored {i}", time_ns=1_700_000_000_000_000_000 + i) for i in range(6)]

    result = logs.write(db, waiting + stored)

    assert result.attached == 6
    assert 0 < result.waiting < 6 and len(result.refused) == 6 - result.waiting
    assert "for span 00000000000000a1" in result.refused[0] and "(600, TRACEJUDGE_PENDING_LOGS_MAX_BYTES)" in result.refused[0]
    assert db.reader().execute("SELECT sum(size) FROM pending_logs").fetchone()[0] <= 600
    assert db.reader().execute("SELECT inputs FROM spans").fetchone()[0].count("stored") == 6
