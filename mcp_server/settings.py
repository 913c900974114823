"""The one settings object. Built once (by the CLI, or by tests), passed down; nothing below reads
the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from mcp_server.models.settings import (
    ALLOWED_MODELS_ENV,
    JUDGE_API_BASE_ENV,
    JUDGE_API_KEY_ENV,
    JUDGE_MAX_ATTEMPTS_ENV,
    JUDGE_MODEL_ENV,
    JUDGE_TIMEOUT_ENV,
    ModelSettings,
)
from mcp_server.tooling.toolsets import TOOLSET_NAMES, check_toolsets
from store.errors import InvalidArgument
from store.logs import (
    DEFAULT_MAX_EVENT_BYTES_PER_SPAN,
    DEFAULT_MAX_EVENTS_PER_SPAN,
    DEFAULT_MAX_PENDING_BYTES,
    DEFAULT_PENDING_TTL_S,
)

DEFAULT_DB_PATH = Path.home() / ".tracejudge" / "tracejudge.db"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_TARGETS = ("mcp_server.demo_target:answer",)
DEFAULT_MAX_BUFFERED_BODY_BYTES = 256 * 1024 * 1024
_TOKEN = re.compile(r"[!-~](?:[ -~]*[!-~])?")
"""Printable ASCII, spaces allowed only inside: what an HTTP header carries and gives back intact."""


class Settings(BaseModel):
    """Configuration for the server, the OTLP endpoint and the CLI."""

    db_path: Path = Field(DEFAULT_DB_PATH, description="The SQLite file holding traces.")
    host: str = Field("127.0.0.1", description="Address to bind; 127.0.0.1 keeps it off the network.")
    port: int = Field(8080, ge=0, le=65535)
    token: str | None = Field(
        None, description="When set, /mcp, /v1/traces and /v1/logs require 'Authorization: Bearer <token>'."
    )
    token_file: Path | None = Field(
        None, description="The file the token was read from, if it came from one (kept to warn about its mode)."
    )
    trusted_network: bool = Field(
        False,
        description="The operator's word that every host able to reach a bind beyond loopback is trusted, "
        "so the server may listen there without a token.",
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES,
        gt=0,
        description="Largest OTLP request body accepted, before and after decompression.",
    )
    pending_logs_max_bytes: int = Field(
        DEFAULT_MAX_PENDING_BYTES,
        gt=0,
        description="Most bytes of OTLP log records kept waiting for spans not received yet; "
        "past it the oldest waiting records are deleted to make room (with a warning).",
    )
    pending_logs_ttl_s: float = Field(
        DEFAULT_PENDING_TTL_S,
        gt=0,
        description="Seconds a log record waits for its span before it is deleted (with a warning).",
    )
    max_log_events_per_span: int = Field(
        DEFAULT_MAX_EVENTS_PER_SPAN,
        gt=0,
        description="Most OTLP log records kept as events of one span; records past it are refused in "
        "partial_success.",
    )
    max_log_event_bytes_per_span: int = Field(
        DEFAULT_MAX_EVENT_BYTES_PER_SPAN,
        gt=0,
        description="Most bytes of OTLP log records kept as events of one span; records past it are refused "
        "in partial_success.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header values (NAME, NAME:PORT, NAME:*) accepted by /mcp, /v1/traces and /v1/logs "
        "(DNS-rebinding protection): besides the loopback names on a loopback bind, alone beyond it.",
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
    body_idle_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a request body may go without sending a byte; then it gets 408 and the "
        "bytes it sent are let go.",
    )
    max_buffered_body_bytes: int = Field(
        DEFAULT_MAX_BUFFERED_BODY_BYTES,
        gt=0,
        description="Memory for OTLP exports at once, over all being read or stored: the bytes each "
        "body has sent, and once read, what decoding it takes (mcp_server.ingest.otlp.DECODE_MEMORY_FACTOR "
        "times its bytes); an export that would go past it gets 503 with Retry-After. Never below "
        "max_body_bytes.",
    )
    max_buffered_body_bytes_per_client: int | None = Field(
        None,
        gt=0,
        description="OTLP body bytes one client address may hold at once, its share of "
        "max_buffered_body_bytes (by default half of it), so no client takes the whole budget; past it "
        "that client's export gets 503 with Retry-After. Never below max_body_bytes.",
    )
    session_idle_timeout_s: float = Field(
        300.0, gt=0, description="Seconds an MCP session may go without a request before it is closed."
    )
    max_sessions: int = Field(
        300,
        gt=0,
        description="Most MCP sessions open at once; beyond it the longest-idle session is closed. "
        "`serve` lowers it to half the connection cap.",
    )
    max_sessions_per_client: int = Field(
        100,
        gt=0,
        description="Most MCP sessions open at once from one client address; beyond it that client's "
        "longest-idle session is closed.",
    )
    max_streams: int = Field(
        150,
        gt=0,
        description="Most MCP GET streams (server-to-client messages of a session) open at once; beyond it "
        "the stream open the longest is closed. `serve` lowers it to a quarter of the connection cap.",
    )
    max_streams_per_client: int = Field(
        20,
        gt=0,
        description="Most MCP GET streams open at once from one client address; beyond it that client's "
        "stream open the longest is closed.",
    )
    toolsets: list[str] = Field(
        default_factory=lambda: list(TOOLSET_NAMES),
        description="The MCP toolsets served (" + ",".join(TOOLSET_NAMES) + "); a client that only "
        "investigates traces needs only 'traces'.",
    )
    read_only: bool = Field(
        False, description="Serve only the MCP tools that neither write nor spend (no judge runs, no logging)."
    )
    monitors: bool = Field(
        True, description="Run the monitors (CreateMonitor) inside `serve`; off, another process "
        "(`tracejudge monitors run`) judges for them."
    )
    monitor_concurrency: int = Field(
        4, ge=1, le=64, description="Most monitor judgments in flight at once in one process (halved while the "
        "model's provider rate-limits)."
    )
    webhook_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (NAME or NAME:PORT) that alert webhooks may be sent to; none by default, so an "
        "alert rule's webhook needs the operator to list its host.",
    )
    webhook_secret: str | None = Field(
        None, description="The key alert webhooks are signed with (HMAC-SHA256 of the body, header "
        "X-TraceJudge-Signature: sha256=<hex>); required for a rule with a webhook."
    )
    webhook_attempts: int = Field(4, ge=1, le=10, description="Tries per alert webhook, with doubling waits.")
    webhook_backoff_s: float = Field(1.0, gt=0, le=60, description="The wait before an alert webhook's second try.")
    monitor_poll_s: float = Field(1.0, gt=0, le=300, description="Seconds between the monitors' looks for completed traces.")
    monitor_lease_s: float = Field(
        60.0, ge=1, le=3_600, description="Seconds a process's hold on a trace it judges lasts unless renewed: "
        "how soon a killed process's traces are judged by another."
    )
    gateway_config: Path | None = Field(
        None, description="The AI gateway's TOML file of [routes.NAME] tables; without one /gateway answers 404."
    )
    gateway_max_body_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="Largest request body the gateway accepts (messages, images as base64)."
    )

    @field_validator("toolsets")
    @classmethod
    def _known_toolsets(cls, toolsets: list[str]) -> list[str]:
        return check_toolsets(toolsets)

    @field_validator("token")
    @classmethod
    def _token_fits_a_header(cls, token: str | None) -> str | None:
        # Clients send it in an HTTP header, around which whitespace is dropped: a token with
        # spaces at its ends, control or non-ASCII characters could never be matched.
        if token is not None and not _TOKEN.fullmatch(token):
            raise ValueError(
                "the token must be printable ASCII without spaces at its ends; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return token


def read_token_file(path: Path) -> str:
    """The token written in `path`, without its one trailing newline."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidArgument(
            f"the token file {path} could not be read ({reason}); check the path given to --token-file "
            "(or TRACEJUDGE_TOKEN_FILE) and that this user may read it."
        ) from exc
    token = text.removesuffix("\n").removesuffix("\r")
    if not token:
        raise InvalidArgument(
            f"the token file {path} is empty; write the token in it, e.g. "
            f"python -c 'import secrets; print(secrets.token_urlsafe(32))' > {path}; chmod 600 {path}"
        )
    return token


ENV_PREFIX = "TRACEJUDGE_"
PLAIN_FIELDS = (
    "host", "port", "trusted_network", "max_body_bytes", "pending_logs_max_bytes", "pending_logs_ttl_s",
    "max_log_events_per_span", "max_log_event_bytes_per_span",
    "max_connections", "header_timeout_s", "body_timeout_s", "body_min_rate", "body_idle_timeout_s",
    "max_buffered_body_bytes", "max_buffered_body_bytes_per_client",
    "session_idle_timeout_s", "max_sessions", "max_sessions_per_client", "max_streams", "max_streams_per_client",
    "read_only", "monitors", "monitor_concurrency", "monitor_poll_s", "monitor_lease_s", "webhook_secret",
    "webhook_attempts", "webhook_backoff_s", "gateway_max_body_bytes",
)  # fmt: skip
"""Read from TRACEJUDGE_<FIELD> (e.g. TRACEJUDGE_MAX_SESSIONS) as they are; pydantic converts them."""


def split_list(value: str) -> list[str]:
    """A comma-separated setting's items, stripped, empty ones dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from TRACEJUDGE_* variables, then explicit overrides (CLI flags) on top; a bad value
    of ours is an InvalidArgument naming the setting."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    if db := env.get(f"{ENV_PREFIX}DB"):
        values["db_path"] = Path(db).expanduser()
    if token := env.get(f"{ENV_PREFIX}TOKEN"):
        values["token"] = token
    if token_file := env.get(f"{ENV_PREFIX}TOKEN_FILE"):
        values["token_file"] = Path(token_file).expanduser()
    for field in PLAIN_FIELDS:
        if value := env.get(f"{ENV_PREFIX}{field.upper()}"):
            values[field] = value
    if gateway_config := env.get(f"{ENV_PREFIX}GATEWAY_CONFIG"):
        values["gateway_config"] = Path(gateway_config).expanduser()
    if hosts := env.get(f"{ENV_PREFIX}ALLOWED_HOSTS"):
        values["allowed_hosts"] = split_list(hosts)
    if targets := env.get(f"{ENV_PREFIX}TARGETS"):
        values["targets"] = split_list(targets)
    if webhook_hosts := env.get(f"{ENV_PREFIX}WEBHOOK_HOSTS"):
        values["webhook_hosts"] = split_list(webhook_hosts)
    if toolsets := env.get(f"{ENV_PREFIX}TOOLSETS"):
        values["toolsets"] = split_list(toolsets)
    model_env = {
        "judge_model": JUDGE_MODEL_ENV,
        "api_base": JUDGE_API_BASE_ENV,
        "api_key": JUDGE_API_KEY_ENV,
        "timeout_s": JUDGE_TIMEOUT_ENV,
        "max_attempts": JUDGE_MAX_ATTEMPTS_ENV,
        "allowed_models": ALLOWED_MODELS_ENV,
    }
    values["models"] = ModelSettings(**{field: env[name] for field, name in model_env.items() if env.get(name)})
    return _with_flags(values, overrides)


def _with_flags(values: dict[str, object], overrides: Mapping[str, object]) -> Settings:
    """Settings from the environment's `values` with the flags in `overrides` on top, the token
    file read."""
    flags = {k: v for k, v in overrides.items() if v is not None}
    if {"token", "token_file"} & flags.keys():
        # A flag naming the token (or its file) replaces whichever the environment gave.
        values.pop("token", None)
        values.pop("token_file", None)
    values.update(flags)
    if (token_file := values.get("token_file")) is not None:
        if values.get("token") is not None:
            raise InvalidArgument(
                "both a token (TRACEJUDGE_TOKEN or --token) and a token file (TRACEJUDGE_TOKEN_FILE or "
                "--token-file) are given; keep one, preferably the file."
            )
        values["token"] = read_token_file(Path(str(token_file)))
    try:
        return Settings(**values)
    except ValidationError as exc:
        # pydantic's own text quotes each bad value, which would print a malformed token.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidArgument(f"invalid setting ({problems}); fix the TRACEJUDGE_* variable or flag.") from None
