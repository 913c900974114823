"""The operator's gateway configuration: a TOML file of named routes. Clients name a route as their
`model`; they can never name a provider model, a URL or a key themselves.

    [routes.fast]
    model = "openai/gpt-4o-mini"          # litellm's provider/model form
    api_base = "https://api.openai.com/v1" # optional: the provider's default
    api_key_env = "OPENAI_API_KEY"         # the NAME of the variable holding the key, read per call
    timeout_s = 30
    fallback = "backup"                    # tried on 5xx, timeouts and connection errors, not on 4xx
    input_usd_per_million = 0.15           # optional: prices for a model litellm cannot price
    output_usd_per_million = 0.60

    guardrails = ["no_cards", "injection"] # applied to every call of the route, in order

    [guardrails.no_cards]                  # mcp_server.guardrails.config has every option
    kind = "pii"
    stages = ["input", "output"]
    action = "redact"

A route naming a guardrail the file does not define is refused at load, as is anything else amiss.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_server.guardrails.config import GuardrailSpec, parse_guardrails
from store.errors import InvalidArgument

ROUTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class GatewayConfigError(InvalidArgument):
    """The gateway's configuration file cannot be served; the message names the file and the table."""


class Route(BaseModel):
    """One route: where a client's `model` name goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model: str = Field(description="The provider model in litellm's form, e.g. openai/gpt-4o-mini.")
    api_base: str | None = None
    api_key_env: str | None = Field(None, description="The name of the environment variable holding the provider key.")
    timeout_s: float = Field(60.0, gt=0, le=3_600)
    fallback: str | None = None
    input_usd_per_million: float | None = Field(None, ge=0)
    output_usd_per_million: float | None = Field(None, ge=0)
    guardrails: tuple[str, ...] = Field((), description="Names of [guardrails.NAME] tables applied to its calls.")

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0]

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The provider key, read from the route's variable at call time (so rotating it needs no
        restart); never stored, logged or echoed. None leaves litellm to its provider's default."""
        if self.api_key_env is None:
            return None
        return (os.environ if environ is None else environ).get(self.api_key_env)


class GatewayConfig(BaseModel):
    path: Path
    routes: dict[str, Route]
    guardrails: dict[str, GuardrailSpec] = {}

    def guardrails_for(self, route: Route, key_guardrails: list[str]) -> list[GuardrailSpec]:
        """The route's guardrails, then the key's that the route does not have, in order."""
        names = dict.fromkeys([*route.guardrails, *key_guardrails])
        return [self.guardrails[name] for name in names if name in self.guardrails]

    def chain(self, name: str) -> list[Route]:
        """The route and its fallbacks in order (cycles were refused at load)."""
        chain = [self.routes[name]]
        while chain[-1].fallback is not None:
            chain.append(self.routes[chain[-1].fallback])
        return chain


def load_config(path: Path) -> GatewayConfig:
    """Read and check the gateway file; GatewayConfigError saying which table is wrong and how."""
    where = f"the gateway configuration {path}"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GatewayConfigError(f"{where} could not be read ({exc.strerror or exc}); check --gateway-config "
                                 "(or TRACEJUDGE_GATEWAY_CONFIG).") from None  # fmt: skip
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GatewayConfigError(f"{where} is not valid TOML: {exc}.") from None
    unknown = sorted(set(document) - {"routes", "guardrails"})
    if unknown:
        raise GatewayConfigError(f"{where} has unknown top-level keys {unknown}; it holds [routes.NAME] and "
                                 "[guardrails.NAME] tables.")  # fmt: skip
    try:
        guardrails = parse_guardrails(document.get("guardrails", {}))
    except ValueError as exc:
        raise GatewayConfigError(f"{where}: {exc}") from None
    tables = document.get("routes")
    if not isinstance(tables, dict) or not tables:
        raise GatewayConfigError(f"{where} defines no route; add a [routes.NAME] table with model = \"openai/gpt-4o-mini\".")
    routes: dict[str, Route] = {}
    for name, table in tables.items():
        at = f"{where}, table [routes.{name}]"
        if not ROUTE_NAME.fullmatch(name):
            raise GatewayConfigError(f"{at}: a route's name is 1 to 64 letters, digits, '.', '_' or '-'.")
        if not isinstance(table, dict):
            raise GatewayConfigError(f"{at}: is not a table; write [routes.{name}] with model = \"provider/model\".")
        try:
            route = Route(name=name, **table)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'table'}: {e['msg']}" for e in exc.errors())
            raise GatewayConfigError(f"{at}: {problems}.") from None
        except TypeError as exc:  # a key named `name`
            raise GatewayConfigError(f"{at}: {exc}.") from None
        if "/" not in route.model.strip("/"):
            raise GatewayConfigError(f"{at}: model {route.model!r} is not in litellm's provider/model form "
                                     "(e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest).")  # fmt: skip
        if route.api_key_env is not None and not _ENV_NAME.fullmatch(route.api_key_env):
            raise GatewayConfigError(f"{at}: api_key_env is the NAME of an environment variable (e.g. OPENAI_API_KEY), "
                                     "not the key itself.")  # fmt: skip
        if route.api_base is not None and not re.match(r"https?://", route.api_base):
            raise GatewayConfigError(f"{at}: api_base {route.api_base!r} is not an http(s) URL.")
        if missing := [g for g in route.guardrails if g not in guardrails]:
            raise GatewayConfigError(f"{at}: guardrails {missing} are not defined; add a [guardrails.NAME] table for each"
                                     f" (defined: {', '.join(sorted(guardrails)) or 'none'}).")  # fmt: skip
        routes[name] = route
    for name, route in routes.items():
        _check_fallbacks(where, name, routes)
    return GatewayConfig(path=path, routes=routes, guardrails=guardrails)


def _check_fallbacks(where: str, name: str, routes: dict[str, Route]) -> None:
    seen = [name]
    route = routes[name]
    while route.fallback is not None:
        if route.fallback not in routes:
            raise GatewayConfigError(f"{where}, table [routes.{route.name}]: fallback {route.fallback!r} is not a route; "
                                     f"routes: {', '.join(sorted(routes))}.")  # fmt: skip
        if route.fallback in seen:
            raise GatewayConfigError(f"{where}, table [routes.{name}]: its fallbacks go round in a circle "
                                     f"({' -> '.join([*seen, route.fallback])}); end the chain at a route without one.")  # fmt: skip
        seen.append(route.fallback)
        route = routes[route.fallback]
