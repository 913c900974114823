"""What every CLI command module shares: the command types, and the database a command opens
(imported lazily, so `--help` never loads the store) and always closes."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mcp_server.settings import Settings

if TYPE_CHECKING:
    from store import Database

Command = Callable[[argparse.Namespace, Settings], int]
AddCommand = Callable[[Any, str, Command, str], argparse.ArgumentParser]


@contextmanager
def database(settings: Settings, *, checkpoint: bool = False) -> Iterator[Database]:
    """The store at settings.db_path, closed when the block ends (checkpointed first, for the
    servers, so the .db file alone holds it all: Database.close)."""
    from store import Database

    db = Database(settings.db_path)
    try:
        yield db
    finally:
        db.close(checkpoint=checkpoint)
