"""Tokens estimated from characters, for where no tokenizer or reported usage says how many: what
a call is about to send (the budget's reservation, the agent judge's context and limits), what a
sampled call sent and got back (MCP sampling reports no usage), and the demo agent's stand-in
usage. One rule everywhere, so a budget and the limit it is checked against never disagree about
the same text: CHARS_PER_TOKEN characters to a token, at least one (close enough for an unknown
model's tokenizer)."""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4


def tokens_in_chars(chars: int) -> int:
    """The tokens of `chars` characters of text."""
    return max(1, chars // CHARS_PER_TOKEN)


def estimate_tokens(value: Any) -> int:
    """The tokens of `value` (messages, tool specs, any JSON-able value) as the JSON sent of it."""
    return tokens_in_chars(len(json.dumps(value, ensure_ascii=False, default=str)))
