"""Access tokens with roles, and the record of which token made each write.

A token is a bearer secret: the store keeps only its SHA-256 (and a short prefix to recognise it by),
so neither this file nor a backup of it can be turned back into a working token. Which role may do
what is decided above the store (mcp_server.access.roles).
"""

from __future__ import annotations

import sqlite3
import time
import uuid

from pydantic import BaseModel

from store.connection import Database
from store.errors import InvalidArgument, TokenNotFound

_COLUMNS = "token_id, name, role, prefix, created_ns, created_by, expires_ns, revoked_ns, last_used_ns"


class TokenRecord(BaseModel):
    token_id: str
    name: str
    role: str
    prefix: str
    """The token's first characters: enough to tell tokens apart, far too few to use one."""
    created_ns: int
    created_by: str | None
    """The name of the token that created it; None for the CLI or the server's own token."""
    expires_ns: int | None
    revoked_ns: int | None
    last_used_ns: int | None


class WriteRecord(BaseModel):
    at_ns: int
    token_id: str | None
    token_name: str | None
    role: str
    via: str
    """'mcp', 'web' or 'otlp' (exports counted: one row a minute per token and path)."""
    action: str
    """The MCP tool, or the page's method and path."""
    outcome: str
    """'ok' or 'error'."""


def _record(row: sqlite3.Row) -> TokenRecord:
    return TokenRecord.model_validate(dict(row))


def create_token(
    db: Database, name: str, role: str, token_hash: str, prefix: str, *, created_by: str | None, expires_ns: int | None
) -> TokenRecord:
    row = {"token_id": "tok-" + uuid.uuid4().hex[:16], "name": name, "role": role, "token_hash": token_hash,
           "prefix": prefix, "created_ns": time.time_ns(), "created_by": created_by, "expires_ns": expires_ns}  # fmt: skip
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM tokens WHERE name = ?", (name,)).fetchone():
            raise InvalidArgument(
                f"a token named {name!r} exists already (names stay taken after a revoke, so the record of "
                "its writes keeps one meaning); choose another name."
            )
        conn.execute(
            "INSERT INTO tokens (token_id, name, role, token_hash, prefix, created_ns, created_by, expires_ns) "
            "VALUES (:token_id, :name, :role, :token_hash, :prefix, :created_ns, :created_by, :expires_ns)",
            row,
        )
    return TokenRecord(**{k: v for k, v in row.items() if k != "token_hash"}, revoked_ns=None, last_used_ns=None)


def find_token(db: Database, token_hash: str) -> TokenRecord | None:
    """The token with this hash, revoked and expired ones too (the caller says why it refuses)."""
    row = db.reader().execute(f"SELECT {_COLUMNS} FROM tokens WHERE token_hash = ?", (token_hash,)).fetchone()
    return None if row is None else _record(row)


def find_token_by_id(db: Database, token_id: str) -> tuple[TokenRecord, str] | None:
    """The token with this id and its hash (what signs its page sessions)."""
    row = db.reader().execute(f"SELECT {_COLUMNS}, token_hash FROM tokens WHERE token_id = ?", (token_id,)).fetchone()
    if row is None:
        return None
    fields = dict(row)
    return TokenRecord.model_validate(fields), fields["token_hash"]


def get_token(db: Database, name: str) -> TokenRecord:
    row = db.reader().execute(f"SELECT {_COLUMNS} FROM tokens WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise TokenNotFound(name)
    return _record(row)


def list_tokens(db: Database) -> list[TokenRecord]:
    return [_record(row) for row in db.reader().execute(f"SELECT {_COLUMNS} FROM tokens ORDER BY created_ns, name")]


def active_token_count(db: Database, now_ns: int) -> int:
    return db.reader().execute(
        "SELECT count(*) FROM tokens WHERE revoked_ns IS NULL AND (expires_ns IS NULL OR expires_ns > ?)", (now_ns,)
    ).fetchone()[0]


def revoke_token(db: Database, name: str) -> TokenRecord:
    """Revoke `name` (again: a no-op that keeps the first revocation's time)."""
    with db.transaction() as conn:
        changed = conn.execute(
            "UPDATE tokens SET revoked_ns = coalesce(revoked_ns, ?) WHERE name = ?", (time.time_ns(), name)
        ).rowcount
    if not changed:
        raise TokenNotFound(name)
    return get_token(db, name)


def mark_used(db: Database, token_id: str, now_ns: int) -> None:
    with db.transaction() as conn:
        conn.execute("UPDATE tokens SET last_used_ns = ? WHERE token_id = ?", (now_ns, token_id))


def record_write(db: Database, write: WriteRecord) -> None:
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO token_writes (at_ns, token_id, token_name, role, via, action, outcome) "
            "VALUES (:at_ns, :token_id, :token_name, :role, :via, :action, :outcome)",
            write.model_dump(),
        )


def list_writes(db: Database, *, token_name: str | None = None, limit: int = 50) -> list[WriteRecord]:
    """The latest writes, newest first; of one token when `token_name` is given."""
    where, params = ("WHERE token_name = ?", (token_name, limit)) if token_name is not None else ("", (limit,))
    rows = db.reader().execute(
        "SELECT at_ns, token_id, token_name, role, via, action, outcome FROM token_writes "
        f"{where} ORDER BY at_ns DESC LIMIT ?",
        params,
    )
    return [WriteRecord.model_validate(dict(row)) for row in rows]
