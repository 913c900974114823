"""A line diff of two texts as the tools answer it: unified diff text, which a terminal prints as it
is and a page colours by each line's first character (the prompt and judge version diffs)."""

from __future__ import annotations

import difflib


def unified_line_diff(old: str, new: str, *, fromfile: str, tofile: str) -> str:
    """The unified diff from `old` to `new` ('' when they are the same text)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=fromfile, tofile=tofile
    )
    # A last line without a newline would run into the next diff line; give it one, as diff does.
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
