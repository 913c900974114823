"""The read commands as a person and a script use them: at 80 and 130 columns (rich reads COLUMNS)
every table has its rows, fits the terminal and shows each id whole, so it can be pasted into the
next command; previews read as text; and --json prints what the matching MCP tool answers."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from rich.text import Text

from mcp_server.alerts.watcher import AlertWatcher
from mcp_server.cli import build_parser, main
from mcp_server.demo.load import load_demo
from mcp_server.monitors.runner import MonitorRunner
from mcp_server.settings import Settings
from mcp_server.terminal.tables import preview_text, safe_text
from store import Database, SpanIn, write_spans
from tests.support.mcp_session import session
from tests.support.processes import TRACEJUDGE

HEX_RUN = re.compile(r"[0-9a-f]{8,}")
TABLE_LINE = re.compile(r"^[┏┃┡│└]")
WIDTHS = (80, 130)


async def _fill(db: Database) -> dict[str, Any]:
    """Something for every read command: runs, a dataset, a prompt, a labeling session with labels."""
    async with session(db) as s:
        traces = (await s.call("SearchTraces", max_results=100))["traces"]
        ids = [t["trace_id"] for t in traces]
        roots = [(await s.call("GetTraceInfo", trace_id=ids[0]))["root_span_id"]]
        first = await s.call("Evaluate", judges=["latency", "error_spans"], name="first look")
        # Late error spans on two traces that had none: the second run's error_spans verdicts change.
        for ok in [t for t in traces[:5] if not t["error_count"]][:2]:
            root = (await s.call("GetRootSpan", trace_id=ok["trace_id"], attributes_to_fetch=[]))["span_id"]
            write_spans(db, [SpanIn(trace_id=ok["trace_id"], span_id="00000000000000ee", parent_span_id=root,
                                    name="late", start_ns=1, end_ns=2, status_code="ERROR")])  # fmt: skip
        second = await s.call("Evaluate", judges=["error_spans"], trace_ids=ids[:5], name="again")
        await s.call("CreateDataset", name="cases", description="the demo's questions")
        await s.call("AddTracesToDataset", dataset="cases", trace_ids=ids[:4])
        await s.call("CreateDataset", name="more_cases")
        await s.call("RegisterPrompt", name="greeting", template="Hello {{ name }}.", commit_message="first")
        await s.call("RegisterPrompt", name="greeting", template="Hi {{ name }}!", commit_message="shorter")
        await s.call("RegisterPrompt", name="farewell", template="Bye {{ name }}.")
        for judge in ("polite", "routed"):
            await s.call("CreateJudge", name=judge, instructions=f"Is {{{{ outputs }}}} {judge}?")
        await s.call("CreateLabelingSchema", name="error_spans", type="feedback", input={"kind": "pass_fail"},
                     instructions="Did every span succeed?")  # fmt: skip
        await s.call("CreateLabelingSchema", name="tone", type="feedback", input={"kind": "pass_fail"},
                     instructions="Is the answer polite?")  # fmt: skip
        await s.call("CreateLabelingSession", name="review", schemas=["error_spans"])
        await s.call("CreateLabelingSession", name="tone_check", schemas=["tone"])
        await s.call("AddTracesToLabelingSession", session="review", trace_ids=ids)
        for trace in traces[:3]:
            verdict = "pass" if trace["error_count"] else "fail"  # an expert who disagrees with the judge
            await s.call("SubmitLabel", session="review", trace_id=trace["trace_id"], schema="error_spans",
                         value=verdict, labeler="ana")  # fmt: skip
        await s.call("CreateMonitor", name="errors", judges=["error_spans", "latency"], filter_string="trace.status = 'OK'")
        await s.call("BackfillMonitor", name="errors")
        issue = (await s.call("DiscoverIssues"))["issues"][0]["issue_id"]
        await s.call("CreateGate", name="release", conditions=["latency/p90 <= 60000"], policies=["error_spans"])
        from mcp_server.gateway.keys import create_key

        create_key(db, "ci", ["fast", "backup"], rpm=60, tpm=100_000, budget_usd_day=5.0, budget_usd_month=100.0)
        await s.call("CreateAlertRule", name="all-pass", monitor="errors", condition="error_spans/pass_rate > 0.5",
                     min_judgments=1)  # fmt: skip
        await s.call("CreateToken", name="claude-code", role="read", expires="90d")
    settings = Settings(db_path=db.path)
    runner = MonitorRunner(db, settings, None)
    async with anyio.create_task_group() as group:
        while await runner.poll(group):
            await runner.idle()
        await AlertWatcher(db, settings).check(group)
    return {"trace_ids": ids, "run_a": first["run_id"], "run_b": second["run_id"], "root_span_ids": roots,
            "issue_id": issue}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("tables") / "cli.db"
    db = Database(path)
    load_demo(db)
    made = anyio.run(_fill, db)
    db.close()
    yield path, made


def _cases(made: dict[str, Any]) -> list[tuple[str, list[str], Any]]:
    """(command, its arguments, the tool call whose answer --json prints: (tool, arguments), or
    several of them by name)."""
    trace, run_a, run_b = made["trace_ids"][0], made["run_a"], made["run_b"]
    return [
        ("traces", [], ("SearchTraces", {"max_results": 20})),
        ("traces", ["trace.status = 'ERROR'", "--limit", "5"],
         ("SearchTraces", {"filter_string": "trace.status = 'ERROR'", "max_results": 5})),
        ("show", [trace], {"trace": ("GetTraceInfo", {"trace_id": trace}),
                           "spans": ("ListSpans", {"trace_id": trace, "max_results": 200})}),
        ("span", [trace, "--root"], ("GetRootSpan", {"trace_id": trace})),
        ("span", [trace, made["root_span_ids"][0], "--max-content-length", "1000"],
         ("GetSpan", {"trace_id": trace, "span_id": made["root_span_ids"][0], "max_content_length": 1000})),
        ("grep", [trace, "(?i)bill", "--max-matches", "3"],
         ("SearchTraceRegex", {"trace_id": trace, "pattern": "(?i)bill", "max_matches": 3})),
        ("timing", [trace], ("GetSpanTimingReport", {"trace_id": trace, "max_results": 20})),
        ("judge list", [], ("ListJudges", {"max_results": 50})),
        ("judge show", ["latency"], ("GetJudge", {"name": "latency"})),
        ("judge agreement", ["error_spans"], ("JudgeAgreement", {"judge": "error_spans"})),
        ("runs list", [], ("ListEvaluationRuns", {"max_results": 20})),
        ("runs show", [run_a], ("GetEvaluationRun", {"run_id": run_a, "max_results": 50})),
        ("runs compare", [run_a, run_b], ("CompareEvaluationRuns", {"run_a": run_a, "run_b": run_b, "max_results": 50})),
        ("datasets list", [], ("ListDatasets", {"max_results": 50})),
        ("datasets show", ["cases"], ("GetDataset", {"name": "cases"})),
        ("datasets records", ["cases"], ("ListDatasetRecords", {"dataset": "cases", "max_results": 50})),
        ("prompts list", [], ("ListPrompts", {"max_results": 50})),
        ("prompts show", ["greeting"], ("GetPrompt", {"name_or_uri": "greeting"})),
        ("prompts versions", ["greeting"], ("ListPromptVersions", {"name": "greeting", "max_results": 50})),
        ("prompts diff", ["greeting", "1", "2"],
         ("DiffPromptVersions", {"name": "greeting", "from_version": 1, "to_version": 2})),
        ("labeling schemas", [], ("ListLabelingSchemas", {"max_results": 50})),
        ("labeling sessions", [], ("ListLabelingSessions", {"max_results": 50})),
        ("labeling items", ["review"], ("ListLabelingItems", {"session": "review", "max_results": 20})),
        ("monitors list", [], ("ListMonitors", {})),
        ("monitors show", ["errors"], ("GetMonitor", {"name": "errors"})),
        ("monitors show", ["errors", "--granularity", "day"], ("GetMonitor", {"name": "errors", "granularity": "day"})),
        ("alerts list", [], ("ListAlerts", {})),
        ("issues list", [], ("ListIssues", {"max_results": 50})),
        ("gate list", [], ("ListGates", {})),
        ("gate show", ["release"], ("GetGate", {"name": "release"})),
        ("tokens list", [], ("ListTokens", {})),
        ("issues show", [made["issue_id"]], ("GetIssue", {"issue_id": made["issue_id"]})),
        ("alerts list", ["--monitor", "errors"], ("ListAlerts", {"monitor": "errors"})),
        ("keys list", [], ("ListGatewayKeys", {})),
        ("keys show", ["ci"], ("GetGatewayKey", {"name": "ci"})),
        ("keys spend", [], ("GetGatewaySpend", {})),
    ]  # fmt: skip


def _paged_cases(made: dict[str, Any]) -> dict[str, tuple[list[str], str, dict[str, Any], str]]:
    """command -> (its arguments, the tool whose pages it shows, that tool's other arguments, the
    answer's list), for every command that shows one page of a paged tool."""
    trace, run_a, run_b = made["trace_ids"][0], made["run_a"], made["run_b"]
    return {
        "traces": ([], "SearchTraces", {}, "traces"),
        "show": ([trace], "ListSpans", {"trace_id": trace}, "spans"),
        "judge list": ([], "ListJudges", {}, "judges"),
        "runs list": ([], "ListEvaluationRuns", {}, "runs"),
        "runs show": ([run_a], "GetEvaluationRun", {"run_id": run_a}, "results"),
        "runs compare": ([run_a, run_b], "CompareEvaluationRuns", {"run_a": run_a, "run_b": run_b}, "changed"),
        "datasets list": ([], "ListDatasets", {}, "datasets"),
        "datasets records": (["cases"], "ListDatasetRecords", {"dataset": "cases"}, "records"),
        "prompts list": ([], "ListPrompts", {}, "prompts"),
        "prompts versions": (["greeting"], "ListPromptVersions", {"name": "greeting"}, "versions"),
        "labeling schemas": ([], "ListLabelingSchemas", {}, "schemas"),
        "labeling sessions": ([], "ListLabelingSessions", {}, "sessions"),
        "labeling items": (["review"], "ListLabelingItems", {"session": "review"}, "items"),
        "issues list": ([], "ListIssues", {}, "issues"),
        "issues show": ([made["issue_id"]], "GetIssue", {"issue_id": made["issue_id"]}, "evidence"),
    }  # fmt: skip


PAGED_COMMANDS = list(_paged_cases({"trace_ids": [""], "run_a": "", "run_b": "", "issue_id": ""}))


def _run(argv: list[str], path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = main([*argv, "--db", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, (argv, out, err)
    return out


def _table_width(out: str) -> int:
    """The width of the widest table line (lines of text are left whole for the terminal to wrap)."""
    widths = [len(line) for line in out.splitlines() if TABLE_LINE.match(line)]
    assert widths, f"no table in:\n{out}"
    return max(widths)


def _commands_with(option: str) -> set[str]:
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, command: list[str]) -> None:
        for action in parser._actions:
            if action.option_strings == [option]:
                found.add(" ".join(command))
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*command, name])

    walk(build_parser(), [])
    return found


async def test_json_prints_what_the_matching_tool_answers_for_every_read_command(
    store: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, made = store
    cases = _cases(made)
    # Every command that lists or shows something has --json, and is a case here; `judge run`,
    # `evaluate` and `judge align` (they write) and `skills list` (no tool) are checked elsewhere
    # (tests/mcp_server/test_cli_json.py), the labeling links (no tool) in tests/web/test_share.py.
    others = {"judge run", "evaluate", "judge align", "skills list", "labeling share", "labeling links", "labeling revoke",
              "monitors create", "monitors update", "monitors delete", "monitors backfill",  # tests/mcp_server/monitors
              "alerts create", "alerts delete",  # tests/mcp_server/alerts
              "issues discover", "issues update", "issues dataset", "issues judge",  # tests/mcp_server/issues
              "gate create", "gate check",  # tests/mcp_server/gates
              "tokens create", "tokens revoke", "tokens writes",  # tests/mcp_server/access
              "keys create"}  # tests/mcp_server/gateway
    assert _commands_with("--json") == {command for command, _, _ in cases} | others
    db = Database(path)
    try:
        async with session(db) as s:
            for command, arguments, expected in cases:
                printed = json.loads(_run([*command.split(), *arguments, "--json"], path, capsys))
                if isinstance(expected, dict):
                    answer = {name: await s.call(tool, **args) for name, (tool, args) in expected.items()}
                else:
                    answer = await s.call(expected[0], **expected[1])
                assert printed == answer, command
    finally:
        db.close()


async def test_every_command_showing_a_page_of_a_paged_tool_takes_its_page_token(
    store: tuple[Path, dict[str, Any]],
) -> None:
    path, made = store
    db = Database(path)
    try:
        async with session(db) as s:
            schemas = {t.name: t.input_schema for t in (await s.client.list_tools()).tools}
    finally:
        db.close()
    tools = {command: expected for command, _, expected in _cases(made)}
    takes_token = set()
    for command, expected in tools.items():
        calls = expected.values() if isinstance(expected, dict) else [expected]
        if any("page_token" in schemas[tool]["properties"] for tool, _ in calls):
            takes_token.add(command)
    # span and grep page a span's content and a trace's matches: tests/mcp_server/traces/test_cli.py
    assert takes_token == set(PAGED_COMMANDS) | {"span", "grep"} == _commands_with("--page-token")


@pytest.mark.parametrize("command", PAGED_COMMANDS)
async def test_the_last_line_of_a_page_gives_the_token_that_shows_the_next_page(
    command: str, store: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path, made = store
    arguments, tool, tool_arguments, items = _paged_cases(made)[command]
    one = [*command.split(), *arguments, "--max-spans" if command == "show" else "--limit", "1"]

    def page(answer: dict[str, Any]) -> dict[str, Any]:
        return answer["spans"] if command == "show" else answer

    first = page(json.loads(_run([*one, "--json"], path, capsys)))
    token = first["next_page_token"]
    assert token and len(first[items]) == 1
    monkeypatch.setenv("COLUMNS", "80")  # the line is whole at any width, for the token to be pasted back
    last = _run(one, path, capsys).splitlines()[-1]
    assert last.startswith("more ") and last.endswith(f"--page-token {token}"), last
    second = page(json.loads(_run([*one, "--page-token", token, "--json"], path, capsys)))
    db = Database(path)
    try:
        async with session(db) as s:
            assert second == await s.call(tool, **tool_arguments, max_results=1, page_token=token)
    finally:
        db.close()
    assert len(second[items]) == 1 and second[items] != first[items]


def test_a_page_token_from_another_command_is_refused_saying_how_to_start_again(
    store: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = store
    token = json.loads(_run(["runs", "list", "--limit", "1", "--json"], path, capsys))["next_page_token"]
    assert main(["prompts", "list", "--page-token", token, "--db", str(path)]) == 2
    error = capsys.readouterr().err
    assert "issued by ListEvaluationRuns, not by ListPrompts" in error and "without page_token" in error


@pytest.mark.parametrize("width", WIDTHS)
def test_the_trace_table_fits_the_terminal_with_whole_ids_that_show_accepts(
    width: int, store: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, made = store
    monkeypatch.setenv("COLUMNS", str(width))
    out = _run(["traces", "--limit", "50"], path, capsys)
    assert _table_width(out) <= width
    printed = HEX_RUN.findall(out)
    assert sorted(printed) == sorted(made["trace_ids"])  # every row, every id whole, nothing else hex
    assert '"role"' not in out and "{" not in out  # previews as text, not message JSON
    assert "My bill this" in out
    shown = _run(["show", printed[0]], path, capsys)
    assert printed[0] in shown and "invoke_agent support_router" in shown


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("argv", "ids"),
    [
        (["runs", "list"], lambda made, answer: [r["run_id"] for r in answer["runs"]]),
        (["runs", "show", "{run_a}", "--limit", "20"], lambda made, answer: [r["trace_id"] for r in answer["results"]]),
        (["runs", "compare", "{run_a}", "{run_b}"], lambda made, answer: [c["trace_id"] for c in answer["changed"]]),
        (["labeling", "items", "review"], lambda made, answer: [i["trace_id"] for i in answer["items"]]),
        (["labeling", "sessions"], lambda made, answer: [s["name"] for s in answer["sessions"]]),
        (["datasets", "records", "cases"], lambda made, answer: [r["record_id"] for r in answer["records"]]),
        (["judge", "list"], lambda made, answer: [j["name"] for j in answer["judges"] + answer["builtin_judges"]]),
        (["judge", "agreement", "error_spans"], lambda made, answer: [d["trace_id"] for d in answer["disagreements"]]),
        (["prompts", "versions", "greeting"], lambda made, answer: [str(v["version"]) for v in answer["versions"]]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_every_table_fits_the_terminal_and_shows_its_ids_whole(
    width: int, argv: list[str], ids: Any, store: tuple[Path, dict[str, Any]],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path, made = store
    argv = [a.format(**made) for a in argv]
    answer = json.loads(_run([*argv, "--json"], path, capsys))
    expected = ids(made, answer)
    monkeypatch.setenv("COLUMNS", str(width))
    out = _run(argv, path, capsys)
    assert _table_width(out) <= width
    cells = {cell.strip() for line in out.splitlines() for cell in line.split("│")}
    assert expected and set(expected) <= cells, (expected, out)


def test_a_preview_is_shown_as_the_text_of_its_messages_on_one_line() -> None:
    question = [{"role": "system", "content": "You route."}, {"role": "user", "content": "Where is\nmy order?"}]
    assert preview_text(json.dumps(question)) == "Where is my order?"
    answer = [{"role": "assistant", "parts": [{"type": "text", "content": "It ships"}, {"type": "tool_call", "id": "c"},
                                             {"type": "text", "content": "today."}]}]  # fmt: skip
    assert preview_text(json.dumps(answer)) == "It ships today."
    assert preview_text(json.dumps({"messages": [{"role": "user", "content": "Hi"}]})) == "Hi"
    # A preview cut inside its JSON (1,000 characters of a long conversation) still reads as text.
    cut = json.dumps([{"role": "user", "parts": [{"type": "text", "content": 'Why was I charged "twice" for it?'}]}])
    assert preview_text(cut[: cut.index(" for it")]) == 'Why was I charged "twice"'
    assert preview_text("Plain text,\n  two lines") == "Plain text, two lines"
    assert preview_text('{"question": "not messages"}') == '{"question": "not messages"}'
    assert preview_text(None) == ""


def test_the_installed_command_at_80_columns_prints_ids_that_it_accepts_back(
    store: tuple[Path, dict[str, Any]],
) -> None:
    path, made = store
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")} | {"COLUMNS": "80"}

    def tracejudge(*args: str) -> str:
        done = subprocess.run([TRACEJUDGE, *args, "--db", str(path)], capture_output=True, text=True, env=env,
                              timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    printed = HEX_RUN.findall(tracejudge("traces", "--limit", "50"))
    assert sorted(printed) == sorted(made["trace_ids"])
    assert "execute_tool" in tracejudge("show", printed[-1])


def test_text_from_a_trace_is_shown_as_it_is_never_read_as_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "markup.db"
    db = Database(path)
    name = "[bold]agent[/bold] [/oops]"  # rich markup, and a closing tag rich would refuse
    write_spans(db, [SpanIn(trace_id="ab" * 16, span_id="0000000000000001", name=name, start_ns=1, end_ns=2,
                            inputs_json=json.dumps([{"role": "user", "content": "[red]hi[/red]"}]))])  # fmt: skip
    db.close()
    monkeypatch.setenv("COLUMNS", "200")
    out = _run(["traces"], path, capsys)
    assert name in out and "[red]hi[/red]" in out
    assert name in _run(["show", "ab" * 16], path, capsys)


EVIL = "\x1b[31mred\x1b[0m \x1b]8;;http://127.0.0.1/evil\x07a link\x1b]8;;\x07 \rhidden \x9b2J"
"""What an agent's user can put in a trace: colours, an OSC 8 link, a carriage return that hides
what came before it on the line, an 8-bit CSI."""
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


async def _fill_with_escapes(db: Database, trace: str) -> dict[str, str]:
    root, tool = "0000000000000001", "0000000000000002"
    question = json.dumps([{"role": "user", "content": f"my bill {EVIL}"}])
    write_spans(db, [
        SpanIn(trace_id=trace, span_id=root, name=f"agent {EVIL}", start_ns=1_000_000, end_ns=9_000_000,
               span_type="AGENT", inputs_json=question, outputs_json=json.dumps(f"answer {EVIL}"),
               session_id=f"s {EVIL}", user_id=f"u {EVIL}", service_name=f"svc {EVIL}", trace_tags={"note": EVIL}),
        SpanIn(trace_id=trace, span_id=tool, parent_span_id=root, name=f"tool {EVIL}", start_ns=2_000_000,
               end_ns=8_000_000, span_type="TOOL", status_code="ERROR", status_message=f"failed {EVIL}",
               outputs_json=json.dumps({"error": EVIL})),
    ])  # fmt: skip
    async with session(db) as s:
        run = (await s.call("Evaluate", judges=["error_spans"], trace_ids=[trace], name=f"run {EVIL}"))["run_id"]
        await s.call("CreateDataset", name="escapes", description=f"from {EVIL}")
        await s.call("AddTracesToDataset", dataset="escapes", trace_ids=[trace])
        await s.call("CreateLabelingSchema", name="error_spans", type="feedback", input={"kind": "pass_fail"},
                     instructions=f"Did every span succeed? {EVIL}")  # fmt: skip
        await s.call("CreateLabelingSession", name="review", schemas=["error_spans"])
        await s.call("AddTracesToLabelingSession", session="review", trace_ids=[trace])
        await s.call("SubmitLabel", session="review", trace_id=trace, schema="error_spans", value="pass", labeler="ana")
    return {"trace": trace, "root": root, "tool": tool, "run": run}


def test_terminal_sequences_in_a_trace_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "escapes.db"
    db = Database(path)
    made = anyio.run(_fill_with_escapes, db, "ef" * 16)
    db.close()
    monkeypatch.setenv("COLUMNS", "400")  # every column shown
    shown = {  # command -> whether it shows the trace's text itself (else only what was derived from it)
        "traces": True, "show {trace}": True, "span {trace} --root": True, "span {trace} {tool}": True,
        "grep {trace} red|hidden": True, "timing {trace}": True, "runs list": True, "runs show {run}": True,
        "judge agreement error_spans": False, "datasets list": True, "datasets show escapes": True,
        "datasets records escapes": True, "labeling schemas": True, "labeling items review": True,
    }  # fmt: skip
    for command, shows_it in shown.items():
        out = _run(command.format(**made).split(), path, capsys)
        assert not CONTROL.search(out), (command, out)
        assert not shows_it or "\\x1b[31mred" in out or "\\u001b[31mred" in out, (command, out)
    for command in ("traces", "show {trace}", "span {trace} {tool}", "datasets records escapes"):
        out = _run([*command.format(**made).split(), "--json"], path, capsys)
        assert "\x1b" not in out and "\x07" not in out and "\r" not in out, command  # JSON escapes C0
    # An error quoting a trace's text (here, the argument given) is shown escaped too.
    assert main(["show", f"ab{EVIL}", "--db", str(path)]) == 2
    assert not CONTROL.search(capsys.readouterr().err)


def test_styled_text_is_escaped_with_each_style_kept_on_what_it_covered() -> None:
    text = Text.assemble(("ERROR", "red"), " in ", ("tool\x1b[2J", "bold"), "\rdone")
    safe = safe_text(text)
    assert safe.plain == "ERROR in tool\\x1b[2Jdone"  # rich drops a \r from a Text itself; an ESC it keeps
    styled = {safe.plain[span.start : span.end]: str(span.style) for span in safe.spans}
    assert styled == {"ERROR": "red", "tool\\x1b[2J": "bold"}
