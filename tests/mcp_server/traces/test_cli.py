"""The span-level read commands as a person uses them on the demo store: span (and --root), grep
and timing print what matters in the trace with its span ids; --json is tests/mcp_server/test_cli_json.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mcp_server.cli import main
from store import Database, SpanIn, write_spans


@pytest.fixture
def failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str, str]:
    """(the store, the demo trace whose coverage check timed out, that tool span)."""
    db = str(tmp_path / "spans.db")
    assert main(["demo", "--db", db]) == 0
    capsys.readouterr()
    assert main(["traces", "trace.error_count > 0", "--json", "--db", db]) == 0
    trace = json.loads(capsys.readouterr().out)["traces"][0]["trace_id"]
    assert main(["show", trace, "--json", "--db", db]) == 0
    [span] = [s["span_id"] for s in json.loads(capsys.readouterr().out)["spans"]["spans"] if s["status"] == "ERROR"]
    return db, trace, span


def test_span_shows_the_failed_tool_call_with_its_status_message_and_inputs(
    failed: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, trace, span = failed
    assert main(["span", trace, span, "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"execute_tool check_coverage  TOOL  {span}  ERROR")
    assert "status message: coverage-api.northwind.internal (OR region) did not answer" in out
    assert '"address": "1450 NW Harbor Road, Portland, OR 97209"' in out


def test_span_root_shows_the_request_and_a_span_needs_exactly_one_of_id_or_root(
    failed: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, trace, span = failed
    assert main(["span", trace, "--root", "--db", db]) == 0
    assert "invoke_agent support_router  AGENT" in capsys.readouterr().out
    for args in ([trace], [trace, span, "--root"]):
        assert main(["span", *args, "--db", db]) == 2
        out, err = capsys.readouterr()
        assert out == "" and "name a span_id, or pass --root" in err


def test_grep_names_the_span_and_field_of_each_match_and_pages_by_token(
    failed: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, trace, span = failed
    assert main(["grep", trace, "did not answer", "--max-matches", "1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"{span} execute_tool check_coverage status_message: " in out and "[did not answer]" in out
    assert main(["grep", trace, "did not answer", "--max-matches", "1", "--json", "--db", db]) == 0
    token = json.loads(capsys.readouterr().out)["next_page_token"]
    assert out.rstrip().endswith(f"with --page-token {token}")  # the last line, as every paged command's
    assert token and main(["grep", trace, "did not answer", "--max-matches", "1", "--page-token", token, "--db", db]) == 0
    assert "[did not answer]" in capsys.readouterr().out


def test_timing_puts_the_timed_out_tool_call_first_by_self_time(
    failed: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, trace, span = failed
    assert main(["timing", trace, "--limit", "3", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "critical path:" in out
    slowest = out.split("slowest by self time:\n")[1].splitlines()[0]
    assert "execute_tool check_coverage  TOOL" in slowest and slowest.endswith(span)


def test_trace_content_cannot_drive_the_terminal_it_is_printed_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An agent's span can carry anything its users typed, terminal escape sequences included.
    db = Database(tmp_path / "escapes.db")
    trace = "ab" * 16
    write_spans(db, [SpanIn(trace_id=trace, span_id="cd" * 8, name="tool\x1b[2J", start_ns=1, end_ns=2,
                            status_code="ERROR", status_message="failed\x1b]0;pwned\x07\rok",
                            outputs_json=json.dumps("bye\x9b31m"))])  # fmt: skip
    db.close()
    for args in (["span", trace, "cd" * 8], ["grep", trace, "pwned|bye"], ["timing", trace]):
        assert main([*args, "--db", str(tmp_path / "escapes.db")]) == 0
        out = capsys.readouterr().out
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out), (args, out)
        assert "\\x1b" in out or "\\u001b" in out
