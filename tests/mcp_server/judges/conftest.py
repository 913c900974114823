"""Fixtures for judges: the scripted OpenAI-compatible server and settings pointing at it, and a
server over the demo traces with the misrouted roaming trace's id."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver import MCPServer

from mcp_server.demo.load import load_demo
from mcp_server.server import create_server
from mcp_server.settings import Settings
from store import Database
from tests.support.northwind import MISROUTED
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai, scripted_settings

__all__ = ["scripted_openai"]


@pytest.fixture
def settings(scripted_openai: ScriptedOpenAI) -> Settings:
    """Settings whose default judge model is served by the scripted server, with fast retries.
    gpt-4o-mini is a model litellm knows supports response_format, so the schema goes there."""
    return scripted_settings(scripted_openai, max_backoff_s=0.01)


@pytest.fixture
def server(db: Database) -> MCPServer:
    load_demo(db)
    return create_server(Settings(), db)


@pytest.fixture
def roaming(db: Database, server: MCPServer) -> str:
    """The trace id of the misrouted roaming question."""
    row = db.reader().execute(
        "SELECT trace_id FROM traces WHERE request_preview LIKE ?", (f"%{MISROUTED}%",)
    ).fetchone()
    return row["trace_id"]
