"""`tracejudge demo`: the demo traces loaded into the store (what `serve --demo` loads first)."""

from __future__ import annotations

import argparse

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.demo.load import load_demo

    with database(settings) as db:
        loaded = load_demo(db)
        print(f"loaded {loaded} demo traces into {settings.db_path}")
    return 0


def register_demo_commands(sub: argparse._SubParsersAction, add_command: AddCommand) -> None:
    """Add `demo` to the top-level subparsers `sub`."""
    add_command(sub, "demo", cmd_demo, "Load the telecom-support demo traces into the database.")
