"""The progress bar that long commands (evaluate, optimize, judge align) draw on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mcp_server.terminal.tables import terminal_text

PROGRESS_MESSAGE_CHARS = 60


@contextmanager
def progress_bar(label: str = "evaluating") -> Iterator[Any]:
    """A transient bar on stderr; yields a progress(done, total, message) callback."""
    columns = (
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[message]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None, message="")

        def report(done: int, total: int, message: str) -> None:
            # The message names judges and traces, and is shown in a markup template: text, never markup.
            message = escape(terminal_text(message[:PROGRESS_MESSAGE_CHARS]))
            progress.update(task, completed=done, total=total, message=message)

        yield report
