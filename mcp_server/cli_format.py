"""How the CLI shows results to a person at a terminal: rich tables and trees, nothing else.

Every table goes through `print_table`, which fits it to the terminal (rich reads COLUMNS): ids
and names are never cut, since a person pastes them into the next command; one-line text gets
what room is left; and where even that does not fit, the least useful columns are left out and
the table says which (--json on a read command gives every field)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mcp_server.importer import ImportReport
from mcp_server.tools.spans import SpanList
from mcp_server.tools.traces import TraceInfo, TraceSearchResult

MAX_REJECTIONS_SHOWN = 10
MIN_WIDTH = {"line": 12, "wrap": 20}
"""The narrowest a 'line' or 'wrap' column is made before columns are left out."""
PREVIEW_CHARS = 300

_STATUS_STYLE = {"ERROR": "bold red", "OK": "green", "IN_PROGRESS": "yellow", "UNSET": "dim"}


def output_console() -> Console:
    """The console for a command's results (stdout), as wide as the terminal, or COLUMNS when
    set (80 for a pipe without it): tables fit it without cutting ids. Lines of text are left
    whole (soft_wrap) for the terminal to wrap, so a pipe or a file gets each message on one line,
    as grep expects."""
    return Console(highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class Column:
    """A table column. fit 'whole': never cut or wrapped (ids, names, numbers, times); 'line':
    one line, cut with an ellipsis to the room left (previews); 'wrap': wrapped in that room
    (descriptions). When the whole columns do not fit, those with the highest `drop` are left
    out first; 0 is never left out."""

    header: str
    fit: Literal["whole", "line", "wrap"] = "whole"
    drop: int = 0
    justify: Literal["left", "right"] = "left"


Cell = str | Text
"""A cell: a str is shown as it is (never read as markup: it may come from a trace); a Text
carries its own style."""


def _cell(value: Cell, column: Column) -> Text:
    text = value if isinstance(value, Text) else Text(value)
    if column.fit == "line" and "\n" in text.plain:
        text = Text(" ".join(text.plain.split()), style=text.style)
    return text


def _natural_width(texts: Sequence[Text]) -> int:
    return max((Text(line).cell_len for text in texts for line in text.plain.splitlines()), default=0)


def _shares(room: int, wants: list[int]) -> list[int]:
    """Split `room` among columns that want `wants` characters: the narrow ones get what they
    want, the rest share what is left equally."""
    shares = [0] * len(wants)
    for n, k in enumerate(sorted(range(len(wants)), key=lambda k: wants[k])):
        shares[k] = max(1, min(wants[k], room // (len(wants) - n)))
        room -= shares[k]
    return shares


def print_table(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, title: str | None = None
) -> None:
    """Print `rows` as a table that fits `console`'s width (see the module docstring)."""
    cells = [[_cell(value, column) for value, column in zip(row, columns, strict=True)] for row in rows]
    natural = [
        max(_natural_width([Text(column.header)]), _natural_width([row[i] for row in cells]))
        for i, column in enumerate(columns)
    ]

    def needed(shown: list[int]) -> int:
        # Each column has one space of padding on either side and a border after it; one border before.
        return 1 + sum(
            3 + (natural[i] if columns[i].fit == "whole" else min(natural[i], MIN_WIDTH[columns[i].fit])) for i in shown
        )

    shown = list(range(len(columns)))
    while needed(shown) > console.width and any(columns[i].drop for i in shown):
        shown.remove(max((i for i in shown if columns[i].drop), key=lambda i: (columns[i].drop, i)))
    shared = [i for i in shown if columns[i].fit != "whole"]
    room = console.width - 1 - 3 * len(shown) - sum(natural[i] for i in shown if columns[i].fit == "whole")
    widths = dict(zip(shared, _shares(room, [natural[i] for i in shared]), strict=True))
    table = Table(title=title)
    for i in shown:
        column = columns[i]
        if column.fit == "whole":
            # fold, not an ellipsis: on a terminal too narrow for the id, it breaks but stays whole.
            table.add_column(column.header, no_wrap=True, overflow="fold", justify=column.justify)
        else:
            line = column.fit == "line"
            table.add_column(column.header, width=widths[i], no_wrap=line, overflow="ellipsis" if line else "fold",
                             justify=column.justify)  # fmt: skip
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    left_out = [column.header for i, column in enumerate(columns) if i not in shown]
    if left_out:
        shown_at = f"not shown at {console.width} columns: {', '.join(left_out)} (a wider terminal, or COLUMNS, shows them)"
        console.print(Text(shown_at, style="dim"))


_CONTENT_STRING = re.compile(r'"(?:content|text)"\s*:\s*"((?:[^"\\]|\\.)*)')


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(value: object) -> str:
    """Trace content made safe to print: control characters (an ESC starting a terminal sequence,
    a carriage return that hides a line) are shown escaped, as \\x1b, instead of acting."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", str(value))


def preview_text(preview: str | None) -> str:
    """A request or response preview as one line of text: a JSON list of chat messages (or
    {"messages": [...]}) shows the last user message, or else the messages' text; any other
    string shows as it is."""
    if not preview:
        return ""
    text = _messages_text(preview)
    return " ".join((preview if text is None else text).split())


def _messages_text(preview: str) -> str | None:
    try:
        value = json.loads(preview)
    except (ValueError, RecursionError):
        if preview.lstrip()[:1] not in ("[", "{"):
            return None
        # A preview cut short of its end: the message texts as far as they go.
        pieces = [_json_string(found) for found in _CONTENT_STRING.findall(preview)]
        return " ".join(pieces) if pieces else None
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if not (isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value)):
        return None
    users = [m for m in value if m.get("role") == "user"]
    return " ".join(_message_text(m) for m in (users[-1:] or value))


def _message_text(message: dict[str, object]) -> str:
    content = message.get("content", message.get("parts"))
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("content", part.get("text", "")))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _json_string(escaped: str) -> str:
    try:
        return json.loads(f'"{escaped}"')
    except ValueError:  # cut inside an escape sequence
        return escaped


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _status(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


_TRACE_COLUMNS = (
    Column("trace_id"),
    Column("status"),
    Column("duration", justify="right", drop=2),
    Column("name", fit="line", drop=3),
    Column("start (UTC)", drop=6),
    Column("spans", justify="right", drop=5),
    Column("errors", justify="right", drop=4),
    Column("tokens", justify="right", drop=5),
    Column("request", fit="line", drop=1),
)


def print_next_page(console: Console, token: str | None, what: str) -> None:
    """The last line of a page that has a next one: how to get it (--json gives the token as
    next_page_token). The token is bound to the command's other options, so they are repeated."""
    if token:
        console.print(
            Text.assemble((f"more {what}: run this command again, same options, with ", "dim"), f"--page-token {token}")
        )


def to_the_second(iso: str | None) -> str:
    """An ISO instant to the second, e.g. '2025-06-02 09:08:53'."""
    return "-" if iso is None else iso[:19].replace("T", " ")


def print_traces(result: TraceSearchResult) -> None:
    console = output_console()
    if not result.traces:
        console.print("no traces match.")
        return
    rows = [
        (
            trace.trace_id,
            _status(trace.status),
            _ms(trace.duration_ms),
            trace.name or "-",
            to_the_second(trace.start_time),
            str(trace.span_count),
            str(trace.error_count),
            "-" if trace.total_tokens is None else f"{trace.total_tokens:,}",
            preview_text(trace.request_preview),
        )
        for trace in result.traces
    ]
    print_table(console, _TRACE_COLUMNS, rows)
    print_next_page(console, result.next_page_token, "traces match")


def print_trace(info: TraceInfo, spans: SpanList) -> None:
    console = output_console()
    console.print(Text.assemble((info.name or "(no root span yet)", "bold"), "  ", info.trace_id, "  ", _status(info.status)))
    console.print(
        f"{info.start_time or '-'}  {_ms(info.duration_ms)}  {info.span_count} spans, "
        f"{info.error_count} errors, "
        + ("tokens unknown" if info.total_tokens is None else f"{info.total_tokens:,} tokens")
        + (", cost unknown" if info.cost is None else f", cost {info.cost:.4f}")
    )
    for label, value in (("session", info.session_id), ("user", info.user_id), ("service", info.service_name)):
        if value:
            console.print(f"{label}: {value}", markup=False)
    if info.tags:
        console.print("tags: " + ", ".join(f"{k}={v}" for k, v in info.tags.items()), markup=False)
    for label, preview in (("request", info.request_preview), ("response", info.response_preview)):
        if preview:
            console.print(Text.assemble((f"{label}: ", "dim"), preview_text(preview)[:PREVIEW_CHARS]))
    tree = Tree(f"[bold]spans[/] ({spans.total_spans})")
    parents: list[Tree] = [tree]
    for span in spans.spans:
        del parents[span.depth + 1 :]
        label = Text.assemble(
            span.name, "  ", (f"{span.span_type} {span.span_id} +{span.start_offset_ms:,.0f} ms {_ms(span.duration_ms)}", "dim")
        )
        if span.status == "ERROR":
            label.append_text(Text.assemble("  ", _status("ERROR")))
        node = parents[min(span.depth, len(parents) - 1)].add(label)
        parents.append(node)
    console.print(tree, soft_wrap=False)  # a long label wraps in the tree instead of being cropped
    print_next_page(console, spans.next_page_token, f"spans (showing {len(spans.spans)} of {spans.total_matching})")


def print_import_report(report: ImportReport) -> int:
    """Print what each file gave; returns the exit code (1 when a file failed or spans were rejected)."""
    console = output_console()
    for file in report.files:
        # Paths and rejection reasons may hold anything (a span's attribute names): never markup.
        path = escape(str(file.path))
        if file.error:
            console.print(f"[red]{path}: {escape(file.error)}[/]")
            continue
        line = f"{path}: {file.spans_written:,} spans ({file.format})"
        if file.rejected:
            line += f", [red]{file.spans_rejected:,} rejected[/]"
        console.print(line)
        for message in file.rejected[:MAX_REJECTIONS_SHOWN]:
            console.print(f"  [red]rejected:[/] {escape(message)}")
        if file.spans_rejected > MAX_REJECTIONS_SHOWN:
            console.print(f"  ... and {file.spans_rejected - MAX_REJECTIONS_SHOWN} more")
        for note in file.notes:
            console.print(f"  [dim]{escape(note)}[/]")
    console.print(f"imported {report.spans_written:,} spans from {len(report.files) - len(report.failed_files)} file(s)")
    return 1 if report.failed_files or report.spans_rejected else 0
