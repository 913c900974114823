"""`load_demo`: the Northwind traces through the real OTLP decoder into the store, idempotently."""

from __future__ import annotations

import json

from mcp_server.demo.load import demo_request, load_demo
from store import Database


def totals(db: Database) -> tuple:
    row = (
        db.reader()
        .execute(
            "SELECT count(*), sum(span_count), sum(error_count), sum(input_tokens), "
            "sum(output_tokens), min(start_ns), max(end_ns) FROM traces"
        )
        .fetchone()
    )
    return tuple(row)


def test_load_demo_writes_ten_traces_of_seventy_spans(db: Database):
    assert load_demo(db) == 10
    count, spans, errors, input_tokens, output_tokens, _, _ = totals(db)
    assert (count, spans, errors) == (10, 70, 1)
    assert input_tokens > 0 and output_tokens > 0
    assert db.reader().execute("SELECT count(*) FROM spans").fetchone()[0] == 70


def test_loading_the_demo_twice_leaves_the_same_traces(db: Database):
    load_demo(db)
    once = totals(db)
    assert load_demo(db) == 10
    assert totals(db) == once


def test_the_demo_request_is_the_same_bytes_every_time():
    assert demo_request() == demo_request()


def test_the_demo_traces_carry_session_user_and_the_misrouted_roaming_question(db: Database):
    load_demo(db)
    reader = db.reader()
    traces = reader.execute(
        "SELECT trace_id, name, session_id, user_id, request_preview FROM traces"
    ).fetchall()
    assert {row["name"] for row in traces} == {"invoke_agent support_router"}
    assert all(row["session_id"].startswith("conv_") for row in traces)
    assert len({row["session_id"] for row in traces}) == 9  # one conversation has two messages
    (roaming,) = [row for row in traces if "charged for roaming" in row["request_preview"]]
    assert roaming["user_id"] == "NW-27730"
    names = {
        row["name"]
        for row in reader.execute(
            "SELECT name FROM spans WHERE trace_id = ?", (roaming["trace_id"],)
        )
    }
    assert "invoke_agent product_specialist" in names
    assert "execute_tool lookup_invoice" not in names


def test_the_coverage_timeout_is_stored_as_an_error_span_with_its_exception(db: Database):
    load_demo(db)
    (span,) = (
        db.reader()
        .execute(
            "SELECT name, status_code, status_message, events FROM spans WHERE status_code = 'ERROR'"
        )
        .fetchall()
    )
    assert span["name"] == "execute_tool check_coverage"
    (event,) = json.loads(span["events"])
    assert event["name"] == "exception"
    assert "did not answer within 5.0 s" in json.dumps(event)


def test_the_demo_registers_its_router_prompt_once(db: Database):
    from mcp_server.demo.agent import ROUTER_SYSTEM_PROMPT
    from mcp_server.demo.target import ROUTER_PROMPT
    from store import prompts

    load_demo(db)
    prompts.register_prompt_version(db, ROUTER_PROMPT, "a user's own version")
    load_demo(db)  # loading again keeps the user's versions and aliases as they are
    production = prompts.get_prompt_by_alias(db, ROUTER_PROMPT, "production")
    assert (production.version, production.template) == (1, ROUTER_SYSTEM_PROMPT)
    assert prompts.latest_prompt_version(db, ROUTER_PROMPT).version == 2
