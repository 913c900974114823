"""`tracejudge skills list|install`: the skills this package ships, and writing them where a coding
agent looks for a project's skills."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mcp_server.settings import Settings
from mcp_server.skills import DEFAULT_DIR, bundled_skills, install_skills


def cmd_skills_list(args: argparse.Namespace, settings: Settings) -> int:
    skills = bundled_skills()
    if args.json:
        print(json.dumps({"skills": [{"name": s.name, "description": s.description} for s in skills]}))
    else:
        for skill in skills:
            print(f"{skill.name}\n  {skill.description}")
    return 0


def cmd_skills_install(args: argparse.Namespace, settings: Settings) -> int:
    written = install_skills(args.dir.expanduser(), force=args.force)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} skills installed in {args.dir}; an agent that reads skills from there loads them at its next start.")
    return 0


def register_skills_commands(sub: argparse._SubParsersAction) -> None:
    """`skills` and its subcommands; none opens the store (db=None keeps main's --db handling)."""
    help = "List the agent skills tracejudge ships, or install them for Claude Code, Codex and others."
    group = sub.add_parser("skills", help=help, description=help)
    group.set_defaults(db=None)
    commands = group.add_subparsers(dest="skills_command", required=True, metavar="SUBCOMMAND")
    listing = commands.add_parser(
        "list", help="Print each skill's name and description.", description="Print each skill's name and description."
    )
    listing.add_argument("--json", action="store_true", help='print {"skills": [{"name", "description"}]}')
    listing.set_defaults(func=cmd_skills_list)
    install_help = "Write each skill to DIR/<name>/SKILL.md (default: .claude/skills, where Claude Code looks)."
    install = commands.add_parser("install", help=install_help, description=install_help)
    install.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR,
        help="the skills folder, e.g. .agents/skills for Codex (default: .claude/skills under the current directory)",
    )  # fmt: skip
    install.add_argument("--force", action="store_true", help="replace SKILL.md files that exist")
    install.set_defaults(func=cmd_skills_install)
