"""store.json_text.dumps: compact, unescaped UTF-8, never invalid JSON."""

from __future__ import annotations

import datetime
import json

import pytest

from store.json_text import dumps


def test_dumps_is_compact_and_keeps_non_ascii_text_as_it_is():
    assert dumps({"a": [1, "é✓"], "b": None}) == '{"a":[1,"é✓"],"b":null}'


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_dumps_refuses_non_finite_numbers_instead_of_writing_invalid_json(number):
    with pytest.raises(ValueError):
        dumps({"temperature": number})


def test_dumps_writes_values_json_has_no_type_for_as_their_text():
    assert json.loads(dumps({"at": datetime.date(2024, 1, 2)})) == {"at": "2024-01-02"}


def test_dumps_keeps_integers_beyond_64_bits_exactly():
    assert dumps(2**70) == str(2**70)
