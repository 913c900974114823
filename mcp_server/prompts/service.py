"""RegisterPrompt, GetPrompt, ListPrompts, ListPromptVersions, SetPromptAlias and
DiffPromptVersions as typed functions with bounded answers; the MCP tools in
mcp_server.prompts.tools and the `prompts` CLI commands are thin wrappers over them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_server.prompts.diff import PromptDiff, diff_prompt_versions
from mcp_server.prompts.template import template_text
from mcp_server.prompts.uri import SCHEME, parse_prompt_ref
from mcp_server.tooling.paging import (
    ENVELOPE_RESERVE,
    Page,
    answer_chars,
    check_range,
    clip,
    clip_field,
    issue_token,
    read_token,
    state_int,
)
from store import Database
from store import prompts as store
from store.errors import InvalidPageToken
from store.prompts import PromptKind, PromptRecord, PromptVersionRecord, RunUse, Template

ANSWER_CHARS = 40_000
"""The budget of a list answer (ListPrompts, ListPromptVersions)."""
MAX_RESULTS = 100
PREVIEW_CHARS = 300
"""The listings show the start of a template, description or commit message; GetPrompt shows them whole."""
RUNS_SHOWN = 20
"""GetPrompt lists the newest runs that used the version, and counts them all."""
LIST_RUNS_SHOWN = 3
DEFAULT_DIFF_LENGTH = 20_000
MIN_DIFF_LENGTH = 1_000
MAX_DIFF_LENGTH = 200_000
"""The max_content_length DiffPromptVersions accepts: the same range as GetSpan's pages."""
LIST_PROMPTS = "ListPrompts"
LIST_VERSIONS = "ListPromptVersions"


class PromptDetail(BaseModel):
    """GetPrompt: the version asked for, the prompt around it, and the evaluation runs that used it."""

    prompt_version: PromptVersionRecord
    description: str
    latest_version: int
    aliases: dict[str, int] = Field(description="Every alias of the prompt -> its version.")
    runs: list[RunUse] = Field(description=f"The newest {RUNS_SHOWN} evaluation runs that loaded this version.")
    run_count: int = Field(description="How many evaluation runs loaded this version.")


class PromptList(BaseModel):
    prompts: list[PromptRecord] = Field(
        description=f"Prompts by name; descriptions cut to {PREVIEW_CHARS:,} characters."
    )
    total: int
    next_page_token: str | None = None


class PromptVersionSummary(BaseModel):
    version: int
    uri: str
    kind: PromptKind
    template_preview: str = Field(description="The template's start (chat: 'role:' blocks); GetPrompt shows it whole.")
    variables: list[str]
    commit_message: str
    tags: dict[str, str]
    parent_version: int | None
    aliases: list[str]
    run_count: int = Field(description="Evaluation runs that loaded this version.")
    recent_run_ids: list[str] = Field(description=f"The newest {LIST_RUNS_SHOWN} of those runs.")
    created_ns: int


class PromptVersionList(BaseModel):
    name: str
    versions: list[PromptVersionSummary] = Field(description="Newest first.")
    total: int
    next_page_token: str | None = None


class AliasChange(BaseModel):
    name: str
    alias: str
    version: int = Field(description="The version the alias points at now.")
    previous_version: int | None = Field(description="The version it pointed at before; None for a new alias.")
    uri: str = Field(description="Load it with load_prompt(uri), e.g. 'prompts:/router@production'.")


class PromptDiffAnswer(PromptDiff):
    notices: list[str] = Field(default_factory=list, description="What was cut, and how to see it whole.")


def register_prompt(
    db: Database,
    name: str,
    template: Template,
    *,
    commit_message: str = "",
    tags: dict[str, str] | None = None,
    description: str | None = None,
) -> PromptVersionRecord:
    """Store the next version of prompt `name` (version 1 creates it) and show it."""
    return store.register_prompt_version(
        db, name, template, commit_message=commit_message, tags=tags, description=description
    )


def get_prompt(
    db: Database, name_or_uri: str, *, version: int | None = None, alias: str | None = None
) -> PromptDetail:
    """The version a reference names (the latest by default), with the runs that used it."""
    ref = parse_prompt_ref(name_or_uri, version=version, alias=alias)
    if ref.version is not None:
        record = store.get_prompt_version(db, ref.name, ref.version)
    elif ref.alias is not None:
        record = store.get_prompt_by_alias(db, ref.name, ref.alias)
    else:
        record = store.latest_prompt_version(db, ref.name)
    prompt = store.get_prompt(db, ref.name)
    runs, run_count = store.runs_using(db, ref.name, record.version, limit=RUNS_SHOWN)
    return PromptDetail(
        prompt_version=record,
        description=prompt.description,
        latest_version=prompt.latest_version,
        aliases=prompt.aliases,
        runs=runs,
        run_count=run_count,
    )


def list_prompts(db: Database, *, max_results: int = 50, page_token: str | None = None) -> PromptList:
    """A page of prompts by name, within the answer budget."""
    check_range("max_results", max_results, 1, MAX_RESULTS)
    arguments = {"max_results": max_results}
    state = read_token(page_token, LIST_PROMPTS, arguments)
    after = None if state is None else state.get("after")
    if after is not None and (not isinstance(after, str) or len(after) > 200):
        raise InvalidPageToken(f"page_token is damaged; call {LIST_PROMPTS} without page_token to start again.")
    records, total = store.list_prompts(db, limit=max_results + 1, after=after)
    answer = PromptList(prompts=[], total=total)
    page: Page[PromptRecord] = Page(ANSWER_CHARS - ENVELOPE_RESERVE - answer_chars(answer), max_results)
    for record in records:
        shown = record.model_copy(update={"description": clip(record.description, PREVIEW_CHARS)})
        if not page.offer(shown):
            break
    answer.prompts = page.items
    if len(page.items) < len(records):
        answer.next_page_token = issue_token(LIST_PROMPTS, arguments, {"after": page.items[-1].name})
    return answer


def list_prompt_versions(
    db: Database, name: str, *, max_results: int = 50, page_token: str | None = None
) -> PromptVersionList:
    """A page of the prompt's versions, newest first, each with the runs that used it."""
    check_range("max_results", max_results, 1, MAX_RESULTS)
    arguments = {"name": name, "max_results": max_results}
    state = read_token(page_token, LIST_VERSIONS, arguments)
    after = None if state is None else state_int(state, "after", LIST_VERSIONS)
    records, total = store.list_prompt_versions(db, name, limit=max_results + 1, after=after)
    answer = PromptVersionList(name=name, versions=[], total=total)
    page: Page[PromptVersionSummary] = Page(ANSWER_CHARS - ENVELOPE_RESERVE - answer_chars(answer), max_results)
    for record in records:
        runs, run_count = store.runs_using(db, name, record.version, limit=LIST_RUNS_SHOWN)
        # The record's fields the listing shows (name, template and metadata are left out).
        summary = PromptVersionSummary.model_validate({
            **dict(record),
            "template_preview": clip(template_text(record.template), PREVIEW_CHARS),
            "commit_message": clip(record.commit_message, PREVIEW_CHARS),
            "run_count": run_count,
            "recent_run_ids": [run.run_id for run in runs],
        })
        if not page.offer(summary):
            break
    answer.versions = page.items
    if len(page.items) < len(records):
        answer.next_page_token = issue_token(LIST_VERSIONS, arguments, {"after": page.items[-1].version})
    return answer


def set_prompt_alias(db: Database, name: str, alias: str, version: int) -> AliasChange:
    """Point `alias` of prompt `name` at `version`, saying where it pointed before."""
    previous = store.set_prompt_alias(db, name, alias, version)
    return AliasChange(name=name, alias=alias, version=version, previous_version=previous, uri=f"{SCHEME}{name}@{alias}")


def diff_prompt_versions_tool(
    db: Database, name: str, from_version: int, to_version: int, *, max_content_length: int = DEFAULT_DIFF_LENGTH
) -> PromptDiffAnswer:
    """The diff between two versions, cut to `max_content_length` characters with a notice."""
    check_range("max_content_length", max_content_length, MIN_DIFF_LENGTH, MAX_DIFF_LENGTH)
    diff = diff_prompt_versions(db, name, from_version, to_version)
    notices: list[str] = []
    shown = clip_field("diff", diff.diff, max_content_length, notices)
    if notices:
        notices.append(
            f"pass a larger max_content_length (up to 200,000), or call GetPrompt(name_or_uri="
            f"'{SCHEME}{name}/{to_version}') to read a version whole."
        )
    return PromptDiffAnswer(**{**diff.model_dump(), "diff": shown}, notices=notices)
