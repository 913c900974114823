"""The tracejudge command as a person uses it: demo, traces, show, import, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_server.cli import main
from store import Database, SpanIn, write_spans
from tests.support.processes import TRACEJUDGE


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    assert main(["demo", "--db", str(path)]) == 0
    return path


def test_demo_then_traces_lists_the_demo_traces(
    demo_db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # every column shown (test_cli_tables: 80 and 130 columns)
    capsys.readouterr()
    assert main(["traces", "--db", str(demo_db), "--limit", "50"]) == 0
    out = capsys.readouterr().out
    assert out.count("invoke_agent support_router") == 10


def test_traces_with_a_filter_and_show_one_trace_as_a_tree(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["traces", "trace.error_count > 0", "--db", str(demo_db)]) == 0
    out = capsys.readouterr().out
    (trace_id,) = set(__import__("re").findall(r"\b[0-9a-f]{32}\b", out))
    assert main(["show", trace_id, "--db", str(demo_db)]) == 0
    out = capsys.readouterr().out
    assert "execute_tool check_coverage" in out and "ERROR" in out
    assert "invoke_agent product_specialist" in out


def test_a_bad_filter_exits_2_with_the_grammar(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["traces", "trace.stauts = 'OK'", "--db", str(demo_db)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'trace.status'" in err and "Filter grammar" in err


def test_show_with_an_unknown_trace_id_says_how_to_find_one(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "0" * 32, "--db", str(demo_db)]) == 2
    assert "SearchTraces" in capsys.readouterr().err


def test_import_reports_each_file_and_fails_on_a_bad_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {
                                "spans": [
                                    {
                                        "traceId": "5b8efff798038103d269b633813fc60c",
                                        "spanId": "eee19b7ec3c1b174",
                                        "name": "imported",
                                        "startTimeUnixNano": "1700000000000000000",
                                        "endTimeUnixNano": "1700000001000000000",
                                    }
                                ]
                            }
                        ]
                    }
                ]
            }
        )
    )
    bad = tmp_path / "bad.json"
    bad.write_text("this is not a trace")
    db = tmp_path / "import.db"
    assert main(["import", str(good), str(bad), "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "good.json: 1 spans" in out and "bad.json" in out
    assert main(["traces", "--db", str(db)]) == 0
    assert "5b8efff798038103d269b633813fc60c" in capsys.readouterr().out


def test_parsing_a_command_loads_neither_the_mcp_sdk_nor_litellm() -> None:
    # Seconds of imports that a command calling no model (traces, show, datasets ...) must not pay;
    # `serve`, `stdio` and the judging commands load them when they run.
    probe = ("import sys; from mcp_server.cli import build_parser; build_parser().parse_args(['traces']); "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'mcp', 'litellm', 'opentelemetry'}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_command_has_help_from_the_installed_script() -> None:
    for command in ("serve", "stdio", "demo", "import", "traces", "show"):
        result = subprocess.run([TRACEJUDGE, command, "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "--db" in result.stdout, command


def test_a_database_path_that_is_a_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["traces", "--db", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "could not be used" in err and "--db" in err


def test_import_prints_paths_and_reasons_as_text_never_as_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "export[red].json"
    bad.write_text("{not json")
    assert main(["import", str(bad), "--db", str(tmp_path / "i.db")]) == 1
    out = capsys.readouterr().out
    assert "export[red].json" in out and "not valid JSON" in out


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")} | {"COLUMNS": "200"}


@pytest.mark.parametrize("args", [["traces"], ["traces", "--json"], ["show", "{trace}"]])
def test_a_reader_that_closed_the_pipe_ends_the_command_quietly(
    args: list[str], demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["traces", "--json", "--db", str(demo_db)]) == 0
    trace = json.loads(capsys.readouterr().out)["traces"][0]["trace_id"]
    argv = [a.format(trace=trace) for a in args]
    with subprocess.Popen([TRACEJUDGE, *argv, "--db", str(demo_db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_environment()) as command:  # fmt: skip
        command.stdout.close()  # the reader is gone before the command writes its first byte
        err = command.stderr.read().decode()
        # 128 + SIGPIPE, as a shell reports a Unix tool that `head` stopped reading
        assert command.wait(timeout=60) == 141, err
    assert err == ""  # no traceback, no 'Exception ignored' at exit


def test_a_command_piped_into_head_prints_its_first_line_and_ends_quietly(tmp_path: Path) -> None:
    # Content larger than a pipe holds, so the command is still writing when head exits.
    db = Database(tmp_path / "big.db")
    write_spans(db, [SpanIn(trace_id="ab" * 16, span_id="cd" * 8, name="long answer", start_ns=1, end_ns=2,
                            outputs_json=json.dumps("line\n" * 40_000))])  # fmt: skip
    db.close()
    argv = [TRACEJUDGE, "span", "ab" * 16, "cd" * 8, "--max-content-length", "200000", "--db", str(tmp_path / "big.db")]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment()) as command:
        head = subprocess.run(["head", "-1"], stdin=command.stdout, capture_output=True, text=True, timeout=60,
                              check=True)  # fmt: skip
        command.stdout.close()
        err = command.stderr.read().decode()
        assert command.wait(timeout=60) in (0, 141), err
    assert head.stdout.startswith("long answer  UNKNOWN") and err == ""
