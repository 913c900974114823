"""How the CLI shows results to a person at a terminal: rich tables and trees, nothing else.

Every table goes through `print_table`, which fits it to the terminal (rich reads COLUMNS): ids
and names are never cut, since a person pastes them into the next command; one-line text gets
what room is left; and where even that does not fit, the least useful columns are left out and
the table says which (--json on a read command gives every field).

What they print may come from a trace, so control characters in it are shown escaped
(terminal_text), never sent to the terminal as escape sequences."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Span, Text

MIN_WIDTH = {"line": 12, "wrap": 20}
"""The narrowest a 'line' or 'wrap' column is made before columns are left out."""
PREVIEW_CHARS = 300


class OutputConsole(Console):
    """A console whose every printed string and Text goes through terminal_text first: what a
    command prints may come from a trace, and must not drive the terminal it is shown on. Text
    inside another renderable is out of its reach: print_table escapes its cells, and a tree's
    maker its labels (safe_text)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_safe(value) for value in objects), **kwargs)

    def on_broken_pipe(self) -> None:
        # rich's own answer exits 1; the reader of a pipe that closed early (`| head -1`) is
        # mcp_server.cli.main's to handle, as for every other write to stdout.
        raise BrokenPipeError


def _safe(value: object) -> object:
    if isinstance(value, str):
        return terminal_text(value)
    if isinstance(value, Text):
        return safe_text(value)
    return value


def output_console() -> Console:
    """The console for a command's results (stdout), as wide as the terminal, or COLUMNS when
    set (80 for a pipe without it): tables fit it without cutting ids. Lines of text are left
    whole (soft_wrap) for the terminal to wrap, so a pipe or a file gets each message on one line,
    as grep expects. Control characters in what it prints are shown escaped (OutputConsole)."""
    return OutputConsole(highlight=False, soft_wrap=True)


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
    # Escaped before the widths are measured: "\\x1b" takes four columns where ESC took none.
    text = safe_text(value) if isinstance(value, Text) else Text(terminal_text(value))
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
    """Print `rows` as a table that fits `console`'s width (see the module docstring). Its text,
    headers and title included, is shown with control characters escaped (terminal_text)."""
    columns = [replace(column, header=terminal_text(column.header)) for column in columns]
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
    table = Table(title=None if title is None else terminal_text(title))
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


def safe_text(text: Text) -> Text:
    """`text` with terminal_text applied, each style kept on the characters it covered."""
    if not _CONTROL.search(text.plain):
        return text
    bounds = sorted({bound for span in text.spans for bound in (span.start, span.end)} - {0, len(text.plain)})
    safe = Text(style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap, end=text.end)
    for piece in text.divide(bounds):
        # Between two bounds every span covers the whole piece, so it covers the whole escaped piece.
        escaped = terminal_text(piece.plain)
        safe.append_text(Text(escaped, spans=[Span(0, len(escaped), span.style) for span in piece.spans]))
    return safe


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


def print_next_page(console: Console, token: str | None, what: str) -> None:
    """The last line of a page that has a next one: how to get it (--json gives the token as
    next_page_token). The token is bound to the command's other options, so they are repeated."""
    if token:
        console.print(
            Text.assemble((f"more {what}: run this command again, same options, with ", "dim"), f"--page-token {token}")
        )


def print_listing(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
    empty: str | None = None,
    next_page_token: str | None = None,
    more: str = "",
    console: Console | None = None,
) -> None:
    """A page of a list as the list commands print it: with no rows and an `empty` message (what
    to do instead), that message alone; else the table (print_table), then how to get the next
    page when there is one (print_next_page, `more` saying what it holds)."""
    console = console or output_console()
    if not rows and empty is not None:
        console.print(empty)
        return
    print_table(console, columns, rows, title=title)
    print_next_page(console, next_page_token, more)


def to_the_second(iso: str | None) -> str:
    """An ISO instant to the second, e.g. '2025-06-02 09:08:53'."""
    return "-" if iso is None else iso[:19].replace("T", " ")


def value_text(value: Any) -> Text:
    """A judgment's value for a table cell: booleans coloured, floats to four digits, none as -."""
    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("true", style="green") if value else Text("false", style="red")
    if isinstance(value, float):
        return Text(f"{value:.4g}")
    return Text(str(value))
