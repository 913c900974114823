"""DNS-rebinding protection for /mcp, /v1/traces and /v1/logs alike (every route but the open ones,
app.OPEN_PATHS), with one exact matcher.

Without the check on /v1/traces and /v1/logs, a web page that rebinds its own name to 127.0.0.1
could write prompt-injected traces that a judge later reads. Host and Origin are parsed into a name
and a port and compared exactly: names case-insensitively, IP literals as addresses, ports as
numbers (an Origin without one has its scheme's default). Comparing prefixes, as the MCP SDK's
matcher does, lets `127.0.0.1:8080.evil.example` through.

Beyond loopback the Host check is no authentication (any non-browser client sends whatever Host it
likes): the token is. So a bind beyond loopback needs a token or the operator's word that the
network is trusted, and then accepts only the names the operator lists.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.http.answers import send_json
from mcp_server.settings import Settings
from store.errors import InvalidArgument

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 reg-name without percent-encoding or sub-delimiters, which no real host name uses.
_REG_NAME = re.compile(r"[a-z0-9._~-]+")
_PORT = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True)
class HostPattern:
    """A name (lowercase, or an IP address in its canonical form) and the port it is reached on:
    `port` None is a Host header without a port, `any_port` accepts every port and none."""

    name: str
    port: int | None = None
    any_port: bool = False

    def accepts_host(self, name: str, port: int | None) -> bool:
        return name == self.name and (self.any_port or port == self.port)

    def accepts_origin(self, scheme: str, name: str, port: int) -> bool:
        # A pattern without a port is the name reached on the default port of the client's scheme.
        expected = DEFAULT_PORTS[scheme] if self.port is None else self.port
        return name == self.name and (self.any_port or port == expected)


LOOPBACK_HOSTS = (
    HostPattern("127.0.0.1", any_port=True),
    HostPattern("localhost", any_port=True),
    HostPattern("::1", any_port=True),
)


def parse_host(value: str) -> tuple[str, int | None] | None:
    """(name, port) of a Host header value (RFC 9110 7.2: uri-host [":" port]), or None when it is
    not one."""
    if value.startswith("["):
        literal, bracket, rest = value[1:].partition("]")
        try:
            name = str(ipaddress.IPv6Address(literal)) if bracket else None
        except ValueError:
            return None
    else:
        literal, colon, port_text = value.partition(":")
        rest = colon + port_text
        name = _name(literal)
    if name is None:
        return None
    if not rest:
        return name, None
    if rest[0] != ":" or not _PORT.fullmatch(rest[1:]) or int(rest[1:]) > 65535:
        return None
    return name, int(rest[1:])


def _name(text: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        text = text.lower()
        return text if _REG_NAME.fullmatch(text) else None


def parse_origin(value: str) -> tuple[str, str, int] | None:
    """(scheme, name, port) of an http(s) Origin header (RFC 6454 serialization: no path, no user;
    the scheme's default port when it names none), or None for anything else, 'null' included."""
    scheme, separator, host = value.partition("://")
    scheme = scheme.lower()
    parsed = parse_host(host) if separator and scheme in DEFAULT_PORTS else None
    if parsed is None:
        return None
    name, port = parsed
    return scheme, name, DEFAULT_PORTS[scheme] if port is None else port


def parse_pattern(text: str) -> HostPattern:
    """An allowed-host entry: NAME, NAME:PORT or NAME:* (IPv6 in brackets)."""
    any_port = text.endswith(":*")
    parsed = parse_host(text[:-2] if any_port else text)
    if parsed is None or (any_port and parsed[1] is not None):
        raise InvalidArgument(
            f"allowed host {text!r} is not NAME, NAME:PORT or NAME:* (an IPv6 address in brackets, "
            "[::1]:8080); list the Host header clients send, e.g. --allowed-host traces.example.com:8080."
        )
    return HostPattern(parsed[0], parsed[1], any_port)


def is_loopback(address: str) -> bool:
    """Whether binding `address` keeps the server off the network. A name other than localhost
    counts as beyond loopback: it may resolve to anything."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def accepted_hosts(settings: Settings) -> list[HostPattern]:
    """The Host names this server answers to: loopback ones and those listed on a loopback bind,
    only those listed beyond it. Refuses a bind beyond loopback that has no token (unless the
    network is declared trusted) or lists no names."""
    listed = [parse_pattern(text) for text in settings.allowed_hosts]
    if is_loopback(settings.host):
        return [*LOOPBACK_HOSTS, *listed]
    where = f"{settings.host}:{settings.port}"
    if not settings.token and not settings.trusted_network:
        raise InvalidArgument(
            f"refusing to listen on {where} without a token: every host that can reach it could read "
            "and write traces and run judges. Put a token in a file readable only by you and pass "
            "--token-file PATH (or set TRACEJUDGE_TOKEN_FILE, or TRACEJUDGE_TOKEN); or, if every host "
            "on that network is trusted, pass --trusted-network (TRACEJUDGE_TRUSTED_NETWORK=1)."
        )
    if not listed:
        raise InvalidArgument(
            f"listening on {where} accepts only the Host names you list, and none is listed: pass "
            "--allowed-host NAME:PORT for each name clients use to reach it (repeatable), or set "
            "TRACEJUDGE_ALLOWED_HOSTS=NAME:PORT,...; loopback names pass only when listed too."
        )
    return listed


class HostCheckMiddleware:
    """Refuses (421) a Host and (403) an Origin that no accepted pattern matches, on every route
    but the open ones."""

    def __init__(self, app: ASGIApp, hosts: Sequence[HostPattern], open_paths: Collection[str]) -> None:
        self.app = app
        self.hosts = tuple(hosts)
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
        origins = [v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"]
        # Two Host (or Origin) headers are malformed (RFC 9110), and parts of a stack may read
        # different ones: refuse rather than pick one.
        host = hosts[0] if len(hosts) == 1 else ""
        parsed_host = parse_host(host)
        if parsed_host is None:
            await _refuse(
                send, 421, f"Host {host!r} is not NAME or NAME:PORT; send the one name the server is reached "
                "by (a loopback name, or one it was started with --allowed-host for)."
            )
            return
        if not any(pattern.accepts_host(*parsed_host) for pattern in self.hosts):
            fix = f"start the server with --allowed-host {host} (or add it to TRACEJUDGE_ALLOWED_HOSTS) to accept it"
            await _refuse(send, 421, f"Host {host!r} is not allowed; {fix}.")
            return
        if origins and not self._origin_allowed(origins):
            await _refuse(
                send, 403, f"Origin {origins[0]!r} is not allowed: pages on other sites may not call this server."
            )
            return
        await self.app(scope, receive, send)

    def _origin_allowed(self, origins: list[str]) -> bool:
        parsed = parse_origin(origins[0]) if len(origins) == 1 else None
        return parsed is not None and any(pattern.accepts_origin(*parsed) for pattern in self.hosts)


async def _refuse(send: Send, status: int, message: str) -> None:
    await send_json(send, status, {"error": "forbidden", "message": message})
