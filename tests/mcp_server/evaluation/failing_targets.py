"""Targets for the dataset evaluation tests, imported by path."""

from __future__ import annotations

import threading

from opentelemetry import trace

LATE_WORK: list[tuple[threading.Thread, threading.Event]] = []
"""(thread, event) of each leaves_work_running call: a test sets the event to end the span."""


def refuses_refunds(question: str, account_id: str = "NW-1") -> str:
    """Answers everything except refund questions, where it raises."""
    if "refund" in question.lower():
        raise RuntimeError("the refunds service is down")
    return f"Noted: {question}"


def leaves_work_running(question: str, account_id: str = "NW-1") -> str:
    """Answers at once and ends a span of its own (a child of the root) after the answer."""
    span = trace.get_tracer("tests.background").start_span("background follow-up")
    started = threading.Event()

    def finish_later() -> None:
        started.wait()
        span.end()

    thread = threading.Thread(target=finish_later)
    thread.start()
    LATE_WORK.append((thread, started))
    return f"Noted: {question}"


def exits(question: str, account_id: str = "NW-1") -> str:
    """An agent that ends the process, as a command-line tool would."""
    raise SystemExit(3)


RELEASE = threading.Event()
"""Set by a test to let `stalls` return."""


def stalls(question: str, account_id: str = "NW-1") -> str:
    """Waits until a test sets RELEASE (at most 30 s)."""
    RELEASE.wait(30)
    return f"Noted, late: {question}"
