"""SearchTraceRegex: every match of an RE2 pattern in one trace's span text, with its span and field.

The scan runs over the stored text as UTF-8 bytes, a chunk of spans at a time, so RE2 works in C
over each field without a decode, a re-encode or a JSON parse. Every match is counted; only the
page's matches are turned into answers (their field path, character position and context), which
is where decoding happens, for those fields alone.

A page token holds the position of the page's last match (span row, field, byte offset); the
next page takes the matches after it. Spans are scanned in storage order, where a span that
arrives later comes last, so matches in spans arriving between pages never repeat or shift a
page; total_matches is counted anew on every page, as the trace is at that call.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from itertools import islice
from typing import Any

from pydantic import BaseModel, Field

from mcp_server.tooling.paging import (
    ENVELOPE_RESERVE,
    Page,
    check_range,
    clip,
    issue_token,
    next_page_notice,
    read_token,
    state_int,
)
from mcp_server.traces.json_paths import JsonLocator
from mcp_server.traces.patterns import compile_pattern
from store import Database
from store.errors import InvalidPattern
from store.ids import normalize_trace_id
from store.records import SEARCHED_FIELDS, SpanText
from store.spans import iter_span_texts

TOOL = "SearchTraceRegex"
MAX_MATCHES = 500
"""Largest max_matches accepted."""
MAX_SURROUNDING = 1_000
"""Largest surrounding_content_length accepted."""
MATCH_CHARS = 200
"""Matched text longer than this is cut (its full length is given)."""
SPAN_NAME_CHARS = 200
FIELD_CHARS = 500
"""A match's field path (built from JSON keys, which come from the wire) is cut to this length."""
ANSWER_CHARS = 40_000
"""Size cap of one answer; a page holds fewer than max_matches matches rather than exceed it."""
MAX_COUNTED_MATCHES = 1_000_000
"""Counting stops here (about 1.5 s of counting); the total is then a lower bound."""
PREFILTER_SPANS = 64
"""Spans whose text is joined for one first-pass search; only batches that match are scanned
field by field. One RE2 call per field costs more than the scan itself on a typical trace."""
SEARCH_SECONDS = 20.0
"""A scan stops after this long (only a pathological pattern on a huge trace gets near it)."""

_JSON_FIELDS = frozenset({"inputs", "outputs", "attributes", "events"})

DESCRIPTION = """\
Find a regex (RE2, (?i) for any case) in ONE trace's span text (inputs, outputs, attributes,
events as JSON text): each match's span_id, field and context. Locates evidence before GetSpan.
Example: SearchTraceRegex(trace_id="4bf92f35...", pattern="(?i)rate.?limit|429")"""


class RegexMatch(BaseModel):
    """One match, with where it is and what is around it."""

    span_id: str
    span_name: str
    field: str = Field(description="Decoded path of the value holding the match, e.g. 'attributes.http.url'.")
    position: int = Field(description="Character offset of the match in the field's text (its JSON text for JSON fields).")
    match: str = Field(description=f"The matched text, cut to {MATCH_CHARS} characters.")
    match_chars: int = Field(description="Length of the whole match in characters.")
    before: str
    after: str


class RegexSearchResult(BaseModel):
    """A page of matches of a pattern in one trace."""

    trace_id: str
    pattern: str
    total_matches: int = Field(description="All matches in the trace, not just this page.")
    total_is_exact: bool
    spans_with_matches: int
    first_match_number: int = Field(description="1-based number of this page's first match in the whole result.")
    matches: list[RegexMatch]
    next_page_token: str | None = None
    notice: str | None = None


class _FieldView:
    """One field's bytes seen as text: character offsets and paths for increasing byte offsets."""

    def __init__(self, field: str, data: bytes) -> None:
        self.field = field
        self.data = data
        self._byte = 0
        self._char = 0
        self._locator: JsonLocator | None = None

    def chars(self, byte: int) -> int:
        if byte < self._byte:
            self._byte = self._char = 0
        self._char += len(self.data[self._byte : byte].decode("utf-8", "ignore"))
        self._byte = byte
        return self._char

    def path(self, char: int) -> str:
        if self.field not in _JSON_FIELDS:
            return self.field
        if self._locator is None:
            self._locator = JsonLocator(self.data.decode("utf-8", "replace"))
        return self.field + self._locator.path(char)


def search_trace_regex(
    db: Database,
    trace_id: str,
    pattern: str,
    *,
    max_matches: int = 50,
    surrounding_content_length: int = 100,
    page_token: str | None = None,
) -> RegexSearchResult:
    """All matches of `pattern` in the trace's span text: the true total and one page of them."""
    trace_id = normalize_trace_id(trace_id)
    check_range("max_matches", max_matches, 1, MAX_MATCHES)
    check_range("surrounding_content_length", surrounding_content_length, 0, MAX_SURROUNDING)
    arguments = {
        "trace_id": trace_id,
        "pattern": pattern,
        "max_matches": max_matches,
        "surrounding_content_length": surrounding_content_length,
    }
    state = read_token(page_token, TOOL, arguments)
    resume = None
    if state is not None:
        resume = (
            state_int(state, "row", TOOL),
            state_int(state, "field", TOOL, high=len(SEARCHED_FIELDS) - 1),
            state_int(state, "at", TOOL),
        )
    regex = compile_pattern(pattern, "pattern", allow_empty_match=False)
    texts = iter_span_texts(db, trace_id)

    page: Page[RegexMatch] = Page(ANSWER_CHARS - ENVELOPE_RESERVE - len(pattern), max_matches)
    last: tuple[int, int, int] | None = None
    total = before = spans_with_matches = 0
    exact = True
    deadline = time.monotonic() + SEARCH_SECONDS
    prefilter = _prefilter(pattern)
    literal = _literal(pattern)
    for batch in _batches(texts, PREFILTER_SPANS):
        if total >= MAX_COUNTED_MATCHES or time.monotonic() > deadline:
            exact = False
            break
        if prefilter is not None and prefilter.search(b"\n".join(t for span in batch for t in span.texts if t)) is None:
            continue
        for span in batch:
            counted_before = total
            for field_index, (field, data) in enumerate(zip(SEARCHED_FIELDS, span.texts, strict=True)):
                if not data:
                    continue
                only_counting = literal is not None and (
                    page.full or (resume is not None and span.row_id < resume[0])
                )
                if only_counting:
                    # Nothing from this field can reach the page: count at C speed, the same
                    # non-overlapping matches finditer would give, without a match object each.
                    found_here = data.count(literal)
                    total += found_here
                    if resume is not None and span.row_id < resume[0]:
                        before += found_here
                    if total >= MAX_COUNTED_MATCHES:
                        break
                    continue
                view: _FieldView | None = None
                for found in regex.finditer(data):
                    total += 1
                    where = (span.row_id, field_index, found.start())
                    if resume is not None and where <= resume:
                        before += 1
                    elif not page.full:
                        view = view or _FieldView(field, data)
                        if page.offer(_present(view, found.span(), span.span_id, span.name, surrounding_content_length)):
                            last = where
                    if total >= MAX_COUNTED_MATCHES:
                        break
                if total >= MAX_COUNTED_MATCHES:
                    break
            if total > counted_before:
                spans_with_matches += 1
            if total >= MAX_COUNTED_MATCHES:
                break

    shown = len(page.items)
    token = None
    if last is not None and before + shown < total:
        token = issue_token(TOOL, arguments, {"row": last[0], "field": last[1], "at": last[2]})
    return RegexSearchResult(
        trace_id=trace_id,
        pattern=pattern,
        total_matches=total,
        total_is_exact=exact,
        spans_with_matches=spans_with_matches,
        first_match_number=before + 1 if shown else 0,
        matches=page.items,
        next_page_token=token,
        notice=_notice(before, shown, total, exact, token, resume is not None and not shown),
    )


_LITERAL = re.compile(r"[A-Za-z0-9 _\-:,;'\"@/=<>!%&~`#]+")
"""Patterns made only of these characters match themselves in RE2: no metacharacter among them."""


def _literal(pattern: str) -> bytes | None:
    """The pattern's bytes when it is a plain literal, whose matches bytes.count can count."""
    return pattern.encode() if _LITERAL.fullmatch(pattern) else None


_CLEARS_FLAGS = re.compile(r"\(\?[A-Za-z]*-")
"""An inline flag group that clears flags, e.g. (?-m), (?s-m:...), (?-sim); over-matching (an
escaped paren, a character class) only costs the first pass, never a match."""


def _prefilter(pattern: str) -> Any:
    """The pattern for a first pass over many fields joined by newlines, or None when that pass
    could miss a match.

    Sound because, with (?m), ^ and $ match next to the joining newline exactly where they matched
    at a field's start or end, and \\b and \\B see the newline as the non-word context a field's
    edge has; the pass may find matches that span two fields, which the per-field scan then
    discards. Only \\A, \\z and an inline group that clears flags (it could clear the m) would
    make it miss, so such patterns go field by field. Flags that only set (?i), (?s), (?U) cannot
    turn m off and keep the first pass."""
    if "\\A" in pattern or "\\z" in pattern or _CLEARS_FLAGS.search(pattern):
        return None
    try:
        return compile_pattern("(?m)" + pattern, "pattern")
    except InvalidPattern:
        return None


def _batches(texts: Iterator[SpanText], size: int) -> Iterator[list[SpanText]]:
    while batch := list(islice(texts, size)):
        yield batch


def _present(view: _FieldView, where: tuple[int, int], span_id: str, span_name: str, context: int) -> RegexMatch:
    start, end = where
    data = view.data
    position = view.chars(start)
    match_chars = view.chars(end) - position
    shown = data[start : min(end, start + 4 * MATCH_CHARS)].decode("utf-8", "ignore")
    before = data[max(0, start - 4 * context) : start].decode("utf-8", "ignore")[-context:] if context else ""
    after = data[end : end + 4 * context].decode("utf-8", "ignore")[:context] if context else ""
    return RegexMatch(
        span_id=span_id,
        span_name=clip(span_name, SPAN_NAME_CHARS),
        field=clip(view.path(position), FIELD_CHARS),
        position=position,
        match=clip(shown, MATCH_CHARS) if match_chars > MATCH_CHARS else shown,
        match_chars=match_chars,
        before=before,
        after=after,
    )


def _notice(before: int, shown: int, total: int, exact: bool, token: str | None, past_end: bool) -> str | None:
    parts: list[str] = []
    if past_end:
        parts.append(f"no matches after the page_token's position; the trace has {total:,} in all.")
    if not exact:
        parts.append(
            f"counting stopped at {total:,} matches (the limit is {MAX_COUNTED_MATCHES:,} matches or "
            f"{SEARCH_SECONDS:.0f} seconds); the true total is higher. Use a more specific pattern."
        )
    if token is not None:
        parts.append(next_page_notice(TOOL, "matches", before + 1, before + shown, total, token))
    return " ".join(parts) or None
