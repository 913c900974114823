"""The MCP middleware that holds each request to its token's role: tools/list shows only the tools the
role may call, a tools/call of any other is refused naming the role it needs, and each call of a tool
that writes is recorded with the token that made it (store.tokens).

The role comes from the HTTP request (mcp_server.http.auth put it in the scope state); a request
without one (stdio, the in-process client of an agent judge, a server that needs no token) is the
operator's. While a tool runs, `current_access()` tells it who is calling (CreateToken needs it).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from mcp_server.access.roles import OPERATOR, Access, Role, at_least, refusal, tool_role
from mcp_server.access.service import record_write
from mcp_server.http.auth import request_access
from mcp_server.tooling.toolsets import writes
from store import Database

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

logger = logging.getLogger(__name__)
_CURRENT: ContextVar[Access] = ContextVar("tracejudge_access", default=OPERATOR)


def current_access() -> Access:
    """Who the tool call now running acts for."""
    return _CURRENT.get()


class RoleGate:
    def __init__(self, db: Database, roles: dict[str, Role]) -> None:
        self.db = db
        self.roles = roles

    @classmethod
    def for_server(cls, server: MCPServer, db: Database) -> RoleGate:
        """The gate for the tools `server` serves (call it after they are chosen)."""
        tools = server._tool_manager.list_tools()  # the SDK keeps its registered Tools there
        return cls(db, {tool.name: tool_role(tool.name, writes=writes(tool)) for tool in tools})

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method not in ("tools/list", "tools/call"):
            return await call_next(ctx)
        scope = getattr(ctx.request, "scope", None)
        access = OPERATOR if scope is None else request_access(scope)
        if ctx.method == "tools/list":
            listed = await call_next(ctx)  # past the SDK's handler the answer is in its wire form, a dict
            if access.role == "admin":
                return listed
            return {**listed, "tools": [tool for tool in listed["tools"]
                                        if at_least(access.role, self.roles.get(tool["name"], "admin"))]}  # fmt: skip
        name = (ctx.params or {}).get("name")
        needed = self.roles.get(name)
        if needed is None:  # not a tool of this server: the SDK's own answer says so
            return await call_next(ctx)
        if not at_least(access.role, needed):
            # Imported here: a CLI command that never serves must not pay for the SDK.
            from mcp import MCPError
            from mcp_types import INVALID_PARAMS

            raise MCPError(code=INVALID_PARAMS, message=refusal(access, needed, f"the tool {name}"))
        token = _CURRENT.set(access)
        try:
            result = await call_next(ctx)
        finally:
            _CURRENT.reset(token)
        if needed != "read":
            ok = not (isinstance(result, dict) and result.get("isError"))
            try:
                await anyio.to_thread.run_sync(
                    functools.partial(record_write, self.db, access, via="mcp", action=name, ok=ok)
                )
            except sqlite3.OperationalError:  # a busy store: the write happened, the note of who made it did not
                logger.warning("could not record the call of %s by %s: the store is busy", name, access.describe())
        return result
