"""Share links of labeling sessions: who may label one session from a link, until when.

A link's token is a capability: whoever holds it may read that session's queued traces and label
them, nothing else (mcp_server.labeling.links decides what it opens). The store keeps only the
token's SHA-256, so neither this file nor a backup of it can be turned back into a working link.
"""

from __future__ import annotations

import sqlite3
import time
import uuid

from pydantic import BaseModel

from store.connection import Database
from store.errors import LabelingLinkNotFound

_COLUMNS = "link_id, session_id, labeler, created_ns, expires_ns, revoked_ns"


class LabelingLinkRecord(BaseModel):
    link_id: str
    session_id: str
    labeler: str | None
    """Who labels through it; None when the person gives their name on the page."""
    created_ns: int
    expires_ns: int
    revoked_ns: int | None


def new_link_id() -> str:
    """'ll-' and 16 hex characters: names a link to list or revoke it, and opens nothing."""
    return "ll-" + uuid.uuid4().hex[:16]


def _record(row: sqlite3.Row) -> LabelingLinkRecord:
    return LabelingLinkRecord.model_validate(dict(row))


def create_link(db: Database, session_id: str, token_hash: str, *, labeler: str | None, expires_ns: int) -> LabelingLinkRecord:
    row = {
        "link_id": new_link_id(),
        "session_id": session_id,
        "labeler": labeler,
        "token_hash": token_hash,
        "created_ns": time.time_ns(),
        "expires_ns": expires_ns,
    }
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO labeling_links (link_id, session_id, labeler, token_hash, created_ns, expires_ns) "
            "VALUES (:link_id, :session_id, :labeler, :token_hash, :created_ns, :expires_ns)",
            row,
        )
    return LabelingLinkRecord(**{k: v for k, v in row.items() if k != "token_hash"}, revoked_ns=None)


def find_link(db: Database, token_hash: str) -> LabelingLinkRecord | None:
    """The link whose token has this hash, revoked and expired ones too (the caller says why it refuses)."""
    row = db.reader().execute(f"SELECT {_COLUMNS} FROM labeling_links WHERE token_hash = ?", (token_hash,)).fetchone()
    return None if row is None else _record(row)


def list_links(db: Database, session_id: str | None = None, *, limit: int = 100) -> tuple[list[LabelingLinkRecord], int]:
    """Links newest first (of one session, or of all), at most `limit`; and how many there are."""
    where, params = ("WHERE session_id = ?", (session_id,)) if session_id is not None else ("", ())
    conn = db.reader()
    total = conn.execute(f"SELECT count(*) FROM labeling_links {where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM labeling_links {where} ORDER BY created_ns DESC, link_id LIMIT ?", (*params, limit)
    ).fetchall()
    return [_record(row) for row in rows], total


def revoke_link(db: Database, link_id: str) -> LabelingLinkRecord:
    """Revoke the link now (a link revoked already keeps its first revocation time)."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE labeling_links SET revoked_ns = coalesce(revoked_ns, ?) WHERE link_id = ?", (time.time_ns(), link_id)
        )
        row = conn.execute(f"SELECT {_COLUMNS} FROM labeling_links WHERE link_id = ?", (link_id,)).fetchone()
    if row is None:
        raise LabelingLinkNotFound(link_id)
    return _record(row)
