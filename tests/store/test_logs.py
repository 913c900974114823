"""store.logs: log records attached to their spans, kept waiting for them, and the bounds on waiting
(bytes, age), with the real semantic-convention attach the server uses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_server.ingest.semconv import attach_events
from store import Database, SpanIn, write_spans
from store.json_text import dumps
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


def test_the_byte_bound_counts_only_waiting_records_and_deletes_the_oldest_to_make_room(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    size = len(dumps(_message("00000000000000a1", "waiting 0").event).encode())
    logs = PendingLogs(max_bytes=4 * size)
    write_spans(db, [_span("00000000000000c3")])
    first = [_message("00000000000000a1", f"waiting {i}", time_ns=1_700_000_000_000_000_000 + i) for i in range(3)]
    stored = [_message("00000000000000c3", f"stored {i}", time_ns=1_700_000_000_000_000_000 + i) for i in range(6)]
    assert logs.write(db, first + stored).waiting == 3

    later = [_message("00000000000000b2", f"waiting {i}", time_ns=1_700_000_000_000_000_000 + i) for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="store.logs"):
        result = logs.write(db, later)

    assert (result.waiting, result.refused) == (3, [])
    assert _waiting(db) == [(TRACE, "00000000000000a1")] + [(TRACE, "00000000000000b2")] * 3
    assert "waiting 2" in db.reader().execute("SELECT event FROM pending_logs ORDER BY id").fetchone()[0]
    assert len(result.evicted) == 1 and "deleted 2 older OTLP log records" in result.evicted[0]
    assert "TRACEJUDGE_PENDING_LOGS_MAX_BYTES" in result.evicted[0] and result.evicted[0] in caplog.text
    assert db.reader().execute("SELECT inputs FROM spans").fetchone()[0].count("stored") == 6


def test_a_request_larger_than_the_waiting_bound_keeps_its_newest_records(db: Database) -> None:
    size = len(dumps(_message("00000000000000a1", "waiting 0").event).encode())
    logs = PendingLogs(max_bytes=2 * size)
    records = [_message("00000000000000a1", f"waiting {i}", time_ns=1_700_000_000_000_000_000 + i) for i in range(5)]

    result = logs.write(db, records)

    assert result.waiting == 2 and len(result.refused) == 3
    assert "deleted to make room for this request's later records" in result.refused[0]
    kept = [row[0] for row in db.reader().execute("SELECT event FROM pending_logs ORDER BY id")]
    assert ["waiting 3" in kept[0], "waiting 4" in kept[1]] == [True, True]


def test_one_span_keeps_at_most_the_bounded_number_and_bytes_of_log_events(db: Database) -> None:
    write_spans(db, [_span("00000000000000c3")])
    by_count = PendingLogs(max_events_per_span=3)
    records = [_message("00000000000000c3", f"message {i}", time_ns=1_700_000_000_000_000_000 + i) for i in range(5)]

    result = by_count.write(db, records[:2])
    assert (result.attached, result.refused) == (2, [])
    result = by_count.write(db, records)  # the first two again (a retry), and three new

    assert result.attached == 3 and len(result.refused) == 2
    assert "the span already has 3 log events, the most one span keeps (3, TRACEJUDGE_MAX_LOG_EVENTS_PER_SPAN)" in result.refused[0]
    events = db.reader().execute("SELECT events FROM spans").fetchone()[0]
    assert [f"message {i}" in events for i in range(5)] == [True, True, True, False, False]

    size = len(dumps(records[0].event).encode())
    by_bytes = PendingLogs(max_event_bytes_per_span=2 * size + 1)
    result = by_bytes.write(db, [_message("00000000000000d4", f"message {i}") for i in range(3)])
    assert result.waiting == 2 and len(result.refused) == 1
    assert "TRACEJUDGE_MAX_LOG_EVENT_BYTES_PER_SPAN" in result.refused[0]
