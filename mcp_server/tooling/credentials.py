"""What every bearer secret of tracejudge shares (access tokens, gateway keys, labeling links): how one
is made, the hash the store keeps instead of it, whether it is still good, and how long it lasts.

A secret is a prefix that names its kind (so a leaked one is recognisable to secret scanners and in
logs) and 256 random bits; with nothing to guess, a plain SHA-256 is the right hash (no salt or slow
hash adds anything), and a lookup by hash tells a timing observer nothing about the secret.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

from mcp_server.tooling.timestamps import duration_s
from store.errors import InvalidArgument

State = Literal["active", "expired", "revoked"]


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def credential_state(revoked_ns: int | None, expires_ns: int | None, now_ns: int) -> State:
    if revoked_ns is not None:
        return "revoked"
    return "expired" if expires_ns is not None and expires_ns <= now_ns else "active"


def lifetime_s(text: str, *, option: str = "expires", max_days: int = 3650, forever: str = "") -> int:
    """Seconds from a duration such as '30m', '12h', '7d' or '2w' up to `max_days`; else an
    InvalidArgument naming `option` and the form (`forever`: what leaving it out means, if it may be)."""
    seconds = duration_s(text) or 0
    if seconds <= 0 or seconds > max_days * 86_400:
        raise InvalidArgument(
            f"{option} {text[:40]!r} is not a duration from 1m to {max_days}d; give a number and a unit "
            f"m (minutes), h, d or w, e.g. 7d{'; ' + forever if forever else ''}."
        )
    return seconds
