"""Searching traces with MLflow filters, through the real store: results, order, pages and plans."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import Database, SpanIn, write_spans
from store.errors import InvalidArgument, InvalidFilter
from store.search import build_count_query, build_search_query, compile_filter, count_traces, search_trace_ids

MS = 1_000_000
A, B, C, D = ("a" * 32, "b" * 32, "c" * 32, "d" * 32)
NAMES = {A: "A", B: "B", C: "C", D: "D"}


def span(trace_id: str, n: int, **kw: object) -> SpanIn:
    kw.setdefault("parent_span_id", f"{1:016x}")
    return SpanIn(trace_id=trace_id, span_id=f"{n:016x}", **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(db: Database) -> Database:
    """Four traces: A (OK, support), B (ERROR, billing), C (in progress), D (OK, support, session in metadata)."""
    write_spans(
        db,
        [
            span(A, 1, parent_span_id=None, name="support_agent", start_ns=1000 * MS, end_ns=1500 * MS,
                 span_type="AGENT", status_code="OK", inputs_json='"I want a refund for order 42"',
                 session_id="s1", user_id="alice", trace_tags={"env": "prod", "mlflow.user": "alice"}),
            span(A, 2, name="search_orders", start_ns=1100 * MS, end_ns=1200 * MS, span_type="TOOL",
                 attributes={"tool.name": "orders_db", "retries": 2, "flag": True, "note": "Unsupported region"}),
            span(A, 3, name="llm", start_ns=1200 * MS, end_ns=1400 * MS, span_type="LLM", total_tokens=120, cost=0.25,
                 outputs_json='"Sure.\\nRefunds take 30 days."'),
            span(B, 1, parent_span_id=None, name="billing_agent", start_ns=2000 * MS, end_ns=4000 * MS,
                 span_type="AGENT", status_code="ERROR", outputs_json='"Refund policy: 30 days"',
                 trace_tags={"env": "staging"}),
            span(B, 2, name="refund_tool", start_ns=2100 * MS, end_ns=2200 * MS, span_type="TOOL",
                 status_code="ERROR", attributes={"tool.name": "payments", "http.status": 500},
                 events=[{"name": "exception", "attributes": {"exception.message": "card declined"}}]),
            span(C, 5, parent_span_id="f" * 16, name="orphan", start_ns=3000 * MS, span_type="LLM"),
            span(D, 1, parent_span_id=None, name="support_agent", start_ns=1000 * MS + 7, end_ns=1900 * MS,
                 span_type="AGENT", status_code="OK", inputs_json='"where is my parcel?"',
                 trace_metadata={"mlflow.trace.session": "s2", "mlflow.sourceRun": "run9"}),
        ],
    )  # fmt: skip
    return db


def found(db: Database, filter_string: str | None) -> set[str]:
    ids = search_trace_ids(db, filter_string, None, 100)
    assert count_traces(db, filter_string) == len(ids)
    return {NAMES[i] for i in ids}


def add_assessment(db: Database, trace_id: str, name: str, kind: str, value: object, *, valid: int = 1, raw: bool = False) -> None:
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO assessments (assessment_id, trace_id, name, kind, source_type, value, valid, created_ns) "
            "VALUES (?, ?, ?, ?, 'HUMAN', ?, ?, 0)",
            (f"{trace_id[:4]}-{name}-{kind}-{valid}", trace_id, name, kind, value if raw else json.dumps(value), valid),
        )


# --- trace fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("trace.status = 'ERROR'", {"B"}),
        ("attributes.status != 'ERROR'", {"A", "C", "D"}),
        ("status IN ('IN_PROGRESS', 'error')", {"B", "C"}),
        ("trace.state NOT IN ('OK')", {"B", "C"}),
        ("trace.name = 'support_agent'", {"A", "D"}),
        ("trace.name LIKE '%agent'", {"A", "B", "D"}),
        ("trace.name LIKE 'SUPPORT%'", set()),
        ("trace.name ILIKE 'SUPPORT%'", {"A", "D"}),
        ("trace.name LIKE 'billing\\_%'", {"B"}),
        ("trace.name IS NULL", {"C"}),
        ("trace.timestamp_ms = 1000", {"A", "D"}),
        ("trace.timestamp_ms > 1000", {"B", "C"}),
        ("trace.timestamp >= 2000", {"B", "C"}),
        ("timestamp_ms < 2000", {"A", "D"}),
        ("trace.timestamp_ms <= 1999.5", {"A", "D"}),
        ("trace.timestamp_ms != 1000", {"B", "C"}),
        ("trace.timestamp_ms = 1000.5", set()),
        ("trace.timestamp_ms > -99999999999999999999999", {"A", "B", "C", "D"}),
        ("trace.execution_time_ms > 500", {"B", "D"}),
        ("trace.execution_time_ms = 500", {"A"}),
        ("trace.execution_time < 100000", {"A", "B", "D"}),
        ("trace.end_time_ms = 4000", {"B"}),
        ("trace.request_id = 'tr-" + "B" * 32 + "'", {"B"}),
        ("trace.trace_id IN ('" + A + "', '" + C + "')", {"A", "C"}),
        ("trace.session_id = 's1'", {"A"}),
        ("trace.session_id = 's2'", {"D"}),
        ("metadata.`mlflow.trace.session` IN ('s1', 's2')", {"A", "D"}),
        ("trace.session_id IS NULL", {"B", "C"}),
        ("trace.session_id IS NOT NULL", {"A", "D"}),
        ("trace.user_id = 'alice'", {"A"}),
        ("trace.span_count = 3", {"A"}),
        ("trace.error_count > 0", {"B"}),
        ("trace.total_tokens >= 100", {"A"}),
        ("trace.cost > 0.2", {"A"}),
        ("trace.run_id = 'run9'", {"D"}),
    ],
)
def test_trace_fields_filter_traces(store: Database, filter_string: str, expected: set[str]) -> None:
    assert found(store, filter_string) == expected


# --- tags and metadata ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tag.env = 'prod'", {"A"}),
        ("tags.env != 'prod'", {"B"}),  # a trace without the tag matches neither = nor !=
        ("tag.env IN ('prod', 'staging')", {"A", "B"}),
        ("tag.env NOT IN ('prod')", {"B"}),
        ("tag.env LIKE 'st%'", {"B"}),
        ("tag.env ILIKE 'PROD'", {"A"}),
        ("tag.`mlflow.user` = 'alice'", {"A"}),
        ("tag.mlflow.user = 'alice'", {"A"}),
        ("tag.env IS NULL", {"C", "D"}),
        ("tag.env IS NOT NULL", {"A", "B"}),
        ("metadata.`mlflow.sourceRun` = 'run9'", {"D"}),
        ("request_metadata.`mlflow.sourceRun` != 'run9'", set()),
    ],
)
def test_tags_and_metadata_filter_traces(store: Database, filter_string: str, expected: set[str]) -> None:
    assert found(store, filter_string) == expected


# --- spans: a trace matches when any of its spans does --------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("span.name = 'refund_tool'", {"B"}),
        ("span.name != 'support_agent'", {"A", "B", "C"}),
        ("span.name LIKE '%\\_tool'", {"B"}),
        ("span.name LIKE 'search%'", {"A"}),
        ("span.name ILIKE '%ORDERS'", {"A"}),
        ("span.name IN ('orphan', 'llm')", {"A", "C"}),
        ("span.type = 'TOOL'", {"A", "B"}),
        ("span.type = 'tool'", {"A", "B"}),
        ("span.type NOT IN ('AGENT')", {"A", "B", "C"}),
        ("span.status = 'ERROR'", {"B"}),
        ("span.status = 'UNSET'", {"A", "C"}),
        ("span.status IN ('OK')", {"A", "D"}),
        ("span.attributes.`tool.name` = 'payments'", {"B"}),
        ("span.attributes.tool.name = 'orders_db'", {"A"}),
        ("span.attributes.`tool.name` != 'payments'", {"A"}),
        ("span.attributes.`tool.name` IN ('payments', 'orders_db')", {"A", "B"}),
        ("span.attributes.`tool.name` NOT IN ('payments')", {"A"}),
        ("span.attributes.`tool.name` LIKE 'pay%'", {"B"}),
        ("span.attributes.`tool.name` LIKE '%ments'", {"B"}),
        ("span.attributes.`tool.name` LIKE '%ayment%'", {"B"}),
        ("span.attributes.`tool.name` LIKE 'PAY%'", set()),
        ("span.attributes.`tool.name` ILIKE 'PAY%'", {"B"}),
        ("span.attributes.note LIKE '%support%'", {"A"}),  # exact LIKE: inside a word too
        ("span.attributes.`tool.name` LIKE '%'", {"A", "B"}),
        ("span.attributes.retries = 2", {"A"}),
        ("span.attributes.retries = '2'", {"A"}),
        ("span.attributes.retries > 1", {"A"}),
        ("span.attributes.retries < 1", set()),
        ("span.attributes.`http.status` >= 500", {"B"}),
        ("span.attributes.flag = TRUE", {"A"}),
        ("span.attributes.flag = 'true'", {"A"}),
        ("span.attributes.flag != true", set()),
        ("span.attributes.`http.status` IS NOT NULL", {"B"}),
        ("span.attributes.missing = 'x'", set()),
    ],
)
def test_span_conditions_match_a_trace_when_any_span_matches(
    store: Database, filter_string: str, expected: set[str]
) -> None:
    assert found(store, filter_string) == expected


# --- full text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("trace.text ILIKE '%refund%'", {"A", "B"}),  # B's tool name, B's output, A's input
        ("trace.text LIKE '%Refund%'", {"A", "B"}),  # A: "\nRefunds", after an escaped newline
        ("trace.text LIKE '%REFUND%'", set()),
        ("trace.text ILIKE '%refund pol%'", {"B"}),  # a phrase, its last word a prefix
        ("trace.text ILIKE '%policy refund%'", set()),  # both words present, not as this phrase
        ("trace.text ILIKE '%30 days%'", {"A", "B"}),
        ("trace.text ILIKE '%card declined%'", {"B"}),  # event text
        ("trace.text ILIKE '%parcel%'", {"D"}),
        ("trace.text ILIKE '%arcel%'", set()),  # inside a word: not found (word-based)
        ("trace.text ILIKE '%upported%'", set()),
        ("trace.text ILIKE '%efund%'", set()),  # documented: word-based, a word's tail is not found
        ("trace.text ILIKE '%unsupported region%'", {"A"}),  # attribute text
        ("span.content ILIKE '%orders_db%'", {"A"}),
        ("trace.text ILIKE '%refund%' AND trace.status = 'OK'", {"A"}),
    ],
)
def test_trace_text_is_answered_by_words_then_checked_as_a_pattern(
    store: Database, filter_string: str, expected: set[str]
) -> None:
    assert found(store, filter_string) == expected


# --- assessments ---------------------------------------------------------------------------------


def test_feedback_expectation_and_assessment_conditions(store: Database) -> None:
    add_assessment(store, A, "correct", "feedback", "yes")
    add_assessment(store, B, "correct", "feedback", "no")
    add_assessment(store, A, "score", "feedback", 0.9)
    add_assessment(store, B, "score", "feedback", 0.2)
    add_assessment(store, C, "score", "feedback", 0.1, valid=0)  # overridden: never matches
    add_assessment(store, D, "helpful", "feedback", True)
    add_assessment(store, B, "answer", "expectation", "30 days")
    add_assessment(store, C, "correct", "feedback", "not json", raw=True)

    assert found(store, "feedback.correct = 'yes'") == {"A"}
    assert found(store, "feedback.correct != 'yes'") == {"B", "C"}
    assert found(store, "feedback.correct IN ('no', 'not json')") == {"B", "C"}
    assert found(store, "feedback.score < 0.5") == {"B"}
    assert found(store, "feedback.score >= 0.5") == {"A"}
    assert found(store, "feedback.score = '0.9'") == {"A"}
    assert found(store, "feedback.helpful = TRUE") == {"D"}
    assert found(store, "feedback.helpful = 'true'") == {"D"}
    assert found(store, "feedback.score IS NULL") == {"C", "D"}
    assert found(store, "feedback.score IS NOT NULL") == {"A", "B"}
    assert found(store, "expectation.answer LIKE '30%'") == {"B"}
    assert found(store, "expectation.correct = 'yes'") == set()
    assert found(store, "assessment.answer = '30 days' AND assessment.correct = 'no'") == {"B"}


# --- combinations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("trace.status = 'OK' AND trace.name = 'support_agent' AND trace.timestamp_ms = 1000", {"A", "D"}),
        ("span.type = 'TOOL' AND span.status = 'ERROR'", {"B"}),
        ("tag.env = 'prod' OR trace.status = 'ERROR'", {"A", "B"}),
        ("(tag.env = 'prod' OR tag.env = 'staging') AND span.name = 'refund_tool'", {"B"}),
        ("tag.env = 'prod' OR tag.env = 'staging' AND span.name = 'refund_tool'", {"A", "B"}),
        ("TRACE.STATUS = 'OK' and TAG.env = 'prod'", {"A"}),
    ],
)
def test_and_or_and_parentheses_combine_conditions(store: Database, filter_string: str, expected: set[str]) -> None:
    assert found(store, filter_string) == expected


# --- order_by and paging -------------------------------------------------------------------------


def test_default_order_is_newest_first_with_trace_id_breaking_ties(store: Database) -> None:
    assert search_trace_ids(store, None, None, 10) == [C, B, D, A]


def test_order_by_fields_and_directions(store: Database) -> None:
    assert search_trace_ids(store, None, ["timestamp_ms ASC"], 10) == [A, D, B, C]
    assert search_trace_ids(store, "trace.execution_time_ms > 0", ["trace.execution_time_ms DESC"], 10) == [B, D, A]
    # equal names: the default newest-first and then trace_id decide
    assert search_trace_ids(store, "trace.name IS NOT NULL", ["trace.name"], 10) == [B, D, A]
    assert search_trace_ids(store, None, ["span_count DESC", "trace_id DESC"], 10) == [A, B, D, C]


def test_max_results_takes_the_first_matches_with_ties_ordered_by_trace_id(db: Database) -> None:
    # 30 traces sharing three timestamps: only the trace_id tiebreak orders them.
    write_spans(db, [SpanIn(trace_id=f"{i:032x}", span_id="1" * 16, name="t", start_ns=(i % 3) * MS) for i in range(30)])
    every = search_trace_ids(db, "trace.name = 't'", None, 100)
    assert every == sorted((f"{i:032x}" for i in range(30)), key=lambda t: (-(int(t, 16) % 3), t))
    assert search_trace_ids(db, "trace.name = 't'", None, 7) == every[:7]
    assert search_trace_ids(db, None, None, 0) == []


def test_negative_max_results_is_an_invalid_argument(store: Database) -> None:
    with pytest.raises(InvalidArgument, match="max_results"):
        search_trace_ids(store, None, None, -1)


def test_invalid_filter_or_order_by_raises_invalid_filter(store: Database) -> None:
    with pytest.raises(InvalidFilter, match="did you mean 'trace.status'"):
        search_trace_ids(store, "trace.stats = 'OK'", None, 10)
    with pytest.raises(InvalidFilter, match="did you mean 'timestamp_ms'"):
        search_trace_ids(store, None, ["timestmp"], 10)
    with pytest.raises(InvalidFilter):
        count_traces(store, "trace.status =")


# --- the SQL: bound parameters and query plans ----------------------------------------------------


def test_user_values_are_bound_parameters_never_sql_text() -> None:
    hostile = "x'); DROP TABLE traces; --"
    sql, params = compile_filter(
        f"tag.`{hostile}` = '{hostile.replace(chr(39), chr(39) * 2)}' AND trace.text LIKE '%{hostile.replace(chr(39), chr(39) * 2)}%'"
    )
    assert "DROP" not in sql
    assert hostile in params.values()


def plan(db: Database, filter_string: str) -> list[str]:
    sql, params = build_search_query(filter_string, None, 10)
    return [row[3] for row in db.reader().execute("EXPLAIN QUERY PLAN " + sql, params)]


def scans_spans_table(lines: list[str]) -> bool:
    return any(re.fullmatch(r"SCAN (s|spans)( USING (COVERING )?INDEX \w+)?", line) and "INDEX" not in line for line in lines)


def test_span_name_and_type_seek_their_covering_indexes(store: Database) -> None:
    assert "SEARCH s USING COVERING INDEX idx_spans_name (name=?)" in plan(store, "span.name = 'x'")
    assert "SEARCH s USING COVERING INDEX idx_spans_name (name>? AND name<?)" in plan(store, "span.name LIKE 'ref%'")
    # a pattern with a leading wildcard scans the small name index, not the table of payloads
    assert "SCAN s USING COVERING INDEX idx_spans_name" in plan(store, "span.name LIKE '%tool'")
    assert "SEARCH s USING COVERING INDEX idx_spans_span_type (span_type=?)" in plan(store, "span.type = 'TOOL'")
    for filter_string in ("span.name = 'x'", "span.name ILIKE '%x%'", "span.type IN ('TOOL', 'LLM')"):
        assert not scans_spans_table(plan(store, filter_string)), filter_string


@pytest.mark.parametrize(
    "filter_string",
    [
        "span.attributes.`tool.name` = 'payments'",
        "span.attributes.`tool.name` LIKE '%ments'",
        "span.attributes.retries > 1",
        "trace.text ILIKE '%refund%'",
        "trace.text LIKE '%refund policy%'",
    ],
)
def test_attribute_and_text_filters_take_candidates_from_the_fts_index(store: Database, filter_string: str) -> None:
    lines = plan(store, filter_string)
    assert any(line.startswith("SCAN spans_fts VIRTUAL TABLE INDEX") for line in lines), lines
    assert "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)" in lines
    assert not scans_spans_table(lines), lines


def test_fts_terms_are_words_and_prefixes_of_the_pattern() -> None:
    _, params = compile_filter("trace.text ILIKE 'refund pol%'")
    assert params["p0"] == '"refund" AND "pol"*'
    _, params = compile_filter("span.attributes.`llm.model` = 'gpt-4o'")
    assert params["p0"] == '"llm" AND "model" AND "gpt" AND "4o"'
    # exact LIKE: a word after a leading % may be the tail of a longer word, so it is no term
    _, params = compile_filter("span.attributes.`tool.name` LIKE '%ments'")
    assert params["p0"] == '"tool" AND "name"'
    # trace.text: a word after % starts a word (the index reads JSON's \n escapes as spaces)
    _, params = compile_filter("trace.text LIKE '%refund%'")
    assert params["p0"] == '"refund"*'


@pytest.mark.parametrize(
    "filter_string",
    ["trace.text ILIKE '%a%'", "trace.text ILIKE '%'", "trace.text LIKE '_%'", "span.attributes.n > 15"],
)
def test_a_condition_without_an_indexable_word_is_refused_rather_than_scanning_every_span(
    store: Database, filter_string: str
) -> None:
    with pytest.raises(InvalidFilter, match="no word of 2 or more letters or digits"):
        search_trace_ids(store, filter_string, None, 10)


def test_a_common_term_is_planned_per_trace_and_finds_the_same_traces(store: Database) -> None:
    filters = [
        "trace.text ILIKE '%refund%'", "trace.text LIKE '%Refund pol%'", "trace.text ILIKE '%arcel%'",
        "span.attributes.`tool.name` = 'payments'", "span.attributes.`tool.name` LIKE '%ment%'",
        "span.attributes.retries > 1", "span.attributes.`tool.name` IN ('payments', 'orders_db')",
    ]  # fmt: skip
    for filter_string in filters:
        rare, rare_params = build_search_query(filter_string, None, 100)
        common, common_params = build_search_query(filter_string, None, 100, lambda query: True)
        assert rare.count("EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id") == 0
        assert common.count("EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id") == 1
        conn = store.reader()
        assert conn.execute(rare, rare_params).fetchall() == conn.execute(common, common_params).fetchall()
        lines = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + common, common_params)]
        assert lines[0] == "SCAN t USING INDEX idx_traces_start_ns", lines
        assert any(line.startswith("SCAN spans_fts VIRTUAL TABLE INDEX") for line in lines), lines


def test_tag_trace_and_assessment_filters_seek_indexes(store: Database) -> None:
    assert "SEARCH trace_tags USING INDEX idx_trace_tags_key_value (key=? AND value=?)" in plan(store, "tag.env = 'prod'")
    assert "SEARCH t USING INDEX idx_traces_status_start_ns (status=?)" in plan(store, "trace.status = 'ERROR'")
    assert any("idx_traces_start_ns" in line for line in plan(store, "trace.timestamp_ms > 5"))
    assert "SEARCH a USING INDEX idx_assessments_name_valid (name=? AND valid=?)" in plan(store, "feedback.x = 'y'")


def test_count_query_shares_the_filter() -> None:
    sql, params = build_count_query("tag.env = 'prod'")
    assert sql.startswith("SELECT count(*) FROM traces t WHERE t.trace_id IN (SELECT trace_id FROM trace_tags")
    assert params == {"p0": "env", "p1": "prod"}


# --- property: any text is a result or an InvalidFilter, and the store is untouched --------------


def fingerprint(db: Database) -> str:
    digest = hashlib.sha256()
    for table in ("traces", "spans", "trace_tags", "trace_metadata", "assessments"):
        for row in db.reader().execute(f"SELECT * FROM {table} ORDER BY 1, 2"):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


_FRAGMENTS = [
    "trace.status", "span.name", "span.attributes.`a.b`", "tag.env", "trace.text", "feedback.x",
    "trace.timestamp_ms", "=", "!=", "<", ">=", "LIKE", "ILIKE", "IN", "NOT", "IS", "NULL", "AND", "OR",
    "(", ")", ",", "'OK'", "'%re%'", '"x"', "-1.5", "42", "TRUE", "`", "'", "\\", ".", "%", "_",
]  # fmt: skip
grammarish = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=4), max_size=12).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filter_string=st.text(max_size=200) | grammarish, order=st.lists(st.text(max_size=20) | st.sampled_from(["name", "timestamp_ms DESC"]), max_size=2))
def test_any_text_either_searches_or_raises_invalid_filter_and_changes_nothing(
    store: Database, filter_string: str, order: list[str]
) -> None:
    before = fingerprint(store)
    try:
        ids = search_trace_ids(store, filter_string, order or None, 10)
        assert set(ids) <= set(NAMES)
        count_traces(store, filter_string)
    except InvalidFilter as exc:
        assert "Invalid" in str(exc) or "must be" in str(exc) or "limit" in str(exc) or "order_by" in str(exc)
    assert fingerprint(store) == before
