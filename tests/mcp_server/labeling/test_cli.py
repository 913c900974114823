"""`tracejudge labeling schemas|sessions|items` on the demo store, after labels given through the
same functions the labeling tools call."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.cli import main
from mcp_server.labeling import definitions, queue
from store import Database
from store.search import search_trace_ids


@pytest.fixture
def labeled_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    path = tmp_path / "cli.db"
    assert main(["demo", "--db", str(path)]) == 0
    capsys.readouterr()
    db = Database(path)
    try:
        trace_ids = search_trace_ids(db, None, ["timestamp_ms"], 3)
        definitions.create_schema(db, "routing_correct", "feedback", {"kind": "pass_fail"}, instructions="Right specialist?")
        definitions.create_schema(db, "department", "expectation", {"kind": "categorical", "options": ["billing", "technical"]})
        definitions.create_session(db, "review", ["routing_correct", "department"], assignees=["alice"])
        queue.add_traces(db, "review", trace_ids=trace_ids)
        queue.submit_label(db, "review", trace_ids[0], "routing_correct", "fail", labeler="alice")
        queue.submit_label(db, "review", trace_ids[0], "department", "billing", labeler="alice")
        queue.submit_label(db, "review", trace_ids[1], "routing_correct", "pass", labeler="alice")
    finally:
        db.close()
    return str(path), trace_ids


def test_labeling_schemas_and_sessions_list_what_is_stored(
    labeled_db: tuple[str, list[str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # every column shown (test_cli_tables: 80 and 130 columns)
    path, _ = labeled_db
    assert main(["labeling", "schemas", "--db", path]) == 0
    out = capsys.readouterr().out
    assert "routing_correct" in out and "one of 'billing', 'technical'" in out and "Right specialist?" in out
    assert main(["labeling", "sessions", "--db", path]) == 0
    out = capsys.readouterr().out
    assert "review" in out and "alice" in out and "ls-" in out


def test_labeling_items_shows_the_queue_with_labels_and_missing_schemas(
    labeled_db: tuple[str, list[str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # every column shown (test_cli_tables: 80 and 130 columns)
    path, trace_ids = labeled_db
    assert main(["labeling", "items", "review", "--db", path]) == 0
    out = capsys.readouterr().out
    assert "review" in out and "2 pending, 1 completed, 0 skipped" in out
    assert all(t in out for t in trace_ids)
    assert "routing_correct = false (alice)" in out and "department = billing (alice)" in out
    assert main(["labeling", "items", "review", "--status", "completed", "--db", path]) == 0
    out = capsys.readouterr().out
    assert trace_ids[0] in out and trace_ids[1] not in out


def test_labeling_items_of_an_unknown_session_says_how_to_find_one(
    labeled_db: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = labeled_db
    assert main(["labeling", "items", "nope", "--db", path]) != 0
    assert "ListLabelingSessions" in capsys.readouterr().err


def test_labeling_share_prints_the_link_and_how_to_revoke_it(
    labeled_db: tuple[str, list[str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = labeled_db
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["labeling", "share", "review", "--labeler", "alice", "--expires", "12h", "--db", path]) == 0
    printed = capsys.readouterr()
    url = printed.out.strip()
    assert url.startswith("http://127.0.0.1:8080/label#tjl_") and len(url.split("#")[1]) > 40
    assert "as alice" in printed.err and "tracejudge labeling revoke ll-" in printed.err and "--base-url" in printed.err
    assert main(["labeling", "share", "review", "--base-url", "https://label.example.org/", "--db", path]) == 0
    assert capsys.readouterr().out.startswith("https://label.example.org/label#tjl_")
    assert main(["labeling", "links", "--db", path]) == 0
    listed = capsys.readouterr().out
    assert listed.count("active") == 2 and "alice" in listed and "tjl_" not in listed

    # A labeler the session does not assign, and an expiry that is no duration, are refused with the fix.
    assert main(["labeling", "share", "review", "--labeler", "mallory", "--db", path]) != 0
    assert "not assigned" in capsys.readouterr().err
    assert main(["labeling", "share", "review", "--expires", "soon", "--db", path]) != 0
    assert "e.g. 7d" in capsys.readouterr().err
