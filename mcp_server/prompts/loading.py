"""load_prompt for agents, and the two hooks evaluation and optimization wrap around a target.

Which database: the `db` argument, else the one bound by `use_database` (the evaluation runner
binds its store around each target call), else the file named by the environment
(TRACEJUDGE_DB or the default path), opened on first use and kept open per path.

`record_loaded_prompts()` collects (name, version) of every prompt loaded inside it, and
`override_prompt(name, template)` makes every load of `name` inside it return that template as an
unregistered candidate. Both live in context variables: asyncio tasks and worker threads started
with a copy of the context (anyio.to_thread.run_sync, asyncio.to_thread) see them; a bare
threading.Thread does not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mcp_server.prompts.template import format_template
from mcp_server.prompts.uri import SCHEME, parse_prompt_ref
from store import Database
from store import prompts as store
from store.prompts import PromptKind, PromptVersionRecord, Template

LoadedPrompt = tuple[str, int | None]
"""(name, version) of a loaded prompt; version None for an override_prompt candidate."""

_bound_db: ContextVar[Database | None] = ContextVar("tracejudge_prompt_db", default=None)
_recorders: ContextVar[tuple[set[LoadedPrompt], ...]] = ContextVar("tracejudge_prompt_recorders", default=())
_overrides: ContextVar[Mapping[str, Template]] = ContextVar("tracejudge_prompt_overrides", default={})

_default_dbs: dict[str, Database] = {}
_default_dbs_lock = threading.Lock()


class PromptVersion(BaseModel):
    """A loaded prompt version; `format(**values)` fills its variables."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int | None = Field(description="None for an override_prompt candidate, which is not registered.")
    kind: PromptKind
    template: Template
    variables: list[str]
    commit_message: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    candidate: bool = Field(False, description="True inside override_prompt: a template under trial.")

    @property
    def uri(self) -> str | None:
        """'prompts:/name/3'; None for a candidate, which has no version yet."""
        return None if self.version is None else f"{SCHEME}{self.name}/{self.version}"

    def format(self, allow_partial: bool = False, **values: Any) -> str | list[dict[str, str]]:
        """The text (text prompt) or messages (chat prompt) with every variable filled.

        A variable without a value is an InvalidArgument naming it; with allow_partial=True it is
        left in place. Values the template does not use are ignored."""
        what = f"prompt {self.name!r} " + (f"version {self.version}" if self.version else "(candidate)")
        return format_template(self.template, values, allow_partial=allow_partial, what=what)

    @classmethod
    def from_record(cls, record: PromptVersionRecord) -> PromptVersion:
        return cls(
            name=record.name,
            version=record.version,
            kind=record.kind,
            template=record.template,
            variables=record.variables,
            commit_message=record.commit_message,
            tags=record.tags,
            aliases=record.aliases,
        )


def load_prompt(
    name_or_uri: str, *, version: int | None = None, alias: str | None = None, db: Database | None = None
) -> PromptVersion:
    """A prompt version: 'prompts:/name/3', 'prompts:/name@production', 'prompts:/name' (latest)
    or a bare name (latest, or `version`, or `alias`). PromptNotFound when it is not registered."""
    ref = parse_prompt_ref(name_or_uri, version=version, alias=alias)
    candidate = _overrides.get().get(ref.name)
    if candidate is not None:
        kind, template = store.check_template(candidate)
        loaded = PromptVersion(
            name=ref.name, version=None, kind=kind, template=template,
            variables=store.template_variables(template), candidate=True,
        )
    else:
        database = db or _bound_db.get() or _default_database()
        if ref.version is not None:
            record = store.get_prompt_version(database, ref.name, ref.version)
        elif ref.alias is not None:
            record = store.get_prompt_by_alias(database, ref.name, ref.alias)
        else:
            record = store.latest_prompt_version(database, ref.name)
        loaded = PromptVersion.from_record(record)
    for recorder in _recorders.get():
        recorder.add((loaded.name, loaded.version))
    return loaded


@contextmanager
def use_database(db: Database) -> Iterator[Database]:
    """Make load_prompt read `db` inside the block (unless a call passes its own db)."""
    token = _bound_db.set(db)
    try:
        yield db
    finally:
        _bound_db.reset(token)


@contextmanager
def record_loaded_prompts() -> Iterator[set[LoadedPrompt]]:
    """A set that collects (name, version) of each prompt loaded inside the block (version None
    for an override_prompt candidate). Blocks nest: an inner load is recorded by each."""
    loaded: set[LoadedPrompt] = set()
    token = _recorders.set((*_recorders.get(), loaded))
    try:
        yield loaded
    finally:
        _recorders.reset(token)


@contextmanager
def override_prompt(name: str, template: Template) -> Iterator[None]:
    """Inside the block, load_prompt of `name` (any version or alias) returns `template` as an
    unregistered candidate (version None, candidate True), so an optimizer can try a text
    without registering it. The template is checked as RegisterPrompt checks it."""
    store.check_name(name)
    store.check_template(template)
    token = _overrides.set({**_overrides.get(), name: template})
    try:
        yield
    finally:
        _overrides.reset(token)


def _default_database() -> Database:
    # Imported here: settings pull in the model layer, which an agent that loads prompts never needs.
    from mcp_server.settings import settings_from_env

    path = str(settings_from_env().db_path)
    with _default_dbs_lock:
        if path not in _default_dbs:
            _default_dbs[path] = Database(path)
        return _default_dbs[path]


def close_default_databases() -> None:
    """Close the databases load_prompt opened from the environment (a later load reopens them)."""
    with _default_dbs_lock:
        databases = list(_default_dbs.values())
        _default_dbs.clear()
    for database in databases:
        database.close()
