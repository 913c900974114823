"""Formatting templates (MLflow's semantics) and reading prompt references."""

from __future__ import annotations

import pytest

from mcp_server.prompts import format_template, parse_prompt_ref, template_text
from mcp_server.prompts.uri import PromptRef
from store.errors import InvalidArgument

CHAT = [
    {"role": "system", "content": "You route {{ topic }} requests."},
    {"role": "user", "content": "{{question}}"},
]


def test_format_fills_every_variable_once_and_ignores_values_the_template_does_not_use() -> None:
    text = format_template("Q: {{ question }} / {{question}} {{ not a var }}", {"question": "{{ topic }}", "extra": 1})
    assert text == "Q: {{ topic }} / {{ topic }} {{ not a var }}"
    assert format_template(CHAT, {"topic": "billing", "question": 42}) == [
        {"role": "system", "content": "You route billing requests."},
        {"role": "user", "content": "42"},
    ]


def test_format_with_missing_values_names_them_all_unless_partial() -> None:
    with pytest.raises(InvalidArgument, match=r"needs a value for topic, question \(values given: extra\)"):
        format_template(CHAT, {"extra": 1})
    assert format_template(CHAT, {"topic": "billing"}, allow_partial=True)[1] == {"role": "user", "content": "{{question}}"}


def test_chat_templates_read_as_role_blocks() -> None:
    assert template_text(CHAT) == "system:\nYou route {{ topic }} requests.\n\nuser:\n{{question}}"


@pytest.mark.parametrize(
    ("given", "kwargs", "expected"),
    [
        ("prompts:/router/3", {}, PromptRef("router", 3, None)),
        ("prompts:/router@production", {}, PromptRef("router", None, "production")),
        ("prompts:/router@latest", {}, PromptRef("router", None, None)),
        ("prompts:/router", {}, PromptRef("router", None, None)),
        ("router", {}, PromptRef("router", None, None)),
        ("router", {"version": 2}, PromptRef("router", 2, None)),
        ("prompts:/router", {"alias": "staging"}, PromptRef("router", None, "staging")),
    ],
)
def test_each_reference_form_names_a_version_an_alias_or_the_latest(given: str, kwargs: dict, expected: PromptRef) -> None:
    assert parse_prompt_ref(given, **kwargs) == expected


@pytest.mark.parametrize(
    ("given", "kwargs", "expected"),
    [
        ("prompts:/router/x", {}, "does not end in a version number"),
        ("prompts:/router/0", {}, "does not end in a version number"),
        ("router/3", {}, "neither a prompt name nor a prompt URI"),
        ("prompts:/router/3", {"version": 3}, "already names a version or alias"),
        ("router", {"version": 1, "alias": "a"}, "not both"),
        ("router", {"version": 0}, "version must be a version number"),
        ("prompts:/", {}, "prompt name '' is not valid"),
        ("prompts:/router@", {}, "empty alias"),
    ],
)
def test_malformed_references_say_which_forms_exist(given: str, kwargs: dict, expected: str) -> None:
    with pytest.raises(InvalidArgument, match=expected):
        parse_prompt_ref(given, **kwargs)
