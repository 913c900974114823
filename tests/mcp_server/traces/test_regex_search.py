"""SearchTraceRegex: matches with span and field, true totals, paging, hostile patterns."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mcp_server.traces.patterns import compile_pattern
from mcp_server.traces.regex_search import search_trace_regex
from store import Database, write_spans
from store.errors import InvalidPattern
from store.spans import iter_span_texts
from tests.mcp_server.traces.builders import TRACE_ID, call, call_error, make_span, small_trace, span_id


async def test_matches_name_their_span_and_decoded_field_path(db: Database) -> None:
    small_trace(db)
    answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern="(?i)rate.?limit|invoices/42|charged twice")
    found = {(m["span_id"], m["field"], m["match"]) for m in answer["matches"]}
    assert found == {
        (span_id(1), "inputs.question", "charged twice"),
        (span_id(2), "inputs.messages[0].content", "charged twice"),
        (span_id(3), "attributes.http.url", "invoices/42"),
        (span_id(4), "status_message", "rate limit"),
        (span_id(4), "events[2].attributes.exception.message", "rate limit"),
    }
    assert answer["total_matches"] == 5 and answer["spans_with_matches"] == 4 and answer["total_is_exact"]
    event = next(m for m in answer["matches"] if m["field"].startswith("events"))
    assert event["before"].endswith("HTTP 429: ") and event["span_name"] == "refund"


async def test_surrounding_text_and_positions_count_characters_not_bytes(db: Database) -> None:
    write_spans(db, [make_span(1, outputs_json=json.dumps("😀é" * 10 + "needle" + "ü" * 10, ensure_ascii=False))])
    answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern="needle", surrounding_content_length=5)
    (match,) = answer["matches"]
    assert match["position"] == 21 and match["before"] == "é😀é😀é" and match["after"] == "üüüüü"


async def test_the_total_counts_every_match_and_pages_continue_after_the_last(db: Database) -> None:
    write_spans(db, [make_span(n, outputs_json=json.dumps(" ".join(["hit"] * 7))) for n in range(1, 31)])
    seen = []
    answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern="hit", max_matches=50)
    while True:
        assert answer["total_matches"] == 210
        seen += [(m["span_id"], m["position"]) for m in answer["matches"]]
        if not answer["next_page_token"]:
            break
        answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern="hit", max_matches=50, page_token=answer["next_page_token"])
    assert len(seen) == len(set(seen)) == 210


async def test_a_literal_pattern_counts_and_pages_exactly_like_its_regex_twin(db: Database) -> None:
    """Past the page a plain literal is counted with bytes.count; (?:...) forces the regex path."""
    texts = ["refund refund", "no match here", "refunds: refund-refund", "x" * 50 + " refund"]
    write_spans(db, [make_span(n, outputs_json=json.dumps(texts[n % 4]), name=f"refund step {n}") for n in range(1, 41)])

    async def walk(pattern: str) -> tuple[list[int], list[tuple[str, str, int]]]:
        totals, seen = [], []
        answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern=pattern, max_matches=7)
        while True:
            totals.append(answer["total_matches"])
            seen += [(m["span_id"], m["field"], m["position"]) for m in answer["matches"]]
            if not answer["next_page_token"]:
                return totals, seen
            answer = await call(
                db, "SearchTraceRegex", trace_id=TRACE_ID, pattern=pattern, max_matches=7,
                page_token=answer["next_page_token"],
            )  # fmt: skip

    literal_totals, literal_seen = await walk("refund")
    regex_totals, regex_seen = await walk("(?:refund)")
    assert literal_totals == regex_totals and len(set(literal_totals)) == 1
    assert literal_seen == regex_seen
    assert len(literal_seen) == literal_totals[0] == 40 + 10 * (2 + 3 + 1)  # names + outputs


@pytest.mark.parametrize(
    "pattern, reason",
    [("(a)\\1", "invalid escape"), ("(?=x)", "invalid perl operator"), ("[", "missing ]"), ("a{5000}", "repetition"),
     ("x*", "empty string"), ("a" * 1001, "limit is 1,000"), (".{900}.{900}.{900}", "too complex")],
)  # fmt: skip
async def test_invalid_patterns_are_errors_with_re2s_reason(db: Database, pattern: str, reason: str) -> None:
    small_trace(db)
    assert reason in await call_error(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern=pattern)


_HOSTILE_TEXT = "a" * 20_000 + "b" + "x" * 20_000 + "y"


@pytest.mark.parametrize(
    "pattern, text, per_span",
    [("(a*)*b", _HOSTILE_TEXT, 1), ("(x+x+)+y", _HOSTILE_TEXT, 1), ("(a|aa)+$", "a" * 40_000, 1),
     ("(.*a){20}", _HOSTILE_TEXT, 1), ("(a|aa)+$", _HOSTILE_TEXT, 0)],
)  # fmt: skip
def test_catastrophic_backtracking_patterns_count_their_true_matches(db: Database, pattern: str, text: str, per_span: int) -> None:
    # Patterns that backtracking engines take exponential time on; RE2 answers with the exact count.
    # (How long it takes is measured in bench/, never asserted here.)
    write_spans(db, [make_span(n, status_message=text) for n in range(1, 21)])
    answer = search_trace_regex(db, TRACE_ID, pattern)
    assert (answer.total_matches, answer.total_is_exact) == (20 * per_span, True)


_PIECES = ["^", "$", "\\b", "\\B", "a", "b", "\n", " ", ".", "*", "+", "?", "|", "(", ")", "(?m)", "(?-m)", "(?s)",
           "(?i)", "(?-s)", "(?-sim)", "(?-Um)", "(?i-m:", "[ab]", "\\A", "\\z", "{2}", "A"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@example(pattern="(?-sim)^a", texts=["b", "a", "a"])
@given(
    pattern=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join),
    texts=st.lists(st.text("ab \nA", max_size=12), min_size=2, max_size=12),
)
def test_the_joined_first_pass_never_loses_a_match_a_field_by_field_scan_finds(pattern: str, texts: list[str]) -> None:
    try:
        regex = compile_pattern(pattern, "pattern", allow_empty_match=False)
    except InvalidPattern:
        return
    db = Database(":memory:")
    try:
        # Even spans carry the text in their name, odd ones in their status message (both plain text).
        write_spans(db, [make_span(n + 1, name=t if n % 2 == 0 else "s", status_message=None if n % 2 == 0 else t or None)
                         for n, t in enumerate(texts)])  # fmt: skip
        expected = sum(
            len(list(regex.finditer(field))) for span in iter_span_texts(db, TRACE_ID) for field in span.texts if field
        )
        assert search_trace_regex(db, TRACE_ID, pattern).total_matches == expected
    finally:
        db.close()


@settings(max_examples=200, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
@given(pattern=st.text(max_size=60))
def test_any_text_as_a_pattern_gives_an_answer_or_invalid_pattern(pattern: str) -> None:
    db = Database(":memory:")
    try:
        small_trace(db)
        try:
            answer = search_trace_regex(db, TRACE_ID, pattern)
        except InvalidPattern as exc:
            assert "pattern" in str(exc)
        else:
            assert answer.total_matches >= len(answer.matches)
    finally:
        db.close()


async def test_a_pattern_that_matches_everywhere_is_counted_and_bounded(db: Database) -> None:
    write_spans(db, [make_span(n, outputs_json=json.dumps("ab" * 5000)) for n in range(1, 11)])
    answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern="a", max_matches=500, surrounding_content_length=1000)
    assert answer["total_matches"] == 50_000 + 10  # and the "a" of each span name "span-n"
    assert len(json.dumps(answer)) < 45_000 and 0 < len(answer["matches"]) < 500
    assert "page_token=" in answer["notice"]


async def test_unknown_trace_and_bad_token_are_errors(db: Database) -> None:
    small_trace(db)
    assert "SearchTraces" in await call_error(db, "SearchTraceRegex", trace_id="a" * 32, pattern="x")
    message = await call_error(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern="x", page_token="eyJ0b29sIjoiR2V0U3BhbiJ9")
    assert "without page_token" in message


@pytest.mark.parametrize(
    "pattern", ["^span-7$", "\\Aspan-7\\z", "(?-m)^span-7$", "(?-sim)^span-7$", "(?-ism)^span-7$", "(?-Um)^span-7$", "(?i-m:^span-7$)"]
)
async def test_anchors_match_at_the_start_and_end_of_each_field(db: Database, pattern: str) -> None:
    write_spans(db, [make_span(n, outputs_json=json.dumps(f"span-{n}")) for n in range(1, 200)])
    answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern=pattern)
    assert [(m["span_id"], m["field"]) for m in answer["matches"]] == [(span_id(7), "name")]


async def test_matches_in_spans_arriving_between_pages_never_repeat_a_match(db: Database) -> None:
    write_spans(db, [make_span(n, outputs_json=json.dumps("hit hit hit")) for n in range(1, 21)])
    seen: list[tuple[str, str, int]] = []
    answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern="hit", max_matches=7)
    extra = 100
    while True:
        seen += [(m["span_id"], m["field"], m["position"]) for m in answer["matches"]]
        if not answer["next_page_token"]:
            break
        extra += 1
        # A new span with a match, and span 1 (already read) sent again without its matches.
        write_spans(db, [make_span(extra, outputs_json=json.dumps("hit")), make_span(1, outputs_json=json.dumps("none"))])
        answer = await call(db, "SearchTraceRegex", trace_id=TRACE_ID, pattern="hit", max_matches=7, page_token=answer["next_page_token"])
    assert len(seen) == len(set(seen)) == 60 + (extra - 100)
    assert answer["total_matches"] == len(seen) - 3  # span 1's matches were shown before it changed
