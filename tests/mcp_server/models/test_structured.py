"""Reading a JSON object out of a model's answer, and putting the schema in the prompt."""

from __future__ import annotations

import pytest

from mcp_server.models.structured import extract_json_object, with_schema_instructions


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"value": "yes"}', {"value": "yes"}),
        ('  \n{"value": "yes"}\n', {"value": "yes"}),
        ('```json\n{"value": "yes"}\n```', {"value": "yes"}),
        ('```\n{"value": "yes"}\n```', {"value": "yes"}),
        ('Here it is:\n```JSON\n{"value": "yes"}\n```\nAnything else?', {"value": "yes"}),
        ('My verdict: {"value": "no", "why": {"span": "ab"}} -- final.', {"value": "no", "why": {"span": "ab"}}),
        ('Braces in prose {like this} first, then {"value": "yes"}', {"value": "yes"}),
        ('{"text": "a } inside a string", "value": 1}', {"text": "a } inside a string", "value": 1}),
        ('[1, 2] and then {"value": 2}', {"value": 2}),
        ('{"a": 1} {"b": 2}', {"a": 1}),  # the first object
    ],
)
def test_the_json_object_is_found_in_the_answer(answer: str, expected: dict) -> None:
    assert extract_json_object(answer) == expected


def test_a_nested_fragment_of_a_broken_object_is_not_taken_for_the_answer() -> None:
    with pytest.raises(ValueError, match="no complete JSON object"):
        extract_json_object('{"value": "no", "evidence": {"span_id": "ab"}, oops}')


@pytest.mark.parametrize("answer", ["", "   ", "yes", "[1, 2, 3]", '"a string"', "42"])
def test_an_answer_without_an_object_is_an_error(answer: str) -> None:
    with pytest.raises(ValueError):
        extract_json_object(answer)


def test_a_truncated_answer_is_an_error_that_says_so() -> None:
    with pytest.raises(ValueError, match="no complete JSON object"):
        extract_json_object('{"value": "yes", "rationale": "the router')


def test_schema_instructions_extend_the_first_system_message() -> None:
    messages = [{"role": "system", "content": "You are a judge."}, {"role": "user", "content": "q"}]

    sent = with_schema_instructions(messages, {"type": "object"})

    assert len(sent) == 2 and sent[0]["content"].startswith("You are a judge.\n\n")
    assert "JSON Schema" in sent[0]["content"]
    assert messages[0]["content"] == "You are a judge."  # the caller's list is not changed


def test_schema_instructions_become_the_first_message_when_there_is_no_system_message() -> None:
    sent = with_schema_instructions([{"role": "user", "content": "q"}], {"type": "object"})

    assert [m["role"] for m in sent] == ["system", "user"]
