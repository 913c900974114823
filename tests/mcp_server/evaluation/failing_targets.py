"""Targets for the dataset evaluation tests, imported by path."""

from __future__ import annotations


def refuses_refunds(question: str, account_id: str = "NW-1") -> str:
    """Answers everything except refund questions, where it raises."""
    if "refund" in question.lower():
        raise RuntimeError("the refunds service is down")
    return f"Noted: {question}"
