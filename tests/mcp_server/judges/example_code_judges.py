"""Code judges for the tests, imported by path ('tests.mcp_server.judges.example_code_judges:...')."""

from __future__ import annotations

from typing import Any


def mentions_refund(outputs: Any) -> tuple[bool, str]:
    """Does the answer mention a refund?"""
    found = "refund" in str(outputs).lower()
    return found, "The answer mentions a refund." if found else "No refund is mentioned."


def span_count(trace: Any, expectations: Any) -> dict[str, Any]:
    return {"value": sum(1 for _ in trace.spans()), "rationale": f"expected {expectations}", "metadata": {"n": 1}}


def crashes(inputs: Any) -> bool:
    raise KeyError("customer_id")


def returns_nothing(outputs: Any) -> None:
    return None


async def async_judge(inputs: Any, outputs: Any) -> str:
    return "yes"


def needs_threshold(outputs: Any, threshold: float) -> bool:
    return True
