"""MLflow's trace filter grammar: a filter_string or order_by parsed into a small, checked AST.

Parsing is iterative where input controls the depth (AND/OR chains) and bounded where it recurses
(parentheses), so hostile input is an InvalidFilter, never a RecursionError or a hang. Every error
names the position, quotes the input with a caret, and shows GRAMMAR. store.search compiles the
AST to SQL; the SQL expressions for trace columns live in the field tables here, beside their names.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Literal

from store.errors import InvalidFilter, InvalidId
from store.ids import normalize_trace_id

MAX_FILTER_CHARS = 10_000
MAX_CONDITIONS = 50
MAX_NESTING = 20
MAX_IN_VALUES = 1_000
MAX_ORDER_BY = 10

GRAMMAR = """\
Filter grammar (MLflow search_traces): <field> <operator> <value>, joined with AND (OR and
parentheses also work; AND binds first). Keywords are case-insensitive.
  trace.status (OK|ERROR|IN_PROGRESS), trace.name, trace.trace_id, trace.session_id, trace.user_id,
  trace.service_name: = != LIKE ILIKE IN NOT IN IS [NOT] NULL
  trace.timestamp_ms, trace.end_time_ms, trace.execution_time_ms, trace.span_count,
  trace.error_count, trace.input_tokens, trace.output_tokens, trace.total_tokens, trace.cost:
  = != < <= > >=
  trace.text (or span.content): LIKE ILIKE, on each span's name, inputs, outputs, attributes and
  events (the last four as JSON text). Word-based: each word of 2+ characters in the pattern must
  begin a word in the span (the last word before a % may be a prefix), so '%fund%' does not find
  'refund'; then the span must match the pattern itself, so a phrase matches as a phrase.
  tag.<key>, metadata.<key> (`backquote` keys with dots): = != LIKE ILIKE IN NOT IN IS [NOT] NULL
  span.name, span.type, span.status (OK|ERROR|UNSET): = != LIKE ILIKE IN NOT IN (any span)
  span.attributes.<key>: = != < <= > >= LIKE ILIKE IN NOT IN IS NOT NULL (any span)
  feedback.<name>, expectation.<name>, assessment.<name>: = != < <= > >= LIKE ILIKE IN NOT IN
  IS [NOT] NULL (valid assessments only)
  values: 'text' or "text" (\\' or '' inside), numbers (-1.5, 1e3), TRUE, FALSE, ('a', 'b') for IN;
  LIKE is case-sensitive, ILIKE folds ASCII case; % any run, _ one character, \\% a literal %.
Examples:
  trace.status = 'ERROR' AND trace.timestamp_ms > 1700000000000
  span.type = 'TOOL' AND span.attributes.`tool.name` = 'search'
  tag.`mlflow.user` IN ('alice', 'bob') AND trace.text ILIKE '%refund%'"""

ORDER_BY_GRAMMAR = """\
order_by: a list of "<field> [ASC|DESC]" (default ASC), fields: timestamp_ms, execution_time_ms,
end_time_ms, name, status, trace_id, session_id, user_id, span_count, error_count, input_tokens,
output_tokens, total_tokens, cost (optionally prefixed trace. or attributes.). Without order_by:
newest first. Ties always break on trace_id.
Example: ["trace.execution_time_ms DESC", "name"]"""


# --- The AST -------------------------------------------------------------------------------------

FieldKind = Literal["trace", "text", "tag", "metadata", "span", "span_attr", "assessment"]


@dataclass(frozen=True, slots=True)
class Field:
    kind: FieldKind
    name: str  # trace field or span field name; tag/metadata/attribute key; assessment name
    assessment_kind: str | None = None  # 'feedback', 'expectation', or None for any


@dataclass(frozen=True, slots=True)
class Condition:
    field: Field
    op: str  # = != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL
    value: Any  # str, int, float, bool, None, or a tuple of these for IN
    pos: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: Literal["AND", "OR"]
    items: tuple[Node, ...]


Node = Condition | BoolOp


# --- Fields --------------------------------------------------------------------------------------

_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_VALUE_OPS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")


@dataclass(frozen=True, slots=True)
class TraceField:
    sql: str  # an expression over `traces AS t`
    type: Literal["str", "int", "float", "ms"]
    values: frozenset[str] | None = None  # the allowed values, compared upper-cased


_STATUSES = frozenset({"OK", "ERROR", "IN_PROGRESS"})
TRACE_FIELDS: dict[str, TraceField] = {
    "status": TraceField("t.status", "str", _STATUSES),
    "name": TraceField("t.name", "str"),
    "trace_id": TraceField("t.trace_id", "str"),
    "session_id": TraceField("t.session_id", "str"),
    "user_id": TraceField("t.user_id", "str"),
    "service_name": TraceField("t.service_name", "str"),
    "timestamp_ms": TraceField("t.start_ns", "ms"),
    "end_time_ms": TraceField("t.end_ns", "ms"),
    "execution_time_ms": TraceField("(t.end_ns - t.start_ns)", "ms"),
    "span_count": TraceField("t.span_count", "int"),
    "error_count": TraceField("t.error_count", "int"),
    "input_tokens": TraceField("t.input_tokens", "int"),
    "output_tokens": TraceField("t.output_tokens", "int"),
    "total_tokens": TraceField("t.total_tokens", "int"),
    "cost": TraceField("t.cost", "float"),
}
_TRACE_ALIASES = {
    "state": "status",
    "request_id": "trace_id",
    "timestamp": "timestamp_ms",
    "end_time": "end_time_ms",
    "execution_time": "execution_time_ms",
}
# MLflow keeps these in trace metadata; the store promotes them to columns. Either spelling reads
# the column, falling back to the metadata entry for a trace whose column is empty.
_PROMOTED_METADATA = {"mlflow.trace.session": "session_id", "mlflow.trace.user": "user_id"}
METADATA_OF_COLUMN = {column: key for key, column in _PROMOTED_METADATA.items()}
SPAN_FIELDS = {"name": "s.name", "type": "s.span_type", "status": "s.status_code"}
_SPAN_STATUSES = frozenset({"OK", "ERROR", "UNSET"})

_TRACE_PREFIXES = ("trace", "attribute", "attributes", "attr")
_KEYED_PREFIXES = {
    "tag": "tag", "tags": "tag", "metadata": "metadata", "request_metadata": "metadata",
    "feedback": "feedback", "expectation": "expectation", "assessment": "assessment",
}  # fmt: skip
_KNOWN_FIELDS = (
    [f"trace.{name}" for name in [*TRACE_FIELDS, *_TRACE_ALIASES, "text", "run_id"]]
    + ["tag.<key>", "metadata.<key>", "span.name", "span.type", "span.status", "span.content"]
    + ["span.attributes.<key>", "feedback.<name>", "expectation.<name>", "assessment.<name>"]
)


def _ops_for(field: Field) -> tuple[str, ...]:
    if field.kind == "trace":
        return _NUMBER_OPS if TRACE_FIELDS[field.name].type != "str" else _STRING_OPS
    if field.kind == "text":
        return ("LIKE", "ILIKE")
    if field.kind in ("tag", "metadata"):
        return _STRING_OPS
    if field.kind == "span":
        return _STRING_OPS[:-2]
    if field.kind == "span_attr":
        return _VALUE_OPS[:-2] + ("IS NOT NULL",)
    return _VALUE_OPS


# --- Errors --------------------------------------------------------------------------------------


def _fail(message: str, source: str, pos: int, *, grammar: str = GRAMMAR) -> InvalidFilter:
    """An InvalidFilter that quotes the input around `pos` with a caret under it."""
    start = max(0, pos - 40)
    window = source[start : pos + 40]
    shown = "".join(ch if ch.isprintable() else "?" for ch in window)
    lead = "..." if start else ""
    tail = "..." if pos + 40 < len(source) else ""
    caret = " " * (len(lead) + pos - start) + "^"
    return InvalidFilter(
        f"Invalid filter at position {pos}: {message}\n    {lead}{shown}{tail}\n    {caret}\n{grammar}"
    )


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


# --- Lexer ---------------------------------------------------------------------------------------

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "TRUE", "FALSE"})
_OPERATORS = ("!=", "<>", "<=", ">=", "==", "=", "<", ">")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["ident", "keyword", "string", "number", "op", "(", ")", ",", "end"]
    value: Any  # ident: list of key segments; keyword: upper-case word; string/number: the value
    pos: int


def _check_text(text: object, what: str, grammar: str) -> str:
    if not isinstance(text, str):
        raise InvalidFilter(f"{what} must be a string, got {type(text).__name__}.\n{grammar}")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidFilter(
            f"{what} is {len(text):,} characters; the limit is {MAX_FILTER_CHARS:,}. "
            f"Split the search into narrower filters.\n{grammar}"
        )
    for pos, ch in enumerate(text):
        if ch == "\x00":
            raise _fail("a NUL character is not allowed in a filter", text, pos, grammar=grammar)
        if "\ud800" <= ch <= "\udfff":
            raise _fail("a lone surrogate is not valid Unicode", text, pos, grammar=grammar)
    return text


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """A '...', "..." or `...` literal at pos: (its value, the position after it).

    The quote is escaped by doubling it or by a backslash; a backslash before any other character
    stays in the value, so LIKE patterns keep their \\% and \\_ escapes.
    """
    quote = text[pos]
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
            else:
                return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise _fail(f"the quote {quote} opened here is never closed", text, pos)


def _read_number(text: str, pos: int) -> tuple[int | float, int]:
    i = pos + 1 if text[pos] == "-" else pos
    digits = 0
    while i < len(text) and text[i].isdigit() and text[i].isascii():
        i, digits = i + 1, digits + 1
    if i < len(text) and text[i] == ".":
        i += 1
        while i < len(text) and text[i].isdigit() and text[i].isascii():
            i, digits = i + 1, digits + 1
    if i < len(text) and text[i] in "eE":
        j = i + 1
        if j < len(text) and text[j] in "+-":
            j += 1
        if j < len(text) and text[j].isdigit():
            i = j
            while i < len(text) and text[i].isdigit() and text[i].isascii():
                i += 1
    literal = text[pos:i]
    if not digits or (i < len(text) and _is_word_char(text[i])):
        raise _fail(f"{text[pos : i + 1]!r} is not a number", text, pos)
    if any(c in literal for c in ".eE"):
        value: int | float = float(literal)
        if not math.isfinite(value):
            raise _fail(f"the number {literal} is out of range", text, pos)
    else:
        value = int(literal)
        if not -(2**63) <= value < 2**63:
            value = float(value)  # compared as a real, like SQLite would
    return value, i


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(_Token(ch, ch, i))  # type: ignore[arg-type]
            i += 1
        elif ch in "'\"":
            value, end = _read_quoted(text, i)
            tokens.append(_Token("string", value, i))
            i = end
        elif ch.isdigit() or (ch in "-." and i + 1 < n and text[i + 1].isdigit()):
            number, end = _read_number(text, i)
            tokens.append(_Token("number", number, i))
            i = end
        elif ch == "`" or _is_word_char(ch):
            segments, end = _read_identifier(text, i)
            if len(segments) == 1 and text[i] != "`" and segments[0].upper() in _KEYWORDS:
                tokens.append(_Token("keyword", segments[0].upper(), i))
            else:
                tokens.append(_Token("ident", segments, i))
            i = end
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise _fail(f"unexpected character {ch!r}", text, i)
            tokens.append(_Token("op", {"==": "=", "<>": "!="}.get(op, op), i))
            i += len(op)
    tokens.append(_Token("end", None, n))
    return tokens


def _read_identifier(text: str, pos: int) -> tuple[list[str], int]:
    """Dot-separated segments, each bare (letters, digits, _) or quoted with ` ' or "."""
    segments: list[str] = []
    i = pos
    while True:
        if i < len(text) and (text[i] == "`" or (segments and text[i] in "'\"")):
            segment, i = _read_quoted(text, i)
        else:
            start = i
            while i < len(text) and _is_word_char(text[i]):
                i += 1
            if i == start:
                raise _fail("a field name ends with '.'; name the key after it", text, i - 1)
            segment = text[start:i]
        segments.append(segment)
        if i < len(text) and text[i] == ".":
            i += 1
        else:
            return segments, i


# --- Parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.conditions = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def fail(self, message: str, token: _Token | None = None) -> InvalidFilter:
        return _fail(message, self.text, (token or self.peek()).pos)

    def is_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.value in words

    def parse(self) -> Node:
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            if token.kind == ")":
                raise self.fail("this ')' has no matching '('")
            raise self.fail(f"expected AND, OR or the end of the filter, found {self.describe(token)}")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.is_keyword("OR"):
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_primary()]
        while self.is_keyword("AND"):
            self.take()
            items.append(self.parse_primary())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def parse_primary(self) -> Node:
        token = self.peek()
        if token.kind == "(":
            if self.depth >= MAX_NESTING:
                raise self.fail(f"parentheses nest deeper than {MAX_NESTING} levels; flatten the filter")
            self.take()
            self.depth += 1
            node = self.parse_or()
            self.depth -= 1
            if self.peek().kind != ")":
                raise self.fail(f"expected ')' to close the '(' at position {token.pos}, found {self.describe(self.peek())}")
            self.take()
            return node
        return self.parse_condition()

    def parse_condition(self) -> Condition:
        token = self.take()
        if token.kind != "ident":
            raise self.fail(f"expected a field such as trace.status, found {self.describe(token)}", token)
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.fail(f"more than {MAX_CONDITIONS} conditions; split the search", token)
        field = _resolve_field(token.value, self.text, token.pos)
        op_token = self.peek()
        op = self.parse_operator()
        allowed = _ops_for(field)
        if op not in allowed:
            raise self.fail(
                f"{_field_label(field)} does not support {op}; use one of {', '.join(allowed)}", op_token
            )
        if op in ("IS NULL", "IS NOT NULL"):
            return Condition(field, op, None, token.pos)
        if op in ("IN", "NOT IN"):
            value: Any = self.parse_list()
        else:
            value = self.parse_value()
        return _checked(Condition(field, op, value, token.pos), self.text, op_token.pos)

    def parse_operator(self) -> str:
        token = self.take()
        if token.kind == "op":
            return str(token.value)
        if token.kind == "keyword":
            if token.value in ("LIKE", "ILIKE", "IN"):
                return str(token.value)
            if token.value == "NOT" and self.is_keyword("IN"):
                self.take()
                return "NOT IN"
            if token.value == "IS":
                negated = self.is_keyword("NOT")
                if negated:
                    self.take()
                if not self.is_keyword("NULL"):
                    raise self.fail("IS must be followed by NULL or NOT NULL")
                self.take()
                return "IS NOT NULL" if negated else "IS NULL"
        raise self.fail(
            f"expected an operator (= != < <= > >= LIKE ILIKE IN NOT IN IS NULL), found {self.describe(token)}",
            token,
        )

    def parse_value(self) -> Any:
        token = self.take()
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "keyword" and token.value in ("TRUE", "FALSE"):
            return token.value == "TRUE"
        if token.kind == "ident":
            raise self.fail(f"expected a value; quote text values: '{'.'.join(token.value)}'", token)
        raise self.fail(f"expected a value ('text', a number, TRUE or FALSE), found {self.describe(token)}", token)

    def parse_list(self) -> tuple[Any, ...]:
        if self.peek().kind != "(":
            raise self.fail("IN takes a parenthesized list, e.g. IN ('a', 'b')")
        self.take()
        values = [self.parse_value()]
        while self.peek().kind == ",":
            self.take()
            values.append(self.parse_value())
            if len(values) > MAX_IN_VALUES:
                raise self.fail(f"an IN list holds at most {MAX_IN_VALUES} values")
        if self.peek().kind != ")":
            raise self.fail(f"expected ',' or ')' in the IN list, found {self.describe(self.peek())}")
        self.take()
        return tuple(values)

    @staticmethod
    def describe(token: _Token) -> str:
        if token.kind == "end":
            return "the end of the filter"
        if token.kind == "ident":
            return f"'{'.'.join(token.value)}'"
        if token.kind == "string":
            return f"the string {token.value[:30]!r}"
        return f"'{token.value}'"


def _field_label(field: Field) -> str:
    if field.kind == "trace":
        return f"trace.{field.name}"
    if field.kind == "text":
        return "trace.text"
    if field.kind == "span":
        return f"span.{field.name}"
    if field.kind == "span_attr":
        return f"span.attributes.`{field.name}`"
    if field.kind == "assessment":
        return f"{field.assessment_kind or 'assessment'}.`{field.name}`"
    return f"{field.kind}.`{field.name}`"


def _resolve_field(segments: list[str], text: str, pos: int) -> Field:
    """Map an identifier's segments to a Field, or fail with the nearest valid field."""
    head = segments[0].lower()
    rest = segments[1:]
    if not rest or head in _TRACE_PREFIXES:
        name = (rest[0] if rest else segments[0]).lower()
        name = _TRACE_ALIASES.get(name, name)
        if len(rest) <= 1:
            if name in TRACE_FIELDS:
                return Field("trace", name)
            if name == "text":
                return Field("text", "text")
            if name == "run_id":
                return Field("metadata", "mlflow.sourceRun")
        shown = ".".join(segments)
        guess = _did_you_mean(shown if rest else f"trace.{shown}", _KNOWN_FIELDS)
        raise _fail(f"unknown field '{shown}'{guess}", text, pos)
    if head in _KEYED_PREFIXES:
        key = ".".join(rest)
        kind = _KEYED_PREFIXES[head]
        if not key:
            raise _fail(f"'{head}.' needs a key after the dot, e.g. {head}.`my.key`", text, pos)
        if kind == "metadata" and key in _PROMOTED_METADATA:
            return Field("trace", _PROMOTED_METADATA[key])
        if kind in ("tag", "metadata"):
            return Field(kind, key)
        return Field("assessment", key, None if kind == "assessment" else kind)
    if head in ("span", "spans"):
        name = rest[0].lower()
        if len(rest) == 1 and name in SPAN_FIELDS:
            return Field("span", name)
        if len(rest) == 1 and name == "content":
            return Field("text", "text")
        if name in ("attributes", "attribute") and len(rest) > 1 and any(rest[1:]):
            return Field("span_attr", ".".join(rest[1:]))
        shown = ".".join(segments)
        raise _fail(f"unknown field '{shown}'{_did_you_mean(shown, _KNOWN_FIELDS)}", text, pos)
    shown = ".".join(segments)
    prefixes = [*_TRACE_PREFIXES, *_KEYED_PREFIXES, "span"]
    close = difflib.get_close_matches(head, prefixes, n=1, cutoff=0.6)
    guess = f"; did you mean '{close[0]}.{'.'.join(rest)}'?" if close else _did_you_mean(shown, _KNOWN_FIELDS)
    raise _fail(f"unknown field '{shown}'{guess}", text, pos)


def _checked(cond: Condition, text: str, pos: int) -> Condition:
    """Type-check a condition's value against its field and normalize it (ids, status case)."""
    field, op = cond.field, cond.op
    values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
    label = _field_label(field)
    wants_string = (field.kind == "trace" and TRACE_FIELDS[field.name].type == "str") or field.kind in (
        "text", "tag", "metadata", "span",
    )  # fmt: skip
    if op in ("LIKE", "ILIKE"):
        wants_string = True
    if field.kind == "trace" and TRACE_FIELDS[field.name].type != "str":
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            raise _fail(f"{label} compares with a number, e.g. {label} > 100", text, pos)
        return cond
    if wants_string and any(not isinstance(v, str) for v in values):
        raise _fail(f"{label} {op} needs a quoted string value, e.g. {label} {op} 'value'", text, pos)
    if op in ("<", "<=", ">", ">=") and any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise _fail(f"{op} compares numbers; write {label} {op} 0.5", text, pos)
    allowed = None
    if field.kind == "trace":
        allowed = TRACE_FIELDS[field.name].values
    elif field.kind == "span" and field.name in ("status", "type"):
        allowed = _SPAN_STATUSES if field.name == "status" else None
    if op in ("=", "!=", "IN", "NOT IN"):
        if allowed is not None or (field.kind == "span" and field.name == "type"):
            values = tuple(v.upper() for v in values)
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                raise _fail(f"{label} is one of {', '.join(sorted(allowed or ()))}, not {bad[0]!r}", text, pos)
        if field.kind == "trace" and field.name == "trace_id":
            try:
                values = tuple(normalize_trace_id(v) for v in values)
            except InvalidId as exc:
                raise _fail(str(exc), text, pos) from None
    value = values if isinstance(cond.value, tuple) else values[0]
    return Condition(field, op, value, cond.pos)


def parse_filter(filter_string: str | None) -> Node | None:
    """Parse a filter_string into its AST (None for an empty filter); raises InvalidFilter."""
    if filter_string is None:
        return None
    text = _check_text(filter_string, "filter_string", GRAMMAR)
    if not text.strip():
        return None
    return _Parser(text).parse()


# --- order_by ------------------------------------------------------------------------------------

ORDER_FIELDS = {
    "timestamp_ms": "t.start_ns", "end_time_ms": "t.end_ns",
    "execution_time_ms": "(t.end_ns - t.start_ns)", "name": "t.name", "status": "t.status",
    "trace_id": "t.trace_id", "session_id": "t.session_id", "user_id": "t.user_id",
    "span_count": "t.span_count", "error_count": "t.error_count",
    "input_tokens": "t.input_tokens", "output_tokens": "t.output_tokens",
    "total_tokens": "t.total_tokens", "cost": "t.cost",
}  # fmt: skip


def parse_order_by(order_by: list[str] | None) -> list[tuple[str, bool]]:
    """Each order_by entry as (canonical field, ascending); raises InvalidFilter."""
    if order_by is None:
        return []
    if isinstance(order_by, str) or not isinstance(order_by, list | tuple):
        raise InvalidFilter(f'order_by must be a list of strings such as ["timestamp_ms DESC"].\n{ORDER_BY_GRAMMAR}')
    if len(order_by) > MAX_ORDER_BY:
        raise InvalidFilter(f"order_by lists {len(order_by)} fields; the limit is {MAX_ORDER_BY}.\n{ORDER_BY_GRAMMAR}")
    out: list[tuple[str, bool]] = []
    for index, entry in enumerate(order_by):
        text = _check_text(entry, f"order_by[{index}]", ORDER_BY_GRAMMAR)
        try:
            tokens = [t for t in _tokenize(text) if t.kind != "end"]
        except InvalidFilter as exc:
            first_lines = "\n".join(str(exc).split("\n")[:3])
            raise InvalidFilter(f"order_by[{index}]: {first_lines}\n{ORDER_BY_GRAMMAR}") from None
        if not tokens or tokens[0].kind != "ident" or len(tokens) > 2:
            raise _fail(f'order_by[{index}] should read "<field> [ASC|DESC]"', text, 0, grammar=ORDER_BY_GRAMMAR)
        segments = tokens[0].value
        if len(segments) == 2 and segments[0].lower() in _TRACE_PREFIXES:
            segments = segments[1:]
        name = segments[0].lower() if len(segments) == 1 else ".".join(segments)
        name = _TRACE_ALIASES.get(name, name)
        if name not in ORDER_FIELDS:
            guess = _did_you_mean(name, list(ORDER_FIELDS))
            raise _fail(f"order_by[{index}] cannot sort by '{name}'{guess}", text, 0, grammar=ORDER_BY_GRAMMAR)
        ascending = True
        if len(tokens) == 2:
            word = ".".join(tokens[1].value).upper() if tokens[1].kind == "ident" else str(tokens[1].value)
            if word not in ("ASC", "DESC"):
                raise _fail(f"expected ASC or DESC, found {word!r}", text, tokens[1].pos, grammar=ORDER_BY_GRAMMAR)
            ascending = word == "ASC"
        if any(name == seen for seen, _ in out):
            raise _fail(f"order_by lists '{name}' twice", text, 0, grammar=ORDER_BY_GRAMMAR)
        out.append((name, ascending))
    return out
