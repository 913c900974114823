"""What a dataset record must look like on the way in, checked before any lock is taken.

A record is a JSON object {inputs, expectations?, tags?, source_trace_id?}. `inputs` is the
record's identity: its canonical JSON (sorted keys, compact) is the de-duplication key, and its
hash the record_id, so the same inputs get the same id in every dataset and every version.
Errors name where the record came from (`records[3]`, `line 7`) and the field at fault.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from typing import Any, NamedTuple

from store.errors import InvalidArgument, InvalidId
from store.ids import normalize_trace_id

FIELDS = ("inputs", "expectations", "tags", "source_trace_id")
MAX_RECORD_CHARS = 1_000_000
"""Largest record (inputs, expectations and tags as JSON together): a dataset row is read whole by
every evaluation over it."""
MAX_TAG_CHARS = 1_000
RECORD_ID = re.compile(r"^r-[0-9a-f]{16}$")


class NewRecord(NamedTuple):
    """A checked record: JSON-ready parts and its identity."""

    record_id: str
    inputs_key: str
    inputs: dict[str, Any]
    expectations: dict[str, Any]
    tags: dict[str, str]
    source_trace_id: str | None


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 as it is; ValueError for NaN or Infinity (no JSON form)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_id_for(inputs_key: str) -> str:
    """The stable id of the record whose canonical inputs are `inputs_key`."""
    return "r-" + hashlib.sha256(inputs_key.encode()).hexdigest()[:16]


def check_record_id(record_id: object) -> str:
    if not isinstance(record_id, str) or not RECORD_ID.match(record_id.strip()):
        raise InvalidArgument(
            f"record_id {record_id!r} is not a dataset record id ('r-' and 16 hex characters); "
            "use the ids ListDatasetRecords returns."
        )
    return record_id.strip()


def _object(value: object, where: str, field: str, *, required: bool) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        shape = "missing" if value is None else f"a {type(value).__name__}"
        example = '{"question": "How do I reset my password?"}' if field == "inputs" else '{"expected_route": "billing"}'
        raise InvalidArgument(f"{where}: {field} must be a JSON object, e.g. {example}; it is {shape}.")
    for key in value:
        if not isinstance(key, str):
            raise InvalidArgument(f"{where}: the keys of {field} must be strings; got {key!r}.")
    return value


def _tags(value: object, where: str) -> dict[str, str]:
    tags = _object(value, where, "tags", required=False)
    for key, tag in tags.items():
        if not isinstance(tag, str):
            raise InvalidArgument(
                f"{where}: tag {key!r} must have a string value, e.g. {{{key!r}: 'hard'}}; it is {tag!r}."
            )
        if len(tag) > MAX_TAG_CHARS or len(key) > MAX_TAG_CHARS:
            raise InvalidArgument(f"{where}: tag {key[:80]!r} is longer than {MAX_TAG_CHARS:,} characters; shorten it.")
    return tags


def _source(value: object, where: str) -> str | None:
    if value is None:
        return None
    try:
        return normalize_trace_id(value)
    except InvalidId as exc:
        raise InvalidArgument(f"{where}: source_trace_id: {exc}") from None


def parse_record(raw: object, where: str) -> NewRecord:
    """Check one record; InvalidArgument naming `where` and the field for anything wrong."""
    if not isinstance(raw, dict):
        raise InvalidArgument(
            f"{where} must be a JSON object with inputs (and optionally expectations, tags, "
            f"source_trace_id); it is a {type(raw).__name__}."
        )
    for field in raw:
        if field not in FIELDS and field != "record_id":  # record_id: exports carry it; it follows from inputs
            close = difflib.get_close_matches(str(field), FIELDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the fields are {', '.join(FIELDS)}."
            raise InvalidArgument(f"{where} has an unknown field {field!r}{hint}")
    inputs = _object(raw.get("inputs"), where, "inputs", required=True)
    if not inputs:
        raise InvalidArgument(f"{where}: inputs is empty; a record needs at least one input, e.g. {{'question': '...'}}.")
    expectations = _object(raw.get("expectations"), where, "expectations", required=False)
    tags = _tags(raw.get("tags"), where)
    source = _source(raw.get("source_trace_id"), where)
    try:
        inputs_key = canonical_json(inputs)
        size = len(inputs_key) + len(canonical_json(expectations)) + len(canonical_json(tags))
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidArgument(f"{where} is not plain JSON ({exc}); use strings, numbers, lists and objects.") from None
    if size > MAX_RECORD_CHARS:
        raise InvalidArgument(
            f"{where} is {size:,} characters as JSON; the limit is {MAX_RECORD_CHARS:,}. Keep the inputs an agent "
            "needs and point at the source trace for the rest."
        )
    return NewRecord(record_id_for(inputs_key), inputs_key, inputs, expectations, tags, source)
