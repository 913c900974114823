"""Access tokens: making, listing and revoking them, and `Credentials`, which tells who a request's
bearer token is.

A token is 'tjt_' and 43 random URL-safe characters (256 bits): shown once when made, stored only as
its SHA-256 (store.tokens), so a hash is all a lookup needs and a stolen database opens nothing. The
server's own token (--token, TRACEJUDGE_TOKEN, --token-file) is the admin token that exists before any
other: it is how the first tokens are made over MCP, and it is never stored.
"""

from __future__ import annotations

import hmac
import sqlite3
import time
from typing import Literal

from pydantic import BaseModel, Field

from mcp_server.access.roles import OPERATOR, ROLES, Access, Role, at_least
from mcp_server.tooling.credentials import credential_state, lifetime_s, new_secret, secret_hash
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import tokens as store
from store.errors import InvalidArgument

TOKEN_PREFIX = "tjt_"
"""Marks a tracejudge access token, so a leaked one is recognisable (secret scanners, logs)."""
OPERATOR_ID = "operator"
"""How a page session names the server's own token, which has no stored id."""
MAX_EXPIRES_DAYS = 3650
ACTIVE_CHECK_S = 1.0
"""How long `Credentials.required` trusts its last count of active tokens: a token made or revoked by
another process takes effect within this."""


class TokenInfo(BaseModel):
    token_id: str
    name: str
    role: Role
    prefix: str = Field(description="The token's first characters, to recognise it by.")
    state: Literal["active", "expired", "revoked"]
    created_time: str
    created_by: str | None = Field(description="The token that made it; null for the operator (CLI, --token).")
    expires_time: str | None
    revoked_time: str | None
    last_used_time: str | None


class CreatedToken(TokenInfo):
    token: str = Field(description="The token itself: shown this once, stored only as a hash.")


class TokenList(BaseModel):
    tokens: list[TokenInfo]


class WriteInfo(BaseModel):
    time: str
    token: str | None = Field(description="The token's name; null for the operator.")
    role: str
    via: str
    action: str
    outcome: str


class WriteList(BaseModel):
    writes: list[WriteInfo]


def _state(record: store.TokenRecord, now_ns: int) -> str:
    return credential_state(record.revoked_ns, record.expires_ns, now_ns)


def _info(record: store.TokenRecord, now_ns: int) -> dict:
    return {
        "token_id": record.token_id, "name": record.name, "role": record.role, "prefix": record.prefix,
        "state": _state(record, now_ns), "created_time": iso_time(record.created_ns), "created_by": record.created_by,
        "expires_time": iso_time(record.expires_ns), "revoked_time": iso_time(record.revoked_ns),
        "last_used_time": iso_time(record.last_used_ns),
    }  # fmt: skip


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise InvalidArgument(f"role {role[:40]!r} is not one of {', '.join(ROLES)}.")
    return role  # type: ignore[return-value]


def _expires_ns(expires: str | None, now_ns: int) -> int | None:
    if expires is None:
        return None
    return now_ns + lifetime_s(expires, max_days=MAX_EXPIRES_DAYS, forever="leave it out for a token that lasts until revoked") * 1_000_000_000


def create_token(
    db: Database, name: str, role: str, *, expires: str | None = None, by: Access = OPERATOR
) -> CreatedToken:
    """A new token `name` with `role`, made by `by`, who may not give more than it holds."""
    role = _check_role(role)
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise InvalidArgument("a token's name must be 1 to 100 printable characters, e.g. 'ci' or 'claude-code'.")
    if not at_least(by.role, role) or by.role == "ingest":
        raise InvalidArgument(
            f"{by.describe()} cannot make a {role} token: no token can make one of a higher role than its own."
        )
    now = time.time_ns()
    expires_ns = _expires_ns(expires, now)
    token = new_secret(TOKEN_PREFIX)
    record = store.create_token(
        db, name, role, secret_hash(token), token[:10], created_by=by.token_name, expires_ns=expires_ns
    )
    return CreatedToken(**_info(record, now), token=token)


def list_tokens(db: Database) -> TokenList:
    now = time.time_ns()
    return TokenList(tokens=[TokenInfo(**_info(record, now)) for record in store.list_tokens(db)])


def revoke_token(db: Database, name: str) -> TokenInfo:
    """Revoke `name`, at once in every process: each request's lookup reads the store."""
    return TokenInfo(**_info(store.revoke_token(db, name), time.time_ns()))


def list_writes(db: Database, *, token: str | None = None, max_results: int = 50) -> WriteList:
    """The latest writes made through MCP, the pages and OTLP, newest first; of one token's when `token` names it."""
    if token is not None:
        store.get_token(db, token)  # an unknown name is an error, not an empty list
    return WriteList(writes=[
        WriteInfo(time=iso_time(w.at_ns), token=w.token_name, role=w.role, via=w.via, action=w.action, outcome=w.outcome)
        for w in store.list_writes(db, token_name=token, limit=max(1, min(max_results, 1000)))
    ])  # fmt: skip


def record_write(db: Database, access: Access, *, via: str, action: str, ok: bool) -> None:
    store.record_write(db, store.WriteRecord(
        at_ns=time.time_ns(), token_id=access.token_id, token_name=access.token_name, role=access.role, via=via,
        action=action[:200], outcome="ok" if ok else "error",
    ))  # fmt: skip


class ExportTally:
    """Which token sent traces and logs, for the record of writes without a row per OTLP export (an
    agent may send many a second): the first export of a token to a path is recorded at once, the
    next ones as one row a minute ('POST /v1/traces: 120 exports'), each row counting those since
    the last. Kept per process; what it holds back at most is a minute of counts."""

    EVERY_NS = 60 * 1_000_000_000

    def __init__(self, db: Database) -> None:
        self.db = db
        self._counts: dict[tuple[str | None, str], tuple[int, int]] = {}  # (token, path) -> (exports, last row)

    def due(self, access: Access, path: str, now_ns: int | None = None) -> str | None:
        """Count one export; the action to record when a row is due, else None (event loop only)."""
        now = time.time_ns() if now_ns is None else now_ns
        key = (access.token_id, path)
        exports, last = self._counts.get(key, (0, 0))
        exports += 1
        if last and now - last < self.EVERY_NS:
            self._counts[key] = (exports, last)
            return None
        self._counts[key] = (0, now)
        return f"POST {path}: {exports} export{'s' if exports > 1 else ''}"

    def record(self, access: Access, action: str) -> None:
        try:
            record_write(self.db, access, via="otlp", action=action, ok=True)
        except sqlite3.OperationalError:  # a busy store: the traces are stored; this row of who sent them is lost
            pass


class Credentials:
    """Who a bearer token is, for the HTTP app: the server's own token (admin), or a stored token's
    role while it is neither revoked nor expired.

    `required()`: whether a request must bring a token at all: always with a server token; without one
    (a loopback server), as soon as any stored token is active, so making the first token closes the
    open door instead of leaving a token nobody needs."""

    LAST_USED_EVERY_NS = 60 * 1_000_000_000
    """A token's last_used time is written at most this often, so a busy token costs no write per request."""

    def __init__(self, db: Database, server_token: str | None) -> None:
        self.db = db
        self._server = server_token.encode() if server_token else None
        self._active: tuple[float, bool] | None = None
        self._marked: dict[str, int] = {}

    def required(self) -> bool:
        if self._server is not None:
            return True
        now = time.monotonic()
        if self._active is None or now - self._active[0] > ACTIVE_CHECK_S:
            self._active = (now, store.active_token_count(self.db, time.time_ns()) > 0)
        return self._active[1]

    def access(self, presented: bytes) -> tuple[Access | None, str]:
        """(the Access of token `presented`, '') or (None, why it opens nothing)."""
        if self._server is not None and hmac.compare_digest(presented, self._server):
            return OPERATOR, ""
        try:
            text = presented.decode("ascii")
        except UnicodeDecodeError:
            return None, "wrong"
        record = store.find_token(self.db, secret_hash(text)) if text.startswith(TOKEN_PREFIX) else None
        now = time.time_ns()
        if record is None:
            return None, "wrong"
        if (state := _state(record, now)) != "active":
            return None, f"{state} (the token {record.name!r})"
        if now - self._marked.get(record.token_id, 0) > self.LAST_USED_EVERY_NS:
            self._marked[record.token_id] = now
            try:
                store.mark_used(self.db, record.token_id, now)
            except sqlite3.OperationalError:  # a busy store: the request matters more than the note of it
                pass
        return Access(record.role, record.token_id, record.name), ""  # type: ignore[arg-type]

    def session_access(self, token_id: str) -> tuple[Access, bytes] | None:
        """The Access of token `token_id` ('operator': the server's own) while it is active, and the key
        that signs its page sessions (mcp_server.web.login): the server's token, or the stored token's
        hash, so revoking a token ends its sessions too."""
        if token_id == OPERATOR_ID:
            return (OPERATOR, self._server) if self._server is not None else None
        found = store.find_token_by_id(self.db, token_id)
        if found is None or _state(found[0], time.time_ns()) != "active":
            return None
        record, token_hash = found
        return Access(record.role, record.token_id, record.name), token_hash.encode()  # type: ignore[arg-type]

