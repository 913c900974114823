"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated store in a temporary file (a real file, so WAL and readers behave as deployed)."""
    database = Database(tmp_path / "traces.db")
    yield database
    database.close()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file holding the demo data, shared by one module's tests that only read it (a module
    that needs another form, e.g. a fresh copy per test, defines its own demo_db)."""
    from mcp_server.demo.load import load_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    database = Database(path)
    load_demo(database)
    database.close()
    return path
