"""parse_guardrails: the [guardrails.NAME] tables, and errors naming the guardrail, the key and what is allowed."""

from __future__ import annotations

import tomllib

import pytest

from mcp_server.guardrails.config import parse_guardrails
from mcp_server.guardrails.pii import ENTITY_TYPES

TOML = """
[guardrails.cards]
kind = "pii"
stages = ["input", "output"]
action = "redact"
entities = ["CREDIT_CARD", "EMAIL"]
min_score = 0.6

[guardrails.injection]
kind = "injection"
stages = ["input"]
action = "block"

[guardrails.policy]
kind = "judge"
stages = ["output"]
action = "flag"
judge = "safety_policy@2"
timeout_s = 3
on_error = "closed"
"""


def test_a_gateway_file_s_guardrails_are_read_with_their_defaults() -> None:
    specs = parse_guardrails(tomllib.loads(TOML)["guardrails"])
    assert list(specs) == ["cards", "injection", "policy"]
    assert specs["cards"].entities == ["CREDIT_CARD", "EMAIL"] and specs["cards"].min_score == 0.6
    assert specs["injection"].roles == ["user", "tool"] and specs["injection"].threshold == 0.5
    policy = specs["policy"]
    assert (policy.judge_name, policy.judge_version, policy.timeout_s, policy.on_error) == ("safety_policy", 2, 3, "closed")
    assert parse_guardrails({"p": {"kind": "pii", "stages": ["input"], "action": "flag"}})["p"].entities == list(ENTITY_TYPES)


@pytest.mark.parametrize(("table", "words"), [
    ({"kind": "regex", "stages": ["input"], "action": "block"}, ["guardrail 'g'", "'kind'", "pii, injection, judge", "'regex'"]),
    ({"kind": "injection", "stages": ["input"], "action": "redact"}, ["guardrail 'g'", "'redact'", "pii guardrails only"]),
    ({"kind": "pii", "stages": ["inbound"], "action": "block"}, ["guardrail 'g'", "'stages.0'", "'input' and 'output'"]),
    ({"kind": "pii", "stages": [], "action": "block"}, ["guardrail 'g'", "'stages'"]),
    ({"kind": "pii", "stages": ["input"], "action": "deny"}, ["guardrail 'g'", "'action'", "'block', 'redact' (pii only) or 'flag'"]),
    ({"kind": "pii", "stages": ["input"], "action": "block", "entities": ["SSN"]}, ["'entities'", "'SSN'", "US_SSN"]),
    ({"kind": "pii", "stages": ["input"], "action": "block", "min_score": 2}, ["'min_score'", "from 0 to 1"]),
    ({"kind": "pii", "stages": ["input"], "action": "block", "threshold": 0.5}, ["'threshold'", "not an option of a pii", "action, entities, kind, max_chars, min_score, stages"]),
    ({"kind": "injection", "stages": ["input"], "action": "block", "roles": ["bot"]}, ["'roles.0'", "'user'", "'tool'"]),
    ({"kind": "judge", "stages": ["output"], "action": "block"}, ["guardrail 'g'", "judge = 'name' or 'name@version'"]),
    ({"kind": "judge", "stages": ["output"], "action": "block", "judge": "safety@0"}, ["'name@version'"]),
    ({"kind": "judge", "stages": ["output"], "action": "block", "judge": "s", "on_error": "maybe"}, ["'on_error'", "'open' or 'closed'"]),
    ({"kind": "judge", "stages": ["output"], "action": "block", "judge": "s", "timeout_s": 0}, ["'timeout_s'", "above 0"]),
])  # fmt: skip
def test_errors_name_the_guardrail_the_key_and_what_is_allowed(table: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        parse_guardrails({"g": table})
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_a_bad_name_or_a_table_that_is_no_table_is_refused() -> None:
    with pytest.raises(ValueError, match="guardrail '9x'.*starting with a letter"):
        parse_guardrails({"9x": {"kind": "pii", "stages": ["input"], "action": "flag"}})
    with pytest.raises(ValueError, match=r"guardrail 'g': \[guardrails.g\] must be a table"):
        parse_guardrails({"g": "pii"})
