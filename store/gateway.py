"""The AI gateway's tables: virtual keys (a SHA-256 of each secret and a display prefix, never the
secret), spend per key, route and UTC day, and budget alerts, recorded once per key and period.

A month's spend is the sum of its days (`day` is 'YYYY-MM-DD', so a month is a prefix of it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from pydantic import BaseModel

from store.connection import Database
from store.errors import GatewayKeyNotFound, InvalidArgument


class KeyRecord(BaseModel):
    key_id: str
    name: str
    prefix: str
    routes: list[str]
    rpm: int | None = None
    tpm: int | None = None
    budget_usd_day: float | None = None
    budget_usd_month: float | None = None
    alert_at: float = 0.8
    created_ns: int = 0
    expires_ns: int | None = None
    revoked_ns: int | None = None
    guardrails: list[str] = []
    """Guardrails applied to this key's calls besides those of the route it calls."""


class SpendCounts(BaseModel):
    """One key's calls of one route on one UTC day."""

    day: str
    route: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class SpendRow(SpendCounts):
    key_id: str


class BudgetAlertRecord(BaseModel):
    key_id: str
    period: str
    period_start: str
    spent_usd: float
    budget_usd: float
    alert_at: float
    created_ns: int


_KEY_COLUMNS = (
    "key_id, name, prefix, routes, rpm, tpm, budget_usd_day, budget_usd_month, alert_at, created_ns, expires_ns, "
    "revoked_ns, guardrails"
)


def _key(row: Any) -> KeyRecord:
    return KeyRecord(key_id=row[0], name=row[1], prefix=row[2], routes=json.loads(row[3]), rpm=row[4], tpm=row[5],
                     budget_usd_day=row[6], budget_usd_month=row[7], alert_at=row[8], created_ns=row[9],
                     expires_ns=row[10], revoked_ns=row[11], guardrails=json.loads(row[12]))  # fmt: skip


def create_key(db: Database, record: KeyRecord, secret_sha256: str) -> KeyRecord:
    """Store a new key; InvalidArgument when its name is taken."""
    try:
        with db.transaction() as conn:
            conn.execute(
                f"INSERT INTO gateway_keys ({_KEY_COLUMNS}, secret_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.key_id, record.name, record.prefix, json.dumps(record.routes), record.rpm, record.tpm,
                 record.budget_usd_day, record.budget_usd_month, record.alert_at, record.created_ns,
                 record.expires_ns, record.revoked_ns, json.dumps(record.guardrails), secret_sha256),
            )  # fmt: skip
    except sqlite3.IntegrityError:
        raise InvalidArgument(
            f"a gateway key is already named {record.name!r}; choose another name, or revoke that one first "
            f"(`tracejudge keys revoke {record.name}`) and create it under a new name."
        ) from None
    return record


def key_by_secret_hash(db: Database, secret_sha256: str) -> KeyRecord | None:
    row = db.reader().execute(f"SELECT {_KEY_COLUMNS} FROM gateway_keys WHERE secret_sha256 = ?", (secret_sha256,)).fetchone()
    return None if row is None else _key(row)


def get_key(db: Database, name_or_id: str) -> KeyRecord:
    row = db.reader().execute(
        f"SELECT {_KEY_COLUMNS} FROM gateway_keys WHERE name = ? OR key_id = ?", (name_or_id, name_or_id)
    ).fetchone()
    if row is None:
        raise GatewayKeyNotFound(name_or_id)
    return _key(row)


def list_keys(db: Database) -> list[KeyRecord]:
    return [_key(row) for row in db.reader().execute(f"SELECT {_KEY_COLUMNS} FROM gateway_keys ORDER BY name")]


def revoke_key(db: Database, name_or_id: str) -> KeyRecord:
    """Mark the key revoked (now, or when it was first revoked)."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE gateway_keys SET revoked_ns = coalesce(revoked_ns, ?) WHERE name = ? OR key_id = ?",
            (time.time_ns(), name_or_id, name_or_id),
        )
    return get_key(db, name_or_id)


def add_spend(
    db: Database, key_id: str, day: str, route: str, *, input_tokens: int, output_tokens: int, cost_usd: float,
    error: bool,
) -> None:
    """Count one call (its tokens and cost) in its key's, route's and day's row."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO gateway_spend (key_id, day, route, requests, errors, input_tokens, output_tokens, cost_usd) "
            "VALUES (?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT (key_id, day, route) DO UPDATE SET "
            "requests = requests + 1, errors = errors + excluded.errors, "
            "input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, "
            "cost_usd = cost_usd + excluded.cost_usd",
            (key_id, day, route, int(error), input_tokens, output_tokens, cost_usd),
        )


def spent(db: Database, key_id: str, day: str) -> tuple[float, float]:
    """(USD spent on `day`, USD spent in the month of `day`) by the key."""
    month = day[:7]
    row = db.reader().execute(
        "SELECT coalesce(sum(CASE WHEN day = ? THEN cost_usd END), 0), coalesce(sum(cost_usd), 0) "
        "FROM gateway_spend WHERE key_id = ? AND day >= ? AND day <= ?",
        (day, key_id, f"{month}-01", f"{month}-31"),
    ).fetchone()
    return float(row[0]), float(row[1])


def spend_rows(db: Database, *, key_id: str | None, since_day: str, limit: int) -> list[SpendRow]:
    """Spend per key, route and day from `since_day`, newest day first; at most `limit` rows."""
    where, params = "day >= ?", [since_day]
    if key_id is not None:
        where, params = where + " AND key_id = ?", [since_day, key_id]
    rows = db.reader().execute(
        "SELECT key_id, day, route, requests, errors, input_tokens, output_tokens, cost_usd FROM gateway_spend "
        f"WHERE {where} ORDER BY day DESC, key_id, route LIMIT ?",
        (*params, limit),
    )
    return [SpendRow(key_id=r[0], day=r[1], route=r[2], requests=r[3], errors=r[4], input_tokens=r[5],
                     output_tokens=r[6], cost_usd=r[7]) for r in rows]  # fmt: skip


def record_alert(db: Database, alert: BudgetAlertRecord) -> bool:
    """Record a budget alert unless this key's period has one already; returns whether it was new."""
    with db.transaction() as conn:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO gateway_budget_alerts (key_id, period, period_start, spent_usd, budget_usd, "
            "alert_at, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (alert.key_id, alert.period, alert.period_start, alert.spent_usd, alert.budget_usd, alert.alert_at,
             alert.created_ns),
        )  # fmt: skip
    return cursor.rowcount == 1


def list_alerts(db: Database, key_id: str | None, limit: int) -> list[BudgetAlertRecord]:
    sql = "SELECT key_id, period, period_start, spent_usd, budget_usd, alert_at, created_ns FROM gateway_budget_alerts"
    rows = db.reader().execute(
        sql + (" WHERE key_id = ?" if key_id else "") + " ORDER BY created_ns DESC LIMIT ?",
        (key_id, limit) if key_id else (limit,),
    )
    return [BudgetAlertRecord(key_id=r[0], period=r[1], period_start=r[2], spent_usd=r[3], budget_usd=r[4],
                              alert_at=r[5], created_ns=r[6]) for r in rows]  # fmt: skip
