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


def routed_as_expected(outputs: Any, expectations: Any) -> bool:
    """Did the support agent hand the message to the specialist the dataset record expects?"""
    return outputs["specialist"] == expectations["expected_specialist"]


def answered(outputs: Any) -> bool:
    """Did the target say anything?"""
    return bool(outputs)
