"""Code judges for the evaluation tests, imported by path
('tests.mcp_server.evaluation.example_judges:answer_length')."""

from __future__ import annotations

from typing import Any


def answer_length(outputs: Any) -> int:
    """The answer's length; crashes on answers whose number is a multiple of 7."""
    number = int(str(outputs).rsplit(" ", 1)[-1])
    if number % 7 == 0:
        raise ValueError(f"cannot judge answer {number}")
    return len(str(outputs))
