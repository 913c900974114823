"""The datasets commands as a person uses them: from demo traces, JSON lines in and out, versions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mcp_server.cli import main
from store import Database
from store.assessments import log_assessment, new_assessment
from store.search import search_trace_ids

RECORD_ID = re.compile(r"\br-[0-9a-f]{16}\b")
RECORDS = [
    {"inputs": {"question": "Why was I charged twice?", "customer": {"tier": "gold"}},
     "expectations": {"expected_route": "billing", "facts": ["refund", "5 days"]}, "tags": {"lang": "en"}},
    {"inputs": {"question": "¿Hay cobertura 5G en Portland?"}, "expectations": {"expected_route": "coverage"}},
    {"inputs": {"question": "Reset my password"}, "source_trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736"},
]  # fmt: skip


@pytest.fixture
def demo_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "cli.db"
    assert main(["demo", "--db", str(path)]) == 0
    capsys.readouterr()
    return str(path)


def _jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), "utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    assert main(list(args)) == code
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_a_dataset_from_demo_traces_with_expectations(
    demo_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # every column shown (test_cli_tables: 80 and 130 columns)
    db = Database(demo_db)
    traces = search_trace_ids(db, None, None, 3)
    log_assessment(db, new_assessment(traces[0], "expected_route", "billing", kind="expectation"))
    db.close()
    out = _run(capsys, "datasets", "create", "routing", "--description", "routing cases", "--db", demo_db)
    assert "created dataset 'routing'" in out
    out = _run(capsys, "datasets", "add-traces", "routing", "--filter", "trace.span_count > 0", "--db", demo_db)
    assert "10 traces: 10 added, 0 merged, 0 unchanged, 0 skipped; dataset 'routing' is now at version 1" in out
    out = _run(capsys, "datasets", "add-traces", "routing", "--trace-id", traces[0], "--db", demo_db)
    assert "nothing changed, so dataset 'routing' stays at version 1" in out
    out = _run(capsys, "datasets", "records", "routing", "--db", demo_db)
    assert "version 1 (latest 1): 10 records" in out and traces[0] in out and '"expected_route":"billing"' in out
    out = _run(capsys, "datasets", "show", "routing", "--db", demo_db)
    assert "version 1, 10 records" in out and "added 10 traces (filter 'trace.span_count > 0')" in out
    assert "routing" in _run(capsys, "datasets", "list", "--db", demo_db)


def test_jsonl_round_trip_gives_the_same_records_and_file(
    tmp_path: Path, demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _jsonl(tmp_path / "cases.jsonl", [*RECORDS[:2], "", RECORDS[2]])
    source.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())  # a BOM, as some editors save it
    out = _run(capsys, "datasets", "import", "cases", str(source), "--db", demo_db)
    assert "created dataset 'cases'; imported 3 records" in out and "version 1 has 3 records" in out
    first = tmp_path / "first.jsonl"
    _run(capsys, "datasets", "export", "cases", "-o", str(first), "--db", demo_db)
    _run(capsys, "datasets", "import", "copy", str(first), "--db", demo_db)
    second = tmp_path / "second.jsonl"
    _run(capsys, "datasets", "export", "copy", "-o", str(second), "--db", demo_db)
    assert first.read_text("utf-8") == second.read_text("utf-8")
    exported = [json.loads(line) for line in first.read_text("utf-8").splitlines()]
    by_question = {e["inputs"]["question"]: e for e in exported}
    for record in RECORDS:
        line = by_question[record["inputs"]["question"]]
        assert line["inputs"] == record["inputs"]
        assert line["expectations"] == record.get("expectations", {}) and line["tags"] == record.get("tags", {})
    assert by_question["Reset my password"]["source_trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert "¿Hay cobertura" in first.read_text("utf-8")  # UTF-8 as it is, not \\u escapes


def test_an_import_with_bad_lines_names_each_line_and_stores_nothing(
    tmp_path: Path, demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _jsonl(tmp_path / "bad.jsonl", [
        RECORDS[0], "{not json", {"inputs": "text"}, RECORDS[1], {"inputs": {"q": 1}, "tag": {}},
    ])  # fmt: skip
    out = _run(capsys, "datasets", "import", "cases", str(bad), "--db", demo_db, code=2)
    assert "has 3 bad line(s), so nothing was imported" in out
    assert "line 2: not JSON" in out and "line 3: inputs must be a JSON object" in out
    assert "line 5 has an unknown field 'tag'; did you mean 'tags'?" in out
    assert "no datasets" in _run(capsys, "datasets", "list", "--db", demo_db)
    missing = _run(capsys, "datasets", "import", "cases", str(tmp_path / "none.jsonl"), "--db", demo_db, code=2)
    assert "none.jsonl does not exist" in missing
    _run(capsys, "datasets", "import", "cases", str(bad), "--no-create", "--db", demo_db, code=2)


def test_an_export_of_an_earlier_version_is_what_that_version_held(
    tmp_path: Path, demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "datasets", "import", "cases", str(_jsonl(tmp_path / "a.jsonl", RECORDS[:2])), "--db", demo_db)
    v1 = _run(capsys, "datasets", "export", "cases", "--db", demo_db)
    changed = [{"inputs": RECORDS[0]["inputs"], "expectations": {"expected_route": "plans"}}, RECORDS[2]]
    out = _run(capsys, "datasets", "import", "cases", str(_jsonl(tmp_path / "b.jsonl", changed)), "--db", demo_db)
    assert "1 added, 1 merged, 0 unchanged; version 2 has 3 records" in out
    record_id = RECORD_ID.findall(v1)[0]
    out = _run(capsys, "datasets", "delete", "cases", record_id, "--db", demo_db)
    assert "1 deleted; dataset 'cases' is now at version 3 with 2 records" in out
    assert _run(capsys, "datasets", "export", "cases", "--version", "1", "--db", demo_db) == v1
    assert len(_run(capsys, "datasets", "export", "cases", "--db", demo_db).splitlines()) == 2
    again = _run(capsys, "datasets", "delete", "cases", record_id, "--db", demo_db, code=1)
    assert "nothing changed" in again and f"not in the latest version: {record_id}" in again
    assert "has no version 7" in _run(capsys, "datasets", "export", "cases", "--version", "7", "--db", demo_db, code=2)
