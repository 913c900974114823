"""The `prompts` commands: register, show, list, versions, alias and diff, over the same services
as the prompt registry tools (mcp_server.prompts.service); parsing and printing only."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, page_token_option, print_json
from store.errors import InvalidArgument


def _console() -> Any:
    from mcp_server.terminal.tables import output_console

    return output_console()


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def _read_template(path: str, chat: bool) -> str | list[dict[str, str]]:
    source = "standard input" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read the template from {source} ({exc}); pass a UTF-8 text file, or - for stdin.") from None
    if not chat:
        return text
    try:
        messages = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"--chat needs a JSON list of messages in {source}, but it is not JSON ({exc}); e.g. "
            '[{"role": "system", "content": "You route {{ topic }} requests."}].'
        ) from None
    return messages


def _tags(pairs: list[str] | None) -> dict[str, str]:
    tags = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"--tag {pair!r} is not KEY=VALUE; e.g. --tag author=ana.")
        tags[key] = value
    return tags


def cmd_register(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.prompts.service import register_prompt

    template = _read_template(args.file, args.chat)
    with database(settings) as db:
        info = register_prompt(
            db, args.name, template, commit_message=args.message, tags=_tags(args.tag), description=args.description
        )
    variables = ", ".join(info.variables) or "none"
    _console().print(f"registered {info.uri} (version {info.version}, {info.kind}); variables: {variables}", markup=False)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.prompts.service import get_prompt
    from mcp_server.prompts.template import template_text

    with database(settings) as db:
        detail = get_prompt(db, args.name_or_uri, version=args.version, alias=args.alias)
    if args.json:
        print_json(detail)
        return 0
    version = detail.prompt_version
    console = _console()
    aliases = f"  aliases: {', '.join(version.aliases)}" if version.aliases else ""
    console.print(f"[bold]{version.name}[/]  version {version.version} of {detail.latest_version}  {version.kind}{aliases}")
    for label, value in (
        ("description", detail.description),
        ("commit message", version.commit_message),
        ("variables", ", ".join(version.variables)),
        ("tags", ", ".join(f"{k}={v}" for k, v in version.tags.items())),
        ("parent version", version.parent_version),
        ("created", _when(version.created_ns)),
    ):
        if value:
            console.print(f"{label}: {value}", markup=False)
    console.print("[dim]template:[/]")
    # soft_wrap: a long template line is printed whole, never broken at the console width.
    console.print(template_text(version.template), markup=False, soft_wrap=True)
    if detail.runs:
        console.print(f"[dim]used by {detail.run_count} evaluation run(s):[/]")
        for run in detail.runs:
            console.print(f"  {run.run_id}  {run.status}  {run.name or ''}", markup=False)
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.prompts.service import list_prompts
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        page = list_prompts(db, max_results=args.limit, page_token=args.page_token)
    if args.json:
        print_json(page)
        return 0
    columns = (Column("name"), Column("latest", justify="right"), Column("aliases", fit="wrap", drop=2),
               Column("description", fit="wrap", drop=1))  # fmt: skip
    rows = [(p.name, str(p.latest_version), ", ".join(f"{a}={v}" for a, v in p.aliases.items()) or "-",
             p.description or "-") for p in page.prompts]  # fmt: skip
    print_listing(columns, rows, title=f"prompts ({len(page.prompts)} of {page.total})",
                  next_page_token=page.next_page_token, more="prompts")  # fmt: skip
    return 0


def cmd_versions(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.prompts.service import list_prompt_versions
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        page = list_prompt_versions(db, args.name, max_results=args.limit, page_token=args.page_token)
    if args.json:
        print_json(page)
        return 0
    columns = (Column("version", justify="right"), Column("kind", drop=3), Column("aliases", fit="wrap", drop=2),
               Column("runs", justify="right", drop=4), Column("created", drop=5),
               Column("commit message", fit="wrap"), Column("template", fit="line", drop=1))  # fmt: skip
    rows = [(str(v.version), v.kind, ", ".join(v.aliases) or "-", str(v.run_count), _when(v.created_ns),
             v.commit_message or "-", v.template_preview) for v in page.versions]  # fmt: skip
    print_listing(columns, rows, title=f"versions of {page.name} ({len(page.versions)} of {page.total}, newest first)",
                  next_page_token=page.next_page_token, more="versions")  # fmt: skip
    return 0


def cmd_alias(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.prompts.service import set_prompt_alias
    from store.prompts import delete_prompt_alias

    if args.delete == (args.version is not None):
        raise InvalidArgument("pass a VERSION to set the alias, or --delete to remove it (not both).")
    with database(settings) as db:
        if args.delete:
            was = delete_prompt_alias(db, args.name, args.alias)
            _console().print(f"removed {args.name}@{args.alias} (it pointed at version {was})", markup=False)
            return 0
        change = set_prompt_alias(db, args.name, args.alias, args.version)
    before = "new alias" if change.previous_version is None else f"was version {change.previous_version}"
    _console().print(f"{change.uri} -> version {change.version} ({before})", markup=False)
    return 0


def cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.prompts.diff import diff_prompt_versions
    from mcp_server.prompts.service import diff_prompt_versions_tool

    with database(settings) as db:
        if args.json:
            print_json(diff_prompt_versions_tool(db, args.name, args.from_version, args.to_version,
                                                 max_content_length=args.max_content_length))  # fmt: skip
            return 0
        diff = diff_prompt_versions(db, args.name, args.from_version, args.to_version)
    console = _console()
    if diff.from_kind != diff.to_kind:
        console.print(f"kind: {diff.from_kind} -> {diff.to_kind}")
    if diff.variables_added or diff.variables_removed:
        console.print(f"variables: +{diff.variables_added} -{diff.variables_removed}", markup=False)
    console.print(f"commit messages: {diff.from_commit_message!r} -> {diff.to_commit_message!r}", markup=False)
    console.print(diff.diff if not diff.identical else "(the templates are identical)\n", markup=False, end="",
                  soft_wrap=True)
    return 0


def register_prompt_commands(sub: Any, add: AddCommand) -> None:
    """Add `prompts` and its subcommands to the top-level subparsers `sub`; `add` makes a command with --db."""
    from mcp_server.prompts.service import DEFAULT_DIFF_LENGTH

    help = "Register, show, list, alias and diff prompt versions."
    group = sub.add_parser("prompts", help=help, description=help).add_subparsers(
        dest="prompts_command", required=True, metavar="SUBCOMMAND"
    )
    register = add(group, "register", cmd_register,
                   "Register the next version of a prompt from a file or stdin (version 1 creates it).")
    register.add_argument("name", help="letters, digits, _ . -; starting with a letter")
    register.add_argument("file", nargs="?", default="-", help="the template file (default: - for stdin)")
    register.add_argument("--chat", action="store_true",
                          help='the file is a JSON list of messages: [{"role": "system", "content": "..."}]')
    register.add_argument("-m", "--message", default="", help="commit message: what changed and why")
    register.add_argument("--tag", action="append", default=None, help="KEY=VALUE label on the version (repeatable)")
    register.add_argument("--description", default=None, help="what the prompt is for (replaces the description)")
    show = add(group, "show", cmd_show, "Show a prompt version whole, with the evaluation runs that used it.")
    show.add_argument("name_or_uri", help="'router', 'prompts:/router/3' or 'prompts:/router@production'")
    which = show.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, default=None, help="a version (default: the latest)")
    which.add_argument("--alias", default=None, help="an alias, e.g. production")
    json_option(show, "GetPrompt")
    listing = add(group, "list", cmd_list, "List the registered prompts.")
    listing.add_argument("--limit", type=int, default=50, help="prompts to show (default 50, at most 100)")
    page_token_option(listing, "ListPrompts")
    json_option(listing, "ListPrompts")
    versions = add(group, "versions", cmd_versions, "List a prompt's versions, newest first.")
    versions.add_argument("name")
    versions.add_argument("--limit", type=int, default=50, help="versions to show (default 50, at most 100)")
    page_token_option(versions, "ListPromptVersions")
    json_option(versions, "ListPromptVersions")
    alias = add(group, "alias", cmd_alias, "Point an alias (e.g. production) at a version, or remove it.")
    alias.add_argument("name")
    alias.add_argument("alias", help="letters, digits, _ or -; 'latest' is reserved")
    alias.add_argument("version", type=int, nargs="?", default=None, help="the version to point at")
    alias.add_argument("--delete", action="store_true", help="remove the alias (versions are kept)")
    diff = add(group, "diff", cmd_diff, "Show a unified diff between two versions of a prompt.")
    diff.add_argument("name")
    diff.add_argument("from_version", type=int)
    diff.add_argument("to_version", type=int)
    json_option(diff, "DiffPromptVersions")
    diff.add_argument("--max-content-length", type=int, default=DEFAULT_DIFF_LENGTH,
                      help=f"with --json: characters of diff, 1,000 to 200,000 (default {DEFAULT_DIFF_LENGTH:,}; "
                      "a terminal gets it whole)")  # fmt: skip
