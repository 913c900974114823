"""Virtual keys: who may call which routes, how fast and for how much. A key's secret is shown once,
when it is made; the store keeps its SHA-256 (mcp_server.tooling.credentials) and a short prefix to
tell keys apart in listings.

Clients send the secret as 'Authorization: Bearer KEY' (OpenAI SDKs) or 'x-api-key: KEY'
(Anthropic SDKs); both are accepted on every gateway endpoint. These keys are not the server's
--token: each opens only /gateway, and the token does not open /gateway.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid

from pydantic import BaseModel, Field

from mcp_server.gateway.errors import GatewayError
from mcp_server.gateway.routes import ROUTE_NAME, GatewayConfig
from mcp_server.http.auth import bearer_credentials
from mcp_server.tooling.credentials import credential_state, new_secret, secret_hash
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import gateway as store
from store.errors import InvalidArgument

SECRET_PREFIX = "tjk-"
DISPLAY_CHARS = 12
"""Characters of a secret kept and shown (its prefix and 8 random characters): enough to tell keys apart."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class GatewayKey(BaseModel):
    """A key as listed: never its secret."""

    key_id: str
    name: str
    prefix: str = Field(description="The first characters of the secret, to tell keys apart.")
    routes: list[str]
    rpm: int | None = Field(description="Requests per minute; null: unlimited.")
    tpm: int | None = Field(description="Tokens per minute; null: unlimited.")
    budget_usd_day: float | None
    budget_usd_month: float | None
    alert_at: float = Field(description="Share of a budget at which an alert is recorded.")
    guardrails: list[str] = Field(default_factory=list, description="Guardrails on its calls besides the route's.")
    state: str = Field(description="active, revoked or expired.")
    created_time: str | None
    expires_time: str | None
    revoked_time: str | None


class CreatedKey(BaseModel):
    key: GatewayKey
    secret: str = Field(description="Shown once: the store keeps only its hash.")


class KeyList(BaseModel):
    keys: list[GatewayKey]


def state_of(record: store.KeyRecord, now_ns: int | None = None) -> str:
    return credential_state(record.revoked_ns, record.expires_ns, time.time_ns() if now_ns is None else now_ns)


def answer(record: store.KeyRecord) -> GatewayKey:
    return GatewayKey(
        key_id=record.key_id, name=record.name, prefix=record.prefix, routes=record.routes, rpm=record.rpm,
        tpm=record.tpm, budget_usd_day=record.budget_usd_day, budget_usd_month=record.budget_usd_month,
        alert_at=record.alert_at, guardrails=record.guardrails, state=state_of(record), created_time=iso_time(record.created_ns),
        expires_time=iso_time(record.expires_ns) if record.expires_ns else None,
        revoked_time=iso_time(record.revoked_ns) if record.revoked_ns else None,
    )  # fmt: skip


def create_key(
    db: Database, name: str, routes: list[str], *, rpm: int | None = None, tpm: int | None = None,
    budget_usd_day: float | None = None, budget_usd_month: float | None = None, alert_at: float = 0.8,
    expires_in_s: float | None = None, guardrails: list[str] | None = None, config: GatewayConfig | None = None,
) -> CreatedKey:
    """Make a key for `routes` (checked against `config` when one is given) with its limits."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(f"a key's name is 1 to 64 letters, digits, '.', '_' or '-'; got {name!r}.")
    if not routes:
        raise InvalidArgument("a key needs at least one route it may use: --routes R1,R2.")
    for route in routes:
        if not ROUTE_NAME.fullmatch(route):
            raise InvalidArgument(f"route {route!r} is not a route name (letters, digits, '.', '_' or '-').")
    if config is not None and (unknown := [r for r in routes if r not in config.routes]):
        raise InvalidArgument(f"routes {unknown} are not in {config.path}; its routes: {', '.join(sorted(config.routes))}.")
    guardrails = list(dict.fromkeys(guardrails or []))
    if config is not None and (unknown := [g for g in guardrails if g not in config.guardrails]):
        raise InvalidArgument(f"guardrails {unknown} are not in {config.path}; its guardrails: "
                              f"{', '.join(sorted(config.guardrails)) or 'none'}.")  # fmt: skip
    for label, value in (("--rpm", rpm), ("--tpm", tpm)):
        if value is not None and value < 1:
            raise InvalidArgument(f"{label} is a positive number (leave it out for no limit); got {value}.")
    for label, value in (("--budget-usd-day", budget_usd_day), ("--budget-usd-month", budget_usd_month)):
        if value is not None and value <= 0:
            raise InvalidArgument(f"{label} is a positive amount of USD (leave it out for no budget); got {value}.")
    if not 0 < alert_at <= 1:
        raise InvalidArgument(f"--alert-at is a share of the budget, above 0 and at most 1 (e.g. 0.8); got {alert_at}.")
    if expires_in_s is not None and expires_in_s <= 0:
        raise InvalidArgument("--expires is a duration in the future, e.g. 30d or 12h.")
    secret = new_secret(SECRET_PREFIX)
    now = time.time_ns()
    record = store.KeyRecord(
        key_id="gk-" + uuid.uuid4().hex[:16], name=name, prefix=secret[:DISPLAY_CHARS], routes=list(dict.fromkeys(routes)),
        rpm=rpm, tpm=tpm, budget_usd_day=budget_usd_day, budget_usd_month=budget_usd_month, alert_at=alert_at,
        created_ns=now, expires_ns=now + int(expires_in_s * 1e9) if expires_in_s else None, guardrails=guardrails,
    )  # fmt: skip
    return CreatedKey(key=answer(store.create_key(db, record, secret_hash(secret))), secret=secret)


def list_keys(db: Database) -> KeyList:
    """Every key, by name, without secrets."""
    return KeyList(keys=[answer(r) for r in store.list_keys(db)])


def revoke_key(db: Database, name: str) -> GatewayKey:
    """Revoke a key: every later call with it is refused with 401."""
    return answer(store.revoke_key(db, name))


def presented_secret(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a client sent: 'Authorization: Bearer KEY' or 'x-api-key: KEY'."""
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    token = bearer_credentials(authorization.encode("latin-1")) if authorization else None
    return token.decode("latin-1") if token else None


def authenticate(db: Database, secret: str | None) -> store.KeyRecord:
    """The active key whose secret this is; GatewayError 401 saying why not."""
    if secret is None:
        raise GatewayError(401, "authentication", "no gateway key was sent; send 'Authorization: Bearer <key>' (OpenAI "
                           "SDKs: api_key=...) or 'x-api-key: <key>' (Anthropic SDKs), with a key from "
                           "`tracejudge keys create`.")  # fmt: skip
    digest = secret_hash(secret)
    # Looked up by the hash, never the secret: an index lookup's timing tells nothing about a
    # secret's characters, only about a hash that no one can aim at.
    record = store.key_by_secret_hash(db, digest)
    if record is None:
        raise GatewayError(401, "authentication", "the gateway key is not valid (it is none that `tracejudge keys create` "
                           "made, or was mistyped); check the key your client sends.")  # fmt: skip
    state = state_of(record)
    if state == "revoked":
        raise GatewayError(401, "authentication", f"the gateway key {record.name!r} ({record.prefix}...) was revoked "
                           f"at {iso_time(record.revoked_ns)}; ask the operator for a new one.")  # fmt: skip
    if state == "expired":
        raise GatewayError(401, "authentication", f"the gateway key {record.name!r} ({record.prefix}...) expired at "
                           f"{iso_time(record.expires_ns)}; ask the operator for a new one.")  # fmt: skip
    return record


def utc_day(now: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC).strftime("%Y-%m-%d")
