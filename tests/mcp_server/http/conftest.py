"""Fixtures starting the real HTTP server for these tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mcp_server.settings import Settings
from tests.support.live_server import LiveServer, start_live_server


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Call with Settings overrides (token=..., max_body_bytes=...) to start a server."""
    running: list[LiveServer] = []

    def start(**overrides: object) -> LiveServer:
        settings = Settings(db_path=tmp_path / f"server{len(running)}.db", port=0, **overrides)
        running.append(start_live_server(settings))
        return running[-1]

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def live_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()
