"""One in-process MCP client session on create_server's server, with assertions every tool test
makes: a success has structured content equal to its JSON text; an error is a tool error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client

from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database


class Session:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def call(self, tool: str, progress: Any = None, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(tool, arguments, progress_callback=progress)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        assert json.loads(result.content[0].text) == result.structured_content
        return result.structured_content

    async def error(self, tool: str, **arguments: Any) -> str:
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error, result.structured_content
        return result.content[0].text


@asynccontextmanager
async def session(db: Database, settings: Settings | None = None) -> AsyncIterator[Session]:
    async with Client(create_server(settings or Settings(), db)) as client:
        yield Session(client)
