"""User regular expressions, compiled with RE2 under fixed limits.

RE2 runs in time linear in the text, so no pattern can hang the server; its memory is capped by
`max_mem`, so a pattern whose automaton would be huge fails to compile instead of growing.
Backreferences and look-around are not RE2 syntax and are rejected with RE2's reason.
"""

from __future__ import annotations

from typing import Any

import re2

from store.errors import InvalidPattern

MAX_PATTERN_CHARS = 1_000
"""Longest pattern accepted (name_pattern, pattern)."""

REGEX_MAX_MEM = 8 << 20
"""Bytes RE2 may use for one compiled pattern and its DFA cache; bigger programs fail to compile."""

MAX_PROGRAM_SIZE = 2_000
"""Largest RE2 program accepted. Matching is linear in the text, but when the DFA cache overflows
RE2 falls back to an NFA whose cost per byte grows with the program: counted repetitions such as
.{1000} would make a 50 MB scan take minutes. Measured: about 5 ms per MB per 1,000 instructions
on the NFA path, under 1 ms per MB on the DFA path."""

SYNTAX_HINT = "RE2 syntax (https://github.com/google/re2/wiki/Syntax): no backreferences or look-around; (?i) for case-insensitive."


def compile_pattern(pattern: str, parameter: str, *, allow_empty_match: bool = True) -> Any:
    """The compiled RE2 regex, or InvalidPattern naming `parameter`, RE2's reason and the fix."""
    if not isinstance(pattern, str) or pattern == "":
        raise InvalidPattern(f"{parameter} must be a non-empty regular expression in {SYNTAX_HINT}")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidPattern(
            f"{parameter} has {len(pattern):,} characters; the limit is {MAX_PATTERN_CHARS:,}. Use a shorter pattern."
        )
    options = re2.Options()
    options.max_mem = REGEX_MAX_MEM
    options.log_errors = False
    # Only where a match starts and ends is used; without capture groups RE2 stays on its DFA.
    options.never_capture = True
    try:
        regex = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "unknown error"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidPattern(
            f"{parameter} {_shown(pattern)} is not a valid RE2 pattern: {reason}. Use {SYNTAX_HINT}"
        ) from exc
    if regex.programsize > MAX_PROGRAM_SIZE:
        raise InvalidPattern(
            f"{parameter} {_shown(pattern)} is too complex to run on large traces (RE2 program size "
            f"{regex.programsize:,}; the limit is {MAX_PROGRAM_SIZE:,}). Large counted repetitions such "
            "as .{500} make it big; use + or * or a smaller count."
        )
    if not allow_empty_match and regex.fullmatch("") is not None:
        raise InvalidPattern(
            f"{parameter} {_shown(pattern)} matches the empty string, so it would match at every "
            "position; make it match at least one character (e.g. 'a+' rather than 'a*')."
        )
    return regex


def _shown(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 80 else pattern[:77] + "...")
