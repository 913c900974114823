"""The server as clients see it: tools/list, annotations, caps on a 5,000-span trace, statement counts."""

from __future__ import annotations

import ast
import json
import logging
import re
import sqlite3
from typing import Any

import pytest
from mcp import Client

from mcp_server import traces
from mcp_server.server import create_server
from mcp_server.settings import Settings
from mcp_server.traces.span_content import ANSWER_OVERHEAD
from store import Database, SpanIn, write_spans

TRACE = "0af7651916cd43dd8448eb211c80319c"
TOOLS = {
    "GetTraceInfo", "ListSpans", "GetSpan", "GetRootSpan", "SearchTraceRegex", "GetSpanTimingReport",
    "SearchTraces", "CountTraces",
}  # fmt: skip


def _chars(answer: dict[str, Any]) -> int:
    return len(json.dumps(answer, ensure_ascii=False, separators=(",", ":")))


async def test_the_instructions_begin_with_one_whole_sentence_and_leave_wrapping_to_the_client(db: Database) -> None:
    # Codex shows the model only the first line of a server's instructions: hard-wrapped, it ended
    # mid-sentence ("...made of spans: LLM").
    async with Client(create_server(Settings(), db)) as client:
        instructions = client.instructions or ""
    first = instructions.splitlines()[0]
    assert first.startswith("tracejudge ") and first.endswith(".") and first.count(". ") == 0
    assert "SearchTraces" in first  # where to begin
    paragraphs = instructions.split("\n\n")
    assert len(paragraphs) > 1 and all("\n" not in paragraph for paragraph in paragraphs)
    assert all(paragraph.rstrip().endswith((".", ":")) for paragraph in paragraphs)


async def test_tools_list_shows_every_tool_read_only_with_a_description_and_an_output_schema(db: Database) -> None:
    async with Client(create_server(Settings(), db)) as client:
        listed = (await client.list_tools()).tools
        assert "GetTraceInfo" in (client.instructions or "") and "page_token" in (client.instructions or "")
        assert client.server_info is not None and client.server_info.name == "tracejudge"
    assert {tool.name for tool in listed} >= TOOLS
    for tool in (t for t in listed if t.name in TOOLS):
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True and tool.annotations.idempotent_hint is True
        assert tool.annotations.open_world_hint is False
        assert "Example:" in (tool.description or "") and tool.output_schema is not None
        for name, schema in tool.input_schema["properties"].items():
            # page_token alone goes undescribed: the server instructions explain paging once.
            assert schema.get("description") or name == "page_token", f"{tool.name}.{name} has no description"


def _big_trace(db: Database, n_spans: int = 5000) -> None:
    """A root, 50 agent steps, each with LLM and tool children; ~1 KB of text per span, one 300 KB span."""
    base = 1_700_000_000_000_000_000
    spans = [SpanIn(trace_id=TRACE, span_id=f"{1:016x}", name="agent", span_type="AGENT", start_ns=base,
                    end_ns=base + 10**11, inputs_json=json.dumps({"question": "where is my order?"}))]  # fmt: skip
    for n in range(2, n_spans + 1):
        parent = 1 if n <= 51 else 2 + (n % 50)
        spans.append(
            SpanIn(
                trace_id=TRACE,
                span_id=f"{n:016x}",
                parent_span_id=f"{parent:016x}",
                name=f"step-{n}" if parent == 1 else ("llm" if n % 2 else "tool"),
                span_type="CHAIN" if parent == 1 else ("LLM" if n % 2 else "TOOL"),
                start_ns=base + n * 10**7,
                end_ns=base + n * 10**7 + 5 * 10**8,
                status_code="ERROR" if n % 997 == 0 else "OK",
                inputs_json=json.dumps({"messages": [{"role": "user", "content": f"request {n} " + "lorem ipsum " * 40}]}),
                outputs_json=json.dumps(("é😀 answer " * 30_000) if n == 4321 else f"answer {n} " + "dolor sit " * 40),
                attributes={"http.url": f"https://api.example/{n}", "n": n},
                events=[{"name": "exception", "attributes": {"exception.message": f"timeout {n}"}}] if n % 997 == 0 else [],
            )
        )
    write_spans(db, spans)


@pytest.mark.slow
async def test_a_5000_span_trace_is_read_end_to_end_with_every_answer_under_its_cap(db: Database) -> None:
    _big_trace(db)
    async with Client(create_server(Settings(), db)) as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result.content
            return result.structured_content  # type: ignore[return-value]

        info = await call("GetTraceInfo", trace_id=TRACE)
        assert info["span_count"] == 5000 and _chars(info) <= 20_000

        listed: list[str] = []
        page = await call("ListSpans", trace_id=TRACE, max_results=1000)
        while True:
            assert _chars(page) <= 40_000
            listed += [span["span_id"] for span in page["spans"]]
            if not page["next_page_token"]:
                break
            page = await call("ListSpans", trace_id=TRACE, max_results=1000, page_token=page["next_page_token"])
        assert len(set(listed)) == 5000

        matches = 0
        page = await call("SearchTraceRegex", trace_id=TRACE, pattern="timeout \\d+", max_matches=2)
        while True:
            assert page["total_matches"] == 5 and _chars(page) <= 40_000
            matches += len(page["matches"])
            if not page["next_page_token"]:
                break
            page = await call("SearchTraceRegex", trace_id=TRACE, pattern="timeout \\d+", max_matches=2, page_token=page["next_page_token"])
        assert matches == 5

        report = await call("GetSpanTimingReport", trace_id=TRACE, max_results=100)
        assert _chars(report) <= 40_000 and report["span_count"] == 5000

        outputs = ""
        page = await call("GetSpan", trace_id=TRACE, span_id=f"{4321:016x}", max_content_length=200_000)
        while True:
            assert _chars(page) <= 200_000 + ANSWER_OVERHEAD
            outputs += "".join(piece["text"] for piece in page["slices"] if piece["field"] == "outputs")
            if not page["next_page_token"]:
                break
            page = await call("GetSpan", trace_id=TRACE, span_id=f"{4321:016x}", max_content_length=200_000, page_token=page["next_page_token"])
        assert json.loads(outputs) == "é😀 answer " * 30_000

        root = await call("GetRootSpan", trace_id=TRACE)
        assert root["inputs"] == {"question": "where is my order?"} and _chars(root) <= 20_000 + ANSWER_OVERHEAD
        assert _chars(await call("SearchTraces")) <= 40_000


@pytest.mark.slow
def test_get_span_on_a_big_trace_reads_one_span_in_a_bounded_number_of_statements(db: Database) -> None:
    from mcp_server.traces import get_span

    _big_trace(db)
    statements: list[str] = []
    db.set_tracer(statements.append)
    answer = get_span(db, TRACE, f"{2500:016x}")
    db.set_tracer(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert answer.span_id == f"{2500:016x}"
    assert len(selects) == 1
    assert "span_id = '00000000000009c4'" in selects[0]


def _tool_texts(instructions: str | None, listed: list[Any]) -> str:
    texts = [instructions or ""]
    for tool in listed:
        texts.append(tool.description or "")
        texts += [schema.get("description", "") for schema in tool.input_schema["properties"].values()]
    return "\n".join(texts)


async def test_every_filter_string_and_order_by_example_in_the_tool_texts_runs_in_search_traces(db: Database) -> None:
    write_spans(db, [SpanIn(trace_id=TRACE, span_id="0000000000000001", name="agent", start_ns=1, end_ns=2)])
    async with Client(create_server(Settings(), db)) as client:
        text = _tool_texts(client.instructions, (await client.list_tools()).tools)
        filters = re.findall(r'filter_string="([^"]*)"', text)
        orders = [ast.literal_eval(found) for found in re.findall(r"order_by=(\[[^\]]*\])", text)]
        assert len(filters) >= 5 and len(orders) >= 2, (filters, orders)
        for arguments in [{"filter_string": f} for f in filters] + [{"order_by": o} for o in orders]:
            result = await client.call_tool("SearchTraces", arguments)
            assert not result.is_error, (arguments, result.content)


async def test_a_store_failure_is_a_tool_error_saying_what_failed_with_the_traceback_in_the_log(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    write_spans(db, [SpanIn(trace_id=TRACE, span_id="0000000000000001", name="agent", start_ns=1, end_ns=2)])
    with db.transaction() as conn:
        conn.execute("ALTER TABLE trace_tags RENAME TO trace_tags_gone")
    async with Client(create_server(Settings(), db)) as client:
        result = await client.call_tool("GetTraceInfo", {"trace_id": TRACE})
    assert result.is_error
    message = result.content[0].text
    assert "the store could not answer" in message and "no such table: trace_tags" in message and "report it" in message
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], sqlite3.OperationalError)]
    assert logged and logged[0].levelno == logging.ERROR


async def test_a_bug_in_a_tool_is_logged_with_its_traceback_and_not_shown_raw(
    db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("internal detail")

    monkeypatch.setattr(traces, "get_trace_info", broken)
    async with Client(create_server(Settings(), db)) as client:
        result = await client.call_tool("GetTraceInfo", {"trace_id": TRACE})
    assert result.is_error and "internal detail" not in result.content[0].text
    # The SDK logs a crash at ERROR with its traceback; the client sees "Error executing tool ...".
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info and r.levelno == logging.ERROR]
    assert any(isinstance(exc, ZeroDivisionError) or isinstance(exc.__cause__, ZeroDivisionError) for exc in logged)


_HUGE = ('x' * 500 + '"\x01') * 2_000  # 1 MB that JSON escaping makes longer still


def _huge_traces(db: Database) -> None:
    """Traces whose every wire text is 1 MB: names, ids, model, tool, sources, tags, metadata,
    attribute and event keys, status message."""
    spans = []
    for n in range(1, 4):
        trace_id = f"{n:032x}"
        spans += [
            SpanIn(
                trace_id=trace_id, span_id="0000000000000001", name=_HUGE + str(n), start_ns=n * 10**9, end_ns=n * 10**9 + 5,
                session_id=_HUGE + str(n), user_id=_HUGE, service_name=_HUGE, model=_HUGE, tool_name=_HUGE,
                inputs_json=json.dumps(_HUGE), outputs_json=json.dumps({_HUGE: _HUGE}), inputs_source=_HUGE, outputs_source=_HUGE,
                status_message=_HUGE, attributes={_HUGE: _HUGE, "needle": 1},
                events=[{"name": _HUGE, "attributes": {_HUGE: "needle"}}],
                trace_tags={_HUGE + str(k): _HUGE for k in range(3)} | {f"t{k}": "v" * 600 for k in range(40)},
                trace_metadata={_HUGE + str(k): _HUGE for k in range(3)},
            ),
            SpanIn(trace_id=trace_id, span_id="0000000000000002", parent_span_id="0000000000000001", name=_HUGE,
                   start_ns=n * 10**9 + 1, end_ns=n * 10**9 + 3, model=_HUGE, tool_name=_HUGE),
        ]  # fmt: skip
    write_spans(db, spans)


async def test_one_megabyte_in_every_wire_text_keeps_every_answer_under_its_cap(db: Database) -> None:
    _huge_traces(db)
    trace = f"{1:032x}"
    async with Client(create_server(Settings(), db)) as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result.content
            assert _chars(result.structured_content) <= len(result.content[0].text)  # type: ignore[arg-type]
            return json.loads(result.content[0].text)

        info = await call("GetTraceInfo", trace_id=trace)
        assert len(json.dumps(info, ensure_ascii=False, separators=(",", ":"))) <= 20_000
        assert any("name is cut" in notice for notice in info["notices"]) and info["session_id"].endswith("…")
        for span in ("0000000000000001", "0000000000000002"):
            detail = await call("GetSpan", trace_id=trace, span_id=span, max_content_length=1_000,
                                attributes_to_fetch=[f"{k}{_HUGE[:5_000]}" for k in range(200)])  # fmt: skip
            assert _chars(detail) <= 1_000 + ANSWER_OVERHEAD and "model is cut" in detail["notice"]
        root = await call("GetRootSpan", trace_id=trace, max_content_length=1_000)
        assert _chars(root) <= 1_000 + ANSWER_OVERHEAD
        assert _chars(await call("ListSpans", trace_id=trace)) <= 40_000
        assert _chars(await call("GetSpanTimingReport", trace_id=trace)) <= 40_000
        found = await call("SearchTraceRegex", trace_id=trace, pattern="needle|u0001", max_matches=500, surrounding_content_length=1_000)
        assert _chars(found) <= 40_000 and found["total_matches"] > 1_000
        for order_by in (None, ["name ASC", "session_id DESC", "user_id", "status"]):
            page = await call("SearchTraces", order_by=order_by, max_results=1)
            pages = 1
            while page["next_page_token"]:
                assert _chars(page) <= 40_000
                page = await call("SearchTraces", order_by=order_by, max_results=1, page_token=page["next_page_token"])
                pages += 1
            assert pages == 3


async def test_an_unknown_argument_is_refused_naming_the_valid_ones_and_the_nearest(db: Database) -> None:
    write_spans(db, [SpanIn(trace_id=f"{n:032x}", span_id="0000000000000001", name="agent", start_ns=n, end_ns=n + 1)
                     for n in range(1, 4)])  # fmt: skip
    async with Client(create_server(Settings(), db)) as client:
        result = await client.call_tool("SearchTraces", {"filter": "trace.status = 'OK'", "limit": 2})
        assert result.is_error, result.structured_content
        message = result.content[0].text
        assert "'filter'" in message and "did you mean filter_string?" in message
        assert "'limit'" in message and "did you mean max_results?" in message
        assert "it takes filter_string, order_by, max_results, page_token" in message

        for tool, arguments, wrong, nearest in (
            ("GetTraceInfo", {"trace_id": TRACE, "traceid": TRACE}, "traceid", "trace_id"),
            ("ListSpans", {"trace_id": TRACE, "span_types": "TOOL"}, "span_types", "span_type"),
            ("ListDatasets", {"maxresults": 5}, "maxresults", "max_results"),
            ("AlignJudge", {"judge": "x", "holdout": 0.3}, "holdout", "holdout_fraction"),
        ):
            result = await client.call_tool(tool, arguments)
            assert result.is_error, (tool, result.structured_content)
            assert f"'{wrong}'" in result.content[0].text and f"did you mean {nearest}?" in result.content[0].text

        # An argument with no near name still lists what the tool takes; a valid call still works.
        result = await client.call_tool("CountTraces", {"zzz": 1})
        assert result.is_error and "CountTraces has no argument 'zzz' (it takes filter_string)" in result.content[0].text
        assert "did you mean" not in result.content[0].text
        counted = await client.call_tool("CountTraces", {"filter_string": "trace.status = 'OK'"})
        assert not counted.is_error and counted.structured_content["count"] == 3

        # However many and however long the unknown names, the answer stays bounded.
        result = await client.call_tool("CountTraces", {f"{n}{'x' * 100_000}": n for n in range(1_000)})
        assert result.is_error and len(result.content[0].text) < 5_000
        assert "990 more unknown arguments are not listed" in result.content[0].text


async def test_every_tool_schema_says_it_takes_no_other_arguments(db: Database) -> None:
    async with Client(create_server(Settings(), db)) as client:
        listed = (await client.list_tools()).tools
    assert len(listed) >= 40
    open_schemas = [tool.name for tool in listed if tool.input_schema.get("additionalProperties") is not False]
    assert open_schemas == []


@pytest.mark.slow
async def test_an_unknown_argument_is_refused_over_stdio_from_the_installed_command(tmp_path: Any) -> None:
    from mcp import StdioServerParameters

    from tests.support.processes import TRACEJUDGE

    params = StdioServerParameters(command=TRACEJUDGE, args=["stdio", "--db", str(tmp_path / "stdio.db")])
    async with Client(params) as client:
        result = await client.call_tool("SearchTraces", {"limit": 2})
    assert result.is_error and "did you mean max_results?" in result.content[0].text


async def test_align_judge_takes_the_min_labels_its_not_enough_labels_error_tells_a_client_to_pass(db: Database) -> None:
    write_spans(db, [SpanIn(trace_id=f"{n:032x}", span_id="0000000000000001", name="agent", start_ns=n, end_ns=n + 1)
                     for n in range(1, 6)])  # fmt: skip
    async with Client(create_server(Settings(), db)) as client:
        created = await client.call_tool("CreateJudge", {"name": "routing", "instructions": "Is {{ outputs }} right?"})
        assert not created.is_error, created.content
        for n in range(1, 6):
            logged = await client.call_tool("LogFeedback", {"trace_id": f"{n:032x}", "name": "routing", "value": n % 2 == 0,
                                                            "source_id": "ana"})  # fmt: skip
            assert not logged.is_error, logged.content
        too_few = await client.call_tool("AlignJudge", {"judge": "routing"})
        below_floor = await client.call_tool("AlignJudge", {"judge": "routing", "min_labels": 3})
    assert too_few.is_error and "Or pass min_labels=5" in too_few.content[0].text
    # min_labels reaches align_judge, which checks it (an ignored argument would give the first error again).
    assert below_floor.is_error and "min_labels must be an integer of at least 4" in below_floor.content[0].text
