"""The one settings object. Built once (by the CLI, or by tests), passed down; nothing below reads
the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from mcp_server.models.settings import (
    JUDGE_API_BASE_ENV,
    JUDGE_API_KEY_ENV,
    JUDGE_MAX_ATTEMPTS_ENV,
    JUDGE_MODEL_ENV,
    JUDGE_TIMEOUT_ENV,
    ModelSettings,
)

DEFAULT_DB_PATH = Path.home() / ".tracejudge" / "tracejudge.db"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_TARGETS = ("mcp_server.demo_target:answer",)
DEFAULT_MAX_BUFFERED_BODY_BYTES = 256 * 1024 * 1024


class Settings(BaseModel):
    """Configuration for the server, the OTLP endpoint and the CLI."""

    db_path: Path = Field(DEFAULT_DB_PATH, description="The SQLite file holding traces.")
    host: str = Field("127.0.0.1", description="Address to bind; 127.0.0.1 keeps it off the network.")
    port: int = Field(8080, ge=0, le=65535)
    token: str | None = Field(
        None, description="When set, /mcp and /v1/traces require 'Authorization: Bearer <token>'."
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES,
        gt=0,
        description="Largest OTLP request body accepted, before and after decompression.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host header values accepted by /mcp and /v1/traces (DNS-rebinding protection).",
    )
    models: ModelSettings = Field(default_factory=ModelSettings, description="How judges reach their model.")
    targets: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TARGETS),
        description="Import paths ('module:function') of the agents an MCP client may run on a dataset "
        "(Evaluate, OptimizePrompt); a client can never run a function this list does not name.",
    )
    max_connections: int = Field(
        1000,
        gt=0,
        description="Most HTTP connections open at once; `serve` lowers it to fit the open-file limit. "
        "At the cap a new connection closes the one idle the longest (no request in progress).",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a connection may take to send a request's headers (or stay idle)."
    )
    body_timeout_s: float = Field(
        60.0, gt=0, description="Seconds a request body may take to arrive in all; slower ones get 408."
    )
    body_min_rate: int = Field(
        16_384,
        gt=0,
        description="Bytes per second a request body must keep up, on average, after its first 5 seconds; "
        "slower ones get 408.",
    )
    max_buffered_body_bytes: int = Field(
        DEFAULT_MAX_BUFFERED_BODY_BYTES,
        gt=0,
        description="OTLP body bytes held in memory at once, over all exports being read or stored; "
        "an export that would go past it gets 503 with Retry-After. Never below max_body_bytes.",
    )
    session_idle_timeout_s: float = Field(
        300.0, gt=0, description="Seconds an MCP session may go without a request before it is closed."
    )
    max_sessions: int = Field(
        1000, gt=0, description="Most MCP sessions open at once; beyond it the longest-idle session is closed."
    )
    max_sessions_per_client: int = Field(
        100,
        gt=0,
        description="Most MCP sessions open at once from one client address; beyond it that client's "
        "longest-idle session is closed.",
    )


ENV_PREFIX = "TRACEJUDGE_"
LIMIT_FIELDS = (
    "max_connections", "header_timeout_s", "body_timeout_s", "body_min_rate", "max_buffered_body_bytes",
    "session_idle_timeout_s", "max_sessions", "max_sessions_per_client",
)  # fmt: skip
"""Read from TRACEJUDGE_<FIELD> (e.g. TRACEJUDGE_MAX_SESSIONS), as numbers."""


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from TRACEJUDGE_* variables, then explicit overrides (CLI flags) on top."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    if db := env.get(f"{ENV_PREFIX}DB"):
        values["db_path"] = Path(db).expanduser()
    if token := env.get(f"{ENV_PREFIX}TOKEN"):
        values["token"] = token
    if host := env.get(f"{ENV_PREFIX}HOST"):
        values["host"] = host
    if port := env.get(f"{ENV_PREFIX}PORT"):
        values["port"] = port
    if max_body := env.get(f"{ENV_PREFIX}MAX_BODY_BYTES"):
        values["max_body_bytes"] = max_body
    if hosts := env.get(f"{ENV_PREFIX}ALLOWED_HOSTS"):
        values["allowed_hosts"] = [h.strip() for h in hosts.split(",") if h.strip()]
    if targets := env.get(f"{ENV_PREFIX}TARGETS"):
        values["targets"] = [t.strip() for t in targets.split(",") if t.strip()]
    model_env = {
        "judge_model": JUDGE_MODEL_ENV,
        "api_base": JUDGE_API_BASE_ENV,
        "api_key": JUDGE_API_KEY_ENV,
        "timeout_s": JUDGE_TIMEOUT_ENV,
        "max_attempts": JUDGE_MAX_ATTEMPTS_ENV,
    }
    values["models"] = ModelSettings(**{field: env[name] for field, name in model_env.items() if env.get(name)})
    for field in LIMIT_FIELDS:
        if value := env.get(f"{ENV_PREFIX}{field.upper()}"):
            values[field] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
