"""The filter grammar: what parses into which AST, and what fails with which message."""

from __future__ import annotations

import pytest

from store.errors import InvalidFilter
from store.filters import (
    GRAMMAR,
    MAX_CONDITIONS,
    MAX_FILTER_CHARS,
    BoolOp,
    Condition,
    Field,
    parse_filter,
    parse_order_by,
)


def only(filter_string: str) -> Condition:
    node = parse_filter(filter_string)
    assert isinstance(node, Condition)
    return node


def error(filter_string: object) -> str:
    with pytest.raises(InvalidFilter) as info:
        parse_filter(filter_string)  # type: ignore[arg-type]
    return str(info.value)


# --- fields and their aliases --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("trace.status = 'OK'", Field("trace", "status")),
        ("status = 'OK'", Field("trace", "status")),
        ("attributes.status = 'OK'", Field("trace", "status")),
        ("trace.state = 'OK'", Field("trace", "status")),
        ("trace.timestamp_ms > 1", Field("trace", "timestamp_ms")),
        ("trace.timestamp > 1", Field("trace", "timestamp_ms")),
        ("timestamp > 1", Field("trace", "timestamp_ms")),
        ("trace.execution_time > 1", Field("trace", "execution_time_ms")),
        ("trace.request_id = 'tr-" + "a" * 32 + "'", Field("trace", "trace_id")),
        ("trace.session_id = 's'", Field("trace", "session_id")),
        ("metadata.`mlflow.trace.session` = 's'", Field("trace", "session_id")),
        ("metadata.mlflow.trace.user = 'u'", Field("trace", "user_id")),
        ("trace.run_id = 'r'", Field("metadata", "mlflow.sourceRun")),
        ("trace.text LIKE '%a%'", Field("text", "text")),
        ("span.content ILIKE '%a%'", Field("text", "text")),
        ("tag.env = 'prod'", Field("tag", "env")),
        ("tags.`mlflow.user` = 'alice'", Field("tag", "mlflow.user")),
        ("tag.mlflow.user = 'alice'", Field("tag", "mlflow.user")),
        ("request_metadata.k = 'v'", Field("metadata", "k")),
        ("span.name = 'x'", Field("span", "name")),
        ("SPAN.TYPE = 'tool'", Field("span", "type")),
        ("span.attributes.`tool.name` = 'x'", Field("span_attr", "tool.name")),
        ("span.attributes.llm.model = 'x'", Field("span_attr", "llm.model")),
        ("feedback.correct = 'yes'", Field("assessment", "correct", "feedback")),
        ("expectation.`expected answer` = 'x'", Field("assessment", "expected answer", "expectation")),
        ("assessment.score > 1", Field("assessment", "score", None)),
    ],
)
def test_each_field_spelling_resolves_to_its_field(text: str, field: Field) -> None:
    assert only(text).field == field


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("trace.name = 'a'", "=", "a"),
        ("trace.name == 'a'", "=", "a"),
        ("trace.name != 'a'", "!=", "a"),
        ("trace.name <> 'a'", "!=", "a"),
        ("trace.name like 'a%'", "LIKE", "a%"),
        ("trace.name iLiKe 'a%'", "ILIKE", "a%"),
        ("trace.name IN ('a', \"b\")", "IN", ("a", "b")),
        ("trace.name not in ('a')", "NOT IN", ("a",)),
        ("trace.session_id is null", "IS NULL", None),
        ("trace.session_id IS NOT NULL", "IS NOT NULL", None),
        ("trace.cost < 0.5", "<", 0.5),
        ("trace.cost <= .5", "<=", 0.5),
        ("trace.span_count >= 1e3", ">=", 1000.0),
        ("trace.span_count > -2", ">", -2),
        ("feedback.ok = TRUE", "=", True),
        ("feedback.ok != false", "!=", False),
    ],
)
def test_each_operator_and_literal_parses(text: str, op: str, value: object) -> None:
    cond = only(text)
    assert (cond.op, cond.value) == (op, value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'back\\\\slash'", "back\\slash"),
        ("'100\\%'", "100\\%"),  # LIKE escapes pass through to the pattern
        ("'naïve 東京 🙂'", "naïve 東京 🙂"),
        ("''", ""),
    ],
)
def test_string_literals_unescape_quotes_and_keep_other_backslashes(literal: str, value: str) -> None:
    assert only(f"tag.k = {literal}").value == value


def test_status_values_are_case_insensitive_and_trace_ids_are_normalized() -> None:
    assert only("trace.status = 'error'").value == "ERROR"
    assert only("span.type IN ('tool', 'Llm')").value == ("TOOL", "LLM")
    assert only("trace.trace_id = 'tr-" + "AB" * 16 + "'").value == "ab" * 16


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    node = parse_filter("tag.a = '1' OR tag.b = '2' AND tag.c = '3'")
    assert isinstance(node, BoolOp) and node.op == "OR"
    assert isinstance(node.items[1], BoolOp) and node.items[1].op == "AND"
    grouped = parse_filter("(tag.a = '1' OR tag.b = '2') and tag.c = '3'")
    assert isinstance(grouped, BoolOp) and grouped.op == "AND"
    assert isinstance(grouped.items[0], BoolOp) and grouped.items[0].op == "OR"


def test_an_empty_or_blank_filter_is_no_filter() -> None:
    assert parse_filter(None) is None
    assert parse_filter("") is None
    assert parse_filter("  \n\t ") is None


# --- errors --------------------------------------------------------------------------------------


def test_unknown_field_names_the_position_and_suggests_the_nearest_field() -> None:
    message = error("tag.a = 'x' AND trace.stauts = 'ERROR'")
    assert "unknown field 'trace.stauts'" in message
    assert "did you mean 'trace.status'?" in message
    assert "at position 16" in message
    assert GRAMMAR in message


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("tga.env = 'x'", "did you mean 'tag.env'?"),
        ("feedbak.correct = 'yes'", "did you mean 'feedback.correct'?"),
        ("trace.timestamp_mss > 1", "did you mean 'trace.timestamp_ms'?"),
        ("span.nme = 'x'", "did you mean 'span.name'?"),
        ("executon_time_ms > 5", "did you mean 'trace.execution_time_ms'?"),
    ],
)
def test_misspelled_fields_get_a_did_you_mean(text: str, suggestion: str) -> None:
    assert suggestion in error(text)


def test_error_quotes_the_input_with_a_caret_under_the_fault() -> None:
    lines = error("trace.status = 'OK' AND trace.name ~ 'x'").split("\n")
    assert "unexpected character '~'" in lines[0]
    assert lines[1].strip() == "trace.status = 'OK' AND trace.name ~ 'x'"
    assert lines[2].index("^") == lines[1].index("~")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trace.status = 'OK", "never closed"),
        ("trace.status =", "expected a value"),
        ("trace.status", "expected an operator"),
        ("= 'OK'", "expected a field"),
        ("trace.status = 'OK' trace.name = 'x'", "expected AND, OR or the end"),
        ("trace.status = 'OK' AND", "expected a field"),
        ("(trace.status = 'OK'", "expected ')'"),
        ("trace.status = 'OK')", "no matching '('"),
        ("trace.status < 'OK'", "trace.status does not support <"),
        ("trace.text = 'x'", "trace.text does not support ="),
        ("span.name IS NULL", "span.name does not support IS NULL"),
        ("trace.status = 'DONE'", "trace.status is one of ERROR, IN_PROGRESS, OK, not 'DONE'"),
        ("span.status = 'FAILED'", "span.status is one of ERROR, OK, UNSET"),
        ("trace.timestamp_ms > '2024-01-01'", "trace.timestamp_ms compares with a number"),
        ("trace.name = 42", "needs a quoted string value"),
        ("tag.env = prod", "quote text values: 'prod'"),
        ("feedback.score < 'high'", "< compares numbers"),
        ("trace.name IN 'a'", "IN takes a parenthesized list"),
        ("trace.name IN ()", "expected a value"),
        ("trace.name IN ('a' 'b')", "expected ',' or ')'"),
        ("trace.session_id IS 'x'", "IS must be followed by NULL"),
        ("trace.cost > 12abc", "is not a number"),
        ("trace.cost > 1e999", "out of range"),
        ("trace.trace_id = 'nope'", "is not 32 hex characters"),
        ("tag. = 'x'", "ends with '.'"),
        ("tag.`` = 'x'", "needs a key after the dot"),
        ("trace.status = 'OK' OR", "expected a field"),
    ],
)
def test_each_malformed_filter_says_what_was_wrong(text: str, expected: str) -> None:
    message = error(text)
    assert expected in message
    assert "at position" in message
    assert "Examples:" in message


def test_hostile_input_is_an_invalid_filter_not_a_crash() -> None:
    assert f"limit is {MAX_FILTER_CHARS:,}" in error("(" * 1_000_000)
    assert f"limit is {MAX_FILTER_CHARS:,}" in error("tag.k = '" + "x" * MAX_FILTER_CHARS + "'")
    assert "nest deeper than" in error("(" * 4_000 + "tag.a = 'x'" + ")" * 4_000)
    assert "NUL character" in error("tag.k = 'a\x00b'")
    assert "lone surrogate" in error("tag.k = '\ud800'")
    assert "must be a string" in error(b"tag.k = 'x'")
    many = " AND ".join(f"tag.k{i} = 'v'" for i in range(MAX_CONDITIONS + 1))
    assert f"more than {MAX_CONDITIONS} conditions" in error(many)
    assert "at most 1000 values" in error("tag.k IN (" + ", ".join(["'a'"] * 1001) + ")")


def test_nesting_within_the_limit_parses() -> None:
    node = parse_filter("(" * 20 + "tag.a = 'x'" + ")" * 20)
    assert isinstance(node, Condition)


# --- order_by ------------------------------------------------------------------------------------


def test_order_by_accepts_mlflow_spellings_and_directions() -> None:
    assert parse_order_by(["timestamp_ms DESC", "trace.execution_time_ms asc", "attributes.name"]) == [
        ("timestamp_ms", False),
        ("execution_time_ms", True),
        ("name", True),
    ]
    assert parse_order_by(None) == []
    assert parse_order_by(["trace.timestamp desc"]) == [("timestamp_ms", False)]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["timestmp DESC"], "did you mean 'timestamp_ms'?"),
        (["name SIDEWAYS"], "expected ASC or DESC"),
        (["name", "trace.name DESC"], "lists 'name' twice"),
        (["name DESC extra"], "<field> [ASC|DESC]"),
        ("timestamp_ms DESC", "must be a list of strings"),
        ([42], "must be a string"),
        (["name ~"], "unexpected character"),
        (["name"] * 11, "the limit is 10"),
    ],
)
def test_bad_order_by_says_what_was_wrong(order_by: object, expected: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_order_by(order_by)  # type: ignore[arg-type]
    assert expected in str(info.value)
    assert "order_by:" in str(info.value)
