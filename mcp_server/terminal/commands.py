"""What every CLI command module shares: the command types, the database a command opens
(imported lazily, so `--help` never loads the store) and always closes, --json, which prints
what the matching MCP tool answers, and --page-token, which continues where its page ended."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mcp_server.settings import Settings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from store import Database



Command = Callable[[argparse.Namespace, Settings], int]
AddCommand = Callable[[Any, str, Command, str], argparse.ArgumentParser]


def operator_settings(settings: Settings) -> Settings:
    """The settings of a command the operator runs on their own machine: any model may be named,
    as any target may run (an MCP client is held to allowed_models and the allowed targets)."""
    return settings.model_copy(update={"models": settings.models.model_copy(update={"allowed_models": None})})


def open_database(settings: Settings) -> Database:
    """The store at settings.db_path, as every command and server opens it: spans written to it
    take their log events through the semantic conventions (store.log_events)."""
    from mcp_server.ingest.semconv import attach_events
    from store import Database

    return Database(settings.db_path, attach_events=attach_events)


@contextmanager
def database(settings: Settings, *, checkpoint: bool = False) -> Iterator[Database]:
    """open_database, closed when the block ends (checkpointed first, for the servers, so the
    .db file alone holds it all: Database.close)."""
    db = open_database(settings)
    try:
        yield db
    finally:
        db.close(checkpoint=checkpoint)


def json_option(parser: argparse.ArgumentParser, tool: str) -> None:
    """--json on a read command: print the answer of `tool` for the same arguments instead of tables."""
    parser.add_argument(
        "--json", action="store_true", help=f"print the JSON the {tool} tool answers, for scripts and coding agents"
    )


def page_token_option(parser: argparse.ArgumentParser, tool: str) -> None:
    """--page-token on a command that shows one page of what `tool` pages: the next page starts
    where the token the previous one printed (as its last line, or as next_page_token with --json)."""
    parser.add_argument(
        "--page-token", default=None, metavar="TOKEN",
        help=f"show the next page: the token the previous page printed (next_page_token of {tool} with --json); "
        "repeat its other options as they were",
    )  # fmt: skip


def print_json(answer: BaseModel | dict[str, BaseModel]) -> None:
    """An answer on stdout as one line of JSON, as the MCP tool sends it (several under their names)."""
    from mcp_server.tooling.paging import dumps

    if isinstance(answer, dict):
        print(dumps({name: part.model_dump(mode="json") for name, part in answer.items()}))
    else:
        print(dumps(answer.model_dump(mode="json")))


def print_answer(args: argparse.Namespace, answer: BaseModel, show: Callable[[Any], None]) -> None:
    """With --json, the answer as JSON; else `show(answer)` prints it for a person."""
    if args.json:
        print_json(answer)
    else:
        show(answer)


def command_group(sub: Any, name: str, help: str) -> Any:
    parser = sub.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="SUBCOMMAND")
