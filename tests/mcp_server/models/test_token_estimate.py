"""The one characters-to-tokens estimate: its rule, and that no other module under mcp_server keeps
a rule of its own (a budget reserving by one rule and a limit checked by another would disagree
about the same prompt)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mcp_server
from mcp_server.models.token_estimate import CHARS_PER_TOKEN, estimate_tokens, tokens_in_chars

OWN_RULE = re.compile(r"CHARS_PER_TOKEN\s*=|len\(.*\)\s*//\s*4\b")


def test_tokens_are_characters_over_four_and_never_fewer_than_one() -> None:
    assert CHARS_PER_TOKEN == 4
    assert [tokens_in_chars(n) for n in (0, 3, 4, 7, 401)] == [1, 1, 1, 1, 100]
    assert tokens_in_chars(-5) == 1  # a conversation that shrank still costs its call something
    messages = [{"role": "user", "content": "é" * 40}]  # characters, not UTF-8 bytes
    assert estimate_tokens(messages) == len(json.dumps(messages, ensure_ascii=False)) // 4


def test_no_other_module_estimates_tokens_from_characters_by_a_rule_of_its_own() -> None:
    root = Path(mcp_server.__file__).parent
    own = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "token_estimate.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OWN_RULE.search(line)
    ]
    assert own == []
