"""Searching traces: a parsed filter compiled to SQL over indexes and the full-text index, and run.

Build is split from run: `compile_filter` and `build_search_query` return SQL text and named
parameters (a tool or the CLI can show them; tests EXPLAIN them); `search_trace_ids` and
`count_traces` run them on a reader. Every value is a bound parameter; table and column names come
only from literals here and in store.filters.

Text conditions never scan span payloads when the pattern has a usable word: terms taken from the
pattern select candidate spans from spans_fts (detail=none: terms, prefixes and booleans, no phrases
or columns), and only those candidates are checked against the pattern itself.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from typing import Any, Literal

from store.connection import Database
from store.errors import InvalidArgument, InvalidFilter
from store.filters import (
    GRAMMAR,
    METADATA_OF_COLUMN,
    ORDER_FIELDS,
    SPAN_FIELDS,
    TRACE_FIELDS,
    BoolOp,
    Condition,
    Node,
    parse_filter,
    parse_order_by,
)

MAX_FTS_TERMS = 16
"""Terms past this many in one condition are left to the verification step."""


# --- LIKE patterns and full-text terms ------------------------------------------------------------

_LikeItem = tuple[Literal["lit", "any", "one"], str]


def _like_items(pattern: str) -> list[_LikeItem]:
    """A LIKE pattern as literal runs and wildcards; backslash makes the next character literal."""
    items: list[_LikeItem] = []
    literal: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            literal.append(pattern[i + 1])
            i += 2
            continue
        if ch in "%_":
            if literal:
                items.append(("lit", "".join(literal)))
                literal = []
            items.append(("any" if ch == "%" else "one", ch))
        else:
            literal.append(ch)
        i += 1
    if literal:
        items.append(("lit", "".join(literal)))
    return items


def _to_glob(items: list[_LikeItem]) -> str:
    """GLOB is SQLite's case-sensitive LIKE; its own wildcards are bracketed to stay literal."""
    out = []
    for kind, text in items:
        if kind == "any":
            out.append("*")
        elif kind == "one":
            out.append("?")
        else:
            out.append("".join(f"[{c}]" if c in "*?[" else c for c in text))
    return "".join(out)


def _to_like(items: list[_LikeItem]) -> str:
    """A pattern for SQLite's LIKE ... ESCAPE '\\' (ASCII case-insensitive)."""
    out = []
    for kind, text in items:
        if kind == "lit":
            out.append("".join(f"\\{c}" if c in "%_\\" else c for c in text))
        else:
            out.append(text)
    return "".join(out)


# unicode61 keeps letters and digits and splits on everything else. Characters whose class SQLite's
# (older) Unicode tables might see differently (marks, private use, recent letters) make the word
# boundary next to them uncertain, so no term is taken across them.
_SEP, _WORD, _UNSURE = 0, 1, 2
# The index reads stored JSON with its \n, \t and \r escapes as spaces (store.ingest.fts_text),
# so these characters in a pattern are word boundaries like any separator.
_INDEXED_AS_SPACE = frozenset("\n\t\r")


def _char_class(ch: str) -> int:
    if ch.isascii():
        return _WORD if ch.isalnum() else _SEP
    category = unicodedata.category(ch)
    if category[0] in "ZPS" or category == "Cc":
        return _SEP
    code = ord(ch)
    if category[0] in "LN" and (code < 0x0800 or 0x3040 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7A3):
        return _WORD
    return _UNSURE


def _fragment_terms(text: str, left: str | None, right_wild: bool, words: bool) -> list[str]:
    """FTS5 terms every text matching this literal fragment must contain.

    `left` is the wildcard before the fragment ('any' for %, 'one' for _, None at the start).
    words=True (trace.text): a fragment after % starts at a word boundary. words=False (exact
    LIKE), or after _: its first word may be the tail of a longer word, so it gives no term.
    """
    terms: list[str] = []
    i = 0
    while i < len(text):
        if _char_class(text[i]) != _WORD:
            i += 1
            continue
        j = i
        while j < len(text) and _char_class(text[j]) == _WORD:
            j += 1
        word = text[i:j]
        before = text[i - 1] if i else None
        after_class = _char_class(text[j]) if j < len(text) else None
        prefix = (after_class is None and right_wild) or after_class == _UNSURE
        if before is None:
            starts_word = left is None or (words and left == "any")
        elif before in _INDEXED_AS_SPACE:
            starts_word = True
        else:
            # Other control characters are stored as escapes (\b, \u0001) whose letters glue on.
            starts_word = _char_class(before) == _SEP and not before < " "
        i = j
        if not starts_word or len(word) < 2:
            continue
        terms.append(f'"{word}"' + ("*" if prefix else ""))
    return terms


def _like_terms(items: list[_LikeItem], *, words: bool) -> list[str]:
    terms: list[str] = []
    for index, (kind, text) in enumerate(items):
        if kind == "lit":
            left = items[index - 1][0] if index else None
            terms += _fragment_terms(text, left, index < len(items) - 1, words)
    return terms[:MAX_FTS_TERMS]


def _literal_terms(value: str) -> list[str]:
    """Terms of a whole value, which the JSON text encloses in quotes."""
    return _fragment_terms(value, None, False, False)[:MAX_FTS_TERMS]


# --- Compiler ------------------------------------------------------------------------------------

_INT64 = (-(2**63), 2**63 - 1)
_NS_PER_MS = 1_000_000


IsCommon = Callable[[str], bool]
"""Whether an FTS5 query matches many spans; decides the shape of a text condition's SQL."""


def _never_common(query: str) -> bool:
    return False


class _Sql:
    """Accumulates named bound parameters (:p0, :p1 ...) while conditions compile to SQL text."""

    def __init__(self, is_common: IsCommon = _never_common) -> None:
        self.params: dict[str, Any] = {}
        self.is_common = is_common

    def p(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def plist(self, values: tuple[Any, ...]) -> str:
        return "(" + ", ".join(self.p(v) for v in values) + ")"


def _string_test(sql: _Sql, expr: str, op: str, value: Any) -> str:
    """A string comparison of `expr`; NULL compares false, as in MLflow (a missing key never matches)."""
    if op in ("=", "!="):
        return f"{expr} {op} {sql.p(value)}"
    if op == "LIKE":
        return f"{expr} GLOB {sql.p(_to_glob(_like_items(value)))}"
    if op == "ILIKE":
        return f"{expr} LIKE {sql.p(_to_like(_like_items(value)))} ESCAPE '\\'"
    if op == "IN":
        return f"{expr} IN {sql.plist(value)}"
    if op == "NOT IN":
        return f"{expr} NOT IN {sql.plist(value)}"
    if op == "IS NULL":
        return f"{expr} IS NULL"
    if op == "IS NOT NULL":
        return f"{expr} IS NOT NULL"
    raise AssertionError(op)  # _ops_for admits no other operator


def _ns_test(sql: _Sql, expr: str, op: str, ms: float) -> str:
    """A millisecond comparison on a nanosecond expression, as a range the start_ns index can use.

    The field's value in ms is floor(ns / 1e6), so `ms > 5` is `ns >= 6e6`, `ms = 5` is
    `5e6 <= ns < 6e6`, and a fractional `ms = 5.5` never holds.
    """

    def at_least(bound: int) -> str:
        if bound > _INT64[1]:
            return "0"
        return f"{expr} IS NOT NULL" if bound <= _INT64[0] else f"{expr} >= {sql.p(bound)}"

    def below(bound: int) -> str:
        if bound <= _INT64[0]:
            return "0"
        return f"{expr} IS NOT NULL" if bound > _INT64[1] else f"{expr} < {sql.p(bound)}"

    low, high = math.floor(ms), math.ceil(ms)
    if op == ">":
        return at_least((low + 1) * _NS_PER_MS)
    if op == ">=":
        return at_least(high * _NS_PER_MS)
    if op == "<":
        return below(high * _NS_PER_MS)
    if op == "<=":
        return below((low + 1) * _NS_PER_MS)
    equal = f"({at_least(low * _NS_PER_MS)} AND {below((low + 1) * _NS_PER_MS)})" if low == high else "0"
    return equal if op == "=" else f"({expr} IS NOT NULL AND NOT {equal})"


def _json_text(expr: str, type_expr: str) -> str:
    """A JSON value as text: a string as itself, anything else as its JSON text."""
    return (
        f"(CASE {type_expr} WHEN 'text' THEN {expr} WHEN 'true' THEN 'true' "
        f"WHEN 'false' THEN 'false' WHEN 'null' THEN NULL ELSE CAST({expr} AS TEXT) END)"
    )


def _json_value_test(sql: _Sql, value_expr: str, type_expr: str, op: str, value: Any) -> str:
    """Compare a decoded JSON value (an attribute or an assessment value) with a literal."""
    if op == "IS NOT NULL":
        return f"{type_expr} != 'null'"
    if isinstance(value, bool):
        test = f"{type_expr} = '{'true' if value else 'false'}'"
        return test if op == "=" else f"{type_expr} IN ('true', 'false', 'integer', 'real', 'text') AND NOT {test}"
    values = value if isinstance(value, tuple) else (value,)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        if op in ("<", "<=", ">", ">="):
            return f"{type_expr} IN ('integer', 'real') AND {value_expr} {op} {sql.p(value)}"
        return f"{type_expr} IN ('integer', 'real') AND {_string_test(sql, value_expr, op, value)}"
    if any(isinstance(v, bool) for v in values):
        values = tuple(("true" if v else "false") if isinstance(v, bool) else v for v in values)
    values = tuple(v if isinstance(v, str) else repr(v) for v in values)
    text = _json_text(value_expr, type_expr)
    return _string_test(sql, text, op, values if isinstance(value, tuple) else values[0])


def _compile_trace_field(sql: _Sql, cond: Condition) -> str:
    spec = TRACE_FIELDS[cond.field.name]
    if spec.type == "ms":
        return _ns_test(sql, spec.sql, cond.op, cond.value)
    if spec.type != "str":
        return f"{spec.sql} {cond.op} {sql.p(cond.value)}"
    meta_key = METADATA_OF_COLUMN.get(cond.field.name)
    if meta_key is None:
        return _string_test(sql, spec.sql, cond.op, cond.value)
    # coalesce(column, metadata entry) <op> value, written so the column's index stays usable.
    in_meta = f"t.trace_id IN (SELECT trace_id FROM trace_metadata WHERE key = {sql.p(meta_key)}"
    if cond.op == "IS NULL":
        return f"({spec.sql} IS NULL AND NOT {in_meta}))"
    if cond.op == "IS NOT NULL":
        return f"({spec.sql} IS NOT NULL OR {in_meta}))"
    column_test = _string_test(sql, spec.sql, cond.op, cond.value)
    meta_test = _string_test(sql, "value", cond.op, cond.value)
    return f"({column_test} OR ({spec.sql} IS NULL AND {in_meta} AND {meta_test})))"


def _compile_key_value(sql: _Sql, cond: Condition, table: str) -> str:
    key = sql.p(cond.field.name)
    if cond.op == "IS NULL":
        return f"t.trace_id NOT IN (SELECT trace_id FROM {table} WHERE key = {key})"
    if cond.op == "IS NOT NULL":
        return f"t.trace_id IN (SELECT trace_id FROM {table} WHERE key = {key})"
    test = _string_test(sql, "value", cond.op, cond.value)
    return f"t.trace_id IN (SELECT trace_id FROM {table} WHERE key = {key} AND {test})"


def _compile_span_field(sql: _Sql, cond: Condition) -> str:
    column = SPAN_FIELDS[cond.field.name]
    if cond.field.name == "status":
        if cond.op == "=" and cond.value == "ERROR":
            return "t.error_count > 0"  # the trace row counts its ERROR spans
        # No index on status: probe each candidate trace's spans through (trace_id, span_id).
        test = _string_test(sql, column, cond.op, cond.value)
        return f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id AND {test})"
    test = _string_test(sql, column, cond.op, cond.value)
    # A pattern that does not start with a literal cannot seek the index, but scanning the index
    # reads far fewer pages than the table, whose rows hold the span payloads.
    source = "spans s INDEXED BY idx_spans_name" if column == "s.name" and cond.op != "=" else "spans s"
    return f"t.trace_id IN (SELECT s.trace_id FROM {source} WHERE {test})"


def _any_span(sql: _Sql, cond: Condition, terms: list[str], test: Callable[[], str]) -> str:
    """A trace with a span that passes `test`, taking candidate spans from the FTS terms.

    A rare term: its few candidates are checked and their traces looked up. A common one: reading
    every candidate's row costs more than walking traces (in the page's order) and stopping at
    each trace's first span that passes. No term at all would mean reading every span's JSON, which
    no filter may do on a store of any size: that is an InvalidFilter saying what to add.
    """
    if not terms:
        field = "trace.text" if cond.field.kind == "text" else f"span.attributes.{cond.field.name}"
        raise InvalidFilter(
            f"{field} {cond.op} {cond.value!r} has no word of 2 or more letters or digits to look up "
            "in the full-text index, and a filter never reads every span's text; add such a word "
            f"(e.g. trace.text ILIKE '%refund%', or an attribute key or value with one).\n{GRAMMAR}"
        )
    query = " AND ".join(terms)
    match = f"s.id IN (SELECT rowid FROM spans_fts WHERE spans_fts MATCH {sql.p(query)})"
    if sql.is_common(query):
        return f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id AND {match} AND {test()})"
    return f"t.trace_id IN (SELECT s.trace_id FROM spans s WHERE {match} AND {test()})"


def _compile_span_attr(sql: _Sql, cond: Condition) -> str:
    key, op, value = cond.field.name, cond.op, cond.value
    terms = _literal_terms(key)
    if op == "=" and isinstance(value, str):
        terms += _literal_terms(value)
    elif op in ("LIKE", "ILIKE"):
        terms += _like_terms(_like_items(value), words=False)
    elif op == "IN" and all(isinstance(v, str) for v in value):
        options = [_literal_terms(v) for v in value]
        if all(options):
            terms.append("(" + " OR ".join(f"({' AND '.join(o)})" for o in options) + ")")

    def test() -> str:
        key_param = sql.p(key)
        value_test = _json_value_test(sql, "j.value", "j.type", op, value)
        return f"EXISTS (SELECT 1 FROM json_each(s.attributes) j WHERE j.key = {key_param} AND {value_test})"

    return _any_span(sql, cond, terms[:MAX_FTS_TERMS], test)


_TEXT_COLUMNS = ("s.name", "s.inputs", "s.outputs", "s.attributes", "s.events")


def _compile_text(sql: _Sql, cond: Condition) -> str:
    """trace.text: a span matches when (a) one of its text columns matches the LIKE/ILIKE pattern and
    (b) every word of 2+ characters in the pattern begins a word of the indexed text, or, for the
    first word after a %, begins a word of the indexed text too (so '%efund%' does not find
    'refund': the search is word-based). A pattern without such a word is refused."""
    terms = _like_terms(_like_items(cond.value), words=True)

    def test() -> str:
        return "(" + " OR ".join(_string_test(sql, col, cond.op, cond.value) for col in _TEXT_COLUMNS) + ")"

    return _any_span(sql, cond, terms, test)


def _compile_assessment(sql: _Sql, cond: Condition) -> str:
    where = f"a.name = {sql.p(cond.field.name)} AND a.valid = 1"
    if cond.field.assessment_kind:
        where += f" AND a.kind = {sql.p(cond.field.assessment_kind)}"
    if cond.op == "IS NULL":
        return f"t.trace_id NOT IN (SELECT a.trace_id FROM assessments a WHERE {where})"
    # The value column is JSON text written elsewhere; text that is not JSON compares as itself.
    value = "(CASE WHEN json_valid(a.value) THEN a.value ->> '$' ELSE a.value END)"
    kind = "(CASE WHEN json_valid(a.value) THEN json_type(a.value) ELSE 'text' END)"
    test = _json_value_test(sql, value, kind, cond.op, cond.value)
    return f"t.trace_id IN (SELECT a.trace_id FROM assessments a WHERE {where} AND {test})"


def _compile(sql: _Sql, node: Node) -> str:
    if isinstance(node, BoolOp):
        return "(" + f" {node.op} ".join(_compile(sql, item) for item in node.items) + ")"
    kind = node.field.kind
    if kind == "trace":
        return _compile_trace_field(sql, node)
    if kind == "text":
        return _compile_text(sql, node)
    if kind == "tag":
        return _compile_key_value(sql, node, "trace_tags")
    if kind == "metadata":
        return _compile_key_value(sql, node, "trace_metadata")
    if kind == "span":
        return _compile_span_field(sql, node)
    if kind == "span_attr":
        return _compile_span_attr(sql, node)
    return _compile_assessment(sql, node)


def compile_filter(filter_string: str | None, is_common: IsCommon = _never_common) -> tuple[str, dict[str, Any]]:
    """The SQL boolean expression over `traces AS t` that a filter_string compiles to, and its
    named parameters (:p0, :p1 ...); "1" for an empty filter. Raises InvalidFilter with the grammar.

    `is_common(fts_query)` says whether a full-text query matches many spans (see
    `common_terms_probe`); without it every term is planned as a rare one."""
    node = parse_filter(filter_string)
    if node is None:
        return "1", {}
    sql = _Sql(is_common)
    return _compile(sql, node), sql.params


def _sort_keys(order_by: list[str] | None) -> list[tuple[str, bool]]:
    """(order field, ascending) per sort key: order_by's, then timestamp_ms descending (newest first)
    and trace_id ascending where order_by does not name them, so the order is total."""
    keys = parse_order_by(order_by)
    names = {name for name, _ in keys}
    if "timestamp_ms" not in names:
        keys.append(("timestamp_ms", False))
    if "trace_id" not in names:
        keys.append(("trace_id", True))
    return keys


def compile_order_by(order_by: list[str] | None) -> str:
    """The ORDER BY clause (without the keywords) for order_by: newest first by default, and
    always ending in trace_id so equal keys page in a stable order."""
    return ", ".join(f"{ORDER_FIELDS[name]} {'ASC' if asc else 'DESC'}" for name, asc in _sort_keys(order_by))


COMMON_CANDIDATES = 2_000
"""An FTS query matching at least this many spans is planned per trace (see _any_span): checking
one candidate's row costs about 3 us, so this bounds the rare-term plan to a few milliseconds."""


def common_terms_probe(db: Database) -> IsCommon:
    """An is_common for compile_filter that counts (at most COMMON_CANDIDATES of) a query's matches."""

    def is_common(query: str) -> bool:
        row = db.reader().execute(
            "SELECT count(*) FROM (SELECT 1 FROM spans_fts WHERE spans_fts MATCH ? LIMIT ?)",
            (query, COMMON_CANDIDATES),
        ).fetchone()
        return int(row[0]) >= COMMON_CANDIDATES

    return is_common


def build_search_query(
    filter_string: str | None,
    order_by: list[str] | None,
    max_results: int,
    is_common: IsCommon = _never_common,
) -> tuple[str, dict[str, Any]]:
    """The SELECT of the first max_results trace ids of a search, and its named parameters."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0:
        raise InvalidArgument(f"max_results must be a whole number >= 0, got {max_results!r}.")
    where, params = compile_filter(filter_string, is_common)
    order = compile_order_by(order_by)
    # SQLite integers are 64-bit; a larger page means "all of them" anyway.
    params["limit"] = min(max_results, 2**62)
    sql = f"SELECT t.trace_id FROM traces t WHERE {where} ORDER BY {order} LIMIT :limit"
    return sql, params


def build_count_query(
    filter_string: str | None, is_common: IsCommon = _never_common
) -> tuple[str, dict[str, Any]]:
    """The SELECT count(*) of the traces a filter_string matches, and its named parameters."""
    where, params = compile_filter(filter_string, is_common)
    return f"SELECT count(*) FROM traces t WHERE {where}", params


def search_trace_ids(
    db: Database, filter_string: str | None, order_by: list[str] | None, max_results: int
) -> list[str]:
    """Ids of the traces matching filter_string (MLflow search_traces syntax; see
    store.filters.GRAMMAR), sorted by order_by (newest first by default, ties by trace_id), the
    first max_results of them (search_trace_page pages further). Raises InvalidFilter for a filter
    or order_by that does not parse, InvalidArgument for a negative max_results."""
    sql, params = build_search_query(filter_string, order_by, max_results, common_terms_probe(db))
    if max_results == 0:
        return []
    return [row[0] for row in db.reader().execute(sql, params)]


def count_traces(db: Database, filter_string: str | None) -> int:
    """How many traces match filter_string; raises InvalidFilter as search_trace_ids does."""
    sql, params = build_count_query(filter_string, common_terms_probe(db))
    return int(db.reader().execute(sql, params).fetchone()[0])


# --- Keyset pages ---------------------------------------------------------------------------------

KEYSET_TEXT_CHARS = 100
"""search_trace_page sorts a text key (name, status, session_id, user_id) by its first this-many
characters, so a page's position, which a page token carries, stays small."""

_TEXT_ORDER_KEYS = frozenset({"name", "status", "session_id", "user_id"})


def _keyset_order(order_by: list[str] | None) -> list[tuple[str, bool]]:
    """(SQL expression, ascending) per sort key of _sort_keys (the order compile_order_by gives), so
    the order is total and a position names one place in it."""
    return [
        (f"substr({ORDER_FIELDS[name]}, 1, {KEYSET_TEXT_CHARS})" if name in _TEXT_ORDER_KEYS else ORDER_FIELDS[name], asc)
        for name, asc in _sort_keys(order_by)
    ]


def _after(keys: list[tuple[str, bool]], position: tuple[Any, ...], params: dict[str, Any]) -> str:
    """Rows strictly after `position` in the order of `keys`: equal on the first i keys and beyond
    on key i, for some i. SQLite sorts NULL first ascending and last descending."""
    if len(position) != len(keys) or not all(
        v is None or (isinstance(v, str | int | float) and not isinstance(v, bool)) for v in position
    ):
        raise InvalidArgument(f"after must hold {len(keys)} sort-key values (str, number or None); got {position!r}.")
    names = []
    for index, value in enumerate(position):
        names.append(f":k{index}")
        params[f"k{index}"] = value
    options = []
    for index, (expr, asc) in enumerate(keys):
        same = [f"{keys[j][0]} IS NULL" if position[j] is None else f"{keys[j][0]} = {names[j]}" for j in range(index)]
        if position[index] is None:
            beyond = f"{expr} IS NOT NULL" if asc else "0"
        else:
            beyond = f"{expr} > {names[index]}" if asc else f"({expr} < {names[index]} OR {expr} IS NULL)"
        options.append("(" + " AND ".join([*same, beyond]) + ")")
    return "(" + " OR ".join(options) + ")"


def search_trace_page(
    db: Database,
    filter_string: str | None,
    order_by: list[str] | None,
    max_results: int,
    after: tuple[Any, ...] | None,
) -> list[tuple[str, tuple[Any, ...]]]:
    """Like search_trace_ids, but in pages, each continuing strictly after a position (not at an
    offset): (trace_id, position) for at most max_results traces; pass the last one's position as `after`
    for the next page. Traces written between pages then never shift a page (none is listed twice
    or skipped unless its own sort keys change). Text keys sort by their first KEYSET_TEXT_CHARS
    characters. Raises InvalidFilter; InvalidArgument for a bad max_results or `after`."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0:
        raise InvalidArgument(f"max_results must be a whole number >= 0, got {max_results!r}.")
    keys = _keyset_order(order_by)
    where, params = compile_filter(filter_string, common_terms_probe(db))
    if after is not None:
        where = f"({where}) AND {_after(keys, tuple(after), params)}"
    params["limit"] = min(max_results, 2**62)
    columns = ", ".join(expr for expr, _ in keys)
    order = ", ".join(f"{expr} {'ASC' if asc else 'DESC'}" for expr, asc in keys)
    sql = f"SELECT t.trace_id, {columns} FROM traces t WHERE {where} ORDER BY {order} LIMIT :limit"
    return [(row[0], tuple(row[1:])) for row in db.reader().execute(sql, params)]
