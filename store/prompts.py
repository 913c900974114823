"""The prompt registry: prompts with immutable, numbered versions and movable aliases.

A version is text (one template string) or chat (a list of {role, content} messages); either way
its template uses `{{ name }}` variables, extracted here when the version is stored so that a
reader never parses a template to learn what it needs. Registering a version reads n and writes
n+1 in one transaction, so two writers never make the same version. Aliases ('production',
'staging', any name) are the only thing that moves; 'latest' is reserved and always means the
newest version. The evaluation runs that loaded a version are linked in evaluation_run_prompts.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, Field

from store.connection import Database
from store.errors import InvalidArgument, PromptNotFound
from store.json_text import dumps

PromptKind = Literal["text", "chat"]
Template = str | list[dict[str, str]]

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
"""A template variable: {{ name }} with optional spaces. Other text in double braces is literal."""
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,99}$")
"""Prompt names: no '/' or '@', which separate version and alias in prompts:/ URIs."""
ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
SCHEME = "prompts:/"
"""Prompt URIs: prompts:/name/3 (a version), prompts:/name@alias, prompts:/name (the latest)."""
LATEST = "latest"
"""The reserved alias: always the newest version, never stored."""
ROLES = ("system", "developer", "user", "assistant", "tool")
MAX_TEMPLATE_CHARS = 100_000
"""A template's size cap (the text, or the chat messages as JSON): GetPrompt shows a version
whole, and its answer must stay within a tool budget."""
MAX_MESSAGES = 200
MAX_TAGS = 50


class PromptRecord(BaseModel):
    """A prompt: its name, description and tags, and where its versions stand."""

    name: str
    description: str
    tags: dict[str, str]
    created_ns: int
    latest_version: int
    aliases: dict[str, int] = Field(description="Alias -> version ('latest' is implied, never listed).")


class PromptVersionRecord(BaseModel):
    """One prompt version whole, as RegisterPrompt and GetPrompt show it."""

    name: str
    version: int
    uri: str = Field(description="Load it with load_prompt(uri), e.g. 'prompts:/router/3'.")
    kind: PromptKind = Field(description="text: one template string; chat: a list of {role, content} messages.")
    template: Template
    variables: list[str] = Field(description="The {{ name }} variables format() fills.")  # in order of first use
    commit_message: str
    tags: dict[str, str]
    parent_version: int | None  # the version this one was derived from (by optimization)
    metadata: dict[str, Any]
    aliases: list[str] = Field(description="The aliases pointing at this version.")
    created_ns: int


class RunUse(BaseModel):
    """An evaluation run that loaded a prompt version."""

    run_id: str
    name: str | None
    status: str
    created_ns: int


def template_variables(template: Template) -> list[str]:
    """The variable names of a text or chat template, each once, in order of first use."""
    texts = [template] if isinstance(template, str) else [m["content"] for m in template]
    seen: dict[str, None] = {}
    for text in texts:
        for match in VARIABLE.finditer(text):
            seen.setdefault(match.group(1), None)
    return list(seen)


def check_template(template: Any) -> tuple[PromptKind, Template]:
    """The kind and a clean copy of a template; InvalidArgument saying what a valid one looks like."""
    example = '[{"role": "system", "content": "You route {{ topic }} requests."}]'
    if isinstance(template, str):
        if not template.strip():
            raise InvalidArgument("template is empty; pass the prompt text, e.g. 'Answer {{ question }} briefly.'")
        size, kind, clean = len(template), "text", template
    elif isinstance(template, list):
        if not template:
            raise InvalidArgument(f"a chat template needs at least one message, e.g. {example}.")
        if len(template) > MAX_MESSAGES:
            raise InvalidArgument(f"a chat template holds at most {MAX_MESSAGES} messages; got {len(template):,}.")
        clean = []
        for i, message in enumerate(template):
            if not isinstance(message, dict) or set(message) != {"role", "content"}:
                raise InvalidArgument(
                    f"message {i} of the chat template must be an object with exactly 'role' and 'content'; "
                    f"e.g. {example}."
                )
            role, content = message["role"], message["content"]
            if role not in ROLES:
                raise InvalidArgument(f"message {i} has role {role!r}; a role is one of {', '.join(ROLES)}.")
            if not isinstance(content, str):
                raise InvalidArgument(f"message {i}'s content must be a string, got {type(content).__name__}.")
            clean.append({"role": role, "content": content})
        # Counted as stored (JSON), so empty messages cannot make an answer of any size.
        size, kind = len(json.dumps(clean, ensure_ascii=False)), "chat"
    else:
        raise InvalidArgument(
            f"template must be a string (a text prompt) or a list of messages (a chat prompt) such as {example}; "
            f"got {type(template).__name__}."
        )
    if size > MAX_TEMPLATE_CHARS:
        raise InvalidArgument(
            f"the template has {size:,} characters, over the limit of {MAX_TEMPLATE_CHARS:,}; shorten it."
        )
    return kind, clean


def check_name(name: Any) -> str:
    """`name` if it is a valid prompt name, else InvalidArgument showing the form."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidArgument(
            f"prompt name {name!r} is not valid: use 1 to 100 letters, digits, '_', '.' or '-', starting "
            "with a letter (no '/' or '@': they separate version and alias in prompts:/name/3 and "
            "prompts:/name@alias)."
        )
    return name


def check_alias(alias: Any) -> str:
    """`alias` if it may be set, else InvalidArgument ('latest' is reserved)."""
    if alias == LATEST:
        raise InvalidArgument("the alias 'latest' is reserved: it always means the newest version; choose another name.")
    if not isinstance(alias, str) or not ALIAS.fullmatch(alias):
        raise InvalidArgument(
            f"alias {alias!r} is not valid: use 1 to 64 letters, digits, '_' or '-', starting with a letter, "
            "e.g. 'production'."
        )
    return alias


def _check_tags(tags: dict[str, str] | None, what: str) -> dict[str, str]:
    tags = dict(tags or {})
    if len(tags) > MAX_TAGS or not all(isinstance(k, str) and k and isinstance(v, str) for k, v in tags.items()):
        raise InvalidArgument(f"{what} must map at most {MAX_TAGS} non-empty names to string values.")
    return tags


_VERSION_COLUMNS = (
    "name, version, kind, template, variables, commit_message, tags, parent_version, metadata, created_ns"
)


def _version_record(row: sqlite3.Row | dict[str, Any], aliases: list[str]) -> PromptVersionRecord:
    data = dict(row)
    for column in ("template", "variables", "tags", "metadata"):
        data[column] = json.loads(data[column])
    return PromptVersionRecord.model_validate(
        {**data, "uri": f"{SCHEME}{data['name']}/{data['version']}", "aliases": aliases}
    )


def _aliases_of(conn: sqlite3.Connection, name: str) -> dict[str, int]:
    rows = conn.execute("SELECT alias, version FROM prompt_aliases WHERE name = ? ORDER BY alias", (name,))
    return {alias: version for alias, version in rows}


def register_prompt_version(
    db: Database,
    name: str,
    template: Template,
    *,
    commit_message: str = "",
    tags: dict[str, str] | None = None,
    parent_version: int | None = None,
    metadata: dict[str, Any] | None = None,
    description: str | None = None,
) -> PromptVersionRecord:
    """Store the next version of prompt `name` (version 1 creates the prompt) and return it.

    `description`, when given, becomes the prompt's description; `parent_version` must exist."""
    check_name(name)
    kind, template = check_template(template)
    tags = _check_tags(tags, "tags")
    metadata_json = dumps(dict(metadata or {}))
    now = time.time_ns()
    with db.transaction() as conn:
        exists = conn.execute("SELECT 1 FROM prompts WHERE name = ?", (name,)).fetchone() is not None
        if not exists:
            conn.execute(
                "INSERT INTO prompts (name, description, tags, created_ns) VALUES (?, ?, '{}', ?)",
                (name, description or "", now),
            )
        elif description is not None:
            conn.execute("UPDATE prompts SET description = ? WHERE name = ?", (description, name))
        current = conn.execute(
            "SELECT coalesce(max(version), 0) FROM prompt_versions WHERE name = ?", (name,)
        ).fetchone()[0]
        if parent_version is not None and not 1 <= parent_version <= current:
            raise PromptNotFound(name, parent_version)
        row = {
            "name": name,
            "version": current + 1,
            "kind": kind,
            "template": dumps(template),
            "variables": dumps(template_variables(template)),
            "commit_message": commit_message,
            "tags": dumps(tags),
            "parent_version": parent_version,
            "metadata": metadata_json,
            "created_ns": now,
        }
        conn.execute(
            f"INSERT INTO prompt_versions ({_VERSION_COLUMNS}) VALUES (:name, :version, :kind, :template, "
            ":variables, :commit_message, :tags, :parent_version, :metadata, :created_ns)",
            row,
        )
    return _version_record(row, [])


def get_prompt_version(db: Database, name: str, version: int) -> PromptVersionRecord:
    """Version `version` of prompt `name`; PromptNotFound when there is none."""
    conn = db.reader()
    row = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM prompt_versions WHERE name = ? AND version = ?", (name, version)
    ).fetchone()
    if row is None:
        _raise_missing(conn, name, version)
    aliases = [a for a, v in _aliases_of(conn, name).items() if v == version]
    return _version_record(row, aliases)


def latest_prompt_version(db: Database, name: str) -> PromptVersionRecord:
    """The newest version of prompt `name`; PromptNotFound when the prompt does not exist."""
    row = db.reader().execute("SELECT max(version) FROM prompt_versions WHERE name = ?", (name,)).fetchone()
    if row[0] is None:
        raise PromptNotFound(name)
    return get_prompt_version(db, name, row[0])


def get_prompt_by_alias(db: Database, name: str, alias: str) -> PromptVersionRecord:
    """The version `alias` points at ('latest': the newest); PromptNotFound for an unknown alias."""
    if alias == LATEST:
        return latest_prompt_version(db, name)
    conn = db.reader()
    row = conn.execute("SELECT version FROM prompt_aliases WHERE name = ? AND alias = ?", (name, alias)).fetchone()
    if row is None:
        _raise_missing(conn, name, None, alias)
    return get_prompt_version(db, name, row[0])


def _raise_missing(conn: sqlite3.Connection, name: str, version: int | None, alias: str | None = None) -> NoReturn:
    # Say the more useful thing: an unknown prompt, rather than an unknown version of it.
    if conn.execute("SELECT 1 FROM prompts WHERE name = ?", (name,)).fetchone() is None:
        raise PromptNotFound(name)
    raise PromptNotFound(name, version, alias)


def get_prompt(db: Database, name: str) -> PromptRecord:
    """The prompt `name` with its latest version number and aliases; PromptNotFound when absent."""
    records = _prompts(db, "name = :name", {"name": name, "limit": 1})
    if not records:
        raise PromptNotFound(name)
    return records[0]


def list_prompts(db: Database, *, limit: int = 50, after: str | None = None) -> tuple[list[PromptRecord], int]:
    """At most `limit` prompts by name, starting after the name `after`; and how many there are."""
    total = db.reader().execute("SELECT count(*) FROM prompts").fetchone()[0]
    records = _prompts(db, "name > :after", {"after": after if after is not None else "", "limit": limit})
    return records, total


def _prompts(db: Database, where: str, params: dict[str, Any]) -> list[PromptRecord]:
    conn = db.reader()
    rows = conn.execute(
        "SELECT name, description, tags, created_ns, "
        "(SELECT max(version) FROM prompt_versions v WHERE v.name = p.name) AS latest_version "
        f"FROM prompts p WHERE {where} ORDER BY name LIMIT :limit",
        params,
    ).fetchall()
    return [
        PromptRecord(
            name=row["name"],
            description=row["description"],
            tags=json.loads(row["tags"]),
            created_ns=row["created_ns"],
            latest_version=row["latest_version"],
            aliases=_aliases_of(conn, row["name"]),
        )
        for row in rows
    ]


def list_prompt_versions(
    db: Database, name: str, *, limit: int = 50, after: int | None = None
) -> tuple[list[PromptVersionRecord], int]:
    """At most `limit` versions of prompt `name`, newest first, starting after (below) version
    `after`; and how many versions it has. PromptNotFound when the prompt does not exist."""
    conn = db.reader()
    total = conn.execute("SELECT count(*) FROM prompt_versions WHERE name = ?", (name,)).fetchone()[0]
    if total == 0:
        raise PromptNotFound(name)
    rows = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM prompt_versions WHERE name = :name AND version < :after "
        "ORDER BY version DESC LIMIT :limit",
        {"name": name, "after": after if after is not None else 2**62, "limit": limit},
    ).fetchall()
    by_version: dict[int, list[str]] = {}
    for alias, version in _aliases_of(conn, name).items():
        by_version.setdefault(version, []).append(alias)
    return [_version_record(row, by_version.get(row["version"], [])) for row in rows], total


def set_prompt_alias(db: Database, name: str, alias: str, version: int) -> int | None:
    """Point `alias` of prompt `name` at `version` (which must exist); returns the version it
    pointed at before, or None when the alias is new."""
    check_alias(alias)
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM prompt_versions WHERE name = ? AND version = ?", (name, version)).fetchone() is None:
            _raise_missing(conn, name, version)
        before = conn.execute(
            "SELECT version FROM prompt_aliases WHERE name = ? AND alias = ?", (name, alias)
        ).fetchone()
        conn.execute(
            "INSERT INTO prompt_aliases (name, alias, version, updated_ns) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_ns = excluded.updated_ns",
            (name, alias, version, time.time_ns()),
        )
    return None if before is None else before[0]


def delete_prompt_alias(db: Database, name: str, alias: str) -> int:
    """Remove `alias` of prompt `name`; returns the version it pointed at. PromptNotFound when
    there is no such alias (the versions themselves are never deleted)."""
    with db.transaction() as conn:
        row = conn.execute("SELECT version FROM prompt_aliases WHERE name = ? AND alias = ?", (name, alias)).fetchone()
        if row is None:
            _raise_missing(conn, name, None, alias)
        conn.execute("DELETE FROM prompt_aliases WHERE name = ? AND alias = ?", (name, alias))
    return row[0]


def link_run_prompt(db: Database, run_id: str, name: str, version: int) -> None:
    """Record that evaluation run `run_id` loaded version `version` of prompt `name` (idempotent).
    PromptNotFound when that version does not exist; the run must exist (foreign key)."""
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM prompt_versions WHERE name = ? AND version = ?", (name, version)).fetchone() is None:
            _raise_missing(conn, name, version)
        conn.execute(
            "INSERT OR IGNORE INTO evaluation_run_prompts (run_id, prompt, version) VALUES (?, ?, ?)",
            (run_id, name, version),
        )


def runs_using(db: Database, name: str, version: int, *, limit: int = 20) -> tuple[list[RunUse], int]:
    """The newest `limit` evaluation runs that loaded this prompt version, and how many there are."""
    conn = db.reader()
    total = conn.execute(
        "SELECT count(*) FROM evaluation_run_prompts WHERE prompt = ? AND version = ?", (name, version)
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT r.run_id, r.name, r.status, r.created_ns FROM evaluation_run_prompts p "
        "JOIN evaluation_runs r ON r.run_id = p.run_id WHERE p.prompt = ? AND p.version = ? "
        "ORDER BY r.created_ns DESC, r.run_id LIMIT ?",
        (name, version, limit),
    ).fetchall()
    return [RunUse.model_validate(dict(row)) for row in rows], total
