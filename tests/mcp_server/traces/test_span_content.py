"""GetSpan and GetRootSpan: full content, decoded, paged by characters exactly once."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_server.traces.span_content import ANSWER_OVERHEAD, CONTENT_FIELDS, SpanDetail, get_span
from store import Database, write_spans
from tests.mcp_server.traces.builders import TRACE_ID, answer_chars, call, call_error, make_span, small_trace, span_id


async def test_get_span_returns_decoded_content_and_metadata(db: Database) -> None:
    small_trace(db)
    answer = await call(db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(2))
    assert answer["name"] == "ChatOpenAI" and answer["span_type"] == "CHAT_MODEL" and answer["model"] == "gpt-4o"
    assert answer["inputs"] == {"messages": [{"role": "user", "content": "Why was I charged twice?"}]}
    assert answer["outputs"] == {"role": "assistant", "content": "Let me look up the invoice."}
    assert (answer["input_tokens"], answer["output_tokens"], answer["total_tokens"]) == (100, 20, 120)
    assert answer["duration_ms"] == 900.0 and answer["next_page_token"] is None and answer["slices"] == []


async def test_get_span_accepts_uppercase_and_base64_ids(db: Database) -> None:
    small_trace(db)
    import base64

    b64 = base64.b64encode(bytes.fromhex(TRACE_ID)).decode()
    answer = await call(db, "GetSpan", trace_id=b64, span_id=span_id(4).upper())
    assert answer["trace_id"] == TRACE_ID and answer["span_id"] == span_id(4)
    assert answer["status"] == "ERROR" and answer["status_message"] == "rate limited"
    assert answer["events"][2]["attributes"]["exception.message"] == "HTTP 429: rate limit exceeded"


async def test_attributes_to_fetch_selects_keys_and_answers_a_moved_payload(db: Database) -> None:
    small_trace(db)
    answer = await call(
        db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(2), attributes_to_fetch=["gen_ai.input.messages", "nope"]
    )
    assert answer["attributes"] == {"gen_ai.input.messages": {"messages": [{"role": "user", "content": "Why was I charged twice?"}]}}
    assert answer["missing_attributes"] == ["nope"]
    answer = await call(db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(1), attributes_to_fetch=["user.tier"])
    assert answer["attributes"] == {"user.tier": "gold"}


async def test_get_span_with_unknown_ids_returns_errors_naming_them(db: Database) -> None:
    small_trace(db)
    message = await call_error(db, "GetSpan", trace_id=TRACE_ID, span_id="f" * 16)
    assert "f" * 16 in message and "ListSpans" in message
    message = await call_error(db, "GetSpan", trace_id="e" * 32, span_id=span_id(1))
    assert "e" * 32 in message and "SearchTraces" in message
    message = await call_error(db, "GetSpan", trace_id="nonsense", span_id=span_id(1))
    assert "32 hex characters" in message


async def test_max_content_length_outside_its_range_is_an_error_quoting_the_range(db: Database) -> None:
    small_trace(db)
    message = await call_error(db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(1), max_content_length=10)
    assert "1,000 to 200,000" in message


async def test_get_root_span_reads_the_root_and_explains_when_it_is_missing(db: Database) -> None:
    small_trace(db)
    answer = await call(db, "GetRootSpan", trace_id=TRACE_ID)
    assert answer["span_id"] == span_id(1) and answer["inputs"] == {"question": "Why was I charged twice?"}
    write_spans(db, [make_span(9, 8, trace_id="d" * 32)])
    message = await call_error(db, "GetRootSpan", trace_id="d" * 32)
    assert "has not arrived yet" in message and "ListSpans" in message


def _read_all(pages: list[dict[str, Any]]) -> dict[str, str | Any]:
    """Each field, rebuilt from the pages: a decoded value, or the joined text of its slices."""
    whole: dict[str, Any] = {}
    pieces: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        for field in CONTENT_FIELDS:
            if page[field] is not None:
                assert field not in whole and field not in pieces, f"{field} delivered twice"
                whole[field] = page[field]
        for piece in page["slices"]:
            assert piece["field"] not in whole
            pieces.setdefault(piece["field"], []).append(piece)
    for field, parts in pieces.items():
        position = 0
        for part in parts:
            assert part["start"] == position, "a gap or an overlap between pieces"
            position = part["end"]
        whole[field] = "".join(part["text"] for part in parts)
        assert position == parts[0]["total_chars"]
    return whole


async def test_paging_a_large_span_delivers_every_character_exactly_once(db: Database) -> None:
    text = "Grüße 😀 \"quoted\" \n\ttab " * 9000  # escapes and emoji: pieces are cut by characters
    write_spans(
        db,
        [
            make_span(
                1,
                inputs_json=json.dumps({"prompt": text[:30000]}, ensure_ascii=False),
                outputs_json=json.dumps(text, ensure_ascii=False),
                status_message="E" * 5000,
                attributes={"big": text[:50000], "small": 1},
                events=[{"name": "exception", "attributes": {"exception.message": "boom"}}],
            )
        ],
    )
    stored = await call(db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(1), max_content_length=200_000)
    pages = []
    answer = await call(db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(1), max_content_length=5000)
    pages.append(answer)
    while answer["next_page_token"]:
        assert answer_chars(answer) <= 5000 + ANSWER_OVERHEAD
        assert "page_token=" in answer["notice"]
        answer = await call(
            db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(1), max_content_length=5000,
            page_token=answer["next_page_token"],
        )  # fmt: skip
        pages.append(answer)
    assert len(pages) > 30
    rebuilt = _read_all(pages)
    assert json.loads(rebuilt["outputs"]) == text
    assert json.loads(rebuilt["attributes"]) == {"big": text[:50000], "small": 1}
    assert json.loads(rebuilt["inputs"]) == {"prompt": text[:30000]}  # 30,000 characters: always sliced
    assert rebuilt["status_message"] == "E" * 5000
    assert rebuilt["events"] == [{"name": "exception", "attributes": {"exception.message": "boom"}}]
    assert stored["content_chars"] == pages[0]["content_chars"]


async def test_a_page_token_from_other_arguments_or_another_tool_is_rejected(db: Database) -> None:
    write_spans(db, [make_span(1, outputs_json=json.dumps("x" * 50_000)), make_span(2, 1)])
    first = await call(db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(1), max_content_length=1000)
    token = first["next_page_token"]
    message = await call_error(db, "GetSpan", trace_id=TRACE_ID, span_id=span_id(1), max_content_length=2000, page_token=token)
    assert "other arguments" in message and "without page_token" in message
    message = await call_error(db, "ListSpans", trace_id=TRACE_ID, page_token=token)
    assert "issued by GetSpan, not by ListSpans" in message


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inputs=st.one_of(st.none(), _text, st.dictionaries(st.text(max_size=5), _text, max_size=4)),
    outputs=st.one_of(st.none(), _text, st.lists(_text, max_size=4)),
    status_message=st.one_of(st.none(), _text),
    attributes=st.dictionaries(st.text(min_size=1, max_size=10), st.one_of(_text, st.integers()), max_size=5),
    budget=st.integers(min_value=1000, max_value=4000),
)
def test_pages_together_deliver_each_field_exactly_once(
    inputs: Any, outputs: Any, status_message: str | None, attributes: dict[str, Any], budget: int
) -> None:
    db = Database(":memory:")
    try:
        write_spans(
            db,
            [
                make_span(
                    1,
                    inputs_json=None if inputs is None else json.dumps(inputs, ensure_ascii=False),
                    outputs_json=None if outputs is None else json.dumps(outputs),
                    status_message=status_message,
                    attributes=attributes,
                )
            ],
        )
        pages: list[SpanDetail] = [get_span(db, TRACE_ID, span_id(1), max_content_length=budget)]
        while pages[-1].next_page_token:
            assert len(pages) < 200
            pages.append(get_span(db, TRACE_ID, span_id(1), max_content_length=budget, page_token=pages[-1].next_page_token))
        rebuilt = _read_all([page.model_dump(mode="json") for page in pages])
        expected = {"inputs": inputs, "outputs": outputs, "attributes": attributes or None}
        for field, value in expected.items():
            got = rebuilt.get(field)
            if value is None:
                assert got is None
            else:
                assert (json.loads(got) if isinstance(got, str) and field in {f for p in pages for f in (s.field for s in p.slices)} else got) == value
        assert rebuilt.get("status_message") == (status_message or None)
        for page in pages:
            content = sum(len(json.dumps(s.text, ensure_ascii=False)) - 2 for s in page.slices)
            assert content <= budget
    finally:
        db.close()
