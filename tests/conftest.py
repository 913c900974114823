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
