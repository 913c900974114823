"""Trace and span ids: 32 and 16 lowercase hex characters everywhere we store or return them.

Input arrives as hex of either case, as base64 (OTLP JSON from some exporters, MLflow's span ids),
or with MLflow's `tr-` prefix; everything is normalized here, once, on the way in.
"""

from __future__ import annotations

import base64
import binascii

from store.errors import InvalidId

_HEX = frozenset("0123456789abcdef")


def _normalize(value: object, n_bytes: int, what: str) -> str:
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        if len(raw) != n_bytes:
            raise InvalidId(f"{what} must be {n_bytes} bytes, got {len(raw)}.")
        return raw.hex()
    if not isinstance(value, str):
        raise InvalidId(f"{what} must be a string of {n_bytes * 2} hex characters, got {type(value).__name__}.")
    text = value.strip()
    if text.startswith("tr-"):
        text = text[3:]
    if len(text) == n_bytes * 2:
        lowered = text.lower()
        if _HEX.issuperset(lowered):
            return lowered
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == n_bytes:
        return raw.hex()
    shown = value if len(value) <= 80 else value[:77] + "..."
    raise InvalidId(
        f"{what} {shown!r} is not {n_bytes * 2} hex characters (or {n_bytes} bytes in base64); "
        f"use the id exactly as SearchTraces or ListSpans returned it."
    )


def normalize_trace_id(value: object) -> str:
    """32 lowercase hex characters from hex, base64, bytes or an MLflow `tr-` id."""
    return _normalize(value, 16, "trace_id")


def normalize_span_id(value: object) -> str:
    """16 lowercase hex characters from hex, base64 or bytes."""
    return _normalize(value, 8, "span_id")
